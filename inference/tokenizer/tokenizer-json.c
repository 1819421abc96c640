// tokenizer_from_json: a Hugging Face tokenizer.json (+ tokenizer_config.json) into a
// TokenizerSpec. Only the two byte-level BPE set-ups of the R1 distills are accepted;
// anything else is refused by name rather than tokenized differently from Hugging Face.

#include "formats/json.h"
#include "tokenizer-internal.h"
#include "runtime/error-text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The Split regexes of Qwen2 and Llama 3 (pretokenize.c implements them).
static const char QWEN2_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// DeepSeek-V3's three Split steps, in order (CR and LF are literal characters there).
static const char *const DEEPSEEK_V3_PATTERNS[3] = {
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}"
    "\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};
static const char LLAMA3_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static bool type_is(const JsonValue *v, const char *type)
{
    const char *t = json_get_string(v, "type", NULL);
    return t && strcmp(t, type) == 0;
}

// The steps of a "Sequence" (under KEY), or V itself as a one-step list.
static const JsonValue *steps_of(const JsonValue *v, const char *key, size_t *count)
{
    const JsonValue *steps = type_is(v, "Sequence") ? json_get(v, key) : NULL;
    if (steps && steps->type == JSON_ARRAY) {
        *count = steps->count;
        return steps->items;
    }
    *count = v && v->type == JSON_OBJECT ? 1 : 0;
    return v;
}

static bool read_pre_tokenizer(const JsonValue *root, TokenizerPre *pre, char *err, size_t err_size)
{
    size_t n;
    const JsonValue *steps = steps_of(json_get(root, "pre_tokenizer"), "pretokenizers", &n);
    const char *pattern = NULL;
    const char *patterns[3] = {NULL, NULL, NULL};
    size_t n_patterns = 0;
    bool byte_level = false;
    for (size_t i = 0; i < n; i++) {
        if (type_is(&steps[i], "Split")) {
            pattern = json_get_string(json_get(&steps[i], "pattern"), "Regex", NULL);
            if (n_patterns < 3)
                patterns[n_patterns] = pattern;
            n_patterns++;
            const char *behavior = json_get_string(&steps[i], "behavior", "");
            if (!pattern || strcmp(behavior, "Isolated") != 0 ||
                json_get_bool(&steps[i], "invert", false)) {
                ponder_failf(err, err_size, "unsupported Split pre-tokenizer (behavior \"%s\")",
                             behavior);
                return false;
            }
        } else if (type_is(&steps[i], "ByteLevel") &&
                   !json_get_bool(&steps[i], "use_regex", true) &&
                   !json_get_bool(&steps[i], "add_prefix_space", false)) {
            byte_level = true;
        } else {
            ponder_failf(err, err_size, "unsupported pre-tokenizer step \"%s\"",
                         json_get_string(&steps[i], "type", "?"));
            return false;
        }
    }
    if (!pattern || !byte_level) {
        ponder_failf(err, err_size, "the pre-tokenizer is not a Split regex followed by ByteLevel");
        return false;
    }
    bool deepseek_v3 = n_patterns == 3;
    for (size_t i = 0; deepseek_v3 && i < 3; i++)
        deepseek_v3 = patterns[i] && strcmp(patterns[i], DEEPSEEK_V3_PATTERNS[i]) == 0;
    if (deepseek_v3)
        *pre = TOKENIZER_PRE_DEEPSEEK_V3;
    else if (n_patterns != 1) {
        ponder_failf(err, err_size, "unsupported pre-tokenizer: %zu Split steps", n_patterns);
        return false;
    } else if (strcmp(pattern, QWEN2_PATTERN) == 0)
        *pre = TOKENIZER_PRE_QWEN2;
    else if (strcmp(pattern, LLAMA3_PATTERN) == 0)
        *pre = TOKENIZER_PRE_LLAMA3;
    else {
        ponder_failf(err, err_size, "unsupported pre-tokenizer regex: %.200s", pattern);
        return false;
    }
    return true;
}

static bool read_normalizer(const JsonValue *root, bool *nfc, char *err, size_t err_size)
{
    size_t n;
    const JsonValue *steps = steps_of(json_get(root, "normalizer"), "normalizers", &n);
    *nfc = false;
    for (size_t i = 0; i < n; i++) {
        if (!type_is(&steps[i], "NFC")) {
            ponder_failf(err, err_size, "unsupported normalizer \"%s\"",
                         json_get_string(&steps[i], "type", "?"));
            return false;
        }
        *nfc = true;
    }
    return true;
}

// A special token named in tokenizer_config.json: a string or {"content": ...}.
static const char *config_token(const JsonValue *config, const char *key)
{
    const JsonValue *v = json_get(config, key);
    if (v && v->type == JSON_OBJECT)
        return json_get_string(v, "content", NULL);
    return v && v->type == JSON_STRING ? v->string : NULL;
}

