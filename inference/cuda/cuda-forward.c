// One forward step on the GPU, read top to bottom in enqueue_step(); it mirrors
// forward-cpu.c op for op.
//
// A step's inputs (each token's sequence, position and embedding row, which the host
// looks up in the mapped file) go to the device in one copy from pinned memory, and every
// kernel reads them from there. So the work of a step depends only on its shape (tokens,
// output rows), and decode steps are captured once per shape into a CUDA graph and
// replayed: one launch and one host synchronisation per step. Steps with many tokens
// (prefill chunks) take the tensor-core path instead: each weight is dequantized to fp16
// in row tiles and multiplied by cuBLAS; they run uncaptured, since cuBLAS chooses its
// kernels by shape.
#include <string.h>

#include "cpu/cpu-ops.h"
#include "cuda-backend.h"

typedef struct StepShape {
    uint32_t n_tokens, n_out;
    bool gemm;        // layer matrices by dequantize + GEMM
    bool head_gemm;   // the output head likewise
    bool one_per_seq; // one token per sequence, short contexts: the fused decode attention
} StepShape;

// The forms of an activation the next products read.
static CudaAct act_forms(const CudaAct *buf, bool gemm)
{
    CudaAct a = {.stride = buf->stride};
    if (gemm) {
        a.h = buf->h;
    } else {
        a.f = buf->f;
        a.q = buf->q;
        a.d = buf->d;
    }
    return a;
}

// Y (+)= W X through cuBLAS: W is dequantized to fp16 in tiles of rows.
static cudaError_t gemm_f16(CudaState *s, const GpuWeight *w, const CudaAct *x, uint32_t n_tokens,
                            float *y, uint32_t y_stride, bool accumulate)
{
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    uint64_t tile_rows = s->dequant_elems / w->row_len;
    for (uint64_t r0 = 0; r0 < w->n_rows; r0 += tile_rows) {
        uint64_t n = w->n_rows - r0 < tile_rows ? w->n_rows - r0 : tile_rows;
        cudaError_t e = cuda_dequantize_f16(s->stream, w, r0, n, s->d_dequant);
        if (e != cudaSuccess)
            return e;
        // column-major view: Y^T[rows x T] = W_tile^T[rows x k] . X^T[k x T]
        cublasStatus_t cs = cublasGemmEx(
            s->cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)n_tokens, (int)w->row_len, &alpha,
            s->d_dequant, CUDA_R_16F, (int)w->row_len, x->h, CUDA_R_16F, (int)x->stride, &beta,
            y + r0, CUDA_R_32F, (int)y_stride, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (cs != CUBLAS_STATUS_SUCCESS)
            return cudaErrorLaunchFailure; // reported by the caller as a failed step
    }
    return cudaSuccess;
}

static cudaError_t matmul(CudaState *s, const GpuWeight *w, const CudaAct *x, uint32_t n_tokens,
                          float *y, uint32_t y_stride, bool accumulate, bool gemm)
{
    if (gemm)
        return gemm_f16(s, w, x, n_tokens, y, y_stride, accumulate);
    return cuda_matvec(s->stream, w, x, n_tokens, y, y_stride, accumulate);
}

// A single token's layer input that the products normalise themselves (cuda_matvec_norm):
// the residual stream's row and the RMSNorm weight. NULL where a norm launch wrote the
// activations instead.
typedef struct NormedRow {
    const float *x;
    const uint32_t *d_row;
    const float *weight;
    float eps;
    uint32_t n;
} NormedRow;

// Whether single-token products can normalise their input themselves: every weight
// reading it is quantized with rows of the input's length.
static bool norm_fuses(const CudaState *s, const StepShape *sh, uint32_t n,
                       const GpuWeight *const *w, int n_w)
{
    if (!s->norm_fusion || sh->n_tokens != 1 || sh->gemm)
        return false;
    for (int i = 0; i < n_w; i++)
        if (!cuda_matvec_norm_supported(w[i], n))
            return false;
    return true;
}

