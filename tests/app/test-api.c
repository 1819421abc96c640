// The local API end to end on loopback: a tiny synthetic model on the CPU engine, requests
// from libsoup (on the test's own main context, which also runs the server), the request
// shapes editor plugins send, and the official npm clients and curl when installed.
//
// References are independent of the API: the same greedy request submitted to the engine
// directly (its text and its token counts), the tokenizer's own prompt length, the file's
// size from stat(), the engine settings the test chose.
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "app-test-engine.h"
#include "app-test-util.h"
#include "ponder-api-server.h"
#include "ponder-engine.h"
#include "ponder-model-library.h"

#define N_CTX 512

static char *tmp_dir;
static char *model_path, *other_model_path;
static PonderModelLibrary *library;
static PonderEngine *engine;
static PonderApiServer *server;
static SoupSession *session;
static const char *slug, *other_slug;
static char *base_url;

// ---- HTTP from the test ----------------------------------------------------------------------

typedef struct {
    SoupMessage *msg;
    GBytes *body;
    GError *error;
    gboolean done;
} Exchange;

static void on_read(GObject *source, GAsyncResult *result, gpointer data)
{
    Exchange *x = data;
    x->body = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &x->error);
    x->done = TRUE;
}

typedef struct {
    guint status;
    char *content_type;
    char *retry_after;
    char *text;
    JsonNode *json; // when the body is one JSON value
} Response;

static void response_free(Response *r)
{
    g_free(r->content_type);
    g_free(r->retry_after);
    g_free(r->text);
    if (r->json)
        json_node_unref(r->json);
    g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Response, response_free)

static Response *http(const char *method, const char *path, const char *body)
{
    g_autofree char *uri = g_strconcat(base_url, path, NULL);
    Exchange x = {.msg = soup_message_new(method, uri)};
    if (body) {
        g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
        soup_message_set_request_body_from_bytes(x.msg, "application/json", bytes);
    }
    soup_session_send_and_read_async(session, x.msg, G_PRIORITY_DEFAULT, NULL, on_read, &x);
    while (!x.done)
        g_main_context_iteration(NULL, TRUE);
    g_assert_no_error(x.error);
    Response *r = g_new0(Response, 1);
    r->status = soup_message_get_status(x.msg);
    SoupMessageHeaders *headers = soup_message_get_response_headers(x.msg);
    r->content_type = g_strdup(soup_message_headers_get_content_type(headers, NULL));
    r->retry_after = g_strdup(soup_message_headers_get_one(headers, "Retry-After"));
    r->text = g_strndup(g_bytes_get_data(x.body, NULL), g_bytes_get_size(x.body));
    r->json = json_from_string(r->text, NULL);
    g_bytes_unref(x.body);
    g_object_unref(x.msg);
    return r;
}

static JsonObject *object_of(Response *r)
{
    g_assert_nonnull(r->json);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(r->json));
    return json_node_get_object(r->json);
}

// The events of an SSE body: JSON objects (owned by the array), ending in "[DONE]".
static GPtrArray *sse_events(const char *text)
{
    GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
    g_auto(GStrv) blocks = g_strsplit(text, "\n\n", -1);
    guint n = g_strv_length(blocks);
    g_assert_cmpuint(n, >=, 2);
    g_assert_cmpstr(blocks[n - 1], ==, ""); // every event ends in a blank line
    g_assert_cmpstr(blocks[n - 2], ==, "data: [DONE]");
    for (guint i = 0; i + 2 < n; i++) {
        g_assert_true(g_str_has_prefix(blocks[i], "data: "));
        g_autoptr(GError) error = NULL;
        JsonNode *node = json_from_string(blocks[i] + 6, &error);
        g_assert_no_error(error);
        g_ptr_array_add(events, node);
    }
    return events;
}

// The lines of an NDJSON body, each a JSON object; the last one "done".
static GPtrArray *ndjson_lines(const char *text)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
    g_auto(GStrv) parts = g_strsplit(text, "\n", -1);
    guint n = g_strv_length(parts);
    g_assert_cmpstr(parts[n - 1], ==, "");
    for (guint i = 0; i + 1 < n; i++) {
        g_autoptr(GError) error = NULL;
        JsonNode *node = json_from_string(parts[i], &error);
        g_assert_no_error(error);
        g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
        g_assert_true(json_object_get_boolean_member(json_node_get_object(node), "done") ==
                      (i + 2 == n));
        g_ptr_array_add(lines, node);
    }
    g_assert_cmpuint(lines->len, >=, 1);
    return lines;
}

static JsonObject *item_object(GPtrArray *array, guint i)
{
    return json_node_get_object(array->pdata[i]);
}

// ---- the reference: the same request on the engine directly ------------------------------

typedef struct {
    char *reasoning, *answer;
    PonderFinishReason finish;
    PonderGenerationStats stats;
} Reference;

static void reference_clear(Reference *r)
{
    g_free(r->reasoning);
    g_free(r->answer);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Reference, reference_clear)

static void run_reference(PonderGeneration *g, guint max_tokens, Reference *out)
{
    SamplerParams greedy = sampler_default_params();
    greedy.temperature = 0;
    ponder_generation_set_sampling(g, &greedy);
    ponder_generation_set_max_tokens(g, max_tokens);
    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_engine_submit(engine, g, &error));
    while (!ponder_generation_is_finished(g))
        g_main_context_iteration(NULL, TRUE);
    out->reasoning = g_strdup(ponder_generation_get_reasoning(g));
    out->answer = g_strdup(ponder_generation_get_answer(g));
    out->finish = ponder_generation_get_finish_reason(g);
    ponder_generation_get_stats(g, &out->stats);
    g_object_unref(g);
}

static void reference_chat(const ChatMessage *messages, gsize n, guint max_tokens, Reference *out)
{
    run_reference(ponder_generation_new_chat(messages, n, NULL), max_tokens, out);
}

static void reference_raw(const char *prompt, guint max_tokens, Reference *out)
{
    run_reference(ponder_generation_new_raw(prompt), max_tokens, out);
}

