// The OpenAI dialect: /v1/models, /v1/chat/completions and /v1/completions, streamed as
// server-sent events ("data: {chunk}\n\n" ... "data: [DONE]\n\n").
//
// R1's reasoning goes in "reasoning_content" (the field DeepSeek's own API uses, which
// Continue, Zed and Cline display as thinking), or — with the raw_reasoning option, for
// clients that know only "content" — inline as "<think>\n…</think>" before the answer.
#include "ponder-api-server-private.h"

#include <string.h>

typedef struct {
    char *id;
    gint64 created;
    char *model;
    gboolean chat;
    gboolean include_usage;
    gboolean raw_reasoning;
    gboolean think_open; // raw_reasoning: "<think>" sent, "</think>" not yet
} OpenAiState;

static void openai_state_free(gpointer data)
{
    OpenAiState *s = data;
    g_free(s->id);
    g_free(s->model);
    g_free(s);
}

static OpenAiState *state_of(PonderApiRequest *req)
{
    return req->dialect_data;
}

void ponder_api_openai_models(PonderApiRequest *req, JsonObject *body)
{
    GListModel *models = ponder_model_library_get_models(req->server->library);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "object");
    json_builder_add_string_value(b, "list");
    json_builder_set_member_name(b, "data");
    json_builder_begin_array(b);
    for (guint i = 0; i < g_list_model_get_n_items(models); i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(models, i);
        if (!ponder_model_entry_get_usable(entry))
            continue;
        GDateTime *modified = ponder_model_entry_get_modified_time(entry);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_string_value(b, ponder_model_entry_get_slug(entry));
        json_builder_set_member_name(b, "object");
        json_builder_add_string_value(b, "model");
        json_builder_set_member_name(b, "created");
        json_builder_add_int_value(b, modified ? g_date_time_to_unix(modified) : 0);
        json_builder_set_member_name(b, "owned_by");
        json_builder_add_string_value(b, "ponder");
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    ponder_api_request_respond_builder(req, SOUP_STATUS_OK, b);
}

// ---- responses ------------------------------------------------------------------------------

static void add_usage(JsonBuilder *b, PonderGeneration *generation)
{
    PonderGenerationStats stats;
    ponder_generation_get_stats(generation, &stats);
    json_builder_set_member_name(b, "usage");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "prompt_tokens");
    json_builder_add_int_value(b, stats.prompt_tokens);
    json_builder_set_member_name(b, "completion_tokens");
    json_builder_add_int_value(b, stats.completion_tokens);
    json_builder_set_member_name(b, "total_tokens");
    json_builder_add_int_value(b, (gint64)stats.prompt_tokens + stats.completion_tokens);
    json_builder_set_member_name(b, "prompt_tokens_details");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "cached_tokens");
    json_builder_add_int_value(b, stats.cached_tokens);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "completion_tokens_details");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "reasoning_tokens");
    json_builder_add_int_value(b, stats.reasoning_tokens);
    json_builder_end_object(b);
    json_builder_end_object(b);
}

// The members every response and chunk starts with.
static JsonBuilder *begin_response(OpenAiState *s, const char *object)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, s->id);
    json_builder_set_member_name(b, "object");
    json_builder_add_string_value(b, object);
    json_builder_set_member_name(b, "created");
    json_builder_add_int_value(b, s->created);
    json_builder_set_member_name(b, "model");
    json_builder_add_string_value(b, s->model);
    json_builder_set_member_name(b, "system_fingerprint");
    json_builder_add_string_value(b, "ponder");
    return b;
}

static void add_finish_reason(JsonBuilder *b, const char *finish_reason)
{
    json_builder_set_member_name(b, "logprobs");
    json_builder_add_null_value(b);
    json_builder_set_member_name(b, "finish_reason");
    if (finish_reason)
        json_builder_add_string_value(b, finish_reason);
    else
        json_builder_add_null_value(b);
}

static void write_event(PonderApiRequest *req, JsonBuilder *b)
{
    g_autofree char *json = ponder_api_builder_to_string(b);
    g_autofree char *event = g_strdup_printf("data: %s\n\n", json);
    ponder_api_request_write(req, event, strlen(event));
}

// One chunk: a chat delta (ROLE, CONTENT, REASONING may each be NULL) or a completion's TEXT.
static void write_chunk(PonderApiRequest *req, gboolean with_role, const char *content,
                        const char *reasoning, const char *finish_reason)
{
    OpenAiState *s = state_of(req);
    g_autoptr(JsonBuilder) b =
        begin_response(s, s->chat ? "chat.completion.chunk" : "text_completion");
    json_builder_set_member_name(b, "choices");
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "index");
    json_builder_add_int_value(b, 0);
    if (s->chat) {
        json_builder_set_member_name(b, "delta");
        json_builder_begin_object(b);
        if (with_role) {
            json_builder_set_member_name(b, "role");
            json_builder_add_string_value(b, "assistant");
        }
        if (content) {
            json_builder_set_member_name(b, "content");
            json_builder_add_string_value(b, content);
        }
        if (reasoning) {
            json_builder_set_member_name(b, "reasoning_content");
            json_builder_add_string_value(b, reasoning);
        }
        json_builder_end_object(b);
    } else {
        json_builder_set_member_name(b, "text");
        json_builder_add_string_value(b, content ? content : "");
    }
    add_finish_reason(b, finish_reason);
    json_builder_end_object(b);
    json_builder_end_array(b);
    if (s->include_usage) {
        // As OpenAI does: "usage": null on every chunk but the last.
        json_builder_set_member_name(b, "usage");
        json_builder_add_null_value(b);
    }
    json_builder_end_object(b);
    write_event(req, b);
}

