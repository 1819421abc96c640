// Chat format and reasoning parser tests.
//
// Prompts: tests/data/chat/cases.json holds conversations with the text the published
// template renders for them (written by hand from the template, and checked against
// jinja2 by tools/check-chat-cases.py). Hugging Face tokenizes that text in one piece
// with added-token matching, so the expected ids are encode(expected, allow_special=true)
// with the full R1 tokenizer, and also the ids Hugging Face `tokenizers` itself gave on
// the GPU machine (tests/data/chat/hf-ids.json). Where message text holds marker
// look-alikes, Ponder keeps them as plain text on purpose (HF would emit control tokens):
// the fixture's "expected_segments" give the ids piece by piece, and HF's must differ.
//
// Reasoning parser: every text is fed whole, split at every byte position, split at every
// pair of positions, and byte by byte; the result must always equal a direct reading of
// the text (drop a leading "<think>", split at the first "</think>").
#include "ponder-infer.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "test-util.h"
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

// ---- Reasoning parser ----------------------------------------------------------------------

typedef struct Collected {
    char thinking[512], answer[512];
    size_t n_thinking, n_answer;
    bool thinking_after_answer;
    bool empty_emit;
} Collected;

static void collect(void *user, ReasoningPhase phase, const char *text, size_t len)
{
    Collected *c = user;
    if (len == 0)
        c->empty_emit = true;
    if (phase == REASONING_PHASE_THINKING) {
        if (c->n_answer > 0)
            c->thinking_after_answer = true;
        if (c->n_thinking + len < sizeof c->thinking) {
            memcpy(c->thinking + c->n_thinking, text, len);
            c->n_thinking += len;
        }
    } else if (c->n_answer + len < sizeof c->answer) {
        memcpy(c->answer + c->n_answer, text, len);
        c->n_answer += len;
    }
}

// The specification, read directly off the whole text. R1_0528: the prompt did not open
// the reasoning, so text that does not start with "<think>" is all answer.
static void split_directly(const char *text, const char **thinking, size_t *n_thinking,
                           const char **answer, bool *cut_off, bool r1_0528)
{
    if (r1_0528 && strncmp(text, "<think>", 7) != 0) {
        *thinking = text;
        *n_thinking = 0;
        *answer = text;
        *cut_off = false;
        return;
    }
    if (strncmp(text, "<think>", 7) == 0)
        text += 7;
    const char *tag = strstr(text, "</think>");
    *thinking = text;
    *n_thinking = tag ? (size_t)(tag - text) : strlen(text);
    *answer = tag ? tag + 8 : "";
    *cut_off = tag == NULL;
}

// Feeds TEXT in pieces ending at CUTS[0..n_cuts) (ascending) and checks the result.
static void check_split(const char *text, const size_t *cuts, size_t n_cuts, const char *how,
                        bool r1_0528)
{
    size_t len = strlen(text);
    Collected c = {0};
    ReasoningParser p;
    reasoning_parser_init(&p);
    p.answer_unless_think = r1_0528; // what reasoning_parser_init_for sets for R1-0528 files
    size_t start = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        reasoning_parser_push(&p, text + start, end - start, collect, &c);
        start = end;
    }
    bool cut_off = reasoning_parser_finish(&p, collect, &c);

    const char *thinking, *answer;
    size_t n_thinking;
    bool expected_cut_off;
    split_directly(text, &thinking, &n_thinking, &answer, &expected_cut_off, r1_0528);
    bool ok = c.n_thinking == n_thinking && memcmp(c.thinking, thinking, n_thinking) == 0 &&
              c.n_answer == strlen(answer) && memcmp(c.answer, answer, c.n_answer) == 0 &&
              cut_off == expected_cut_off && !c.thinking_after_answer && !c.empty_emit;
    CHECKF(ok, "\"%s\" fed %s%s: thinking \"%.*s\" answer \"%.*s\" cut_off %d", text, how,
           r1_0528 ? " (R1-0528)" : "", (int)c.n_thinking, c.thinking, (int)c.n_answer, c.answer,
           cut_off);
}

static void check_parser_text(const char *text)
{
    size_t len = strlen(text);
    for (int r1_0528 = 0; r1_0528 <= 1; r1_0528++) {
        check_split(text, NULL, 0, "whole", r1_0528);
        for (size_t a = 0; a <= len; a++) {
            size_t one[1] = {a};
            check_split(text, one, 1, "in two", r1_0528);
            for (size_t b = a; b <= len && len <= 40; b++) {
                size_t two[2] = {a, b};
                check_split(text, two, 2, "in three", r1_0528);
            }
        }
        size_t *bytes = malloc((len + 1) * sizeof *bytes);
        for (size_t i = 0; i < len; i++)
            bytes[i] = i + 1;
        check_split(text, bytes, len, "byte by byte", r1_0528);
        free(bytes);
    }
}

