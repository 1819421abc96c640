// The local API's defences, over raw loopback sockets (so every byte of a request is the
// test's own: a forged Host, a body that never comes, a client that hangs up): DNS
// rebinding (Host), foreign Origins, the bearer key, the body limit before buffering,
// validation, the read timeout, the connection limit, the memory all bodies may hold,
// hang-ups freeing engine slots, and the queue limit.
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "app-test-engine.h"
#include "app-test-api.h"
#include "app-test-util.h"
#include "ponder-api-server.h"
#include "ponder-engine.h"
#include "ponder-model-library.h"

static char *tmp_dir;
static char *model_path;
static PonderModelLibrary *library;

// ---- fixtures ------------------------------------------------------------------------------

static PonderEngine *new_engine(guint n_parallel, guint max_queued)
{
    return app_test_api_engine(model_path, n_parallel, max_queued);
}

static PonderApiServer *start_server(PonderEngine *engine, const PonderApiServerOptions *extra)
{
    return app_test_api_start(engine, library, extra);
}

// An OpenAI error object with a message, the type and (when PARAM) the param.
static void assert_openai_error(Raw *raw, guint status, const char *type, const char *param)
{
    g_assert_cmpuint(raw_status(raw), ==, status);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, raw_body(raw), -1, NULL));
    JsonObject *error =
        json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)), "error");
    g_assert_nonnull(error);
    g_assert_cmpuint(strlen(json_object_get_string_member(error, "message")), >, 10);
    g_assert_cmpstr(json_object_get_string_member(error, "type"), ==, type);
    if (param)
        g_assert_cmpstr(json_object_get_string_member(error, "param"), ==, param);
}

// ---- tests -------------------------------------------------------------------------------------

static void test_host_header(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    g_autoptr(PonderApiServer) server = start_server(engine, NULL);
    guint port = ponder_api_server_get_port(server);
    // A page on evil.example whose name was rebound to 127.0.0.1 sends its own name.
    const char *refused[] = {"Host: evil.example\r\n", "Host: evil.example:11434\r\n",
                             "Host: localhost.evil.example\r\n", "Host: 127.0.0.1.nip.io\r\n"};
    for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
        g_autoptr(Raw) raw = exchange(port, "GET", "/v1/models", refused[i], NULL);
        assert_openai_error(raw, 403, "permission_error", NULL);
        g_assert_nonnull(strstr(raw_body(raw), "Host"));
    }
    g_autofree char *with_port = g_strdup_printf("Host: 127.0.0.1:%u\r\n", port);
    const char *accepted[] = {"Host: localhost\r\n", "Host: LOCALHOST:80\r\n", "Host: [::1]\r\n",
                              "Host: [::1]:11434\r\n", with_port};
    for (guint i = 0; i < G_N_ELEMENTS(accepted); i++) {
        g_autoptr(Raw) raw = exchange(port, "GET", "/v1/models", accepted[i], NULL);
        g_assert_cmpuint(raw_status(raw), ==, 200);
    }
}

// Port 0 (the app's default) is Ollama's 11434 when free, else the next free one; both
// loopback families listen on it.
static void test_default_port(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    g_autoptr(PonderApiServer) first = ponder_api_server_new(engine, library, NULL);
    g_autoptr(PonderApiServer) second = ponder_api_server_new(engine, library, NULL);
    g_autoptr(GError) error = NULL;
    if (!ponder_api_server_start(first, &error)) {
        g_test_skip("skipped: no free port from 11434 on (another Ollama and its neighbours?)");
        return;
    }
    g_assert_true(ponder_api_server_start(second, &error));
    g_assert_no_error(error);
    guint a = ponder_api_server_get_port(first), b = ponder_api_server_get_port(second);
    g_assert_cmpuint(a, >=, 11434);
    g_assert_cmpuint(b, >, a); // the first one took a port; the next is searched after it
    g_assert_cmpuint(b, <, 11434 + 20);

    g_autoptr(GSocket) v6 =
        g_socket_new(G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) loopback6 = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV6);
    g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback6, (guint16)a);
    if (!v6 || !g_socket_connect(v6, address, NULL, NULL)) {
        g_test_message("no IPv6 loopback here: ::1 not checked");
        return;
    }
    g_socket_close(v6, NULL);
}

