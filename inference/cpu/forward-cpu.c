// The CPU backend: the reference forward pass every other backend is checked against,
// and what users without a GPU run. The pass itself, cpu_layers_forward(), runs a range of
// layers (and the output head) on a residual stream its caller holds: the CPU backend
// (at the end) runs every layer from the tokens' embeddings, a GPU module the layers it
// left to the CPU from the residual stream its own layers wrote. A CpuLayers holds the KV
// cache of exactly its layers, so no layer's cache is kept on both the host and a GPU.
//
// A step processes T tokens that may belong to different sequences: every matrix product
// runs once over all T tokens (so the weights are read once per step, which is what makes
// batched decode cheap), and only attention looks at each token's own sequence.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-ops.h"
#include "forward-cpu.h"

struct CpuLayers {
    PonderContext *ctx;   // borrowed: model, threads, sizes, cancellation
    uint32_t first, last; // the layers run here

    double *inv_freq; // [n_rot / 2] RoPE angular frequency of each rotated pair

    // KV cache of layers [first, last): [last - first][n_seq][n_ctx] rows of kv_row_bytes,
    // elements of ctx->kv_type
    uint8_t *k_cache;
    uint8_t *v_cache;
    uint64_t kv_row_bytes;  // one token's K (or V) row in one layer
    uint64_t kv_head_bytes; // one KV head's slice of such a row
    uint64_t kv_bytes;      // K and V of all these layers

    // Activations for up to max_step_tokens tokens (the residual stream is the caller's).
    float *xn;   // [T][n_embd] normalised input of a block
    float *tmp;  // [T][n_embd] a block's output before the residual add
    float *q;    // [T][n_head * head_dim]
    float *k;    // [T][n_head_kv * head_dim]
    float *v;    // [T][n_head_kv * head_dim]
    float *att;  // [T][n_head * head_dim] attention output
    float *gate; // [T][n_ff]
    float *up;   // [T][n_ff]
    void *xq;    // activations quantized for the matrix products

    // Attention scratch, one slice per thread.
    float *att_scratch; // [n_threads][att_scratch_floats]
    uint64_t att_scratch_floats;
};

// The cached row of LAYER (a model layer index, in [first, last)) at POS of SEQ.
static uint8_t *kv_row(const CpuLayers *s, uint8_t *cache, uint32_t layer, int32_t seq,
                       uint32_t pos)
{
    const PonderContext *ctx = s->ctx;
    uint64_t index = ((uint64_t)(layer - s->first) * ctx->n_seq + (uint64_t)seq) * ctx->n_ctx + pos;
    return cache + index * s->kv_row_bytes;
}

// One KV head's slice of a cached row as floats: the row itself for F32, else converted
// into BUF.
static const float *kv_head(const CpuLayers *s, const uint8_t *row, uint32_t kv_head_index,
                            float *buf)
{
    const PonderContext *ctx = s->ctx;
    const uint8_t *slice = row + kv_head_index * s->kv_head_bytes;
    if (ctx->kv_type == PONDER_TYPE_F32)
        return (const float *)slice;
    ponder_dequantize_row(ctx->kv_type, slice, buf, ctx->model->hp.head_dim);
    return buf;
}

static void kv_store(const PonderContext *ctx, uint8_t *row, const float *values)
{
    const ModelHparams *hp = &ctx->model->hp;
    uint64_t n = (uint64_t)hp->n_head_kv * hp->head_dim;
    if (ctx->kv_type == PONDER_TYPE_F32)
        memcpy(row, values, n * sizeof(float));
    else
        ponder_quantize_row(ctx->kv_type, values, row, (int64_t)n);
}

typedef struct AttentionTask {
    CpuLayers *cpu;
    const StepBatch *step;
    uint32_t layer;
} AttentionTask;

