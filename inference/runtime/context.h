// The run state of a model: sequences (which slots are in use, how long each is), the CPU
// thread pool, and the backend that runs forward steps. The backend owns the KV cache:
// the CPU backend a host cache of every layer, a GPU backend a device cache of the layers
// on the GPU and, through the CPU forward pass (cpu/forward-cpu.h), a host cache of only
// the layers it leaves to the CPU. ponder_decode (context.c) splits the caller's entries
// into steps; a backend runs one step at a time.
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

// Bytes of KV cache a backend allocated for a context.
typedef struct KvBytes {
    uint64_t host;   // the layers the CPU runs
    uint64_t device; // the layers the GPU runs, in its memory
} KvBytes;

typedef struct Backend {
    const char *name;
    PonderStatus (*init)(PonderContext *ctx, PonderError *err);
    void (*free)(PonderContext *ctx);
    PonderStatus (*forward)(PonderContext *ctx, const StepBatch *step, PonderError *err);
    KvBytes (*kv_bytes)(const PonderContext *ctx);
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

    PonderType kv_type; // of the KV cache on the CPU (CUDA's is fp16, Vulkan's this one)
    bool *seq_used;     // [n_seq]
    uint32_t *seq_len;  // [n_seq]

    atomic_bool cancel_requested;
};

// What the context's backend allocated (ponder_context_kv_bytes is the sum).
KvBytes context_kv_bytes(const PonderContext *ctx);

// Checked between layers by backends: true once cancellation was requested.
static inline bool context_cancelled(PonderContext *ctx)
{
    return atomic_load_explicit(&ctx->cancel_requested, memory_order_relaxed);
}
