// Ties a generation to the store. Text arrives coalesced per frame; writing each delta
// would cost a transaction per frame, so the reply marks itself dirty and a timer writes
// the latest text once per interval. The prompt is built from the stored path (system
// prompt, then each turn; answers without their reasoning), never from what the window
// happens to show.
#include "ponder-reply.h"

#include "ponder-json-guard.h"
#include "ponder-sampling.h"

#include <json-glib/json-glib.h>

struct _PonderReply {
    GObject parent_instance;

    // Owned references.
    PonderStore *store;
    PonderGeneration *generation;

    gint64 user_message_id;
    gint64 answer_id;
    char *model_name;
    guint save_interval_ms;
    GString *reasoning; // the whole answer so far (a continuation's earlier text included)
    GString *answer;
    gboolean dirty;         // text newer than the last successful save
    gboolean final_pending; // the end happened but its save failed
    gboolean saved;
    guint save_timer;
};

G_DEFINE_FINAL_TYPE(PonderReply, ponder_reply, G_TYPE_OBJECT)

enum { SIGNAL_FINISHED, SIGNAL_SAVE_FAILED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void ponder_reply_dispose(GObject *object)
{
    PonderReply *self = PONDER_REPLY(object);
    g_clear_handle_id(&self->save_timer, g_source_remove);
    if (self->generation)
        g_signal_handlers_disconnect_by_data(self->generation, self);
    g_clear_object(&self->generation);
    g_clear_object(&self->store);
    G_OBJECT_CLASS(ponder_reply_parent_class)->dispose(object);
}

static void ponder_reply_finalize(GObject *object)
{
    PonderReply *self = PONDER_REPLY(object);
    g_free(self->model_name);
    g_string_free(self->reasoning, TRUE);
    g_string_free(self->answer, TRUE);
    G_OBJECT_CLASS(ponder_reply_parent_class)->finalize(object);
}

static void ponder_reply_class_init(PonderReplyClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->dispose = ponder_reply_dispose;
    object_class->finalize = ponder_reply_finalize;
    // The answer ended; ponder_reply_is_saved() says whether its end reached the disk.
    signals[SIGNAL_FINISHED] = g_signal_new("finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 0);
    // A save failed (usually a full disk); the text is kept in memory.
    signals[SIGNAL_SAVE_FAILED] =
        g_signal_new("save-failed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void ponder_reply_init(PonderReply *self)
{
    self->reasoning = g_string_new(NULL);
    self->answer = g_string_new(NULL);
}

// ---- saving --------------------------------------------------------------------------

static void report_save_error(PonderReply *self, GError *error)
{
    g_warning("could not save answer %" G_GINT64_FORMAT ": %s", self->answer_id, error->message);
    g_signal_emit(self, signals[SIGNAL_SAVE_FAILED], 0, error);
}

static void save_partial(PonderReply *self)
{
    if (!self->dirty)
        return;
    g_autoptr(GError) error = NULL;
    if (ponder_store_save_partial_answer(self->store, self->answer_id, self->answer->str,
                                         self->reasoning->len ? self->reasoning->str : NULL,
                                         &error))
        self->dirty = FALSE;
    else
        report_save_error(self, error);
}

static gboolean on_save_timer(gpointer data)
{
    save_partial(data);
    return G_SOURCE_CONTINUE;
}

void ponder_answer_stats_from_generation(PonderGeneration *g, PonderAnswerStats *out)
{
    PonderGenerationStats stats;
    ponder_generation_get_stats(g, &stats);
    PonderFinishReason finish = ponder_generation_get_finish_reason(g);
    const GError *failure = ponder_generation_get_error(g);
    *out = (PonderAnswerStats){
        // A generation that never finished is stored as failed, never as still streaming.
        .finish = finish == PONDER_FINISH_NONE ? PONDER_FINISH_ERROR : finish,
        .prompt_tokens = stats.prompt_tokens,
        .completion_tokens = stats.completion_tokens,
        .first_token_s = stats.completion_tokens ? (stats.queued_us + stats.prefill_us) / 1e6 : -1,
        .total_s = stats.total_us / 1e6,
        .tokens_per_second =
            stats.decode_us > 0 ? stats.completion_tokens / (stats.decode_us / 1e6) : -1,
        .error = failure ? failure->message : NULL,
    };
}

static gboolean save_final(PonderReply *self, GError **error)
{
    PonderAnswerStats answer_stats;
    ponder_answer_stats_from_generation(self->generation, &answer_stats);
    if (!ponder_store_finish_answer(self->store, self->answer_id, self->answer->str,
                                    self->reasoning->len ? self->reasoning->str : NULL,
                                    &answer_stats, error))
        return FALSE;
    self->final_pending = FALSE;
    self->dirty = FALSE;
    self->saved = TRUE;
    return TRUE;
}

// ---- the generation's signals --------------------------------------------------------

static void on_reasoning(PonderGeneration *g, const char *text, PonderReply *self)
{
    g_string_append(self->reasoning, text);
    self->dirty = TRUE;
}

static void on_answer(PonderGeneration *g, const char *text, PonderReply *self)
{
    g_string_append(self->answer, text);
    self->dirty = TRUE;
}

static void on_finished(PonderGeneration *g, PonderReply *self)
{
    g_clear_handle_id(&self->save_timer, g_source_remove);
    self->final_pending = TRUE;
    g_autoptr(GError) error = NULL;
    if (!save_final(self, &error))
        report_save_error(self, error);
    g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
}

// ---- building the request ------------------------------------------------------------

// The conversation's sampling; a seed it does not fix is new for every answer, so that
// Regenerate gives another answer (the one used is stored with it). Settings that cannot be
// read leave R1's defaults (the reason goes to the log).
static void sampling_from_settings(const char *settings_json, SamplerParams *out)
{
    *out = sampler_default_params();
    out->seed = ((guint64)g_random_int() << 32) | g_random_int();
    g_autoptr(GError) error = NULL;
    SamplerParams read = *out;
    if (settings_json && !ponder_sampling_from_json(settings_json, &read, NULL, &error))
        g_message("the conversation's sampling settings are not used: %s", error->message);
    else
        *out = read;
}

// The conversation up to and including USER_MESSAGE_ID, as the engine takes it. The
// returned array holds ChatMessage whose texts point into *PATH.
static GArray *messages_for(PonderStore *store, const PonderConversation *conversation,
                            gint64 user_message_id, GPtrArray **path, GError **error)
{
    *path = ponder_store_get_path_to_leaf(store, user_message_id, error);
    if (!*path)
        return NULL;
    GArray *messages = g_array_new(FALSE, FALSE, sizeof(ChatMessage));
    if (conversation->system_prompt && *conversation->system_prompt) {
        ChatMessage system = {CHAT_ROLE_SYSTEM, conversation->system_prompt};
        g_array_append_val(messages, system);
    }
    for (guint i = 0; i < (*path)->len; i++) {
        const PonderMessage *m = g_ptr_array_index(*path, i);
        ChatMessage message = {.text = m->content};
        switch (m->role) {
        case PONDER_MESSAGE_ROLE_SYSTEM: message.role = CHAT_ROLE_SYSTEM; break;
        case PONDER_MESSAGE_ROLE_USER: message.role = CHAT_ROLE_USER; break;
        case PONDER_MESSAGE_ROLE_ASSISTANT:
            message.role = CHAT_ROLE_ASSISTANT;
            // A failed answer with no text says nothing to the model.
            if (!*m->content)
                continue;
            break;
        }
        g_array_append_val(messages, message);
    }
    return messages;
}

// Begins the answer row under USER_MESSAGE_ID and submits the generation. PARTIAL: the
// text to continue (NULL for a fresh answer).
static PonderReply *start(PonderStore *store, PonderEngine *engine, gint64 user_message_id,
                          const PonderPartialAnswer *partial, const PonderReplyOptions *options,
                          GError **error)
{
    PonderReplyOptions defaults = {0};
    if (!options)
        options = &defaults;
    g_autoptr(PonderMessage) question = ponder_store_get_message(store, user_message_id, error);
    if (!question)
        return NULL;
    if (question->role != PONDER_MESSAGE_ROLE_USER) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "message %" G_GINT64_FORMAT " is not a question", user_message_id);
        return NULL;
    }
    g_autoptr(PonderConversation) conversation =
        ponder_store_get_conversation(store, question->conversation_id, error);
    if (!conversation)
        return NULL;
    g_autoptr(GPtrArray) path = NULL;
    g_autoptr(GArray) messages = messages_for(store, conversation, user_message_id, &path, error);
    if (!messages)
        return NULL;

    SamplerParams sampling;
    if (options->sampling)
        sampling = *options->sampling;
    else
        sampling_from_settings(conversation->settings_json, &sampling);
    g_autoptr(PonderGeneration) generation =
        ponder_generation_new_chat((const ChatMessage *)messages->data, messages->len, partial);
    ponder_generation_set_priority(generation, options->priority);
    ponder_generation_set_sampling(generation, &sampling);
    ponder_generation_set_max_tokens(generation, options->max_tokens);
    ponder_generation_set_ignore_eos(generation, options->ignore_eos);

    g_autofree char *sampling_json = ponder_sampling_to_json(&sampling, TRUE, options->max_tokens);
    gint64 answer_id = ponder_store_begin_answer(store, user_message_id, options->model_name,
                                                 sampling_json, error);
    if (!answer_id)
        return NULL;
    PonderReply *self = g_object_new(PONDER_TYPE_REPLY, NULL);
    self->store = g_object_ref(store);
    self->generation = g_object_ref(generation);
    self->user_message_id = user_message_id;
    self->answer_id = answer_id;
    self->model_name = g_strdup(options->model_name);
    self->save_interval_ms = options->save_interval_ms ? options->save_interval_ms : 1000;
    if (partial) {
        g_string_append(self->reasoning, partial->reasoning ? partial->reasoning : "");
        g_string_append(self->answer, partial->answer ? partial->answer : "");
        self->dirty = TRUE;
        save_partial(self);
    }
    g_signal_connect(generation, "reasoning-delta", G_CALLBACK(on_reasoning), self);
    g_signal_connect(generation, "answer-delta", G_CALLBACK(on_answer), self);
    g_signal_connect(generation, "finished", G_CALLBACK(on_finished), self);
    GError *submit_error = NULL;
    if (!ponder_engine_submit(engine, generation, &submit_error)) {
        // The answer row says why there is no answer; the question stays for a retry.
        PonderAnswerStats failed = {.finish = PONDER_FINISH_ERROR,
                                    .prompt_tokens = -1,
                                    .completion_tokens = -1,
                                    .first_token_s = -1,
                                    .total_s = -1,
                                    .tokens_per_second = -1,
                                    .error = submit_error->message};
        ponder_store_finish_answer(store, answer_id, self->answer->str, NULL, &failed, NULL);
        g_propagate_error(error, submit_error);
        g_object_unref(self);
        return NULL;
    }
    self->save_timer = g_timeout_add(self->save_interval_ms, on_save_timer, self);
    return self;
}

PonderReply *ponder_reply_send(PonderStore *store, PonderEngine *engine, gint64 conversation_id,
                               gint64 parent_id, const char *text,
                               const PonderReplyOptions *options, GError **error)
{
    if (!parent_id) {
        parent_id = ponder_store_get_selected_leaf(store, conversation_id, error);
        if (error && *error)
            return NULL;
    }
    gint64 user_message_id =
        ponder_store_add_user_message(store, conversation_id, parent_id, text, error);
    if (!user_message_id)
        return NULL;
    return start(store, engine, user_message_id, NULL, options, error);
}

PonderReply *ponder_reply_regenerate(PonderStore *store, PonderEngine *engine,
                                     gint64 user_message_id, const PonderReplyOptions *options,
                                     GError **error)
{
    return start(store, engine, user_message_id, NULL, options, error);
}

PonderReply *ponder_reply_continue(PonderStore *store, PonderEngine *engine, gint64 answer_id,
                                   const PonderReplyOptions *options, GError **error)
{
    g_autoptr(PonderMessage) cut = ponder_store_get_message(store, answer_id, error);
    if (!cut)
        return NULL;
    if (cut->role != PONDER_MESSAGE_ROLE_ASSISTANT || !cut->parent_id) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "message %" G_GINT64_FORMAT " is not an answer", answer_id);
        return NULL;
    }
    // An answer with no text after its reasoning was cut off while still thinking.
    PonderPartialAnswer partial = {.reasoning = cut->reasoning ? cut->reasoning : "",
                                   .answer = *cut->content ? cut->content : NULL};
    return start(store, engine, cut->parent_id, &partial, options, error);
}

void ponder_reply_stop(PonderReply *self)
{
    ponder_generation_cancel(self->generation);
}

PonderGeneration *ponder_reply_get_generation(PonderReply *self)
{
    return self->generation;
}

gint64 ponder_reply_get_user_message_id(PonderReply *self)
{
    return self->user_message_id;
}

gint64 ponder_reply_get_answer_id(PonderReply *self)
{
    return self->answer_id;
}

const char *ponder_reply_get_reasoning(PonderReply *self)
{
    return self->reasoning->str;
}

const char *ponder_reply_get_answer(PonderReply *self)
{
    return self->answer->str;
}

gboolean ponder_reply_is_saved(PonderReply *self)
{
    return self->saved;
}

gboolean ponder_reply_retry_save(PonderReply *self, GError **error)
{
    if (self->final_pending)
        return save_final(self, error);
    if (!self->dirty)
        return TRUE;
    if (!ponder_store_save_partial_answer(self->store, self->answer_id, self->answer->str,
                                          self->reasoning->len ? self->reasoning->str : NULL,
                                          error))
        return FALSE;
    self->dirty = FALSE;
    return TRUE;
}
