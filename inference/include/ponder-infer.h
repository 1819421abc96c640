// Ponder's inference library: quantized DeepSeek-R1 distills (qwen2 / llama GGUF files)
// on the CPU (and, as modules, CUDA / Vulkan).
//
// A model is loaded once (weights stay in the mapped file); a context holds the run
// state for up to n_seq sequences, each with its own KV cache slots, so that several
// conversations can be stepped at once and the next turn of a conversation only
// prefills its new tokens. Nothing here prints, exits or aborts: every failure returns
// a status and a message in PonderError.
//
// Below the model and context: the tokenizer, the R1 chat format and the sampler, which
// the app uses on their own (ponder_model_tokenizer() gives a model's tokenizer). This
// header is the library's whole public interface; it includes nothing of inference/.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

// ---- Tokenizer (byte-level BPE; ponder_model_tokenizer() gives the model's) -------------

typedef struct Tokenizer Tokenizer;

uint32_t tokenizer_vocab_size(const Tokenizer *tok);
int32_t tokenizer_bos(const Tokenizer *tok);
int32_t tokenizer_eos(const Tokenizer *tok);
bool tokenizer_add_bos(const Tokenizer *tok);
// Whether the chat format's generation prompt opens the reasoning ("<｜Assistant｜><think>\n",
// the R1 distills; the default) or leaves "<think>" to the model (R1-0528). Set by the
// model loader from chat_format_detect() (the chat format owns the rule).
bool tokenizer_generation_opens_think(const Tokenizer *tok);
// The id of the token whose (byte-level) text is TEXT exactly, or -1. Used to find the
// chat markers by their text, never by fixed ids.
int32_t tokenizer_find(const Tokenizer *tok, const char *text);
// The token's text in byte-level form as stored in the vocabulary (NUL-terminated).
const char *tokenizer_token_text(const Tokenizer *tok, int32_t id);

// Tokenizes TEXT[0..len). With ALLOW_SPECIAL, added tokens (CONTROL/USER_DEFINED) are
// matched in the text as Hugging Face does; without it all text is plain. No BOS is
// added here (callers prepend tokenizer_bos() when they want one).
// Returns the number of ids written to *OUT (malloc'd; caller frees), or -1 on error.
int64_t tokenizer_encode(const Tokenizer *tok, const char *text, size_t len, bool allow_special,
                         int32_t **out);

// Raw bytes of token ID (byte-level mapping undone; added tokens give their text).
// Returns the byte count written to OUT (up to out_size), or -1 for an invalid id.
int tokenizer_token_bytes(const Tokenizer *tok, int32_t id, char *out, size_t out_size);

// The longest token's byte length, counting each byte of a token that is not valid
// UTF-8 on its own as the 3 bytes of the U+FFFD it may decode to (so buffers sized from
// it fit both tokenizer_token_bytes and token_decoder_push).
size_t tokenizer_max_token_bytes(const Tokenizer *tok);

// Streaming-safe decoding: bytes of a token that ends inside a UTF-8 sequence are held
// back until the sequence completes; invalid bytes become U+FFFD.
typedef struct TokenDecoder {
    char pending[8];
    size_t n_pending;
} TokenDecoder;

void token_decoder_init(TokenDecoder *dec);
// Appends the text completed by token ID to OUT; OUT_SIZE must be at least
// tokenizer_max_token_bytes(tok) + 16. Returns the bytes written, or -1 for an invalid id.
int token_decoder_push(TokenDecoder *dec, const Tokenizer *tok, int32_t id, char *out,
                       size_t out_size);
// Flushes held-back bytes at the end of the stream (incomplete ones become U+FFFD).
int token_decoder_finish(TokenDecoder *dec, char *out, size_t out_size);
// Decodes a whole id sequence into a malloc'd NUL-terminated string.
char *tokenizer_decode(const Tokenizer *tok, const int32_t *ids, size_t n);

// ---- The chat format ------------------------------------------------------------------
// The DeepSeek-R1 chat format, written in C (no template engine), and the streaming
// parser that splits R1's reasoning from its answer.
//
//   <｜begin▁of▁sentence｜>{system}<｜User｜>{user}<｜Assistant｜>{answer}<｜end▁of▁sentence｜>
//   ...<｜User｜>{last user}<｜Assistant｜><think>\n      (the generation prompt)
//
// Two variants, chosen per file (chat_format_detect): the R1 distills (Qwen2.5/Llama based)
// force the reasoning open with "<think>\n"; R1-0528 (DeepSeek-R1-0528-Qwen3-8B) ends the
// generation prompt at "<｜Assistant｜>" and the model writes its own "<think>".
//
// Earlier assistant turns go back without their reasoning (only the text after the last
// "</think>"). Marker tokens are looked up by their text in the vocabulary, never by id,
// and user/system/assistant text is always tokenized as plain text.

