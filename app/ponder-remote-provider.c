// The remote provider: the server's address and key, its model list, and the count of
// requests in flight; each request is a stream of its own (ponder-remote-stream.c).
#include <string.h>

#include "ponder-engine.h"
#include "ponder-json-guard.h"
#include "ponder-remote-provider-private.h"

enum {
    MAX_IN_FLIGHT = 32,          // beyond this, "busy", as the local engine's queue
    IO_TIMEOUT_SECONDS = 300,    // a long prefill on a busy server sends nothing for a while
    MODELS_TIMEOUT_SECONDS = 15, // Connect: a firewalled host should not spin for minutes
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
    char *api_key;               // NULL: none
    SoupSession *models_session; // the model list, with a short timeout
    GStrv models;
    gint running; // atomic: read by other threads (the engine's "running" count)
};

G_DEFINE_FINAL_TYPE(PonderRemoteProvider, ponder_remote_provider, G_TYPE_OBJECT)

enum { PROP_0, PROP_MODELS, N_PROPS };
static GParamSpec *properties[N_PROPS];

// ---- requests and errors ----------------------------------------------------------------

SoupSession *ponder_remote_provider_get_session(PonderRemoteProvider *self)
{
    return self->session;
}

void ponder_remote_provider_count_running(PonderRemoteProvider *self, gint delta)
{
    g_atomic_int_add(&self->running, delta);
}

const char *ponder_remote_json_string(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
               ? json_node_get_string(n)
               : NULL;
}

gint64 ponder_remote_json_int(JsonObject *o, const char *name, gint64 fallback)
{
    JsonNode *n = json_object_get_member(o, name);
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64
               ? json_node_get_int(n)
               : fallback;
}

JsonObject *ponder_remote_json_object(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);
    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

SoupMessage *ponder_remote_provider_new_message(PonderRemoteProvider *self, const char *method,
                                                const char *route, GBytes *body)
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
const char *ponder_remote_error_message(JsonObject *o)
{
    JsonObject *inner = ponder_remote_json_object(o, "error");
    const char *message =
        inner ? ponder_remote_json_string(inner, "message") : ponder_remote_json_string(o, "error");
    if (!message)
        message = ponder_remote_json_string(o, "message");
    if (!message)
        message = ponder_remote_json_string(o, "detail");
    return message;
}

// What an error answer says: its message, else the body itself, shortened.
static char *error_body_message(const char *body)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    gboolean too_deep = FALSE;
    JsonObject *object = body ? ponder_remote_parse_object(parser, body, &too_deep) : NULL;
    if (too_deep)
        return g_strdup_printf("its error was JSON nested deeper than %d levels",
                               PONDER_JSON_MAX_DEPTH);
    const char *message = object ? ponder_remote_error_message(object) : NULL;
    if (message)
        return g_strdup(message);
    g_autofree char *text = g_strstrip(g_strdup(body ? body : ""));
    if (!*text)
        return g_strdup("no explanation given");
    if (g_utf8_strlen(text, -1) > 200) {
        g_autofree char *start = g_utf8_substring(text, 0, 200);
        return g_strconcat(start, "…", NULL);
    }
    return g_steal_pointer(&text);
}

GError *ponder_remote_provider_http_error(PonderRemoteProvider *self, guint status,
                                          const char *body)
{
    g_autofree char *why = error_body_message(body);
    int code = PONDER_ENGINE_ERROR_BACKEND;
    if (status == 429)
        code = PONDER_ENGINE_ERROR_BUSY;
    else if (status == 400 &&
             (strstr(body ? body : "", "context_length_exceeded") || strstr(why, "context length")))
        code = PONDER_ENGINE_ERROR_PROMPT_TOO_LONG;
    if ((status == 401 || status == 403) && !self->api_key)
        return g_error_new(PONDER_ENGINE_ERROR, code,
                           "The remote server at %s asks for an API key (HTTP %u): %s",
                           self->base_url, status, why);
    if (status == 401 || status == 403)
        return g_error_new(PONDER_ENGINE_ERROR, code,
                           "The remote server at %s refused the API key (HTTP %u): %s",
                           self->base_url, status, why);
    return g_error_new(PONDER_ENGINE_ERROR, code, "The remote server at %s answered HTTP %u %s: %s",
                       self->base_url, status, soup_status_get_phrase(status), why);
}

