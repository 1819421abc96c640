// The security checks at the connection, in front of the routes: the early handler runs
// the header checks (ponder-api-access.c) before the body is read, answers CORS
// preflights, and refuses without reading the body; a body is counted against the limits
// as it arrives; a connection over the limit is refused before libsoup reads from it.
// ponder-api-server.h lists the checks in order, with their statuses.
#include "ponder-api-server-private.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

// ---- connection and body limits -------------------------------------------------------------

// Gives back the memory of REQ's body and its share of the server's body budget.
void ponder_api_request_release_body(PonderApiRequest *req)
{
    if (!req->body)
        return;
    if (req->server)
        req->server->body_bytes_held -= req->body->len;
    g_clear_pointer(&req->body, g_byte_array_unref);
}

// Bodies are kept until their request is parsed; each is at most PONDER_API_MAX_BODY_BYTES,
// and all of them together at most PONDER_API_MAX_BODY_BYTES_HELD (else every open
// connection could hold a maximal body). A body that goes over either is dropped and
// counted, not kept, while it lasts (bounded by the read timeout), and is answered 413 or
// 503 when it ends.
static void on_got_chunk(SoupServerMessage *msg, GBytes *chunk, PonderApiRequest *req)
{
    PonderApiServer *self = req->server;
    if (req->body_too_large || req->body_over_budget)
        return;
    gsize size = g_bytes_get_size(chunk);
    if (req->body->len + size > PONDER_API_MAX_BODY_BYTES) {
        req->body_too_large = TRUE;
        ponder_api_request_release_body(req);
        return;
    }
    if (self->body_bytes_held + size > PONDER_API_MAX_BODY_BYTES_HELD) {
        req->body_over_budget = TRUE;
        ponder_api_request_release_body(req);
        return;
    }
    g_byte_array_append(req->body, g_bytes_get_data(chunk, NULL), (guint)size);
    self->body_bytes_held += size;
}

