// JSON reader: a recursive-descent parser that builds the whole tree in one arena.
//
// Speed matters because tokenizer.json files are 6-9 MB with ~400k values: every node,
// key and string lives in a few large arena chunks (one free for the whole document),
// and the children of a container are collected on a shared stack and copied into an
// exact-size array when the container closes, so no array is ever reallocated.
// Hostile input is bounded three ways: document size, nesting depth and value count.

#include "json.h"

#include "tokenizer/unicode.h"

#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    JSON_MAX_DEPTH = 512,
    JSON_MAX_VALUES = 1 << 22, // 7x a Qwen tokenizer.json; ~0.7 GB of nodes at worst
    JSON_ARENA_CHUNK = 1 << 20,
};
#define JSON_MAX_BYTES ((size_t)1 << 30)

typedef struct ArenaChunk ArenaChunk;
struct ArenaChunk {
    ArenaChunk *next;
    size_t used, size;
    max_align_t data[];
};

// The root value is the first member so json_free can find the arena from it.
typedef struct JsonDocument {
    JsonValue root;
    ArenaChunk *chunks;
} JsonDocument;

typedef struct StackEntry {
    JsonValue value;
    char *key;
    size_t key_len;
} StackEntry;

typedef struct Parser {
    const char *text;
    size_t len, pos;
    int depth;
    size_t n_values;
    JsonDocument *doc;
    StackEntry *stack; // children of the containers being parsed
    size_t stack_len, stack_cap;
    char *err;
    size_t err_size;
    bool failed;
} Parser;

static void *arena_alloc(Parser *p, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    ArenaChunk *chunk = p->doc->chunks;
    if (!chunk || chunk->size - chunk->used < size) {
        size_t cap = size > JSON_ARENA_CHUNK ? size : JSON_ARENA_CHUNK;
        chunk = malloc(sizeof *chunk + cap);
        if (!chunk)
            return NULL;
        chunk->size = cap;
        chunk->used = 0;
        chunk->next = p->doc->chunks;
        p->doc->chunks = chunk;
    }
    void *out = (char *)chunk->data + chunk->used;
    chunk->used += size;
    return out;
}

// Reports an error at byte offset AT as line:column (1-based, columns in bytes).
static void fail_at(Parser *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < at && i < p->len; i++) {
        if (p->text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err && p->err_size)
        snprintf(p->err, p->err_size, "JSON %zu:%zu: %s", line, at - line_start + 1, msg);
}

static void fail_oom(Parser *p)
{
    fail_at(p, p->pos, "out of memory");
}

