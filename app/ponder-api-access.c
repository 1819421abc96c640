// The checks a request's headers must pass before its body is read: Host, Origin, CORS
// preflight, the API key and the declared body size, in that order (ponder-api-server.h
// says why each). They need only the headers, not a connection: the server runs them from
// its early handler (ponder-api-security.c), the fuzzer (tests/fuzz/fuzz-api.c) through
// ponder_api_parse_request.
#include "ponder-api-access.h"

#include <libsoup/soup.h>
#include <string.h>

#include "ponder-api-server.h"

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
