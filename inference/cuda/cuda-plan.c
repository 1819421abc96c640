// GPU memory planning and weight upload.
//
// Planning happens before any large allocation: the weights of each layer, the fp16 KV
// cache at the context's size, and the scratch of a step are added up and compared with
// the device's free memory, so an oversized model fails at once with the numbers (and how
// many layers would fit) instead of part-way through an upload. Weights are copied in
// their file layout into one device allocation; q/k/v matrices of one type are placed
// back to back so a step can multiply them as one matrix.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda-backend.h"

enum {
    WEIGHT_ALIGN = 256,
    DEQUANT_STAGING_MAX = 64u << 20, // fp16 elements the prefill GEMM stages at most
    CUBLAS_WORKSPACE_BYTES = 32u << 20,
    RESERVE_BYTES = 256u << 20, // CUDA's own allocations (graphs, cuBLAS, kernels)
};

static uint64_t align_up(uint64_t n, uint64_t a)
{
    return (n + a - 1) / a * a;
}

static uint64_t matrix_bytes(const Weight *w)
{
    return align_up(w->n_rows * w->row_bytes, WEIGHT_ALIGN);
}

static uint64_t vector_bytes(const float *v, uint64_t n)
{
    return v ? align_up(n * sizeof(float), WEIGHT_ALIGN) : 0;
}

static uint64_t layer_bytes(const PonderModel *m, const LayerWeights *lw)
{
    const ModelHparams *hp = &m->hp;
    uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim,
             kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim;
    return matrix_bytes(&lw->wq) + matrix_bytes(&lw->wk) + matrix_bytes(&lw->wv) +
           matrix_bytes(&lw->wo) + matrix_bytes(&lw->w_gate) + matrix_bytes(&lw->w_up) +
           matrix_bytes(&lw->w_down) + vector_bytes(lw->attn_norm, hp->n_embd) +
           vector_bytes(lw->ffn_norm, hp->n_embd) + vector_bytes(lw->bq, q_dim) +
           vector_bytes(lw->bk, kv_dim) + vector_bytes(lw->bv, kv_dim) +
           vector_bytes(lw->q_norm, hp->head_dim) + vector_bytes(lw->k_norm, hp->head_dim);
}

static uint64_t head_bytes(const PonderModel *m)
{
    return matrix_bytes(&m->output) + vector_bytes(m->output_norm, m->hp.n_embd) +
           align_up(m->hp.n_rot / 2 * sizeof(double), WEIGHT_ALIGN);
}

static uint64_t kv_bytes_per_layer(const PonderContext *ctx)
{
    const ModelHparams *hp = &ctx->model->hp;
    return 2ull * ctx->n_seq * ctx->n_ctx * hp->n_head_kv * hp->head_dim * sizeof(uint16_t);
}

uint64_t cuda_dequant_staging_elems(const PonderModel *m)
{
    uint64_t largest = 0;
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        const LayerWeights *lw = &m->layers[l];
        const Weight *all[] = {&lw->wq,     &lw->wk,   &lw->wv,    &lw->wo,
                               &lw->w_gate, &lw->w_up, &lw->w_down};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            uint64_t n = all[i]->n_rows * all[i]->row_len;
            largest = n > largest ? n : largest;
        }
    }
    // the output head (prefill with all logits) is staged in row tiles of this size
    uint64_t widest_row = m->output.row_len > m->hp.n_ff ? m->output.row_len : m->hp.n_ff;
    if (largest > DEQUANT_STAGING_MAX)
        largest = DEQUANT_STAGING_MAX;
    return largest > widest_row ? largest : widest_row;
}

