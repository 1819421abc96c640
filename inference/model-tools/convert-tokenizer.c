// Hugging Face tokenizer.json (+ tokenizer_config.json) -> tokenizer.ggml.* metadata,
// following the conventions of llama.cpp's converter for byte-level BPE ("gpt2") models:
// tokens by id in their byte-level spelling, gaps and padding as "[PAD<id>]" (unused),
// added tokens as control (special) or user-defined (not special), merges as "a b".
#include "convert-tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/json.h"
#include "model-files.h"
#include "runtime/error-text.h"

enum {
    TOKEN_NORMAL = 1,
    TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4,
    TOKEN_UNUSED = 5,
    MAX_TOKENS = 1 << 24, // far above any real vocabulary; bounds hostile ids
    MAX_TEMPLATE_BYTES = 1 << 20,
};

// The pre-tokenizer split regexes that tokenizer.ggml.pre names (as they appear in
// tokenizer.json after JSON unescaping). Qwen2's is also what R1-Distill-Qwen uses.
static const struct {
    const char *regex;
    const char *pre;
} KNOWN_PRE_TOKENIZERS[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
     "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "deepseek-r1-qwen"},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
     "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "llama-bpe"},
};

typedef struct TokenTable {
    uint64_t count;
    const char **text; // borrowed from the JSON tree or from pad_names
    size_t *len;
    int32_t *type;
    char *pad_names; // "[PAD<id>]" strings for the gaps, PAD_NAME_BYTES apart
} TokenTable;

enum { PAD_NAME_BYTES = 24 };

static void token_table_free(TokenTable *t)
{
    free(t->text);
    free(t->len);
    free(t->type);
    free(t->pad_names);
}

// json_get that also accepts NULL (an absent parent), so lookups chain.
static const JsonValue *member(const JsonValue *v, const char *key)
{
    return v && v->type == JSON_OBJECT ? json_get(v, key) : NULL;
}

static bool is_type(const JsonValue *v, const char *type)
{
    return v && v->type == JSON_OBJECT && strcmp(json_get_string(v, "type", ""), type) == 0;
}

static bool token_id(const JsonValue *v, int64_t *out)
{
    if (!v || v->type != JSON_NUMBER || !v->number_is_integer || v->integer < 0 ||
        v->integer >= MAX_TOKENS)
        return false;
    *out = v->integer;
    return true;
}

// Highest id in the vocabulary and added tokens, for sizing the table.
static bool scan_ids(const char *path, const JsonValue *vocab, const JsonValue *added,
                     uint64_t *count, char *err, size_t err_size)
{
    uint64_t n = 0;
    for (size_t i = 0; i < vocab->count; i++) {
        int64_t id;
        if (!token_id(&vocab->items[i], &id))
            return ponder_failf(err, err_size, "%s: model.vocab['%s'] is not an id in [0, %d)",
                                path, vocab->keys[i], MAX_TOKENS);
        if ((uint64_t)id + 1 > n)
            n = (uint64_t)id + 1;
    }
    for (size_t i = 0; added && i < added->count; i++) {
        const JsonValue *entry = &added->items[i];
        int64_t id;
        if (entry->type != JSON_OBJECT || !token_id(member(entry, "id"), &id) ||
            !member(entry, "content") || member(entry, "content")->type != JSON_STRING)
            return ponder_failf(
                err, err_size, "%s: added_tokens[%zu] needs an integer 'id' and a string 'content'",
                path, i);
        if ((uint64_t)id + 1 > n)
            n = (uint64_t)id + 1;
    }
    *count = n;
    return true;
}

