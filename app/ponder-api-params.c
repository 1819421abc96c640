// Request parsing for both dialects: every field is type- and range-checked, with a 400
// that names it (OpenAI's "param"); unknown fields are ignored (clients send many), and
// features Ponder does not have (tools, images, n > 1, ...) are refused by name rather
// than silently dropped, so a plugin's user learns why it does not work.
#include "ponder-api-server-private.h"

#include <math.h>
#include <string.h>

// Generous: R1 may think for tens of thousands of tokens; the engine caps it anyway.
#define MAX_TOKENS_LIMIT 1000000
#define MAX_STOP_STRINGS 16

static PonderApiError *invalid(const char *param, const char *format, ...) G_GNUC_PRINTF(2, 3);

static PonderApiError *invalid(const char *param, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    return ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, param, "invalid_value", "%s", message);
}

static PonderApiError *unsupported(const char *param, const char *what)
{
    return ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, param, "unsupported_parameter",
                                "'%s' is not supported: %s", param, what);
}

// NULL when absent or null (both mean "the default").
static JsonNode *member(JsonObject *object, const char *name)
{
    JsonNode *node = json_object_get_member(object, name);
    return node && !JSON_NODE_HOLDS_NULL(node) ? node : NULL;
}

static gboolean is_number(JsonNode *node)
{
    if (!JSON_NODE_HOLDS_VALUE(node))
        return FALSE;
    GType type = json_node_get_value_type(node);
    return type == G_TYPE_DOUBLE || type == G_TYPE_INT64;
}

static gboolean read_number(JsonObject *object, const char *name, const char *param, double min,
                            double max, double *out, PonderApiError **error)
{
    JsonNode *node = member(object, name);
    if (!node)
        return TRUE;
    if (!is_number(node)) {
        *error = invalid(param, "'%s' must be a number", param);
        return FALSE;
    }
    double value = json_node_get_double(node);
    if (!isfinite(value) || value < min || value > max) {
        // The client's numbers as it wrote them, with a '.' (not this process's locale's).
        char low[G_ASCII_DTOSTR_BUF_SIZE], high[G_ASCII_DTOSTR_BUF_SIZE],
            got[G_ASCII_DTOSTR_BUF_SIZE];
        *error = invalid(param, "'%s' must be between %s and %s, got %s", param,
                         g_ascii_formatd(low, sizeof low, "%g", min),
                         g_ascii_formatd(high, sizeof high, "%g", max),
                         g_ascii_formatd(got, sizeof got, "%g", value));
        return FALSE;
    }
    *out = value;
    return TRUE;
}

static gboolean read_int(JsonObject *object, const char *name, const char *param, gint64 min,
                         gint64 max, gint64 *out, PonderApiError **error)
{
    JsonNode *node = member(object, name);
    if (!node)
        return TRUE;
    double value = is_number(node) ? json_node_get_double(node) : NAN;
    if (!isfinite(value) || value != floor(value)) {
        *error = invalid(param, "'%s' must be an integer", param);
        return FALSE;
    }
    // A double at or beyond ±2^63 has no gint64 (converting it is undefined): out of range.
    const double two_63 = 9223372036854775808.0;
    gboolean representable = value < two_63 && value >= -two_63;
    // Seeds are full 64-bit values: read those exactly.
    gint64 exact = json_node_get_value_type(node) == G_TYPE_INT64 ? json_node_get_int(node)
                   : representable                                ? (gint64)value
                                                                  : 0;
    if (!representable || value < (double)min || value > (double)max || exact < min ||
        exact > max) {
        *error = invalid(
            param, "'%s' must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT ", got %.0f",
            param, min, max, value);
        return FALSE;
    }
    *out = exact;
    return TRUE;
}

static gboolean read_bool(JsonObject *object, const char *name, const char *param, gboolean *out,
                          PonderApiError **error)
{
    JsonNode *node = member(object, name);
    if (!node)
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN) {
        *error = invalid(param, "'%s' must be true or false", param);
        return FALSE;
    }
    *out = json_node_get_boolean(node);
    return TRUE;
}

