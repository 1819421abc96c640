// The run state of a model: KV cache slots for several sequences, the CPU thread pool,
// and the backend that runs forward steps. ponder_decode (context.c) splits the caller's
// entries into steps; a backend runs one step at a time.
#pragma once

#include <stdatomic.h>

#include "model.h"
#include "threadpool.h"

// One forward step: N tokens, each appended to its sequence's KV cache at its position.
typedef struct StepBatch {
    uint32_t n_tokens;
    const int32_t *tokens; // [n_tokens]
    const int32_t *seq;    // [n_tokens]
    const uint32_t *pos;   // [n_tokens]
    // Rows of logits to produce: token index out_rows[i] -> logits + i * n_vocab.
    uint32_t n_out;
    const uint32_t *out_rows;
    float *logits; // [n_out][n_vocab]
} StepBatch;

typedef struct Backend {
    const char *name;
    PonderStatus (*init)(PonderContext *ctx, PonderError *err);
    void (*free)(PonderContext *ctx);
    PonderStatus (*forward)(PonderContext *ctx, const StepBatch *step, PonderError *err);
} Backend;

extern const Backend cpu_backend;

struct PonderContext {
    PonderModel *model;
    PonderContextParams params;
    uint32_t n_ctx;
    uint32_t n_seq;
    uint32_t max_step_tokens; // tokens per forward step (the prefill chunk)

    const Backend *backend;
    void *backend_state;
    ThreadPool *pool;

    // KV cache, [n_layer][n_seq][n_ctx][n_head_kv * head_dim] elements of kv_type.
    PonderType kv_type;
    uint64_t kv_row_bytes;  // one token's K (or V) row in one layer
    uint64_t kv_head_bytes; // one KV head's slice of such a row
    void *k_cache;
    void *v_cache;
    uint64_t kv_bytes;
    bool *seq_used;    // [n_seq]
    uint32_t *seq_len; // [n_seq]

    atomic_bool cancel_requested;
};

// Checked between layers by backends: true once cancellation was requested.
static inline bool context_cancelled(PonderContext *ctx)
{
    return atomic_load_explicit(&ctx->cancel_requested, memory_order_relaxed);
}
