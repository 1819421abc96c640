// The remote provider. One request is one streaming POST: /chat/completions for a chat,
// /completions for a raw prompt, read line by line as server-sent events. R1 servers put the
// reasoning in "reasoning_content" (vLLM, SGLang, DeepSeek, Ponder) or "reasoning" (Ollama,
// newer vLLM); servers without a reasoning parser send it inline in "content" as
// "<think>…</think>", which is split here with the same parser the local engine uses.
#include "ponder-remote-provider.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "chat.h"
#include "ponder-engine.h"
#include "ponder-generation-private.h"

enum {
    MAX_IN_FLIGHT = 32,          // beyond this, "busy", as the local engine's queue
    IO_TIMEOUT_SECONDS = 300,    // a long prefill on a busy server sends nothing for a while
    ERROR_BODY_LIMIT = 64 << 10, // what is read of an error answer
    CANCEL_POLL_MS = 100,        // how soon a cancelled generation closes its connection
};

char *ponder_remote_model_path(const char *model_id)
{
    return g_strconcat(PONDER_REMOTE_MODEL_PREFIX, model_id, NULL);
}

char *ponder_remote_model_id(const char *path)
{
    if (!path || !g_str_has_prefix(path, PONDER_REMOTE_MODEL_PREFIX))
        return NULL;
    return g_strdup(path + strlen(PONDER_REMOTE_MODEL_PREFIX));
}

struct _PonderRemoteProvider {
    GObject parent_instance;
    SoupSession *session;
    char *base_url;
    char *api_key; // NULL: none
    GStrv models;
    gint running; // atomic: read by other threads (the engine's "running" count)
};

G_DEFINE_FINAL_TYPE(PonderRemoteProvider, ponder_remote_provider, G_TYPE_OBJECT)

enum { PROP_0, PROP_MODELS, N_PROPS };
static GParamSpec *properties[N_PROPS];

// ---- requests and errors ----------------------------------------------------------------

static SoupMessage *new_message(PonderRemoteProvider *self, const char *method, const char *route,
                                GBytes *body)
{
    g_autofree char *url = g_strconcat(self->base_url, route, NULL);
    SoupMessage *message = soup_message_new(method, url);
    SoupMessageHeaders *headers = soup_message_get_request_headers(message);
    if (self->api_key) {
        g_autofree char *bearer = g_strconcat("Bearer ", self->api_key, NULL);
        soup_message_headers_replace(headers, "Authorization", bearer);
    }
    if (body)
        soup_message_set_request_body_from_bytes(message, "application/json", body);
    return message;
}

// The message of an OpenAI-style error ({"error": {"message": …}}), Ollama's ({"error": "…"})
// or FastAPI's ({"detail": "…"}); NULL when O has none.
static const char *object_error_message(JsonObject *o)
{
    JsonNode *e = json_object_get_member(o, "error");
    if (e && JSON_NODE_HOLDS_OBJECT(e) && json_object_has_member(json_node_get_object(e), "message"))
        e = json_object_get_member(json_node_get_object(e), "message");
    if (!e)
        e = json_object_get_member(o, "message");
    if (!e)
        e = json_object_get_member(o, "detail");
    if (e && JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING)
        return json_node_get_string(e);
    return NULL;
}

// What an error answer says: its message, else the body itself, shortened.
static char *error_body_message(const char *body)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    if (body && json_parser_load_from_data(parser, body, -1, NULL) &&
        JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        const char *message = object_error_message(json_node_get_object(json_parser_get_root(parser)));
        if (message)
            return g_strdup(message);
    }
    g_autofree char *text = g_strstrip(g_strdup(body ? body : ""));
    if (!*text)
        return g_strdup("no explanation given");
    if (g_utf8_strlen(text, -1) > 200) {
        g_autofree char *start = g_utf8_substring(text, 0, 200);
        return g_strconcat(start, "…", NULL);
    }
    return g_steal_pointer(&text);
}