static gboolean read_string(JsonObject *object, const char *name, const char *param, char **out,
                            PonderApiError **error)
{
    JsonNode *node = member(object, name);
    if (!node)
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
        *error = invalid(param, "'%s' must be a string", param);
        return FALSE;
    }
    g_free(*out);
    *out = g_strdup(json_node_get_string(node));
    return TRUE;
}

// "stop": a string or an array of strings.
static gboolean read_stop(JsonObject *object, const char *name, const char *param, GStrv *out,
                          PonderApiError **error)
{
    JsonNode *node = member(object, name);
    if (!node)
        return TRUE;
    GStrvBuilder *builder = g_strv_builder_new();
    gboolean ok = TRUE;
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
        g_strv_builder_add(builder, json_node_get_string(node));
    } else if (JSON_NODE_HOLDS_ARRAY(node)) {
        JsonArray *array = json_node_get_array(node);
        guint n = json_array_get_length(array);
        if (n > MAX_STOP_STRINGS) {
            *error = invalid(param, "'%s' may hold at most %d strings, got %u", param,
                             MAX_STOP_STRINGS, n);
            ok = FALSE;
        }
        for (guint i = 0; ok && i < n; i++) {
            JsonNode *item = json_array_get_element(array, i);
            if (!JSON_NODE_HOLDS_VALUE(item) || json_node_get_value_type(item) != G_TYPE_STRING) {
                *error = invalid(param, "'%s[%u]' must be a string", param, i);
                ok = FALSE;
            } else {
                g_strv_builder_add(builder, json_node_get_string(item));
            }
        }
    } else {
        *error = invalid(param, "'%s' must be a string or an array of strings", param);
        ok = FALSE;
    }
    GStrv stop = g_strv_builder_end(builder);
    g_strv_builder_unref(builder);
    if (ok) {
        g_strfreev(*out);
        *out = stop;
    } else {
        g_strfreev(stop);
    }
    return ok;
}

// A field that must be absent, null, false, empty (or equal to its default) because it
// asks for something Ponder does not do. PARAM names it in the error.
static gboolean refuse_member_if_used(JsonObject *object, const char *name, const char *param,
                                      const char *what, PonderApiError **error)
{
    JsonNode *node = member(object, name);
    if (!node)
        return TRUE;
    gboolean used = TRUE;
    if (JSON_NODE_HOLDS_ARRAY(node))
        used = json_array_get_length(json_node_get_array(node)) > 0;
    else if (JSON_NODE_HOLDS_OBJECT(node))
        used = json_object_get_size(json_node_get_object(node)) > 0;
    else if (json_node_get_value_type(node) == G_TYPE_BOOLEAN)
        used = json_node_get_boolean(node);
    else if (json_node_get_value_type(node) == G_TYPE_STRING)
        used = *json_node_get_string(node) != '\0';
    if (used)
        *error = unsupported(param, what);
    return !used;
}

static gboolean refuse_if_used(JsonObject *object, const char *name, const char *what,
                               PonderApiError **error)
{
    return refuse_member_if_used(object, name, name, what, error);
}

static void init_params(PonderApiParams *p)
{
    memset(p, 0, sizeof *p);
    p->sampling = sampler_default_params();
    // Without a seed, each request samples differently, as clients expect.
    p->sampling.seed = ((guint64)g_random_int() << 32) | g_random_int();
    p->reasoning_budget = -1;
}

// An effort by the names clients send; FALSE (with the accepted names) for any other.
static gboolean read_effort(JsonObject *object, const char *name, const char *param,
                            PonderReasoningEffort *out, PonderApiError **error)
{
    static const struct {
        const char *name;
        PonderReasoningEffort effort;
    } efforts[] = {
        {"none", PONDER_REASONING_EFFORT_NONE}, {"minimal", PONDER_REASONING_EFFORT_MINIMAL},
        {"low", PONDER_REASONING_EFFORT_LOW},   {"medium", PONDER_REASONING_EFFORT_MEDIUM},
        {"high", PONDER_REASONING_EFFORT_HIGH}, {"xhigh", PONDER_REASONING_EFFORT_UNLIMITED},
    };
    g_autofree char *value = NULL;
    if (!read_string(object, name, param, &value, error))
        return FALSE;
    if (!value)
        return TRUE;
    for (gsize i = 0; i < G_N_ELEMENTS(efforts); i++) {
        if (strcmp(value, efforts[i].name) == 0) {
            *out = efforts[i].effort;
            return TRUE;
        }
    }
    *error = invalid(param, "'%s' must be one of none, minimal, low, medium, high, xhigh", param);
    return FALSE;
}