static void skip_space(Parser *p)
{
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static bool push_entry(Parser *p, const StackEntry *entry)
{
    if (p->stack_len == p->stack_cap) {
        size_t cap = p->stack_cap ? p->stack_cap * 2 : 256;
        StackEntry *grown = realloc(p->stack, cap * sizeof *grown);
        if (!grown) {
            fail_oom(p);
            return false;
        }
        p->stack = grown;
        p->stack_cap = cap;
    }
    p->stack[p->stack_len++] = *entry;
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(Parser *p, size_t at, uint32_t *out)
{
    if (p->len - at < 4)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p->text[at + i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return true;
}

// Parses the string starting at the opening quote into the arena. An unescaped string
// is never longer than its source, so the source length is enough room.
static bool parse_string(Parser *p, char **out, size_t *out_len)
{
    size_t start = ++p->pos; // past the quote
    size_t end = start;
    bool has_escape = false;
    // Fast scan for the closing quote; the common case has no escapes.
    for (;;) {
        if (end >= p->len) {
            fail_at(p, start - 1, "unterminated string");
            return false;
        }
        unsigned char c = (unsigned char)p->text[end];
        if (c == '"')
            break;
        if (c == '\\') {
            has_escape = true;
            end += 2;
            continue;
        }
        if (c < 0x20) {
            fail_at(p, end, "control character in string");
            return false;
        }
        if (c < 0x80) {
            end++;
            continue;
        }
        uint32_t cp;
        bool valid;
        size_t n = utf8_decode(p->text + end, p->len - end, &cp, &valid);
        if (!valid) {
            fail_at(p, end, "invalid UTF-8 in string");
            return false;
        }
        end += n;
    }
    char *dst = arena_alloc(p, end - start + 1);
    if (!dst) {
        fail_oom(p);
        return false;
    }
    if (!has_escape) {
        memcpy(dst, p->text + start, end - start);
        dst[end - start] = '\0';
        *out = dst;
        *out_len = end - start;
        p->pos = end + 1;
        return true;
    }
    size_t n = 0;
    for (size_t i = start; i < end;) {
        char c = p->text[i];
        if (c != '\\') {
            dst[n++] = c;
            i++;
            continue;
        }
        char e = p->text[i + 1];
        i += 2;
        switch (e) {
        case '"': dst[n++] = '"'; break;
        case '\\': dst[n++] = '\\'; break;
        case '/': dst[n++] = '/'; break;
        case 'b': dst[n++] = '\b'; break;
        case 'f': dst[n++] = '\f'; break;
        case 'n': dst[n++] = '\n'; break;
        case 'r': dst[n++] = '\r'; break;
        case 't': dst[n++] = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (!read_hex4(p, i, &cp) || i + 4 > end) {
                fail_at(p, i - 2, "invalid \\u escape");
                return false;
            }
            i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail_at(p, i - 6, "unpaired low surrogate in \\u escape");
                return false;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t low;
                if (i + 6 > end || p->text[i] != '\\' || p->text[i + 1] != 'u' ||
                    !read_hex4(p, i + 2, &low) || low < 0xDC00 || low > 0xDFFF) {
                    fail_at(p, i - 6, "unpaired high surrogate in \\u escape");
                    return false;
                }
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            n += utf8_encode(cp, dst + n);
            break;
        }
        default:
            fail_at(p, i - 2, "invalid escape '\\%c'", e >= 0x20 && e < 0x7F ? e : '?');
            return false;
        }
    }
    dst[n] = '\0';
    *out = dst;
    *out_len = n;
    p->pos = end + 1;
    return true;
}

// strtod follows LC_NUMERIC, which a GUI process sets from the user's locale (where the
// decimal point may be a comma); JSON numbers always use '.', so convert in "C".
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static double strtod_c(const char *s)
{
    pthread_once(&c_locale_once, make_c_locale);
    if (!c_locale)
        return strtod(s, NULL);
    return strtod_l(s, NULL, c_locale);
}

static bool parse_number(Parser *p, JsonValue *v)
{
    const char *t = p->text;
    size_t start = p->pos, i = p->pos;
    bool negative = false, integral = true;
    if (i < p->len && t[i] == '-') {
        negative = true;
        i++;
    }
    if (i >= p->len || t[i] < '0' || t[i] > '9') {
        fail_at(p, start, "invalid number");
        return false;
    }
    // Accumulate the magnitude as unsigned; it stays exact while it fits in int64.
    uint64_t magnitude = 0;
    bool fits = true;
    if (t[i] == '0') {
        i++;
    } else {
        while (i < p->len && t[i] >= '0' && t[i] <= '9') {
            unsigned d = (unsigned)(t[i] - '0');
            if (magnitude > (UINT64_MAX - d) / 10)
                fits = false;
            else
                magnitude = magnitude * 10 + d;
            i++;
        }
    }
    if (i < p->len && t[i] == '.') {
        integral = false;
        i++;
        if (i >= p->len || t[i] < '0' || t[i] > '9') {
            fail_at(p, i, "invalid number: digit expected after '.'");
            return false;
        }
        while (i < p->len && t[i] >= '0' && t[i] <= '9')
            i++;
    }
    if (i < p->len && (t[i] == 'e' || t[i] == 'E')) {
        integral = false;
        i++;
        if (i < p->len && (t[i] == '+' || t[i] == '-'))
            i++;
        if (i >= p->len || t[i] < '0' || t[i] > '9') {
            fail_at(p, i, "invalid number: digit expected in exponent");
            return false;
        }
        while (i < p->len && t[i] >= '0' && t[i] <= '9')
            i++;
    }
    p->pos = i;
    v->type = JSON_NUMBER;
    if (integral && fits &&
        (negative ? magnitude <= (uint64_t)INT64_MAX + 1 : magnitude <= (uint64_t)INT64_MAX)) {
        v->number_is_integer = true;
        v->integer = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
        v->number = (double)v->integer;
        return true;
    }
    char small[64];
    size_t n = i - start;
    char *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy) {
        fail_oom(p);
        return false;
    }
    memcpy(copy, t + start, n);
    copy[n] = '\0';
    v->number = strtod_c(copy);
    if (copy != small)
        free(copy);
    return true;
}

static bool match_literal(Parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return false;
    p->pos += n;
    return true;
}

static bool parse_value(Parser *p, JsonValue *v);

// Moves the top COUNT stack entries into exact-size arrays of V.
static bool collect_children(Parser *p, JsonValue *v, size_t first, bool with_keys)
{
    size_t count = p->stack_len - first;
    v->count = count;
    if (count) {
        v->items = arena_alloc(p, count * sizeof *v->items);
        if (with_keys) {
            v->keys = arena_alloc(p, count * sizeof *v->keys);
            v->key_lens = arena_alloc(p, count * sizeof *v->key_lens);
        }
        if (!v->items || (with_keys && (!v->keys || !v->key_lens))) {
            fail_oom(p);
            return false;
        }
        for (size_t i = 0; i < count; i++) {
            const StackEntry *e = &p->stack[first + i];
            v->items[i] = e->value;
            if (with_keys) {
                v->keys[i] = e->key;
                v->key_lens[i] = e->key_len;
            }
        }
    }
    p->stack_len = first;
    return true;
}

static bool parse_container(Parser *p, JsonValue *v, bool is_object)
{
    size_t open = p->pos++;
    if (++p->depth > JSON_MAX_DEPTH) {
        fail_at(p, open, "nesting deeper than %d levels", JSON_MAX_DEPTH);
        return false;
    }
    v->type = is_object ? JSON_OBJECT : JSON_ARRAY;
    char close = is_object ? '}' : ']';
    size_t first = p->stack_len;
    skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == close) {
        p->pos++;
        p->depth--;
        return true;
    }
    for (;;) {
        StackEntry entry = {0};
        if (is_object) {
            skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != '"') {
                fail_at(p, p->pos, "object key (a string) expected");
                return false;
            }
            if (!parse_string(p, &entry.key, &entry.key_len))
                return false;
            skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != ':') {
                fail_at(p, p->pos, "':' expected after object key");
                return false;
            }
            p->pos++;
        }
        if (!parse_value(p, &entry.value) || !push_entry(p, &entry))
            return false;
        skip_space(p);
        if (p->pos >= p->len) {
            fail_at(p, open, "unterminated %s", is_object ? "object" : "array");
            return false;
        }
        char c = p->text[p->pos++];
        if (c == close)
            break;
        if (c != ',') {
            fail_at(p, p->pos - 1, "',' or '%c' expected", close);
            return false;
        }
    }
    p->depth--;
    return collect_children(p, v, first, is_object);
}