// q, k and v into d_qkv [T][q | k | v]; matrices the upload placed back to back (same
// type) are multiplied as one. NORMED: X is not written; the products normalise the row.
static cudaError_t project_qkv(CudaState *s, const GpuLayer *L, const CudaAct *x,
                               const NormedRow *normed, const StepShape *sh, uint32_t qkv_stride)
{
    const GpuWeight *parts[3] = {&L->wq, &L->wk, &L->wv};
    uint32_t col = 0;
    for (int i = 0; i < 3;) {
        GpuWeight run = *parts[i];
        int j = i + 1;
        while (j < 3 && parts[j]->type == run.type && parts[j]->row_len == run.row_len &&
               (const uint8_t *)parts[j]->data ==
                   (const uint8_t *)run.data + run.n_rows * run.row_bytes) {
            run.n_rows += parts[j]->n_rows;
            j++;
        }
        cudaError_t e =
            normed ? cuda_matvec_norm(s->stream, &run, NULL, normed->x, normed->d_row, normed->n,
                                      normed->weight, normed->eps, s->d_qkv + col)
                   : matmul(s, &run, x, sh->n_tokens, s->d_qkv + col, qkv_stride, false, sh->gemm);
        if (e != cudaSuccess)
            return e;
        col += (uint32_t)run.n_rows;
        i = j;
    }
    return cudaSuccess;
}

#define ENQUEUE(call)                                                                              \
    do {                                                                                           \
        cudaError_t enqueue_status_ = (call);                                                      \
        if (enqueue_status_ != cudaSuccess)                                                        \
            return enqueue_status_;                                                                \
    } while (0)

