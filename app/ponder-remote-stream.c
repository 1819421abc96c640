// One request to a remote server: a streaming POST (/chat/completions for a chat,
// /completions for a raw prompt), read line by line as server-sent events.
//
// Where the reasoning is: R1 servers put it in "reasoning_content" (vLLM, SGLang, DeepSeek,
// llama-server, Ponder) or "reasoning" (Ollama, newer vLLM). Servers without a reasoning
// parser send it inline in "content", either as "<think>…</think>" or — with R1's newer chat
// template, whose prompt already ends in "<think>" — as "…</think>" alone; both are split
// with the parser the local engine uses, the second only for a model named as an R1.
//
// What else a server may do: ignore "stream" and answer with one JSON completion, send an
// error object in the stream, send bytes that are not UTF-8, or refuse max_tokens beyond
// its context (vLLM and SGLang count prompt + max_tokens): then the request goes once more
// without max_tokens, and the server's own limit applies.
#include <string.h>

#include "ponder-infer.h"
#include "ponder-engine.h"
#include "ponder-remote-provider-private.h"

enum {
    BODY_LIMIT = 64 << 10, // what is kept of an answer that is not an event stream
    CANCEL_POLL_MS = 100,  // how soon a cancelled generation closes its connection
};

typedef struct {
    PonderRemoteProvider *provider; // owned
    PonderGeneration *generation;   // owned; the reference goes to push_finished
    char *model_id;
    gboolean chat;
    gboolean send_max_tokens; // cleared for the one retry without it
    SoupMessage *message;
    GCancellable *cancellable;
    GDataInputStream *lines;
    GSource *cancel_watch;
    guint status;
    gboolean saw_event;    // a "data:" line came
    GString *body;         // the lines of an answer that is not (yet) an event stream
    GString *content_head; // chat content held until it shows whether it starts with <think>
    gboolean content_decided, content_parsed;
    ReasoningParser parser; // for content with inline reasoning
    gboolean got_reasoning, got_answer;
    gboolean done; // "data: [DONE]"
    PonderFinishReason finish_reason;
    GError *stream_error; // an error sent inside the stream
} RemoteRun;

static void send_request(RemoteRun *run);

// R1 and its distills, by the names servers give them ("deepseek-r1-distill-qwen-7b",
// "DeepSeek-R1", "deepseek-r1:32b"): their output starts inside the reasoning.
static gboolean named_as_r1(const char *model_id)
{
    g_autofree char *id = g_ascii_strdown(model_id, -1);
    for (const char *p = strstr(id, "r1"); p; p = strstr(p + 1, "r1")) {
        gboolean starts = p == id || !g_ascii_isalnum(p[-1]);
        gboolean ends = !g_ascii_isalnum(p[2]);
        if (starts && ends)
            return TRUE;
    }
    return FALSE;
}

static void run_push_text(RemoteRun *run, gboolean reasoning, const char *text, gsize len)
{
    if (!len)
        return;
    if (reasoning)
        run->got_reasoning = TRUE;
    else
        run->got_answer = TRUE;
    ponder_generation_push_text(run->generation, reasoning, text, len);
}

static void emit_phase(void *user, ReasoningPhase phase, const char *text, size_t len)
{
    run_push_text(user, phase == REASONING_PHASE_THINKING, text, len);
}

// Chat content, when no reasoning field came before it: inline reasoning is split like the
// engine's output; else it is the answer.
static void feed_content(RemoteRun *run, const char *text)
{
    if (!run->chat || run->content_decided) {
        if (run->content_parsed)
            reasoning_parser_push(&run->parser, text, strlen(text), emit_phase, run);
        else
            run_push_text(run, FALSE, text, strlen(text));
        return;
    }
    g_string_append(run->content_head, text);
    const char *head = run->content_head->str;
    while (g_ascii_isspace(*head))
        head++;
    gsize n = strlen(head);
    if (n < strlen("<think>") && strncmp(head, "<think>", n) == 0)
        return; // could still become "<think>"
    run->content_decided = TRUE;
    run->content_parsed =
        !run->got_reasoning && (g_str_has_prefix(head, "<think>") || named_as_r1(run->model_id));
    g_autofree char *held = g_string_free(g_steal_pointer(&run->content_head), FALSE);
    feed_content(run, held);
}