typedef enum ChatRole { CHAT_ROLE_SYSTEM, CHAT_ROLE_USER, CHAT_ROLE_ASSISTANT } ChatRole;

typedef struct ChatMessage {
    ChatRole role;
    const char *text; // NUL-terminated UTF-8
} ChatMessage;

typedef struct ChatMarkers {
    int32_t bos, eos, user, assistant, think, end_think;
} ChatMarkers;

typedef enum ChatFormat {
    CHAT_FORMAT_R1,      // generation prompt "<｜Assistant｜><think>\n"
    CHAT_FORMAT_R1_0528, // generation prompt "<｜Assistant｜>"; the model opens "<think>"
} ChatFormat;

// The format a file asks for, from its chat template (TEMPLATE, may be NULL) and
// architecture: a template whose generation prompt is "<｜Assistant｜><think>" is R1; one
// with R1's markers but a bare "<｜Assistant｜>" is R1-0528; without a template, qwen3 files
// (the only R1 on qwen3 is R1-0528) are R1-0528 and others R1. Files whose vocabulary lacks
// R1's markers (plain Qwen3's ChatML) fail later in chat_find_markers with the reason.
ChatFormat chat_format_detect(const char *arch, const char *template_text);
// Why a file with chat template TEMPLATE_TEXT cannot be chatted with (a template in another
// model family's format, such as plain Qwen3's ChatML without R1's markers), or NULL. For
// listing files before they are loaded; chat_find_markers gives the same verdict after.
const char *chat_template_unsupported_reason(const char *template_text);

// Finds the R1 markers in TOK's vocabulary. False (with a message) if one is missing.
bool chat_find_markers(const Tokenizer *tok, ChatMarkers *out, char *err, size_t err_size);

// Builds the prompt token ids for MESSAGES as the published template does: the LAST
// system message's text goes right after BOS (earlier ones are dropped: the template
// assigns, it does not concatenate), then each user/assistant message in order (an
// assistant message with NULL text is skipped, like content none). When
// ADD_GENERATION_PROMPT is set the prompt ends in "<｜Assistant｜><think>\n", or in
// "<｜Assistant｜>" where TOK's file uses R1-0528's format (tokenizer_generation_opens_think).
// Returns the count (ids malloc'd in *OUT), or -1 with a message.
int64_t chat_build_prompt(const Tokenizer *tok, const ChatMessage *messages, size_t n_messages,
                          bool add_generation_prompt, int32_t **out, char *err, size_t err_size);

// The text R1 sees of an earlier answer: everything after the last "</think>" (the whole
// text when there is none), as the template's split('</think>')[-1] gives it: leading
// whitespace is kept (trim it for display, not for the prompt). Returns a pointer into TEXT.
const char *chat_strip_reasoning(const char *text);

// Streaming splitter of generated text into reasoning and answer. With the R1 format
// generation starts inside the reasoning (the prompt ends in "<think>\n"); "</think>"
// (which may arrive split across pushes, or as its own token) switches to the answer. A
// "<think>" at the very start is tolerated and dropped. With R1-0528's format the model
// opens the reasoning itself: output that starts with "<think>" is reasoning until
// "</think>", output that does not is all answer.
typedef enum ReasoningPhase { REASONING_PHASE_THINKING, REASONING_PHASE_ANSWER } ReasoningPhase;

typedef struct ReasoningParser {
    ReasoningPhase phase;
    char held[16]; // a possible partial tag, held back until it is resolved
    size_t n_held;
    bool seen_text;
    bool answer_unless_think; // R1-0528: no opening "<think>" means no reasoning
} ReasoningParser;

typedef void (*ReasoningEmit)(void *user, ReasoningPhase phase, const char *text, size_t len);

void reasoning_parser_init(ReasoningParser *p);
// For the format of TOK's file (tokenizer_generation_opens_think).
void reasoning_parser_init_for(ReasoningParser *p, const Tokenizer *tok);
// Feeds decoded text; calls EMIT zero or more times with text for each phase.
void reasoning_parser_push(ReasoningParser *p, const char *text, size_t len, ReasoningEmit emit,
                           void *user);