// A connection over max_connections is answered 503 and closed at once, before libsoup
// reads from it: each one holds a file descriptor until its read timeout, and libsoup
// (3.2) stops listening for good the first time accept() fails, so a client that opened
// connections until the process ran out of descriptors would leave the API deaf until a
// restart. The answer is written while the client's request may be unread, so the client
// sees either it or a reset; either way the connection is gone.
gboolean ponder_api_server_refuse_connection_over_limit(PonderApiServer *self,
                                                        SoupServerMessage *msg)
{
    guint open = g_hash_table_size(self->open) + g_hash_table_size(self->lingering);
    GSocket *socket = soup_server_message_get_socket(msg);
    if (open < self->max_connections || !socket)
        return FALSE;
    g_autoptr(PonderApiError) error = ponder_api_error_new(
        SOUP_STATUS_SERVICE_UNAVAILABLE, NULL, "too_many_connections",
        "too many connections: the local API keeps at most %u open at once; close idle ones "
        "or retry",
        self->max_connections);
    g_autoptr(JsonNode) node = ponder_api_error_to_json(PONDER_API_DIALECT_OPENAI, error);
    g_autofree char *body = ponder_api_json_to_string(node);
    g_autofree char *answer =
        g_strdup_printf("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                        strlen(body), body);
    g_socket_send(socket, answer, strlen(answer), NULL, NULL);
    g_socket_shutdown(socket, TRUE, TRUE, NULL);
    if (!self->warned_connection_limit) {
        self->warned_connection_limit = TRUE;
        g_message("the local API refused a connection: %u are open, the most it keeps at once",
                  self->max_connections);
    }
    ponder_api_metrics_record_request(self->metrics, "other", SOUP_STATUS_SERVICE_UNAVAILABLE, 0);
    return TRUE;
}

// Half of what the process may open, so that the connections can never take the
// descriptors the rest of the app (database, model files, the window) needs.
guint ponder_api_default_max_connections(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return PONDER_API_MAX_CONNECTIONS;
    return (guint)CLAMP(limit.rlim_cur / 2, 8, PONDER_API_MAX_CONNECTIONS);
}

// ---- refusing without reading the body ------------------------------------------------------

// A connection that answered a refusal and waits a moment before it is closed (see below).
typedef struct {
    PonderApiServer *server;
    GIOStream *stream;
} Lingering;

static gboolean on_linger_over(gpointer data)
{
    Lingering *l = data;
    g_hash_table_remove(l->server->lingering, l->stream);
    return G_SOURCE_REMOVE;
}

static void append_header(const char *name, const char *value, gpointer data)
{
    g_string_append_printf(data, "%s: %s\r\n", name, value);
}

// Refuses a request whose body has not been read. libsoup would read (and with a 9 MiB
// body, buffer) the whole body before sending any answer, so the connection is taken from
// it: the answer is written here, the sending side shut, and the socket closed a second
// later — closing at once, with the client's body unread, would reset the connection and
// can destroy the answer before the client reads it.
static void refuse_unread(PonderApiRequest *req, guint status, const char *body)
{
    PonderApiServer *self = req->server;
    SoupServerMessage *msg = req->msg;
    GString *text = g_string_new(NULL);
    g_string_append_printf(text, "HTTP/1.1 %u %s\r\n", status, soup_status_get_phrase(status));
    soup_message_headers_foreach(soup_server_message_get_response_headers(msg), append_header,
                                 text);
    g_string_append_printf(text,
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n\r\n%s",
                           strlen(body), body);
    req->status = status;
    req->counted = TRUE;
    ponder_api_metrics_record_request(
        self->metrics, req->route ? req->route->path : "other", status,
        (double)(g_get_monotonic_time() - req->arrived_us) / G_USEC_PER_SEC);
    g_autoptr(GSocket) socket = g_object_ref(soup_server_message_get_socket(msg));
    ponder_api_request_detach(req);
    GIOStream *stream = soup_server_message_steal_connection(msg);
    // A fresh connection's send buffer takes a small answer whole.
    g_socket_send(socket, text->str, text->len, NULL, NULL);
    g_socket_shutdown(socket, FALSE, TRUE, NULL);
    g_string_free(text, TRUE);
    Lingering *l = g_new(Lingering, 1);
    l->server = self;
    l->stream = stream;
    guint id = g_timeout_add_full(G_PRIORITY_DEFAULT, 1000, on_linger_over, l, g_free);
    g_hash_table_insert(self->lingering, stream, GUINT_TO_POINTER(id));
}

// Answers ERROR, also to a request whose body was not read (see refuse_unread).
void ponder_api_request_reject(PonderApiRequest *req, const PonderApiError *error)
{
    SoupMessageHeaders *in = soup_server_message_get_request_headers(req->msg);
    gboolean body_unread = soup_server_message_get_status(req->msg) == 0 &&
                           (soup_message_headers_get_encoding(in) == SOUP_ENCODING_CHUNKED ||
                            soup_message_headers_get_content_length(in) > 0) &&
                           (!req->body || !req->body->len);
    if (body_unread && soup_server_message_get_socket(req->msg)) {
        g_autoptr(JsonNode) node = ponder_api_error_to_json(req->dialect, error);
        g_autofree char *body = ponder_api_json_to_string(node);
        refuse_unread(req, error->status, body);
        return;
    }
    ponder_api_request_respond_error(req, error);
}

// ---- the header checks, before the body is read ---------------------------------------------

// The names and addresses a LAN client may put in Host: this machine's host name (also
// with ".local", as mDNS gives it), the configured host, and every interface address.
GStrv ponder_api_server_collect_local_names(PonderApiServer *self)
{
    GStrvBuilder *names = g_strv_builder_new();
    if (self->host) {
        gboolean v6 = strchr(self->host, ':') != NULL;
        g_autofree char *name = v6 ? g_strdup_printf("[%s]", self->host) : g_strdup(self->host);
        g_strv_builder_add(names, name);
    }
    if (self->allow_lan) {
        const char *hostname = g_get_host_name();
        g_strv_builder_add(names, hostname);
        g_autofree char *mdns = g_strdup_printf("%s.local", hostname);
        g_strv_builder_add(names, mdns);
        struct ifaddrs *addresses = NULL;
        if (getifaddrs(&addresses) == 0) {
            for (struct ifaddrs *a = addresses; a; a = a->ifa_next) {
                if (!a->ifa_addr ||
                    (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
                    continue;
                char text[INET6_ADDRSTRLEN];
                gboolean v6 = a->ifa_addr->sa_family == AF_INET6;
                const void *raw =
                    v6 ? (const void *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr
                       : (const void *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr;
                if (!inet_ntop(a->ifa_addr->sa_family, raw, text, sizeof text))
                    continue;
                g_autofree char *name = v6 ? g_strdup_printf("[%s]", text) : g_strdup(text);
                g_strv_builder_add(names, name);
            }
            freeifaddrs(addresses);
        }
    }
    GStrv result = g_strv_builder_end(names);
    g_strv_builder_unref(names);
    return result;
}

static void answer_preflight(PonderApiRequest *req)
{
    SoupMessageHeaders *headers = soup_server_message_get_response_headers(req->msg);
    soup_message_headers_replace(headers, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    soup_message_headers_replace(headers, "Access-Control-Allow-Headers",
                                 "Authorization, Content-Type");
    soup_message_headers_replace(headers, "Access-Control-Max-Age", "600");
    ponder_api_request_respond(req, SOUP_STATUS_NO_CONTENT, NULL, NULL, 0);
}

static PonderApiAccess access_of(PonderApiServer *self)
{
    return (PonderApiAccess){
        .local_names = (const char *const *)self->local_names,
        .allowed_origins = (const char *const *)self->allowed_origins,
        .api_key_digest = self->api_key_digest,
    };
}

static void collect_header(const char *name, const char *value, gpointer data)
{
    PonderApiHeader header = {name, value};
    g_array_append_val(data, header);
}

void ponder_api_server_early_handler(SoupServer *soup, SoupServerMessage *msg, const char *path,
                                     GHashTable *query, gpointer data)
{
    PonderApiServer *self = data;
    PonderApiRequest *req = ponder_api_request_of(msg);
    if (!req)
        return;
    const char *method = soup_server_message_get_method(msg);
    gboolean path_known;
    req->route = ponder_api_find_route(method, path, &path_known);
    req->dialect = ponder_api_dialect_of_path(path);
    SoupMessageHeaders *in = soup_server_message_get_request_headers(msg);
    g_autoptr(GArray) headers = g_array_new(FALSE, FALSE, sizeof(PonderApiHeader));
    soup_message_headers_foreach(in, collect_header, headers);

    PonderApiAccess access = access_of(self);
    g_autoptr(PonderApiError) error = NULL;
    PonderApiHeaderVerdict verdict = ponder_api_check_headers(
        &access, method, (const PonderApiHeader *)headers->data, headers->len, &error);
    const char *origin = soup_message_headers_get_one(in, "Origin");
    if (origin && ponder_api_origin_allowed(&access, origin)) {
        SoupMessageHeaders *out = soup_server_message_get_response_headers(msg);
        soup_message_headers_replace(out, "Access-Control-Allow-Origin", origin);
        soup_message_headers_replace(out, "Vary", "Origin");
    }
    if (verdict == PONDER_API_HEADERS_PREFLIGHT) {
        answer_preflight(req);
        return;
    }
    if (verdict == PONDER_API_HEADERS_REFUSED) {
        if (error->status == SOUP_STATUS_UNAUTHORIZED)
            soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                                         "WWW-Authenticate", "Bearer");
        ponder_api_request_reject(req, error);
        return;
    }
    // From here the body is counted as it arrives instead of accumulated by libsoup.
    soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
    g_signal_connect(msg, "got-chunk", G_CALLBACK(on_got_chunk), req);
}