// Everything a step does on the GPU, enqueued on s->stream (and captured when graphed).
static cudaError_t enqueue_step(PonderContext *ctx, CudaState *s, const StepShape *sh)
{
    const PonderModel *m = ctx->model;
    const ModelHparams *hp = &m->hp;
    const uint32_t T = sh->n_tokens, d = hp->n_embd;
    const uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const uint32_t qkv_stride = q_dim + 2 * kv_dim;
    const CudaAct in = act_forms(&s->act_in, sh->gemm);
    const CudaAct mid = act_forms(&s->act_mid, sh->gemm);

    // inputs: sequences, positions, output rows, embedding rows (the residual stream x)
    ENQUEUE(cudaMemcpyAsync(s->d_step, s->h_step,
                            s->step_meta_bytes + (uint64_t)T * d * sizeof(float),
                            cudaMemcpyHostToDevice, s->stream));

    for (uint32_t l = 0; l < s->n_gpu_layers; l++) {
        const GpuLayer *L = &s->layers[l];
        uint16_t *k_cache = s->d_k_cache + l * s->kv_layer_elems;
        uint16_t *v_cache = s->d_v_cache + l * s->kv_layer_elems;

        // attention: normalise, then q, k, v projections
        const GpuWeight *qkv_w[] = {&L->wq, &L->wk, &L->wv};
        const NormedRow attn_in = {s->d_x, NULL, L->attn_norm, hp->rms_eps, d};
        const bool qkv_normed = norm_fuses(s, sh, d, qkv_w, 3);
        if (!qkv_normed)
            ENQUEUE(
                cuda_norm_to_act(s->stream, s->d_x, d, NULL, T, d, L->attn_norm, hp->rms_eps, &in));
        ENQUEUE(project_qkv(s, L, &in, qkv_normed ? &attn_in : NULL, sh, qkv_stride));

        // qwen3: RMSNorm of every head of q and k, in place before the rotation
        if (L->q_norm) {
            ENQUEUE(cuda_head_norm(s->stream, s->d_qkv, qkv_stride, T, hp->n_head, hp->head_dim,
                                   L->q_norm, hp->rms_eps));
            ENQUEUE(cuda_head_norm(s->stream, s->d_qkv + q_dim, qkv_stride, T, hp->n_head_kv,
                                   hp->head_dim, L->k_norm, hp->rms_eps));
        }

        // biases, rotation by position, k and v appended to each token's sequence, and
        // causal attention of each token over its own sequence
        CudaRopeArgs rope = {
            .q = s->d_qkv,
            .k = s->d_qkv + q_dim,
            .v = s->d_qkv + q_dim + kv_dim,
            .qkv_stride = qkv_stride,
            .bq = L->bq,
            .bk = L->bk,
            .bv = L->bv,
            .n_tokens = T,
            .n_head = hp->n_head,
            .n_head_kv = hp->n_head_kv,
            .head_dim = hp->head_dim,
            .n_rot = hp->n_rot,
            .rope_halves = hp->rope_style == ROPE_STYLE_HALVES,
            .d_inv_freq = s->d_inv_freq,
            .d_seq = s->d_seq,
            .d_pos = s->d_pos,
            .k_cache = k_cache,
            .v_cache = v_cache,
            .n_ctx = ctx->n_ctx,
        };
        CudaAttentionArgs att = {
            .q = s->d_qkv,
            .q_stride = qkv_stride,
            .n_tokens = T,
            .n_head = hp->n_head,
            .n_head_kv = hp->n_head_kv,
            .head_dim = hp->head_dim,
            .d_seq = s->d_seq,
            .d_pos = s->d_pos,
            .k_cache = k_cache,
            .v_cache = v_cache,
            .n_ctx = ctx->n_ctx,
            .n_split = cuda_attention_splits(T, hp->n_head_kv, s->n_sm),
            .part_acc = s->d_part_acc,
            .part_ml = s->d_part_ml,
            .scale = model_attention_scale(hp),
            .out = mid,
        };
        if (sh->one_per_seq) {
            CudaDecodeAttentionArgs fused = {.rope = rope,
                                             .att = att,
                                             .d_counters = s->d_counters,
                                             .heads_per_block = s->attention_heads_per_block};
            fused.att.n_split = cuda_attention_decode_splits(T, hp->n_head_kv, s->n_sm);
            ENQUEUE(cuda_attention_decode(s->stream, &fused));
        } else {
            ENQUEUE(cuda_rope_store_kv(s->stream, &rope));
            ENQUEUE(cuda_attention(s->stream, &att));
        }

        // output projection added to the residual stream
        ENQUEUE(matmul(s, &L->wo, &mid, T, s->d_x, d, true, sh->gemm));

        // feed-forward: normalise, gate and up with SwiGLU, down added to the residual
        bool fused_glu = !sh->gemm && L->w_gate.type == L->w_up.type;
        const GpuWeight *glu_w[] = {&L->w_gate, &L->w_up};
        if (fused_glu && norm_fuses(s, sh, d, glu_w, 2)) {
            ENQUEUE(cuda_matvec_norm(s->stream, &L->w_gate, &L->w_up, s->d_x, NULL, d, L->ffn_norm,
                                     hp->rms_eps, s->d_gate));
            ENQUEUE(cuda_norm_to_act(s->stream, s->d_gate, hp->n_ff, NULL, T, hp->n_ff, NULL, 0.0f,
                                     &mid));
        } else if (fused_glu) {
            ENQUEUE(
                cuda_norm_to_act(s->stream, s->d_x, d, NULL, T, d, L->ffn_norm, hp->rms_eps, &in));
            ENQUEUE(cuda_matvec_glu(s->stream, &L->w_gate, &L->w_up, &in, T, s->d_gate, hp->n_ff));
            ENQUEUE(cuda_norm_to_act(s->stream, s->d_gate, hp->n_ff, NULL, T, hp->n_ff, NULL, 0.0f,
                                     &mid));
        } else {
            ENQUEUE(
                cuda_norm_to_act(s->stream, s->d_x, d, NULL, T, d, L->ffn_norm, hp->rms_eps, &in));
            ENQUEUE(matmul(s, &L->w_gate, &in, T, s->d_gate, hp->n_ff, false, sh->gemm));
            ENQUEUE(matmul(s, &L->w_up, &in, T, s->d_up, hp->n_ff, false, sh->gemm));
            ENQUEUE(cuda_swiglu_to_act(s->stream, s->d_gate, s->d_up, hp->n_ff, T, hp->n_ff, &mid));
        }
        ENQUEUE(matmul(s, &L->w_down, &mid, T, s->d_x, d, true, sh->gemm));
    }

    if (s->head_on_gpu) {
        // output head, only for the rows the caller asked for
        if (sh->n_out == 0)
            return cudaSuccess;
        const CudaAct head_in = act_forms(&s->act_in, sh->head_gemm);
        const GpuWeight *head_w[] = {&s->output};
        const StepShape head_shape = {.n_tokens = sh->n_out, .gemm = sh->head_gemm};
        if (norm_fuses(s, &head_shape, d, head_w, 1)) {
            ENQUEUE(cuda_matvec_norm(s->stream, &s->output, NULL, s->d_x, s->d_rows, d,
                                     s->output_norm, hp->rms_eps, s->d_logits));
        } else {
            ENQUEUE(cuda_norm_to_act(s->stream, s->d_x, d, s->d_rows, sh->n_out, d, s->output_norm,
                                     hp->rms_eps, &head_in));
            ENQUEUE(matmul(s, &s->output, &head_in, sh->n_out, s->d_logits, hp->n_vocab, false,
                           sh->head_gemm));
        }
        ENQUEUE(cudaMemcpyAsync(s->h_logits, s->d_logits,
                                (uint64_t)sh->n_out * hp->n_vocab * sizeof(float),
                                cudaMemcpyDeviceToHost, s->stream));
    } else {
        // the CPU takes over the residual stream
        ENQUEUE(cudaMemcpyAsync(s->h_x_out, s->d_x, (uint64_t)T * d * sizeof(float),
                                cudaMemcpyDeviceToHost, s->stream));
    }
    return cudaSuccess;
}