static GError *http_error(PonderRemoteProvider *self, guint status, const char *body)
{
    g_autofree char *why = error_body_message(body);
    int code = PONDER_ENGINE_ERROR_BACKEND;
    if (status == 429)
        code = PONDER_ENGINE_ERROR_BUSY;
    else if (status == 400 && (strstr(body ? body : "", "context_length_exceeded") ||
                               strstr(why, "context length")))
        code = PONDER_ENGINE_ERROR_PROMPT_TOO_LONG;
    if (status == 401 || status == 403)
        return g_error_new(PONDER_ENGINE_ERROR, code,
                           "The remote server at %s refused the API key (HTTP %u): %s",
                           self->base_url, status, why);
    return g_error_new(PONDER_ENGINE_ERROR, code, "The remote server at %s answered HTTP %u %s: %s",
                       self->base_url, status, soup_status_get_phrase(status), why);
}

static GError *connection_error(PonderRemoteProvider *self, const GError *cause)
{
    return g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND,
                       "Could not reach the remote server at %s: %s", self->base_url,
                       cause->message);
}

// ---- models ------------------------------------------------------------------------------

static void models_read(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GTask) task = data;
    PonderRemoteProvider *self = g_task_get_source_object(task);
    SoupMessage *message = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) body = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
    if (!body) {
        g_task_return_error(task, connection_error(self, error));
        return;
    }
    g_autofree char *text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
    guint status = soup_message_get_status(message);
    if (status != SOUP_STATUS_OK) {
        g_task_return_error(task, http_error(self, status, text));
        return;
    }
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *data_node = NULL;
    if (json_parser_load_from_data(parser, text, -1, NULL) &&
        JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
        data_node = json_object_get_member(json_node_get_object(json_parser_get_root(parser)), "data");
    if (!data_node || !JSON_NODE_HOLDS_ARRAY(data_node)) {
        g_task_return_new_error(task, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND,
                                "The remote server at %s sent a model list without a \"data\" "
                                "array: is it an OpenAI-compatible API root?",
                                self->base_url);
        return;
    }
    g_autoptr(GStrvBuilder) ids = g_strv_builder_new();
    JsonArray *array = json_node_get_array(data_node);
    for (guint i = 0; i < json_array_get_length(array); i++) {
        JsonNode *item = json_array_get_element(array, i);
        if (JSON_NODE_HOLDS_OBJECT(item)) {
            const char *id = json_object_get_string_member_with_default(
                json_node_get_object(item), "id", NULL);
            if (id && *id)
                g_strv_builder_add(ids, id);
        }
    }
    g_strfreev(self->models);
    self->models = g_strv_builder_end(ids);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_MODELS]);
    g_task_return_boolean(task, TRUE);
}

void ponder_remote_provider_refresh_async(PonderRemoteProvider *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(self, cancellable, callback, user_data);
    SoupMessage *message = new_message(self, "GET", "/models", NULL);
    g_task_set_task_data(task, message, g_object_unref);
    soup_session_send_and_read_async(self->session, message, G_PRIORITY_DEFAULT, cancellable,
                                     models_read, task);
}

