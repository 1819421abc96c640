// The server core: listening, the request's life, routing, and the driver that runs a
// generation for a route and streams it back. The checks every request passes before its
// body is read (the early handler) are in ponder-api-security.c.
//
// A request's life: "request-started" (its first byte: the read timer starts) -> early
// handler (headers: Host, Origin, key, size; the body is then counted chunk by chunk
// instead of buffered by libsoup) -> handler (the body is in: route it) -> for a
// generation, the message stays paused while the engine runs it, and text is appended as
// it arrives -> "finished" (answered, or the client went away: its generation is cancelled).
#include "ponder-api-server-private.h"

#include <string.h>
#include <sys/socket.h>

G_DEFINE_QUARK(ponder - api - server - error - quark, ponder_api_server_error)
G_DEFINE_FINAL_TYPE(PonderApiServer, ponder_api_server, G_TYPE_OBJECT)

#define REQUEST_KEY "ponder-api-request"
// Ports tried after 11434 when it is taken (another Ollama, a second Ponder).
#define PORT_ATTEMPTS 20

// What each route does, by its id (the routes themselves are in ponder-api-parse.c).
static const PonderApiRouteFunc route_handlers[PONDER_API_N_ROUTES] = {
    [PONDER_API_ROUTE_OPENAI_MODELS] = ponder_api_openai_models,
    [PONDER_API_ROUTE_OPENAI_CHAT] = ponder_api_openai_chat,
    [PONDER_API_ROUTE_OPENAI_COMPLETIONS] = ponder_api_openai_completions,
    [PONDER_API_ROUTE_OLLAMA_TAGS] = ponder_api_ollama_tags,
    [PONDER_API_ROUTE_OLLAMA_SHOW] = ponder_api_ollama_show,
    [PONDER_API_ROUTE_OLLAMA_CHAT] = ponder_api_ollama_chat,
    [PONDER_API_ROUTE_OLLAMA_GENERATE] = ponder_api_ollama_generate,
    [PONDER_API_ROUTE_OLLAMA_VERSION] = ponder_api_ollama_version,
    [PONDER_API_ROUTE_OLLAMA_PS] = ponder_api_ollama_ps,
    [PONDER_API_ROUTE_HEALTH] = ponder_api_metrics_route_health,
    [PONDER_API_ROUTE_METRICS] = ponder_api_metrics_route_metrics,
};

// ---- responding ----------------------------------------------------------------------------

char *ponder_api_builder_to_string(JsonBuilder *builder)
{
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    return ponder_api_json_to_string(root);
}

void ponder_api_request_respond(PonderApiRequest *req, guint status, const char *content_type,
                                const char *body, gsize length)
{
    req->status = status;
    if (!req->msg)
        return;
    soup_server_message_set_status(req->msg, status, NULL);
    soup_server_message_set_response(req->msg, content_type, SOUP_MEMORY_COPY, body, length);
    soup_server_message_unpause(req->msg);
}

void ponder_api_request_respond_json(PonderApiRequest *req, guint status, JsonNode *node)
{
    g_autofree char *text = ponder_api_json_to_string(node);
    ponder_api_request_respond(req, status, "application/json", text, strlen(text));
}

void ponder_api_request_respond_builder(PonderApiRequest *req, guint status, JsonBuilder *builder)
{
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    ponder_api_request_respond_json(req, status, root);
}

void ponder_api_request_respond_error(PonderApiRequest *req, const PonderApiError *error)
{
    if (req->msg && error->retry_after) {
        char seconds[16];
        g_snprintf(seconds, sizeof seconds, "%u", error->retry_after);
        soup_message_headers_replace(soup_server_message_get_response_headers(req->msg),
                                     "Retry-After", seconds);
    }
    g_autoptr(JsonNode) node = ponder_api_error_to_json(req->dialect, error);
    ponder_api_request_respond_json(req, error->status, node);
}

void ponder_api_request_write(PonderApiRequest *req, const char *data, gsize length)
{
    if (!req->msg)
        return;
    soup_message_body_append(soup_server_message_get_response_body(req->msg), SOUP_MEMORY_COPY,
                             data, length);
    soup_server_message_unpause(req->msg);
}

// ---- the request's life --------------------------------------------------------------------

