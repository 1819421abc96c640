// The checks a request's headers must pass before its body is read (Host, Origin, CORS
// preflight, key, declared size), on the headers alone: what they compare against and
// what they decide.
#pragma once

#include "ponder-api-errors.h"

G_BEGIN_DECLS

// What the header checks compare against (the server's options).
typedef struct {
    const char *const *local_names;     // Host values accepted besides loopback
    const char *const *allowed_origins; // browser Origins allowed
    const char *api_key_digest;         // SHA-256 (hex) of the key, or NULL: no key
} PonderApiAccess;

typedef struct {
    const char *name;
    const char *value;
} PonderApiHeader;

typedef enum {
    PONDER_API_HEADERS_OK,
    PONDER_API_HEADERS_PREFLIGHT, // a CORS preflight from an allowed origin: answer it
    PONDER_API_HEADERS_REFUSED,
} PonderApiHeaderVerdict;

// The first value of header NAME (case-insensitive), or NULL.
const char *ponder_api_header_find(const PonderApiHeader *headers, gsize n_headers,
                                   const char *name);
gboolean ponder_api_origin_allowed(const PonderApiAccess *access, const char *origin);
// Host, Origin, CORS preflight, key and declared size, in that order (see ponder-api-server.h).
PonderApiHeaderVerdict ponder_api_check_headers(const PonderApiAccess *access, const char *method,
                                                const PonderApiHeader *headers, gsize n_headers,
                                                PonderApiError **error);

G_END_DECLS