gboolean ponder_remote_provider_refresh_finish(PonderRemoteProvider *self, GAsyncResult *result,
                                               GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

const char *const *ponder_remote_provider_get_models(PonderRemoteProvider *self)
{
    return (const char *const *)self->models;
}

// ---- one streaming request ----------------------------------------------------------------

typedef struct {
    PonderRemoteProvider *provider; // owned
    PonderGeneration *generation;   // owned; the reference goes to push_finished
    gboolean chat;
    SoupMessage *message;
    GCancellable *cancellable;
    GDataInputStream *lines;
    guint cancel_watch;
    guint status;
    GString *error_body;   // the body of a non-200 answer
    GString *content_head; // chat content held until it shows whether it starts with <think>
    gboolean content_decided, content_tagged;
    ReasoningParser parser; // for tagged content
    gboolean got_reasoning, got_answer;
    gboolean done; // "data: [DONE]"
    PonderFinishReason finish_reason;
    GError *stream_error; // an error sent inside the stream
} RemoteRun;

static void run_push_text(RemoteRun *run, gboolean reasoning, const char *text, gsize len)
{
    if (!len)
        return;
    if (reasoning)
        run->got_reasoning = TRUE;
    else
        run->got_answer = TRUE;
    ponder_generation_push_text(run->generation, reasoning, text, len);
}

static void emit_phase(void *user, ReasoningPhase phase, const char *text, size_t len)
{
    run_push_text(user, phase == REASONING_PHASE_THINKING, text, len);
}

// Chat content: inline "<think>" tags are split like the engine's output; else it is answer.
static void feed_content(RemoteRun *run, const char *text)
{
    if (!run->chat || run->content_decided) {
        if (run->content_tagged)
            reasoning_parser_push(&run->parser, text, strlen(text), emit_phase, run);
        else
            run_push_text(run, FALSE, text, strlen(text));
        return;
    }
    g_string_append(run->content_head, text);
    const char *head = run->content_head->str;
    while (g_ascii_isspace(*head))
        head++;
    gsize n = strlen(head);
    if (n < strlen("<think>") && strncmp(head, "<think>", n) == 0)
        return; // could still become "<think>"
    run->content_decided = TRUE;
    run->content_tagged = !run->got_reasoning && g_str_has_prefix(head, "<think>");
    g_autofree char *held = g_string_free(g_steal_pointer(&run->content_head), FALSE);
    feed_content(run, held);
}

static void handle_event(RemoteRun *run, JsonObject *chunk)
{
    if (json_object_has_member(chunk, "error") && !run->stream_error) {
        const char *message = object_error_message(chunk);
        run->stream_error = g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND,
                                        "The remote server at %s failed in the middle of the "
                                        "answer: %s",
                                        run->provider->base_url,
                                        message ? message : "no explanation given");
        return;
    }
    JsonNode *usage = json_object_get_member(chunk, "usage");
    if (usage && JSON_NODE_HOLDS_OBJECT(usage)) {
        JsonObject *u = json_node_get_object(usage);
        ponder_generation_push_usage(run->generation,
                                     (guint)json_object_get_int_member_with_default(u, "prompt_tokens", 0),
                                     (guint)json_object_get_int_member_with_default(u, "completion_tokens", 0));
    }
    JsonNode *choices = json_object_get_member(chunk, "choices");
    if (!choices || !JSON_NODE_HOLDS_ARRAY(choices) || !json_array_get_length(json_node_get_array(choices)))
        return;
    JsonNode *first = json_array_get_element(json_node_get_array(choices), 0);
    if (!JSON_NODE_HOLDS_OBJECT(first))
        return;
    JsonObject *choice = json_node_get_object(first);
    if (run->chat) {
        JsonNode *delta = json_object_get_member(choice, "delta");
        if (delta && JSON_NODE_HOLDS_OBJECT(delta)) {
            JsonObject *d = json_node_get_object(delta);
            const char *reasoning = json_object_get_string_member_with_default(d, "reasoning_content", NULL);
            if (!reasoning)
                reasoning = json_object_get_string_member_with_default(d, "reasoning", NULL);
            const char *content = json_object_get_string_member_with_default(d, "content", NULL);
            if (reasoning && *reasoning)
                run_push_text(run, TRUE, reasoning, strlen(reasoning));
            if (content && *content)
                feed_content(run, content);
            if ((reasoning && *reasoning) || (content && *content))
                ponder_generation_push_token(run->generation);
        }
    } else {
        const char *text = json_object_get_string_member_with_default(choice, "text", NULL);
        if (text && *text) {
            run_push_text(run, FALSE, text, strlen(text));
            ponder_generation_push_token(run->generation);
        }
    }
    const char *finish = json_object_get_string_member_with_default(choice, "finish_reason", NULL);
    if (finish)
        run->finish_reason = strcmp(finish, "length") == 0 ? PONDER_FINISH_LENGTH : PONDER_FINISH_STOP;
}

