// The tokenizer against Hugging Face `tokenizers` (golden-vectors.json: plain, special and
// decoded for every text) and llama.cpp's vectors, the streaming decoder against whole
// decodes and the Unicode rules for ill-formed UTF-8, and the GGUF vocabulary of the
// small test models against the full tokenizer.json.

#include "formats/gguf.h"
#include "formats/json.h"
#include "test-util.h"
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct IdList {
    int32_t *ids;
    size_t n;
} IdList;

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static Tokenizer *load_json(const char *dir, double *seconds)
{
    char tok_path[4200], config_path[4200], err[512];
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", test_shared_path(dir));
    snprintf(config_path, sizeof config_path, "%s/tokenizer_config.json", test_shared_path(dir));
    double t0 = seconds_now();
    Tokenizer *tok = tokenizer_from_json(tok_path, config_path, err, sizeof err);
    *seconds = seconds_now() - t0;
    CHECKF(tok != NULL, "%s", err);
    return tok;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "    %s:", label);
    for (size_t i = 0; i < n && i < 40; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

static bool ids_equal(const int32_t *a, size_t na, const JsonValue *expected)
{
    if (!expected || expected->type != JSON_ARRAY || expected->count != na)
        return false;
    for (size_t i = 0; i < na; i++)
        if (expected->items[i].integer != a[i])
            return false;
    return true;
}

static IdList json_ids(const JsonValue *array)
{
    IdList list = {malloc((array->count + 1) * sizeof(int32_t)), array->count};
    for (size_t i = 0; i < array->count; i++)
        list.ids[i] = (int32_t)array->items[i].integer;
    return list;
}

// Decodes IDS one token at a time through the streaming decoder.
static char *stream_decode(const Tokenizer *tok, const int32_t *ids, size_t n, size_t *len)
{
    size_t step = tokenizer_max_token_bytes(tok) + 16;
    char *text = malloc((n + 1) * step + 1);
    size_t o = 0;
    TokenDecoder dec;
    token_decoder_init(&dec);
    for (size_t i = 0; i < n; i++) {
        int got = token_decoder_push(&dec, tok, ids[i], text + o, step);
        CHECK(got >= 0);
        o += got > 0 ? (size_t)got : 0;
    }
    int got = token_decoder_finish(&dec, text + o, step);
    o += got > 0 ? (size_t)got : 0;
    text[o] = '\0';
    *len = o;
    return text;
}

// Every golden text of SET: plain and special ids, and the decoded text.
static void check_golden_set(const Tokenizer *tok, const JsonValue *set, const char *name)
{
    size_t mismatches[3] = {0}, stream_mismatches = 0;
    const char *kinds[3] = {"plain", "special", "decoded"};
    for (size_t i = 0; i < set->count; i++) {
        const JsonValue *entry = &set->items[i];
        const JsonValue *text = json_get(entry, "text");
        for (int k = 0; k < 2; k++) {
            int32_t *ids;
            int64_t n = tokenizer_encode(tok, text->string, text->string_len, k == 1, &ids);
            const JsonValue *expected = json_get(entry, kinds[k]);
            if (n < 0 || !ids_equal(ids, (size_t)n, expected)) {
                if (mismatches[k]++ < 3) {
                    fprintf(stderr, "%s %s #%zu differs: %.80s\n", name, kinds[k], i, text->string);
                    print_ids("ours", ids, n > 0 ? (size_t)n : 0);
                    IdList want = json_ids(expected);
                    print_ids("HF  ", want.ids, want.n);
                    free(want.ids);
                }
            }
            free(ids);
        }
        IdList plain = json_ids(json_get(entry, "plain"));
        const char *want = json_get_string(entry, "decoded", "");
        char *decoded = tokenizer_decode(tok, plain.ids, plain.n);
        if (!decoded || strcmp(decoded, want) != 0) {
            if (mismatches[2]++ < 3)
                fprintf(stderr, "%s decoded #%zu differs:\n    ours: %s\n    HF:   %s\n", name, i,
                        decoded ? decoded : "(null)", want);
        }
        size_t stream_len;
        char *streamed = stream_decode(tok, plain.ids, plain.n, &stream_len);
        if (!decoded || stream_len != strlen(decoded) || strcmp(streamed, decoded) != 0)
            stream_mismatches++;
        free(streamed);
        free(decoded);
        free(plain.ids);
    }
    for (int k = 0; k < 3; k++)
        CHECKF(mismatches[k] == 0, "%s: %zu of %zu %s vectors differ", name, mismatches[k],
               set->count, kinds[k]);
    CHECKF(stream_mismatches == 0, "%s: %zu streamed decodes differ from whole decodes", name,
           stream_mismatches);
    printf("%s: %zu texts, mismatches plain %zu, special %zu, decoded %zu, streamed %zu\n", name,
           set->count, mismatches[0], mismatches[1], mismatches[2], stream_mismatches);
}

// llama.cpp's vectors: texts split by "\n__ggml_vocab_test__\n", line i of .out = ids.
static void check_llama_cpp_vectors(const Tokenizer *tok, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "tokenizers/llama.cpp-vectors/%s.inp", name);
    char *inp = test_read_file(test_shared_path(path), NULL);
    snprintf(path, sizeof path, "tokenizers/llama.cpp-vectors/%s.out", name);
    char *out = test_read_file(test_shared_path(path), NULL);
    CHECKF(inp && out, "%s vectors missing", name);
    if (!inp || !out) {
        free(inp);
        free(out);
        return;
    }
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t texts = 0, mismatches = 0;
    char *text = inp, *line = out;
    while (text && line) {
        char *text_end = strstr(text, sep);
        size_t text_len = text_end ? (size_t)(text_end - text) : strlen(text);
        char *line_end = strchr(line, '\n');
        if (!line_end && !text_end && !*line && !text_len)
            break; // the trailing empty text after the last separator
        if (line_end)
            *line_end = '\0';
        int32_t expected[1024];
        size_t n_expected = 0;
        for (char *p = line, *e; n_expected < 1024; p = e) {
            long v = strtol(p, &e, 10);
            if (e == p)
                break;
            expected[n_expected++] = (int32_t)v;
        }
        // llama.cpp's test tokenizes without BOS, parsing special tokens; none of these
        // texts contains one, so plain and special must agree.
        for (int special = 0; special < 2; special++) {
            int32_t *ids;
            int64_t n = tokenizer_encode(tok, text, text_len, special, &ids);
            bool same =
                n == (int64_t)n_expected && memcmp(ids, expected, n_expected * sizeof *ids) == 0;
            if (!same && mismatches++ < 3) {
                fprintf(stderr, "llama.cpp %s #%zu differs: %.*s\n", name, texts,
                        (int)(text_len < 60 ? text_len : 60), text);
                print_ids("ours     ", ids, n > 0 ? (size_t)n : 0);
                print_ids("llama.cpp", expected, n_expected);
            }
            free(ids);
        }
        texts++;
        text = text_end ? text_end + strlen(sep) : NULL;
        line = line_end ? line_end + 1 : NULL;
    }
    CHECKF(texts >= 40, "%s: only %zu texts read", name, texts);
    CHECKF(mismatches == 0, "%s: %zu mismatches", name, mismatches);
    printf("llama.cpp %s: %zu texts, %zu mismatches\n", name, texts, mismatches);
    free(inp);
    free(out);
}