static void test_origin(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    const char *const allowed[] = {"http://localhost:3000", NULL};
    PonderApiServerOptions options = {.allowed_origins = allowed};
    g_autoptr(PonderApiServer) server = start_server(engine, &options);
    guint port = ponder_api_server_get_port(server);

    g_autoptr(Raw) foreign = exchange(port, "GET", "/v1/models",
                                      "Host: localhost\r\nOrigin: https://evil.example\r\n", NULL);
    assert_openai_error(foreign, 403, "permission_error", NULL);
    g_autofree char *no_cors = raw_header(foreign, "Access-Control-Allow-Origin");
    g_assert_null(no_cors);

    g_autoptr(Raw) ok = exchange(port, "GET", "/v1/models",
                                 "Host: localhost\r\nOrigin: http://localhost:3000\r\n", NULL);
    g_assert_cmpuint(raw_status(ok), ==, 200);
    g_autofree char *cors = raw_header(ok, "Access-Control-Allow-Origin");
    g_assert_cmpstr(cors, ==, "http://localhost:3000"); // that origin, never "*"

    // Preflights: answered for the allowed origin only.
    const char *preflight =
        "Host: localhost\r\nOrigin: %s\r\nAccess-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: authorization, content-type\r\n";
    g_autofree char *good = g_strdup_printf(preflight, "http://localhost:3000");
    g_autoptr(Raw) pre_ok = exchange(port, "OPTIONS", "/v1/chat/completions", good, NULL);
    g_assert_cmpuint(raw_status(pre_ok), ==, 204);
    g_autofree char *methods = raw_header(pre_ok, "Access-Control-Allow-Methods");
    g_assert_nonnull(strstr(methods, "POST"));
    g_autofree char *bad = g_strdup_printf(preflight, "http://localhost:3001");
    g_autoptr(Raw) pre_bad = exchange(port, "OPTIONS", "/v1/chat/completions", bad, NULL);
    g_assert_cmpuint(raw_status(pre_bad), ==, 403);
    g_autofree char *bad_cors = raw_header(pre_bad, "Access-Control-Allow-Origin");
    g_assert_null(bad_cors);
}

static void test_api_key(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    PonderApiServerOptions options = {.api_key = "s3cret-key"};
    g_autoptr(PonderApiServer) server = start_server(engine, &options);
    guint port = ponder_api_server_get_port(server);
    const char *refused[] = {"Host: localhost\r\n",
                             "Host: localhost\r\nAuthorization: Bearer s3cret-kez\r\n",
                             "Host: localhost\r\nAuthorization: Bearer s3cret-key-and-more\r\n",
                             "Host: localhost\r\nAuthorization: Basic czNjcmV0LWtleQ==\r\n"};
    for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
        g_autoptr(Raw) raw = exchange(port, "GET", "/v1/models", refused[i], NULL);
        assert_openai_error(raw, 401, "authentication_error", NULL);
    }
    g_autoptr(Raw) ok = exchange(port, "GET", "/v1/models",
                                 "Host: localhost\r\nAuthorization: Bearer s3cret-key\r\n", NULL);
    g_assert_cmpuint(raw_status(ok), ==, 200);
    g_assert_nonnull(strstr(raw_body(ok), "\"object\":\"list\""));
}

static gboolean has_headers(Raw *raw)
{
    return strstr(raw->received->str, "\r\n\r\n") != NULL;
}