static bool parse_value(Parser *p, JsonValue *v)
{
    memset(v, 0, sizeof *v);
    if (++p->n_values > JSON_MAX_VALUES) {
        fail_at(p, p->pos, "more than %d values", JSON_MAX_VALUES);
        return false;
    }
    skip_space(p);
    if (p->pos >= p->len) {
        fail_at(p, p->pos, "value expected, found end of input");
        return false;
    }
    char c = p->text[p->pos];
    switch (c) {
    case '{': return parse_container(p, v, true);
    case '[': return parse_container(p, v, false);
    case '"': v->type = JSON_STRING; return parse_string(p, &v->string, &v->string_len);
    case 't':
    case 'f':
    case 'n':
        if (match_literal(p, "true") || match_literal(p, "false")) {
            v->type = JSON_BOOL;
            v->boolean = c == 't';
            return true;
        }
        if (match_literal(p, "null")) {
            v->type = JSON_NULL;
            return true;
        }
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(p, v);
        break;
    }
    fail_at(p, p->pos, "unexpected character '%c'", c >= 0x20 && c < 0x7F ? c : '?');
    return false;
}

JsonValue *json_parse(const char *text, size_t len, char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = '\0';
    if (len > JSON_MAX_BYTES) {
        if (err && err_size)
            snprintf(err, err_size, "JSON document of %zu bytes is over the %zu-byte limit", len,
                     JSON_MAX_BYTES);
        return NULL;
    }
    JsonDocument *doc = calloc(1, sizeof *doc);
    if (!doc) {
        if (err && err_size)
            snprintf(err, err_size, "out of memory");
        return NULL;
    }
    Parser p = {.text = text, .len = len, .doc = doc, .err = err, .err_size = err_size};
    // A UTF-8 byte order mark is not JSON but some editors write one.
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    bool ok = parse_value(&p, &doc->root);
    if (ok) {
        skip_space(&p);
        if (p.pos != p.len) {
            fail_at(&p, p.pos, "unexpected data after the JSON value");
            ok = false;
        }
    }
    free(p.stack);
    if (!ok) {
        json_free(&doc->root);
        return NULL;
    }
    return &doc->root;
}