static void stream_started(PonderApiRequest *req)
{
    if (state_of(req)->chat)
        write_chunk(req, TRUE, "", NULL, NULL);
}

static void stream_delta(PonderApiRequest *req, gboolean reasoning, const char *text)
{
    OpenAiState *s = state_of(req);
    if (!s->chat || !s->raw_reasoning) {
        write_chunk(req, FALSE, reasoning && s->chat ? NULL : text,
                    reasoning && s->chat ? text : NULL, NULL);
        return;
    }
    g_autofree char *content = NULL;
    if (reasoning && !s->think_open) {
        s->think_open = TRUE;
        content = g_strconcat("<think>\n", text, NULL);
    } else if (!reasoning && s->think_open) {
        s->think_open = FALSE;
        content = g_strconcat("</think>", text, NULL);
    }
    write_chunk(req, FALSE, content ? content : text, NULL, NULL);
}

static void finished(PonderApiRequest *req, const char *finish_reason)
{
    OpenAiState *s = state_of(req);
    PonderGeneration *g = req->generation;
    if (req->streaming) {
        if (s->think_open) {
            s->think_open = FALSE;
            write_chunk(req, FALSE, "</think>", NULL, NULL);
        }
        write_chunk(req, FALSE, s->chat ? NULL : "", NULL, finish_reason);
        if (s->include_usage) {
            g_autoptr(JsonBuilder) b =
                begin_response(s, s->chat ? "chat.completion.chunk" : "text_completion");
            json_builder_set_member_name(b, "choices");
            json_builder_begin_array(b);
            json_builder_end_array(b);
            add_usage(b, g);
            json_builder_end_object(b);
            write_event(req, b);
        }
        static const char done[] = "data: [DONE]\n\n";
        ponder_api_request_write(req, done, sizeof done - 1);
        return;
    }
    const char *reasoning = ponder_generation_get_reasoning(g);
    const char *answer = ponder_generation_get_answer(g);
    g_autoptr(JsonBuilder) b = begin_response(s, s->chat ? "chat.completion" : "text_completion");
    json_builder_set_member_name(b, "choices");
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "index");
    json_builder_add_int_value(b, 0);
    if (s->chat) {
        json_builder_set_member_name(b, "message");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "role");
        json_builder_add_string_value(b, "assistant");
        json_builder_set_member_name(b, "content");
        if (s->raw_reasoning && *reasoning) {
            g_autofree char *content =
                g_strconcat("<think>\n", reasoning, "</think>", answer, NULL);
            json_builder_add_string_value(b, content);
        } else {
            json_builder_add_string_value(b, answer);
            json_builder_set_member_name(b, "reasoning_content");
            json_builder_add_string_value(b, reasoning);
        }
        json_builder_end_object(b);
    } else {
        json_builder_set_member_name(b, "text");
        json_builder_add_string_value(b, answer);
    }
    add_finish_reason(b, finish_reason);
    json_builder_end_object(b);
    json_builder_end_array(b);
    add_usage(b, g);
    json_builder_end_object(b);
    ponder_api_request_respond_builder(req, SOUP_STATUS_OK, b);
}

static const PonderApiGenerationHandler openai_handler = {
    .stream_content_type = "text/event-stream",
    .stream_started = stream_started,
    .stream_delta = stream_delta,
    .finished = finished,
};

static void run(PonderApiRequest *req, JsonObject *body, gboolean chat)
{
    PonderApiParams params;
    PonderModelEntry *entry = ponder_api_request_parse(req, body, &params);
    if (!entry)
        return;
    OpenAiState *s = g_new0(OpenAiState, 1);
    s->id = g_strdup_printf("%s-%08x%08x%08x", chat ? "chatcmpl" : "cmpl", g_random_int(),
                            g_random_int(), g_random_int());
    s->created = g_get_real_time() / G_USEC_PER_SEC;
    s->model = g_strdup(ponder_model_entry_get_slug(entry));
    s->chat = chat;
    s->include_usage = params.include_usage;
    s->raw_reasoning = req->server->raw_reasoning;
    req->dialect_data = s;
    req->dialect_data_free = openai_state_free;
    // Chats may be saved in the history; raw completions (code completion) never are.
    if (ponder_api_request_run(req, ponder_api_params_make_generation(&params), params.stream,
                               &openai_handler) &&
        chat)
        ponder_api_history_track(req->server, req->generation, &params, s->model);
    ponder_api_params_clear(&params);
}

void ponder_api_openai_chat(PonderApiRequest *req, JsonObject *body)
{
    run(req, body, TRUE);
}

void ponder_api_openai_completions(PonderApiRequest *req, JsonObject *body)
{
    run(req, body, FALSE);
}