// The prompt's length by the tokenizer itself (not by the engine's accounting).
static guint prompt_token_count(const ChatMessage *messages, gsize n)
{
    PonderError err = {0};
    PonderModel *model = ponder_model_load(model_path, &err);
    g_assert_nonnull(model);
    int32_t *ids = NULL;
    char message[256];
    int64_t count = chat_build_prompt(ponder_model_tokenizer(model), messages, n, true, &ids,
                                      message, sizeof message);
    g_assert_cmpint(count, >, 0);
    free(ids);
    ponder_model_free(model);
    return (guint)count;
}

static const char *finish_name(PonderFinishReason reason)
{
    g_assert_true(reason == PONDER_FINISH_STOP || reason == PONDER_FINISH_LENGTH);
    return reason == PONDER_FINISH_STOP ? "stop" : "length";
}

static const ChatMessage question[] = {
    {CHAT_ROLE_SYSTEM, "You are terse."},
    {CHAT_ROLE_USER, "Why is the sky blue?"},
};
static const char *question_json = "[{\"role\":\"system\",\"content\":\"You are terse.\"},"
                                   "{\"role\":\"user\",\"content\":\"Why is the sky blue?\"}]";

// ---- OpenAI ------------------------------------------------------------------------------------

static void test_openai_models(void)
{
    g_autoptr(Response) r = http("GET", "/v1/models", NULL);
    g_assert_cmpuint(r->status, ==, 200);
    JsonObject *root = object_of(r);
    g_assert_cmpstr(json_object_get_string_member(root, "object"), ==, "list");
    JsonArray *data = json_object_get_array_member(root, "data");
    g_assert_cmpuint(json_array_get_length(data), ==, 2);
    gboolean found[2] = {FALSE, FALSE};
    for (guint i = 0; i < 2; i++) {
        JsonObject *m = json_array_get_object_element(data, i);
        const char *id = json_object_get_string_member(m, "id");
        found[0] |= g_str_equal(id, slug);
        found[1] |= g_str_equal(id, other_slug);
        g_assert_cmpstr(json_object_get_string_member(m, "object"), ==, "model");
        g_assert_cmpstr(json_object_get_string_member(m, "owned_by"), ==, "ponder");
        GStatBuf st;
        g_assert_cmpint(g_stat(g_str_equal(id, slug) ? model_path : other_model_path, &st), ==, 0);
        g_assert_cmpint(json_object_get_int_member(m, "created"), ==, st.st_mtime);
    }
    g_assert_true(found[0] && found[1]);
}

static void assert_usage(JsonObject *usage, const Reference *ref, guint prompt_tokens)
{
    g_assert_cmpint(json_object_get_int_member(usage, "prompt_tokens"), ==, prompt_tokens);
    g_assert_cmpint(json_object_get_int_member(usage, "prompt_tokens"), ==,
                    ref->stats.prompt_tokens);
    g_assert_cmpint(json_object_get_int_member(usage, "completion_tokens"), ==,
                    ref->stats.completion_tokens);
    g_assert_cmpint(json_object_get_int_member(usage, "total_tokens"), ==,
                    ref->stats.prompt_tokens + ref->stats.completion_tokens);
}

static void test_openai_chat(void)
{
    g_auto(Reference) ref = {0};
    reference_chat(question, 2, 24, &ref);
    guint prompt_tokens = prompt_token_count(question, 2);
    g_autofree char *body =
        g_strdup_printf("{\"model\":\"%s\",\"messages\":%s,\"temperature\":0,\"max_tokens\":24}",
                        slug, question_json);
    gint64 before = g_get_real_time() / G_USEC_PER_SEC;
    g_autoptr(Response) r = http("POST", "/v1/chat/completions", body);
    g_assert_cmpuint(r->status, ==, 200);
    g_assert_cmpstr(r->content_type, ==, "application/json");
    JsonObject *root = object_of(r);
    g_assert_true(g_str_has_prefix(json_object_get_string_member(root, "id"), "chatcmpl-"));
    g_assert_cmpstr(json_object_get_string_member(root, "object"), ==, "chat.completion");
    g_assert_cmpstr(json_object_get_string_member(root, "model"), ==, slug);
    gint64 created = json_object_get_int_member(root, "created");
    g_assert_cmpint(created, >=, before);
    g_assert_cmpint(created, <=, g_get_real_time() / G_USEC_PER_SEC);
    JsonObject *choice =
        json_array_get_object_element(json_object_get_array_member(root, "choices"), 0);
    JsonObject *message = json_object_get_object_member(choice, "message");
    g_assert_cmpstr(json_object_get_string_member(message, "role"), ==, "assistant");
    g_assert_cmpstr(json_object_get_string_member(message, "content"), ==, ref.answer);
    g_assert_cmpstr(json_object_get_string_member(message, "reasoning_content"), ==, ref.reasoning);
    g_assert_cmpstr(json_object_get_string_member(choice, "finish_reason"), ==,
                    finish_name(ref.finish));
    assert_usage(json_object_get_object_member(root, "usage"), &ref, prompt_tokens);

    // Streamed: the same text in deltas, the finish reason, usage, then [DONE].
    g_autofree char *stream_body = g_strdup_printf(
        "{\"model\":\"%s\",\"messages\":%s,\"temperature\":0,\"max_completion_tokens\":24,"
        "\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
        slug, question_json);
    g_autoptr(Response) s = http("POST", "/v1/chat/completions", stream_body);
    g_assert_cmpuint(s->status, ==, 200);
    g_assert_cmpstr(s->content_type, ==, "text/event-stream");
    g_autoptr(GPtrArray) events = sse_events(s->text);
    g_autoptr(GString) content = g_string_new(NULL);
    g_autoptr(GString) reasoning = g_string_new(NULL);
    const char *finish = NULL;
    guint n_finish = 0;
    for (guint i = 0; i + 1 < events->len; i++) {
        JsonObject *chunk = item_object(events, i);
        g_assert_cmpstr(json_object_get_string_member(chunk, "object"), ==,
                        "chat.completion.chunk");
        g_assert_cmpstr(json_object_get_string_member(chunk, "id"), ==,
                        json_object_get_string_member(item_object(events, 0), "id"));
        g_assert_true(json_object_get_null_member(chunk, "usage"));
        JsonObject *c =
            json_array_get_object_element(json_object_get_array_member(chunk, "choices"), 0);
        JsonObject *delta = json_object_get_object_member(c, "delta");
        if (i == 0)
            g_assert_cmpstr(json_object_get_string_member(delta, "role"), ==, "assistant");
        g_string_append(content, json_object_get_string_member_with_default(delta, "content", ""));
        g_string_append(reasoning,
                        json_object_get_string_member_with_default(delta, "reasoning_content", ""));
        if (!json_object_get_null_member(c, "finish_reason")) {
            finish = json_object_get_string_member(c, "finish_reason");
            n_finish++;
            g_assert_cmpuint(i, ==, events->len - 2); // the last chunk before usage
        }
    }
    g_assert_cmpuint(n_finish, ==, 1);
    g_assert_cmpstr(finish, ==, finish_name(ref.finish));
    g_assert_cmpstr(content->str, ==, ref.answer);
    g_assert_cmpstr(reasoning->str, ==, ref.reasoning);
    JsonObject *last = item_object(events, events->len - 1);
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(last, "choices")), ==, 0);
    assert_usage(json_object_get_object_member(last, "usage"), &ref, prompt_tokens);
}

