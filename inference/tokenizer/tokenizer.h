// Byte-level BPE tokenizer (GPT-2 style), as used by DeepSeek-R1-Distill-Qwen (Qwen2
// pre-tokenizer) and R1-Distill-Llama (Llama-3 pre-tokenizer). Equal to Hugging Face
// `tokenizers` on the golden vectors in ../shared/tokenizers/.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ponder-infer.h" // the public half: encode, decode, markers

struct GgufFile;

typedef enum TokenizerPre {
    TOKENIZER_PRE_QWEN2,  // "qwen2", "deepseek-r1-qwen": \p{N} one digit at a time
    TOKENIZER_PRE_LLAMA3, // "llama-bpe": \p{N}{1,3}
    // "deepseek-v3": digit runs of 1-3, then CJK ideograph/kana runs, then its main split
    TOKENIZER_PRE_DEEPSEEK_V3,
} TokenizerPre;

// GGUF token types (tokenizer.ggml.token_type).
typedef enum TokenType {
    TOKEN_TYPE_NORMAL = 1,
    TOKEN_TYPE_UNKNOWN = 2,
    TOKEN_TYPE_CONTROL = 3,
    TOKEN_TYPE_USER_DEFINED = 4,
    TOKEN_TYPE_UNUSED = 5,
    TOKEN_TYPE_BYTE = 6,
} TokenType;

// Everything needed to build a tokenizer; strings are borrowed for the call only.
// Tokens are in byte-level form (e.g. "Ġthe"), merges are "left right" strings whose
// index is their rank. Tokens of type CONTROL or USER_DEFINED are the added tokens.
typedef struct TokenizerSpec {
    TokenizerPre pre;
    bool normalize_nfc;
    uint32_t n_tokens;
    const char *const *tokens;
    const size_t *token_lens;
    const int32_t *token_types; // may be NULL: all NORMAL
    uint32_t n_merges;
    const char *const *merges;
    const size_t *merge_lens;
    int32_t bos_id; // -1 if none
    int32_t eos_id; // -1 if none
    bool add_bos;
} TokenizerSpec;

Tokenizer *tokenizer_new(const TokenizerSpec *spec, char *err, size_t err_size);
// From GGUF metadata (tokenizer.ggml.*). Works on vocabulary-only files.
Tokenizer *tokenizer_from_gguf(const struct GgufFile *file, char *err, size_t err_size);
// From a Hugging Face tokenizer.json (+ optional tokenizer_config.json for add_bos).
Tokenizer *tokenizer_from_json(const char *tokenizer_json_path, const char *config_json_path,
                               char *err, size_t err_size);
void tokenizer_free(Tokenizer *tok);

TokenizerPre tokenizer_pre(const Tokenizer *tok);
// Set by the model loader from chat_format_detect(); read through
// tokenizer_generation_opens_think().
void tokenizer_set_generation_opens_think(Tokenizer *tok, bool opens);
int32_t tokenizer_token_type(const Tokenizer *tok, int32_t id);
