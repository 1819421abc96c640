// Contexts, sequences and ponder_decode: validation, and splitting the caller's entries
// into forward steps (prefill chunks) for the backend, which allocates the KV cache.
#include <stdlib.h>
#include <string.h>

#include "backend-module.h"
#include "context.h"

// GPU prefill takes longer chunks: the GEMM path dequantizes every weight once per chunk,
// so a 512-token prompt in chunks of 256 would dequantize it twice.
enum { DEFAULT_PREFILL_CHUNK = 256, DEFAULT_GPU_PREFILL_CHUNK = 512, MAX_SEQUENCES = 1024 };

PonderContextParams ponder_context_default_params(void)
{
    return (PonderContextParams){
        .n_ctx = 0,
        .n_seq = 1,
        .n_threads = 0,
        .backend = PONDER_BACKEND_CPU,
        .gpu_layers = -1,
        .gpu_device = -1,
        .kv_type = PONDER_KV_F32,
        .prefill_chunk = DEFAULT_PREFILL_CHUNK,
    };
}

const char *ponder_backend_name(PonderBackend backend)
{
    switch (backend) {
    case PONDER_BACKEND_CPU: return "cpu";
    case PONDER_BACKEND_CUDA: return "cuda";
    case PONDER_BACKEND_VULKAN: return "vulkan";
    }
    return "unknown";
}

const char *ponder_status_name(PonderStatus status)
{
    static const char *const names[] = {
        [PONDER_OK] = "ok",
        [PONDER_ERR_IO] = "i/o error",
        [PONDER_ERR_FORMAT] = "malformed file",
        [PONDER_ERR_UNSUPPORTED] = "unsupported",
        [PONDER_ERR_NO_MEMORY] = "out of memory",
        [PONDER_ERR_CONTEXT_FULL] = "context full",
        [PONDER_ERR_CANCELLED] = "cancelled",
        [PONDER_ERR_INVALID] = "invalid argument",
        [PONDER_ERR_BACKEND] = "backend error",
    };
    return (unsigned)status < sizeof names / sizeof names[0] ? names[status] : "unknown";
}

