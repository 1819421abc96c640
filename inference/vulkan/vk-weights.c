// Which layers and models the Vulkan backend runs, and the upload of their weights (only
// the layers on the GPU, and the head when every layer is there): matrices go to
// device-local buffers in their file's block layout (the mat-vec shaders decode them as
// they read), vectors (norms, biases) as floats, plus the RoPE angle table.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk-backend.h"

enum { MAX_HEAD_DIM = 256 }; // attention.comp keeps a head in shared memory

typedef struct NamedWeight {
    const Weight *w;
    char name[64];
} NamedWeight;

// The matrices of layer L with their GGUF tensor names.
static void layer_matrices(const PonderModel *m, uint32_t l, NamedWeight out[7])
{
    const LayerWeights *lw = &m->layers[l];
    static const char *const names[7] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                         "ffn_gate", "ffn_up", "ffn_down"};
    const Weight *ws[7] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo, &lw->w_gate, &lw->w_up, &lw->w_down};
    for (int i = 0; i < 7; i++) {
        out[i].w = ws[i];
        snprintf(out[i].name, sizeof out[i].name, "blk.%u.%s.weight", l, names[i]);
    }
}

static PonderStatus check_weight(const NamedWeight *nw, PonderError *err)
{
    const Weight *w = nw->w;
    if (vk_matvec_pipe(w->type) == VK_PIPE_COUNT) {
        const PonderTypeTraits *t = ponder_type_traits(w->type);
        return ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                                "tensor %s has type %s, which the Vulkan backend does not run yet",
                                nw->name, t ? t->name : "unknown");
    }
    if (w->row_len % 32 || w->row_len > UINT32_MAX || w->n_rows > UINT32_MAX ||
        w->row_bytes * w->n_rows > UINT32_MAX)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED,
            "tensor %s (%llu x %llu) has a shape the Vulkan backend does not run", nw->name,
            (unsigned long long)w->n_rows, (unsigned long long)w->row_len);
    return PONDER_OK;
}

uint32_t vk_gpu_layer_count(const PonderContext *ctx)
{
    uint32_t n_layer = ctx->model->hp.n_layer;
    int32_t want = ctx->params.gpu_layers;
    return want < 0 || (uint32_t)want >= n_layer ? n_layer : (uint32_t)want;
}

// Only what runs here is checked: the CPU runs every type, shape and KV cache.
PonderStatus vk_check_model(const PonderContext *ctx, PonderError *err)
{
    const PonderModel *m = ctx->model;
    const ModelHparams *hp = &m->hp;
    const uint32_t n_gpu = vk_gpu_layer_count(ctx);
    if (n_gpu == 0)
        return PONDER_OK;
    if (ctx->kv_type != PONDER_TYPE_F16 && ctx->kv_type != PONDER_TYPE_F32)
        return ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                                "a %s KV cache is not supported on Vulkan (use f16 or f32)",
                                ponder_type_traits(ctx->kv_type)->name);
    if (hp->head_dim > MAX_HEAD_DIM || hp->head_dim % 2 || hp->n_rot % 2 || hp->n_embd % 32)
        return ponder_set_error(
            err, PONDER_ERR_UNSUPPORTED,
            "the Vulkan backend runs heads of up to %d (even) dimensions, not %u", MAX_HEAD_DIM,
            hp->head_dim);
    for (uint32_t l = 0; l < n_gpu; l++) {
        NamedWeight nw[7];
        layer_matrices(m, l, nw);
        for (int i = 0; i < 7; i++)
            VK_RETURN_IF_FAILED(check_weight(&nw[i], err));
    }
    if (n_gpu < hp->n_layer)
        return PONDER_OK; // the head runs on the CPU
    NamedWeight head = {.w = &m->output};
    snprintf(head.name, sizeof head.name, "%s",
             m->output.data == m->token_embd.data ? "token_embd.weight" : "output.weight");
    return check_weight(&head, err);
}

static PonderStatus upload_weight(VkState *s, const Weight *w, VkWeight *out, PonderError *err)
{
    out->type = w->type;
    out->row_len = (uint32_t)w->row_len;
    out->n_rows = (uint32_t)w->n_rows;
    out->row_bytes = (uint32_t)w->row_bytes;
    return vk_buffer_from(s, w->data, w->row_bytes * w->n_rows, &out->buf, err);
}

static PonderStatus upload_floats(VkState *s, const float *v, uint64_t n, VkBuf *out,
                                  PonderError *err)
{
    if (!v) {
        memset(out, 0, sizeof *out);
        return PONDER_OK;
    }
    return vk_buffer_from(s, v, n * sizeof(float), out, err);
}