// OpenAI's reasoning_effort, and the {"effort": ..., "max_tokens": N} object of
// OpenRouter-style clients.
static gboolean read_openai_reasoning(JsonObject *body, PonderApiParams *out,
                                      PonderApiError **error)
{
    if (!read_effort(body, "reasoning_effort", "reasoning_effort", &out->reasoning_effort, error))
        return FALSE;
    JsonNode *reasoning = member(body, "reasoning");
    if (!reasoning)
        return TRUE;
    if (!JSON_NODE_HOLDS_OBJECT(reasoning)) {
        *error = invalid("reasoning", "'reasoning' must be an object");
        return FALSE;
    }
    JsonObject *o = json_node_get_object(reasoning);
    gint64 budget = -1;
    if (!read_effort(o, "effort", "reasoning.effort", &out->reasoning_effort, error) ||
        !read_int(o, "max_tokens", "reasoning.max_tokens", 0, MAX_TOKENS_LIMIT, &budget, error))
        return FALSE;
    if (member(o, "max_tokens"))
        out->reasoning_budget = (gint)budget;
    return TRUE;
}

void ponder_api_params_clear(PonderApiParams *p)
{
    for (gsize i = 0; i < p->n_messages; i++)
        g_free((char *)p->messages[i].text);
    g_free(p->messages);
    g_free(p->model);
    g_free(p->prompt);
    g_strfreev(p->stop);
    memset(p, 0, sizeof *p);
}

static void add_message(GArray *messages, ChatRole role, const char *text)
{
    ChatMessage message = {role, g_strdup(text ? text : "")};
    g_array_append_val(messages, message);
}

static void take_messages(PonderApiParams *p, GArray *messages)
{
    p->n_messages = messages->len;
    p->messages = (ChatMessage *)g_array_free(messages, FALSE);
}

static void free_messages(GArray *messages)
{
    for (guint i = 0; i < messages->len; i++)
        g_free((char *)g_array_index(messages, ChatMessage, i).text);
    g_array_free(messages, TRUE);
}

static gboolean parse_role(const char *role, const char *param, ChatRole *out,
                           PonderApiError **error)
{
    if (g_strcmp0(role, "system") == 0 || g_strcmp0(role, "developer") == 0)
        *out = CHAT_ROLE_SYSTEM;
    else if (g_strcmp0(role, "user") == 0)
        *out = CHAT_ROLE_USER;
    else if (g_strcmp0(role, "assistant") == 0)
        *out = CHAT_ROLE_ASSISTANT;
    else if (g_strcmp0(role, "tool") == 0 || g_strcmp0(role, "function") == 0) {
        *error = unsupported(param, "tool results need tool calling, which Ponder does not do");
        return FALSE;
    } else {
        *error = invalid(param, "'%s' must be \"system\", \"user\" or \"assistant\"", param);
        return FALSE;
    }
    return TRUE;
}