void cuda_scratch_sizes(const PonderContext *ctx, uint32_t n_sm, bool head_on_gpu,
                        CudaScratchSizes *out)
{
    const ModelHparams *hp = &ctx->model->hp;
    uint64_t T = ctx->max_step_tokens;
    uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim,
             kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim;
    CudaScratchSizes z = {
        .max_tokens = T,
        .act_in_stride = hp->n_embd,
        .act_mid_stride = q_dim > hp->n_ff ? q_dim : hp->n_ff,
        .qkv_stride = q_dim + 2 * kv_dim,
        // T * n_split(T) <= T + 2 * n_sm / n_head_kv (cuda_attention_splits)
        .part_slots = (uint64_t)hp->n_head * (T + 2 * n_sm),
        .dequant_elems = cuda_dequant_staging_elems(ctx->model),
        .logits_floats = head_on_gpu ? T * hp->n_vocab : 0,
        .cublas_workspace_bytes = CUBLAS_WORKSPACE_BYTES,
    };
    // per activation element: float + fp16 + int8 + a float scale per 32
    uint64_t act = T * (z.act_in_stride + z.act_mid_stride) * 8;
    uint64_t step = T * (3 * sizeof(uint32_t) + (uint64_t)hp->n_embd * sizeof(float));
    uint64_t qkv = T * z.qkv_stride * sizeof(float);
    uint64_t ff = 2 * T * hp->n_ff * sizeof(float);
    uint64_t parts =
        z.part_slots * (hp->head_dim + 2) * sizeof(float) + T * hp->n_head * sizeof(uint32_t);
    z.total_bytes = act + step + qkv + ff + parts + z.dequant_elems * sizeof(uint16_t) +
                    z.logits_floats * sizeof(float) + z.cublas_workspace_bytes;
    *out = z;
}

static void fill_plan(const PonderContext *ctx, uint32_t n_layers, uint32_t n_sm,
                      CudaMemoryPlan *plan)
{
    const PonderModel *m = ctx->model;
    memset(plan, 0, sizeof *plan);
    plan->n_gpu_layers = n_layers;
    plan->head_on_gpu = n_layers == m->hp.n_layer;
    for (uint32_t l = 0; l < n_layers; l++)
        plan->layer_bytes_total += layer_bytes(m, &m->layers[l]);
    plan->head_bytes = plan->head_on_gpu ? head_bytes(m)
                                         : align_up(m->hp.n_rot / 2 * sizeof(double), WEIGHT_ALIGN);
    plan->kv_bytes = kv_bytes_per_layer(ctx) * n_layers;
    CudaScratchSizes scratch;
    cuda_scratch_sizes(ctx, n_sm, plan->head_on_gpu, &scratch);
    plan->scratch_bytes = n_layers ? scratch.total_bytes : 0;
    plan->total_bytes =
        plan->layer_bytes_total + plan->head_bytes + plan->kv_bytes + plan->scratch_bytes;
}

static double mib(uint64_t bytes)
{
    return bytes / 1048576.0;
}

PonderStatus cuda_plan_memory(const PonderContext *ctx, int32_t requested, uint64_t free_bytes,
                              uint32_t n_sm, CudaMemoryPlan *plan, PonderError *err)
{
    const uint32_t n_layer = ctx->model->hp.n_layer;
    uint64_t usable = free_bytes > RESERVE_BYTES ? free_bytes - RESERVE_BYTES : 0;
    uint32_t want = requested < 0 || (uint32_t)requested > n_layer ? n_layer : (uint32_t)requested;
    fill_plan(ctx, want, n_sm, plan);
    if (plan->total_bytes <= usable)
        return PONDER_OK;

    // How many layers would fit, for the message.
    uint32_t fit = 0;
    CudaMemoryPlan probe;
    while (fit < n_layer) {
        fill_plan(ctx, fit + 1, n_sm, &probe);
        if (probe.total_bytes > usable)
            break;
        fit++;
    }
    CudaMemoryPlan full = *plan;
    fill_plan(ctx, fit, n_sm, plan);
    return ponder_set_error(
        err, PONDER_ERR_NO_MEMORY,
        "%u of %u layers on the GPU need %.0f MiB (weights %.0f MiB, KV cache %.0f MiB for %u "
        "sequence(s) of %u tokens, scratch %.0f MiB) but the GPU has %.0f MiB free (%.0f MiB "
        "usable); %u layer(s) would fit: set the GPU layers to at most %u (the rest run on the "
        "CPU), or use a smaller context",
        want, n_layer, mib(full.total_bytes), mib(full.layer_bytes_total + full.head_bytes),
        mib(full.kv_bytes), ctx->n_seq, ctx->n_ctx, mib(full.scratch_bytes), mib(free_bytes),
        mib(usable), fit, fit);
}

typedef struct Uploader {
    uint8_t *base;
    uint64_t used, capacity;
} Uploader;

static void *place(Uploader *u, const void *src, uint64_t bytes, bool align, PonderError *err)
{
    if (align)
        u->used = align_up(u->used, WEIGHT_ALIGN);
    if (u->used + bytes > u->capacity) {
        ponder_set_error(err, PONDER_ERR_BACKEND, "internal error: weight arena overflow");
        return NULL;
    }
    void *dst = u->base + u->used;
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
        cuda_error(err, e, "cudaMemcpy (weights)", __FILE__, __LINE__);
        return NULL;
    }
    u->used += bytes;
    return dst;
}

