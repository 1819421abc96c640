// Byte-level BPE tokenizer (GPT-2 style), as used by DeepSeek-R1-Distill-Qwen (Qwen2
// pre-tokenizer) and R1-Distill-Llama (Llama-3 pre-tokenizer). Equal to Hugging Face
// `tokenizers` on the golden vectors in ../shared/tokenizers/.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

typedef struct Tokenizer Tokenizer;

Tokenizer *tokenizer_new(const TokenizerSpec *spec, char *err, size_t err_size);
// From GGUF metadata (tokenizer.ggml.*). Works on vocabulary-only files.
Tokenizer *tokenizer_from_gguf(const struct GgufFile *file, char *err, size_t err_size);
// From a Hugging Face tokenizer.json (+ optional tokenizer_config.json for add_bos).
Tokenizer *tokenizer_from_json(const char *tokenizer_json_path, const char *config_json_path,
                               char *err, size_t err_size);
void tokenizer_free(Tokenizer *tok);

uint32_t tokenizer_vocab_size(const Tokenizer *tok);
int32_t tokenizer_bos(const Tokenizer *tok);
int32_t tokenizer_eos(const Tokenizer *tok);
bool tokenizer_add_bos(const Tokenizer *tok);
TokenizerPre tokenizer_pre(const Tokenizer *tok);
// Whether the chat format's generation prompt opens the reasoning ("<｜Assistant｜><think>\n",
// the R1 distills; the default) or leaves "<think>" to the model (R1-0528). Set by the
// model loader from chat_format_detect() (chat.h owns the rule); read by chat.c.
bool tokenizer_generation_opens_think(const Tokenizer *tok);
void tokenizer_set_generation_opens_think(Tokenizer *tok, bool opens);
int32_t tokenizer_token_type(const Tokenizer *tok, int32_t id);
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