// OpenAI content: a string, null (assistant turns), or text parts.
static gboolean openai_content(JsonNode *node, ChatRole role, const char *param, char **out,
                               PonderApiError **error)
{
    if (!node || JSON_NODE_HOLDS_NULL(node)) {
        if (role != CHAT_ROLE_ASSISTANT) {
            *error = invalid(param, "'%s' is required", param);
            return FALSE;
        }
        *out = g_strdup("");
        return TRUE;
    }
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
        *out = g_strdup(json_node_get_string(node));
        return TRUE;
    }
    if (!JSON_NODE_HOLDS_ARRAY(node)) {
        *error = invalid(param, "'%s' must be a string or an array of content parts", param);
        return FALSE;
    }
    JsonArray *parts = json_node_get_array(node);
    GString *text = g_string_new(NULL);
    for (guint i = 0; i < json_array_get_length(parts); i++) {
        g_autofree char *part_param = g_strdup_printf("%s[%u]", param, i);
        JsonNode *part = json_array_get_element(parts, i);
        JsonObject *object = JSON_NODE_HOLDS_OBJECT(part) ? json_node_get_object(part) : NULL;
        const char *type = ponder_api_string_member(object, "type");
        if (g_strcmp0(type, "text") != 0) {
            if (type && (g_str_has_prefix(type, "image") || g_str_has_prefix(type, "input_image")))
                *error = unsupported(part_param,
                                     "images are not supported (the R1 distills read text only)");
            else
                *error = unsupported(part_param, type ? "only \"text\" content parts are supported"
                                                      : "a content part needs a \"type\"");
            g_string_free(text, TRUE);
            return FALSE;
        }
        JsonNode *part_text = json_object_get_member(object, "text");
        if (!part_text || !JSON_NODE_HOLDS_VALUE(part_text) ||
            json_node_get_value_type(part_text) != G_TYPE_STRING) {
            *error = invalid(part_param, "'%s.text' must be a string", part_param);
            g_string_free(text, TRUE);
            return FALSE;
        }
        g_string_append(text, json_node_get_string(part_text));
    }
    *out = g_string_free(text, FALSE);
    return TRUE;
}

// The chat format needs a user message last (after any system messages).
static gboolean check_conversation(const PonderApiParams *p, const char *param,
                                   PonderApiError **error)
{
    for (gsize i = p->n_messages; i > 0; i--) {
        ChatRole role = p->messages[i - 1].role;
        if (role == CHAT_ROLE_SYSTEM)
            continue;
        if (role == CHAT_ROLE_USER)
            return TRUE;
        break;
    }
    *error =
        invalid(param, "'%s' must end with a user message (system messages may follow it)", param);
    return FALSE;
}

// "messages" in either dialect. OpenAI content is a string or text parts; Ollama's is a
// string, with images beside it. OpenAI requires messages; Ollama without any only loads
// the model.
static gboolean parse_messages(JsonObject *body, gboolean openai, PonderApiParams *out,
                               PonderApiError **error)
{
    JsonNode *node = member(body, "messages");
    if (!node && !openai)
        return TRUE;
    if (!node || !JSON_NODE_HOLDS_ARRAY(node) ||
        (openai && json_array_get_length(json_node_get_array(node)) == 0)) {
        *error = invalid("messages", openai ? "'messages' must be a non-empty array of messages"
                                            : "'messages' must be an array of messages");
        return FALSE;
    }
    JsonArray *array = json_node_get_array(node);
    GArray *messages = g_array_new(FALSE, FALSE, sizeof(ChatMessage));
    for (guint i = 0; i < json_array_get_length(array); i++) {
        g_autofree char *param = g_strdup_printf("messages[%u]", i);
        JsonNode *item = json_array_get_element(array, i);
        if (!JSON_NODE_HOLDS_OBJECT(item)) {
            *error = invalid(param, "'%s' must be an object", param);
            free_messages(messages);
            return FALSE;
        }
        JsonObject *object = json_node_get_object(item);
        g_autofree char *role_param = g_strdup_printf("%s.role", param);
        g_autofree char *content_param = g_strdup_printf("%s.content", param);
        g_autofree char *images_param = g_strdup_printf("%s.images", param);
        g_autofree char *role_name = NULL;
        g_autofree char *content = NULL;
        ChatRole role;
        gboolean ok = read_string(object, "role", role_param, &role_name, error) &&
                      parse_role(role_name, role_param, &role, error) &&
                      refuse_if_used(object, "tool_calls", "tool calling is not supported", error);
        if (ok && openai)
            ok = openai_content(json_object_get_member(object, "content"), role, content_param,
                                &content, error);
        else if (ok)
            ok = read_string(object, "content", content_param, &content, error) &&
                 refuse_member_if_used(object, "images", images_param,
                                       "images are not supported (the R1 distills read text only)",
                                       error);
        if (!ok) {
            free_messages(messages);
            return FALSE;
        }
        // A client may send an earlier answer back with its reasoning: R1 sees answers only.
        add_message(messages, role,
                    role == CHAT_ROLE_ASSISTANT ? chat_strip_reasoning(content ? content : "")
                                                : content);
    }
    take_messages(out, messages);
    return out->n_messages == 0 || check_conversation(out, "messages", error);
}