// Uploads W; CONTINUES says whether it may sit right after the previous matrix (same type
// and row length), which lets q/k/v be multiplied as one matrix.
static bool upload_matrix(Uploader *u, const Weight *w, bool continues, GpuWeight *out,
                          PonderError *err)
{
    if (!cuda_row_len_supported(w->type, w->row_len)) {
        ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                         "the CUDA backend has no kernel for %s rows of %llu elements",
                         ponder_type_traits(w->type)->name, (unsigned long long)w->row_len);
        return false;
    }
    void *d = place(u, w->data, w->n_rows * w->row_bytes, !continues, err);
    if (!d)
        return false;
    *out = (GpuWeight){.type = w->type,
                       .data = d,
                       .row_len = w->row_len,
                       .n_rows = w->n_rows,
                       .row_bytes = w->row_bytes};
    return true;
}

static bool upload_vector(Uploader *u, const float *v, uint64_t n, float **out, PonderError *err)
{
    *out = NULL;
    return !v || (*out = place(u, v, n * sizeof(float), true, err)) != NULL;
}

static bool same_shape_type(const Weight *a, const Weight *b)
{
    return a->type == b->type && a->row_len == b->row_len;
}

PonderStatus cuda_upload_weights(PonderContext *ctx, CudaState *s, PonderError *err)
{
    const PonderModel *m = ctx->model;
    const ModelHparams *hp = &m->hp;
    uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim,
             kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim;
    Uploader u = {.capacity = s->plan.layer_bytes_total + s->plan.head_bytes};
    CUDA_TRY(cudaMalloc((void **)&u.base, u.capacity));
    s->d_weights = u.base;
    s->layers = calloc(s->n_gpu_layers ? s->n_gpu_layers : 1, sizeof *s->layers);
    if (!s->layers)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");

    for (uint32_t l = 0; l < s->n_gpu_layers; l++) {
        const LayerWeights *lw = &m->layers[l];
        GpuLayer *g = &s->layers[l];
        bool k_follows_q = same_shape_type(&lw->wk, &lw->wq);
        bool v_follows_k = same_shape_type(&lw->wv, &lw->wk);
        if (!upload_matrix(&u, &lw->wq, false, &g->wq, err) ||
            !upload_matrix(&u, &lw->wk, k_follows_q, &g->wk, err) ||
            !upload_matrix(&u, &lw->wv, v_follows_k, &g->wv, err) ||
            !upload_matrix(&u, &lw->wo, false, &g->wo, err) ||
            !upload_matrix(&u, &lw->w_gate, false, &g->w_gate, err) ||
            !upload_matrix(&u, &lw->w_up, false, &g->w_up, err) ||
            !upload_matrix(&u, &lw->w_down, false, &g->w_down, err) ||
            !upload_vector(&u, lw->attn_norm, hp->n_embd, &g->attn_norm, err) ||
            !upload_vector(&u, lw->ffn_norm, hp->n_embd, &g->ffn_norm, err) ||
            !upload_vector(&u, lw->bq, q_dim, &g->bq, err) ||
            !upload_vector(&u, lw->bk, kv_dim, &g->bk, err) ||
            !upload_vector(&u, lw->bv, kv_dim, &g->bv, err) ||
            !upload_vector(&u, lw->q_norm, hp->head_dim, &g->q_norm, err) ||
            !upload_vector(&u, lw->k_norm, hp->head_dim, &g->k_norm, err))
            return err ? err->status : PONDER_ERR_BACKEND;
    }
    if (s->head_on_gpu) {
        if (!upload_matrix(&u, &m->output, false, &s->output, err) ||
            !upload_vector(&u, m->output_norm, hp->n_embd, &s->output_norm, err))
            return err ? err->status : PONDER_ERR_BACKEND;
    }

    // RoPE frequencies exactly as the CPU backend computes them (double precision, scaling
    // included).
    uint32_t half = hp->n_rot / 2;
    double *freq = malloc((half ? half : 1) * sizeof(double));
    if (!freq)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
    if (half)
        model_rope_inv_freq(m, freq);
    s->d_inv_freq = half ? place(&u, freq, half * sizeof(double), true, err) : NULL;
    free(freq);
    if (half && !s->d_inv_freq)
        return err ? err->status : PONDER_ERR_BACKEND;
    return PONDER_OK;
}