// Work item (token t, KV head g): the group of query heads sharing KV head g attends
// over positions 0..pos[t] of the token's sequence. Each cached K/V slice is read once
// per group rather than once per query head.
static void attention_worker(void *arg, int ith, int nth)
{
    AttentionTask *task = arg;
    CpuLayers *s = task->cpu;
    const PonderContext *ctx = s->ctx;
    const ModelHparams *hp = &ctx->model->hp;
    const StepBatch *step = task->step;
    uint32_t hd = hp->head_dim;
    uint32_t group = hp->n_head / hp->n_head_kv;
    uint32_t q_dim = hp->n_head * hd;
    float scale = model_attention_scale(hp);

    float *scores = s->att_scratch + (uint64_t)ith * s->att_scratch_floats; // [group][n_ctx]
    float *k_buf = scores + (uint64_t)group * ctx->n_ctx;                   // [hd]
    float *v_buf = k_buf + hd;                                              // [hd]

    uint64_t n_items = (uint64_t)step->n_tokens * hp->n_head_kv;
    for (uint64_t item = (uint64_t)ith; item < n_items; item += (uint64_t)nth) {
        uint32_t t = (uint32_t)(item / hp->n_head_kv);
        uint32_t g = (uint32_t)(item % hp->n_head_kv);
        int32_t seq = step->seq[t];
        uint32_t n_pos = step->pos[t] + 1;
        const float *q = s->q + (uint64_t)t * q_dim + (uint64_t)g * group * hd;
        float *out = s->att + (uint64_t)t * q_dim + (uint64_t)g * group * hd;

        // scores = q · k / sqrt(hd) for every cached position
        for (uint32_t p = 0; p < n_pos; p++) {
            const float *k = kv_head(s, kv_row(s, s->k_cache, task->layer, seq, p), g, k_buf);
            for (uint32_t h = 0; h < group; h++) {
                const float *qh = q + h * hd;
                float dot = 0;
                for (uint32_t i = 0; i < hd; i++)
                    dot += qh[i] * k[i];
                scores[(uint64_t)h * ctx->n_ctx + p] = dot * scale;
            }
        }
        // softmax over positions
        for (uint32_t h = 0; h < group; h++) {
            float *sc = scores + (uint64_t)h * ctx->n_ctx;
            float max = sc[0];
            for (uint32_t p = 1; p < n_pos; p++)
                max = sc[p] > max ? sc[p] : max;
            float sum = 0;
            for (uint32_t p = 0; p < n_pos; p++) {
                sc[p] = expf(sc[p] - max);
                sum += sc[p];
            }
            for (uint32_t p = 0; p < n_pos; p++)
                sc[p] /= sum;
        }
        // out = Σ softmax · v
        memset(out, 0, (uint64_t)group * hd * sizeof(float));
        for (uint32_t p = 0; p < n_pos; p++) {
            const float *v = kv_head(s, kv_row(s, s->v_cache, task->layer, seq, p), g, v_buf);
            for (uint32_t h = 0; h < group; h++) {
                float weight = scores[(uint64_t)h * ctx->n_ctx + p];
                float *oh = out + h * hd;
                for (uint32_t i = 0; i < hd; i++)
                    oh[i] += weight * v[i];
            }
        }
    }
}

static void add_bias(float *rows, const float *bias, uint32_t n_rows, uint32_t n)
{
    if (!bias)
        return;
    for (uint32_t r = 0; r < n_rows; r++) {
        float *row = rows + (uint64_t)r * n;
        for (uint32_t i = 0; i < n; i++)
            row[i] += bias[i];
    }
}

typedef struct RopeStoreTask {
    CpuLayers *cpu;
    const StepBatch *step;
    uint32_t layer;
} RopeStoreTask;

// Rotates q and k of tokens [begin, end) by their positions and appends k and v to
// each token's sequence in the cache.
static void rope_and_store(void *arg, uint64_t begin, uint64_t end)
{
    RopeStoreTask *task = arg;
    CpuLayers *s = task->cpu;
    const PonderContext *ctx = s->ctx;
    const ModelHparams *hp = &ctx->model->hp;
    const StepBatch *step = task->step;
    const uint32_t q_dim = hp->n_head * hp->head_dim;
    const uint32_t kv_dim = hp->n_head_kv * hp->head_dim;
    for (uint64_t t = begin; t < end; t++) {
        float *q = s->q + t * q_dim;
        float *k = s->k + t * kv_dim;
        const LayerWeights *lw = &ctx->model->layers[task->layer];
        if (lw->q_norm) { // qwen3: RMSNorm of every head before the rotation
            cpu_head_norm(q, lw->q_norm, hp->rms_eps, hp->n_head, hp->head_dim);
            cpu_head_norm(k, lw->k_norm, hp->rms_eps, hp->n_head_kv, hp->head_dim);
        }
        cpu_rope(q, hp->n_head, hp->head_dim, hp->n_rot, hp->rope_style, s->inv_freq, step->pos[t]);
        cpu_rope(k, hp->n_head_kv, hp->head_dim, hp->n_rot, hp->rope_style, s->inv_freq,
                 step->pos[t]);
        kv_store(ctx, kv_row(s, s->k_cache, task->layer, step->seq[t], step->pos[t]), k);
        kv_store(ctx, kv_row(s, s->v_cache, task->layer, step->seq[t], step->pos[t]),
                 s->v + t * kv_dim);
    }
}