// One line of the event stream ("data: {…}"; other fields and comments are ignored).
static void handle_line(RemoteRun *run, const char *line)
{
    if (!g_str_has_prefix(line, "data:"))
        return;
    const char *payload = line + strlen("data:");
    while (*payload == ' ')
        payload++;
    if (strcmp(payload, "[DONE]") == 0) {
        run->done = TRUE;
        return;
    }
    g_autoptr(JsonParser) parser = json_parser_new();
    if (json_parser_load_from_data(parser, payload, -1, NULL) &&
        JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
        handle_event(run, json_node_get_object(json_parser_get_root(parser)));
}

static void run_finish(RemoteRun *run, GError *error)
{
    PonderRemoteProvider *self = run->provider;
    if (run->content_head && !run->content_decided) {
        run->content_decided = TRUE;
        g_autofree char *held = g_string_free(g_steal_pointer(&run->content_head), FALSE);
        run_push_text(run, FALSE, held, strlen(held));
    }
    gboolean in_reasoning = run->got_reasoning && !run->got_answer;
    if (run->content_tagged)
        in_reasoning = reasoning_parser_finish(&run->parser, emit_phase, run);

    PonderFinishReason reason;
    if (ponder_generation_is_cancelled(run->generation)) {
        reason = PONDER_FINISH_CANCELLED;
        g_clear_error(&error);
    } else if (error || run->stream_error) {
        reason = PONDER_FINISH_ERROR;
        if (!error)
            error = g_steal_pointer(&run->stream_error);
    } else if (run->finish_reason != PONDER_FINISH_NONE) {
        reason = run->finish_reason;
    } else {
        reason = PONDER_FINISH_ERROR;
        error = g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND,
                            "The remote server at %s closed the connection in the middle of the "
                            "answer",
                            self->base_url);
    }
    ponder_generation_push_finished(g_steal_pointer(&run->generation), reason, in_reasoning, error);

    if (run->cancel_watch)
        g_source_remove(run->cancel_watch);
    g_atomic_int_dec_and_test(&self->running);
    g_clear_error(&run->stream_error);
    g_clear_object(&run->lines);
    g_clear_object(&run->message);
    g_clear_object(&run->cancellable);
    if (run->error_body)
        g_string_free(run->error_body, TRUE);
    if (run->content_head)
        g_string_free(run->content_head, TRUE);
    g_object_unref(run->provider);
    g_free(run);
}

static void line_read(GObject *source, GAsyncResult *result, gpointer data)
{
    RemoteRun *run = data;
    g_autoptr(GError) error = NULL;
    gsize len = 0;
    g_autofree char *line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source),
                                                                     result, &len, &error);
    if (error) {
        run_finish(run, connection_error(run->provider, error));
        return;
    }
    if (run->status != SOUP_STATUS_OK) {
        if (line && run->error_body->len < ERROR_BODY_LIMIT) {
            g_string_append(run->error_body, line);
            g_string_append_c(run->error_body, '\n');
        } else {
            run_finish(run, http_error(run->provider, run->status, run->error_body->str));
            return;
        }
    } else if (!line) {
        run_finish(run, NULL); // the server closed the stream
        return;
    } else {
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        handle_line(run, line);
        if (run->done || run->stream_error) {
            run_finish(run, NULL);
            return;
        }
    }
    g_data_input_stream_read_line_async(run->lines, G_PRIORITY_DEFAULT, run->cancellable,
                                        line_read, run);
}

static void response_started(GObject *source, GAsyncResult *result, gpointer data)
{
    RemoteRun *run = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GInputStream) body = soup_session_send_finish(SOUP_SESSION(source), result, &error);
    if (!body) {
        run_finish(run, connection_error(run->provider, error));
        return;
    }
    run->status = soup_message_get_status(run->message);
    if (run->status == SOUP_STATUS_OK)
        ponder_generation_push_started(run->generation, 0, 0, 0, 0);
    run->lines = g_data_input_stream_new(body);
    g_data_input_stream_set_newline_type(run->lines, G_DATA_STREAM_NEWLINE_TYPE_LF);
    g_data_input_stream_read_line_async(run->lines, G_PRIORITY_DEFAULT, run->cancellable,
                                        line_read, run);
}

