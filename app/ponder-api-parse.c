// A request from its parts to what the routes act on, without a connection: the route a
// method and path name, the checks its headers must pass (Host, Origin, key, size), and
// its body as a JSON object and as request parameters. The server runs the steps as the
// parts arrive (headers first, before the body is read); ponder_api_parse_request runs
// them all at once, for the fuzzer (tests/fuzz/fuzz-api.c) and tests.
#include "ponder-api-server-private.h"

#include <string.h>

#include "ponder-json-guard.h"

static const PonderApiRoute routes[] = {
    {"GET", "/v1/models", PONDER_API_DIALECT_OPENAI, PONDER_API_ROUTE_OPENAI_MODELS, NULL, FALSE},
    {"POST", "/v1/chat/completions", PONDER_API_DIALECT_OPENAI, PONDER_API_ROUTE_OPENAI_CHAT,
     ponder_api_params_parse_openai, TRUE},
    {"POST", "/v1/completions", PONDER_API_DIALECT_OPENAI, PONDER_API_ROUTE_OPENAI_COMPLETIONS,
     ponder_api_params_parse_openai, FALSE},
    {"GET", "/api/tags", PONDER_API_DIALECT_OLLAMA, PONDER_API_ROUTE_OLLAMA_TAGS, NULL, FALSE},
    {"POST", "/api/show", PONDER_API_DIALECT_OLLAMA, PONDER_API_ROUTE_OLLAMA_SHOW, NULL, FALSE},
    {"POST", "/api/chat", PONDER_API_DIALECT_OLLAMA, PONDER_API_ROUTE_OLLAMA_CHAT,
     ponder_api_params_parse_ollama, TRUE},
    {"POST", "/api/generate", PONDER_API_DIALECT_OLLAMA, PONDER_API_ROUTE_OLLAMA_GENERATE,
     ponder_api_params_parse_ollama, FALSE},
    {"GET", "/api/version", PONDER_API_DIALECT_OLLAMA, PONDER_API_ROUTE_OLLAMA_VERSION, NULL,
     FALSE},
    {"GET", "/api/ps", PONDER_API_DIALECT_OLLAMA, PONDER_API_ROUTE_OLLAMA_PS, NULL, FALSE},
    {"GET", "/health", PONDER_API_DIALECT_OPENAI, PONDER_API_ROUTE_HEALTH, NULL, FALSE},
    {"GET", "/metrics", PONDER_API_DIALECT_OPENAI, PONDER_API_ROUTE_METRICS, NULL, FALSE},
};

// ---- errors --------------------------------------------------------------------------------

PonderApiError *ponder_api_error_new(guint status, const char *param, const char *code,
                                     const char *format, ...)
{
    PonderApiError *error = g_new0(PonderApiError, 1);
    error->status = status;
    error->param = g_strdup(param);
    error->code = code;
    va_list args;
    va_start(args, format);
    error->message = g_strdup_vprintf(format, args);
    va_end(args);
    // Messages quote what the client sent (headers, json-glib's view of a body), which need
    // not be UTF-8; the answer is JSON, which must be.
    if (!g_utf8_validate(error->message, -1, NULL)) {
        char *valid = g_utf8_make_valid(error->message, -1);
        g_free(error->message);
        error->message = valid;
    }
    return error;
}

void ponder_api_error_free(PonderApiError *error)
{
    if (!error)
        return;
    g_free(error->message);
    g_free(error->param);
    g_free(error);
}

const char *ponder_api_error_type(guint status)
{
    switch (status) {
    case SOUP_STATUS_UNAUTHORIZED: return "authentication_error";
    case SOUP_STATUS_FORBIDDEN: return "permission_error";
    case SOUP_STATUS_NOT_FOUND: return "not_found_error";
    case PONDER_API_STATUS_TOO_MANY_REQUESTS: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

JsonNode *ponder_api_error_to_json(PonderApiDialect dialect, const PonderApiError *error)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    if (dialect == PONDER_API_DIALECT_OLLAMA) {
        json_builder_add_string_value(b, error->message);
    } else {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "message");
        json_builder_add_string_value(b, error->message);
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, ponder_api_error_type(error->status));
        json_builder_set_member_name(b, "param");
        if (error->param)
            json_builder_add_string_value(b, error->param);
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "code");
        if (error->code)
            json_builder_add_string_value(b, error->code);
        else
            json_builder_add_null_value(b);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

char *ponder_api_json_to_string(JsonNode *node)
{
    g_autoptr(JsonGenerator) generator = json_generator_new();
    json_generator_set_root(generator, node);
    gsize length;
    char *text = json_generator_to_data(generator, &length);
    // json-glib 1.6 writes U+001F unescaped, which strict parsers (JavaScript's JSON.parse,
    // so every npm client) reject; models do emit it. Unpretty output has no raw control
    // bytes of its own, and none occurs inside a UTF-8 sequence, so each one left is string
    // content to escape.
    if (!memchr(text, 0x1f, length))
        return text;
    GString *escaped = g_string_sized_new(length + 16);
    for (const char *c = text; *c; c++) {
        if ((unsigned char)*c < 0x20)
            g_string_append_printf(escaped, "\\u%04x", (unsigned char)*c);
        else
            g_string_append_c(escaped, *c);
    }
    g_free(text);
    return g_string_free(escaped, FALSE);
}