// With the message: libsoup drops a message that never got its headers (the client left,
// or the read timeout closed it) without "finished", so this is where such a request ends.
static void request_free(gpointer data)
{
    PonderApiRequest *req = data;
    req->msg = NULL; // being finalized
    ponder_api_request_release_body(req);
    ponder_api_request_detach(req);
    g_clear_object(&req->generation);
    if (req->dialect_data_free)
        req->dialect_data_free(req->dialect_data);
    g_free(req);
}

static void stop_hangup_watch(PonderApiRequest *req)
{
    if (req->hangup_watch) {
        g_source_destroy(req->hangup_watch);
        g_clear_pointer(&req->hangup_watch, g_source_unref);
    }
}

// The generation's signals stop reaching the request; a generation still running is
// cancelled (its client is gone or the server stops), which frees its engine slot.
static void release_generation(PonderApiRequest *req)
{
    stop_hangup_watch(req);
    if (!req->generation)
        return;
    g_signal_handlers_disconnect_by_data(req->generation, req);
    if (!ponder_generation_is_finished(req->generation))
        ponder_generation_cancel(req->generation);
}

// Ends everything the request holds except its memory (freed with the message).
void ponder_api_request_detach(PonderApiRequest *req)
{
    g_clear_handle_id(&req->read_timeout_id, g_source_remove);
    release_generation(req);
    if (req->msg) {
        g_signal_handlers_disconnect_by_data(req->msg, req);
        req->msg = NULL;
    }
    if (req->server)
        g_hash_table_remove(req->server->open, req);
}

static void on_message_finished(SoupServerMessage *msg, PonderApiRequest *req)
{
    PonderApiServer *self = req->server;
    guint status = soup_server_message_get_status(msg);
    // Requests that never got past their headers (a closed keep-alive connection) are not
    // requests at all.
    if (status != 0 && !req->counted) {
        req->counted = TRUE;
        double seconds = (double)(g_get_monotonic_time() - req->arrived_us) / G_USEC_PER_SEC;
        ponder_api_metrics_record_request(self->metrics, req->route ? req->route->path : "other",
                                          status, seconds);
    }
    ponder_api_request_detach(req);
}

static gboolean on_read_timeout(gpointer data)
{
    PonderApiRequest *req = data;
    req->read_timeout_id = 0;
    // Shutting the socket down (rather than closing it under libsoup) makes libsoup's own
    // pending read fail, so it tears the connection down the usual way.
    GSocket *socket = req->msg ? soup_server_message_get_socket(req->msg) : NULL;
    if (socket) {
        g_debug("closing a connection whose request did not arrive within %u ms",
                req->server->request_timeout_ms);
        g_socket_shutdown(socket, TRUE, TRUE, NULL);
    }
    return G_SOURCE_REMOVE;
}

static void on_got_body(SoupServerMessage *msg, PonderApiRequest *req)
{
    g_clear_handle_id(&req->read_timeout_id, g_source_remove);
}

static void on_request_started(SoupServer *soup, SoupServerMessage *msg, PonderApiServer *self)
{
    if (ponder_api_server_refuse_connection_over_limit(self, msg))
        return;
    PonderApiRequest *req = g_new0(PonderApiRequest, 1);
    req->server = self;
    req->msg = msg;
    req->arrived_us = g_get_monotonic_time();
    req->body = g_byte_array_new();
    g_object_set_data_full(G_OBJECT(msg), REQUEST_KEY, req, request_free);
    g_hash_table_add(self->open, req);
    g_signal_connect(msg, "finished", G_CALLBACK(on_message_finished), req);
    g_signal_connect(msg, "got-body", G_CALLBACK(on_got_body), req);
    if (self->request_timeout_ms)
        req->read_timeout_id = g_timeout_add(self->request_timeout_ms, on_read_timeout, req);
}

PonderApiRequest *ponder_api_request_of(SoupServerMessage *msg)
{
    return g_object_get_data(G_OBJECT(msg), REQUEST_KEY);
}

// ---- routing --------------------------------------------------------------------------------