void cuda_graphs_free(CudaState *s)
{
    for (int i = 0; i < CUDA_GRAPH_CACHE; i++) {
        if (s->graphs[i].exec)
            cudaGraphExecDestroy(s->graphs[i].exec);
        s->graphs[i].exec = NULL;
    }
}

// The graph of steps shaped SH: found in the cache, or captured (evicting the least
// recently used).
static PonderStatus graph_for(PonderContext *ctx, CudaState *s, const StepShape *sh,
                              cudaGraphExec_t *out, PonderError *err)
{
    CudaGraphEntry *slot = &s->graphs[0];
    for (int i = 0; i < CUDA_GRAPH_CACHE; i++) {
        CudaGraphEntry *g = &s->graphs[i];
        if (g->exec && g->n_tokens == sh->n_tokens && g->n_out == sh->n_out &&
            g->one_per_seq == sh->one_per_seq) {
            g->last_use = ++s->graph_clock;
            *out = g->exec;
            return PONDER_OK;
        }
        if (!g->exec || (slot->exec && g->last_use < slot->last_use))
            slot = g;
    }
    if (slot->exec) {
        cudaGraphExecDestroy(slot->exec);
        slot->exec = NULL;
    }
    cudaGraph_t graph = NULL;
    CUDA_TRY(cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeThreadLocal));
    cudaError_t e = enqueue_step(ctx, s, sh);
    cudaError_t end = cudaStreamEndCapture(s->stream, &graph);
    if (e == cudaSuccess)
        e = end;
    if (e != cudaSuccess) {
        if (graph)
            cudaGraphDestroy(graph);
        return cuda_error(err, e, "capturing a decode step", __FILE__, __LINE__);
    }
    e = cudaGraphInstantiate(&slot->exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        slot->exec = NULL;
        return cuda_error(err, e, "cudaGraphInstantiate", __FILE__, __LINE__);
    }
    slot->n_tokens = sh->n_tokens;
    slot->n_out = sh->n_out;
    slot->one_per_seq = sh->one_per_seq;
    slot->last_use = ++s->graph_clock;
    *out = slot->exec;
    return PONDER_OK;
}