static void test_openai_completions(void)
{
    const char *prompt = "The quick brown fox";
    g_auto(Reference) ref = {0};
    reference_raw(prompt, 16, &ref);
    g_autofree char *body = g_strdup_printf(
        "{\"model\":\"%s\",\"prompt\":\"%s\",\"temperature\":0,\"max_tokens\":16}", slug, prompt);
    g_autoptr(Response) r = http("POST", "/v1/completions", body);
    g_assert_cmpuint(r->status, ==, 200);
    JsonObject *root = object_of(r);
    g_assert_cmpstr(json_object_get_string_member(root, "object"), ==, "text_completion");
    JsonObject *choice =
        json_array_get_object_element(json_object_get_array_member(root, "choices"), 0);
    g_assert_cmpstr(json_object_get_string_member(choice, "text"), ==, ref.answer);
    g_assert_cmpstr(json_object_get_string_member(choice, "finish_reason"), ==,
                    finish_name(ref.finish));
    JsonObject *usage = json_object_get_object_member(root, "usage");
    g_assert_cmpint(json_object_get_int_member(usage, "completion_tokens"), ==,
                    ref.stats.completion_tokens);
    g_assert_cmpint(json_object_get_int_member(usage, "prompt_tokens"), ==,
                    ref.stats.prompt_tokens);

    g_autofree char *stream_body =
        g_strdup_printf("{\"model\":\"%s\",\"prompt\":[\"%s\"],\"temperature\":0,\"max_tokens\":16,"
                        "\"stream\":true}",
                        slug, prompt);
    g_autoptr(Response) s = http("POST", "/v1/completions", stream_body);
    g_autoptr(GPtrArray) events = sse_events(s->text);
    g_autoptr(GString) text = g_string_new(NULL);
    for (guint i = 0; i < events->len; i++) {
        JsonObject *c = json_array_get_object_element(
            json_object_get_array_member(item_object(events, i), "choices"), 0);
        g_string_append(text, json_object_get_string_member(c, "text"));
    }
    g_assert_cmpstr(text->str, ==, ref.answer);
}

// An engine error before any output is an HTTP error, also for a streaming request (the
// headers wait for the engine to start the request).
static void test_context_length_exceeded(void)
{
    GString *body = g_string_new(NULL);
    g_string_append_printf(
        body, "{\"model\":\"%s\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"",
        slug);
    for (int i = 0; i < 1200; i++) // far more than N_CTX tokens
        g_string_append(body, "word ");
    g_string_append(body, "\"}]}");
    g_autoptr(Response) r = http("POST", "/v1/chat/completions", body->str);
    g_string_free(body, TRUE);
    g_assert_cmpuint(r->status, ==, 400);
    JsonObject *error = json_object_get_object_member(object_of(r), "error");
    g_assert_cmpstr(json_object_get_string_member(error, "code"), ==, "context_length_exceeded");
    g_assert_cmpstr(json_object_get_string_member(error, "type"), ==, "invalid_request_error");
}

// Cline's request: OpenAI-compatible, content as text parts, usage in the stream.
static void test_cline_request(void)
{
    g_autofree char *body = g_strdup_printf(
        "{\"model\":\"%s\",\"messages\":[{\"role\":\"system\",\"content\":\"You are Cline.\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"<task>\\nSay "
        "hi\\n</task>\"},"
        "{\"type\":\"text\",\"text\":\"<environment_details>none</environment_details>\"}]}],"
        "\"temperature\":0,\"max_tokens\":8,\"stream\":true,\"stream_options\":{\"include_usage\":"
        "true}}",
        slug);
    g_autoptr(Response) r = http("POST", "/v1/chat/completions", body);
    g_assert_cmpuint(r->status, ==, 200);
    g_autoptr(GPtrArray) events = sse_events(r->text);
    JsonObject *usage =
        json_object_get_object_member(item_object(events, events->len - 1), "usage");
    // The parts are joined: the prompt is the one of the concatenated text.
    const ChatMessage joined[] = {
        {CHAT_ROLE_SYSTEM, "You are Cline."},
        {CHAT_ROLE_USER, "<task>\nSay hi\n</task><environment_details>none</environment_details>"},
    };
    g_assert_cmpint(json_object_get_int_member(usage, "prompt_tokens"), ==,
                    prompt_token_count(joined, 2));
    g_assert_cmpint(json_object_get_int_member(usage, "completion_tokens"), <=, 8);
}

