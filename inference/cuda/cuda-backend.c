// The CUDA backend module (libponder-cuda.so): the Backend table that the library finds
// through ponder_backend_entry, device choice, and the allocation of everything a context
// needs on the GPU (planned first in cuda-plan.c, so a model that does not fit is an error
// with numbers, not a failed allocation half-way).
//
// Environment knobs, for tests and tuning: PONDER_CUDA_DEVICE (index, when the context
// params leave gpu_device at -1), PONDER_CUDA_GRAPHS=0
// (run decode steps without graph capture), PONDER_CUDA_MATVEC_MAX (largest step that uses
// the mat-vec kernels; larger steps dequantize to fp16 and use cuBLAS), PONDER_CUDA_DECODE_ROWS
// (rows per block of the single-token mat-vec), PONDER_CUDA_NORM_FUSION=1 (single-token
// products normalise their input themselves instead of reading a separate RMSNorm launch's
// activations), PONDER_CUDA_ATTENTION_HEADS (query heads per block of the fused decode
// attention; 0: a whole GQA group).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend-module.h"
#include "cuda-backend.h"

// Measured on an H100 (bench/cuda/NOTES.md): from 16-32 tokens a step is faster through
// dequantize + cuBLAS than through the mat-vec kernels.
enum { DEFAULT_MATVEC_MAX_TOKENS = 16, MIN_COMPUTE_CAPABILITY = 75 };

PonderStatus cuda_error(PonderError *err, cudaError_t e, const char *what, const char *file,
                        int line)
{
    const char *base = strrchr(file, '/');
    PonderStatus status =
        e == cudaErrorMemoryAllocation ? PONDER_ERR_NO_MEMORY : PONDER_ERR_BACKEND;
    return ponder_set_error(err, status, "CUDA error at %s:%d: %s: %s (%s)", base ? base + 1 : file,
                            line, what, cudaGetErrorString(e), cudaGetErrorName(e));
}

PonderStatus cublas_error(PonderError *err, cublasStatus_t e, const char *what, const char *file,
                          int line)
{
    const char *base = strrchr(file, '/');
    return ponder_set_error(err, PONDER_ERR_BACKEND, "cuBLAS error at %s:%d: %s: status %d",
                            base ? base + 1 : file, line, what, (int)e);
}

static uint32_t env_u32(const char *name, uint32_t fallback)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return fallback;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return *end == '\0' && n <= UINT32_MAX ? (uint32_t)n : fallback;
}

static PonderStatus check_model(const PonderModel *m, PonderError *err)
{
    const ModelHparams *hp = &m->hp;
    if (!cuda_attention_head_dim_supported(hp->head_dim))
        return ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                                "the CUDA backend supports heads of 64 or 128 dimensions, not %u",
                                hp->head_dim);
    if (hp->n_head / hp->n_head_kv > CUDA_MAX_GROUP)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED,
            "the CUDA backend supports up to %d query heads per KV head, not %u", CUDA_MAX_GROUP,
            hp->n_head / hp->n_head_kv);
    // qwen3's per-head norms run on the raw projections, before the RoPE kernels add the
    // biases: a file with both would need the bias first.
    for (uint32_t l = 0; l < hp->n_layer; l++)
        if (m->layers[l].q_norm && (m->layers[l].bq || m->layers[l].bk))
            return ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                                    "layer %u has both q/k norms and q/k biases, which the CUDA "
                                    "backend does not run",
                                    l);
    if (hp->n_embd % 32 || hp->n_ff % 32)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED,
            "the CUDA backend needs sizes that are multiples of 32 (embedding %u, "
            "feed-forward %u)",
            hp->n_embd, hp->n_ff);
    return PONDER_OK;
}

static PonderStatus choose_device(CudaState *s, int32_t requested, PonderError *err)
{
    int n_devices = 0;
    cudaError_t e = cudaGetDeviceCount(&n_devices);
    if (e != cudaSuccess || n_devices == 0)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED,
            "no usable NVIDIA GPU: %s (is the NVIDIA driver installed and loaded?)",
            e != cudaSuccess ? cudaGetErrorString(e) : "no devices");
    s->device = requested >= 0 ? requested : (int)env_u32("PONDER_CUDA_DEVICE", 0);
    if (s->device >= n_devices)
        return ponder_set_error(err, PONDER_ERR_INVALID,
                                "GPU %d was chosen, but there are %d GPU(s)", s->device, n_devices);
    struct cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, s->device));
    snprintf(s->device_name, sizeof s->device_name, "%s", prop.name);
    if (prop.major * 10 + prop.minor < MIN_COMPUTE_CAPABILITY)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED,
            "%s has compute capability %d.%d; the CUDA backend needs 7.5 or newer", prop.name,
            prop.major, prop.minor);
    s->n_sm = (uint32_t)prop.multiProcessorCount;
    CUDA_TRY(cudaSetDevice(s->device));
    return PONDER_OK;
}