// One choice: a streamed "delta" (chat) or "text" (raw), or a whole "message" (a server
// that did not stream).
static void handle_choice(RemoteRun *run, JsonObject *choice)
{
    if (run->chat) {
        JsonObject *d = ponder_remote_json_object(choice, "delta");
        if (!d)
            d = ponder_remote_json_object(choice, "message");
        const char *reasoning = d ? ponder_remote_json_string(d, "reasoning_content") : NULL;
        if (d && !reasoning)
            reasoning = ponder_remote_json_string(d, "reasoning");
        const char *content = d ? ponder_remote_json_string(d, "content") : NULL;
        if (reasoning && *reasoning)
            run_push_text(run, TRUE, reasoning, strlen(reasoning));
        if (content && *content)
            feed_content(run, content);
        if ((reasoning && *reasoning) || (content && *content))
            ponder_generation_push_token(run->generation, reasoning && *reasoning);
    } else {
        const char *text = ponder_remote_json_string(choice, "text");
        if (text && *text) {
            run_push_text(run, FALSE, text, strlen(text));
            ponder_generation_push_token(run->generation, FALSE);
        }
    }
    const char *finish = ponder_remote_json_string(choice, "finish_reason");
    if (finish)
        run->finish_reason =
            strcmp(finish, "length") == 0 ? PONDER_FINISH_LENGTH : PONDER_FINISH_STOP;
}

static guint clamp_count(gint64 n)
{
    return (guint)CLAMP(n, 0, G_MAXINT32);
}

static void handle_event(RemoteRun *run, JsonObject *chunk)
{
    JsonNode *error = json_object_get_member(chunk, "error");
    if (error && !JSON_NODE_HOLDS_NULL(error)) {
        const char *message = ponder_remote_error_message(chunk);
        if (!run->stream_error)
            run->stream_error =
                g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND,
                            "The remote server at %s failed in the middle of the answer: %s",
                            ponder_remote_provider_get_base_url(run->provider),
                            message ? message : "no explanation given");
        return;
    }
    JsonObject *usage = ponder_remote_json_object(chunk, "usage");
    if (usage)
        ponder_generation_push_usage(
            run->generation, clamp_count(ponder_remote_json_int(usage, "prompt_tokens", 0)),
            clamp_count(ponder_remote_json_int(usage, "completion_tokens", 0)));
    JsonNode *choices = json_object_get_member(chunk, "choices");
    if (!choices || !JSON_NODE_HOLDS_ARRAY(choices) ||
        !json_array_get_length(json_node_get_array(choices)))
        return;
    JsonNode *first = json_array_get_element(json_node_get_array(choices), 0);
    if (JSON_NODE_HOLDS_OBJECT(first))
        handle_choice(run, json_node_get_object(first));
}

// One line of the event stream ("data: {…}"; other fields and comments are ignored). Lines
// before the first event are kept: they may be a completion or an error that did not stream.
static void handle_line(RemoteRun *run, const char *line)
{
    if (!g_str_has_prefix(line, "data:")) {
        if (!run->saw_event && run->body->len < BODY_LIMIT)
            g_string_append_printf(run->body, "%s\n", line);
        return;
    }
    run->saw_event = TRUE;
    const char *payload = line + strlen("data:");
    while (*payload == ' ')
        payload++;
    if (strcmp(payload, "[DONE]") == 0) {
        run->done = TRUE;
        return;
    }
    g_autoptr(JsonParser) parser = json_parser_new();
    gboolean too_deep = FALSE;
    JsonObject *chunk = ponder_remote_parse_object(parser, payload, &too_deep);
    if (too_deep && !run->stream_error)
        run->stream_error = ponder_remote_provider_too_deep_error(run->provider);
    if (chunk)
        handle_event(run, chunk);
}

// A 200 answer that never streamed: one JSON completion, or an error in a 200.
static GError *handle_unstreamed(RemoteRun *run)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    gboolean too_deep = FALSE;
    JsonObject *whole = ponder_remote_parse_object(parser, run->body->str, &too_deep);
    if (too_deep)
        return ponder_remote_provider_too_deep_error(run->provider);
    if (whole) {
        handle_event(run, whole);
        if (run->stream_error || run->finish_reason != PONDER_FINISH_NONE)
            return NULL;
    }
    const char *base_url = ponder_remote_provider_get_base_url(run->provider);
    const char *message = whole ? ponder_remote_error_message(whole) : NULL;
    g_autofree char *shown = g_utf8_substring(g_strstrip(run->body->str), 0, 200);
    return g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND,
                       "The remote server at %s did not send an answer: %s", base_url,
                       message  ? message
                       : *shown ? shown
                                : "its reply was empty");
}