// Longer contexts take the separate kernels: the fused kernel merges its slices in one
// block per (token, KV head), which caps its slices and so its bandwidth (NOTES.md).
enum { FUSED_ATTENTION_MAX_POS = 256 };

// Whether the step can take the fused decode attention: every sequence has a single token
// in it, at a short position.
static bool fused_attention_fits(CudaState *s, const StepBatch *step)
{
    s->seq_stamp_clock++;
    for (uint32_t t = 0; t < step->n_tokens; t++) {
        if (step->pos[t] >= FUSED_ATTENTION_MAX_POS)
            return false;
        if (s->seq_stamp[step->seq[t]] == s->seq_stamp_clock)
            return false;
        s->seq_stamp[step->seq[t]] = s->seq_stamp_clock;
    }
    return true;
}

// Fills the pinned step block: metadata and each token's embedding row.
static void stage_inputs(PonderContext *ctx, CudaState *s, const StepBatch *step)
{
    const PonderModel *m = ctx->model;
    const uint32_t d = m->hp.n_embd;
    for (uint32_t t = 0; t < step->n_tokens; t++) {
        s->h_seq[t] = step->seq[t];
        s->h_pos[t] = step->pos[t];
        weight_row_to_float(&m->token_embd, (uint64_t)step->tokens[t], s->h_x + (uint64_t)t * d);
    }
    for (uint32_t i = 0; i < step->n_out; i++)
        s->h_rows[i] = step->out_rows[i];
}

typedef struct LogitsCopy {
    float *dst;
    const float *src;
    uint64_t row_floats;
} LogitsCopy;

static void copy_logit_rows(void *arg, uint64_t begin, uint64_t end)
{
    const LogitsCopy *c = arg;
    memcpy(c->dst + begin * c->row_floats, c->src + begin * c->row_floats,
           (end - begin) * c->row_floats * sizeof(float));
}

PonderStatus cuda_forward(PonderContext *ctx, const StepBatch *step, PonderError *err)
{
    CudaState *s = ctx->backend_state;
    if (context_cancelled(ctx))
        return ponder_set_error(err, PONDER_ERR_CANCELLED, "cancelled");
    if (step->n_tokens == 0)
        return PONDER_OK;
    stage_inputs(ctx, s, step);

    if (s->n_gpu_layers > 0) {
        StepShape sh = {
            .n_tokens = step->n_tokens,
            .n_out = s->head_on_gpu ? step->n_out : 0,
            .gemm = step->n_tokens > s->matvec_max_tokens,
            .head_gemm = step->n_out > s->matvec_max_tokens,
            .one_per_seq = fused_attention_fits(s, step),
        };
        if (!sh.gemm && !sh.head_gemm && s->use_graphs) {
            cudaGraphExec_t exec = NULL;
            PonderStatus st = graph_for(ctx, s, &sh, &exec, err);
            if (st != PONDER_OK)
                return st;
            CUDA_TRY(cudaGraphLaunch(exec, s->stream));
        } else {
            cudaError_t e = enqueue_step(ctx, s, &sh);
            if (e != cudaSuccess) {
                cudaStreamSynchronize(s->stream);
                return cuda_error(err, e, "enqueueing a step", __FILE__, __LINE__);
            }
        }
        // the one host synchronisation of the step
        CUDA_TRY(cudaStreamSynchronize(s->stream));
    }

    // partial offload: the CPU continues from the GPU's residual stream (from the step's
    // embeddings when no layer is on the GPU) and runs the head
    if (s->cpu)
        return cpu_layers_forward(s->cpu, step, s->n_gpu_layers ? s->h_x_out : s->h_x, true, err);
    // many sequences' logits are megabytes: the CPU threads share the copy
    LogitsCopy copy = {
        .dst = step->logits, .src = s->h_logits, .row_floats = ctx->model->hp.n_vocab};
    cpu_parallel_for(ctx->pool, step->n_out, 2, copy_logit_rows, &copy);
    return PONDER_OK;
}