// With raw_reasoning the thinking is inline in content, streamed and not alike.
static void test_raw_reasoning(void)
{
    PonderApiServerOptions options = {.port = PONDER_API_PORT_ANY, .raw_reasoning = TRUE};
    g_autoptr(PonderApiServer) raw_server = ponder_api_server_new(engine, library, &options);
    g_assert_true(ponder_api_server_start(raw_server, NULL));
    g_autofree char *saved = base_url;
    base_url = g_strdup_printf("http://127.0.0.1:%u", ponder_api_server_get_port(raw_server));
    g_auto(Reference) ref = {0};
    reference_chat(question, 2, 24, &ref);
    g_autofree char *want =
        *ref.reasoning ? g_strconcat("<think>\n", ref.reasoning, "</think>", ref.answer, NULL)
                       : g_strdup(ref.answer);
    g_autofree char *body =
        g_strdup_printf("{\"model\":\"%s\",\"messages\":%s,\"temperature\":0,\"max_tokens\":24}",
                        slug, question_json);
    g_autoptr(Response) r = http("POST", "/v1/chat/completions", body);
    JsonObject *choice =
        json_array_get_object_element(json_object_get_array_member(object_of(r), "choices"), 0);
    JsonObject *message = json_object_get_object_member(choice, "message");
    g_assert_cmpstr(json_object_get_string_member(message, "content"), ==, want);
    g_assert_false(json_object_has_member(message, "reasoning_content"));
    g_autofree char *stream_body = g_strdup_printf(
        "{\"model\":\"%s\",\"messages\":%s,\"temperature\":0,\"max_tokens\":24,\"stream\":true}",
        slug, question_json);
    g_autoptr(Response) s = http("POST", "/v1/chat/completions", stream_body);
    g_autoptr(GPtrArray) events = sse_events(s->text);
    g_autoptr(GString) content = g_string_new(NULL);
    for (guint i = 0; i < events->len; i++) {
        JsonObject *c = json_array_get_object_element(
            json_object_get_array_member(item_object(events, i), "choices"), 0);
        g_string_append(content, json_object_get_string_member_with_default(
                                     json_object_get_object_member(c, "delta"), "content", ""));
    }
    g_assert_cmpstr(content->str, ==, want);
    g_free(base_url);
    base_url = g_steal_pointer(&saved);
}

// ---- Ollama
// --------------------------------------------------------------------------------------

static void assert_ollama_final(JsonObject *last, const Reference *ref)
{
    g_assert_true(json_object_get_boolean_member(last, "done"));
    g_assert_cmpstr(json_object_get_string_member(last, "done_reason"), ==,
                    finish_name(ref->finish));
    g_assert_cmpint(json_object_get_int_member(last, "eval_count"), ==,
                    ref->stats.completion_tokens);
    g_assert_cmpint(json_object_get_int_member(last, "prompt_eval_count"), ==,
                    ref->stats.prompt_tokens);
    // Nanoseconds: a request takes more than a microsecond, and the parts fit in the total.
    gint64 total = json_object_get_int_member(last, "total_duration");
    g_assert_cmpint(total, >, 1000);
    g_assert_cmpint(json_object_get_int_member(last, "eval_duration"), <=, total);
    g_assert_cmpint(json_object_get_int_member(last, "prompt_eval_duration"), <=, total);
    g_assert_true(json_object_has_member(last, "load_duration"));
    g_autoptr(GDateTime) created =
        g_date_time_new_from_iso8601(json_object_get_string_member(last, "created_at"), NULL);
    g_assert_nonnull(created);
}

static void test_ollama_chat(void)
{
    g_auto(Reference) ref = {0};
    reference_chat(question, 2, 24, &ref);
    for (int think = 0; think < 2; think++) {
        g_autofree char *body = g_strdup_printf(
            "{\"model\":\"%s\",\"messages\":%s,\"stream\":false,%s\"options\":{\"temperature\":0,"
            "\"num_predict\":24,\"num_ctx\":8192}}",
            slug, question_json, think ? "\"think\":true," : "");
        g_autoptr(Response) r = http("POST", "/api/chat", body);
        g_assert_cmpuint(r->status, ==, 200);
        JsonObject *root = object_of(r);
        g_assert_cmpstr(json_object_get_string_member(root, "model"), ==, slug);
        JsonObject *message = json_object_get_object_member(root, "message");
        g_assert_cmpstr(json_object_get_string_member(message, "role"), ==, "assistant");
        g_assert_cmpstr(json_object_get_string_member(message, "content"), ==, ref.answer);
        if (think)
            g_assert_cmpstr(json_object_get_string_member(message, "thinking"), ==, ref.reasoning);
        else
            g_assert_false(json_object_has_member(message, "thinking"));
        assert_ollama_final(root, &ref);

        // NDJSON by default.
        g_autofree char *stream_body =
            g_strdup_printf("{\"model\":\"%s\",\"messages\":%s,%s\"options\":{\"temperature\":0,"
                            "\"num_predict\":24}}",
                            slug, question_json, think ? "\"think\":true," : "");
        g_autoptr(Response) s = http("POST", "/api/chat", stream_body);
        g_assert_cmpstr(s->content_type, ==, "application/x-ndjson");
        g_autoptr(GPtrArray) lines = ndjson_lines(s->text);
        g_autoptr(GString) content = g_string_new(NULL);
        g_autoptr(GString) thinking = g_string_new(NULL);
        for (guint i = 0; i < lines->len; i++) {
            JsonObject *m = json_object_get_object_member(item_object(lines, i), "message");
            g_string_append(content, json_object_get_string_member(m, "content"));
            g_assert_true(
                json_object_has_member(m, "thinking") ==
                (think && i + 1 < lines->len && !*json_object_get_string_member(m, "content")));
            g_string_append(thinking,
                            json_object_get_string_member_with_default(m, "thinking", ""));
        }
        g_assert_cmpstr(content->str, ==, ref.answer);
        g_assert_cmpstr(thinking->str, ==, think ? ref.reasoning : "");
        assert_ollama_final(item_object(lines, lines->len - 1), &ref);
    }
}