static void run_free(RemoteRun *run)
{
    if (!g_source_is_destroyed(run->cancel_watch))
        g_source_destroy(run->cancel_watch);
    g_source_unref(run->cancel_watch);
    ponder_remote_provider_count_running(run->provider, -1);
    g_clear_error(&run->stream_error);
    g_clear_object(&run->lines);
    g_clear_object(&run->message);
    g_clear_object(&run->cancellable);
    g_string_free(run->body, TRUE);
    if (run->content_head)
        g_string_free(run->content_head, TRUE);
    g_object_unref(run->provider);
    g_free(run->model_id);
    g_free(run);
}

static void run_finish(RemoteRun *run, GError *error)
{
    if (!error && !run->saw_event && run->status == SOUP_STATUS_OK &&
        !ponder_generation_is_cancelled(run->generation))
        error = handle_unstreamed(run);
    if (run->content_head && !run->content_decided) {
        run->content_decided = TRUE;
        g_autofree char *held = g_string_free(g_steal_pointer(&run->content_head), FALSE);
        run_push_text(run, FALSE, held, strlen(held));
    }
    gboolean in_reasoning = run->got_reasoning && !run->got_answer;
    if (run->content_parsed)
        in_reasoning = reasoning_parser_finish(&run->parser, emit_phase, run);

    PonderFinishReason reason;
    if (ponder_generation_is_cancelled(run->generation)) {
        reason = PONDER_FINISH_CANCELLED;
        g_clear_error(&error);
    } else if (error || run->stream_error) {
        reason = PONDER_FINISH_ERROR;
        if (!error)
            error = g_steal_pointer(&run->stream_error);
    } else if (run->finish_reason != PONDER_FINISH_NONE) {
        reason = run->finish_reason;
    } else {
        reason = PONDER_FINISH_ERROR;
        error = g_error_new(PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND,
                            "The remote server at %s closed the connection in the middle of the "
                            "answer",
                            ponder_remote_provider_get_base_url(run->provider));
    }
    ponder_generation_push_finished(g_steal_pointer(&run->generation), reason, in_reasoning, error);
    run_free(run);
}

// vLLM and SGLang refuse a max_tokens that does not fit beside the prompt in their context.
static gboolean max_tokens_refused(RemoteRun *run)
{
    if (run->status != SOUP_STATUS_BAD_REQUEST || !run->send_max_tokens || run->got_answer ||
        run->got_reasoning)
        return FALSE;
    g_autoptr(GError) error =
        ponder_remote_provider_http_error(run->provider, run->status, run->body->str);
    return strstr(error->message, "max_tokens") || strstr(error->message, "context length");
}

static void line_read(GObject *source, GAsyncResult *result, gpointer data)
{
    RemoteRun *run = data;
    g_autoptr(GError) error = NULL;
    gsize len = 0;
    g_autofree char *raw =
        g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source), result, &len, &error);
    if (error) {
        run_finish(run, ponder_remote_provider_connection_error(run->provider, error));
        return;
    }
    if (raw && len && raw[len - 1] == '\r')
        raw[--len] = '\0';
    // Bytes that are not UTF-8 (a proxy's Latin-1 page) become U+FFFD, not a failure.
    g_autofree char *line = raw ? g_utf8_make_valid(raw, (gssize)len) : NULL;
    if (run->status != SOUP_STATUS_OK) {
        if (line && run->body->len < BODY_LIMIT) {
            g_string_append_printf(run->body, "%s\n", line);
        } else if (max_tokens_refused(run)) {
            run->send_max_tokens = FALSE;
            send_request(run);
            return;
        } else {
            run_finish(
                run, ponder_remote_provider_http_error(run->provider, run->status, run->body->str));
            return;
        }
    } else if (!line) {
        run_finish(run, NULL); // the server closed the stream
        return;
    } else {
        handle_line(run, line);
        if (run->done || run->stream_error) {
            run_finish(run, NULL);
            return;
        }
    }
    g_data_input_stream_read_line_async(run->lines, G_PRIORITY_DEFAULT, run->cancellable, line_read,
                                        run);
}

static void response_started(GObject *source, GAsyncResult *result, gpointer data)
{
    RemoteRun *run = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GInputStream) body = soup_session_send_finish(SOUP_SESSION(source), result, &error);
    if (!body) {
        run_finish(run, ponder_remote_provider_connection_error(run->provider, error));
        return;
    }
    run->status = soup_message_get_status(run->message);
    if (run->status == SOUP_STATUS_OK)
        ponder_generation_push_started(run->generation, 0, 0, 0, 0);
    g_clear_object(&run->lines);
    run->lines = g_data_input_stream_new(body);
    g_data_input_stream_set_newline_type(run->lines, G_DATA_STREAM_NEWLINE_TYPE_LF);
    g_data_input_stream_read_line_async(run->lines, G_PRIORITY_DEFAULT, run->cancellable, line_read,
                                        run);
}