// 9 MiB announced, 64 bytes sent: the 413 comes without the rest, so it was decided from the
// headers, before any buffering.
static void test_body_limit(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    g_autoptr(PonderApiServer) server = start_server(engine, NULL);
    g_autoptr(Raw) raw = raw_connect(ponder_api_server_get_port(server));
    const char *head = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
                       "Content-Type: application/json\r\nContent-Length: 9437184\r\n\r\n";
    raw_send(raw, head, strlen(head));
    char filler[64];
    memset(filler, ' ', sizeof filler);
    raw_send(raw, filler, sizeof filler);
    g_assert_true(raw_pump(raw, has_headers, 10000));
    g_assert_cmpuint(raw_status(raw), ==, 413);
    g_autofree char *connection = raw_header(raw, "Connection");
    g_assert_cmpstr(connection, ==, "close");

    // A chunked body over the limit is counted as it arrives and refused when it ends.
    g_autoptr(Raw) chunked = raw_connect(ponder_api_server_get_port(server));
    const char *chunked_head = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
                               "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    raw_send(chunked, chunked_head, strlen(chunked_head));
    g_autofree char *block = g_malloc(1 << 20);
    memset(block, ' ', 1 << 20);
    for (guint i = 0; i < 9; i++) {
        raw_send(chunked, "100000\r\n", 8);
        raw_send(chunked, block, 1 << 20);
        raw_send(chunked, "\r\n", 2);
    }
    raw_send(chunked, "0\r\n\r\n", 5);
    g_assert_true(raw_pump(chunked, has_headers, 20000));
    g_assert_cmpuint(raw_status(chunked), ==, 413);
}