const char *ponder_api_string_member(JsonObject *object, const char *name)
{
    JsonNode *node = object ? json_object_get_member(object, name) : NULL;
    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string(node);
}

// ---- the route -------------------------------------------------------------------------------

const PonderApiRoute *ponder_api_find_route(const char *method, const char *path,
                                            gboolean *path_known)
{
    *path_known = FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(routes); i++) {
        if (!g_str_equal(routes[i].path, path))
            continue;
        *path_known = TRUE;
        if (g_str_equal(routes[i].method, method))
            return &routes[i];
    }
    return NULL;
}

PonderApiError *ponder_api_no_route_error(const char *method, const char *path, gboolean path_known)
{
    g_autofree char *shown_method = g_utf8_make_valid(method, -1);
    g_autofree char *shown_path = g_utf8_make_valid(path, -1);
    return path_known ? ponder_api_error_new(SOUP_STATUS_METHOD_NOT_ALLOWED, NULL, NULL,
                                             "%s is not allowed on %s", shown_method, shown_path)
                      : ponder_api_error_new(SOUP_STATUS_NOT_FOUND, NULL, "unknown_url",
                                             "no route %s %s", shown_method, shown_path);
}

PonderApiError *ponder_api_body_too_large_error(void)
{
    return ponder_api_error_new(SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL, NULL,
                                "the request body is over %u bytes", PONDER_API_MAX_BODY_BYTES);
}

PonderApiDialect ponder_api_dialect_of_path(const char *path)
{
    return g_str_has_prefix(path, "/api/") ? PONDER_API_DIALECT_OLLAMA : PONDER_API_DIALECT_OPENAI;
}

// ---- headers ---------------------------------------------------------------------------------

const char *ponder_api_header_find(const PonderApiHeader *headers, gsize n_headers,
                                   const char *name)
{
    for (gsize i = 0; i < n_headers; i++)
        if (g_ascii_strcasecmp(headers[i].name, name) == 0)
            return headers[i].value;
    return NULL;
}

// The host part of a Host header ("[::1]:11434" -> "[::1]", "localhost:80" -> "localhost"),
// or NULL when it is malformed.
static char *host_without_port(const char *host)
{
    const char *end;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close)
            return NULL;
        end = close + 1;
    } else {
        end = strchr(host, ':');
        if (!end)
            end = host + strlen(host);
    }
    if (*end == ':') {
        const char *digits = end + 1;
        if (!*digits || strspn(digits, "0123456789") != strlen(digits))
            return NULL;
    } else if (*end) {
        return NULL;
    }
    return g_ascii_strdown(host, end - host);
}

static gboolean host_allowed(const PonderApiAccess *access, const char *header)
{
    if (!header)
        return FALSE;
    g_autofree char *host = host_without_port(header);
    if (!host)
        return FALSE;
    static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]"};
    for (guint i = 0; i < G_N_ELEMENTS(loopback); i++)
        if (g_str_equal(host, loopback[i]))
            return TRUE;
    for (guint i = 0; access->local_names && access->local_names[i]; i++)
        if (g_ascii_strcasecmp(host, access->local_names[i]) == 0)
            return TRUE;
    return FALSE;
}

gboolean ponder_api_origin_allowed(const PonderApiAccess *access, const char *origin)
{
    for (guint i = 0; access->allowed_origins && access->allowed_origins[i]; i++)
        if (g_ascii_strcasecmp(origin, access->allowed_origins[i]) == 0)
            return TRUE;
    return FALSE;
}

// Compares digests, so neither the key's length nor a common prefix shows in the timing.
static gboolean key_matches(const PonderApiAccess *access, const char *authorization)
{
    const char *given = "";
    if (authorization && g_ascii_strncasecmp(authorization, "Bearer ", 7) == 0)
        given = authorization + 7;
    g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, given, -1);
    guint diff = 0;
    for (gsize i = 0; i < 64; i++)
        diff |= (guint)(digest[i] ^ access->api_key_digest[i]);
    return diff == 0 && authorization != NULL;
}

