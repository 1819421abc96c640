#include "ponder-sampling.h"

#include <json-glib/json-glib.h>

#include "ponder-json-guard.h"

// The shortest text that reads back as the same float: 0.6, not the 0.60000002384185791 of
// a float widened to double; g_ascii_formatd writes '.' whatever the locale says.
static void append_number(GString *json, const char *name, float value)
{
    char number[G_ASCII_DTOSTR_BUF_SIZE];
    for (int digits = 6; digits <= 9; digits++) {
        char format[8];
        g_snprintf(format, sizeof format, "%%.%dg", digits);
        g_ascii_formatd(number, sizeof number, format, value);
        if ((float)g_ascii_strtod(number, NULL) == value)
            break;
    }
    g_string_append_printf(json, "%s\"%s\":%s", json->len > 1 ? "," : "", name, number);
}

char *ponder_sampling_to_json(const SamplerParams *s, gboolean with_seed, guint max_tokens)
{
    GString *json = g_string_new("{");
    append_number(json, "temperature", s->temperature);
    append_number(json, "top_p", s->top_p);
    g_string_append_printf(json, ",\"top_k\":%d", (int)s->top_k);
    append_number(json, "min_p", s->min_p);
    append_number(json, "repetition_penalty", s->repetition_penalty);
    append_number(json, "presence_penalty", s->presence_penalty);
    append_number(json, "frequency_penalty", s->frequency_penalty);
    if (with_seed)
        g_string_append_printf(json, ",\"seed\":%" G_GINT64_FORMAT, (gint64)s->seed);
    if (max_tokens)
        g_string_append_printf(json, ",\"max_tokens\":%u", max_tokens);
    g_string_append_c(json, '}');
    return g_string_free(json, FALSE);
}

static gboolean is_number(JsonNode *node)
{
    GType type = JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_INVALID;
    return type == G_TYPE_INT64 || type == G_TYPE_DOUBLE;
}

gboolean ponder_sampling_from_json(const char *json, SamplerParams *out, gboolean *has_seed,
                                   GError **error)
{
    if (has_seed)
        *has_seed = FALSE;
    g_autoptr(JsonNode) root = ponder_json_from_untrusted(json, -1, error);
    if (!root)
        return FALSE;
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                    "the sampling settings are not a JSON object");
        return FALSE;
    }
    JsonObject *o = json_node_get_object(root);
    static const struct {
        const char *name;
        gsize offset;
    } floats[] = {
        {"temperature", G_STRUCT_OFFSET(SamplerParams, temperature)},
        {"top_p", G_STRUCT_OFFSET(SamplerParams, top_p)},
        {"min_p", G_STRUCT_OFFSET(SamplerParams, min_p)},
        {"repetition_penalty", G_STRUCT_OFFSET(SamplerParams, repetition_penalty)},
        {"presence_penalty", G_STRUCT_OFFSET(SamplerParams, presence_penalty)},
        {"frequency_penalty", G_STRUCT_OFFSET(SamplerParams, frequency_penalty)},
    };
    // Checked whole before anything is written, so a bad member leaves OUT as it was.
    const char *integers[] = {"top_k", "seed"};
    for (gsize i = 0; i < G_N_ELEMENTS(floats) + G_N_ELEMENTS(integers); i++) {
        const char *name =
            i < G_N_ELEMENTS(floats) ? floats[i].name : integers[i - G_N_ELEMENTS(floats)];
        JsonNode *node = json_object_get_member(o, name);
        gboolean integer = i >= G_N_ELEMENTS(floats);
        if (node &&
            (!is_number(node) || (integer && json_node_get_value_type(node) != G_TYPE_INT64))) {
            g_set_error(error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                        "the sampling setting \"%s\" is not %s", name,
                        integer ? "an integer" : "a number");
            return FALSE;
        }
    }
    for (gsize i = 0; i < G_N_ELEMENTS(floats); i++) {
        JsonNode *node = json_object_get_member(o, floats[i].name);
        if (node)
            G_STRUCT_MEMBER(float, out, floats[i].offset) = (float)json_node_get_double(node);
    }
    JsonNode *top_k = json_object_get_member(o, "top_k");
    if (top_k)
        out->top_k = (int32_t)CLAMP(json_node_get_int(top_k), G_MININT32, G_MAXINT32);
    JsonNode *seed = json_object_get_member(o, "seed");
    if (seed) {
        out->seed = (uint64_t)json_node_get_int(seed); // the same bits as were written
        if (has_seed)
            *has_seed = TRUE;
    }
    return TRUE;
}
