// The nesting guard in front of json-glib (see the header for why). The scan is a single
// pass with a counter: it follows only what changes the depth (brackets and braces outside
// strings, and the string boundaries that hide them), so it is linear and needs no stack.
#include "ponder-json-guard.h"

#include <string.h>

G_DEFINE_QUARK(ponder - json - guard - error - quark, ponder_json_guard_error)

gboolean ponder_json_check_depth(const char *text, gssize length, GError **error)
{
    gsize size = length < 0 ? (text ? strlen(text) : 0) : (gsize)length;
    guint depth = 0;
    gboolean in_string = FALSE;
    for (gsize i = 0; i < size; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++; // the escaped byte cannot end the string (\" and \\)
            else if (c == '"')
                in_string = FALSE;
            continue;
        }
        switch (c) {
        case '"': in_string = TRUE; break;
        case '[':
        case '{':
            if (++depth > PONDER_JSON_MAX_DEPTH) {
                g_set_error(error, PONDER_JSON_GUARD_ERROR, PONDER_JSON_GUARD_ERROR_TOO_DEEP,
                            "the JSON is nested deeper than %d levels (at byte %" G_GSIZE_FORMAT
                            "); at most %d are accepted",
                            PONDER_JSON_MAX_DEPTH, i, PONDER_JSON_MAX_DEPTH);
                return FALSE;
            }
            break;
        case ']':
        case '}':
            // Unbalanced closers are the parser's to report; they must not buy extra depth.
            if (depth > 0)
                depth--;
            break;
        default: break;
        }
    }
    return TRUE;
}

gboolean ponder_json_parser_load_untrusted(JsonParser *parser, const char *text, gssize length,
                                           GError **error)
{
    return ponder_json_check_depth(text, length, error) &&
           json_parser_load_from_data(parser, text, length, error);
}

JsonNode *ponder_json_from_untrusted(const char *text, gssize length, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    if (!ponder_json_parser_load_untrusted(parser, text, length, error))
        return NULL;
    JsonNode *root = json_parser_get_root(parser);
    if (!root) {
        g_set_error_literal(error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                            "the JSON text is empty");
        return NULL;
    }
    return json_node_ref(root);
}