JsonValue *json_parse_file(const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && err_size)
            snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *data = NULL;
    size_t size = 0;
    bool ok = fseek(f, 0, SEEK_END) == 0;
    long end = ok ? ftell(f) : -1;
    if (end < 0 || (unsigned long)end > JSON_MAX_BYTES || fseek(f, 0, SEEK_SET) != 0)
        ok = false;
    if (ok) {
        data = malloc((size_t)end + 1);
        ok = data && fread(data, 1, (size_t)end, f) == (size_t)end;
        size = (size_t)end;
    }
    fclose(f);
    if (!ok) {
        free(data);
        if (err && err_size)
            snprintf(err, err_size, "%s: cannot read the file (or it is over %zu bytes)", path,
                     JSON_MAX_BYTES);
        return NULL;
    }
    char inner[256];
    JsonValue *root = json_parse(data, size, inner, sizeof inner);
    free(data);
    if (!root && err && err_size)
        snprintf(err, err_size, "%s: %s", path, inner);
    return root;
}

void json_free(JsonValue *value)
{
    if (!value)
        return;
    JsonDocument *doc = (JsonDocument *)value;
    for (ArenaChunk *c = doc->chunks; c;) {
        ArenaChunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

const JsonValue *json_get(const JsonValue *v, const char *key)
{
    if (!v || v->type != JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < v->count; i++)
        if (v->key_lens[i] == n && memcmp(v->keys[i], key, n) == 0)
            return &v->items[i];
    return NULL;
}

const JsonValue *json_at(const JsonValue *v, size_t index)
{
    if (!v || v->type != JSON_ARRAY || index >= v->count)
        return NULL;
    return &v->items[index];
}

const char *json_get_string(const JsonValue *v, const char *key, const char *fallback)
{
    const JsonValue *m = json_get(v, key);
    return m && m->type == JSON_STRING ? m->string : fallback;
}

double json_get_number(const JsonValue *v, const char *key, double fallback)
{
    const JsonValue *m = json_get(v, key);
    return m && m->type == JSON_NUMBER ? m->number : fallback;
}

int64_t json_get_int(const JsonValue *v, const char *key, int64_t fallback)
{
    const JsonValue *m = json_get(v, key);
    return m && m->type == JSON_NUMBER && m->number_is_integer ? m->integer : fallback;
}

bool json_get_bool(const JsonValue *v, const char *key, bool fallback)
{
    const JsonValue *m = json_get(v, key);
    return m && m->type == JSON_BOOL ? m->boolean : fallback;
}