static void on_request(SoupServer *soup, SoupServerMessage *msg, const char *path,
                       GHashTable *query, gpointer data)
{
    PonderApiRequest *req = ponder_api_request_of(msg);
    if (!req || soup_server_message_get_status(msg) != 0)
        return;
    const char *method = soup_server_message_get_method(msg);
    gboolean path_known;
    req->route = ponder_api_find_route(method, path, &path_known);
    if (req->body_too_large || req->body_over_budget || !req->route) {
        g_autoptr(PonderApiError) error = NULL;
        if (req->body_too_large) {
            error = ponder_api_body_too_large_error();
        } else if (req->body_over_budget) {
            error = ponder_api_error_new(
                SOUP_STATUS_SERVICE_UNAVAILABLE, NULL, "server_busy",
                "the server is receiving too many large request bodies at once (%u MiB "
                "together at most); retry",
                PONDER_API_MAX_BODY_BYTES_HELD >> 20);
            error->retry_after = 1;
        } else {
            error = ponder_api_no_route_error(method, path, path_known);
        }
        ponder_api_request_reject(req, error);
        return;
    }
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(PonderApiError) error = NULL;
    gboolean parsed = ponder_api_parse_body(req->route, req->body ? req->body->data : NULL,
                                            req->body ? req->body->len : 0, &root, &error);
    ponder_api_request_release_body(req); // parsed (or refused): a long stream does not keep it
    if (!parsed) {
        ponder_api_request_respond_error(req, error);
        return;
    }
    route_handlers[req->route->id](req, root ? json_node_get_object(root) : NULL);
}

// ---- models ------------------------------------------------------------------------------------

PonderModelEntry *ponder_api_server_current_entry(PonderApiServer *self)
{
    const char *path = ponder_engine_get_model_path(self->engine);
    if (self->pending_model_path && g_strcmp0(path, self->pending_model_path) != 0)
        path = self->pending_model_path;
    return path ? ponder_model_library_find_by_path(self->library, path) : NULL;
}

guint ponder_api_server_context_length(PonderApiServer *self, PonderModelEntry *entry)
{
    PonderEngineSettings settings;
    ponder_engine_get_settings(self->engine, &settings);
    return ponder_context_length(settings.n_ctx, ponder_model_entry_get_context_length(entry));
}

// One model runs at a time. A request for another one switches the engine only when
// nothing is running or waiting: switching under running requests would cancel them
// (the window's too), so it is answered 503 instead and the client may retry.
PonderModelEntry *ponder_api_server_choose_model(PonderApiServer *self, const char *name,
                                                 PonderApiError **error)
{
    PonderModelEntry *current = ponder_api_server_current_entry(self);
    if (!name || !*name) {
        if (!current)
            *error =
                ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, "model", "model_not_found",
                                     "no model is loaded: name one (GET /v1/models lists them)");
        return current;
    }
    g_autoptr(GError) lookup_error = NULL;
    PonderModelEntry *entry = ponder_model_library_lookup(self->library, name, &lookup_error);
    if (!entry) {
        if (g_error_matches(lookup_error, PONDER_MODEL_LIBRARY_ERROR,
                            PONDER_MODEL_LIBRARY_ERROR_AMBIGUOUS))
            *error = ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, "model", "model_not_found", "%s",
                                          lookup_error->message);
        else
            *error = ponder_api_error_new(SOUP_STATUS_NOT_FOUND, "model", "model_not_found",
                                          "model \"%s\" not found", name);
        return NULL;
    }
    if (!ponder_model_entry_get_usable(entry)) {
        *error = ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, "model", "model_not_usable",
                                      "model \"%s\" cannot be run: %s", name,
                                      ponder_model_entry_get_unusable_reason(entry));
        return NULL;
    }
    if (entry == current)
        return entry;
    guint busy =
        ponder_engine_get_running(self->engine) + ponder_engine_get_queue_depth(self->engine);
    if (current && busy > 0) {
        *error =
            ponder_api_error_new(SOUP_STATUS_SERVICE_UNAVAILABLE, "model", "model_busy",
                                 "model \"%s\" is busy with %u request%s; Ponder runs one model "
                                 "at a time, so \"%s\" can be loaded when they finish",
                                 ponder_model_entry_get_slug(current), busy, busy == 1 ? "" : "s",
                                 ponder_model_entry_get_slug(entry));
        (*error)->retry_after = 5;
        return NULL;
    }
    g_free(self->pending_model_path);
    self->pending_model_path = g_strdup(ponder_model_entry_get_path(entry));
    ponder_engine_set_model(self->engine, self->pending_model_path);
    return entry;
}

