// JSON reader: values, escapes, numbers (in any locale), error positions, hostile input
// (depth, truncation, random corruption) and the speed on the real tokenizer.json files.

#include "formats/json.h"
#include "test-util.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static JsonValue *parse(const char *text, char *err, size_t err_size)
{
    return json_parse(text, strlen(text), err, err_size);
}

static void test_values(void)
{
    char err[256];
    const char *doc = " {\"a\": [1, -2, 3.5, true, false, null, \"x\"], \"b\": {\"c\": {}},"
                      " \"d\": [], \"a\": 7} ";
    JsonValue *v = parse(doc, err, sizeof err);
    CHECKF(v != NULL, "%s", err);
    if (!v)
        return;
    CHECK(v->type == JSON_OBJECT && v->count == 4);
    const JsonValue *a = json_get(v, "a"); // first of the duplicate keys
    CHECK(a && a->type == JSON_ARRAY && a->count == 7);
    CHECK(json_at(a, 0)->number_is_integer && json_at(a, 0)->integer == 1);
    CHECK(json_at(a, 1)->integer == -2 && json_at(a, 1)->number == -2.0);
    CHECK(!json_at(a, 2)->number_is_integer && json_at(a, 2)->number == 3.5);
    CHECK(json_at(a, 3)->type == JSON_BOOL && json_at(a, 3)->boolean);
    CHECK(json_at(a, 4)->type == JSON_BOOL && !json_at(a, 4)->boolean);
    CHECK(json_at(a, 5)->type == JSON_NULL);
    CHECK(json_at(a, 6)->type == JSON_STRING && strcmp(json_at(a, 6)->string, "x") == 0);
    CHECK(json_at(a, 7) == NULL);
    CHECK(json_get(json_get(json_get(v, "b"), "c"), "zz") == NULL);
    CHECK(json_get(json_get(v, "b"), "c")->type == JSON_OBJECT);
    CHECK(json_get(v, "d")->type == JSON_ARRAY && json_get(v, "d")->count == 0);
    CHECK(json_get(v, "nope") == NULL && json_get(a, "x") == NULL && json_at(v, 0) == NULL);
    CHECK(json_get_int(v, "a", 5) == 5); // not a number: fallback
    CHECK(json_get_int(json_get(v, "b"), "q", -9) == -9);
    CHECK(strcmp(json_get_string(v, "nope", "fb"), "fb") == 0);
    CHECK(json_get_bool(v, "d", true) == true);
    json_free(v);

    v = parse("{\"s\": \"str\", \"n\": 2.25, \"i\": 12, \"t\": true}", err, sizeof err);
    CHECK(v && strcmp(json_get_string(v, "s", NULL), "str") == 0);
    CHECK(v && json_get_number(v, "n", 0) == 2.25 && json_get_int(v, "n", -1) == -1);
    CHECK(v && json_get_int(v, "i", 0) == 12 && json_get_bool(v, "t", false));
    json_free(v);

    // Scalars at the top level, with a UTF-8 byte order mark.
    v = parse("\xEF\xBB\xBF 42 ", err, sizeof err);
    CHECK(v && v->type == JSON_NUMBER && v->integer == 42);
    json_free(v);
}

static void test_strings(void)
{
    char err[256];
    JsonValue *v = parse("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u4e2D\", "
                         "\"\\ud83d\\ude00\", \"x\\u0000y\", \"caf\xC3\xA9 \xF0\x9F\xA6\x99\"]",
                         err, sizeof err);
    CHECKF(v != NULL, "%s", err);
    if (!v)
        return;
    CHECK(strcmp(json_at(v, 0)->string, "a\"b\\c/d\b\f\n\r\t") == 0);
    CHECK(strcmp(json_at(v, 1)->string, "\xC3\xA9\xE4\xB8\xAD") == 0);
    CHECK(strcmp(json_at(v, 2)->string, "\xF0\x9F\x98\x80") == 0); // U+1F600
    CHECK(json_at(v, 3)->string_len == 3 && memcmp(json_at(v, 3)->string, "x\0y", 3) == 0);
    CHECK(strcmp(json_at(v, 4)->string, "caf\xC3\xA9 \xF0\x9F\xA6\x99") == 0);
    json_free(v);

    v = parse("{\"k\\u00e9y\": 1}", err, sizeof err);
    CHECK(v && v->key_lens[0] == 4 && memcmp(v->keys[0], "k\xC3\xA9y", 4) == 0);
    CHECK(v && json_get_int(v, "k\xC3\xA9y", 0) == 1);
    json_free(v);
}

