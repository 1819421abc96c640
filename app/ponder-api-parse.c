// A request from its parts to what the routes act on, without a connection: the route a
// method and path name, the checks its headers must pass (Host, Origin, key, size: in
// ponder-api-access.c), and its body as a JSON object and as request parameters. The server
// runs the steps as the parts arrive (headers first, before the body is read);
// ponder_api_parse_request runs them all at once, for the fuzzer (tests/fuzz/fuzz-api.c) and
// tests.
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

// ---- JSON ----------------------------------------------------------------------------------

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