// End of generation: flushes held text. Returns true when the output ended while still
// inside the reasoning (an answer cut off in its thinking).
bool reasoning_parser_finish(ReasoningParser *p, ReasoningEmit emit, void *user);

// ---- Sampling ---------------------------------------------------------------------------
// Token sampling: greedy, temperature, top-k, top-p, min-p, and repetition / presence /
// frequency penalties, with a seeded RNG (same seed and logits, same choices).

typedef struct SamplerParams {
    float temperature;        // <= 0 means greedy
    int32_t top_k;            // <= 0: off
    float top_p;              // >= 1: off
    float min_p;              // <= 0: off
    float repetition_penalty; // 1: off (CTRL-style: divide positive logits, multiply negative)
    float presence_penalty;   // 0: off
    float frequency_penalty;  // 0: off
    int32_t penalty_last_n;   // how many recent tokens the penalties look at (-1: all)
    uint64_t seed;
} SamplerParams;

// DeepSeek's recommendation for R1: temperature 0.6, top-p 0.95; no other filters.
SamplerParams sampler_default_params(void);

typedef struct Sampler Sampler;

Sampler *sampler_new(const SamplerParams *params, int32_t n_vocab);
void sampler_free(Sampler *s);
// Records a token (prompt or generated) for the penalties.
void sampler_accept(Sampler *s, int32_t token);
void sampler_reset(Sampler *s);
// Chooses the next token from LOGITS[0..n_vocab) (not modified).
int32_t sampler_sample(Sampler *s, const float *logits);

// Index of the largest logit (lowest index on ties).
int32_t sampler_argmax(const float *logits, int32_t n);

// ---- Models and contexts ----------------------------------------------------------------

typedef struct PonderModel PonderModel;
typedef struct PonderContext PonderContext;

typedef struct PonderModelInfo {
    const char *architecture; // "qwen2", "qwen3" or "llama"
    const char *name;         // general.name, or the file name
    const char *file_type; // "Q4_K_M", "F16"… (from general.file_type, else the most common type)
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

// ---- Files before loading: what the header says, what a context will need ---------------

// Read from the header and tensor table only (no weights, no tokenizer), for listing files.
typedef struct PonderModelProbe {
    char architecture[32]; // general.architecture; "" when missing
    char name[256];        // general.name; "" when missing
    char file_type[32];    // "Q4_K_M"...: general.file_type, else the type of most matrix bytes
    uint32_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff; // 0 when unusable
    uint32_t n_vocab;                                            // rows of token_embd.weight
    uint32_t n_ctx_train;            // <architecture>.context_length; 0 when the file does not say
    uint64_t n_params, tensor_bytes; // of this file (one part of a split set: of that part)
    // Why Ponder cannot run the file, in the loader's words ("" when the header shows no
    // reason): an architecture it does not run, a missing key, another family's template.
    char unusable[512];
} PonderModelProbe;

// PONDER_ERR_FORMAT (with gguf's message) when PATH is not a readable GGUF file; a valid
// file that cannot run is PONDER_OK with out->unusable set.
PonderStatus ponder_model_probe(const char *path, PonderModelProbe *out, PonderError *err);

// The bytes a model needs for one sequence of N_CTX tokens (0: the trained context) with
// KV_TYPE: weights as stored, K and V of every layer, and a scratch allowance (the CUDA
// runtime and cuBLAS workspace, one prefill step's buffers). A planning number for "will
// it fit", not a backend's exact allocation. False when the probe has no layer sizes.
typedef struct PonderMemoryEstimate {
    uint64_t weights, kv_cache, scratch, total;
} PonderMemoryEstimate;
bool ponder_estimate_memory(const PonderModelProbe *probe, uint32_t n_ctx, PonderKvType kv_type,
                            PonderMemoryEstimate *out, PonderError *err);

// Average bits per weight of llama.cpp's named mixes ("Q4_K_M": 4.85), for sizing a file
// before it is downloaded; 0 for a name it does not know.
double ponder_file_type_bits_per_weight(const char *file_type);

// The context a conversation gets: REQUESTED when not 0, else the model's trained length
// (N_CTX_TRAIN, 4096 when unknown) capped at 8192. The one rule for the engine, the API and
// the window.
uint32_t ponder_context_length(uint32_t requested, uint32_t n_ctx_train);

// Called from the thread running ponder_decode during long prefills.
typedef void (*PonderProgress)(void *user, uint64_t done_tokens, uint64_t total_tokens);

typedef struct PonderContextParams {
    uint32_t n_ctx;     // tokens per sequence; 0: ponder_context_length(0, model maximum)
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
