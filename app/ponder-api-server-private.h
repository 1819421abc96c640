// What the files of PonderApiServer share: the server's fields, one HTTP request's state,
// request parameters, and the route handlers.
//
//   ponder-api-server.c   listening, the request's life, routing, running a generation and
//                         streaming it back (both dialects use the same driver)
//   ponder-api-security.c the checks at the connection: the early handler (runs the header
//                         checks before the body is read), refusals, connection and body
//                         limits
//   ponder-api-access.c   the header checks: Host, Origin, preflight, key, declared size
//   ponder-api-errors.c   the error type the routes answer with, its body in each dialect,
//                         the statuses of engine errors
//   ponder-api-parse.c    the routes and body parsing, on a request's parts (no connection:
//                         the fuzzer compiles it, and the two files above)
//   ponder-api-params.c   request parsing and validation shared by both dialects
//   ponder-api-openai.c   /v1/models, /v1/chat/completions, /v1/completions
//   ponder-api-ollama.c   /api/tags, /api/show, /api/chat, /api/generate, /api/version, /api/ps
//   ponder-api-metrics.c  counters and histograms, GET /health and GET /metrics
//   ponder-api-history.c  chats saved as conversations in the history (when switched on)
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ponder-api-access.h"
#include "ponder-api-errors.h"
#include "ponder-api-metrics.h"
#include "ponder-api-server.h"
#include "ponder-engine.h"
#include "ponder-model-library.h"
#include "ponder-store.h"

G_BEGIN_DECLS

struct _PonderApiServer {
    GObject parent_instance;

    // Owned references.
    PonderEngine *engine;
    PonderModelLibrary *library;
    SoupServer *soup;
    PonderApiMetrics *metrics;

    // Options, copied.
    char *host;
    guint requested_port;
    gboolean allow_lan;
    char *api_key_digest; // SHA-256 of the key (compared in constant time), or NULL
    GStrv allowed_origins;
    gboolean raw_reasoning;
    guint request_timeout_ms;
    guint max_connections; // open at once; more are answered 503 and closed
    gboolean warned_connection_limit;
    gsize body_bytes_held;      // request bodies received and not yet parsed, all requests
    PonderStore *history_store; // owned, or NULL
    gboolean save_history;

    guint port;
    GStrv local_names;        // Host values accepted besides loopback (allow_lan: names, addresses)
    GHashTable *open;         // PonderApiRequest * set: requests not yet finished
    GHashTable *lingering;    // GIOStream * (owned) -> source id: refused connections closing
    char *pending_model_path; // set_model asked for it; the engine's notification may lag
    GHashTable *history_pending; // PonderApiHistoryRecord * set: chats to save once they end
};

typedef struct _PonderApiRequest PonderApiRequest;

// ---- request parameters (ponder-api-params.c) ------------------------------------------

typedef struct {
    char *model;
    ChatMessage *messages; // texts owned
    gsize n_messages;
    char *prompt; // completions: the raw prompt; Ollama generate: the user's prompt
    gboolean raw; // a raw completion (no chat format)
    SamplerParams sampling;
    guint max_tokens; // 0: the engine's default
    GStrv stop;
    gboolean stream;
    gboolean include_usage; // OpenAI stream_options.include_usage
    gboolean think;         // Ollama: send reasoning as "thinking"
    PonderReasoningEffort
        reasoning_effort;  // OpenAI reasoning_effort / reasoning.effort, Ollama think
    gint reasoning_budget; // OpenAI reasoning.max_tokens; -1: none
    gboolean unload_after; // Ollama keep_alive 0
} PonderApiParams;

void ponder_api_params_clear(PonderApiParams *params);
// BODY's parameters for a chat (CHAT) or a completion. On failure OUT may hold some: clear it.
typedef gboolean (*PonderApiParseFunc)(JsonObject *body, gboolean chat, PonderApiParams *out,
                                       PonderApiError **error);
gboolean ponder_api_params_parse_openai(JsonObject *body, gboolean chat, PonderApiParams *out,
                                        PonderApiError **error);
gboolean ponder_api_params_parse_ollama(JsonObject *body, gboolean chat, PonderApiParams *out,
                                        PonderApiError **error);
// A generation for PARAMS (chat or raw), at API priority.
PonderGeneration *ponder_api_params_make_generation(const PonderApiParams *params);

// ---- a request from its parts, without a connection (ponder-api-parse.c) ---------------

typedef enum {
    PONDER_API_ROUTE_OPENAI_MODELS,
    PONDER_API_ROUTE_OPENAI_CHAT,
    PONDER_API_ROUTE_OPENAI_COMPLETIONS,
    PONDER_API_ROUTE_OLLAMA_TAGS,
    PONDER_API_ROUTE_OLLAMA_SHOW,
    PONDER_API_ROUTE_OLLAMA_CHAT,
    PONDER_API_ROUTE_OLLAMA_GENERATE,
    PONDER_API_ROUTE_OLLAMA_VERSION,
    PONDER_API_ROUTE_OLLAMA_PS,
    PONDER_API_ROUTE_HEALTH,
    PONDER_API_ROUTE_METRICS,
    PONDER_API_N_ROUTES,
} PonderApiRouteId;

