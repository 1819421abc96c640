// The DeepSeek-R1 chat format and the reasoning/answer splitter.
//
// The prompt follows the published template (tokenizer_config.json's chat_template) step
// by step; Hugging Face renders it to one string and tokenizes that with added-token
// matching. Added tokens split the string before pre-tokenization, so tokenizing each
// piece between two markers on its own gives the same ids, with one deliberate
// difference: message text is always plain text here, so a user who types
// "<｜User｜>" or "<think>" gets those characters, not the control tokens.
#include "ponder-infer.h"
#include "runtime/error-text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MARK_BOS[] = "<｜begin▁of▁sentence｜>";
static const char MARK_EOS[] = "<｜end▁of▁sentence｜>";
static const char MARK_USER[] = "<｜User｜>";
static const char MARK_ASSISTANT[] = "<｜Assistant｜>";
static const char MARK_THINK[] = "<think>";
static const char MARK_END_THINK[] = "</think>";

// ---- Format and markers -----------------------------------------------------------------

ChatFormat chat_format_detect(const char *arch, const char *template_text)
{
    if (template_text && strstr(template_text, MARK_ASSISTANT)) {
        // The R1 distills' template writes "'<｜Assistant｜><think>\\n'" as the generation
        // prompt; R1-0528's writes "'<｜Assistant｜>'" and nothing after it.
        char forced[64];
        snprintf(forced, sizeof forced, "%s%s", MARK_ASSISTANT, MARK_THINK);
        return strstr(template_text, forced) ? CHAT_FORMAT_R1 : CHAT_FORMAT_R1_0528;
    }
    return arch && strcmp(arch, "qwen3") == 0 ? CHAT_FORMAT_R1_0528 : CHAT_FORMAT_R1;
}

const char *chat_template_unsupported_reason(const char *template_text)
{
    if (template_text && !strstr(template_text, MARK_USER) && strstr(template_text, "<|im_start|>"))
        return "this file uses the ChatML chat format (plain Qwen/Qwen3), which Ponder does not "
               "run; use a DeepSeek-R1 file";
    return NULL;
}

bool chat_find_markers(const Tokenizer *tok, ChatMarkers *out, char *err, size_t err_size)
{
    const struct {
        const char *text;
        int32_t *id;
    } wanted[] = {
        {MARK_BOS, &out->bos},     {MARK_EOS, &out->eos},
        {MARK_USER, &out->user},   {MARK_ASSISTANT, &out->assistant},
        {MARK_THINK, &out->think}, {MARK_END_THINK, &out->end_think},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        *wanted[i].id = tokenizer_find(tok, wanted[i].text);
        if (*wanted[i].id < 0) {
            bool chatml = tokenizer_find(tok, "<|im_start|>") >= 0;
            ponder_failf(err, err_size,
                         chatml ? "the vocabulary has no \"%s\" token: this file uses the ChatML "
                                  "format (plain Qwen/Qwen3), which Ponder does not run; use a "
                                  "DeepSeek-R1 file"
                                : "the vocabulary has no \"%s\" token: not a DeepSeek-R1 tokenizer",
                         wanted[i].text);
            return false;
        }
    }
    return true;
}

// ---- Prompt ------------------------------------------------------------------------------

const char *chat_strip_reasoning(const char *text)
{
    // The template's content.split('</think>')[-1]: the text after the last tag, as is.
    const char *answer = text;
    for (const char *p = strstr(text, MARK_END_THINK); p; p = strstr(p + 1, MARK_END_THINK))
        answer = p + strlen(MARK_END_THINK);
    return answer;
}

typedef struct IdList {
    int32_t *ids;
    size_t n, cap;
} IdList;

static bool ids_reserve(IdList *list, size_t more)
{
    if (list->n + more <= list->cap)
        return true;
    size_t cap = list->cap ? list->cap : 256;
    while (cap < list->n + more)
        cap *= 2;
    int32_t *grown = realloc(list->ids, cap * sizeof *grown);
    if (!grown)
        return false;
    list->ids = grown;
    list->cap = cap;
    return true;
}

static bool ids_push(IdList *list, int32_t id)
{
    if (!ids_reserve(list, 1))
        return false;
    list->ids[list->n++] = id;
    return true;
}

// Appends TEXT tokenized as plain text (never as markers).
static bool ids_push_text(IdList *list, const Tokenizer *tok, const char *text)
{
    if (!*text)
        return true;
    int32_t *piece = NULL;
    int64_t n = tokenizer_encode(tok, text, strlen(text), false, &piece);
    if (n < 0)
        return false;
    bool ok = ids_reserve(list, (size_t)n);
    if (ok) {
        memcpy(list->ids + list->n, piece, (size_t)n * sizeof *piece);
        list->n += (size_t)n;
    }
    free(piece);
    return ok;
}