static bool build_tokens(const char *path, const JsonValue *vocab, const JsonValue *added,
                         uint64_t min_tokens, TokenTable *t, char *err, size_t err_size)
{
    uint64_t n = 0;
    if (!scan_ids(path, vocab, added, &n, err, err_size))
        return false;
    if (min_tokens > MAX_TOKENS)
        return ponder_failf(err, err_size, "%s: %llu tokens requested (at most %d)", path,
                            (unsigned long long)min_tokens, MAX_TOKENS);
    if (min_tokens > n)
        n = min_tokens;
    if (n == 0)
        return ponder_failf(err, err_size, "%s: the vocabulary is empty", path);
    t->count = n;
    t->text = calloc(n, sizeof *t->text);
    t->len = calloc(n, sizeof *t->len);
    t->type = calloc(n, sizeof *t->type);
    if (!t->text || !t->len || !t->type)
        return ponder_failf(err, err_size, "%s: out of memory for %llu tokens", path,
                            (unsigned long long)n);
    for (size_t i = 0; i < vocab->count; i++) {
        uint64_t id = (uint64_t)vocab->items[i].integer;
        if (t->text[id])
            return ponder_failf(err, err_size,
                                "%s: model.vocab gives id %llu to both '%s' and '%s'", path,
                                (unsigned long long)id, t->text[id], vocab->keys[i]);
        t->text[id] = vocab->keys[i];
        t->len[id] = vocab->key_lens[i];
        t->type[id] = TOKEN_NORMAL;
    }
    // Added tokens win over a vocabulary entry with the same id (their text is the same
    // in practice; their type is what matters).
    for (size_t i = 0; added && i < added->count; i++) {
        const JsonValue *entry = &added->items[i];
        uint64_t id = (uint64_t)member(entry, "id")->integer;
        const JsonValue *content = member(entry, "content");
        t->text[id] = content->string;
        t->len[id] = content->string_len;
        t->type[id] = json_get_bool(entry, "special", false) ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
    }
    uint64_t n_gaps = 0;
    for (uint64_t id = 0; id < n; id++)
        n_gaps += t->text[id] == NULL;
    if (n_gaps) {
        t->pad_names = malloc(n_gaps * PAD_NAME_BYTES);
        if (!t->pad_names)
            return ponder_failf(err, err_size, "%s: out of memory", path);
        char *next = t->pad_names;
        for (uint64_t id = 0; id < n; id++) {
            if (t->text[id])
                continue;
            int len = snprintf(next, PAD_NAME_BYTES, "[PAD%llu]", (unsigned long long)id);
            t->text[id] = next;
            t->len[id] = (size_t)len;
            t->type[id] = TOKEN_UNUSED;
            next += PAD_NAME_BYTES;
        }
    }
    return true;
}

static bool valid_merge_part(const char *s, size_t len)
{
    return len > 0 && strlen(s) == len && !strchr(s, ' ');
}

// "a b" strings (Llama 3's file) or ["a", "b"] pairs (Qwen's) -> "a b" strings.
static bool write_merges(struct GgufWriter *writer, const char *path, const JsonValue *merges,
                         char *err, size_t err_size)
{
    size_t n = merges->count;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const JsonValue *m = &merges->items[i];
        bool ok;
        if (m->type == JSON_STRING) {
            const char *space = strchr(m->string, ' ');
            ok = space && space != m->string && strlen(m->string) == m->string_len &&
                 valid_merge_part(space + 1, m->string_len - (size_t)(space + 1 - m->string));
            total += m->string_len + 1;
        } else {
            ok = m->type == JSON_ARRAY && m->count == 2 && m->items[0].type == JSON_STRING &&
                 m->items[1].type == JSON_STRING &&
                 valid_merge_part(m->items[0].string, m->items[0].string_len) &&
                 valid_merge_part(m->items[1].string, m->items[1].string_len);
            if (ok)
                total += m->items[0].string_len + m->items[1].string_len + 2;
        }
        if (!ok)
            return ponder_failf(
                err, err_size,
                "%s: model.merges[%zu] is not \"a b\" or [\"a\", \"b\"] of non-empty "
                "space-free parts",
                path, i);
    }
    const char **text = malloc((n ? n : 1) * sizeof *text);
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    char *joined = malloc(total ? total : 1);
    if (!text || !lens || !joined) {
        free(text);
        free(lens);
        free(joined);
        return ponder_failf(err, err_size, "%s: out of memory for %zu merges", path, n);
    }
    char *next = joined;
    for (size_t i = 0; i < n; i++) {
        const JsonValue *m = &merges->items[i];
        text[i] = next;
        if (m->type == JSON_STRING) {
            memcpy(next, m->string, m->string_len);
            lens[i] = m->string_len;
        } else {
            size_t a = m->items[0].string_len, b = m->items[1].string_len;
            memcpy(next, m->items[0].string, a);
            next[a] = ' ';
            memcpy(next + a + 1, m->items[1].string, b);
            lens[i] = a + 1 + b;
        }
        next[lens[i]] = '\0';
        next += lens[i] + 1;
    }
    gguf_writer_set_array_strings(writer, "tokenizer.ggml.merges", text, lens, n);
    free(text);
    free(lens);
    free(joined);
    return true;
}