static void test_validation(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    g_autoptr(PonderApiServer) server = start_server(engine, NULL);
    guint port = ponder_api_server_get_port(server);
    const char *user = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    const struct {
        const char *path, *body, *param;
    } cases[] = {
        {"/v1/chat/completions", "{\"messages\": [", NULL},
        {"/v1/chat/completions", "[1, 2]", NULL},
        {"/v1/chat/completions", "{%s, \"temperature\": NaN}", NULL},
        {"/v1/chat/completions", "{%s, \"temperature\": -0.5}", "temperature"},
        {"/v1/chat/completions", "{%s, \"temperature\": 2.5}", "temperature"},
        {"/v1/chat/completions", "{%s, \"temperature\": \"hot\"}", "temperature"},
        {"/v1/chat/completions", "{%s, \"top_p\": 1.5}", "top_p"},
        {"/v1/chat/completions", "{%s, \"max_tokens\": -3}", "max_tokens"},
        {"/v1/chat/completions", "{%s, \"max_tokens\": 2.5}", "max_tokens"},
        {"/v1/chat/completions", "{%s, \"stream\": \"yes\"}", "stream"},
        {"/v1/chat/completions", "{%s, \"stop\": [1]}", "stop"},
        {"/v1/chat/completions", "{%s, \"n\": 2}", "n"},
        {"/v1/chat/completions",
         "{%s, \"tools\": [{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}", "tools"},
        {"/v1/chat/completions", "{\"messages\": []}", "messages"},
        {"/v1/chat/completions",
         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
         "\"image_url\":{\"url\":\"data:,\"}}]}]}",
         "messages[0].content[0]"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
         "messages[0].role"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":[]}]}]}",
         "messages[0].content[0]"},
        {"/v1/chat/completions", "{%s, \"response_format\": {\"type\": {}}}", "response_format"},
        {"/api/show", "{\"model\": {\"name\": 1}}", "model"},
        {"/api/chat", "{\"model\":\"tiny\", %s, \"options\": {\"temperature\": -1}}",
         "options.temperature"},
        {"/api/chat", "{\"model\":\"tiny\", %s, \"options\": {\"top_k\": 1.5}}", "options.top_k"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *body = g_strdup_printf(cases[i].body, user);
        g_test_message("%s %s", cases[i].path, body);
        g_autoptr(Raw) raw = exchange(port, "POST", cases[i].path, NULL, body);
        g_assert_cmpuint(raw_status(raw), ==, 400);
        g_autoptr(JsonParser) parser = json_parser_new();
        g_assert_true(json_parser_load_from_data(parser, raw_body(raw), -1, NULL));
        JsonObject *root = json_node_get_object(json_parser_get_root(parser));
        if (g_str_has_prefix(cases[i].path, "/api/")) {
            // Ollama's clients read {"error": "message"}.
            g_assert_nonnull(strstr(json_object_get_string_member(root, "error"), cases[i].param));
            continue;
        }
        assert_openai_error(raw, 400, "invalid_request_error", cases[i].param);
    }
    // The unsupported feature is named in the message, not just in "param".
    g_autofree char *tools = g_strdup_printf(cases[12].body, user); // the "tools" case
    g_autoptr(Raw) raw = exchange(port, "POST", "/v1/chat/completions", NULL, tools);
    g_assert_nonnull(strstr(raw_body(raw), "'tools' is not supported"));
    // Unknown fields are ignored (the request reaches model resolution: 404 for the name).
    g_autoptr(Raw) unknown =
        exchange(port, "POST", "/v1/chat/completions", NULL,
                 "{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi\"}],\"frobnicate\":{\"x\":1}}");
    assert_openai_error(unknown, 404, "not_found_error", "model");
    g_assert_nonnull(strstr(raw_body(unknown), "model \\\"no-such-model\\\" not found"));
}

static void test_unknown_route(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    g_autoptr(PonderApiServer) server = start_server(engine, NULL);
    guint port = ponder_api_server_get_port(server);
    g_autoptr(Raw) raw = exchange(port, "GET", "/v1/engines", NULL, NULL);
    assert_openai_error(raw, 404, "not_found_error", NULL);
    g_autoptr(Raw) wrong_method = exchange(port, "GET", "/v1/chat/completions", NULL, NULL);
    g_assert_cmpuint(raw_status(wrong_method), ==, 405);
}

// Half a request, then nothing: the connection is closed at the read timeout, unanswered.
static void test_slow_client_times_out(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    g_autoptr(PonderApiServer) server = start_server(engine, NULL);
    ponder_api_server_set_request_timeout(server, 300);
    const char *halves[] = {"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Le",
                            "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
                            "Content-Length: 100\r\n\r\n{\"messages\":"};
    for (guint i = 0; i < G_N_ELEMENTS(halves); i++) {
        g_autoptr(Raw) raw = raw_connect(ponder_api_server_get_port(server));
        raw_send(raw, halves[i], strlen(halves[i]));
        gint64 start = g_get_monotonic_time();
        g_assert_true(raw_pump(raw, NULL, 10000));
        g_assert_true(raw->eof);
        gint64 elapsed_ms = (g_get_monotonic_time() - start) / 1000;
        g_assert_cmpint(elapsed_ms, >=, 250);
        g_assert_cmpint(elapsed_ms, <, 5000);
        g_assert_cmpuint(raw_status(raw), ==, 0); // no answer, just closed
    }
}

// Connections beyond the limit are answered 503 and closed at once, and the server goes on
// accepting: libsoup stops listening for good when accept() fails, so idle connections
// that used up the process's file descriptors would have left the API deaf.
static void test_connection_limit(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    g_autoptr(PonderApiServer) server = start_server(engine, NULL);
    ponder_api_server_set_max_connections(server, 4);
    guint port = ponder_api_server_get_port(server);
    Raw *idle[4];
    for (guint i = 0; i < G_N_ELEMENTS(idle); i++) {
        idle[i] = raw_connect(port);
        g_assert_false(raw_pump(idle[i], NULL, 50)); // taken up, left open
    }
    // More connections, each refused with an answer that says why.
    for (guint i = 0; i < 20; i++) {
        g_autoptr(Raw) over = raw_connect(port);
        g_assert_true(raw_pump(over, NULL, 5000));
        g_assert_true(over->eof);
        g_assert_cmpuint(raw_status(over), ==, 503);
        g_assert_nonnull(strstr(raw_body(over), "too many connections"));
        g_autofree char *retry_after = raw_header(over, "Retry-After");
        g_assert_cmpstr(retry_after, ==, "1");
    }
    // One idle connection goes: the next request is served.
    raw_free(idle[0]);
    idle[0] = NULL;
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    guint status = 0;
    while (status != 200 && g_get_monotonic_time() < deadline) {
        g_autoptr(Raw) raw = exchange(port, "GET", "/health", NULL, NULL);
        status = raw_status(raw);
        g_assert_true(status == 200 || status == 503);
    }
    g_assert_cmpuint(status, ==, 200);
    for (guint i = 1; i < G_N_ELEMENTS(idle); i++)
        raw_free(idle[i]);
}

// Bodies being received count together: with eight maximal bodies held, another is answered
// 503, and the eight as usual (400 here), so open connections cannot each hold 8 MiB.
static void test_body_budget(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    g_autoptr(PonderApiServer) server = start_server(engine, NULL);
    guint port = ponder_api_server_get_port(server);
    // {"messages":"aaa…"}: the largest body accepted, which validation refuses.
    const gsize size = PONDER_API_MAX_BODY_BYTES;
    g_autofree char *body = g_malloc(size + 1);
    memset(body, 'a', size);
    body[size] = '\0';
    memcpy(body, "{\"messages\":\"", 13);
    memcpy(body + size - 2, "\"}", 2);
    g_autofree char *head = g_strdup_printf(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
        size);
    enum { N = PONDER_API_MAX_BODY_BYTES_HELD / PONDER_API_MAX_BODY_BYTES + 1 };
    Raw *clients[N];
    // All but the last byte of each: the server holds what came, none of them is complete.
    for (guint i = 0; i < N; i++) {
        clients[i] = raw_connect(port);
        raw_send(clients[i], head, strlen(head));
        raw_send(clients[i], body, size - 1);
        g_assert_false(raw_pump(clients[i], NULL, 200));
    }
    guint busy = 0, refused = 0;
    for (guint i = 0; i < N; i++) {
        raw_send(clients[i], body + size - 1, 1);
        g_assert_true(raw_pump(clients[i], NULL, 20000));
        if (raw_status(clients[i]) == 503) {
            assert_openai_error(clients[i], 503, "server_error", NULL);
            g_assert_nonnull(strstr(raw_body(clients[i]), "too many large request bodies"));
            busy++;
        } else {
            g_assert_cmpuint(raw_status(clients[i]), ==, 400);
            refused++;
        }
        raw_free(clients[i]);
    }
    g_assert_cmpuint(busy, ==, 1);
    g_assert_cmpuint(refused, ==, N - 1);
    // The budget is given back: one more maximal body is read and answered as usual.
    g_autoptr(Raw) after = exchange(port, "POST", "/v1/chat/completions", NULL, body);
    g_assert_cmpuint(raw_status(after), ==, 400);
}

static gboolean has_event(Raw *raw)
{
    return strstr(raw->received->str, "data: {") != NULL;
}

static const char *long_stream =
    "{\"prompt\":\"Once upon a time\",\"max_tokens\":200000,\"temperature\":0,\"stream\":true}";

static Raw *start_long_stream(guint port)
{
    Raw *raw = raw_connect(port);
    g_autofree char *request = g_strdup_printf(
        "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Content-Length: %zu\r\n\r\n%s",
        strlen(long_stream), long_stream);
    raw_send(raw, request, strlen(request));
    return raw;
}

static void wait_engine_idle(PonderEngine *engine)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (ponder_engine_get_running(engine) + ponder_engine_get_queue_depth(engine) > 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

// A client that hangs up mid-stream cancels its generation: the only slot is free again at
// once, long before its 200,000 tokens would have been generated.
static void test_disconnect_frees_slot(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 4);
    g_autoptr(PonderApiServer) server = start_server(engine, NULL);
    guint port = ponder_api_server_get_port(server);
    Raw *stream = start_long_stream(port);
    gboolean got_event = raw_pump(stream, has_event, 20000);
    g_test_message("received: %s", stream->received->str);
    g_assert_true(got_event);
    g_assert_cmpuint(raw_status(stream), ==, 200);
    g_assert_cmpuint(ponder_engine_get_running(engine), ==, 1);
    raw_free(stream);
    wait_engine_idle(engine);

    g_autoptr(Raw) next = exchange(port, "POST", "/v1/completions", NULL,
                                   "{\"prompt\":\"Hello\",\"max_tokens\":3,\"temperature\":0}");
    g_assert_cmpuint(raw_status(next), ==, 200);
    g_assert_nonnull(strstr(raw_body(next), "\"completion_tokens\":3"));
    // What the metrics counted: far fewer tokens than the hung-up request asked for.
    g_autoptr(Raw) metrics = exchange(port, "GET", "/metrics", NULL, NULL);
    const char *line = strstr(raw_body(metrics), "\nponder_api_generated_tokens_total ");
    g_assert_nonnull(line);
    g_assert_cmpuint(
        g_ascii_strtoull(line + strlen("\nponder_api_generated_tokens_total "), NULL, 10), <,
        100000);
}

// One slot, one place in the queue: the third request is refused with 429 and Retry-After.
static void test_queue_full(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 1);
    g_autoptr(PonderApiServer) server = start_server(engine, NULL);
    guint port = ponder_api_server_get_port(server);
    Raw *running = start_long_stream(port);
    g_assert_true(raw_pump(running, has_event, 20000));
    Raw *waiting = start_long_stream(port);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (ponder_engine_get_queue_depth(engine) < 1) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
    }
    g_autoptr(Raw) refused =
        exchange(port, "POST", "/v1/completions", NULL, "{\"prompt\":\"Hello\",\"max_tokens\":3}");
    assert_openai_error(refused, 429, "rate_limit_error", NULL);
    g_autofree char *retry = raw_header(refused, "Retry-After");
    g_assert_nonnull(retry);
    g_assert_cmpuint(g_ascii_strtoull(retry, NULL, 10), >=, 1);
    // Both hang up: the queued one is dropped too, and the engine goes idle.
    raw_free(waiting);
    raw_free(running);
    wait_engine_idle(engine);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("ponder-api-security-XXXXXX", NULL);
    model_path = app_test_make_tiny_model(tmp_dir, 7);
    if (!model_path) {
        app_test_remove_tree(tmp_dir);
        g_print("skipped: the R1 tokenizer in ../shared is missing\n");
        return 77;
    }
    library = app_test_api_library(tmp_dir);

    g_test_add_func("/api-security/host-header", test_host_header);
    g_test_add_func("/api-security/default-port", test_default_port);
    g_test_add_func("/api-security/origin", test_origin);
    g_test_add_func("/api-security/api-key", test_api_key);
    g_test_add_func("/api-security/body-limit", test_body_limit);
    g_test_add_func("/api-security/validation", test_validation);
    g_test_add_func("/api-security/unknown-route", test_unknown_route);
    g_test_add_func("/api-security/slow-client-times-out", test_slow_client_times_out);
    g_test_add_func("/api-security/connection-limit", test_connection_limit);
    g_test_add_func("/api-security/body-budget", test_body_budget);
    g_test_add_func("/api-security/disconnect-frees-slot", test_disconnect_frees_slot);
    g_test_add_func("/api-security/queue-full", test_queue_full);
    int status = g_test_run();

    g_object_unref(library);
    app_test_remove_tree(tmp_dir);
    g_free(model_path);
    g_free(tmp_dir);
    return status;
}