typedef struct {
    const char *method; // "GET" or "POST"
    const char *path;
    PonderApiDialect dialect;
    PonderApiRouteId id;
    PonderApiParseFunc parse_params; // routes that run a generation, else NULL
    gboolean chat;                   // what parse_params reads: a chat, or a completion
} PonderApiRoute;

// The route METHOD PATH names, or NULL (*PATH_KNOWN: whether another method would do).
const PonderApiRoute *ponder_api_find_route(const char *method, const char *path,
                                            gboolean *path_known);
// 405 when PATH_KNOWN (another method would do), else 404.
PonderApiError *ponder_api_no_route_error(const char *method, const char *path,
                                          gboolean path_known);
// 413 for a body that turned out larger than PONDER_API_MAX_BODY_BYTES.
PonderApiError *ponder_api_body_too_large_error(void);
PonderApiDialect ponder_api_dialect_of_path(const char *path);
// A POST body as a JSON object (*OUT, owned) behind the nesting guard; GET routes: *OUT NULL.
gboolean ponder_api_parse_body(const PonderApiRoute *route, const guint8 *body, gsize length,
                               JsonNode **out, PonderApiError **error);

typedef struct {
    PonderApiDialect dialect;    // the dialect errors are answered in
    gboolean preflight;          // a CORS preflight to answer (nothing else is set)
    const PonderApiRoute *route; //
    JsonNode *body;              // POST routes: the object
    PonderApiParams params;      // routes with parse_params: what they run
} PonderApiParsedRequest;

void ponder_api_parsed_request_clear(PonderApiParsedRequest *request);
// Every check and parse a request passes before its route acts on it. On failure OUT still
// has its dialect and may hold parts: clear it either way.
gboolean ponder_api_parse_request(const PonderApiAccess *access, const char *method,
                                  const char *path, const PonderApiHeader *headers, gsize n_headers,
                                  const guint8 *body, gsize length, PonderApiParsedRequest *out,
                                  PonderApiError **error);

// What a dialect does with a running generation.
typedef struct {
    const char *stream_content_type; // "text/event-stream", "application/x-ndjson"
    // Streaming only: the headers are out (the engine admitted the request).
    void (*stream_started)(PonderApiRequest *request);
    // Streaming only: new text (valid UTF-8), reasoning before answer.
    void (*stream_delta)(PonderApiRequest *request, gboolean reasoning, const char *text);
    // The generation ended with STOP or LENGTH: streaming writes its last events, else the
    // whole answer is sent (ponder_api_request_respond_json).
    void (*finished)(PonderApiRequest *request, const char *finish_reason);
} PonderApiGenerationHandler;

struct _PonderApiRequest {
    // Borrowed: the server outlives its requests (stop finishes them all).
    PonderApiServer *server;
    SoupServerMessage *msg; // NULL once libsoup finished it (the client may be gone)
    const PonderApiRoute *route;
    PonderApiDialect dialect;
    gint64 arrived_us;
    guint status; // what was answered
    gboolean counted;

    // Reading.
    GByteArray *body;          // NULL once parsed or dropped
    gboolean body_too_large;   // over PONDER_API_MAX_BODY_BYTES: 413
    gboolean body_over_budget; // over PONDER_API_MAX_BODY_BYTES_HELD with the others: 503
    guint read_timeout_id;

    // A generation, when the route runs one.
    PonderGeneration *generation; // owned
    const PonderApiGenerationHandler *handler;
    gboolean streaming, headers_sent, saw_output;
    gint64 first_output_us;
    GSource *hangup_watch;
    gboolean unload_after; // keep_alive 0
    gpointer dialect_data; // the dialect's per-request state
    GDestroyNotify dialect_data_free;
};

// Responding. Each ends the request (except write, which appends to a stream).
void ponder_api_request_respond(PonderApiRequest *request, guint status, const char *content_type,
                                const char *body, gsize length);
void ponder_api_request_respond_json(PonderApiRequest *request, guint status, JsonNode *node);
void ponder_api_request_respond_builder(PonderApiRequest *request, guint status,
                                        JsonBuilder *builder);
void ponder_api_request_respond_error(PonderApiRequest *request, const PonderApiError *error);
void ponder_api_request_write(PonderApiRequest *request, const char *data, gsize length);
// OBJECT's member NAME when it is a string, else NULL (json-glib's getters warn on other
// types, and request bodies are the client's to get wrong).
const char *ponder_api_string_member(JsonObject *object, const char *name);
// JSON text of NODE on one line (for SSE events and NDJSON lines).
char *ponder_api_json_to_string(JsonNode *node);
char *ponder_api_builder_to_string(JsonBuilder *builder);