static gboolean parse_openai_prompt(JsonObject *body, PonderApiParams *out, PonderApiError **error)
{
    JsonNode *node = member(body, "prompt");
    if (node && JSON_NODE_HOLDS_ARRAY(node)) {
        JsonArray *array = json_node_get_array(node);
        JsonNode *first =
            json_array_get_length(array) == 1 ? json_array_get_element(array, 0) : NULL;
        if (!first || !JSON_NODE_HOLDS_VALUE(first) ||
            json_node_get_value_type(first) != G_TYPE_STRING) {
            *error = unsupported("prompt", "only one prompt string per request is supported "
                                           "(not several prompts, nor token ids)");
            return FALSE;
        }
        out->prompt = g_strdup(json_node_get_string(first));
        return TRUE;
    }
    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
        *error = invalid("prompt", "'prompt' must be a string");
        return FALSE;
    }
    out->prompt = g_strdup(json_node_get_string(node));
    return TRUE;
}

gboolean ponder_api_params_parse_openai(JsonObject *body, gboolean chat, PonderApiParams *out,
                                        PonderApiError **error)
{
    init_params(out);
    out->raw = !chat;
    double temperature = out->sampling.temperature, top_p = out->sampling.top_p;
    double presence = 0, frequency = 0;
    gint64 max_tokens = 0, max_completion = 0, seed = -1, n = 1, best_of = 1;
    JsonNode *stream_options = member(body, "stream_options");
    if (!read_string(body, "model", "model", &out->model, error) ||
        !read_bool(body, "stream", "stream", &out->stream, error) ||
        !read_number(body, "temperature", "temperature", 0, 2, &temperature, error) ||
        !read_number(body, "top_p", "top_p", 0, 1, &top_p, error) ||
        !read_number(body, "presence_penalty", "presence_penalty", -2, 2, &presence, error) ||
        !read_number(body, "frequency_penalty", "frequency_penalty", -2, 2, &frequency, error) ||
        !read_int(body, "max_tokens", "max_tokens", 1, MAX_TOKENS_LIMIT, &max_tokens, error) ||
        !read_int(body, "max_completion_tokens", "max_completion_tokens", 1, MAX_TOKENS_LIMIT,
                  &max_completion, error) ||
        !read_int(body, "seed", "seed", G_MININT64, G_MAXINT64, &seed, error) ||
        !read_int(body, "n", "n", 1, 128, &n, error) ||
        !read_int(body, "best_of", "best_of", 1, 128, &best_of, error) ||
        !read_stop(body, "stop", "stop", &out->stop, error) ||
        !refuse_if_used(body, "tools", "tool calling is not supported", error) ||
        !refuse_if_used(body, "functions", "function calling is not supported", error) ||
        !refuse_if_used(body, "logprobs", "log probabilities are not reported", error) ||
        !refuse_if_used(body, "logit_bias", "logit bias is not supported", error) ||
        !refuse_if_used(body, "echo", "echoing the prompt is not supported", error) ||
        !refuse_if_used(body, "suffix", "insertion (suffix) is not supported", error) ||
        !read_openai_reasoning(body, out, error))
        return FALSE;
    if (n != 1 || best_of != 1) {
        *error = unsupported(n != 1 ? "n" : "best_of", "one choice per request only (n = 1)");
        return FALSE;
    }
    JsonNode *format = member(body, "response_format");
    if (format) {
        JsonObject *object = JSON_NODE_HOLDS_OBJECT(format) ? json_node_get_object(format) : NULL;
        if (!object || g_strcmp0(ponder_api_string_member(object, "type"), "text")) {
            *error = unsupported("response_format", "structured (JSON) output is not supported");
            return FALSE;
        }
    }
    if (stream_options) {
        if (!JSON_NODE_HOLDS_OBJECT(stream_options)) {
            *error = invalid("stream_options", "'stream_options' must be an object");
            return FALSE;
        }
        if (!read_bool(json_node_get_object(stream_options), "include_usage",
                       "stream_options.include_usage", &out->include_usage, error))
            return FALSE;
    }
    out->sampling.temperature = (float)temperature;
    out->sampling.top_p = (float)top_p;
    out->sampling.presence_penalty = (float)presence;
    out->sampling.frequency_penalty = (float)frequency;
    if (seed >= 0 || member(body, "seed"))
        out->sampling.seed = (guint64)seed;
    out->max_tokens = (guint)(max_completion ? max_completion : max_tokens);
    return chat ? parse_messages(body, TRUE, out, error) : parse_openai_prompt(body, out, error);
}