// [n_ctx][n_rot / 2] (cos, sin) in float, computed in double as the CPU backend does.
static PonderStatus upload_rope_table(PonderContext *ctx, VkState *s, PonderError *err)
{
    const PonderModel *m = ctx->model;
    const ModelHparams *hp = &m->hp;
    uint32_t half = hp->n_rot / 2 ? hp->n_rot / 2 : 1;
    uint64_t n = (uint64_t)ctx->n_ctx * half * 2;
    float *table = malloc(n * sizeof(float));
    double *inv_freq = malloc(half * sizeof(double));
    if (!table || !inv_freq) {
        free(table);
        free(inv_freq);
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory for the RoPE table");
    }
    if (hp->n_rot)
        model_rope_inv_freq(m, inv_freq);
    for (uint32_t p = 0; p < ctx->n_ctx; p++)
        for (uint32_t i = 0; i < half; i++) {
            double angle = (double)p * inv_freq[i];
            table[((uint64_t)p * half + i) * 2] = (float)cos(angle);
            table[((uint64_t)p * half + i) * 2 + 1] = (float)sin(angle);
        }
    PonderStatus st = vk_buffer_from(s, table, n * sizeof(float), &s->rope_table, err);
    free(table);
    free(inv_freq);
    return st;
}

PonderStatus vk_upload_model(PonderContext *ctx, VkState *s, PonderError *err)
{
    const PonderModel *m = ctx->model;
    const ModelHparams *hp = &m->hp;
    uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim,
             kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim;
    s->layers = calloc(s->n_gpu_layers, sizeof *s->layers);
    if (!s->layers)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
    uint64_t kv_bytes = (uint64_t)ctx->n_seq * ctx->n_ctx * kv_dim * (s->kv_f16 ? 2 : 4);
    for (uint32_t l = 0; l < s->n_gpu_layers; l++) {
        const LayerWeights *lw = &m->layers[l];
        VkLayer *L = &s->layers[l];
        VK_RETURN_IF_FAILED(upload_floats(s, lw->attn_norm, hp->n_embd, &L->attn_norm, err));
        VK_RETURN_IF_FAILED(upload_floats(s, lw->ffn_norm, hp->n_embd, &L->ffn_norm, err));
        VK_RETURN_IF_FAILED(upload_floats(s, lw->bq, q_dim, &L->bq, err));
        VK_RETURN_IF_FAILED(upload_floats(s, lw->bk, kv_dim, &L->bk, err));
        VK_RETURN_IF_FAILED(upload_floats(s, lw->bv, kv_dim, &L->bv, err));
        VK_RETURN_IF_FAILED(upload_floats(s, lw->q_norm, hp->head_dim, &L->q_norm, err));
        VK_RETURN_IF_FAILED(upload_floats(s, lw->k_norm, hp->head_dim, &L->k_norm, err));
        VK_RETURN_IF_FAILED(upload_weight(s, &lw->wq, &L->wq, err));
        VK_RETURN_IF_FAILED(upload_weight(s, &lw->wk, &L->wk, err));
        VK_RETURN_IF_FAILED(upload_weight(s, &lw->wv, &L->wv, err));
        VK_RETURN_IF_FAILED(upload_weight(s, &lw->wo, &L->wo, err));
        VK_RETURN_IF_FAILED(upload_weight(s, &lw->w_gate, &L->w_gate, err));
        VK_RETURN_IF_FAILED(upload_weight(s, &lw->w_up, &L->w_up, err));
        VK_RETURN_IF_FAILED(upload_weight(s, &lw->w_down, &L->w_down, err));
        // KV cache, zeroed so a stray read of an unwritten slot is never a NaN
        VK_RETURN_IF_FAILED(vk_buffer_new(s, kv_bytes, VK_MEM_DEVICE, &L->k_cache, err));
        VK_RETURN_IF_FAILED(vk_buffer_new(s, kv_bytes, VK_MEM_DEVICE, &L->v_cache, err));
        VK_RETURN_IF_FAILED(vk_zero(s, &L->k_cache, err));
        VK_RETURN_IF_FAILED(vk_zero(s, &L->v_cache, err));
    }
    if (s->head_on_gpu) {
        VK_RETURN_IF_FAILED(upload_floats(s, m->output_norm, hp->n_embd, &s->output_norm, err));
        VK_RETURN_IF_FAILED(upload_weight(s, &m->output, &s->output, err));
    }
    return upload_rope_table(ctx, s, err);
}

void vk_free_model(VkState *s)
{
    for (uint32_t l = 0; s->layers && l < s->n_gpu_layers; l++) {
        VkLayer *L = &s->layers[l];
        VkBuf *bufs[] = {&L->attn_norm, &L->ffn_norm,   &L->bq,      &L->bk,
                         &L->bv,        &L->q_norm,     &L->k_norm,  &L->wq.buf,
                         &L->wk.buf,    &L->wv.buf,     &L->wo.buf,  &L->w_gate.buf,
                         &L->w_up.buf,  &L->w_down.buf, &L->k_cache, &L->v_cache};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            vk_buffer_free(s, bufs[i]);
    }
    free(s->layers);
    s->layers = NULL;
    vk_buffer_free(s, &s->output_norm);
    vk_buffer_free(s, &s->output.buf);
    vk_buffer_free(s, &s->rope_table);
}
