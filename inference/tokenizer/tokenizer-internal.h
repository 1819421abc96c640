// The tokenizer's state, shared by tokenizer.c (tables, encoding) and
// tokenizer-decode.c (bytes of tokens, streaming decoder). Not a public header.
#pragma once

#include "tokenizer.h"

typedef struct MergeSlot {
    uint64_t key;   // left id << 32 | right id
    int32_t rank;   // -1: empty slot
    int32_t result; // id of the merged token
} MergeSlot;

struct Tokenizer {
    TokenizerPre pre;
    bool normalize_nfc;
    bool ignore_merges; // a piece that is a whole vocabulary entry skips BPE
    uint32_t n_tokens;
    int32_t *types;       // [n_tokens]
    char *texts;          // token texts as stored, each NUL-terminated
    size_t *text_offsets; // [n_tokens + 1]
    char *bytes;          // raw bytes of each token (byte-level mapping undone)
    size_t *byte_offsets; // [n_tokens + 1]
    size_t max_token_bytes;
    // Open-addressing hash tables.
    int32_t *index; // text -> id; -1 empty
    size_t index_mask;
    MergeSlot *merges; // (left, right) -> rank, result
    size_t merge_mask;
    uint32_t n_merges;        // usable rules
    int32_t byte_tokens[256]; // the single-byte token of each byte, or -1
    // Added tokens sorted by first byte, then longest first.
    int32_t *added_ids;
    size_t n_added;
    uint32_t added_by_first_byte[257]; // added_ids[k] for k in [a[b], a[b + 1]) start with b
    int32_t bos_id, eos_id;
    bool add_bos;
    bool generation_opens_think; // see tokenizer_generation_opens_think()
};

// Text of token ID (valid) and its length.
const char *tokenizer_text_of(const Tokenizer *tok, int32_t id, size_t *len);
// The byte that byte-level character CP stands for, or -1.
int tokenizer_char_to_byte(uint32_t cp);
// Raw bytes of a token's TEXT into OUT (room for LEN bytes): added tokens (RAW) and
// texts with characters outside the byte-level alphabet are copied as they are.
size_t tokenizer_text_to_bytes(const char *text, size_t len, bool raw, char *out);
// The most bytes the streaming decoder can write for BYTES (invalid UTF-8 -> U+FFFD).
size_t tokenizer_decoded_bound(const char *bytes, size_t n);