void cpu_embed_tokens(const PonderModel *m, const StepBatch *step, float *x)
{
    // one row of the (possibly quantized) table per token
    const uint32_t d = m->hp.n_embd;
    for (uint32_t t = 0; t < step->n_tokens; t++)
        weight_row_to_float(&m->token_embd, (uint64_t)step->tokens[t], x + (uint64_t)t * d);
}

PonderStatus cpu_layers_forward(CpuLayers *s, const StepBatch *step, float *x, bool head,
                                PonderError *err)
{
    PonderContext *ctx = s->ctx;
    const PonderModel *m = ctx->model;
    const ModelHparams *hp = &m->hp;
    ThreadPool *pool = ctx->pool;
    const uint32_t T = step->n_tokens;
    const uint32_t d = hp->n_embd;
    const uint32_t q_dim = hp->n_head * hp->head_dim;
    const uint32_t kv_dim = hp->n_head_kv * hp->head_dim;

    for (uint32_t l = s->first; l < s->last; l++) {
        if (context_cancelled(ctx))
            return ponder_set_error(err, PONDER_ERR_CANCELLED, "cancelled");
        const LayerWeights *lw = &m->layers[l];

        // attention: normalise, then q, k, v projections (+ biases in qwen2)
        cpu_rms_norm(pool, x, lw->attn_norm, hp->rms_eps, T, d, s->xn);
        cpu_matmul(pool, &lw->wq, s->xn, T, s->q, s->xq);
        cpu_matmul(pool, &lw->wk, s->xn, T, s->k, s->xq);
        cpu_matmul(pool, &lw->wv, s->xn, T, s->v, s->xq);
        add_bias(s->q, lw->bq, T, q_dim);
        add_bias(s->k, lw->bk, T, kv_dim);
        add_bias(s->v, lw->bv, T, kv_dim);

        // normalise each head of q and k (qwen3), rotate q and k by position; append k and v to
        // each token's sequence cache
        RopeStoreTask rope = {.cpu = s, .step = step, .layer = l};
        cpu_parallel_for(pool, T, 4, rope_and_store, &rope);

        // causal attention of each token over its own sequence
        AttentionTask attention = {.cpu = s, .step = step, .layer = l};
        threadpool_run(pool, attention_worker, &attention);

        // output projection and residual
        cpu_matmul(pool, &lw->wo, s->att, T, s->tmp, s->xq);
        cpu_add(pool, x, s->tmp, (uint64_t)T * d);

        // feed-forward: normalise, gate and up, SwiGLU, down, residual
        cpu_rms_norm(pool, x, lw->ffn_norm, hp->rms_eps, T, d, s->xn);
        cpu_matmul(pool, &lw->w_gate, s->xn, T, s->gate, s->xq);
        cpu_matmul(pool, &lw->w_up, s->xn, T, s->up, s->xq);
        cpu_swiglu(pool, s->gate, s->up, (uint64_t)T * hp->n_ff);
        cpu_matmul(pool, &lw->w_down, s->gate, T, s->tmp, s->xq);
        cpu_add(pool, x, s->tmp, (uint64_t)T * d);
    }

    // output head, only for the rows the caller asked for
    if (!head || step->n_out == 0)
        return PONDER_OK;
    for (uint32_t i = 0; i < step->n_out; i++)
        cpu_rms_norm(pool, x + (uint64_t)step->out_rows[i] * d, m->output_norm, hp->rms_eps, 1, d,
                     s->xn + (uint64_t)i * d);
    cpu_matmul(pool, &m->output, s->xn, step->n_out, step->logits, s->xq);
    return PONDER_OK;
}

void cpu_layers_free(CpuLayers *s)
{
    if (!s)
        return;
    free(s->k_cache);
    free(s->v_cache);
    free(s->inv_freq);
    free(s->xn);
    free(s->tmp);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->att);
    free(s->gate);
    free(s->up);
    free(s->xq);
    free(s->att_scratch);
    free(s);
}

static float *alloc_floats(uint64_t n, bool *ok)
{
    float *p = malloc(n * sizeof(float) + 64);
    if (!p)
        *ok = false;
    return p;
}