static void test_ollama_generate(void)
{
    const ChatMessage as_chat[] = {{CHAT_ROLE_SYSTEM, "Be kind."},
                                   {CHAT_ROLE_USER, "Write a haiku."}};
    g_auto(Reference) ref = {0};
    reference_chat(as_chat, 2, 16, &ref);
    g_autofree char *body = g_strdup_printf(
        "{\"model\":\"%s\",\"system\":\"Be kind.\",\"prompt\":\"Write a haiku.\",\"think\":true,"
        "\"stream\":false,\"options\":{\"temperature\":0,\"num_predict\":16}}",
        slug);
    g_autoptr(Response) r = http("POST", "/api/generate", body);
    g_assert_cmpuint(r->status, ==, 200);
    JsonObject *root = object_of(r);
    g_assert_cmpstr(json_object_get_string_member(root, "response"), ==, ref.answer);
    g_assert_cmpstr(json_object_get_string_member(root, "thinking"), ==, ref.reasoning);
    assert_ollama_final(root, &ref);

    // raw: the prompt as it is, no chat format.
    g_auto(Reference) raw_ref = {0};
    reference_raw("Write a haiku.", 16, &raw_ref);
    g_autofree char *raw_body =
        g_strdup_printf("{\"model\":\"%s\",\"prompt\":\"Write a "
                        "haiku.\",\"raw\":true,\"options\":{\"temperature\":0,"
                        "\"num_predict\":16}}",
                        slug);
    g_autoptr(Response) s = http("POST", "/api/generate", raw_body);
    g_autoptr(GPtrArray) lines = ndjson_lines(s->text);
    g_autoptr(GString) response = g_string_new(NULL);
    for (guint i = 0; i < lines->len; i++)
        g_string_append(response, json_object_get_string_member(item_object(lines, i), "response"));
    g_assert_cmpstr(response->str, ==, raw_ref.answer);
}

static void test_ollama_tags(void)
{
    g_autoptr(Response) r = http("GET", "/api/tags", NULL);
    g_assert_cmpuint(r->status, ==, 200);
    JsonArray *models = json_object_get_array_member(object_of(r), "models");
    g_assert_cmpuint(json_array_get_length(models), ==, 2);
    JsonObject *m = NULL;
    for (guint i = 0; i < 2; i++)
        if (g_str_equal(
                json_object_get_string_member(json_array_get_object_element(models, i), "name"),
                slug))
            m = json_array_get_object_element(models, i);
    g_assert_nonnull(m);
    g_assert_cmpstr(json_object_get_string_member(m, "model"), ==, slug);
    GStatBuf st;
    g_assert_cmpint(g_stat(model_path, &st), ==, 0);
    g_assert_cmpint(json_object_get_int_member(m, "size"), ==, st.st_size);
    g_autoptr(GDateTime) modified =
        g_date_time_new_from_iso8601(json_object_get_string_member(m, "modified_at"), NULL);
    g_assert_nonnull(modified);
    g_assert_cmpint(g_date_time_to_unix(modified), ==, st.st_mtime);
    const char *digest = json_object_get_string_member(m, "digest");
    g_assert_cmpuint(strlen(digest), ==, 64);
    g_assert_cmpuint(strspn(digest, "0123456789abcdef"), ==, 64);
    JsonObject *details = json_object_get_object_member(m, "details");
    g_assert_cmpstr(json_object_get_string_member(details, "format"), ==, "gguf");
    g_assert_cmpstr(json_object_get_string_member(details, "family"), ==, "qwen2");
    g_assert_cmpstr(
        json_array_get_string_element(json_object_get_array_member(details, "families"), 0), ==,
        "qwen2");
    g_assert_cmpstr(json_object_get_string_member(details, "quantization_level"), ==, "Q8_0");
    // tiny-qwen2 is a few million parameters: "N.NNM".
    g_assert_true(g_regex_match_simple(
        "^[0-9]+\\.[0-9]{2}M$", json_object_get_string_member(details, "parameter_size"), 0, 0));
}

// Continue reads model_info["<arch>.context_length"] to size its prompts; Zed reads the
// capabilities. Both send {"model"} (older clients {"name"}).
static void test_ollama_show(void)
{
    const char *keys[] = {"model", "name"};
    for (guint k = 0; k < 2; k++) {
        g_autofree char *body = g_strdup_printf("{\"%s\":\"%s\"}", keys[k], slug);
        g_autoptr(Response) r = http("POST", "/api/show", body);
        g_assert_cmpuint(r->status, ==, 200);
        JsonObject *root = object_of(r);
        JsonObject *info = json_object_get_object_member(root, "model_info");
        g_assert_cmpstr(json_object_get_string_member(info, "general.architecture"), ==, "qwen2");
        // The context the engine gives a request (the test's n_ctx), not the trained 4096.
        g_assert_cmpint(json_object_get_int_member(info, "qwen2.context_length"), ==, N_CTX);
        g_assert_nonnull(strstr(json_object_get_string_member(root, "parameters"), "num_ctx 512"));
        g_assert_nonnull(strstr(json_object_get_string_member(root, "template"),
                                "<\xef\xbd\x9cUser\xef\xbd\x9c>"));
        JsonArray *capabilities = json_object_get_array_member(root, "capabilities");
        g_assert_cmpstr(json_array_get_string_element(capabilities, 0), ==, "completion");
        g_assert_cmpstr(json_array_get_string_element(capabilities, 1), ==, "thinking");
        g_assert_cmpstr(json_object_get_string_member(
                            json_object_get_object_member(root, "details"), "quantization_level"),
                        ==, "Q8_0");
    }
    g_autoptr(Response) missing = http("POST", "/api/show", "{\"model\":\"nothing-like-it\"}");
    g_assert_cmpuint(missing->status, ==, 404);
    g_assert_cmpstr(json_object_get_string_member(object_of(missing), "error"), ==,
                    "model \"nothing-like-it\" not found");
}

