// The local API's chats saved as conversations in the history, when the user switched it on
// (Preferences, or `ponder --serve --save-history`); off, nothing a client sends is written.
//
// What is saved: every chat request (/v1/chat/completions, /api/chat) the engine ran, once
// its generation ends: the messages it sent, the answer with its reasoning, the model, the
// sampling and how it ended (stop, length, cancelled, error), in one transaction after the
// client was answered. Raw completions (/v1/completions, /api/generate) are not saved:
// editors send their code completions there, several a minute, and those are no
// conversations. A chat cancelled (the client hung up) or failed after the model wrote
// something keeps that partial text, marked cancelled or failed as the window marks its own
// answers; one that ended before any output (too long for the context, cancelled while
// waiting) is not saved, since the client got nothing but an error and would fill the
// history with copies of a question it retries. Requests the engine refused outright (busy,
// no model) never get here.
//
// Continuing: editor plugins send the whole conversation on every turn. Each answer saved
// here carries a thread key, the SHA-256 of the conversation up to and including it as a
// client sends it back (roles and texts, answers without their reasoning, trimmed). A
// request whose messages up to its last answer match a saved key continues that
// conversation under that answer, adding only what follows it; anything else (an edited
// earlier message, a chat begun before saving was on) starts a new conversation. The same
// turn sent twice (a plugin's "regenerate") adds a second branch beside the first.
//
// A store that fails (a full disk) costs the saved copy only: a warning is logged, and the
// client, answered before the save, never sees it.
#include "ponder-api-server-private.h"
#include "ponder-reply.h"
#include "ponder-sampling.h"

#include <string.h>

struct _PonderApiHistoryRecord {
    // Borrowed: NULL once the server is gone (the record then saves on its own).
    PonderApiServer *server;

    // Owned references.
    PonderStore *store;
    PonderGeneration *generation;

    ChatMessage *messages; // the request's (texts owned), as the engine got them
    gsize n_messages;
    char *model;
    char *sampling_json;
    gboolean discarded; // saving was switched off while it ran
};

static void record_free(PonderApiHistoryRecord *record)
{
    if (record->server)
        g_hash_table_remove(record->server->history_pending, record);
    g_signal_handlers_disconnect_by_data(record->generation, record);
    g_object_unref(record->generation);
    g_object_unref(record->store);
    for (gsize i = 0; i < record->n_messages; i++)
        g_free((char *)record->messages[i].text);
    g_free(record->messages);
    g_free(record->model);
    g_free(record->sampling_json);
    g_free(record);
}

// ---- thread keys -------------------------------------------------------------------------

// One message in a key: its role and length, then its text without surrounding whitespace
// (which clients trim or keep as they like).
static void hash_message(GChecksum *sum, ChatRole role, const char *text)
{
    while (g_ascii_isspace(*text))
        text++;
    gsize length = strlen(text);
    while (length && g_ascii_isspace(text[length - 1]))
        length--;
    char header[48];
    int n = g_snprintf(header, sizeof header, "%d %" G_GSIZE_FORMAT "\n", (int)role, length);
    g_checksum_update(sum, (const guchar *)header, n);
    g_checksum_update(sum, (const guchar *)text, (gssize)length);
}

// The key of the conversation MESSAGES[0..N), followed by ANSWER when it is not NULL.
static char *thread_key(const ChatMessage *messages, gsize n, const char *answer)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    for (gsize i = 0; i < n; i++)
        hash_message(sum, messages[i].role, messages[i].text);
    if (answer)
        hash_message(sum, CHAT_ROLE_ASSISTANT, answer);
    char *key = g_strdup(g_checksum_get_string(sum));
    g_checksum_free(sum);
    return key;
}

// ---- saving ----------------------------------------------------------------------------------

static PonderMessageRole store_role(ChatRole role)
{
    switch (role) {
    case CHAT_ROLE_SYSTEM: return PONDER_MESSAGE_ROLE_SYSTEM;
    case CHAT_ROLE_ASSISTANT: return PONDER_MESSAGE_ROLE_ASSISTANT;
    case CHAT_ROLE_USER: break;
    }
    return PONDER_MESSAGE_ROLE_USER;
}