// The token the post-processor puts first in a single sequence (Hugging Face's way of
// adding BOS when tokenizer_config.json does not say add_bos_token), or NULL.
static const char *template_first_special(const JsonValue *root)
{
    size_t n;
    const JsonValue *steps = steps_of(json_get(root, "post_processor"), "processors", &n);
    for (size_t i = 0; i < n; i++) {
        if (!type_is(&steps[i], "TemplateProcessing"))
            continue;
        const JsonValue *first = json_at(json_get(&steps[i], "single"), 0);
        return json_get_string(json_get(first, "SpecialToken"), "id", NULL);
    }
    return NULL;
}

typedef struct JsonVocab {
    uint32_t n_tokens;
    const char **tokens;
    size_t *lens;
    int32_t *types;
    uint32_t n_merges;
    const char **merges;
    size_t *merge_lens;
    char *merge_text; // "left right" strings built from ["left", "right"] pairs
} JsonVocab;

static void vocab_free(JsonVocab *v)
{
    free(v->tokens);
    free(v->lens);
    free(v->types);
    free(v->merges);
    free(v->merge_lens);
    free(v->merge_text);
}

static bool read_id(const JsonValue *v, const char *what, int64_t *id, char *err, size_t err_size)
{
    if (!v || v->type != JSON_NUMBER || !v->number_is_integer || v->integer < 0 ||
        v->integer >= INT32_MAX - 1) {
        ponder_failf(err, err_size, "%s: the id is not an integer in range", what);
        return false;
    }
    *id = v->integer;
    return true;
}

static bool read_tokens(const JsonValue *vocab, const JsonValue *added, JsonVocab *out, char *err,
                        size_t err_size)
{
    int64_t max_id = -1, id;
    for (size_t i = 0; i < vocab->count; i++) {
        if (!read_id(&vocab->items[i], vocab->keys[i], &id, err, err_size))
            return false;
        max_id = id > max_id ? id : max_id;
    }
    for (size_t i = 0; added && i < added->count; i++) {
        const char *content = json_get_string(&added->items[i], "content", NULL);
        if (!content) {
            ponder_failf(err, err_size, "added token %zu has no content", i);
            return false;
        }
        if (!read_id(json_get(&added->items[i], "id"), content, &id, err, err_size))
            return false;
        max_id = id > max_id ? id : max_id;
    }
    // Ids past the model vocabulary (the added tokens) extend it; gaps stay unused.
    out->n_tokens = (uint32_t)(max_id + 1);
    out->tokens = calloc(out->n_tokens ? out->n_tokens : 1, sizeof *out->tokens);
    out->lens = calloc(out->n_tokens ? out->n_tokens : 1, sizeof *out->lens);
    out->types = malloc((out->n_tokens ? out->n_tokens : 1) * sizeof *out->types);
    if (!out->tokens || !out->lens || !out->types) {
        ponder_failf(err, err_size, "out of memory");
        return false;
    }
    for (uint32_t i = 0; i < out->n_tokens; i++)
        out->types[i] = TOKEN_TYPE_UNUSED;
    for (size_t i = 0; i < vocab->count; i++) {
        id = vocab->items[i].integer;
        if (out->tokens[id]) {
            ponder_failf(err, err_size, "id %lld is given to two tokens", (long long)id);
            return false;
        }
        out->tokens[id] = vocab->keys[i];
        out->lens[id] = vocab->key_lens[i];
        out->types[id] = TOKEN_TYPE_NORMAL;
    }
    // An added token may repeat a vocabulary entry (same id); it then becomes added.
    for (size_t i = 0; added && i < added->count; i++) {
        const JsonValue *a = &added->items[i];
        id = json_get(a, "id")->integer;
        const JsonValue *content = json_get(a, "content");
        out->tokens[id] = content->string;
        out->lens[id] = content->string_len;
        out->types[id] =
            json_get_bool(a, "special", false) ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_USER_DEFINED;
    }
    for (uint32_t i = 0; i < out->n_tokens; i++)
        if (!out->tokens[i])
            out->tokens[i] = "";
    return true;
}

