// libFuzzer target for the R1 chat format on arbitrary text: the streaming reasoning/answer
// parser (reasoning_parser_*) and the prompt renderer (chat_build_prompt, with
// chat_strip_reasoning and the tokenizer under it). Each is checked against a plain
// statement of what it must produce, so a wrong split is a finding, not only a crash:
// - the parser, fed the input in chunks of fuzzer-chosen sizes, emits exactly what
//   splitting the whole text once gives: a leading "<think>" dropped, the reasoning before
//   the first "</think>", the answer after it, reasoning never after answer;
// - the prompt, decoded, is the template's string (BOS, the last system text, each user
//   text, each assistant answer after its last "</think>" closed by EOS, the generation
//   prompt), and the marker tokens appear only where the template puts them (message text
//   is plain text, even when it spells a marker).
//
// Input: byte 0 picks the chunk sizes, the generation prompt (bit 0) and the pre-tokenizer (bit 1:
// Qwen2's, which normalizes, so only the markers are checked); the rest is the generated
// text for the parser and, cut at NUL bytes, the messages (each one's first byte its role).
//
// Build and run as fuzz-gguf.c says, with the seeds of tests/fuzz/corpus-chat:
//   build-fuzz/tests/fuzz/fuzz-chat -max_total_time=60 -dict=tests/fuzz/chat.dict
//       CORPUS tests/fuzz/corpus-chat
// tests/inference/test-fuzz-replay.c runs the seeds and every past finding through
// fuzz_chat_run.
#include "ponder-infer.h"
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_chat_run(const uint8_t *data, size_t size);

static void broken(const char *what)
{
    fprintf(stderr, "chat format invariant broken: %s\n", what);
    abort();
}

// ---- The reasoning parser -------------------------------------------------------------------

typedef struct Split {
    char *text[2]; // [ReasoningPhase]
    size_t len[2];
    ReasoningPhase last_phase;
} Split;

static void collect(void *user, ReasoningPhase phase, const char *text, size_t len)
{
    Split *s = user;
    if (len == 0)
        broken("empty text emitted");
    if (phase < s->last_phase)
        broken("reasoning emitted after the answer");
    s->last_phase = phase;
    memcpy(s->text[phase] + s->len[phase], text, len);
    s->len[phase] += len;
}