int64_t chat_build_prompt(const Tokenizer *tok, const ChatMessage *messages, size_t n_messages,
                          bool add_generation_prompt, int32_t **out, char *err, size_t err_size)
{
    *out = NULL;
    if (n_messages > 0 && !messages) {
        ponder_failf(err, err_size, "no messages given");
        return -1;
    }
    ChatMarkers mark;
    if (!chat_find_markers(tok, &mark, err, err_size))
        return -1;

    // The template keeps one system prompt, the last system message's, and puts it right
    // after BOS; later system messages are otherwise ignored where they stand.
    const char *system = "";
    for (size_t i = 0; i < n_messages; i++) {
        const ChatMessage *m = &messages[i];
        if (m->role != CHAT_ROLE_SYSTEM && m->role != CHAT_ROLE_USER &&
            m->role != CHAT_ROLE_ASSISTANT) {
            ponder_failf(err, err_size, "message %zu has an unknown role (%d)", i, (int)m->role);
            return -1;
        }
        // An assistant message without text is skipped, as the template skips content
        // none; a user or system message without text is a caller's mistake.
        if (!m->text && m->role != CHAT_ROLE_ASSISTANT) {
            ponder_failf(err, err_size, "message %zu (%s) has no text", i,
                         m->role == CHAT_ROLE_USER ? "user" : "system");
            return -1;
        }
        if (m->role == CHAT_ROLE_SYSTEM)
            system = m->text;
    }

    IdList list = {0};
    bool ok = ids_push(&list, mark.bos) && ids_push_text(&list, tok, system);
    for (size_t i = 0; ok && i < n_messages; i++) {
        const ChatMessage *m = &messages[i];
        if (m->role == CHAT_ROLE_USER) {
            ok = ids_push(&list, mark.user) && ids_push_text(&list, tok, m->text);
        } else if (m->role == CHAT_ROLE_ASSISTANT && m->text) {
            ok = ids_push(&list, mark.assistant) &&
                 ids_push_text(&list, tok, chat_strip_reasoning(m->text)) &&
                 ids_push(&list, mark.eos);
        }
    }
    if (ok && add_generation_prompt) {
        ok = ids_push(&list, mark.assistant);
        if (ok && tokenizer_generation_opens_think(tok))
            ok = ids_push(&list, mark.think) && ids_push_text(&list, tok, "\n");
    }
    if (!ok) {
        free(list.ids);
        ponder_failf(err, err_size, "out of memory, or text the tokenizer refused");
        return -1;
    }
    *out = list.ids;
    return (int64_t)list.n;
}

// ---- Reasoning parser ------------------------------------------------------------------

// Parser states, kept in ReasoningParser's public fields:
//   !seen_text: at the start, held[] is a proper prefix of "<think>" (maybe empty);
//   seen_text, THINKING: held[] is a proper prefix of "</think>";
//   ANSWER: everything passes straight through, held[] is empty.

void reasoning_parser_init(ReasoningParser *p)
{
    memset(p, 0, sizeof *p);
    p->phase = REASONING_PHASE_THINKING;
}

void reasoning_parser_init_for(ReasoningParser *p, const Tokenizer *tok)
{
    reasoning_parser_init(p);
    p->answer_unless_think = !tokenizer_generation_opens_think(tok);
}

static void emit_text(ReasoningEmit emit, void *user, ReasoningPhase phase, const char *text,
                      size_t len)
{
    if (len > 0)
        emit(user, phase, text, len);
}

void reasoning_parser_push(ReasoningParser *p, const char *text, size_t len, ReasoningEmit emit,
                           void *user)
{
    const size_t think_len = sizeof MARK_THINK - 1;
    const size_t end_think_len = sizeof MARK_END_THINK - 1;
    size_t i = 0;

    // A "<think>" at the very start (some models repeat the prompt's) is dropped.
    while (!p->seen_text && i < len) {
        if (text[i] == MARK_THINK[p->n_held]) {
            p->held[p->n_held++] = text[i++];
            if (p->n_held == think_len) {
                p->n_held = 0;
                p->seen_text = true;
            }
            continue;
        }
        // Not "<think>": the held bytes are replayed as reasoning, where their "<" may
        // still begin "</think>" -- or, where the model had to open the reasoning itself
        // and did not, as the answer.
        p->seen_text = true;
        if (p->answer_unless_think)
            p->phase = REASONING_PHASE_ANSWER;
        char replay[sizeof p->held];
        size_t n_replay = p->n_held;
        memcpy(replay, p->held, n_replay);
        p->n_held = 0;
        reasoning_parser_push(p, replay, n_replay, emit, user);
    }

    // While thinking, held[] is a proper prefix of "</think>". Plain bytes are emitted in
    // runs (text[run_start..i)), flushed before any byte that involves the tag.
    size_t run_start = i;
    while (i < len && p->phase == REASONING_PHASE_THINKING) {
        char c = text[i];
        if (p->n_held == 0 && c != MARK_END_THINK[0]) {
            i++;
            continue;
        }
        emit_text(emit, user, REASONING_PHASE_THINKING, text + run_start, i - run_start);
        if (c == MARK_END_THINK[p->n_held]) {
            p->held[p->n_held++] = c;
            i++;
            if (p->n_held == end_think_len) {
                p->n_held = 0;
                p->phase = REASONING_PHASE_ANSWER;
            }
        } else {
            // Only the tag's first byte is '<', so no suffix of the held bytes can begin
            // the tag again: they are text, and C is looked at afresh.
            emit_text(emit, user, REASONING_PHASE_THINKING, p->held, p->n_held);
            p->n_held = 0;
        }
        run_start = i;
    }
    if (p->phase == REASONING_PHASE_THINKING)
        emit_text(emit, user, REASONING_PHASE_THINKING, text + run_start, i - run_start);
    else
        emit_text(emit, user, REASONING_PHASE_ANSWER, text + i, len - i);
}

bool reasoning_parser_finish(ReasoningParser *p, ReasoningEmit emit, void *user)
{
    // Held bytes never completed their tag: they were text -- the answer where the model
    // had to open the reasoning itself and never did.
    if (!p->seen_text && p->answer_unless_think)
        p->phase = REASONING_PHASE_ANSWER;
    if (p->n_held > 0 && p->phase == REASONING_PHASE_ANSWER)
        emit_text(emit, user, REASONING_PHASE_ANSWER, p->held, p->n_held);
    else if (p->n_held > 0)
        emit_text(emit, user, REASONING_PHASE_THINKING, p->held, p->n_held);
    p->n_held = 0;
    return p->phase == REASONING_PHASE_THINKING;
}