static void test_numbers(void)
{
    char err[256];
    JsonValue *v = parse("[9223372036854775807, -9223372036854775808, 9223372036854775808, "
                         "1e3, -0.125, 1.5E-2, 0, -0, 123456789012]",
                         err, sizeof err);
    CHECKF(v != NULL, "%s", err);
    if (!v)
        return;
    CHECK(json_at(v, 0)->number_is_integer && json_at(v, 0)->integer == INT64_MAX);
    CHECK(json_at(v, 1)->number_is_integer && json_at(v, 1)->integer == INT64_MIN);
    CHECK(!json_at(v, 2)->number_is_integer && json_at(v, 2)->number == 9223372036854775808.0);
    CHECK(!json_at(v, 3)->number_is_integer && json_at(v, 3)->number == 1000.0);
    CHECK(json_at(v, 4)->number == -0.125);
    CHECK(json_at(v, 5)->number == 0.015);
    CHECK(json_at(v, 6)->integer == 0 && json_at(v, 7)->integer == 0);
    CHECK(json_at(v, 8)->integer == 123456789012);
    json_free(v);

    // A GUI process runs with the user's LC_NUMERIC, where the decimal point may be ','.
    const char *comma_locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE.utf8", "fr_FR.utf8"};
    const char *set = NULL;
    for (size_t i = 0; i < sizeof comma_locales / sizeof *comma_locales && !set; i++)
        set = setlocale(LC_NUMERIC, comma_locales[i]);
    if (set) {
        v = parse("[2.5, 1e-1]", err, sizeof err);
        CHECK(v && json_at(v, 0)->number == 2.5 && json_at(v, 1)->number == 0.1);
        json_free(v);
        setlocale(LC_NUMERIC, "C");
    } else {
        printf("note: no comma-decimal locale installed; locale check not run\n");
    }
}

// Each document must fail with a message naming LINE:COLUMN.
static void expect_error(const char *doc, const char *where)
{
    char err[256] = "";
    JsonValue *v = parse(doc, err, sizeof err);
    CHECKF(v == NULL, "accepted: %s", doc);
    json_free(v);
    CHECKF(strstr(err, where) != NULL, "error for %s is \"%s\", expected position %s", doc, err,
           where);
}

static void test_errors(void)
{
    expect_error("{\n  \"a\": [1, 2,, 3]\n}", "2:14");
    expect_error("", "1:1");
    expect_error("[1, 2", "1:1");
    expect_error("{\"a\" 1}", "1:6");
    expect_error("{\"a\": 1,}", "1:9");
    expect_error("[1] x", "1:5");
    expect_error("[01]", "1:3");
    expect_error("[1.]", "1:4");
    expect_error("[1e]", "1:4");
    expect_error("[-]", "1:2");
    expect_error("[tru]", "1:2");
    expect_error("[\"a\nb\"]", "1:4");           // raw control character
    expect_error("[\"\\x\"]", "1:3");            // unknown escape
    expect_error("[\"\\u12G4\"]", "1:3");        // bad hex
    expect_error("[\"\\ud800\"]", "1:3");        // lone high surrogate
    expect_error("[\"\\udc00\\ud800\"]", "1:3"); // lone low surrogate
    expect_error("[\"\\ud800\\u0041\"]", "1:3");
    expect_error("[\"\xC3\"]", "1:3");         // truncated UTF-8
    expect_error("[\"\xED\xA0\x80\"]", "1:3"); // encoded surrogate
    expect_error("[\"\xC0\xAF\"]", "1:3");     // overlong
    expect_error("[\"abc", "1:2");
    expect_error("{1: 2}", "1:2");
    expect_error("[1 2]", "1:4");
    expect_error("nul", "1:1");
}