PonderContext *ponder_context_new(PonderModel *model, const PonderContextParams *params,
                                  PonderError *err)
{
    const ModelHparams *hp = &model->hp;
    PonderContextParams p = params ? *params : ponder_context_default_params();
    p.n_ctx = ponder_context_length(p.n_ctx, hp->n_ctx_train);
    if (p.n_ctx > hp->n_ctx_train) {
        ponder_set_error(err, PONDER_ERR_INVALID,
                         "context of %u tokens requested, but the model supports at most %u",
                         p.n_ctx, hp->n_ctx_train);
        return NULL;
    }
    if (p.n_seq == 0)
        p.n_seq = 1;
    if (p.n_seq > MAX_SEQUENCES) {
        ponder_set_error(err, PONDER_ERR_INVALID, "%u sequences requested; at most %d", p.n_seq,
                         MAX_SEQUENCES);
        return NULL;
    }
    if (p.n_threads == 0)
        p.n_threads = (uint32_t)threadpool_default_size();
    if (p.prefill_chunk == 0)
        p.prefill_chunk =
            p.backend == PONDER_BACKEND_CPU ? DEFAULT_PREFILL_CHUNK : DEFAULT_GPU_PREFILL_CHUNK;
    const Backend *backend = &cpu_backend;
    if (p.backend != PONDER_BACKEND_CPU && !(backend = backend_module_load(p.backend, err)))
        return NULL;

    PonderContext *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    ctx->model = model;
    ctx->params = p;
    ctx->n_ctx = p.n_ctx;
    ctx->n_seq = p.n_seq;
    // A step holds a prefill chunk, or one token of every sequence when decoding.
    ctx->max_step_tokens = p.prefill_chunk > p.n_seq ? p.prefill_chunk : p.n_seq;
    ctx->kv_type = ponder_kv_element_type(p.kv_type);
    atomic_init(&ctx->cancel_requested, false);

    uint64_t kv_head_bytes;
    if (!ponder_row_bytes(ctx->kv_type, hp->head_dim, &kv_head_bytes)) {
        ponder_set_error(err, PONDER_ERR_UNSUPPORTED,
                         "KV cache type %s needs a head size that is a multiple of %u (it is %u)",
                         ponder_type_traits(ctx->kv_type)->name,
                         ponder_type_traits(ctx->kv_type)->block_len, hp->head_dim);
        goto fail;
    }
    ctx->seq_used = calloc(ctx->n_seq, sizeof *ctx->seq_used);
    ctx->seq_len = calloc(ctx->n_seq, sizeof *ctx->seq_len);
    if (!ctx->seq_used || !ctx->seq_len) {
        ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    ctx->pool = threadpool_new((int)p.n_threads);
    if (!ctx->pool) {
        ponder_set_error(err, PONDER_ERR_NO_MEMORY, "could not start %u threads", p.n_threads);
        goto fail;
    }
    ctx->backend = backend;
    if (ctx->backend->init(ctx, err) != PONDER_OK)
        goto fail;
    return ctx;

fail:
    ponder_context_free(ctx);
    return NULL;
}

void ponder_context_free(PonderContext *ctx)
{
    if (!ctx)
        return;
    if (ctx->backend)
        ctx->backend->free(ctx);
    threadpool_free(ctx->pool);
    free(ctx->seq_used);
    free(ctx->seq_len);
    free(ctx);
}

uint32_t ponder_context_n_ctx(const PonderContext *ctx)
{
    return ctx->n_ctx;
}

uint32_t ponder_context_n_threads(const PonderContext *ctx)
{
    return ctx->params.n_threads;
}

KvBytes context_kv_bytes(const PonderContext *ctx)
{
    return ctx->backend->kv_bytes(ctx);
}

uint64_t ponder_context_kv_bytes(const PonderContext *ctx)
{
    KvBytes kv = context_kv_bytes(ctx);
    return kv.host + kv.device;
}

int32_t ponder_seq_new(PonderContext *ctx)
{
    for (uint32_t i = 0; i < ctx->n_seq; i++) {
        if (!ctx->seq_used[i]) {
            ctx->seq_used[i] = true;
            ctx->seq_len[i] = 0;
            return (int32_t)i;
        }
    }
    return -1;
}

static bool seq_valid(const PonderContext *ctx, int32_t seq)
{
    return seq >= 0 && (uint32_t)seq < ctx->n_seq && ctx->seq_used[seq];
}

void ponder_seq_free(PonderContext *ctx, int32_t seq)
{
    if (seq_valid(ctx, seq))
        ctx->seq_used[seq] = false;
}

uint32_t ponder_seq_length(const PonderContext *ctx, int32_t seq)
{
    return seq_valid(ctx, seq) ? ctx->seq_len[seq] : 0;
}

void ponder_seq_truncate(PonderContext *ctx, int32_t seq, uint32_t n)
{
    if (seq_valid(ctx, seq) && n < ctx->seq_len[seq])
        ctx->seq_len[seq] = n;
}

void ponder_context_cancel(PonderContext *ctx)
{
    atomic_store(&ctx->cancel_requested, true);
}

static PonderStatus validate_entries(PonderContext *ctx, const PonderBatchEntry *entries,
                                     size_t n_entries, PonderError *err)
{
    uint32_t n_vocab = ctx->model->hp.n_vocab;
    for (size_t e = 0; e < n_entries; e++) {
        const PonderBatchEntry *entry = &entries[e];
        if (!seq_valid(ctx, entry->seq))
            return ponder_set_error(err, PONDER_ERR_INVALID, "sequence %d does not exist",
                                    entry->seq);
        for (size_t o = 0; o < e; o++)
            if (entries[o].seq == entry->seq)
                return ponder_set_error(err, PONDER_ERR_INVALID,
                                        "sequence %d appears twice in one batch", entry->seq);
        if (entry->n_tokens == 0 || !entry->tokens)
            return ponder_set_error(err, PONDER_ERR_INVALID, "sequence %d: no tokens given",
                                    entry->seq);
        uint64_t needed = (uint64_t)ctx->seq_len[entry->seq] + entry->n_tokens;
        if (needed > ctx->n_ctx)
            return ponder_set_error(err, PONDER_ERR_CONTEXT_FULL,
                                    "%llu tokens do not fit in the context of %u tokens "
                                    "(%u already used by this conversation)",
                                    (unsigned long long)needed, ctx->n_ctx,
                                    ctx->seq_len[entry->seq]);
        for (uint32_t i = 0; i < entry->n_tokens; i++)
            if (entry->tokens[i] < 0 || (uint32_t)entry->tokens[i] >= n_vocab)
                return ponder_set_error(err, PONDER_ERR_INVALID,
                                        "token id %d is outside the vocabulary (0..%u)",
                                        entry->tokens[i], n_vocab - 1);
    }
    return PONDER_OK;
}

// Buffers for one step, sized for max_step_tokens.
typedef struct StepBuffers {
    int32_t *tokens, *seq;
    uint32_t *pos, *out_rows;
    float *logits;
    float **logits_dest; // where each output row goes in the caller's buffers
    uint32_t *start_len; // [n_entries] each sequence's length before this call
} StepBuffers;

static void step_buffers_free(StepBuffers *b)
{
    free(b->tokens);
    free(b->seq);
    free(b->pos);
    free(b->out_rows);
    free(b->logits);
    free(b->logits_dest);
    free(b->start_len);
}

PonderStatus ponder_decode(PonderContext *ctx, const PonderBatchEntry *entries, size_t n_entries,
                           PonderError *err)
{
    PonderStatus status = validate_entries(ctx, entries, n_entries, err);
    if (status != PONDER_OK) {
        atomic_store(&ctx->cancel_requested, false);
        return status;
    }
    uint32_t n_vocab = ctx->model->hp.n_vocab;
    uint32_t cap = ctx->max_step_tokens;
    StepBuffers b = {
        .tokens = malloc(cap * sizeof(int32_t)),
        .seq = malloc(cap * sizeof(int32_t)),
        .pos = malloc(cap * sizeof(uint32_t)),
        .out_rows = malloc(cap * sizeof(uint32_t)),
        .logits = malloc((uint64_t)cap * n_vocab * sizeof(float)),
        .logits_dest = malloc(cap * sizeof(float *)),
        .start_len = malloc((n_entries + 1) * sizeof(uint32_t)),
    };
    if (!b.tokens || !b.seq || !b.pos || !b.out_rows || !b.logits || !b.logits_dest ||
        !b.start_len) {
        step_buffers_free(&b);
        return ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory for a step of %u tokens",
                                cap);
    }

    uint64_t total = 0, done = 0;
    for (size_t e = 0; e < n_entries; e++) {
        total += entries[e].n_tokens;
        b.start_len[e] = ctx->seq_len[entries[e].seq];
    }

    // Walk the entries' tokens in order, filling steps of at most `cap` tokens.
    size_t entry = 0;
    uint32_t offset = 0;
    while (entry < n_entries && status == PONDER_OK) {
        StepBatch step = {.tokens = b.tokens,
                          .seq = b.seq,
                          .pos = b.pos,
                          .out_rows = b.out_rows,
                          .logits = b.logits};
        while (entry < n_entries && step.n_tokens < cap) {
            const PonderBatchEntry *en = &entries[entry];
            uint32_t i = step.n_tokens++;
            b.tokens[i] = en->tokens[offset];
            b.seq[i] = en->seq;
            b.pos[i] = b.start_len[entry] + offset;
            bool last = offset + 1 == en->n_tokens;
            if (en->logits && (en->all_logits || last)) {
                b.out_rows[step.n_out] = i;
                b.logits_dest[step.n_out] =
                    en->logits + (en->all_logits ? (uint64_t)offset * n_vocab : 0);
                step.n_out++;
            }
            if (last) {
                entry++;
                offset = 0;
            } else {
                offset++;
            }
        }
        if (context_cancelled(ctx)) {
            status = ponder_set_error(err, PONDER_ERR_CANCELLED, "cancelled");
            break;
        }
        status = ctx->backend->forward(ctx, &step, err);
        if (status != PONDER_OK)
            break;
        // The step's tokens are now in the cache: advance each sequence.
        for (uint32_t i = 0; i < step.n_tokens; i++)
            if (b.pos[i] + 1 > ctx->seq_len[b.seq[i]])
                ctx->seq_len[b.seq[i]] = b.pos[i] + 1;
        for (uint32_t o = 0; o < step.n_out; o++)
            memcpy(b.logits_dest[o], b.logits + (uint64_t)o * n_vocab, n_vocab * sizeof(float));
        done += step.n_tokens;
        if (ctx->params.progress && total > cap)
            ctx->params.progress(ctx->params.progress_user, done, total);
    }
    step_buffers_free(&b);
    atomic_store(&ctx->cancel_requested, false);
    return status;
}
