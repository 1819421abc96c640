// Fitting a conversation into the context. The R1 format puts special markers between
// messages, so leaving a turn out never changes how the others tokenize: trying shorter
// and shorter conversations with chat_build_prompt is exact, and conversations have few
// turns, so the linear search costs little next to the prefill that follows.
#include "ponder-chat-prompt.h"

#include <stdlib.h>
#include <string.h>

// clang-format off
G_DEFINE_QUARK(ponder-chat-prompt-error-quark, ponder_chat_prompt_error)
// clang-format on

// Plain-text ids of TEXT appended to IDS (user text is never parsed as special tokens).
static gboolean append_plain(GArray *ids, const Tokenizer *tok, const char *text, GError **error)
{
    if (!text || !*text)
        return TRUE;
    int32_t *piece = NULL;
    int64_t n = tokenizer_encode(tok, text, strlen(text), false, &piece);
    if (n < 0) {
        g_set_error(error, PONDER_CHAT_PROMPT_ERROR, PONDER_CHAT_PROMPT_ERROR_INVALID,
                    "the text could not be tokenized");
        return FALSE;
    }
    g_array_append_vals(ids, piece, (guint)n);
    free(piece);
    return TRUE;
}

// The ids of MESSAGES without the first N_SKIP droppable ones; -1 on a tokenizer error.
static gboolean build_without(const Tokenizer *tok, const ChatMessage *messages, gsize n_messages,
                              const gboolean *droppable, gsize n_skip, GArray *out, GError **error)
{
    g_autofree ChatMessage *kept = g_new(ChatMessage, n_messages);
    gsize n_kept = 0, skipped = 0;
    for (gsize i = 0; i < n_messages; i++) {
        if (droppable[i] && skipped < n_skip) {
            skipped++;
            continue;
        }
        kept[n_kept++] = messages[i];
    }
    int32_t *ids = NULL;
    char msg[256];
    int64_t n = chat_build_prompt(tok, kept, n_kept, true, &ids, msg, sizeof msg);
    if (n < 0) {
        g_set_error(error, PONDER_CHAT_PROMPT_ERROR, PONDER_CHAT_PROMPT_ERROR_INVALID, "%s", msg);
        return FALSE;
    }
    g_array_set_size(out, 0);
    g_array_append_vals(out, ids, (guint)n);
    free(ids);
    return TRUE;
}

gboolean ponder_chat_prompt_build(const Tokenizer *tok, const ChatMessage *messages,
                                  gsize n_messages, const PonderPartialAnswer *partial,
                                  guint max_tokens, PonderChatPrompt *out, GError **error)
{
    memset(out, 0, sizeof *out);
    gssize last_user = -1;
    for (gsize i = 0; i < n_messages; i++)
        if (messages[i].role != CHAT_ROLE_SYSTEM)
            last_user = messages[i].role == CHAT_ROLE_USER ? (gssize)i : -1;
    if (last_user < 0) {
        g_set_error(error, PONDER_CHAT_PROMPT_ERROR, PONDER_CHAT_PROMPT_ERROR_INVALID,
                    "the conversation does not end in a user message");
        return FALSE;
    }
    ChatMarkers markers;
    char msg[256];
    if (!chat_find_markers(tok, &markers, msg, sizeof msg)) {
        g_set_error(error, PONDER_CHAT_PROMPT_ERROR, PONDER_CHAT_PROMPT_ERROR_INVALID, "%s", msg);
        return FALSE;
    }

    // The continuation of a cut-off answer goes after the generation prompt ("<think>\n"; in
    // R1-0528's format, where the model opened "<think>" itself, that tag goes first).
    g_autoptr(GArray) tail = g_array_new(FALSE, FALSE, sizeof(gint32));
    if (partial && !tokenizer_generation_opens_think(tok)) {
        gint32 think = markers.think;
        g_array_append_val(tail, think);
    }
    if (partial) {
        if (!append_plain(tail, tok, partial->reasoning, error))
            return FALSE;
        if (partial->answer) {
            gint32 end_think = markers.end_think;
            g_array_append_val(tail, end_think);
            if (!append_plain(tail, tok, partial->answer, error))
                return FALSE;
        }
    }

    g_autofree gboolean *droppable = g_new0(gboolean, n_messages);
    gsize n_droppable = 0;
    for (gssize i = 0; i < last_user; i++)
        if (messages[i].role != CHAT_ROLE_SYSTEM) {
            droppable[i] = TRUE;
            n_droppable++;
        }

    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint32));
    gsize n_skip = 0;
    for (;;) {
        if (!build_without(tok, messages, n_messages, droppable, n_skip, ids, error))
            return FALSE;
        if (ids->len + tail->len <= max_tokens)
            break;
        if (n_skip == n_droppable) {
            g_set_error(error, PONDER_CHAT_PROMPT_ERROR, PONDER_CHAT_PROMPT_ERROR_TOO_LONG,
                        "the message is too long: the prompt needs %u tokens, but the context "
                        "leaves room for %u",
                        ids->len + tail->len, max_tokens);
            return FALSE;
        }
        // Leave out one whole turn: a user message and every answer up to the next one.
        gsize index = 0, seen = 0;
        for (; index < n_messages; index++)
            if (droppable[index] && seen++ == n_skip)
                break;
        n_skip++;
        for (gsize j = index + 1; j < n_messages && n_skip < n_droppable; j++) {
            if (!droppable[j])
                continue;
            if (messages[j].role == CHAT_ROLE_USER)
                break;
            n_skip++;
        }
    }
    g_array_append_vals(ids, tail->data, tail->len);
    out->n_ids = ids->len;
    out->n_dropped_messages = (guint)n_skip;
    out->ids = (gint32 *)g_array_free(g_steal_pointer(&ids), FALSE);
    return TRUE;
}

void ponder_chat_prompt_clear(PonderChatPrompt *prompt)
{
    g_clear_pointer(&prompt->ids, g_free);
    prompt->n_ids = 0;
    prompt->n_dropped_messages = 0;
}