// ---- Ollama ------------------------------------------------------------------------------

// keep_alive: seconds (a number) or a Go duration ("5m", "0s"). Only "unload now" (zero)
// changes anything: Ponder's own idle-unload setting governs the rest.
static gboolean read_keep_alive(JsonObject *body, gboolean *unload, PonderApiError **error)
{
    JsonNode *node = member(body, "keep_alive");
    if (!node)
        return TRUE;
    if (is_number(node)) {
        *unload = json_node_get_double(node) == 0;
        return TRUE;
    }
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
        const char *text = json_node_get_string(node);
        char *end = NULL;
        double value = g_ascii_strtod(text, &end);
        static const char *const units[] = {"", "ns", "us", "µs", "ms", "s", "m", "h"};
        for (guint i = 0; end != text && i < G_N_ELEMENTS(units); i++) {
            if (g_str_equal(end, units[i])) {
                *unload = value == 0;
                return TRUE;
            }
        }
    }
    *error = invalid("keep_alive",
                     "'keep_alive' must be a number of seconds or a duration such as \"5m\"");
    return FALSE;
}

static gboolean parse_ollama_options(JsonObject *body, PonderApiParams *out, PonderApiError **error)
{
    JsonNode *node = member(body, "options");
    if (!node)
        return TRUE;
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        *error = invalid("options", "'options' must be an object");
        return FALSE;
    }
    JsonObject *o = json_node_get_object(node);
    SamplerParams *s = &out->sampling;
    double temperature = s->temperature, top_p = s->top_p, min_p = s->min_p;
    double repeat = s->repetition_penalty, presence = 0, frequency = 0;
    gint64 top_k = s->top_k, num_predict = 0, num_ctx = 0, seed = -1, last_n = s->penalty_last_n;
    if (!read_number(o, "temperature", "options.temperature", 0, 2, &temperature, error) ||
        !read_number(o, "top_p", "options.top_p", 0, 1, &top_p, error) ||
        !read_number(o, "min_p", "options.min_p", 0, 1, &min_p, error) ||
        !read_number(o, "repeat_penalty", "options.repeat_penalty", 0, 10, &repeat, error) ||
        !read_number(o, "presence_penalty", "options.presence_penalty", -2, 2, &presence, error) ||
        !read_number(o, "frequency_penalty", "options.frequency_penalty", -2, 2, &frequency,
                     error) ||
        !read_int(o, "top_k", "options.top_k", 0, 1000000, &top_k, error) ||
        !read_int(o, "repeat_last_n", "options.repeat_last_n", -1, 1000000, &last_n, error) ||
        // -1: no limit, -2: fill the context (both: the engine's default limit).
        !read_int(o, "num_predict", "options.num_predict", -2, MAX_TOKENS_LIMIT, &num_predict,
                  error) ||
        // Accepted and checked, not applied: the context size is the engine's setting, shared
        // by every request it batches (GET /api/show reports it).
        !read_int(o, "num_ctx", "options.num_ctx", 1, 10000000, &num_ctx, error) ||
        !read_int(o, "seed", "options.seed", G_MININT64, G_MAXINT64, &seed, error) ||
        !read_stop(o, "stop", "options.stop", &out->stop, error))
        return FALSE;
    s->temperature = (float)temperature;
    s->top_p = (float)top_p;
    s->min_p = (float)min_p;
    s->repetition_penalty = repeat > 0 ? (float)repeat : 1.0f;
    s->presence_penalty = (float)presence;
    s->frequency_penalty = (float)frequency;
    s->top_k = (int32_t)top_k;
    s->penalty_last_n = (int32_t)last_n;
    if (member(o, "seed"))
        s->seed = (guint64)seed;
    out->max_tokens = num_predict > 0 ? (guint)num_predict : 0;
    return TRUE;
}

