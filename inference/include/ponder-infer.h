// Ponder's inference library: quantized DeepSeek-R1 distills (qwen2 / llama GGUF files)
// on the CPU (and, as modules, CUDA / Vulkan).
//
// A model is loaded once (weights stay in the mapped file); a context holds the run
// state for up to n_seq sequences, each with its own KV cache slots, so that several
// conversations can be stepped at once and the next turn of a conversation only
// prefills its new tokens. Nothing here prints, exits or aborts: every failure returns
// a status and a message in PonderError.
//
// The tokenizer, the R1 chat format and the sampler are small headers of their own
// (tokenizer.h, chat.h, sampler.h); ponder_model_tokenizer() gives the model's.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/chat.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum PonderStatus {
    PONDER_OK = 0,
    PONDER_ERR_IO,           // file could not be read or written
    PONDER_ERR_FORMAT,       // malformed or hostile file
    PONDER_ERR_UNSUPPORTED,  // valid file, but an architecture/type we don't run
    PONDER_ERR_NO_MEMORY,    // host or device memory exhausted (message has the numbers)
    PONDER_ERR_CONTEXT_FULL, // the tokens do not fit in the context
    PONDER_ERR_CANCELLED,    // ponder_context_cancel() was called
    PONDER_ERR_INVALID,      // bad argument (unknown sequence, token id out of range…)
    PONDER_ERR_BACKEND,      // the backend failed (driver error…)
} PonderStatus;

typedef struct PonderError {
    PonderStatus status;
    char message[512];
} PonderError;

typedef enum PonderBackend {
    PONDER_BACKEND_CPU,
    PONDER_BACKEND_CUDA,
    PONDER_BACKEND_VULKAN,
} PonderBackend;

typedef enum PonderKvType {
    PONDER_KV_F32, // exact; what the reference tests use
    PONDER_KV_F16,
    PONDER_KV_Q8_0,
} PonderKvType;

typedef struct PonderModel PonderModel;
typedef struct PonderContext PonderContext;

typedef struct PonderModelInfo {
    const char *architecture; // "qwen2", "qwen3" or "llama"
    const char *name;         // general.name, or the file name
    const char *file_type;    // "Q4_K_M", "F16"… (from general.file_type, else the most common type)
    uint32_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff;
    uint32_t n_vocab;     // rows of the embedding (may exceed the tokenizer's tokens)
    uint32_t n_ctx_train; // the model's maximum context
    float rope_theta, rms_eps;
    bool tied_output; // no output.weight: the embedding is reused
    uint64_t n_params;
    uint64_t file_size;
    uint64_t tensor_bytes;
} PonderModelInfo;

PonderModel *ponder_model_load(const char *path, PonderError *err);
void ponder_model_free(PonderModel *model);
const PonderModelInfo *ponder_model_info(const PonderModel *model);
const Tokenizer *ponder_model_tokenizer(const PonderModel *model);
// The file's chat template text (data only, never executed), or NULL.
const char *ponder_model_chat_template(const PonderModel *model);

// Called from the thread running ponder_decode during long prefills.
typedef void (*PonderProgress)(void *user, uint64_t done_tokens, uint64_t total_tokens);

typedef struct PonderContextParams {
    uint32_t n_ctx;     // tokens per sequence; 0: min(model maximum, 4096)
    uint32_t n_seq;     // sequences that can be alive at once; 0: 1
    uint32_t n_threads; // CPU threads; 0: the number of online cores
    PonderBackend backend;
    int32_t gpu_layers; // layers kept on the GPU (-1: all)
    int32_t gpu_device; // which GPU of the backend (-1: the first, or $PONDER_CUDA_DEVICE)
    PonderKvType kv_type;
    uint32_t prefill_chunk; // tokens per forward step during prefill; 0: 256 (CPU), 512 (GPU)
    PonderProgress progress;
    void *progress_user;
} PonderContextParams;

PonderContextParams ponder_context_default_params(void);

PonderContext *ponder_context_new(PonderModel *model, const PonderContextParams *params,
                                  PonderError *err);
void ponder_context_free(PonderContext *ctx);
uint32_t ponder_context_n_ctx(const PonderContext *ctx);
uint32_t ponder_context_n_threads(const PonderContext *ctx);
// Bytes of KV cache this context allocated.
uint64_t ponder_context_kv_bytes(const PonderContext *ctx);

// Sequences: a slot of KV cache. Returns the id, or -1 when all slots are in use.
int32_t ponder_seq_new(PonderContext *ctx);
void ponder_seq_free(PonderContext *ctx, int32_t seq);
// Tokens currently in the sequence's KV cache.
uint32_t ponder_seq_length(const PonderContext *ctx, int32_t seq);
// Keeps the first N tokens (to re-use a shared prefix); N above the length is a no-op.
void ponder_seq_truncate(PonderContext *ctx, int32_t seq, uint32_t n);

// One entry per sequence to advance in a step: its new tokens are appended to its KV
// cache. LOGITS, when not NULL, receives n_vocab floats for the last token, or for every
// new token ([n_tokens][n_vocab]) with ALL_LOGITS.
typedef struct PonderBatchEntry {
    int32_t seq;
    const int32_t *tokens;
    uint32_t n_tokens;
    float *logits;
    bool all_logits;
} PonderBatchEntry;

// Runs the forward pass for all entries together (the GPU backends batch them; long
// prompts are processed in chunks, reporting progress and checking cancellation between
// chunks). On PONDER_ERR_CANCELLED the sequences keep the tokens already processed.
PonderStatus ponder_decode(PonderContext *ctx, const PonderBatchEntry *entries, size_t n_entries,
                           PonderError *err);

// Thread-safe: makes the running (or next) ponder_decode return PONDER_ERR_CANCELLED at
// its next chunk or layer boundary. Cleared when that call returns.
void ponder_context_cancel(PonderContext *ctx);

const char *ponder_backend_name(PonderBackend backend);
// The name users know for a general.file_type value ("Q4_K_M", "BF16"...), or NULL.
const char *ponder_file_type_name(uint32_t file_type);
const char *ponder_status_name(PonderStatus status);

#ifdef __cplusplus
}
#endif