static void test_ollama_version_and_ps(void)
{
    g_autoptr(Response) v = http("GET", "/api/version", NULL);
    g_assert_cmpstr(json_object_get_string_member(object_of(v), "version"), ==, "0.9.0");
    g_autoptr(Response) ps = http("GET", "/api/ps", NULL);
    JsonArray *models = json_object_get_array_member(object_of(ps), "models");
    g_assert_cmpuint(json_array_get_length(models), ==, 1);
    JsonObject *m = json_array_get_object_element(models, 0);
    g_assert_cmpstr(json_object_get_string_member(m, "name"), ==, slug);
    g_assert_cmpint(json_object_get_int_member(m, "size_vram"), ==, 0); // on the CPU
}

static void wait_state(PonderEngineState state)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (ponder_engine_get_state(engine) != state) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, TRUE);
    }
}

// Continue's chat: keep_alive as a number, options.num_ctx, stop strings; and keep_alive 0
// (a client freeing memory) unloads the model after the answer.
static void test_continue_chat_and_keep_alive(void)
{
    g_autofree char *body = g_strdup_printf("{\"model\":\"%s\",\"messages\":[{\"role\":\"user\","
                                            "\"content\":\"hi\"}],\"keep_alive\":1800,"
                                            "\"options\":{\"num_ctx\":8192,\"num_predict\":6,"
                                            "\"temperature\":0,\"stop\":[\"<|im_end|>\"]}}",
                                            slug);
    g_autoptr(Response) r = http("POST", "/api/chat", body);
    g_assert_cmpuint(r->status, ==, 200);
    g_autoptr(GPtrArray) lines = ndjson_lines(r->text);
    g_assert_cmpint(json_object_get_int_member(item_object(lines, lines->len - 1), "eval_count"),
                    <=, 6);
    g_assert_cmpint(ponder_engine_get_state(engine), ==, PONDER_ENGINE_READY);

    g_autofree char *unload = g_strdup_printf("{\"model\":\"%s\",\"messages\":[{\"role\":\"user\","
                                              "\"content\":\"hi\"}],\"keep_alive\":\"0s\","
                                              "\"stream\":false,\"options\":{\"num_predict\":2}}",
                                              slug);
    g_autoptr(Response) u = http("POST", "/api/chat", unload);
    g_assert_cmpuint(u->status, ==, 200);
    wait_state(PONDER_ENGINE_UNLOADED);
    g_autoptr(Response) ps = http("GET", "/api/ps", NULL);
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(object_of(ps), "models")),
                     ==, 0);
    // The next request loads it again; an empty one only loads.
    g_autofree char *load = g_strdup_printf("{\"model\":\"%s\",\"messages\":[]}", slug);
    g_autoptr(Response) l = http("POST", "/api/chat", load);
    g_assert_cmpstr(json_object_get_string_member(object_of(l), "done_reason"), ==, "load");
    wait_state(PONDER_ENGINE_READY);
}

static void test_model_switch(void)
{
    // Idle: naming the other model switches the engine to it.
    g_autofree char *body = g_strdup_printf(
        "{\"model\":\"%s\",\"prompt\":\"Hi\",\"max_tokens\":2,\"temperature\":0}", other_slug);
    g_autoptr(Response) r = http("POST", "/v1/completions", body);
    g_assert_cmpuint(r->status, ==, 200);
    g_assert_cmpstr(json_object_get_string_member(object_of(r), "model"), ==, other_slug);
    g_assert_cmpstr(ponder_engine_get_model_path(engine), ==, other_model_path);
    g_autoptr(Response) health = http("GET", "/health", NULL);
    g_assert_cmpstr(json_object_get_string_member(object_of(health), "model"), ==, other_slug);

    // Busy: a request for the first model while one runs on the other is refused with 503.
    PonderGeneration *running = ponder_generation_new_raw("a long one");
    ponder_generation_set_max_tokens(running, 100000);
    g_assert_true(ponder_engine_submit(engine, running, NULL));
    g_autofree char *back =
        g_strdup_printf("{\"model\":\"%s\",\"prompt\":\"Hi\",\"max_tokens\":2}", slug);
    g_autoptr(Response) busy = http("POST", "/v1/completions", back);
    g_assert_cmpuint(busy->status, ==, 503);
    g_assert_nonnull(busy->retry_after);
    g_assert_nonnull(strstr(busy->text, "busy"));
    ponder_generation_cancel(running);
    while (!ponder_generation_is_finished(running))
        g_main_context_iteration(NULL, TRUE);
    g_object_unref(running);
    g_autoptr(Response) again = http("POST", "/v1/completions", back);
    g_assert_cmpuint(again->status, ==, 200);
    g_assert_cmpstr(ponder_engine_get_model_path(engine), ==, model_path);
    // Every control character is escaped, U+001F too (JavaScript's JSON.parse rejects raw ones).
    g_autoptr(Response) control = http("POST", "/api/show", "{\"model\":\"a\\u001fb\\u0001c\"}");
    g_assert_cmpuint(control->status, ==, 404);
    for (const char *c = control->text; *c; c++)
        g_assert_cmpint((unsigned char)*c, >=, 0x20);
    g_assert_nonnull(strstr(control->text, "a\\u001fb\\u0001c"));
    g_autoptr(Response) unknown =
        http("POST", "/api/generate", "{\"model\":\"zzz\",\"prompt\":\"x\"}");
    g_assert_cmpuint(unknown->status, ==, 404);
    g_assert_cmpstr(json_object_get_string_member(object_of(unknown), "error"), ==,
                    "model \"zzz\" not found");
}