static void save(PonderApiHistoryRecord *r)
{
    PonderGeneration *g = r->generation;
    PonderAnswerStats stats;
    ponder_answer_stats_from_generation(g, &stats);
    const char *reasoning = ponder_generation_get_reasoning(g);
    const char *answer = ponder_generation_get_answer(g);
    gboolean ended = stats.finish == PONDER_FINISH_STOP || stats.finish == PONDER_FINISH_LENGTH;
    if (!ended && !*reasoning && !*answer)
        return;

    // Where it goes: under the saved answer that the messages up to the last answer lead to.
    const ChatMessage *m = r->messages;
    gsize n = r->n_messages, prefix = 0, last_user = 0;
    for (gsize i = 0; i < n; i++) {
        if (m[i].role == CHAT_ROLE_ASSISTANT)
            prefix = i + 1;
        else if (m[i].role == CHAT_ROLE_USER)
            last_user = i;
    }
    g_autoptr(GError) error = NULL;
    gint64 after = 0;
    if (prefix) {
        g_autofree char *key = thread_key(m, prefix, NULL);
        after = ponder_store_find_api_answer(r->store, key, &error);
        if (error) {
            g_warning("could not save the API conversation in the history: %s", error->message);
            return;
        }
    }

    // What is new: everything, or what follows the answer it continues. A new conversation's
    // first system message is its system prompt. Any system messages after the last question
    // go before it, so the answer sits under its question (R1 reads the last system message
    // wherever it is).
    gsize first = after ? prefix : 0;
    const char *system_prompt = NULL;
    if (!after && m[0].role == CHAT_ROLE_SYSTEM) {
        system_prompt = m[0].text;
        first = 1;
    }
    g_autoptr(GArray) added = g_array_new(FALSE, FALSE, sizeof(PonderExchangeMessage));
    g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
    const char *title_text = NULL;
    for (gsize i = first; i < n; i++) {
        gsize k = i < last_user ? i : i + 1 < n ? i + 1 : last_user;
        PonderExchangeMessage message = {store_role(m[k].role), m[k].text, NULL};
        if (m[k].role == CHAT_ROLE_ASSISTANT) {
            message.thread_key = thread_key(m, k + 1, NULL);
            g_ptr_array_add(keys, (char *)message.thread_key);
        }
        if (!title_text && m[k].role == CHAT_ROLE_USER)
            title_text = m[k].text;
        g_array_append_val(added, message);
    }
    g_autofree char *title = after ? NULL : ponder_conversation_title_from_text(title_text);
    g_autofree char *key = thread_key(m, n, answer);
    PonderApiExchange exchange = {
        .after_answer_id = after,
        .title = title,
        .system_prompt = system_prompt,
        .messages = (const PonderExchangeMessage *)added->data,
        .n_messages = added->len,
        .model = r->model,
        .sampling_json = r->sampling_json,
        .content = answer,
        .reasoning = *reasoning ? reasoning : NULL,
        .stats = &stats,
        .thread_key = key,
    };
    if (!ponder_store_add_api_exchange(r->store, &exchange, &error))
        g_warning("could not save the API conversation in the history: %s", error->message);
}

static void on_finished(PonderGeneration *generation, PonderApiHistoryRecord *record)
{
    if (!record->discarded)
        save(record);
    record_free(record);
}

// ---- the server's side -----------------------------------------------------------------------

void ponder_api_history_track(PonderApiServer *self, PonderGeneration *generation,
                              const PonderApiParams *params, const char *model)
{
    if (!self->save_history || !self->history_store || params->n_messages == 0)
        return;
    PonderApiHistoryRecord *record = g_new0(PonderApiHistoryRecord, 1);
    record->server = self;
    record->store = g_object_ref(self->history_store);
    record->generation = g_object_ref(generation);
    record->n_messages = params->n_messages;
    record->messages = g_new(ChatMessage, params->n_messages);
    for (gsize i = 0; i < params->n_messages; i++)
        record->messages[i] =
            (ChatMessage){params->messages[i].role, g_strdup(params->messages[i].text)};
    record->model = g_strdup(model);
    record->sampling_json = ponder_sampling_to_json(&params->sampling, TRUE, params->max_tokens);
    g_hash_table_add(self->history_pending, record);
    // After the request's own handler: the client is answered before the save.
    g_signal_connect(generation, "finished", G_CALLBACK(on_finished), record);
}

void ponder_api_history_discard_pending(PonderApiServer *self)
{
    GHashTableIter iter;
    gpointer record;
    g_hash_table_iter_init(&iter, self->history_pending);
    while (g_hash_table_iter_next(&iter, &record, NULL))
        ((PonderApiHistoryRecord *)record)->discarded = TRUE;
}

void ponder_api_history_detach_pending(PonderApiServer *self)
{
    GHashTableIter iter;
    gpointer record;
    g_hash_table_iter_init(&iter, self->history_pending);
    while (g_hash_table_iter_next(&iter, &record, NULL))
        ((PonderApiHistoryRecord *)record)->server = NULL;
    g_hash_table_remove_all(self->history_pending);
}