PonderApiHeaderVerdict ponder_api_check_headers(const PonderApiAccess *access, const char *method,
                                                const PonderApiHeader *headers, gsize n_headers,
                                                PonderApiError **error)
{
    const char *host = ponder_api_header_find(headers, n_headers, "Host");
    if (!host_allowed(access, host)) {
        // Header bytes need not be UTF-8; the answer is JSON, which must be.
        g_autofree char *shown = g_utf8_make_valid(host ? host : "", -1);
        *error = ponder_api_error_new(
            SOUP_STATUS_FORBIDDEN, NULL, NULL,
            "Host \"%s\" is not this machine: the local API answers only requests addressed "
            "to localhost (this protects it from DNS rebinding)",
            shown);
        return PONDER_API_HEADERS_REFUSED;
    }
    const char *origin = ponder_api_header_find(headers, n_headers, "Origin");
    if (origin && !ponder_api_origin_allowed(access, origin)) {
        g_autofree char *shown = g_utf8_make_valid(origin, -1);
        *error = ponder_api_error_new(
            SOUP_STATUS_FORBIDDEN, NULL, NULL,
            "Origin \"%s\" is not allowed: add it to the allowed origins in Ponder's "
            "preferences to use the API from that web page",
            shown);
        return PONDER_API_HEADERS_REFUSED;
    }
    if (g_str_equal(method, "OPTIONS")) {
        // Browsers send preflights without credentials: answered for allowed origins only.
        if (origin && ponder_api_header_find(headers, n_headers, "Access-Control-Request-Method"))
            return PONDER_API_HEADERS_PREFLIGHT;
        *error = ponder_api_error_new(SOUP_STATUS_METHOD_NOT_ALLOWED, NULL, NULL,
                                      "OPTIONS is only answered as a CORS preflight");
        return PONDER_API_HEADERS_REFUSED;
    }
    const char *authorization = ponder_api_header_find(headers, n_headers, "Authorization");
    if (access->api_key_digest && !key_matches(access, authorization)) {
        *error = ponder_api_error_new(
            SOUP_STATUS_UNAUTHORIZED, NULL, "invalid_api_key", "%s",
            authorization ? "the API key is wrong (Authorization: Bearer KEY)"
                          : "an API key is required: send \"Authorization: Bearer KEY\"");
        return PONDER_API_HEADERS_REFUSED;
    }
    const char *length_text = ponder_api_header_find(headers, n_headers, "Content-Length");
    guint64 length = 0;
    if (length_text && g_ascii_string_to_unsigned(length_text, 10, 0, G_MAXUINT64, &length, NULL) &&
        length > PONDER_API_MAX_BODY_BYTES) {
        *error = ponder_api_error_new(SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL, NULL,
                                      "the request body is %" G_GUINT64_FORMAT
                                      " bytes; at most %u are accepted",
                                      length, PONDER_API_MAX_BODY_BYTES);
        return PONDER_API_HEADERS_REFUSED;
    }
    return PONDER_API_HEADERS_OK;
}

// ---- the body ----------------------------------------------------------------------------------

gboolean ponder_api_parse_body(const PonderApiRoute *route, const guint8 *body, gsize length,
                               JsonNode **out, PonderApiError **error)
{
    *out = NULL;
    if (!g_str_equal(route->method, "POST"))
        return TRUE; // GET routes ignore a body
    const char *text = (const char *)body;
    if (length > G_MAXSSIZE || !g_utf8_validate(text, (gssize)length, NULL)) {
        *error = ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, NULL, "invalid_json",
                                      "the request body is not valid UTF-8");
        return FALSE;
    }
    if (length == 0) {
        *error = ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, NULL, "invalid_json",
                                      "the request body is empty; a JSON object is expected");
        return FALSE;
    }
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(JsonNode) root = ponder_json_from_untrusted(text, (gssize)length, &parse_error);
    if (!root) {
        *error =
            ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, NULL, "invalid_json",
                                 "the request body is not valid JSON: %s", parse_error->message);
        return FALSE;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        *error = ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, NULL, "invalid_json",
                                      "the request body must be a JSON object");
        return FALSE;
    }
    *out = g_steal_pointer(&root);
    return TRUE;
}

// ---- all at once -------------------------------------------------------------------------------

void ponder_api_parsed_request_clear(PonderApiParsedRequest *request)
{
    g_clear_pointer(&request->body, json_node_unref);
    ponder_api_params_clear(&request->params);
    request->route = NULL;
}

gboolean ponder_api_parse_request(const PonderApiAccess *access, const char *method,
                                  const char *path, const PonderApiHeader *headers, gsize n_headers,
                                  const guint8 *body, gsize length, PonderApiParsedRequest *out,
                                  PonderApiError **error)
{
    memset(out, 0, sizeof *out);
    out->dialect = ponder_api_dialect_of_path(path);
    gboolean path_known;
    const PonderApiRoute *route = ponder_api_find_route(method, path, &path_known);
    PonderApiHeaderVerdict verdict =
        ponder_api_check_headers(access, method, headers, n_headers, error);
    if (verdict == PONDER_API_HEADERS_REFUSED)
        return FALSE;
    if (verdict == PONDER_API_HEADERS_PREFLIGHT) {
        out->preflight = TRUE;
        return TRUE;
    }
    if (length > PONDER_API_MAX_BODY_BYTES || !route) {
        *error = length > PONDER_API_MAX_BODY_BYTES
                     ? ponder_api_body_too_large_error()
                     : ponder_api_no_route_error(method, path, path_known);
        return FALSE;
    }
    out->route = route;
    if (!ponder_api_parse_body(route, body, length, &out->body, error))
        return FALSE;
    if (route->parse_params &&
        !route->parse_params(json_node_get_object(out->body), route->chat, &out->params, error))
        return FALSE;
    return TRUE;
}