static void test_health_and_metrics(void)
{
    g_autoptr(Response) h = http("GET", "/health", NULL);
    JsonObject *root = object_of(h);
    g_assert_cmpstr(json_object_get_string_member(root, "status"), ==, "ok");
    g_assert_cmpstr(json_object_get_string_member(root, "backend"), ==, "cpu");
    g_assert_cmpstr(json_object_get_string_member(root, "state"), ==, "ready");
    g_assert_cmpstr(json_object_get_string_member(root, "model"), ==, slug);

    g_autoptr(Response) before = http("GET", "/metrics", NULL);
    g_autoptr(Response) chat = http("POST", "/api/chat", "{\"model\":\"missing\",\"messages\":[]}");
    g_assert_cmpuint(chat->status, ==, 404);
    g_autoptr(Response) m = http("GET", "/metrics", NULL);
    g_assert_true(g_str_has_prefix(m->content_type, "text/plain"));
    g_assert_nonnull(strstr(m->text, "# TYPE ponder_api_requests_total counter\n"));
    g_assert_nonnull(strstr(m->text, "# TYPE ponder_api_time_to_first_token_seconds histogram\n"));
    g_assert_nonnull(strstr(
        m->text, "ponder_api_request_duration_seconds_bucket{route=\"/api/chat\",le=\"+Inf\"}"));
    g_assert_nonnull(strstr(m->text, "\nponder_engine_queue_depth 0\n"));
    // The 404 just made is counted once more than before, as a request and as an error.
    const char *keys[] = {"ponder_api_requests_total{route=\"/api/chat\",code=\"404\"} ",
                          "ponder_api_errors_total{route=\"/api/chat\",code=\"404\"} "};
    for (guint i = 0; i < 2; i++) {
        const char *was = strstr(before->text, keys[i]);
        const char *now = strstr(m->text, keys[i]);
        g_assert_nonnull(now);
        guint64 n_before = was ? g_ascii_strtoull(was + strlen(keys[i]), NULL, 10) : 0;
        g_assert_cmpuint(g_ascii_strtoull(now + strlen(keys[i]), NULL, 10), ==, n_before + 1);
    }
    const char *tokens = strstr(m->text, "\nponder_api_generated_tokens_total ");
    g_assert_cmpuint(
        g_ascii_strtoull(tokens + strlen("\nponder_api_generated_tokens_total "), NULL, 10), >, 0);
}

// ---- a comma-decimal locale -----------------------------------------------------------------

// A Prometheus sample value or "le" bound: a number with a '.', or +Inf.
static void assert_prometheus_number(const char *text, gsize length, const char *line)
{
    g_autofree char *number = g_strndup(text, length);
    if (g_str_equal(number, "+Inf"))
        return;
    char *end = NULL;
    g_ascii_strtod(number, &end);
    if (end == number || *end)
        g_error("not a Prometheus number: \"%s\" in \"%s\"", number, line);
}

// Everything the API writes for a machine to read keeps '.' as the decimal point when the
// process runs in a locale that writes "0,6" (as the app does for a de_DE or fr_FR user).
static void test_comma_locale(void)
{
    char *previous = app_test_use_comma_locale();
    if (!previous) {
        g_test_skip("no comma-decimal locale is installed (tools/install-deps makes de_DE.UTF-8)");
        return;
    }
    // /api/show's Modelfile parameters and /api/tags' parameter size.
    g_autofree char *body = g_strdup_printf("{\"model\":\"%s\"}", slug);
    g_autoptr(Response) show = http("POST", "/api/show", body);
    g_assert_cmpuint(show->status, ==, 200);
    const char *parameters = json_object_get_string_member(object_of(show), "parameters");
    g_assert_true(g_str_has_prefix(parameters, "temperature 0.6\ntop_p 0.95\nnum_ctx 512\n"));
    g_autoptr(Response) tags = http("GET", "/api/tags", NULL);
    JsonObject *first =
        json_array_get_object_element(json_object_get_array_member(object_of(tags), "models"), 0);
    const char *size = json_object_get_string_member(
        json_object_get_object_member(first, "details"), "parameter_size");
    g_assert_true(g_regex_match_simple("^[0-9]+(\\.[0-9]+)?[KMB]?$", size, 0, 0));

    // /metrics after a request: every value and histogram bound is a Prometheus number.
    g_autoptr(Response) chat = http("POST", "/api/chat", "{\"model\":\"missing\",\"messages\":[]}");
    g_assert_cmpuint(chat->status, ==, 404);
    g_autoptr(Response) m = http("GET", "/metrics", NULL);
    g_assert_nonnull(strstr(m->text, ",le=\"0.05\"} "));
    g_assert_nonnull(
        strstr(m->text, "ponder_api_request_duration_seconds_sum{route=\"/api/chat\"} 0."));
    g_auto(GStrv) lines = g_strsplit(m->text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        const char *line = lines[i];
        if (!*line || *line == '#')
            continue;
        const char *value = strrchr(line, ' ');
        g_assert_nonnull(value);
        assert_prometheus_number(value + 1, strlen(value + 1), line);
        const char *le = strstr(line, "le=\"");
        if (le)
            assert_prometheus_number(le + 4, strcspn(le + 4, "\""), line);
    }

    // An error message quotes the client's number as the client wrote it.
    g_autofree char *request = g_strdup_printf(
        "{\"model\":\"%s\",\"top_p\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
        slug);
    g_autoptr(Response) invalid = http("POST", "/v1/chat/completions", request);
    g_assert_cmpuint(invalid->status, ==, 400);
    const char *message = json_object_get_string_member(
        json_object_get_object_member(object_of(invalid), "error"), "message");
    g_assert_cmpstr(message, ==, "'top_p' must be between 0 and 1, got 1.5");
    app_test_restore_numeric_locale(previous);
}

// ---- real clients
// ----------------------------------------------------------------------------------

static void on_exited(GObject *source, GAsyncResult *result, gpointer data)
{
    *(gboolean *)data = TRUE;
}

// Runs ARGV while the main context (and so the server) keeps running; its output is echoed.
static int run_client(const char *const *argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GSubprocess) process = g_subprocess_newv(
        argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error);
    g_assert_no_error(error);
    gboolean done = FALSE;
    g_subprocess_wait_async(process, NULL, on_exited, &done);
    gint64 deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;
    while (!done) {
        if (g_get_monotonic_time() > deadline) {
            g_subprocess_force_exit(process);
            g_error("%s did not finish within 120 s", argv[0]);
        }
        g_main_context_iteration(NULL, TRUE);
    }
    GInputStream *out = g_subprocess_get_stdout_pipe(process);
    char buffer[8192];
    gsize n = 0;
    g_input_stream_read_all(out, buffer, sizeof buffer - 1, &n, NULL, NULL);
    buffer[n] = '\0';
    g_test_message("%s: %s", argv[1] ? argv[1] : argv[0], buffer);
    return g_subprocess_get_if_exited(process) ? g_subprocess_get_exit_status(process) : -1;
}