// The Split regex of the pre-tokenizer (itself, or inside a Sequence) -> its GGUF name.
static bool detect_pre(const char *path, const JsonValue *root, const char **pre, char *err,
                       size_t err_size)
{
    const JsonValue *pt = member(root, "pre_tokenizer");
    const JsonValue *split = NULL;
    if (is_type(pt, "Split")) {
        split = pt;
    } else if (is_type(pt, "Sequence")) {
        const JsonValue *list = member(pt, "pretokenizers");
        for (size_t i = 0; list && list->type == JSON_ARRAY && i < list->count && !split; i++)
            if (is_type(&list->items[i], "Split"))
                split = &list->items[i];
    }
    const JsonValue *pattern = split ? member(split, "pattern") : NULL;
    const char *regex = pattern ? json_get_string(pattern, "Regex", NULL) : NULL;
    if (!regex)
        return ponder_failf(err, err_size,
                            "%s: pre_tokenizer has no Split regex, so its tokenizer.ggml.pre is "
                            "unknown",
                            path);
    for (size_t i = 0; i < sizeof KNOWN_PRE_TOKENIZERS / sizeof KNOWN_PRE_TOKENIZERS[0]; i++) {
        if (strcmp(regex, KNOWN_PRE_TOKENIZERS[i].regex) == 0) {
            *pre = KNOWN_PRE_TOKENIZERS[i].pre;
            return true;
        }
    }
    return ponder_failf(
        err, err_size,
        "%s: pre_tokenizer regex is neither Qwen2's nor Llama 3's (unsupported): %.200s", path,
        regex);
}

static bool has_byte_level(const JsonValue *component)
{
    if (is_type(component, "ByteLevel"))
        return true;
    const JsonValue *list = member(component, "pretokenizers");
    for (size_t i = 0; list && list->type == JSON_ARRAY && i < list->count; i++)
        if (is_type(&list->items[i], "ByteLevel"))
            return true;
    return false;
}

// Id of TEXT among the added tokens, then the vocabulary; -1 if absent.
static int64_t find_token(const JsonValue *vocab, const JsonValue *added, const char *text)
{
    for (size_t i = 0; added && i < added->count; i++)
        if (strcmp(json_get_string(&added->items[i], "content", ""), text) == 0)
            return member(&added->items[i], "id")->integer;
    const JsonValue *id = member(vocab, text);
    return id ? id->integer : -1;
}

// tokenizer_config.json names BOS/EOS as a string or as an AddedToken object.
static bool special_token_id(const char *config_path, const JsonValue *config, const char *key,
                             const JsonValue *vocab, const JsonValue *added, int64_t *id, char *err,
                             size_t err_size)
{
    *id = -1;
    const JsonValue *v = member(config, key);
    if (!v || v->type == JSON_NULL)
        return true;
    const char *text = v->type == JSON_STRING   ? v->string
                       : v->type == JSON_OBJECT ? json_get_string(v, "content", NULL)
                                                : NULL;
    if (!text)
        return ponder_failf(err, err_size,
                            "%s: '%s' is neither a string nor an object with 'content'",
                            config_path, key);
    *id = find_token(vocab, added, text);
    if (*id < 0)
        return ponder_failf(err, err_size, "%s: %s '%s' is not a token of the tokenizer",
                            config_path, key, text);
    return true;
}

