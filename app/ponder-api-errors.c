// The answers that are not 2xx: an error and the JSON body each dialect answers it with,
// and the statuses the engine's and the prompt's errors map to. No connection: the fuzzer
// (tests/fuzz/fuzz-api.c) compiles it with the request path.
#include "ponder-api-errors.h"

#include <libsoup/soup.h>

#include "ponder-chat-prompt.h"
#include "ponder-engine.h"

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

PonderApiError *ponder_api_error_from_gerror(const GError *error)
{
    if (error && error->domain == PONDER_ENGINE_ERROR) {
        switch ((PonderEngineError)error->code) {
        case PONDER_ENGINE_ERROR_BUSY: {
            PonderApiError *busy =
                ponder_api_error_new(PONDER_API_STATUS_TOO_MANY_REQUESTS, NULL,
                                     "rate_limit_exceeded", "%s", error->message);
            busy->retry_after = 2;
            return busy;
        }
        case PONDER_ENGINE_ERROR_PROMPT_TOO_LONG:
            return ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, "messages",
                                        "context_length_exceeded", "%s", error->message);
        case PONDER_ENGINE_ERROR_INVALID:
            return ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, NULL, NULL, "%s", error->message);
        case PONDER_ENGINE_ERROR_NO_MODEL:
            return ponder_api_error_new(SOUP_STATUS_SERVICE_UNAVAILABLE, "model",
                                        "model_not_loaded", "%s", error->message);
        default:
            return ponder_api_error_new(SOUP_STATUS_SERVICE_UNAVAILABLE, NULL, NULL, "%s",
                                        error->message);
        }
    }
    if (error && error->domain == PONDER_CHAT_PROMPT_ERROR)
        return ponder_api_error_new(
            SOUP_STATUS_BAD_REQUEST, "messages",
            error->code == PONDER_CHAT_PROMPT_ERROR_TOO_LONG ? "context_length_exceeded" : NULL,
            "%s", error->message);
    return ponder_api_error_new(SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL, "%s",
                                error ? error->message : "the request failed");
}