PonderStatus cpu_layers_new(PonderContext *ctx, uint32_t first, uint32_t last, CpuLayers **out,
                            PonderError *err)
{
    const PonderModel *m = ctx->model;
    const ModelHparams *hp = &m->hp;
    *out = NULL;
    CpuLayers *s = calloc(1, sizeof *s);
    if (!s)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
    s->ctx = ctx;
    s->first = first;
    s->last = last;
    *out = s;

    // the KV cache of these layers (context.c checked that a head is whole blocks of the type)
    (void)ponder_row_bytes(ctx->kv_type, hp->head_dim, &s->kv_head_bytes);
    s->kv_row_bytes = s->kv_head_bytes * hp->n_head_kv;
    // n_layer * n_seq * n_ctx * row stays far below 2^64 with the limits checked at load
    uint64_t cache_bytes = (uint64_t)(last - first) * ctx->n_seq * ctx->n_ctx * s->kv_row_bytes;
    s->kv_bytes = 2 * cache_bytes;
    s->k_cache = malloc(cache_bytes);
    s->v_cache = malloc(cache_bytes);
    if (cache_bytes && (!s->k_cache || !s->v_cache))
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY,
                                "out of memory: the KV cache for %u sequences of %u tokens needs "
                                "%.1f MiB",
                                ctx->n_seq, ctx->n_ctx, s->kv_bytes / 1048576.0);

    uint32_t half = hp->n_rot / 2;
    bool ok = true;
    s->inv_freq = malloc(half * sizeof(double) + 8);
    ok = s->inv_freq != NULL;
    if (ok)
        model_rope_inv_freq(m, s->inv_freq);

    uint64_t T = ctx->max_step_tokens;
    uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim;
    uint64_t kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim;
    uint64_t widest = hp->n_ff > hp->n_embd ? hp->n_ff : hp->n_embd;
    widest = q_dim > widest ? q_dim : widest;
    s->xn = alloc_floats(T * hp->n_embd, &ok);
    s->tmp = alloc_floats(T * hp->n_embd, &ok);
    s->q = alloc_floats(T * q_dim, &ok);
    s->k = alloc_floats(T * kv_dim, &ok);
    s->v = alloc_floats(T * kv_dim, &ok);
    s->att = alloc_floats(T * q_dim, &ok);
    s->gate = alloc_floats(T * hp->n_ff, &ok);
    s->up = alloc_floats(T * hp->n_ff, &ok);
    s->xq = malloc(cpu_matmul_scratch_bytes(widest, (uint32_t)T));
    ok = ok && s->xq;
    uint32_t group = hp->n_head / hp->n_head_kv;
    s->att_scratch_floats = (uint64_t)group * ctx->n_ctx + 2 * (uint64_t)hp->head_dim + 16;
    s->att_scratch = alloc_floats(s->att_scratch_floats * threadpool_size(ctx->pool), &ok);
    if (!ok)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY,
                                "out of memory allocating CPU activations for %llu tokens per step",
                                (unsigned long long)T);
    return PONDER_OK;
}

uint64_t cpu_layers_kv_bytes(const CpuLayers *s)
{
    return s ? s->kv_bytes : 0;
}

// The CPU backend: every layer and the head, on a residual stream that starts from the
// tokens' embeddings.
typedef struct CpuBackend {
    CpuLayers *layers; // [0, n_layer)
    float *x;          // [max_step_tokens][n_embd] the residual stream
} CpuBackend;

static PonderStatus cpu_forward(PonderContext *ctx, const StepBatch *step, PonderError *err)
{
    CpuBackend *b = ctx->backend_state;
    cpu_embed_tokens(ctx->model, step, b->x);
    return cpu_layers_forward(b->layers, step, b->x, true, err);
}

static KvBytes cpu_kv_bytes(const PonderContext *ctx)
{
    const CpuBackend *b = ctx->backend_state;
    return (KvBytes){.host = cpu_layers_kv_bytes(b->layers)};
}

static void cpu_free(PonderContext *ctx)
{
    CpuBackend *b = ctx->backend_state;
    if (!b)
        return;
    cpu_layers_free(b->layers);
    free(b->x);
    free(b);
    ctx->backend_state = NULL;
}

static PonderStatus cpu_init(PonderContext *ctx, PonderError *err)
{
    CpuBackend *b = calloc(1, sizeof *b);
    if (!b)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
    ctx->backend_state = b;
    bool ok = true;
    b->x = alloc_floats((uint64_t)ctx->max_step_tokens * ctx->model->hp.n_embd, &ok);
    if (!ok)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY,
                                "out of memory allocating CPU activations for %u tokens per step",
                                ctx->max_step_tokens);
    return cpu_layers_new(ctx, 0, ctx->model->hp.n_layer, &b->layers, err);
}

const Backend cpu_backend = {
    .name = "cpu",
    .init = cpu_init,
    .free = cpu_free,
    .forward = cpu_forward,
    .kv_bytes = cpu_kv_bytes,
};