// The id of the single-byte token for BYTE (byte-level character text).
static int32_t byte_token(const Tokenizer *tok, unsigned byte)
{
    char text[4];
    unsigned cp = byte;
    if (!((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174)) {
        unsigned n = 0;
        for (unsigned b = 0; b < byte; b++)
            n += !((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174);
        cp = 256 + n;
    }
    if (cp < 0x80) {
        text[0] = (char)cp;
        text[1] = '\0';
    } else {
        text[0] = (char)(0xC0 | cp >> 6);
        text[1] = (char)(0x80 | (cp & 0x3F));
        text[2] = '\0';
    }
    return tokenizer_find(tok, text);
}

// Ill-formed UTF-8 becomes U+FFFD per maximal subpart (Unicode 15, section 3.9, as
// String::from_utf8_lossy does); a sequence cut at the end of the stream is held back.
static void check_decoder_rules(const Tokenizer *tok)
{
    struct {
        const char *bytes;
        const char *expected;
    } cases[] = {
        {"\xF0\x9F\xA6\x99", "\xF0\x9F\xA6\x99"},
        {"\xC3\xA9", "\xC3\xA9"},
        {"\xF0\x9F"
         "A",
         "\xEF\xBF\xBD"
         "A"},
        {"\x80", "\xEF\xBF\xBD"},
        {"\xE0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xE4\xBD", "\xEF\xBF\xBD"},
        {"a\xFF"
         "b\xC0\xAF",
         "a\xEF\xBF\xBD"
         "b\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xE2\x82\xAC\xE2\x82", "\xE2\x82\xAC\xEF\xBF\xBD"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int32_t ids[16];
        size_t n = strlen(cases[c].bytes);
        for (size_t i = 0; i < n; i++)
            ids[i] = byte_token(tok, (unsigned char)cases[c].bytes[i]);
        size_t len;
        char *streamed = stream_decode(tok, ids, n, &len);
        char *whole = tokenizer_decode(tok, ids, n);
        CHECKF(strcmp(streamed, cases[c].expected) == 0, "case %zu streamed", c);
        CHECKF(whole && strcmp(whole, cases[c].expected) == 0, "case %zu whole", c);
        free(streamed);
        free(whole);
    }

    // A 4-byte emoji split over three tokens is held back until complete.
    const char *text = " this is \xF0\x9F\xA6\x99.cpp"; // U+1F999
    int32_t *ids;
    int64_t n = tokenizer_encode(tok, text, strlen(text), false, &ids);
    size_t step = tokenizer_max_token_bytes(tok) + 16;
    char *buf = malloc(step), joined[256] = "";
    TokenDecoder dec;
    token_decoder_init(&dec);
    int held = 0;
    for (int64_t i = 0; i < n; i++) {
        int got = token_decoder_push(&dec, tok, ids[i], buf, step);
        CHECK(got >= 0);
        held += dec.n_pending > 0;
        for (int b = 0; b < got; b++) // what comes out is never a broken sequence
            CHECK(((unsigned char)buf[b] & 0xC0) != 0x80 || b > 0);
        strncat(joined, buf, got > 0 ? (size_t)got : 0);
    }
    CHECK(token_decoder_finish(&dec, buf, step) == 0);
    CHECKF(held >= 2, "the emoji was not held back over %d tokens", held);
    CHECK(strcmp(joined, text) == 0);
    CHECK(token_decoder_push(&dec, tok, -1, buf, step) == -1);
    CHECK(token_decoder_push(&dec, tok, (int32_t)tokenizer_vocab_size(tok), buf, step) == -1);
    free(buf);
    free(ids);
}

static void check_api(const Tokenizer *tok, bool qwen)
{
    CHECK(tokenizer_pre(tok) == (qwen ? TOKENIZER_PRE_QWEN2 : TOKENIZER_PRE_LLAMA3));
    CHECK(tokenizer_vocab_size(tok) == (qwen ? 151665u : 128256u));
    const char *bos_text = qwen ? "<\xEF\xBD\x9C"
                                  "begin\xE2\x96\x81of\xE2\x96\x81sentence"
                                  "\xEF\xBD\x9C>"
                                : "<|begin_of_text|>";
    CHECK(tokenizer_bos(tok) == (qwen ? 151646 : 128000));
    CHECK(tokenizer_find(tok, bos_text) == tokenizer_bos(tok));
    CHECK(tokenizer_eos(tok) == (qwen ? 151643 : 128009)); // Llama 3.1: <|eot_id|>
    CHECK(tokenizer_add_bos(tok));
    CHECK(tokenizer_token_type(tok, tokenizer_bos(tok)) == TOKEN_TYPE_CONTROL);
    CHECK(tokenizer_token_type(tok, 0) == TOKEN_TYPE_NORMAL);
    CHECK(tokenizer_token_type(tok, -1) == -1);
    CHECK(tokenizer_find(tok, "no such token text!") == -1);
    if (qwen) {
        CHECK(tokenizer_find(tok, "<think>") == 151648);
        CHECK(tokenizer_token_type(tok, 151644) == TOKEN_TYPE_USER_DEFINED); // special: false
    }
    // " Hello": the stored text is byte-level ("\xC4\xA0Hello"), the bytes are raw.
    int32_t id = tokenizer_find(tok, "\xC4\xA0Hello");
    CHECK(id == (qwen ? 21927 : 22691));
    CHECK(strcmp(tokenizer_token_text(tok, id), "\xC4\xA0Hello") == 0);
    char bytes[64];
    CHECK(tokenizer_token_bytes(tok, id, bytes, sizeof bytes) == 6 &&
          memcmp(bytes, " Hello", 6) == 0);
    CHECK(tokenizer_token_bytes(tok, id, bytes, 3) == 3);
    CHECK(tokenizer_token_bytes(tok, -5, bytes, sizeof bytes) == -1);
    CHECK(tokenizer_token_text(tok, -5) == NULL);
    int n = tokenizer_token_bytes(tok, tokenizer_bos(tok), bytes, sizeof bytes);
    CHECK(n == (int)strlen(bos_text) && memcmp(bytes, bos_text, (size_t)n) == 0);
    CHECK(tokenizer_max_token_bytes(tok) >= 16 && tokenizer_max_token_bytes(tok) < 1024);

    int32_t *ids;
    CHECK(tokenizer_encode(tok, "", 0, true, &ids) == 0 && ids != NULL);
    free(ids);
}

// 100 KB of mixed text must tokenize well under a second.
static void check_speed(const Tokenizer *tok, const JsonValue *set, const char *name)
{
    size_t cap = 120000, len = 0;
    char *text = malloc(cap);
    for (size_t i = 0; len < 100000; i = (i + 1) % set->count) {
        const JsonValue *t = json_get(&set->items[i], "text");
        if (len + t->string_len + 1 > cap)
            break;
        memcpy(text + len, t->string, t->string_len);
        len += t->string_len;
        text[len++] = '\n';
    }
    int32_t *ids;
    double t0 = seconds_now();
    int64_t n = tokenizer_encode(tok, text, len, false, &ids);
    double elapsed = seconds_now() - t0;
    printf("%s: %zu bytes -> %lld tokens in %.3f s\n", name, len, (long long)n, elapsed);
    // Round trip of the whole text (the Llama tokenizer does not normalise).
    char *back = tokenizer_decode(tok, ids, n > 0 ? (size_t)n : 0);
    if (tokenizer_pre(tok) == TOKENIZER_PRE_LLAMA3)
        CHECK(back && strlen(back) == len && memcmp(back, text, len) == 0);
    free(back);
    free(ids);

    // Degenerate pieces: one huge word, one huge run of spaces, one of digits.
    const char fill[] = {'a', ' ', '7', '\n'};
    for (size_t f = 0; f < sizeof fill; f++) {
        memset(text, fill[f], 100000);
        t0 = seconds_now();
        n = tokenizer_encode(tok, text, 100000, false, &ids);
        elapsed = seconds_now() - t0;
        CHECK(n > 0);
        free(ids);
    }
    free(text);
}

// The 1,056-token GGUF vocabulary of the test models: a cut of the R1 vocabulary.
static void check_gguf(const Tokenizer *full, const JsonValue *golden_set)
{
    char err[512];
    GgufFile *file = gguf_open(test_shared_path("models/qwen2-f16.gguf"), err, sizeof err);
    CHECKF(file != NULL, "%s", err);
    if (!file)
        return;
    Tokenizer *cut = tokenizer_from_gguf(file, err, sizeof err);
    CHECKF(cut != NULL, "%s", err);
    gguf_close(file);
    if (!cut)
        return;
    CHECK(tokenizer_pre(cut) == TOKENIZER_PRE_QWEN2);
    // The markers are found by their text (models/README.md gives the ids).
    const char *markers[] = {
        "<\xEF\xBD\x9C"
        "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
        "<\xEF\xBD\x9CUser\xEF\xBD\x9C>",
        "<\xEF\xBD\x9C"
        "Assistant\xEF\xBD\x9C>",
        "<\xEF\xBD\x9C"
        "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
        "<|EOT|>",
        "<think>",
        "</think>",
    };
    for (int i = 0; i < 7; i++) {
        CHECKF(tokenizer_find(cut, markers[i]) == 1024 + i, "marker %s", markers[i]);
        int type = tokenizer_token_type(cut, 1024 + i);
        CHECK(type == TOKEN_TYPE_CONTROL || type == TOKEN_TYPE_USER_DEFINED);
    }
    CHECK(tokenizer_bos(cut) == 1027);
    CHECK(tokenizer_eos(cut) == 1024);

    const char *chat = "<\xEF\xBD\x9CUser\xEF\xBD\x9C>hello<\xEF\xBD\x9C"
                       "Assistant\xEF\xBD\x9C>"
                       "<think>\n";
    int32_t *ids;
    int64_t n = tokenizer_encode(cut, chat, strlen(chat), true, &ids);
    CHECK(n >= 4 && ids[0] == 1025 && ids[n - 2] == 1029);
    bool found_assistant = false;
    for (int64_t i = 0; i < n; i++)
        found_assistant |= ids[i] == 1026;
    CHECK(found_assistant);
    free(ids);
    n = tokenizer_encode(cut, chat, strlen(chat), false, &ids);
    for (int64_t i = 0; i < n; i++)
        CHECK(ids[i] < 1024); // typed markers stay plain text
    free(ids);

    // Where the full tokenizer only needs tokens of the cut, both agree exactly; and
    // every text survives a round trip through the cut vocabulary (NFC applied).
    size_t compared = 0, differ = 0, roundtrip_fail = 0;
    for (size_t i = 0; i < golden_set->count; i++) {
        const JsonValue *entry = &golden_set->items[i];
        const JsonValue *text = json_get(entry, "text");
        int32_t *full_ids, *cut_ids;
        int64_t nf = tokenizer_encode(full, text->string, text->string_len, false, &full_ids);
        int64_t nc = tokenizer_encode(cut, text->string, text->string_len, false, &cut_ids);
        bool in_cut = nf >= 0;
        for (int64_t k = 0; k < nf && in_cut; k++)
            in_cut = full_ids[k] < 1024;
        if (in_cut) {
            compared++;
            differ += nf != nc || memcmp(full_ids, cut_ids, (size_t)nf * sizeof *cut_ids) != 0;
        }
        char *back = tokenizer_decode(cut, cut_ids, nc > 0 ? (size_t)nc : 0);
        roundtrip_fail += !back || strcmp(back, json_get_string(entry, "decoded", "")) != 0;
        free(back);
        free(full_ids);
        free(cut_ids);
    }
    CHECKF(compared >= 5 && differ == 0, "%zu of %zu texts differ from the full tokenizer", differ,
           compared);
    CHECKF(roundtrip_fail == 0, "%zu texts do not round-trip through the cut vocabulary",
           roundtrip_fail);
    printf("GGUF cut vocabulary: %zu texts compared with the full one, %zu differ; %zu "
           "round-trip failures\n",
           compared, differ, roundtrip_fail);
    tokenizer_free(cut);
}

// A minimal tokenizer GGUF with one thing broken at a time: each must be refused with a
// message naming the key (the files are untrusted).
typedef enum Breakage {
    BREAK_NOTHING,
    BREAK_MODEL,
    BREAK_PRE,
    BREAK_NO_PRE,
    BREAK_TOKENS_TYPE,
    BREAK_NO_MERGES,
    BREAK_TYPES_LENGTH,
    BREAK_TYPE_VALUE,
    BREAK_BOS_RANGE,
    BREAK_EOS_TYPE,
    BREAK_ADD_BOS_TYPE,
} Breakage;

static Tokenizer *tiny_gguf_tokenizer(Breakage breakage, char *err, size_t err_size)
{
    // Bytes 'a', 'b', then "ab", " " (as "\xC4\xA0"), and an added token.
    const char *tokens[] = {"a", "b", "ab", "\xC4\xA0", "<x>"};
    const char *merges[] = {"a b"};
    int32_t types[] = {1, 1, 1, 1, breakage == BREAK_TYPE_VALUE ? 9 : 3};
    GgufWriter *w = gguf_writer_new();
    gguf_writer_set_string(w, "tokenizer.ggml.model", breakage == BREAK_MODEL ? "llama" : "gpt2");
    if (breakage != BREAK_NO_PRE)
        gguf_writer_set_string(w, "tokenizer.ggml.pre",
                               breakage == BREAK_PRE ? "gpt-4o" : "llama-bpe");
    if (breakage == BREAK_TOKENS_TYPE)
        gguf_writer_set_array_i32(w, "tokenizer.ggml.tokens", types, 5);
    else
        gguf_writer_set_array_strings(w, "tokenizer.ggml.tokens", tokens, NULL, 5);
    if (breakage != BREAK_NO_MERGES)
        gguf_writer_set_array_strings(w, "tokenizer.ggml.merges", merges, NULL, 1);
    gguf_writer_set_array_i32(w, "tokenizer.ggml.token_type", types,
                              breakage == BREAK_TYPES_LENGTH ? 4 : 5);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", breakage == BREAK_BOS_RANGE ? 5 : 4);
    if (breakage == BREAK_EOS_TYPE)
        gguf_writer_set_string(w, "tokenizer.ggml.eos_token_id", "4");
    else
        gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 4);
    if (breakage == BREAK_ADD_BOS_TYPE)
        gguf_writer_set_u32(w, "tokenizer.ggml.add_bos_token", 1);
    else
        gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    char path[] = "/tmp/ponder-test-tokenizer-XXXXXX";
    int fd = mkstemp(path);
    Tokenizer *tok = NULL;
    if (fd >= 0) {
        close(fd);
        if (gguf_writer_write(w, path, err, err_size)) {
            GgufFile *file = gguf_open(path, err, err_size);
            if (file)
                tok = tokenizer_from_gguf(file, err, err_size);
            gguf_close(file);
        }
        unlink(path);
    }
    gguf_writer_free(w);
    return tok;
}

static void check_hostile_gguf(void)
{
    char err[512];
    Tokenizer *tok = tiny_gguf_tokenizer(BREAK_NOTHING, err, sizeof err);
    CHECKF(tok != NULL, "%s", err);
    if (tok) {
        int32_t *ids;
        int64_t n = tokenizer_encode(tok, "ab<x>ba", 7, true, &ids);
        CHECK(n == 4 && ids[0] == 2 && ids[1] == 4 && ids[2] == 1 && ids[3] == 0);
        free(ids);
        n = tokenizer_encode(tok, "a b!", 4, false, &ids); // '!' has no token: dropped
        CHECK(n == 3 && ids[0] == 0 && ids[1] == 3 && ids[2] == 1);
        free(ids);
        CHECK(tokenizer_add_bos(tok) && tokenizer_bos(tok) == 4);
        tokenizer_free(tok);
    }
    struct {
        Breakage breakage;
        const char *named;
    } cases[] = {
        {BREAK_MODEL, "\"llama\""},
        {BREAK_PRE, "\"gpt-4o\""},
        {BREAK_NO_PRE, "tokenizer.ggml.pre"},
        {BREAK_TOKENS_TYPE, "tokenizer.ggml.tokens"},
        {BREAK_NO_MERGES, "tokenizer.ggml.merges"},
        {BREAK_TYPES_LENGTH, "tokenizer.ggml.token_type"},
        {BREAK_TYPE_VALUE, "tokenizer.ggml.token_type"},
        {BREAK_BOS_RANGE, "tokenizer.ggml.bos_token_id"},
        {BREAK_EOS_TYPE, "tokenizer.ggml.eos_token_id"},
        {BREAK_ADD_BOS_TYPE, "tokenizer.ggml.add_bos_token"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err[0] = '\0';
        tok = tiny_gguf_tokenizer(cases[i].breakage, err, sizeof err);
        CHECKF(tok == NULL && strstr(err, cases[i].named), "case %zu: \"%s\"", i, err);
        tokenizer_free(tok);
    }
}

// Arbitrary bytes (ill-formed UTF-8 included) survive encoding byte for byte.
static void check_binary_round_trip(const Tokenizer *tok, const char *name)
{
    srand(99);
    size_t step = tokenizer_max_token_bytes(tok);
    char *bytes = malloc(step);
    size_t failures = 0;
    const char alphabet[] = " \n\t'aZ09\xC3\xA9\xE4\xB8\xAD"; // 13 bytes
    for (int round = 0; round < 200; round++) {
        char text[512];
        size_t len = (size_t)(rand() % (int)sizeof text);
        for (size_t i = 0; i < len; i++)
            text[i] = (char)(round % 2 ? rand() % 256 : alphabet[rand() % 13]);
        int32_t *ids;
        int64_t n = tokenizer_encode(tok, text, len, round % 3 == 0, &ids);
        size_t o = 0;
        bool same = n >= 0;
        for (int64_t i = 0; i < n && same; i++) {
            int got = tokenizer_token_bytes(tok, ids[i], bytes, step);
            same = got >= 0 && o + (size_t)got <= len && memcmp(text + o, bytes, (size_t)got) == 0;
            o += got > 0 ? (size_t)got : 0;
        }
        failures += !same || o != len;
        free(ids);
    }
    free(bytes);
    CHECKF(failures == 0, "%s: %zu random byte strings do not survive encoding", name, failures);
}

// The full vocabulary through GGUF: tokenizer.json's tokens and merges written as
// tokenizer.ggml.* keys (as llama.cpp's converter does) must load fast and tokenize the
// golden texts exactly as the tokenizer.json path does.
static void check_full_vocab_gguf(const Tokenizer *from_json, const char *dir, const char *pre_name,
                                  const JsonValue *set)
{
    char err[512], path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", test_shared_path(dir));
    JsonValue *root = json_parse_file(path, err, sizeof err);
    CHECKF(root != NULL, "%s", err);
    if (!root)
        return;
    const JsonValue *merges = json_get(json_get(root, "model"), "merges");
    uint32_t n_tokens = tokenizer_vocab_size(from_json);
    const char **tokens = malloc(n_tokens * sizeof *tokens);
    int32_t *types = malloc(n_tokens * sizeof *types);
    for (uint32_t i = 0; i < n_tokens; i++) {
        tokens[i] = tokenizer_token_text(from_json, (int32_t)i);
        types[i] = tokenizer_token_type(from_json, (int32_t)i);
    }
    char **merge_texts = malloc(merges->count * sizeof *merge_texts);
    for (size_t i = 0; i < merges->count; i++) {
        const JsonValue *m = &merges->items[i];
        if (m->type == JSON_STRING) {
            merge_texts[i] = strdup(m->string);
        } else {
            merge_texts[i] = malloc(m->items[0].string_len + m->items[1].string_len + 2);
            sprintf(merge_texts[i], "%s %s", m->items[0].string, m->items[1].string);
        }
    }
    GgufWriter *w = gguf_writer_new();
    gguf_writer_set_string(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_string(w, "tokenizer.ggml.pre", pre_name);
    gguf_writer_set_array_strings(w, "tokenizer.ggml.tokens", tokens, NULL, n_tokens);
    gguf_writer_set_array_i32(w, "tokenizer.ggml.token_type", types, n_tokens);
    gguf_writer_set_array_strings(w, "tokenizer.ggml.merges", (const char *const *)merge_texts,
                                  NULL, merges->count);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)tokenizer_bos(from_json));
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)tokenizer_eos(from_json));
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    char gguf_path[] = "/tmp/ponder-test-tokenizer-XXXXXX";
    int fd = mkstemp(gguf_path);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECKF(fd >= 0 && gguf_writer_write(w, gguf_path, err, sizeof err), "%s", err);
    gguf_writer_free(w);
    for (size_t i = 0; i < merges->count; i++)
        free(merge_texts[i]);
    free(merge_texts);
    free(tokens);
    free(types);
    json_free(root);

    double t0 = seconds_now();
    GgufFile *file = gguf_open(gguf_path, err, sizeof err);
    Tokenizer *tok = file ? tokenizer_from_gguf(file, err, sizeof err) : NULL;
    double elapsed = seconds_now() - t0;
    CHECKF(tok != NULL, "%s", err);
    unlink(gguf_path);
    if (tok) {
        printf("%s via GGUF: loaded %u tokens in %.3f s\n", dir, tokenizer_vocab_size(tok),
               elapsed);
        CHECK(tokenizer_pre(tok) == tokenizer_pre(from_json));
        CHECK(tokenizer_bos(tok) == tokenizer_bos(from_json));
        CHECK(tokenizer_eos(tok) == tokenizer_eos(from_json));
        check_golden_set(tok, set, pre_name);
    }
    tokenizer_free(tok);
    gguf_close(file);
}

