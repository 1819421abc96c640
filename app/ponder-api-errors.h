// The answers that are not 2xx: an error (status, message, the request field at fault,
// OpenAI's code, Retry-After), the JSON body each dialect answers it with, and the statuses
// the engine's and the prompt's errors map to.
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

// libsoup 3.2's SoupStatus has no name for it.
#define PONDER_API_STATUS_TOO_MANY_REQUESTS 429

typedef enum {
    PONDER_API_DIALECT_OPENAI, // errors as {"error":{"message","type","param","code"}}
    PONDER_API_DIALECT_OLLAMA, // errors as {"error":"message"}, as Ollama's clients read them
} PonderApiDialect;

// An answer that is not 2xx. TYPE follows from STATUS (invalid_request_error, ...).
typedef struct {
    guint status;
    char *message;
    char *param;       // the request field at fault, or NULL
    const char *code;  // OpenAI's machine-readable code ("context_length_exceeded"), or NULL
    guint retry_after; // seconds for a Retry-After header, 0: none
} PonderApiError;

PonderApiError *ponder_api_error_new(guint status, const char *param, const char *code,
                                     const char *format, ...) G_GNUC_PRINTF(4, 5);
void ponder_api_error_free(PonderApiError *error);
// The error object of DIALECT (see PonderApiDialect).
JsonNode *ponder_api_error_to_json(PonderApiDialect dialect, const PonderApiError *error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PonderApiError, ponder_api_error_free)
// The OpenAI "type" of STATUS.
const char *ponder_api_error_type(guint status);
// From an engine or library error (busy -> 429, prompt too long -> 400, ...).
PonderApiError *ponder_api_error_from_gerror(const GError *error);

G_END_DECLS