static bool equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static const char *find(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay_len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

static void check_parser(const char *text, size_t len, uint8_t chunk_seed)
{
    // What the split must be, from the whole text at once.
    const char *body = text;
    if (len >= 7 && memcmp(text, "<think>", 7) == 0)
        body += 7;
    size_t body_len = len - (size_t)(body - text);
    const char *end = find(body, body_len, "</think>");
    size_t want_reasoning = end ? (size_t)(end - body) : body_len;
    const char *answer = end ? end + 8 : body + body_len;
    size_t want_answer = end ? body_len - want_reasoning - 8 : 0;

    for (int pass = 0; pass < 2; pass++) {
        Split s = {{malloc(len + 1), malloc(len + 1)}, {0, 0}, REASONING_PHASE_THINKING};
        ReasoningParser p;
        reasoning_parser_init(&p);
        uint32_t state = chunk_seed * 2654435761u + 1;
        for (size_t at = 0; at < len;) {
            size_t n = 1; // pass 0: byte by byte; pass 1: chunks of 0 to 15 bytes
            if (pass == 1) {
                state = state * 1103515245u + 12345u;
                n = (state >> 16) % 16;
            }
            if (n > len - at)
                n = len - at;
            reasoning_parser_push(&p, text + at, n, collect, &s);
            at += n;
        }
        bool unfinished = reasoning_parser_finish(&p, collect, &s);
        if (unfinished != (end == NULL))
            broken("finish disagrees on whether the answer began");
        if (!equal(s.text[0], s.len[0], body, want_reasoning))
            broken("the reasoning differs from the text before the first </think>");
        if (!equal(s.text[1], s.len[1], answer, want_answer))
            broken("the answer differs from the text after the first </think>");
        free(s.text[0]);
        free(s.text[1]);
    }
}

// ---- The prompt -----------------------------------------------------------------------------

static const char *const markers[] = {
    "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>",
    "<｜User｜>",
    "<｜Assistant｜>",
    "<think>",
    "</think>",
};
enum { N_MARKERS = sizeof markers / sizeof markers[0], N_BYTE_TOKENS = 256 };

// A byte-level BPE vocabulary: GPT-2's 256 byte tokens, a few merges, the R1 markers, with
// the pre-tokenizer PRE: Llama 3's does not normalize, so decoding gives the text back; Qwen2's
// normalizes to NFC first.
static Tokenizer *make_tokenizer(TokenizerPre pre)
{
    static char storage[N_BYTE_TOKENS + 8][8];
    const char *tokens[N_BYTE_TOKENS + 8 + N_MARKERS];
    int32_t types[N_BYTE_TOKENS + 8 + N_MARKERS];
    uint32_t n = 0, shifted = 0;
    for (unsigned b = 0; b < N_BYTE_TOKENS; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        unsigned cp = printable ? b : 256 + shifted++;
        char *s = storage[n];
        if (cp < 0x80) {
            s[0] = (char)cp;
            s[1] = '\0';
        } else {
            s[0] = (char)(0xC0 | (cp >> 6));
            s[1] = (char)(0x80 | (cp & 0x3F));
            s[2] = '\0';
        }
        types[n] = TOKEN_TYPE_NORMAL;
        tokens[n++] = s;
    }
    static const char *const merges[] = {"h e", "i n", "Ġ t", "Ġt he", "< t", "<t h"};
    static const char *const merged[] = {"he", "in", "Ġt", "Ġthe", "<t", "<th"};
    for (size_t i = 0; i < sizeof merged / sizeof merged[0]; i++) {
        types[n] = TOKEN_TYPE_NORMAL;
        tokens[n++] = merged[i];
    }
    for (size_t i = 0; i < N_MARKERS; i++) {
        types[n] = i < 2 ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_USER_DEFINED;
        tokens[n++] = markers[i];
    }
    size_t token_lens[sizeof tokens / sizeof tokens[0]];
    for (uint32_t i = 0; i < n; i++)
        token_lens[i] = strlen(tokens[i]);
    size_t merge_lens[sizeof merges / sizeof merges[0]];
    for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++)
        merge_lens[i] = strlen(merges[i]);
    TokenizerSpec spec = {
        .pre = pre,
        .normalize_nfc = pre == TOKENIZER_PRE_QWEN2,
        .n_tokens = n,
        .tokens = tokens,
        .token_lens = token_lens,
        .token_types = types,
        .n_merges = sizeof merges / sizeof merges[0],
        .merges = merges,
        .merge_lens = merge_lens,
        .bos_id = (int32_t)(n - N_MARKERS),
        .eos_id = (int32_t)(n - N_MARKERS + 1),
    };
    char err[256];
    Tokenizer *tok = tokenizer_new(&spec, err, sizeof err);
    if (!tok) {
        fprintf(stderr, "fuzz-chat: tokenizer: %s\n", err);
        abort();
    }
    return tok;
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned n = *p < 0x80             ? 0
                     : (*p & 0xE0) == 0xC0 ? 1
                     : (*p & 0xF0) == 0xE0 ? 2
                     : (*p & 0xF8) == 0xF0 ? 3
                                           : 4;
        if (n == 4 || (n == 1 && *p < 0xC2))
            return false;
        unsigned cp = n == 0 ? *p : *p & (0x3F >> n);
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

static void append(char **out, size_t *len, const char *text)
{
    size_t n = strlen(text);
    *out = realloc(*out, *len + n + 1);
    if (!*out)
        abort();
    memcpy(*out + *len, text, n + 1);
    *len += n;
}

static void check_prompt(const Tokenizer *tok, const char *text, size_t len, bool generation)
{
    // The messages: TEXT cut at NUL bytes, each piece's first byte its role.
    ChatMessage messages[64] = {0};
    size_t n_messages = 0;
    bool all_valid = true;
    for (const char *p = text; p < text + len && n_messages < 64; p += strlen(p) + 1) {
        if (*p == '\0')
            continue;
        ChatMessage *m = &messages[n_messages++];
        m->role = (ChatRole)((unsigned char)*p % 3);
        m->text = p + 1;
        all_valid = all_valid && valid_utf8(m->text);
    }
    int32_t *ids = NULL;
    char err[256];
    int64_t n = chat_build_prompt(tok, messages, n_messages, generation, &ids, err, sizeof err);
    if (n < 0)
        broken("a prompt refused");

    // The template's string, and how many of each marker it holds.
    char *want = NULL;
    size_t want_len = 0;
    size_t want_markers[N_MARKERS] = {1, 0, 0, 0, 0, 0};
    const char *system = "";
    for (size_t i = 0; i < n_messages; i++)
        if (messages[i].role == CHAT_ROLE_SYSTEM)
            system = messages[i].text;
    append(&want, &want_len, markers[0]);
    append(&want, &want_len, system);
    for (size_t i = 0; i < n_messages; i++) {
        if (messages[i].role == CHAT_ROLE_USER) {
            append(&want, &want_len, markers[2]);
            append(&want, &want_len, messages[i].text);
            want_markers[2]++;
        } else if (messages[i].role == CHAT_ROLE_ASSISTANT) {
            const char *answer = chat_strip_reasoning(messages[i].text);
            const char *last = NULL;
            for (const char *q = strstr(messages[i].text, "</think>"); q;
                 q = strstr(q + 1, "</think>"))
                last = q;
            if (answer != (last ? last + 8 : messages[i].text))
                broken("chat_strip_reasoning does not cut after the last </think>");
            append(&want, &want_len, markers[3]);
            append(&want, &want_len, answer);
            append(&want, &want_len, markers[1]);
            want_markers[3]++;
            want_markers[1]++;
        }
    }
    if (generation) {
        append(&want, &want_len, "<｜Assistant｜><think>\n");
        want_markers[3]++;
        want_markers[4]++;
    }

    size_t seen[N_MARKERS] = {0};
    uint32_t first_marker = tokenizer_vocab_size(tok) - N_MARKERS;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= tokenizer_vocab_size(tok))
            broken("an id outside the vocabulary");
        if ((uint32_t)ids[i] >= first_marker)
            seen[ids[i] - first_marker]++;
    }
    if (memcmp(seen, want_markers, sizeof seen) != 0)
        broken("marker tokens other than the template's (message text read as a marker?)");
    // Invalid UTF-8 decodes to U+FFFD, as it should, and NFC may change the text.
    if (all_valid && tokenizer_pre(tok) == TOKENIZER_PRE_LLAMA3) {
        char *got = tokenizer_decode(tok, ids, (size_t)n);
        if (!got || strcmp(got, want) != 0)
            broken("the decoded prompt differs from the template's string");
        free(got);
    }
    free(want);
    free(ids);
}

void fuzz_chat_run(const uint8_t *data, size_t size)
{
    static Tokenizer *llama3, *qwen2; // kept for the process: building them is most of a run
    if (!llama3) {
        llama3 = make_tokenizer(TOKENIZER_PRE_LLAMA3);
        qwen2 = make_tokenizer(TOKENIZER_PRE_QWEN2);
    }
    if (size == 0)
        return;
    // A NUL-terminated copy of the text, exactly sized for AddressSanitizer.
    size_t len = size - 1;
    char *text = malloc(len + 1);
    if (!text)
        abort();
    memcpy(text, data + 1, len);
    text[len] = '\0';
    check_parser(text, len, data[0]);
    check_prompt(data[0] & 2 ? qwen2 : llama3, text, len, data[0] & 1);
    free(text);
}

#ifndef PONDER_FUZZ_REPLAY // tests/inference/test-fuzz-replay.c links several targets
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_chat_run(data, size);
    return 0;
}
#endif