// Without add_bos_token in tokenizer_config.json, a post-processor template that starts
// with a special token (Llama 3's <|begin_of_text|>) means BOS is added.
static bool template_adds_bos(const JsonValue *post)
{
    if (is_type(post, "Sequence")) {
        const JsonValue *list = member(post, "processors");
        for (size_t i = 0; list && list->type == JSON_ARRAY && i < list->count; i++)
            if (template_adds_bos(&list->items[i]))
                return true;
        return false;
    }
    if (!is_type(post, "TemplateProcessing"))
        return false;
    const JsonValue *single = member(post, "single");
    const JsonValue *first = single && single->type == JSON_ARRAY ? json_at(single, 0) : NULL;
    return first && member(first, "SpecialToken") != NULL;
}

static char *read_small_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(MAX_TEMPLATE_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_TEMPLATE_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf || n > MAX_TEMPLATE_BYTES) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static bool write_chat_template(struct GgufWriter *writer, const char *config_path,
                                const JsonValue *config, const char *tokenizer_json_path, char *err,
                                size_t err_size)
{
    const JsonValue *tmpl = member(config, "chat_template");
    if (tmpl && tmpl->type == JSON_STRING) {
        gguf_writer_set_string_n(writer, "tokenizer.chat_template", tmpl->string, tmpl->string_len);
        return true;
    }
    if (tmpl && tmpl->type == JSON_ARRAY) { // [{name, template}]: "default" is the main one
        for (size_t i = 0; i < tmpl->count; i++) {
            const char *name = json_get_string(&tmpl->items[i], "name", NULL);
            const JsonValue *text = member(&tmpl->items[i], "template");
            if (!name || !text || text->type != JSON_STRING || strchr(name, '.'))
                return ponder_failf(
                    err, err_size,
                    "%s: chat_template[%zu] needs a 'name' (no dots) and a 'template'", config_path,
                    i);
            char key[256];
            if (strcmp(name, "default") == 0)
                snprintf(key, sizeof key, "tokenizer.chat_template");
            else
                snprintf(key, sizeof key, "tokenizer.chat_template.%.200s", name);
            gguf_writer_set_string_n(writer, key, text->string, text->string_len);
        }
        return true;
    }
    if (tmpl && tmpl->type != JSON_NULL)
        return ponder_failf(err, err_size, "%s: chat_template is neither a string nor a list",
                            config_path);
    // Newer transformers keep the template in chat_template.jinja beside the tokenizer.
    const char *slash = strrchr(tokenizer_json_path, '/');
    size_t dir_len = slash ? (size_t)(slash - tokenizer_json_path) + 1 : 0;
    char jinja_path[4096];
    if (dir_len + sizeof "chat_template.jinja" > sizeof jinja_path)
        return true;
    memcpy(jinja_path, tokenizer_json_path, dir_len);
    strcpy(jinja_path + dir_len, "chat_template.jinja");
    size_t len;
    char *text = read_small_file(jinja_path, &len);
    if (text)
        gguf_writer_set_string_n(writer, "tokenizer.chat_template", text, len);
    free(text);
    return true;
}