static PonderStatus alloc_act(CudaAct *a, uint64_t n_tokens, uint64_t stride, PonderError *err)
{
    a->stride = (uint32_t)stride;
    uint64_t n = n_tokens * stride;
    CUDA_TRY(cudaMalloc((void **)&a->f, n * sizeof(float)));
    CUDA_TRY(cudaMalloc((void **)&a->h, n * sizeof(uint16_t)));
    CUDA_TRY(cudaMalloc((void **)&a->q, n));
    CUDA_TRY(cudaMalloc((void **)&a->d, n / 32 * sizeof(float)));
    return PONDER_OK;
}

static void free_act(CudaAct *a)
{
    cudaFree(a->f);
    cudaFree(a->h);
    cudaFree(a->q);
    cudaFree(a->d);
}

// The pinned step block (see CudaState) and its device copy.
static PonderStatus alloc_step_buffers(PonderContext *ctx, CudaState *s, PonderError *err)
{
    uint64_t T = ctx->max_step_tokens, n_embd = ctx->model->hp.n_embd;
    s->step_meta_bytes = (3 * T * sizeof(uint32_t) + 255) / 256 * 256;
    uint64_t bytes = s->step_meta_bytes + T * n_embd * sizeof(float);
    CUDA_TRY(cudaHostAlloc(&s->h_step, bytes, cudaHostAllocDefault));
    uint8_t *h = s->h_step;
    s->h_seq = (int32_t *)h;
    s->h_pos = (uint32_t *)(h + T * 4);
    s->h_rows = (uint32_t *)(h + 2 * T * 4);
    s->h_x = (float *)(h + s->step_meta_bytes);
    if (s->n_gpu_layers == 0)
        return PONDER_OK;
    CUDA_TRY(cudaMalloc(&s->d_step, bytes));
    uint8_t *d = s->d_step;
    s->d_seq = (int32_t *)d;
    s->d_pos = (uint32_t *)(d + T * 4);
    s->d_rows = (uint32_t *)(d + 2 * T * 4);
    s->d_x = (float *)(d + s->step_meta_bytes);
    return PONDER_OK;
}

static PonderStatus alloc_run_state(PonderContext *ctx, CudaState *s, PonderError *err)
{
    const ModelHparams *hp = &ctx->model->hp;
    CudaScratchSizes z;
    cuda_scratch_sizes(ctx, s->n_sm, s->head_on_gpu, &z);
    uint64_t T = z.max_tokens;

    s->kv_layer_elems = (uint64_t)ctx->n_seq * hp->n_head_kv * ctx->n_ctx * hp->head_dim;
    uint64_t kv_bytes = s->kv_layer_elems * s->n_gpu_layers * sizeof(uint16_t);
    CUDA_TRY(cudaMalloc((void **)&s->d_k_cache, kv_bytes));
    CUDA_TRY(cudaMalloc((void **)&s->d_v_cache, kv_bytes));
    // Zeroed once so a stray read of an unwritten slot can never be a NaN.
    CUDA_TRY(cudaMemset(s->d_k_cache, 0, kv_bytes));
    CUDA_TRY(cudaMemset(s->d_v_cache, 0, kv_bytes));

    PonderStatus st;
    if ((st = alloc_act(&s->act_in, T, z.act_in_stride, err)) != PONDER_OK ||
        (st = alloc_act(&s->act_mid, T, z.act_mid_stride, err)) != PONDER_OK)
        return st;
    CUDA_TRY(cudaMalloc((void **)&s->d_qkv, T * z.qkv_stride * sizeof(float)));
    CUDA_TRY(cudaMalloc((void **)&s->d_gate, T * hp->n_ff * sizeof(float)));
    CUDA_TRY(cudaMalloc((void **)&s->d_up, T * hp->n_ff * sizeof(float)));
    s->part_slots = z.part_slots;
    CUDA_TRY(cudaMalloc((void **)&s->d_part_acc, z.part_slots * hp->head_dim * sizeof(float)));
    CUDA_TRY(cudaMalloc((void **)&s->d_part_ml, z.part_slots * 2 * sizeof(float)));
    CUDA_TRY(cudaMalloc((void **)&s->d_counters, T * hp->n_head * sizeof(uint32_t)));
    CUDA_TRY(cudaMemset(s->d_counters, 0, T * hp->n_head * sizeof(uint32_t)));
    s->seq_stamp = calloc(ctx->n_seq, sizeof *s->seq_stamp);
    if (!s->seq_stamp)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
    s->dequant_elems = z.dequant_elems;
    CUDA_TRY(cudaMalloc((void **)&s->d_dequant, z.dequant_elems * sizeof(uint16_t)));
    if (z.logits_floats) {
        CUDA_TRY(cudaMalloc((void **)&s->d_logits, z.logits_floats * sizeof(float)));
        CUDA_TRY(cudaHostAlloc((void **)&s->h_logits, z.logits_floats * sizeof(float),
                               cudaHostAllocDefault));
    } else {
        CUDA_TRY(cudaHostAlloc((void **)&s->h_x_out, T * hp->n_embd * sizeof(float),
                               cudaHostAllocDefault));
    }

    cublasStatus_t cs = cublasCreate(&s->cublas);
    if (cs != CUBLAS_STATUS_SUCCESS)
        return cublas_error(err, cs, "cublasCreate", __FILE__, __LINE__);
    CUDA_TRY(cudaMalloc(&s->d_cublas_workspace, z.cublas_workspace_bytes));
    if ((cs = cublasSetStream(s->cublas, s->stream)) != CUBLAS_STATUS_SUCCESS ||
        (cs = cublasSetWorkspace(s->cublas, s->d_cublas_workspace, z.cublas_workspace_bytes)) !=
            CUBLAS_STATUS_SUCCESS)
        return cublas_error(err, cs, "cublasSetStream/cublasSetWorkspace", __FILE__, __LINE__);
    return PONDER_OK;
}