JsonObject *ponder_remote_parse_object(JsonParser *parser, const char *text, gboolean *too_deep)
{
    g_autoptr(GError) error = NULL;
    gboolean loaded = ponder_json_parser_load_untrusted(parser, text, -1, &error);
    if (too_deep)
        *too_deep =
            g_error_matches(error, PONDER_JSON_GUARD_ERROR, PONDER_JSON_GUARD_ERROR_TOO_DEEP);
    if (!loaded || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
        return NULL;
    return json_node_get_object(json_parser_get_root(parser));
}

GError *ponder_remote_provider_too_deep_error(PonderRemoteProvider *self)
{
    return g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND,
                       "The remote server at %s sent JSON nested deeper than %d levels, which "
                       "Ponder does not read",
                       self->base_url, PONDER_JSON_MAX_DEPTH);
}

GError *ponder_remote_provider_connection_error(PonderRemoteProvider *self, const GError *cause)
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
    g_autoptr(GBytes) body =
        soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
    if (!body) {
        g_task_return_error(task, ponder_remote_provider_connection_error(self, error));
        return;
    }
    g_autofree char *text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
    guint status = soup_message_get_status(message);
    if (status != SOUP_STATUS_OK) {
        g_task_return_error(task, ponder_remote_provider_http_error(self, status, text));
        return;
    }
    g_autoptr(JsonParser) parser = json_parser_new();
    gboolean too_deep = FALSE;
    JsonObject *root = ponder_remote_parse_object(parser, text, &too_deep);
    if (too_deep) {
        g_task_return_error(task, ponder_remote_provider_too_deep_error(self));
        return;
    }
    JsonNode *data_node = root ? json_object_get_member(root, "data") : NULL;
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
        const char *id = JSON_NODE_HOLDS_OBJECT(item)
                             ? ponder_remote_json_string(json_node_get_object(item), "id")
                             : NULL;
        if (id && *id)
            g_strv_builder_add(ids, id);
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
    SoupMessage *message = ponder_remote_provider_new_message(self, "GET", "/models", NULL);
    g_task_set_task_data(task, message, g_object_unref);
    soup_session_send_and_read_async(self->models_session, message, G_PRIORITY_DEFAULT, cancellable,
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

gboolean ponder_remote_provider_submit(PonderRemoteProvider *self, const char *model_id,
                                       PonderGeneration *generation, GError **error)
{
    g_return_val_if_fail(PONDER_IS_GENERATION(generation), FALSE);
    if (ponder_generation_get_request(generation)->has_partial) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_INVALID,
                    "Continuing a cut-off answer works with local models only: a remote server "
                    "cannot resume an answer; regenerate it instead");
        return FALSE;
    }
    guint running = ponder_remote_provider_get_running(self);
    if (running >= MAX_IN_FLIGHT) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BUSY,
                    "Ponder is busy: %u requests to the remote server are running; try again "
                    "shortly",
                    running);
        return FALSE;
    }
    ponder_remote_stream_start(self, model_id, generation);
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
    g_clear_object(&self->models_session);
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
    self->session = soup_session_new_with_options(
        "timeout", IO_TIMEOUT_SECONDS, "max-conns", MAX_IN_FLIGHT + 4, "max-conns-per-host",
        MAX_IN_FLIGHT + 4, "user-agent", "Ponder/" PONDER_VERSION, NULL);
    self->models_session = soup_session_new_with_options(
        "timeout", MODELS_TIMEOUT_SECONDS, "user-agent", "Ponder/" PONDER_VERSION, NULL);
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
    // A password in the address would be shown and saved in plain text: it belongs in the key.
    if (g_uri_get_userinfo(uri)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "Leave the user name and password out of the server address and put the "
                    "key in the API key field instead");
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