// Merges as "left right" strings (Llama) or ["left", "right"] pairs (Qwen).
static bool read_merges(const JsonValue *merges, JsonVocab *out, char *err, size_t err_size)
{
    size_t n = merges ? merges->count : 0, pair_bytes = 0;
    if (merges && merges->type != JSON_ARRAY) {
        ponder_failf(err, err_size, "model.merges is not an array");
        return false;
    }
    if (n > INT32_MAX) {
        ponder_failf(err, err_size, "too many merges");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const JsonValue *m = &merges->items[i];
        if (m->type == JSON_STRING)
            continue;
        if (m->type != JSON_ARRAY || m->count != 2 || m->items[0].type != JSON_STRING ||
            m->items[1].type != JSON_STRING) {
            ponder_failf(err, err_size, "merge %zu is neither \"a b\" nor [\"a\", \"b\"]", i);
            return false;
        }
        pair_bytes += m->items[0].string_len + m->items[1].string_len + 1;
    }
    out->n_merges = (uint32_t)n;
    out->merges = malloc((n ? n : 1) * sizeof *out->merges);
    out->merge_lens = malloc((n ? n : 1) * sizeof *out->merge_lens);
    out->merge_text = malloc(pair_bytes ? pair_bytes : 1);
    if (!out->merges || !out->merge_lens || !out->merge_text) {
        ponder_failf(err, err_size, "out of memory");
        return false;
    }
    char *w = out->merge_text;
    for (size_t i = 0; i < n; i++) {
        const JsonValue *m = &merges->items[i];
        if (m->type == JSON_STRING) {
            out->merges[i] = m->string;
            out->merge_lens[i] = m->string_len;
            continue;
        }
        const JsonValue *l = &m->items[0], *r = &m->items[1];
        out->merges[i] = w;
        memcpy(w, l->string, l->string_len);
        w[l->string_len] = ' ';
        memcpy(w + l->string_len + 1, r->string, r->string_len);
        out->merge_lens[i] = l->string_len + 1 + r->string_len;
        w += out->merge_lens[i];
    }
    return true;
}

// The id of the token whose text is TEXT, or -1.
static int32_t find_token(const JsonVocab *v, const char *text)
{
    if (!text)
        return -1;
    size_t n = strlen(text);
    for (uint32_t i = 0; i < v->n_tokens; i++)
        if (v->lens[i] == n && memcmp(v->tokens[i], text, n) == 0)
            return (int32_t)i;
    return -1;
}

static Tokenizer *build(const JsonValue *root, const JsonValue *config, char *err, size_t err_size)
{
    const JsonValue *model = json_get(root, "model");
    if (!type_is(model, "BPE")) {
        ponder_failf(err, err_size, "model type \"%s\" is not BPE",
                     json_get_string(model, "type", "?"));
        return NULL;
    }
    if (json_get_bool(model, "byte_fallback", false)) {
        ponder_failf(err, err_size, "BPE with byte_fallback is not supported");
        return NULL;
    }
    TokenizerSpec spec = {.bos_id = -1, .eos_id = -1};
    if (!read_pre_tokenizer(root, &spec.pre, err, err_size) ||
        !read_normalizer(root, &spec.normalize_nfc, err, err_size))
        return NULL;
    // tokenizer.c ties ignore_merges to the Llama 3 pre-tokenizer, as llama.cpp does.
    if (json_get_bool(model, "ignore_merges", false) != (spec.pre == TOKENIZER_PRE_LLAMA3)) {
        ponder_failf(err, err_size, "ignore_merges = %s with this pre-tokenizer is not supported",
                     json_get_bool(model, "ignore_merges", false) ? "true" : "false");
        return NULL;
    }
    const JsonValue *vocab = json_get(model, "vocab");
    const JsonValue *added = json_get(root, "added_tokens");
    if (!vocab || vocab->type != JSON_OBJECT || (added && added->type != JSON_ARRAY)) {
        ponder_failf(err, err_size, "model.vocab (an object) or added_tokens (an array) missing");
        return NULL;
    }
    JsonVocab v = {0};
    Tokenizer *tok = NULL;
    if (read_tokens(vocab, added, &v, err, err_size) &&
        read_merges(json_get(model, "merges"), &v, err, err_size)) {
        spec.n_tokens = v.n_tokens;
        spec.tokens = v.tokens;
        spec.token_lens = v.lens;
        spec.token_types = v.types;
        spec.n_merges = v.n_merges;
        spec.merges = v.merges;
        spec.merge_lens = v.merge_lens;
        const char *first_special = template_first_special(root);
        const char *bos = config_token(config, "bos_token");
        spec.bos_id = find_token(&v, bos ? bos : first_special);
        spec.eos_id = find_token(&v, config_token(config, "eos_token"));
        spec.add_bos = json_get_bool(config, "add_bos_token",
                                     first_special && spec.bos_id >= 0 &&
                                         spec.bos_id == find_token(&v, first_special));
        tok = tokenizer_new(&spec, err, err_size);
    }
    vocab_free(&v);
    return tok;
}

Tokenizer *tokenizer_from_json(const char *tokenizer_json_path, const char *config_json_path,
                               char *err, size_t err_size)
{
    JsonValue *root = json_parse_file(tokenizer_json_path, err, err_size);
    if (!root)
        return NULL;
    JsonValue *config = NULL;
    if (config_json_path && !(config = json_parse_file(config_json_path, err, err_size))) {
        json_free(root);
        return NULL;
    }
    char inner[512] = "";
    Tokenizer *tok = build(root, config, inner, sizeof inner);
    if (!tok)
        ponder_failf(err, err_size, "%s: %s", tokenizer_json_path, inner);
    json_free(config);
    json_free(root);
    return tok;
}