static void cuda_free(PonderContext *ctx)
{
    CudaState *s = ctx->backend_state;
    if (!s)
        return;
    if (s->stream)
        cudaStreamSynchronize(s->stream);
    cpu_layers_free(s->cpu);
    cuda_graphs_free(s);
    if (s->cublas)
        cublasDestroy(s->cublas);
    cudaFree(s->d_cublas_workspace);
    cudaFree(s->d_weights);
    free(s->layers);
    cudaFree(s->d_k_cache);
    cudaFree(s->d_v_cache);
    cudaFreeHost(s->h_step);
    cudaFree(s->d_step);
    free_act(&s->act_in);
    free_act(&s->act_mid);
    cudaFree(s->d_qkv);
    cudaFree(s->d_gate);
    cudaFree(s->d_up);
    cudaFree(s->d_part_acc);
    cudaFree(s->d_part_ml);
    cudaFree(s->d_counters);
    free(s->seq_stamp);
    cudaFree(s->d_dequant);
    cudaFree(s->d_logits);
    cudaFreeHost(s->h_logits);
    cudaFreeHost(s->h_x_out);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    free(s);
    ctx->backend_state = NULL;
}

static PonderStatus cuda_init(PonderContext *ctx, PonderError *err)
{
    PonderStatus st = check_model(ctx->model, err);
    if (st != PONDER_OK)
        return st;
    CudaState *s = calloc(1, sizeof *s);
    if (!s)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
    ctx->backend_state = s;
    if ((st = choose_device(s, ctx->params.gpu_device, err)) != PONDER_OK)
        return st;
    CUDA_TRY(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));

    size_t free_bytes = 0, total_bytes = 0;
    CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
    if ((st = cuda_plan_memory(ctx, ctx->params.gpu_layers, free_bytes, s->n_sm, &s->plan, err)) !=
        PONDER_OK)
        return st;
    s->n_gpu_layers = s->plan.n_gpu_layers;
    s->head_on_gpu = s->plan.head_on_gpu;
    s->matvec_max_tokens = env_u32("PONDER_CUDA_MATVEC_MAX", DEFAULT_MATVEC_MAX_TOKENS);
    s->use_graphs = env_u32("PONDER_CUDA_GRAPHS", 1) != 0;
    // off until measured on a GPU (bench/cuda/NOTES.md, versions 6 and 7)
    s->norm_fusion = env_u32("PONDER_CUDA_NORM_FUSION", 0) != 0;
    s->attention_heads_per_block = env_u32("PONDER_CUDA_ATTENTION_HEADS", 0);
    cuda_matvec_set_decode_rows((int)env_u32("PONDER_CUDA_DECODE_ROWS", 4));

    if ((st = alloc_step_buffers(ctx, s, err)) != PONDER_OK)
        return st;
    if (s->n_gpu_layers > 0) {
        if ((st = cuda_upload_weights(ctx, s, err)) != PONDER_OK ||
            (st = alloc_run_state(ctx, s, err)) != PONDER_OK)
            return st;
    }
    if (!s->head_on_gpu)
        return cpu_layers_new(ctx, s->n_gpu_layers, ctx->model->hp.n_layer, &s->cpu, err);
    return PONDER_OK;
}

// The fp16 caches of the GPU's layers, and the host cache of the layers left to the CPU.
static KvBytes cuda_kv_bytes(const PonderContext *ctx)
{
    const CudaState *s = ctx->backend_state;
    return (KvBytes){.host = cpu_layers_kv_bytes(s->cpu),
                     .device = 2 * s->kv_layer_elems * s->n_gpu_layers * sizeof(uint16_t)};
}

static const Backend cuda_backend = {
    .name = "cuda",
    .init = cuda_init,
    .free = cuda_free,
    .forward = cuda_forward,
    .kv_bytes = cuda_kv_bytes,
};

__attribute__((visibility("default"))) const Backend *ponder_backend_entry(int abi_version);

const Backend *ponder_backend_entry(int abi_version)
{
    return abi_version == BACKEND_ABI_VERSION ? &cuda_backend : NULL;
}