gboolean ponder_api_params_parse_ollama(JsonObject *body, gboolean chat, PonderApiParams *out,
                                        PonderApiError **error)
{
    init_params(out);
    out->stream = TRUE; // Ollama streams unless told not to
    // think: false answers without thinking; true thinks without a limit; "low", "medium" and
    // "high" think within those efforts' budgets. The reasoning goes out as "thinking".
    JsonNode *think = member(body, "think");
    if (think && JSON_NODE_HOLDS_VALUE(think) && json_node_get_value_type(think) == G_TYPE_STRING) {
        const char *level = json_node_get_string(think);
        out->think = TRUE;
        if (strcmp(level, "low") == 0)
            out->reasoning_effort = PONDER_REASONING_EFFORT_LOW;
        else if (strcmp(level, "medium") == 0)
            out->reasoning_effort = PONDER_REASONING_EFFORT_MEDIUM;
        else if (strcmp(level, "high") == 0)
            out->reasoning_effort = PONDER_REASONING_EFFORT_HIGH;
        else {
            *error =
                invalid("think", "'think' must be true, false, \"low\", \"medium\" or \"high\"");
            return FALSE;
        }
    } else if (!read_bool(body, "think", "think", &out->think, error)) {
        return FALSE;
    } else if (think && !out->think) {
        out->reasoning_effort = PONDER_REASONING_EFFORT_NONE;
    }
    if (!read_string(body, "model", "model", &out->model, error) ||
        !read_bool(body, "stream", "stream", &out->stream, error) ||
        !read_keep_alive(body, &out->unload_after, error) ||
        !refuse_if_used(body, "tools", "tool calling is not supported", error) ||
        !refuse_if_used(body, "format", "structured (JSON) output is not supported", error) ||
        !refuse_if_used(body, "images", "images are not supported", error) ||
        !refuse_if_used(body, "suffix", "insertion (suffix) is not supported", error) ||
        !parse_ollama_options(body, out, error))
        return FALSE;
    if (!out->model || !*out->model) {
        *error = invalid("model", "'model' is required");
        return FALSE;
    }
    if (chat)
        return parse_messages(body, FALSE, out, error);

    g_autofree char *prompt = NULL, *system = NULL;
    if (!read_string(body, "prompt", "prompt", &prompt, error) ||
        !read_string(body, "system", "system", &system, error) ||
        !read_bool(body, "raw", "raw", &out->raw, error))
        return FALSE;
    if (!prompt || !*prompt)
        return TRUE; // an empty prompt only loads (or unloads) the model
    if (out->raw) {
        out->prompt = g_steal_pointer(&prompt);
        return TRUE;
    }
    GArray *messages = g_array_new(FALSE, FALSE, sizeof(ChatMessage));
    if (system && *system)
        add_message(messages, CHAT_ROLE_SYSTEM, system);
    add_message(messages, CHAT_ROLE_USER, prompt);
    take_messages(out, messages);
    return TRUE;
}

PonderGeneration *ponder_api_params_make_generation(const PonderApiParams *p)
{
    PonderGeneration *g = p->raw ? ponder_generation_new_raw(p->prompt)
                                 : ponder_generation_new_chat(p->messages, p->n_messages, NULL);
    ponder_generation_set_priority(g, PONDER_PRIORITY_API);
    ponder_generation_set_sampling(g, &p->sampling);
    ponder_generation_set_max_tokens(g, p->max_tokens);
    if (p->stop)
        ponder_generation_set_stop(g, (const char *const *)p->stop);
    ponder_generation_set_reasoning_effort(g, p->reasoning_effort);
    ponder_generation_set_reasoning_budget(g, p->reasoning_budget);
    return g;
}