// Everything read from tokenizer_config.json (or defaults without one).
static bool write_config_part(struct GgufWriter *writer, const char *tokenizer_json_path,
                              const JsonValue *root, const JsonValue *vocab, const JsonValue *added,
                              const char *config_path, HfTokenizerSummary *summary, char *err,
                              size_t err_size)
{
    JsonValue *config = NULL;
    if (config_path) {
        config = json_parse_file(config_path, err, err_size); // its messages name the file
        if (!config)
            return false;
        if (config->type != JSON_OBJECT) {
            json_free(config);
            return ponder_failf(err, err_size, "%s: not a JSON object", config_path);
        }
    }
    int64_t bos = -1, eos = -1;
    bool ok =
        !config ||
        (special_token_id(config_path, config, "bos_token", vocab, added, &bos, err, err_size) &&
         special_token_id(config_path, config, "eos_token", vocab, added, &eos, err, err_size));
    if (ok) {
        if (bos >= 0)
            gguf_writer_set_u32(writer, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
        if (eos >= 0)
            gguf_writer_set_u32(writer, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
        const JsonValue *add_bos = config ? member(config, "add_bos_token") : NULL;
        bool adds = add_bos && add_bos->type == JSON_BOOL
                        ? add_bos->boolean
                        : template_adds_bos(member(root, "post_processor"));
        gguf_writer_set_bool(writer, "tokenizer.ggml.add_bos_token", adds);
        ok = write_chat_template(writer, config_path, config, tokenizer_json_path, err, err_size);
    }
    summary->bos_id = bos;
    summary->eos_id = eos;
    json_free(config);
    return ok;
}

bool hf_tokenizer_write(struct GgufWriter *writer, const char *tokenizer_json_path,
                        const char *tokenizer_config_path, uint64_t min_tokens,
                        HfTokenizerSummary *summary, char *err, size_t err_size)
{
    const char *path = tokenizer_json_path;
    HfTokenizerSummary local;
    if (!summary)
        summary = &local;
    memset(summary, 0, sizeof *summary);
    summary->bos_id = summary->eos_id = -1;

    JsonValue *root = json_parse_file(path, err, err_size); // its messages name the file
    if (!root)
        return false;
    const JsonValue *model = member(root, "model");
    const JsonValue *vocab = member(model, "vocab");
    const JsonValue *merges = member(model, "merges");
    const JsonValue *added = member(root, "added_tokens");
    const char *pre = NULL;
    TokenTable table = {0};
    bool ok = true;
    if (!model || strcmp(json_get_string(model, "type", ""), "BPE") != 0)
        ok = ponder_failf(err, err_size, "%s: model.type is not \"BPE\" (only byte-level BPE)",
                          path);
    else if (json_get_bool(model, "byte_fallback", false) ||
             !(has_byte_level(member(root, "pre_tokenizer")) ||
               has_byte_level(member(root, "decoder"))))
        ok = ponder_failf(err, err_size, "%s: not a byte-level BPE tokenizer (no ByteLevel step)",
                          path);
    else if (!vocab || vocab->type != JSON_OBJECT)
        ok = ponder_failf(err, err_size, "%s: model.vocab is not an object", path);
    else if (!merges || merges->type != JSON_ARRAY)
        ok = ponder_failf(err, err_size, "%s: model.merges is not an array", path);
    else if (added && added->type != JSON_ARRAY)
        ok = ponder_failf(err, err_size, "%s: added_tokens is not an array", path);
    ok = ok && detect_pre(path, root, &pre, err, err_size) &&
         build_tokens(path, vocab, added, min_tokens, &table, err, err_size);
    if (ok) {
        gguf_writer_set_string(writer, "tokenizer.ggml.model", "gpt2");
        gguf_writer_set_string(writer, "tokenizer.ggml.pre", pre);
        gguf_writer_set_array_strings(writer, "tokenizer.ggml.tokens", table.text, table.len,
                                      table.count);
        gguf_writer_set_array_i32(writer, "tokenizer.ggml.token_type", table.type, table.count);
        summary->n_tokens = table.count;
        ok = write_merges(writer, path, merges, err, err_size) &&
             write_config_part(writer, path, root, vocab, added, tokenizer_config_path, summary,
                               err, err_size);
    }
    token_table_free(&table);
    json_free(root);
    return ok;
}

bool hf_tokenizer_to_gguf(struct GgufWriter *writer, const char *tokenizer_json_path,
                          const char *tokenizer_config_path, char *err, size_t err_size)
{
    return hf_tokenizer_write(writer, tokenizer_json_path, tokenizer_config_path, 0, NULL, err,
                              err_size);
}
