// Cuts a tiny vocabulary out of a full tokenizer's GGUF metadata (see synth-vocab.h).
#include "synth-vocab.h"

#include "formats/gguf.h"
#include "runtime/error-text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    BASE_TOKENS = 1024,  // the first ids: single bytes and the most frequent merges
    SPECIAL_TOKENS = 32, // BOS, EOS, the R1 chat markers, <think> ... come after
    ROW_MULTIPLE = 32,
    TOKEN_TYPE_NORMAL = 1,
    TOKEN_TYPE_UNUSED = 5, // llama.cpp's type for "[PAD<id>]" rows
};

static int compare_strings(const void *a, const void *b)
{
    const GgufString *x = a, *y = b;
    size_t n = x->len < y->len ? (size_t)x->len : (size_t)y->len;
    int c = memcmp(x->data, y->data, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static bool contains(const GgufString *sorted, size_t n, const char *data, size_t len)
{
    GgufString key = {data, len};
    return bsearch(&key, sorted, n, sizeof *sorted, compare_strings) != NULL;
}

typedef struct Cut {
    uint64_t n_source; // tokens in the full vocabulary
    uint64_t *kept;    // source ids, in order
    uint64_t n_kept;
    const char **text; // [n_rows]
    size_t *len;       // [n_rows]
    int32_t *type;     // [n_rows]
    char *pad_names;   // storage of the "[PAD<id>]" strings
    uint64_t n_rows;
    const char **merges; // kept merges
    size_t *merge_len;
    uint64_t n_merges;
} Cut;

static void cut_free(Cut *c)
{
    free(c->kept);
    free(c->text);
    free(c->len);
    free(c->type);
    free(c->pad_names);
    free(c->merges);
    free(c->merge_len);
}

static bool pick_tokens(Cut *c, const GgufKv *tokens, const GgufKv *types)
{
    c->n_source = tokens->array_count;
    c->kept = malloc((BASE_TOKENS + SPECIAL_TOKENS) * sizeof *c->kept);
    if (!c->kept)
        return false;
    int64_t type = TOKEN_TYPE_NORMAL;
    for (uint64_t id = 0; id < c->n_source && c->n_kept < BASE_TOKENS + SPECIAL_TOKENS; id++) {
        if (id >= BASE_TOKENS && (!gguf_array_i64(types, id, &type) || type == TOKEN_TYPE_NORMAL ||
                                  type == TOKEN_TYPE_UNUSED))
            continue;
        c->kept[c->n_kept++] = id;
    }
    c->n_rows = (c->n_kept + ROW_MULTIPLE - 1) / ROW_MULTIPLE * ROW_MULTIPLE;
    c->text = malloc(c->n_rows * sizeof *c->text);
    c->len = malloc(c->n_rows * sizeof *c->len);
    c->type = malloc(c->n_rows * sizeof *c->type);
    c->pad_names = malloc(ROW_MULTIPLE * 32);
    if (!c->text || !c->len || !c->type || !c->pad_names)
        return false;
    for (uint64_t i = 0; i < c->n_rows; i++) {
        if (i < c->n_kept) {
            GgufString s;
            gguf_array_string(tokens, c->kept[i], &s);
            c->text[i] = s.data;
            c->len[i] = (size_t)s.len;
            type = TOKEN_TYPE_NORMAL;
            gguf_array_i64(types, c->kept[i], &type);
            c->type[i] = (int32_t)type;
        } else {
            char *name = c->pad_names + (i - c->n_kept) * 32;
            c->len[i] = (size_t)snprintf(name, 32, "[PAD%llu]", (unsigned long long)i);
            c->text[i] = name;
            c->type[i] = TOKEN_TYPE_UNUSED;
        }
    }
    return true;
}

// A merge "a b" survives when a, b and ab are all kept ordinary tokens.
static bool pick_merges(Cut *c, const GgufKv *merges)
{
    uint64_t n_base = c->n_kept < BASE_TOKENS ? c->n_kept : BASE_TOKENS;
    GgufString *sorted = malloc((n_base ? n_base : 1) * sizeof *sorted);
    c->merges = malloc((merges->array_count ? merges->array_count : 1) * sizeof *c->merges);
    c->merge_len = malloc((merges->array_count ? merges->array_count : 1) * sizeof *c->merge_len);
    if (!sorted || !c->merges || !c->merge_len) {
        free(sorted);
        return false;
    }
    for (uint64_t i = 0; i < n_base; i++) {
        sorted[i].data = c->text[i];
        sorted[i].len = c->len[i];
    }
    qsort(sorted, (size_t)n_base, sizeof *sorted, compare_strings);
    char joined[512];
    GgufString m;
    for (uint64_t i = 0; gguf_array_string(merges, i, &m); i++) {
        const char *space = memchr(m.data, ' ', (size_t)m.len);
        if (!space || m.len > sizeof joined)
            continue;
        size_t left = (size_t)(space - m.data), right = (size_t)m.len - left - 1;
        memcpy(joined, m.data, left);
        memcpy(joined + left, space + 1, right);
        if (contains(sorted, n_base, m.data, left) && contains(sorted, n_base, space + 1, right) &&
            contains(sorted, n_base, joined, left + right)) {
            c->merges[c->n_merges] = m.data;
            c->merge_len[c->n_merges++] = (size_t)m.len;
        }
    }
    free(sorted);
    return true;
}

// Renumbers tokenizer.ggml.*_token_id keys to the cut vocabulary.
static bool remap_special_ids(GgufWriter *writer, const GgufFile *tokenizer, const Cut *c,
                              char *err, size_t err_size)
{
    static const char prefix[] = "tokenizer.ggml.", suffix[] = "_token_id";
    for (uint64_t i = 0; i < tokenizer->n_kv; i++) {
        const GgufKv *kv = &tokenizer->kv[i];
        char key[128];
        gguf_string_copy(kv->key, key, sizeof key);
        size_t n = strlen(key);
        if (strncmp(key, prefix, sizeof prefix - 1) != 0 || n < sizeof suffix ||
            strcmp(key + n - (sizeof suffix - 1), suffix) != 0 || kv->type == GGUF_VALUE_ARRAY ||
            kv->type == GGUF_VALUE_STRING)
            continue;
        uint64_t id = kv->value.u64, new_id = 0;
        while (new_id < c->n_kept && c->kept[new_id] != id)
            new_id++;
        if (new_id == c->n_kept)
            return ponder_failf(err, err_size, "%s %llu is not among the kept tokens", key,
                                (unsigned long long)id);
        gguf_writer_set_u32(writer, key, (uint32_t)new_id);
    }
    return true;
}

bool synth_vocab_cut(GgufWriter *writer, const GgufFile *tokenizer, uint64_t *n_rows, char *err,
                     size_t err_size)
{
    const GgufKv *tokens = gguf_find_kv(tokenizer, "tokenizer.ggml.tokens");
    const GgufKv *types = gguf_find_kv(tokenizer, "tokenizer.ggml.token_type");
    const GgufKv *merges = gguf_find_kv(tokenizer, "tokenizer.ggml.merges");
    if (!tokens || tokens->type != GGUF_VALUE_ARRAY || tokens->array_type != GGUF_VALUE_STRING ||
        !types || types->type != GGUF_VALUE_ARRAY || types->array_count != tokens->array_count ||
        !merges || merges->type != GGUF_VALUE_ARRAY || merges->array_type != GGUF_VALUE_STRING)
        return ponder_failf(err, err_size,
                            "tokenizer metadata lacks tokens, token types or merges");
    Cut c = {0};
    bool ok = pick_tokens(&c, tokens, types) && pick_merges(&c, merges);
    if (!ok) {
        cut_free(&c);
        return ponder_failf(err, err_size, "out of memory cutting the vocabulary");
    }
    gguf_writer_copy_kv(writer, tokenizer);
    gguf_writer_set_array_strings(writer, "tokenizer.ggml.tokens", c.text, c.len, c.n_rows);
    gguf_writer_set_array_i32(writer, "tokenizer.ggml.token_type", c.type, c.n_rows);
    gguf_writer_set_array_strings(writer, "tokenizer.ggml.merges", c.merges, c.merge_len,
                                  c.n_merges);
    ok = remap_special_ids(writer, tokenizer, &c, err, err_size);
    *n_rows = c.n_rows;
    cut_free(&c);
    return ok;
}