// Cancelling is a flag any thread may set; the connection is closed from here.
static gboolean watch_cancel(gpointer data)
{
    RemoteRun *run = data;
    if (!ponder_generation_is_cancelled(run->generation))
        return G_SOURCE_CONTINUE;
    run->cancel_watch = 0;
    g_cancellable_cancel(run->cancellable);
    return G_SOURCE_REMOVE;
}

static void add_messages(JsonBuilder *b, const PonderGenerationRequest *r)
{
    static const char *const roles[] = {"system", "user", "assistant"};
    json_builder_set_member_name(b, "messages");
    json_builder_begin_array(b);
    for (gsize i = 0; i < r->n_messages; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "role");
        json_builder_add_string_value(b, roles[r->messages[i].role]);
        json_builder_set_member_name(b, "content");
        json_builder_add_string_value(b, r->messages[i].text);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static GBytes *request_body(const char *model_id, const PonderGenerationRequest *r, guint max_tokens)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "model");
    json_builder_add_string_value(b, model_id);
    if (r->kind == PONDER_GENERATION_CHAT) {
        add_messages(b, r);
    } else {
        json_builder_set_member_name(b, "prompt");
        json_builder_add_string_value(b, r->raw_text);
    }
    json_builder_set_member_name(b, "stream");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_set_member_name(b, "stream_options");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "include_usage");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "max_tokens");
    json_builder_add_int_value(b, max_tokens);
    const SamplerParams *s = &r->sampling;
    json_builder_set_member_name(b, "temperature");
    json_builder_add_double_value(b, MAX(s->temperature, 0.0f));
    if (s->top_p < 1.0f) {
        json_builder_set_member_name(b, "top_p");
        json_builder_add_double_value(b, s->top_p);
    }
    json_builder_set_member_name(b, "seed");
    json_builder_add_int_value(b, (gint64)(s->seed & G_MAXINT32)); // what every server takes
    if (s->presence_penalty != 0.0f) {
        json_builder_set_member_name(b, "presence_penalty");
        json_builder_add_double_value(b, s->presence_penalty);
    }
    if (s->frequency_penalty != 0.0f) {
        json_builder_set_member_name(b, "frequency_penalty");
        json_builder_add_double_value(b, s->frequency_penalty);
    }
    if (r->stop && r->stop[0]) {
        json_builder_set_member_name(b, "stop");
        json_builder_begin_array(b);
        for (guint i = 0; r->stop[i]; i++)
            json_builder_add_string_value(b, r->stop[i]);
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    gsize len = 0;
    char *text = json_generator_to_data(gen, &len);
    return g_bytes_new_take(text, len);
}

gboolean ponder_remote_provider_submit(PonderRemoteProvider *self, const char *model_id,
                                       PonderGeneration *generation, guint default_max_tokens,
                                       GError **error)
{
    g_return_val_if_fail(PONDER_IS_GENERATION(generation), FALSE);
    const PonderGenerationRequest *r = ponder_generation_get_request(generation);
    if (r->has_partial) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_INVALID,
                    "Continuing a cut-off answer works with local models only: a remote server "
                    "cannot resume an answer; regenerate it instead");
        return FALSE;
    }
    if (g_atomic_int_get(&self->running) >= MAX_IN_FLIGHT) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BUSY,
                    "Ponder is busy: %u requests to the remote server are running; try again "
                    "shortly",
                    (guint)g_atomic_int_get(&self->running));
        return FALSE;
    }
    RemoteRun *run = g_new0(RemoteRun, 1);
    run->provider = g_object_ref(self);
    run->generation = g_object_ref(generation);
    run->chat = r->kind == PONDER_GENERATION_CHAT;
    run->cancellable = g_cancellable_new();
    run->error_body = g_string_new(NULL);
    run->content_head = g_string_new(NULL);
    reasoning_parser_init(&run->parser);
    g_autoptr(GBytes) body = request_body(model_id, r, r->max_tokens ? r->max_tokens : default_max_tokens);
    run->message = new_message(self, "POST", run->chat ? "/chat/completions" : "/completions", body);
    soup_message_headers_replace(soup_message_get_request_headers(run->message), "Accept",
                                 "text/event-stream");
    g_atomic_int_inc(&self->running);
    ponder_generation_mark_submitted(generation);
    run->cancel_watch = g_timeout_add(CANCEL_POLL_MS, watch_cancel, run);
    soup_session_send_async(self->session, run->message, G_PRIORITY_DEFAULT, run->cancellable,
                            response_started, run);
    return TRUE;
}