// The DeepSeek-V3 vocabulary (R1's own, and R1-0528-Qwen3's qwen3t test files): its
// three-stage pre-tokenizer on golden-vectors-deepseek-v3.json, from tokenizer.json and
// from the same vocabulary written to GGUF with tokenizer.ggml.pre = deepseek-v3.
static void check_deepseek_v3(void)
{
    char err[512];
    JsonValue *golden = json_parse_file(
        test_shared_path("tokenizers/golden-vectors-deepseek-v3.json"), err, sizeof err);
    CHECKF(golden != NULL, "%s", err);
    if (!golden)
        return;
    const JsonValue *set = json_get(json_get(golden, "sets"), "deepseek-v3");
    CHECK(set && set->count == 308);
    double seconds;
    Tokenizer *tok = load_json("tokenizers/deepseek-v3", &seconds);
    if (tok && set) {
        printf("deepseek-v3: loaded %u tokens in %.3f s\n", tokenizer_vocab_size(tok), seconds);
        CHECK(tokenizer_pre(tok) == TOKENIZER_PRE_DEEPSEEK_V3);
        check_golden_set(tok, set, "deepseek-v3");
        check_full_vocab_gguf(tok, "tokenizers/deepseek-v3", "deepseek-v3", set);
    }
    tokenizer_free(tok);
    json_free(golden);
}