// Cancelling is a flag any thread may set; the connection is closed from here.
static gboolean watch_cancel(gpointer data)
{
    RemoteRun *run = data;
    if (!ponder_generation_is_cancelled(run->generation))
        return G_SOURCE_CONTINUE;
    g_cancellable_cancel(run->cancellable);
    return G_SOURCE_REMOVE;
}

static void add_messages(JsonBuilder *b, const PonderGenerationRequest *r)
{
    static const char *const roles[] = {"system", "user", "assistant"};
    json_builder_set_member_name(b, "messages");
    json_builder_begin_array(b);
    for (gsize i = 0; i < r->n_messages; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "role");
        json_builder_add_string_value(b, roles[r->messages[i].role]);
        json_builder_set_member_name(b, "content");
        json_builder_add_string_value(b, r->messages[i].text);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void add_double(JsonBuilder *b, const char *name, double value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, value);
}

static GBytes *request_body(RemoteRun *run)
{
    const PonderGenerationRequest *r = ponder_generation_get_request(run->generation);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "model");
    json_builder_add_string_value(b, run->model_id);
    if (run->chat) {
        add_messages(b, r);
    } else {
        json_builder_set_member_name(b, "prompt");
        json_builder_add_string_value(b, r->raw_text);
    }
    json_builder_set_member_name(b, "stream");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_set_member_name(b, "stream_options");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "include_usage");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_end_object(b);
    if (run->send_max_tokens) {
        json_builder_set_member_name(b, "max_tokens");
        json_builder_add_int_value(b, r->max_tokens);
    }
    const SamplerParams *s = &r->sampling;
    add_double(b, "temperature", MAX(s->temperature, 0.0f));
    if (s->top_p < 1.0f)
        add_double(b, "top_p", s->top_p);
    json_builder_set_member_name(b, "seed");
    json_builder_add_int_value(b, (gint64)(s->seed & G_MAXINT32)); // what every server takes
    if (s->presence_penalty != 0.0f)
        add_double(b, "presence_penalty", s->presence_penalty);
    if (s->frequency_penalty != 0.0f)
        add_double(b, "frequency_penalty", s->frequency_penalty);
    if (r->stop && r->stop[0]) {
        json_builder_set_member_name(b, "stop");
        json_builder_begin_array(b);
        for (guint i = 0; r->stop[i]; i++)
            json_builder_add_string_value(b, r->stop[i]);
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    gsize len = 0;
    char *text = json_generator_to_data(gen, &len);
    return g_bytes_new_take(text, len);
}

static void send_request(RemoteRun *run)
{
    run->status = 0;
    g_string_truncate(run->body, 0);
    g_autoptr(GBytes) body = request_body(run);
    g_clear_object(&run->message);
    run->message = ponder_remote_provider_new_message(
        run->provider, "POST", run->chat ? "/chat/completions" : "/completions", body);
    soup_message_headers_replace(soup_message_get_request_headers(run->message), "Accept",
                                 "text/event-stream");
    soup_session_send_async(ponder_remote_provider_get_session(run->provider), run->message,
                            G_PRIORITY_DEFAULT, run->cancellable, response_started, run);
}

void ponder_remote_stream_start(PonderRemoteProvider *self, const char *model_id,
                                PonderGeneration *generation)
{
    const PonderGenerationRequest *r = ponder_generation_get_request(generation);
    RemoteRun *run = g_new0(RemoteRun, 1);
    run->provider = g_object_ref(self);
    run->generation = g_object_ref(generation);
    run->model_id = g_strdup(model_id);
    run->chat = r->kind == PONDER_GENERATION_CHAT;
    run->send_max_tokens = r->max_tokens > 0;
    run->cancellable = g_cancellable_new();
    run->body = g_string_new(NULL);
    run->content_head = g_string_new(NULL);
    reasoning_parser_init(&run->parser);
    ponder_remote_provider_count_running(self, +1);
    ponder_generation_mark_submitted(generation);
    // On the context libsoup and the generation use: the submitter's thread default.
    run->cancel_watch = g_timeout_source_new(CANCEL_POLL_MS);
    g_source_set_callback(run->cancel_watch, watch_cancel, run, NULL);
    g_source_set_static_name(run->cancel_watch, "[ponder] remote cancel");
    g_source_attach(run->cancel_watch, g_main_context_get_thread_default());
    send_request(run);
}