guint ponder_remote_provider_get_running(PonderRemoteProvider *self)
{
    return (guint)g_atomic_int_get(&self->running);
}

// ---- the object ----------------------------------------------------------------------------

static void ponder_remote_provider_get_property(GObject *object, guint prop_id, GValue *value,
                                                GParamSpec *pspec)
{
    PonderRemoteProvider *self = PONDER_REMOTE_PROVIDER(object);
    switch (prop_id) {
    case PROP_MODELS: g_value_set_boxed(value, self->models); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_remote_provider_finalize(GObject *object)
{
    PonderRemoteProvider *self = PONDER_REMOTE_PROVIDER(object);
    g_clear_object(&self->session);
    g_free(self->base_url);
    g_free(self->api_key);
    g_strfreev(self->models);
    G_OBJECT_CLASS(ponder_remote_provider_parent_class)->finalize(object);
}

static void ponder_remote_provider_class_init(PonderRemoteProviderClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->get_property = ponder_remote_provider_get_property;
    object_class->finalize = ponder_remote_provider_finalize;
    properties[PROP_MODELS] = g_param_spec_boxed("models", NULL, NULL, G_TYPE_STRV,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, properties);
}

static void ponder_remote_provider_init(PonderRemoteProvider *self)
{
    self->models = g_new0(char *, 1);
    // libsoup's default of two connections per host would queue concurrent streams.
    self->session = soup_session_new_with_options("timeout", IO_TIMEOUT_SECONDS, "max-conns",
                                                  MAX_IN_FLIGHT + 4, "max-conns-per-host",
                                                  MAX_IN_FLIGHT + 4, "user-agent",
                                                  "Ponder/" PONDER_VERSION, NULL);
}

PonderRemoteProvider *ponder_remote_provider_new(const char *base_url, const char *api_key,
                                                 GError **error)
{
    g_autofree char *trimmed = g_strstrip(g_strdup(base_url ? base_url : ""));
    g_autoptr(GUri) uri = g_uri_parse(trimmed, G_URI_FLAGS_NONE, NULL);
    const char *scheme = uri ? g_uri_get_scheme(uri) : NULL;
    if (!uri || !g_uri_get_host(uri) || !*g_uri_get_host(uri) ||
        (g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "“%s” is not a server address: enter an http:// or https:// URL such as "
                    "http://gpu-box:8000/v1",
                    base_url ? base_url : "");
        return NULL;
    }
    g_autofree char *text = g_uri_to_string_partial(uri, G_URI_HIDE_QUERY | G_URI_HIDE_FRAGMENT);
    gsize len = strlen(text);
    while (len && text[len - 1] == '/')
        text[--len] = '\0';
    const char *path = g_uri_get_path(uri);
    gboolean no_path = !path || !*path || strcmp(path, "/") == 0;

    PonderRemoteProvider *self = g_object_new(PONDER_TYPE_REMOTE_PROVIDER, NULL);
    self->base_url = no_path ? g_strconcat(text, "/v1", NULL) : g_steal_pointer(&text);
    self->api_key = api_key && *api_key ? g_strdup(api_key) : NULL;
    return self;
}

const char *ponder_remote_provider_get_base_url(PonderRemoteProvider *self)
{
    return self->base_url;
}
