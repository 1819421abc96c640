// The CPU backend's forward pass starts from token embeddings, so the tail gives it views:
// a model whose layer list starts at FIRST and whose "embedding table" is an F32 matrix
// holding the GPU's residual stream, and a context whose KV cache pointers start at layer
// FIRST of the host cache that context.c allocated. The CPU backend creates its own state
// (activations, threads' scratch) on the context view.
//
// A proper hook in forward-cpu.c (run layers [first, last) on a given residual stream)
// would make these views unnecessary; see the note in bench/cuda/NOTES.md.
#include <stdlib.h>

#include "cpu-tail.h"

struct CpuTail {
    PonderModel model; // view: layers [first, n_layer), embedding = the GPU's residual rows
    PonderContext ctx; // view: the host KV cache from layer FIRST on; its own CPU state
    int32_t *row_ids;  // [max_step_tokens] 0, 1, 2...; NULL when the tail reads real tokens
    bool cpu_ready;
};

// Points TAIL's model at layers [FIRST_LAYER, n_layer) fed from X_ROWS.
static PonderStatus view_model_from_rows(CpuTail *tail, const PonderContext *ctx,
                                         uint32_t first_layer, float *x_rows, PonderError *err)
{
    const ModelHparams *hp = &ctx->model->hp;
    tail->row_ids = malloc(ctx->max_step_tokens * sizeof(int32_t));
    if (!tail->row_ids)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
    for (uint32_t i = 0; i < ctx->max_step_tokens; i++)
        tail->row_ids[i] = (int32_t)i;
    tail->model.hp.n_layer = hp->n_layer - first_layer;
    tail->model.layers = ctx->model->layers + first_layer;
    tail->model.token_embd = (Weight){
        .type = PONDER_TYPE_F32,
        .data = x_rows,
        .row_len = hp->n_embd,
        .n_rows = ctx->max_step_tokens,
        .row_bytes = (uint64_t)hp->n_embd * sizeof(float),
    };
    return PONDER_OK;
}

PonderStatus cpu_tail_new(PonderContext *ctx, uint32_t first_layer, float *x_rows, CpuTail **out,
                          PonderError *err)
{
    CpuTail *tail = calloc(1, sizeof *tail);
    if (!tail)
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
    *out = tail;
    tail->model = *ctx->model;
    if (x_rows) {
        PonderStatus st = view_model_from_rows(tail, ctx, first_layer, x_rows, err);
        if (st != PONDER_OK)
            return st;
    }

    // Field by field: PonderContext holds an atomic flag, initialised below.
    PonderContext *v = &tail->ctx;
    v->model = &tail->model;
    v->params = ctx->params;
    v->n_ctx = ctx->n_ctx;
    v->n_seq = ctx->n_seq;
    v->max_step_tokens = ctx->max_step_tokens;
    v->backend = &cpu_backend;
    v->pool = ctx->pool;
    v->kv_type = ctx->kv_type;
    v->kv_row_bytes = ctx->kv_row_bytes;
    v->kv_head_bytes = ctx->kv_head_bytes;
    uint64_t skip = (uint64_t)first_layer * ctx->n_seq * ctx->n_ctx * ctx->kv_row_bytes;
    v->k_cache = (uint8_t *)ctx->k_cache + skip;
    v->v_cache = (uint8_t *)ctx->v_cache + skip;
    v->kv_bytes = ctx->kv_bytes;
    v->seq_used = ctx->seq_used;
    v->seq_len = ctx->seq_len;
    atomic_init(&v->cancel_requested, false);
    PonderStatus st = cpu_backend.init(v, err);
    tail->cpu_ready = st == PONDER_OK || v->backend_state != NULL;
    return st;
}

PonderStatus cpu_tail_forward(CpuTail *tail, PonderContext *ctx, const StepBatch *step,
                              PonderError *err)
{
    atomic_store(&tail->ctx.cancel_requested, context_cancelled(ctx));
    StepBatch rows = *step;
    if (tail->row_ids)
        rows.tokens = tail->row_ids; // token t of the step reads residual row t
    return cpu_backend.forward(&tail->ctx, &rows, err);
}

void cpu_tail_free(CpuTail *tail)
{
    if (!tail)
        return;
    if (tail->cpu_ready)
        cpu_backend.free(&tail->ctx);
    free(tail->row_ids);
    free(tail);
}