static void check_bad_json(void)
{
    char err[512];
    Tokenizer *tok = tokenizer_from_json("/nonexistent/tokenizer.json", NULL, err, sizeof err);
    CHECK(tok == NULL && strstr(err, "/nonexistent/tokenizer.json"));
}

int main(void)
{
    char err[512];
    JsonValue *golden =
        json_parse_file(test_shared_path("tokenizers/golden-vectors.json"), err, sizeof err);
    if (!golden)
        return test_skip(err);
    const JsonValue *sets = json_get(golden, "sets");
    struct {
        const char *name;
        bool qwen;
    } tokenizers[] = {{"deepseek-r1-distill-qwen", true}, {"llama-3.1", false}};
    Tokenizer *loaded[2] = {NULL, NULL};
    for (int t = 0; t < 2; t++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tokenizers/%s", tokenizers[t].name);
        double seconds;
        Tokenizer *tok = loaded[t] = load_json(dir, &seconds);
        if (!tok)
            continue;
        printf("%s: loaded %u tokens in %.3f s\n", tokenizers[t].name, tokenizer_vocab_size(tok),
               seconds);
        const JsonValue *set = json_get(sets, tokenizers[t].name);
        CHECK(set && set->count == 308);
        check_api(tok, tokenizers[t].qwen);
        check_golden_set(tok, set, tokenizers[t].name);
        check_decoder_rules(tok);
        check_speed(tok, set, tokenizers[t].name);
        if (tokenizers[t].qwen) {
            check_llama_cpp_vectors(tok, "deepseek-r1-qwen");
            check_llama_cpp_vectors(tok, "qwen2");
            check_gguf(tok, set);
            check_full_vocab_gguf(tok, dir, "deepseek-r1-qwen", set);
        } else {
            check_llama_cpp_vectors(tok, "llama-bpe");
            check_binary_round_trip(tok, tokenizers[t].name); // no normaliser to change bytes
            check_full_vocab_gguf(tok, dir, "llama-bpe", set);
        }
    }
    check_deepseek_v3();
    check_bad_json();
    check_hostile_gguf();
    tokenizer_free(loaded[0]);
    tokenizer_free(loaded[1]);
    json_free(golden);
    return test_finish();
}
