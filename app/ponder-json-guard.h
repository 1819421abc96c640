// One gate for JSON that Ponder did not write itself: API request bodies, the remote
// server's answers and stream chunks, imported conversation files, sampling settings read
// back from the database. json-glib's parser recurses once per nesting level, so a few
// hundred kilobytes of "[[[[..." exhaust the stack and kill the process; the guard counts
// the depth with a flat byte scan first and refuses anything deeper than the engine's own
// JSON reader accepts (inference/formats/json.c), before the parser sees it.
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

// The deepest nesting accepted, the same as the inference library's JSON reader.
#define PONDER_JSON_MAX_DEPTH 512

#define PONDER_JSON_GUARD_ERROR (ponder_json_guard_error_quark())
GQuark ponder_json_guard_error_quark(void);

typedef enum {
    PONDER_JSON_GUARD_ERROR_TOO_DEEP, // nested deeper than PONDER_JSON_MAX_DEPTH
} PonderJsonGuardError;

// Fails with PONDER_JSON_GUARD_ERROR_TOO_DEEP when TEXT (LENGTH bytes, or up to its NUL
// when LENGTH is -1) opens more than PONDER_JSON_MAX_DEPTH arrays and objects at once.
// Brackets inside strings do not count. Says nothing else about validity: that is the
// parser's job.
gboolean ponder_json_check_depth(const char *text, gssize length, GError **error);

// The guard, then json_parser_load_from_data: the way to parse untrusted JSON. Errors are
// the guard's or json-glib's (JSON_PARSER_ERROR).
gboolean ponder_json_parser_load_untrusted(JsonParser *parser, const char *text, gssize length,
                                           GError **error);

// Parses untrusted TEXT into a new node (NULL on error), like json_from_string.
JsonNode *ponder_json_from_untrusted(const char *text, gssize length, GError **error);

G_END_DECLS