typedef struct {
    PonderEngine *engine;
    guint checks_left;
} PendingUnload;

static void pending_unload_free(gpointer data)
{
    PendingUnload *p = data;
    g_object_unref(p->engine);
    g_free(p);
}

static gboolean try_unload(gpointer data)
{
    PendingUnload *p = data;
    if (ponder_engine_get_running(p->engine) == 0 &&
        ponder_engine_get_queue_depth(p->engine) == 0) {
        ponder_engine_eject(p->engine);
        return G_SOURCE_REMOVE;
    }
    return --p->checks_left > 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

// keep_alive 0. The engine counts a request as running until just after its "finished"
// is queued, so the check is repeated briefly; a model other requests still use stays.
void ponder_api_server_unload_when_idle(PonderApiServer *self)
{
    PendingUnload *p = g_new(PendingUnload, 1);
    p->engine = g_object_ref(self->engine);
    p->checks_left = 20;
    if (try_unload(p) == G_SOURCE_REMOVE) {
        pending_unload_free(p);
        return;
    }
    g_timeout_add_full(G_PRIORITY_DEFAULT, 50, try_unload, p, pending_unload_free);
}

PonderModelEntry *ponder_api_request_parse(PonderApiRequest *req, JsonObject *body,
                                           PonderApiParams *params)
{
    PonderApiError *error = NULL;
    PonderModelEntry *entry = NULL;
    if (req->route->parse_params(body, req->route->chat, params, &error))
        entry = ponder_api_server_choose_model(req->server, params->model, &error);
    if (!entry) {
        ponder_api_request_respond_error(req, error);
        ponder_api_error_free(error);
        ponder_api_params_clear(params);
    }
    return entry;
}

// ---- running a generation ----------------------------------------------------------------------

static void start_stream(PonderApiRequest *req)
{
    if (req->headers_sent || !req->msg)
        return;
    req->headers_sent = TRUE;
    req->status = SOUP_STATUS_OK;
    soup_server_message_set_status(req->msg, SOUP_STATUS_OK, NULL);
    SoupMessageHeaders *out = soup_server_message_get_response_headers(req->msg);
    soup_message_headers_set_content_type(out, req->handler->stream_content_type, NULL);
    soup_message_headers_set_encoding(out, SOUP_ENCODING_CHUNKED);
    soup_message_headers_replace(out, "Cache-Control", "no-cache");
    soup_message_headers_replace(out, "X-Accel-Buffering", "no");
    req->handler->stream_started(req);
    soup_server_message_unpause(req->msg);
}

static void on_generation_started(PonderGeneration *generation, PonderApiRequest *req)
{
    if (req->streaming)
        start_stream(req);
}

static void on_delta(PonderApiRequest *req, gboolean reasoning, const char *text)
{
    g_autoptr(SoupServerMessage) keep = req->msg ? g_object_ref(req->msg) : NULL;
    if (!req->saw_output) {
        req->saw_output = TRUE;
        req->first_output_us = g_get_monotonic_time();
        ponder_api_metrics_record_first_token(req->server->metrics, req->route->path,
                                              (double)(req->first_output_us - req->arrived_us) /
                                                  G_USEC_PER_SEC);
    }
    if (!req->streaming)
        return;
    start_stream(req);
    req->handler->stream_delta(req, reasoning, text);
}

static void on_reasoning_delta(PonderGeneration *generation, const char *text,
                               PonderApiRequest *req)
{
    on_delta(req, TRUE, text);
}

static void on_answer_delta(PonderGeneration *generation, const char *text, PonderApiRequest *req)
{
    on_delta(req, FALSE, text);
}

// An error after the headers: one more event (SSE) or line (NDJSON) in the stream, the
// error object the dialect answers with, which both dialects' clients raise.
static void write_stream_error(PonderApiRequest *req, const PonderApiError *error)
{
    g_autoptr(JsonNode) node = ponder_api_error_to_json(req->dialect, error);
    g_autofree char *json = ponder_api_json_to_string(node);
    g_autofree char *event = req->dialect == PONDER_API_DIALECT_OPENAI
                                 ? g_strdup_printf("data: %s\n\n", json)
                                 : g_strdup_printf("%s\n", json);
    ponder_api_request_write(req, event, strlen(event));
}

static void on_generation_finished(PonderGeneration *generation, PonderApiRequest *req)
{
    PonderApiServer *self = req->server;
    // Answering may finish (and drop) the message, which frees REQ with it: not before
    // this function is done with it.
    g_autoptr(SoupServerMessage) keep = req->msg ? g_object_ref(req->msg) : NULL;
    stop_hangup_watch(req);
    g_signal_handlers_disconnect_by_data(generation, req);
    PonderGenerationStats stats;
    ponder_generation_get_stats(generation, &stats);
    ponder_api_metrics_add_tokens(self->metrics, stats.prompt_tokens, stats.completion_tokens);

    PonderFinishReason reason = ponder_generation_get_finish_reason(generation);
    if (reason == PONDER_FINISH_STOP || reason == PONDER_FINISH_LENGTH) {
        req->handler->finished(req, reason == PONDER_FINISH_STOP ? "stop" : "length");
    } else {
        const GError *gerror = ponder_generation_get_error(generation);
        g_autoptr(PonderApiError) error =
            reason == PONDER_FINISH_ERROR
                ? ponder_api_error_from_gerror(gerror)
                : ponder_api_error_new(SOUP_STATUS_SERVICE_UNAVAILABLE, NULL, "cancelled",
                                       "the request was cancelled%s%s", gerror ? ": " : "",
                                       gerror ? gerror->message : "");
        if (req->headers_sent)
            write_stream_error(req, error);
        else
            ponder_api_request_respond_error(req, error);
    }
    if (req->streaming && req->headers_sent && req->msg) {
        soup_message_body_complete(soup_server_message_get_response_body(req->msg));
        soup_server_message_unpause(req->msg);
    }
    if (req->unload_after)
        ponder_api_server_unload_when_idle(self);
}

// While the engine works and nothing is written, libsoup does not read the socket, so a
// client that hangs up would go unnoticed until the first write. Watching for readability
// and peeking tells a hang-up (0 bytes) from a pipelined next request (data: left alone).
// A client that only half-closes (shutdown of its sending side, which HTTP/1.1 clients do
// not do) reads as one that left.
static gboolean on_socket_readable(GSocket *socket, GIOCondition condition, gpointer data)
{
    PonderApiRequest *req = data;
    char byte;
    GInputVector vector = {&byte, 1};
    int flags = MSG_PEEK | MSG_DONTWAIT;
    gssize n = g_socket_receive_message(socket, NULL, &vector, 1, NULL, NULL, &flags, NULL, NULL);
    if (n > 0) {
        // The client sent more (a pipelined request): nothing to learn from the socket now.
        g_clear_pointer(&req->hangup_watch, g_source_unref);
        return G_SOURCE_REMOVE;
    }
    if (n < 0 && !(condition & (G_IO_HUP | G_IO_ERR)))
        return G_SOURCE_CONTINUE; // woken for nothing (would block)
    g_debug("the client hung up; cancelling its generation");
    g_clear_pointer(&req->hangup_watch, g_source_unref);
    if (req->generation)
        ponder_generation_cancel(req->generation);
    return G_SOURCE_REMOVE;
}

static void watch_for_hangup(PonderApiRequest *req)
{
    GSocket *socket = soup_server_message_get_socket(req->msg);
    if (!socket)
        return;
    req->hangup_watch = g_socket_create_source(socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback(req->hangup_watch, (GSourceFunc)(void (*)(void))on_socket_readable, req,
                          NULL);
    g_source_set_static_name(req->hangup_watch, "[ponder] api hang-up watch");
    g_source_attach(req->hangup_watch, g_main_context_get_thread_default());
}

gboolean ponder_api_request_run(PonderApiRequest *req, PonderGeneration *generation,
                                gboolean stream, const PonderApiGenerationHandler *handler)
{
    g_clear_object(&req->generation);
    req->generation = generation;
    req->handler = handler;
    req->streaming = stream;
    g_autoptr(GError) error = NULL;
    if (!ponder_engine_submit(req->server->engine, generation, &error)) {
        g_autoptr(PonderApiError) api_error = ponder_api_error_from_gerror(error);
        ponder_api_request_respond_error(req, api_error);
        return FALSE;
    }
    g_signal_connect(generation, "started", G_CALLBACK(on_generation_started), req);
    g_signal_connect(generation, "reasoning-delta", G_CALLBACK(on_reasoning_delta), req);
    g_signal_connect(generation, "answer-delta", G_CALLBACK(on_answer_delta), req);
    g_signal_connect(generation, "finished", G_CALLBACK(on_generation_finished), req);
    soup_server_message_pause(req->msg);
    watch_for_hangup(req);
    return TRUE;
}

// ---- the object ------------------------------------------------------------------------------

static void ponder_api_server_dispose(GObject *object)
{
    PonderApiServer *self = PONDER_API_SERVER(object);
    ponder_api_server_stop(self);
    ponder_api_history_detach_pending(self);
    g_clear_object(&self->engine);
    g_clear_object(&self->library);
    g_clear_object(&self->history_store);
    G_OBJECT_CLASS(ponder_api_server_parent_class)->dispose(object);
}

static void ponder_api_server_finalize(GObject *object)
{
    PonderApiServer *self = PONDER_API_SERVER(object);
    g_hash_table_unref(self->open);
    g_hash_table_unref(self->lingering);
    g_hash_table_unref(self->history_pending);
    ponder_api_metrics_free(self->metrics);
    g_free(self->host);
    g_free(self->api_key_digest);
    g_strfreev(self->allowed_origins);
    g_strfreev(self->local_names);
    g_free(self->pending_model_path);
    G_OBJECT_CLASS(ponder_api_server_parent_class)->finalize(object);
}

static void ponder_api_server_class_init(PonderApiServerClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = ponder_api_server_dispose;
    G_OBJECT_CLASS(klass)->finalize = ponder_api_server_finalize;
}

// The lingering connections' streams (ponder-api-security.c), when their second is up or
// the server stops.
static void close_stream(gpointer stream)
{
    g_io_stream_close(stream, NULL, NULL);
    g_object_unref(stream);
}

static void ponder_api_server_init(PonderApiServer *self)
{
    self->open = g_hash_table_new(NULL, NULL);
    self->lingering = g_hash_table_new_full(NULL, NULL, close_stream, NULL);
    self->history_pending = g_hash_table_new(NULL, NULL);
    self->metrics = ponder_api_metrics_new();
    self->request_timeout_ms = PONDER_API_DEFAULT_REQUEST_TIMEOUT_MS;
    self->max_connections = ponder_api_default_max_connections();
}

PonderApiServer *ponder_api_server_new(PonderEngine *engine, PonderModelLibrary *library,
                                       const PonderApiServerOptions *options)
{
    g_return_val_if_fail(PONDER_IS_ENGINE(engine), NULL);
    g_return_val_if_fail(PONDER_IS_MODEL_LIBRARY(library), NULL);
    PonderApiServer *self = g_object_new(PONDER_TYPE_API_SERVER, NULL);
    self->engine = g_object_ref(engine);
    self->library = g_object_ref(library);
    PonderApiServerOptions defaults = {0};
    if (!options)
        options = &defaults;
    self->host = g_strdup(options->host);
    self->requested_port = options->port;
    self->allow_lan = options->allow_lan;
    if (options->api_key && *options->api_key)
        self->api_key_digest =
            g_compute_checksum_for_string(G_CHECKSUM_SHA256, options->api_key, -1);
    self->allowed_origins = g_strdupv((char **)options->allowed_origins);
    self->raw_reasoning = options->raw_reasoning;
    g_set_object(&self->history_store, options->history_store);
    ponder_api_server_set_save_history(self, options->save_history);
    return self;
}

void ponder_api_server_set_request_timeout(PonderApiServer *self, guint timeout_ms)
{
    self->request_timeout_ms = timeout_ms;
}

void ponder_api_server_set_max_connections(PonderApiServer *self, guint max_connections)
{
    self->max_connections = MAX(max_connections, 1);
}

void ponder_api_server_set_save_history(PonderApiServer *self, gboolean save_history)
{
    g_return_if_fail(PONDER_IS_API_SERVER(self));
    g_return_if_fail(!save_history || self->history_store);
    if (self->save_history && !save_history)
        ponder_api_history_discard_pending(self);
    self->save_history = save_history;
}

gboolean ponder_api_server_get_save_history(PonderApiServer *self)
{
    g_return_val_if_fail(PONDER_IS_API_SERVER(self), FALSE);
    return self->save_history;
}

static gboolean listen_on(PonderApiServer *self, guint port, GError **error)
{
    if (self->host) {
        g_autoptr(GInetAddress) address = g_inet_address_new_from_string(self->host);
        if (!address) {
            g_set_error(error, PONDER_API_SERVER_ERROR, PONDER_API_SERVER_ERROR_OPTIONS,
                        "the API host \"%s\" is not an IP address", self->host);
            return FALSE;
        }
        g_autoptr(GSocketAddress) socket_address =
            g_inet_socket_address_new(address, (guint16)port);
        return soup_server_listen(self->soup, socket_address, 0, error);
    }
    if (self->allow_lan)
        return soup_server_listen_all(self->soup, port, 0, error);
    return soup_server_listen_local(self->soup, port, 0, error);
}

gboolean ponder_api_server_start(PonderApiServer *self, GError **error)
{
    g_return_val_if_fail(self->soup == NULL, FALSE);
    if (self->requested_port != PONDER_API_PORT_ANY && self->requested_port > 65535) {
        g_set_error(error, PONDER_API_SERVER_ERROR, PONDER_API_SERVER_ERROR_OPTIONS,
                    "the API port %u is not a TCP port (1 to 65535)", self->requested_port);
        return FALSE;
    }
    self->soup = soup_server_new("server-header", "Ponder", NULL);
    soup_server_add_early_handler(self->soup, NULL, ponder_api_server_early_handler, self, NULL);
    soup_server_add_handler(self->soup, NULL, on_request, self, NULL);
    g_signal_connect(self->soup, "request-started", G_CALLBACK(on_request_started), self);
    g_strfreev(self->local_names);
    self->local_names = ponder_api_server_collect_local_names(self);

    guint first = self->requested_port == PONDER_API_PORT_ANY ? 0
                  : self->requested_port                      ? self->requested_port
                                                              : PONDER_API_DEFAULT_PORT;
    guint attempts = self->requested_port == 0 ? PORT_ATTEMPTS : 1;
    g_autoptr(GError) last_error = NULL;
    for (guint i = 0; i < attempts; i++) {
        g_clear_error(&last_error);
        if (listen_on(self, first + i, &last_error))
            break;
        // Half-bound (IPv4 done, IPv6 taken) is not bound: drop every listener and go on.
        soup_server_disconnect(self->soup);
        if (!g_error_matches(last_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
            break;
    }
    if (last_error) {
        g_set_error(error, PONDER_API_SERVER_ERROR, PONDER_API_SERVER_ERROR_LISTEN,
                    "the local API could not listen on port %u%s: %s", first,
                    attempts > 1 ? " or the ports after it" : "", last_error->message);
        g_clear_object(&self->soup);
        return FALSE;
    }
    GSList *uris = soup_server_get_uris(self->soup);
    self->port = uris ? (guint)g_uri_get_port(uris->data) : 0;
    g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
    return TRUE;
}

guint ponder_api_server_get_port(PonderApiServer *self)
{
    return self->port;
}

void ponder_api_server_stop(PonderApiServer *self)
{
    if (!self->soup)
        return;
    g_autoptr(GList) open = g_hash_table_get_keys(self->open);
    for (GList *l = open; l; l = l->next) {
        PonderApiRequest *req = l->data;
        ponder_api_request_detach(req);
        req->server = NULL;
    }
    GHashTableIter iter;
    gpointer id;
    g_hash_table_iter_init(&iter, self->lingering);
    while (g_hash_table_iter_next(&iter, NULL, &id))
        g_source_remove(GPOINTER_TO_UINT(id));
    g_hash_table_remove_all(self->lingering);
    self->body_bytes_held = 0; // the requests above no longer count
    soup_server_disconnect(self->soup);
    g_clear_object(&self->soup);
    self->port = 0;
}