static void test_hostile(void)
{
    char err[256];
    // Deep nesting fails cleanly instead of overflowing the stack.
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    JsonValue *v = json_parse(deep, 2 * depth, err, sizeof err);
    CHECK(v == NULL && strstr(err, "nesting") != NULL);
    // ... while a reasonable depth is fine.
    size_t ok_depth = 500;
    v = json_parse(deep + depth - ok_depth, 2 * ok_depth, err, sizeof err);
    CHECKF(v != NULL, "%s", err);
    json_free(v);
    free(deep);

    // A flat array of too many values is refused before memory runs out.
    size_t n_values = 5 << 20;
    char *flat = malloc(2 * n_values + 2);
    flat[0] = '[';
    for (size_t i = 0; i < n_values; i++)
        memcpy(flat + 1 + 2 * i, "0,", 2);
    flat[2 * n_values] = ']';
    v = json_parse(flat, 2 * n_values + 1, err, sizeof err);
    CHECKF(v == NULL && strstr(err, "values"), "%s", err);
    json_free(v);
    free(flat);

    // Every proper prefix of a document is an error (and never a crash).
    const char *doc = "{\"a\": [1, -2.5e3, \"x\\u00e9\\ud83d\\ude00\"], \"b\": {\"c\": null, "
                      "\"d\": [true, false]}, \"e\": \"\xE4\xB8\xAD\"}";
    size_t len = strlen(doc);
    for (size_t cut = 0; cut < len; cut++) {
        v = json_parse(doc, cut, err, sizeof err);
        CHECKF(v == NULL, "prefix of %zu bytes accepted", cut);
        json_free(v);
    }
    v = json_parse(doc, len, err, sizeof err);
    CHECKF(v != NULL, "%s", err);
    json_free(v);

    // Random corruption: any outcome but a crash or a leak (ASan checks that).
    char *copy = malloc(len);
    srand(1234);
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(copy, doc, len);
        int flips = 1 + rand() % 4;
        for (int f = 0; f < flips; f++)
            copy[rand() % len] = (char)(rand() % 256);
        v = json_parse(copy, len, err, sizeof err);
        accepted += v != NULL;
        json_free(v);
    }
    free(copy);
    printf("corrupted documents still accepted: %d of 20000\n", accepted);
}

static void test_tokenizer_files(void)
{
    struct {
        const char *path;
        size_t vocab, added;
    } files[] = {
        {"tokenizers/deepseek-r1-distill-qwen/tokenizer.json", 151643, 22},
        {"tokenizers/llama-3.1/tokenizer.json", 128000, 256},
    };
    for (size_t f = 0; f < 2; f++) {
        size_t len;
        char *text = test_read_file(test_shared_path(files[f].path), &len);
        if (!text) {
            printf("note: %s not found; not parsed\n", files[f].path);
            continue;
        }
        char err[256];
        double t0 = seconds_now();
        JsonValue *v = json_parse(text, len, err, sizeof err);
        double elapsed = seconds_now() - t0;
        CHECKF(v != NULL, "%s: %s", files[f].path, err);
        printf("%s: %zu bytes parsed in %.3f s\n", files[f].path, len, elapsed);
        const JsonValue *vocab = json_get(json_get(v, "model"), "vocab");
        CHECK(vocab && vocab->type == JSON_OBJECT && vocab->count == files[f].vocab);
        const JsonValue *added = json_get(v, "added_tokens");
        CHECK(added && added->count == files[f].added);
        json_free(v);
        free(text);
    }
    char err[256];
    CHECK(json_parse_file("/nonexistent/file.json", err, sizeof err) == NULL &&
          strstr(err, "/nonexistent/file.json") != NULL);
}

int main(void)
{
    test_values();
    test_strings();
    test_numbers();
    test_errors();
    test_hostile();
    test_tokenizer_files();
    return test_finish();
}