// The request libsoup's MSG belongs to, or NULL (a connection refused over the limit).
PonderApiRequest *ponder_api_request_of(SoupServerMessage *msg);
// Ends everything the request holds except its memory (freed with the message).
void ponder_api_request_detach(PonderApiRequest *request);

// The entry a request's "model" names (NULL/empty: the engine's current model), loaded if
// the engine is idle; 404 when nothing matches, 503 when another model is busy.
PonderModelEntry *ponder_api_server_choose_model(PonderApiServer *self, const char *name,
                                                 PonderApiError **error);
// The entry of the engine's current model, or NULL.
PonderModelEntry *ponder_api_server_current_entry(PonderApiServer *self);
// The context length requests get with ENTRY: the engine's n_ctx, else min(trained, 8192).
guint ponder_api_server_context_length(PonderApiServer *self, PonderModelEntry *entry);

// Ejects the model once no request runs or waits (tried for about a second).
void ponder_api_server_unload_when_idle(PonderApiServer *self);

// Submits GENERATION (taken; REQUEST->generation once submitted) and answers through
// HANDLER. On failure (busy, no model) the error is answered at once and FALSE returned.
gboolean ponder_api_request_run(PonderApiRequest *request, PonderGeneration *generation,
                                gboolean stream, const PonderApiGenerationHandler *handler);

// ---- parsing in a request ---------------------------------------------------------------

// Parses BODY with the route's parse_params and resolves the model it names (see
// choose_model). On failure the error is answered, PARAMS cleared, and NULL returned.
PonderModelEntry *ponder_api_request_parse(PonderApiRequest *request, JsonObject *body,
                                           PonderApiParams *params);

// ---- security at the connection (ponder-api-security.c) -----------------------------------

// The early handler (a SoupServerCallback; DATA: the server): the header checks, before the
// body is read; a request that passes has its body counted against the limits as it arrives.
void ponder_api_server_early_handler(SoupServer *soup, SoupServerMessage *msg, const char *path,
                                     GHashTable *query, gpointer data);
// Answers ERROR, also to a request whose body was not read (its connection is then closed).
void ponder_api_request_reject(PonderApiRequest *request, const PonderApiError *error);
// Gives back the memory of REQUEST's body and its share of the server's body budget.
void ponder_api_request_release_body(PonderApiRequest *request);
// From "request-started": when max_connections are open, answers MSG's connection 503,
// closes it and returns TRUE.
gboolean ponder_api_server_refuse_connection_over_limit(PonderApiServer *self,
                                                        SoupServerMessage *msg);
// The default max_connections: half the file descriptor limit, from 8 to
// PONDER_API_MAX_CONNECTIONS.
guint ponder_api_default_max_connections(void);
// The Host values accepted besides loopback (PonderApiAccess.local_names), from the options.
GStrv ponder_api_server_collect_local_names(PonderApiServer *self);

// ---- history (ponder-api-history.c) --------------------------------------------------------

typedef struct _PonderApiHistoryRecord PonderApiHistoryRecord;

// With saving on: the chat request PARAMS, answered by the submitted GENERATION with the
// model MODEL (its slug), is saved once the generation ends. Off: nothing.
void ponder_api_history_track(PonderApiServer *self, PonderGeneration *generation,
                              const PonderApiParams *params, const char *model);
// Saving was switched off: the chats still running are not saved.
void ponder_api_history_discard_pending(PonderApiServer *self);
// The server goes away: the chats still running are saved without it.
void ponder_api_history_detach_pending(PonderApiServer *self);

// ---- routes ------------------------------------------------------------------------------

// BODY: the parsed JSON object of a POST, else NULL.
typedef void (*PonderApiRouteFunc)(PonderApiRequest *request, JsonObject *body);

void ponder_api_openai_models(PonderApiRequest *request, JsonObject *body);
void ponder_api_openai_chat(PonderApiRequest *request, JsonObject *body);
void ponder_api_openai_completions(PonderApiRequest *request, JsonObject *body);

void ponder_api_ollama_tags(PonderApiRequest *request, JsonObject *body);
void ponder_api_ollama_show(PonderApiRequest *request, JsonObject *body);
void ponder_api_ollama_chat(PonderApiRequest *request, JsonObject *body);
void ponder_api_ollama_generate(PonderApiRequest *request, JsonObject *body);
void ponder_api_ollama_version(PonderApiRequest *request, JsonObject *body);
void ponder_api_ollama_ps(PonderApiRequest *request, JsonObject *body);

void ponder_api_metrics_route_health(PonderApiRequest *request, JsonObject *body);
void ponder_api_metrics_route_metrics(PonderApiRequest *request, JsonObject *body);

G_END_DECLS
