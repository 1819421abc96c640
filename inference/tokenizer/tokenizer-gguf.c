// tokenizer_from_gguf: the tokenizer.ggml.* metadata of a GGUF file into a TokenizerSpec.
// The file is untrusted: every key is checked for its type, every array for its element
// type and length, every id for its range, and anything unexpected is refused by name.

#include "formats/gguf.h"
#include "tokenizer-internal.h"
#include "runtime/error-text.h"

#include <stdio.h>
#include <stdlib.h>

// The string array KEY (element pointers into the mapping), or false with a message.
static bool read_strings(const GgufFile *file, const char *key, uint32_t *count,
                         const char ***strings, size_t **lens, char *err, size_t err_size)
{
    const GgufKv *kv = gguf_find_kv(file, key);
    if (!kv || kv->type != GGUF_VALUE_ARRAY || kv->array_type != GGUF_VALUE_STRING) {
        ponder_failf(err, err_size, "%s: %s", key,
                     kv ? "not an array of strings" : "missing from the GGUF metadata");
        return false;
    }
    if (kv->array_count >= INT32_MAX) {
        ponder_failf(err, err_size, "%s: %llu entries is too many", key,
                     (unsigned long long)kv->array_count);
        return false;
    }
    *count = (uint32_t)kv->array_count;
    *strings = malloc((*count ? *count : 1) * sizeof **strings);
    *lens = malloc((*count ? *count : 1) * sizeof **lens);
    if (!*strings || !*lens) {
        ponder_failf(err, err_size, "%s: out of memory", key);
        return false;
    }
    for (uint32_t i = 0; i < *count; i++) {
        GgufString s;
        if (!gguf_array_string(kv, i, &s) || s.len > SIZE_MAX / 2) {
            ponder_failf(err, err_size, "%s: entry %u cannot be read", key, i);
            return false;
        }
        (*strings)[i] = s.data;
        (*lens)[i] = (size_t)s.len;
    }
    return true;
}

static bool read_token_types(const GgufFile *file, uint32_t n_tokens, int32_t **types, char *err,
                             size_t err_size)
{
    const char *key = "tokenizer.ggml.token_type";
    const GgufKv *kv = gguf_find_kv(file, key);
    if (!kv)
        return true; // optional: all tokens are normal
    if (kv->type != GGUF_VALUE_ARRAY || kv->array_count != n_tokens) {
        ponder_failf(err, err_size, "%s: not an array of %u entries (one per token)", key,
                     n_tokens);
        return false;
    }
    *types = malloc((n_tokens ? n_tokens : 1) * sizeof **types);
    if (!*types) {
        ponder_failf(err, err_size, "%s: out of memory", key);
        return false;
    }
    for (uint32_t i = 0; i < n_tokens; i++) {
        int64_t t;
        if (!gguf_array_i64(kv, i, &t) || t < TOKEN_TYPE_NORMAL || t > TOKEN_TYPE_BYTE) {
            ponder_failf(err, err_size, "%s: entry %u is not a token type (1..6)", key, i);
            return false;
        }
        (*types)[i] = (int32_t)t;
    }
    return true;
}

// An optional token id: -1 when absent; an error when present but not a valid id.
static bool read_token_id(const GgufFile *file, const char *key, uint32_t n_tokens, int32_t *id,
                          char *err, size_t err_size)
{
    *id = -1;
    if (!gguf_find_kv(file, key))
        return true;
    uint32_t v;
    if (!gguf_get_u32(file, key, &v) || v >= n_tokens) {
        ponder_failf(err, err_size, "%s: not a token id below %u", key, n_tokens);
        return false;
    }
    *id = (int32_t)v;
    return true;
}

Tokenizer *tokenizer_from_gguf(const struct GgufFile *file, char *err, size_t err_size)
{
    GgufString model, pre_name;
    char name[64];
    if (!gguf_get_string(file, "tokenizer.ggml.model", &model)) {
        ponder_failf(err, err_size, "tokenizer.ggml.model: missing or not a string");
        return NULL;
    }
    if (!gguf_string_equals(model, "gpt2")) {
        ponder_failf(err, err_size,
                     "tokenizer.ggml.model is \"%s\": only \"gpt2\" (byte-level BPE) "
                     "is supported",
                     gguf_string_copy(model, name, sizeof name));
        return NULL;
    }
    if (!gguf_get_string(file, "tokenizer.ggml.pre", &pre_name)) {
        ponder_failf(err, err_size, "tokenizer.ggml.pre: missing or not a string");
        return NULL;
    }
    TokenizerSpec spec = {0};
    if (gguf_string_equals(pre_name, "qwen2") || gguf_string_equals(pre_name, "deepseek-r1-qwen")) {
        spec.pre = TOKENIZER_PRE_QWEN2;
        spec.normalize_nfc = true;
    } else if (gguf_string_equals(pre_name, "deepseek-v3")) {
        spec.pre = TOKENIZER_PRE_DEEPSEEK_V3;
        spec.normalize_nfc = false;
    } else if (gguf_string_equals(pre_name, "llama-bpe") ||
               gguf_string_equals(pre_name, "llama3")) {
        spec.pre = TOKENIZER_PRE_LLAMA3;
        spec.normalize_nfc = false;
    } else {
        ponder_failf(err, err_size,
                     "tokenizer.ggml.pre \"%s\" is not supported (qwen2, deepseek-r1-qwen, "
                     "deepseek-v3, llama-bpe, llama3 are)",
                     gguf_string_copy(pre_name, name, sizeof name));
        return NULL;
    }

    const char **tokens = NULL, **merges = NULL;
    size_t *token_lens = NULL, *merge_lens = NULL;
    int32_t *types = NULL;
    Tokenizer *tok = NULL;
    uint32_t n_tokens = 0, n_merges = 0;
    if (!read_strings(file, "tokenizer.ggml.tokens", &n_tokens, &tokens, &token_lens, err,
                      err_size) ||
        !read_strings(file, "tokenizer.ggml.merges", &n_merges, &merges, &merge_lens, err,
                      err_size) ||
        !read_token_types(file, n_tokens, &types, err, err_size) ||
        !read_token_id(file, "tokenizer.ggml.bos_token_id", n_tokens, &spec.bos_id, err,
                       err_size) ||
        !read_token_id(file, "tokenizer.ggml.eos_token_id", n_tokens, &spec.eos_id, err, err_size))
        goto done;
    // Without the key, llama.cpp adds BOS for Llama 3 and not for Qwen2.
    spec.add_bos = spec.pre == TOKENIZER_PRE_LLAMA3;
    if (gguf_find_kv(file, "tokenizer.ggml.add_bos_token") &&
        !gguf_get_bool(file, "tokenizer.ggml.add_bos_token", &spec.add_bos)) {
        ponder_failf(err, err_size, "tokenizer.ggml.add_bos_token: not a bool");
        goto done;
    }
    if (spec.add_bos && spec.bos_id < 0) {
        ponder_failf(err, err_size, "tokenizer.ggml.add_bos_token is set but there is no BOS id");
        goto done;
    }
    spec.n_tokens = n_tokens;
    spec.tokens = tokens;
    spec.token_lens = token_lens;
    spec.token_types = types;
    spec.n_merges = n_merges;
    spec.merges = merges;
    spec.merge_lens = merge_lens;
    tok = tokenizer_new(&spec, err, err_size);
done:
    free(tokens);
    free(token_lens);
    free(merges);
    free(merge_lens);
    free(types);
    return tok;
}