static void test_node_client(gconstpointer data)
{
    const char *script = data;
    g_autofree char *node = g_find_program_in_path("node");
    const char *root = g_getenv("PONDER_SOURCE_ROOT") ? g_getenv("PONDER_SOURCE_ROOT") : ".";
    g_autofree char *folder = g_build_filename(root, "tests/app/api-clients", NULL);
    g_autofree char *modules = g_build_filename(
        folder, "node_modules", script[0] == 'o' && script[1] == 'p' ? "openai" : "ollama", NULL);
    if (!node) {
        g_test_skip("skipped: node is not installed");
        return;
    }
    if (!g_file_test(modules, G_FILE_TEST_IS_DIR)) {
        g_test_skip("skipped: run `npm ci --prefix tests/app/api-clients` first");
        return;
    }
    g_autofree char *path = g_build_filename(folder, script, NULL);
    const char *argv[] = {node, path, base_url, slug, NULL};
    g_assert_cmpint(run_client(argv), ==, 0);
}

static void test_curl(void)
{
    g_autofree char *curl = g_find_program_in_path("curl");
    if (!curl) {
        g_test_skip("skipped: curl is not installed");
        return;
    }
    g_autofree char *url = g_strconcat(base_url, "/v1/chat/completions", NULL);
    g_autofree char *body =
        g_strdup_printf("{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                        "\"max_tokens\":5,\"stream\":true}",
                        slug);
    g_autofree char *out_path = g_build_filename(tmp_dir, "curl.out", NULL);
    const char *argv[] = {curl, "-sS",    "-N", "--fail",
                          "-o", out_path, "-H", "Content-Type: application/json",
                          "-d", body,     url,  NULL};
    g_assert_cmpint(run_client(argv), ==, 0);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(out_path, &text, NULL, NULL));
    unlink(out_path);
    g_autoptr(GPtrArray) events = sse_events(text);
    g_assert_cmpuint(events->len, >=, 2);
}

int main(int argc, char **argv)
{
    // The user's locale, as the app takes it (CI runs this test under de_DE.UTF-8 too).
    setlocale(LC_ALL, "");
    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("ponder-api-XXXXXX", NULL);
    // A second model (other weights, the same name) in a subfolder, for switching.
    g_autofree char *other_dir = g_build_filename(tmp_dir, "other", NULL);
    g_mkdir(other_dir, 0700);
    model_path = app_test_make_tiny_model(tmp_dir, 7);
    other_model_path = model_path ? app_test_make_tiny_model(other_dir, 8) : NULL;
    if (!other_model_path) {
        app_test_remove_tree(tmp_dir);
        g_print("skipped: the R1 tokenizer in ../shared is missing\n");
        return 77;
    }
    library = ponder_model_library_new();
    for (guint s = 0; s < PONDER_MODEL_SOURCE_COUNT; s++)
        ponder_model_library_set_source_enabled(library, s, s == PONDER_MODEL_SOURCE_FOLDER);
    g_assert_true(ponder_model_library_add_folder(library, tmp_dir, NULL));
    g_assert_true(ponder_model_library_scan_sync(library, NULL, NULL));
    slug = ponder_model_entry_get_slug(ponder_model_library_find_by_path(library, model_path));
    other_slug =
        ponder_model_entry_get_slug(ponder_model_library_find_by_path(library, other_model_path));

    PonderEngineSettings settings;
    app_test_cpu_engine_settings(&settings, N_CTX, 2);
    settings.step_tokens = 64;
    engine = ponder_engine_new(&settings);
    ponder_engine_set_model(engine, model_path);
    wait_state(PONDER_ENGINE_READY);
    PonderApiServerOptions options = {.port = PONDER_API_PORT_ANY};
    server = ponder_api_server_new(engine, library, &options);
    g_autoptr(GError) error = NULL;
    if (!ponder_api_server_start(server, &error))
        g_error("%s", error->message);
    base_url = g_strdup_printf("http://127.0.0.1:%u", ponder_api_server_get_port(server));
    session = soup_session_new_with_options("timeout", 60, NULL);

    g_test_add_func("/api/openai/models", test_openai_models);
    g_test_add_func("/api/openai/chat", test_openai_chat);
    g_test_add_func("/api/openai/completions", test_openai_completions);
    g_test_add_func("/api/openai/context-length-exceeded", test_context_length_exceeded);
    g_test_add_func("/api/openai/cline-request", test_cline_request);
    g_test_add_func("/api/openai/raw-reasoning", test_raw_reasoning);
    g_test_add_func("/api/ollama/chat", test_ollama_chat);
    g_test_add_func("/api/ollama/generate", test_ollama_generate);
    g_test_add_func("/api/ollama/tags", test_ollama_tags);
    g_test_add_func("/api/ollama/show", test_ollama_show);
    g_test_add_func("/api/ollama/version-and-ps", test_ollama_version_and_ps);
    g_test_add_func("/api/ollama/continue-chat-and-keep-alive", test_continue_chat_and_keep_alive);
    g_test_add_func("/api/model-switch", test_model_switch);
    g_test_add_func("/api/health-and-metrics", test_health_and_metrics);
    g_test_add_func("/api/comma-locale", test_comma_locale);
    g_test_add_data_func("/api/clients/openai-npm", "openai.mjs", test_node_client);
    g_test_add_data_func("/api/clients/ollama-npm", "ollama.mjs", test_node_client);
    g_test_add_func("/api/clients/curl", test_curl);
    int status = g_test_run();

    g_object_unref(session);
    g_clear_object(&server);
    g_clear_object(&engine);
    g_object_unref(library);
    app_test_remove_tree(tmp_dir);
    g_free(model_path);
    g_free(other_model_path);
    g_free(tmp_dir);
    g_free(base_url);
    return status;
}