static void test_reasoning_parser(void)
{
    // Hand-checked expectations first, so the direct reading above is itself tested.
    const struct {
        const char *text, *thinking, *answer;
        bool cut_off;
    } cases[] = {
        {"reasoning</think>answer", "reasoning", "answer", false},
        {"<think>\nsteps</think>\n\nfinal", "\nsteps", "\n\nfinal", false},
        {"no tag at all", "no tag at all", "", true},
        {"</think>direct", "", "direct", false},
        {"a </thi nk b </thx c</think>d</think>e", "a </thi nk b </thx c", "d</think>e", false},
        {"<thinking is fun</think>x", "<thinking is fun", "x", false},
        {"<<</think>", "<<", "", false},
        {"x<think>y</think>z", "x<think>y", "z", false},
        {"<think><think>a</think>b", "<think>a", "b", false},
        {"", "", "", true},
        {"<think>", "", "", true},
        {"<thi", "<thi", "", true},
        {"abc</thin", "abc</thin", "", true},
        {"</think</think>", "</think", "", false},
        {"<</think", "<</think", "", true},
        {"思考する</think>答え", "思考する", "答え", false},
        {"<think>\n", "\n", "", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *thinking, *answer;
        size_t n_thinking;
        bool cut_off;
        split_directly(cases[i].text, &thinking, &n_thinking, &answer, &cut_off, false);
        CHECKF(n_thinking == strlen(cases[i].thinking) &&
                   memcmp(thinking, cases[i].thinking, n_thinking) == 0 &&
                   strcmp(answer, cases[i].answer) == 0 && cut_off == cases[i].cut_off,
               "direct reading of \"%s\"", cases[i].text);
        check_parser_text(cases[i].text);
    }

    // Once in the answer everything passes through, including later pushes.
    Collected c = {0};
    ReasoningParser p;
    reasoning_parser_init(&p);
    reasoning_parser_push(&p, "r</think>", 9, collect, &c);
    CHECK(p.phase == REASONING_PHASE_ANSWER);
    reasoning_parser_push(&p, "<think></thi", 12, collect, &c);
    CHECK(!reasoning_parser_finish(&p, collect, &c));
    CHECK(c.n_answer == 12 && memcmp(c.answer, "<think></thi", 12) == 0);

    // R1-0528 by hand: the model opens the reasoning itself, or answers at once.
    const struct {
        const char *text, *thinking, *answer;
        bool cut_off;
    } opened[] = {
        {"<think>\nsteps</think>\n\nfinal", "\nsteps", "\n\nfinal", false},
        {"direct answer", "", "direct answer", false},
        {"<thi", "", "<thi", false},
        {"", "", "", false},
        {"<think>", "", "", true},
        {"reasoning</think>answer", "", "reasoning</think>answer", false},
    };
    for (size_t i = 0; i < sizeof opened / sizeof opened[0]; i++) {
        const char *thinking, *answer;
        size_t n_thinking;
        bool cut_off;
        split_directly(opened[i].text, &thinking, &n_thinking, &answer, &cut_off, true);
        CHECKF(n_thinking == strlen(opened[i].thinking) &&
                   memcmp(thinking, opened[i].thinking, n_thinking) == 0 &&
                   strcmp(answer, opened[i].answer) == 0 && cut_off == opened[i].cut_off,
               "direct reading of \"%s\" (R1-0528)", opened[i].text);
    }
}

// Which format a file gets: from its template and architecture, never its name.
static void test_format_detect(void)
{
    const char *r1 = "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}";
    const char *r1_0528 = "{% if add_generation_prompt %}{{'<｜Assistant｜>'}}{% endif %}";
    const char *chatml = "{{'<|im_start|>assistant\\n'}}";
    CHECK(chat_format_detect("qwen2", r1) == CHAT_FORMAT_R1);
    CHECK(chat_format_detect("qwen3", r1) == CHAT_FORMAT_R1);
    CHECK(chat_format_detect("qwen3", r1_0528) == CHAT_FORMAT_R1_0528);
    CHECK(chat_format_detect("llama", r1_0528) == CHAT_FORMAT_R1_0528);
    CHECK(chat_format_detect("qwen3", NULL) == CHAT_FORMAT_R1_0528);
    CHECK(chat_format_detect("qwen2", NULL) == CHAT_FORMAT_R1);
    CHECK(chat_format_detect("llama", chatml) == CHAT_FORMAT_R1);
    CHECK(chat_template_unsupported_reason(chatml) != NULL);
    CHECK(chat_template_unsupported_reason(r1) == NULL);
    CHECK(chat_template_unsupported_reason(r1_0528) == NULL);
    CHECK(chat_template_unsupported_reason(NULL) == NULL);
}

static void test_strip_reasoning(void)
{
    const struct {
        const char *text, *stripped;
    } cases[] = {
        {"plain answer", "plain answer"},
        {"thoughts</think>answer", "answer"},
        {"<think>\nt\n</think>\n\nanswer", "\n\nanswer"},
        {"a</think>b</think>c", "c"},
        {"</think>", ""},
        {"", ""},
        {"</think", "</think"},
        {"x</think></think", "</think"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = chat_strip_reasoning(cases[i].text);
        CHECKF(strcmp(got, cases[i].stripped) == 0, "strip \"%s\" gave \"%s\"", cases[i].text, got);
        CHECK(got >= cases[i].text && got <= cases[i].text + strlen(cases[i].text));
    }
}

// ---- Prompts -----------------------------------------------------------------------------------

static bool same_ids(const char *what, const int32_t *got, int64_t n_got, const int32_t *want,
                     int64_t n_want)
{
    int64_t i = 0;
    while (i < n_got && i < n_want && got[i] == want[i])
        i++;
    if (i == n_got && i == n_want)
        return true;
    fprintf(stderr, "%s: ids differ at %lld (got %lld ids, want %lld): got %d, want %d\n", what,
            (long long)i, (long long)n_got, (long long)n_want, i < n_got ? got[i] : -1,
            i < n_want ? want[i] : -1);
    return false;
}

// Expected ids from the fixture: segments when given, else the whole text with matching.
static int64_t expected_ids(const Tokenizer *tok, const JsonValue *c, int32_t **out)
{
    const JsonValue *segments = json_get(c, "expected_segments");
    if (!segments) {
        const JsonValue *text = json_get(c, "expected");
        return tokenizer_encode(tok, text->string, text->string_len, true, out);
    }
    int32_t *all = NULL;
    int64_t n_all = 0;
    for (size_t s = 0; s < segments->count; s++) {
        const JsonValue *seg = &segments->items[s];
        const JsonValue *special = json_get(seg, "special"), *plain = json_get(seg, "plain");
        const JsonValue *text = special ? special : plain;
        int32_t *piece = NULL;
        int64_t n = tokenizer_encode(tok, text->string, text->string_len, special != NULL, &piece);
        if (n < 0) {
            free(all);
            return -1;
        }
        all = realloc(all, (size_t)(n_all + n + 1) * sizeof *all);
        memcpy(all + n_all, piece, (size_t)n * sizeof *piece);
        n_all += n;
        free(piece);
    }
    *out = all;
    return n_all;
}

// Builds the case's prompt with TOK; fills *N_MESSAGES. Messages point into the JSON tree.
static ChatMessage *case_messages(const JsonValue *c, size_t *n_messages)
{
    const JsonValue *messages = json_get(c, "messages");
    ChatMessage *out = calloc(messages->count + 1, sizeof *out);
    for (size_t i = 0; i < messages->count; i++) {
        const JsonValue *m = &messages->items[i];
        const char *role = json_get_string(m, "role", "");
        out[i].role = strcmp(role, "system") == 0 ? CHAT_ROLE_SYSTEM
                      : strcmp(role, "user") == 0 ? CHAT_ROLE_USER
                                                  : CHAT_ROLE_ASSISTANT;
        const JsonValue *content = json_get(m, "content");
        out[i].text = content && content->type == JSON_STRING ? content->string : NULL;
    }
    *n_messages = messages->count;
    return out;
}

// Hugging Face's ids for case NAME as a malloc'd array; -1 when the case is not there.
static int64_t hf_ids(const JsonValue *doc, const char *name, int32_t **out)
{
    const JsonValue *ids = json_get(json_get(doc, "ids"), name);
    if (!ids || ids->type != JSON_ARRAY)
        return -1;
    *out = malloc((ids->count + 1) * sizeof **out);
    for (size_t i = 0; i < ids->count; i++)
        (*out)[i] = (int32_t)ids->items[i].integer;
    return (int64_t)ids->count;
}

static void test_prompts(const Tokenizer *tok)
{
    char err[256];
    JsonValue *hf =
        json_parse_file(test_source_path("tests/data/chat/hf-ids.json"), err, sizeof err);
    CHECKF(hf != NULL, "hf-ids.json: %s", err);
    JsonValue *doc =
        json_parse_file(test_source_path("tests/data/chat/cases.json"), err, sizeof err);
    CHECKF(doc != NULL, "cases.json: %s", err);
    if (!doc || !hf) {
        json_free(hf);
        json_free(doc);
        return;
    }
    const JsonValue *cases = json_get(doc, "cases");
    CHECK(cases && cases->count >= 8);
    for (size_t i = 0; cases && i < cases->count; i++) {
        const JsonValue *c = &cases->items[i];
        const char *name = json_get_string(c, "name", "?");
        size_t n_messages;
        ChatMessage *messages = case_messages(c, &n_messages);
        int32_t *ids = NULL, *want = NULL;
        int64_t n = chat_build_prompt(tok, messages, n_messages,
                                      json_get_bool(c, "add_generation_prompt", false), &ids, err,
                                      sizeof err);
        CHECKF(n > 0, "%s: %s", name, err);
        int64_t n_want = expected_ids(tok, c, &want);
        CHECKF(n > 0 && n_want > 0 && same_ids(name, ids, n, want, n_want), "%s", name);

        int32_t *from_hf = NULL;
        int64_t n_from_hf = hf_ids(hf, name, &from_hf);
        CHECKF(n_from_hf > 0, "%s: no ids in hf-ids.json", name);
        if (n_from_hf > 0 && n > 0) {
            bool equal = n == n_from_hf && memcmp(ids, from_hf, (size_t)n * sizeof *ids) == 0;
            if (json_get(c, "expected_segments"))
                CHECKF(!equal, "%s: look-alikes gave HF's control tokens", name);
            else
                CHECKF(same_ids(name, ids, n, from_hf, n_from_hf), "%s: differs from HF", name);
        }
        free(from_hf);

        const JsonValue *expected = json_get(c, "expected");
        // Decoding gives the rendered text back (NFC aside: the unicode case's "e" +
        // combining acute comes back composed).
        char *decoded = n > 0 ? tokenizer_decode(tok, ids, (size_t)n) : NULL;
        if (decoded && !json_get_bool(c, "nfc_changes_text", false))
            CHECKF(strcmp(decoded, expected->string) == 0, "%s: decoded \"%s\"", name, decoded);
        free(decoded);
        free(ids);
        free(want);
        free(messages);
    }
    json_free(doc);
    json_free(hf);
}

static void test_prompt_errors(const Tokenizer *tok)
{
    char err[256] = "";
    int32_t sentinel = 0;
    int32_t *ids = &sentinel; // must be reset to NULL on failure
    ChatMessage bad_role[] = {{(ChatRole)7, "x"}};
    CHECK(chat_build_prompt(tok, bad_role, 1, true, &ids, err, sizeof err) == -1);
    CHECK(ids == NULL && strstr(err, "role") != NULL);
    ChatMessage no_text[] = {{CHAT_ROLE_USER, NULL}};
    CHECK(chat_build_prompt(tok, no_text, 1, true, &ids, err, sizeof err) == -1);
    CHECK(strstr(err, "no text") != NULL);
    CHECK(chat_build_prompt(tok, NULL, 2, true, &ids, err, sizeof err) == -1);

    ChatMarkers m;
    CHECK(chat_find_markers(tok, &m, err, sizeof err));
    CHECK(m.bos == tokenizer_find(tok, "<｜begin▁of▁sentence｜>") && m.bos >= 0);
    CHECK(m.think != m.end_think && m.user != m.assistant);
}

// The R1 ids of the real tokenizer.
static void test_r1_tokenizer(void)
{
    char err[256];
    const char *json_path = test_shared_path("tokenizers/deepseek-r1-distill-qwen/tokenizer.json");
    char json_copy[4096];
    snprintf(json_copy, sizeof json_copy, "%s", json_path);
    Tokenizer *tok = tokenizer_from_json(
        json_copy, test_shared_path("tokenizers/deepseek-r1-distill-qwen/tokenizer_config.json"),
        err, sizeof err);
    CHECKF(tok != NULL, "R1 tokenizer: %s", err);
    if (!tok)
        return;
    ChatMarkers m;
    CHECK(chat_find_markers(tok, &m, err, sizeof err));
    // The shared README lists these ids for R1-Distill-Qwen.
    CHECK(m.eos == 151643 && m.user == 151644 && m.assistant == 151645 && m.bos == 151646 &&
          m.think == 151648 && m.end_think == 151649);
    test_prompts(tok);
    test_prompt_errors(tok);

    // R1-0528's format: a system prompt, and the generation prompt ends at <｜Assistant｜>.
    ChatMessage chat[] = {{CHAT_ROLE_SYSTEM, "Be brief."}, {CHAT_ROLE_USER, "Hi"}};
    int32_t *r1_ids = NULL, *ids = NULL;
    int64_t n_r1 = chat_build_prompt(tok, chat, 2, true, &r1_ids, err, sizeof err);
    tokenizer_set_generation_opens_think(tok, false);
    int64_t n = chat_build_prompt(tok, chat, 2, true, &ids, err, sizeof err);
    CHECKF(n > 2 && n_r1 == n + 2 && memcmp(ids, r1_ids, (size_t)n * sizeof *ids) == 0 &&
               ids[n - 1] == m.assistant && r1_ids[n] == m.think,
           "R1-0528 prompt: %lld ids, R1 %lld", (long long)n, (long long)n_r1);
    ReasoningParser p;
    reasoning_parser_init_for(&p, tok);
    CHECK(p.answer_unless_think);
    tokenizer_set_generation_opens_think(tok, true);
    reasoning_parser_init_for(&p, tok);
    CHECK(!p.answer_unless_think);
    free(ids);
    free(r1_ids);
    tokenizer_free(tok);
}

// Llama 3.1's own tokenizer has no R1 markers: a clear error, not a wrong prompt.
static void test_llama_tokenizer(void)
{
    char err[256] = "";
    char json_path[4096];
    snprintf(json_path, sizeof json_path, "%s",
             test_shared_path("tokenizers/llama-3.1/tokenizer.json"));
    Tokenizer *tok = tokenizer_from_json(
        json_path, test_shared_path("tokenizers/llama-3.1/tokenizer_config.json"), err, sizeof err);
    CHECKF(tok != NULL, "llama tokenizer: %s", err);
    if (!tok)
        return;
    ChatMarkers m;
    err[0] = 0;
    CHECK(!chat_find_markers(tok, &m, err, sizeof err));
    CHECKF(strstr(err, "<｜begin▁of▁sentence｜>") && strstr(err, "DeepSeek-R1"), "%s", err);
    ChatMessage hello[] = {{CHAT_ROLE_USER, "hello"}};
    int32_t *ids = NULL;
    CHECK(chat_build_prompt(tok, hello, 1, true, &ids, err, sizeof err) == -1 && ids == NULL);
    tokenizer_free(tok);
}

// The tiny GGUF vocabulary holds the markers at 1024-1030: found by their text.
static void test_tiny_gguf(void)
{
    char err[256];
    char path[4096];
    snprintf(path, sizeof path, "%s", test_shared_path("models/qwen2-f16.gguf"));
    GgufFile *file = gguf_open(path, err, sizeof err);
    CHECKF(file != NULL, "%s: %s", path, err);
    if (!file)
        return;
    Tokenizer *tok = tokenizer_from_gguf(file, err, sizeof err);
    CHECKF(tok != NULL, "tiny tokenizer: %s", err);
    if (tok) {
        ChatMarkers m;
        CHECK(chat_find_markers(tok, &m, err, sizeof err));
        CHECK(m.eos == 1024 && m.user == 1025 && m.assistant == 1026 && m.bos == 1027 &&
              m.think == 1029 && m.end_think == 1030);
        ChatMessage chat[] = {
            {CHAT_ROLE_SYSTEM, "Be brief."},
            {CHAT_ROLE_USER, "Hi there"},
            {CHAT_ROLE_ASSISTANT, "hmm</think>Hello"},
            {CHAT_ROLE_USER, "Bye"},
        };
        int32_t *ids = NULL, *want = NULL;
        int64_t n = chat_build_prompt(tok, chat, 4, true, &ids, err, sizeof err);
        const char *text = "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hi there<｜Assistant｜>Hello"
                           "<｜end▁of▁sentence｜><｜User｜>Bye<｜Assistant｜><think>\n";
        int64_t n_want = tokenizer_encode(tok, text, strlen(text), true, &want);
        CHECKF(n > 0 && n_want > 0 && same_ids("tiny gguf", ids, n, want, n_want), "%s", err);
        CHECK(n > 0 && ids[0] == 1027 && ids[n - 2] == 1029);
        free(ids);
        free(want);
        tokenizer_free(tok);
    }
    gguf_close(file);
}

int main(void)
{
    test_reasoning_parser();
    test_strip_reasoning();
    test_format_detect();
    test_r1_tokenizer();
    test_llama_tokenizer();
    test_tiny_gguf();
    return test_finish();
}
