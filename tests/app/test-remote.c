// The remote provider against Ponder's own `ponder --serve` on loopback (the real
// executable, in a private session bus and data folders, with a bearer key), and against a
// scripted server for what other servers send (inline <think> tags, Ollama's "reasoning",
// errors inside the stream, a connection cut mid-answer).
//
// The reference for the served model is independent of HTTP: the same greedy request run by a
// local engine in this process on the same file.
//   test-remote PATH/TO/ponder
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "app-test-engine.h"
#include "app-test-util.h"
#include "ponder-generation-private.h"
#include "ponder-model-entry.h"
#include "ponder-remote-provider.h"
#include "ponder-reply.h"

#define API_KEY "remote-test-key-5d1f"
#define MAX_TOKENS 24

static const char *ponder_exe;
static char *tmp_dir, *model_path, *model_slug;
static GSubprocess *server;
static char *server_url;

// ---- helpers ---------------------------------------------------------------------------------

static const SamplerParams *greedy(void)
{
    static SamplerParams params;
    params = sampler_default_params();
    params.temperature = 0;
    return &params;
}

static void wait_finished(PonderGeneration *g)
{
    gint64 deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;
    while (!ponder_generation_is_finished(g)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, TRUE);
    }
}

static PonderGeneration *chat_generation(const char *question, guint max_tokens)
{
    ChatMessage messages[] = {{CHAT_ROLE_USER, question}};
    PonderGeneration *g = ponder_generation_new_chat(messages, 1, NULL);
    ponder_generation_set_sampling(g, greedy());
    ponder_generation_set_max_tokens(g, max_tokens);
    return g;
}

static PonderEngine *local_engine(void)
{
    PonderEngineSettings settings;
    app_test_cpu_engine_settings(&settings, 1024, 1);
    PonderEngine *engine = ponder_engine_new(&settings);
    ponder_engine_set_model(engine, model_path);
    return engine;
}

static void on_refreshed(GObject *source, GAsyncResult *result, gpointer data)
{
    ponder_remote_provider_refresh_finish(PONDER_REMOTE_PROVIDER(source), result, data);
    *(gboolean *)g_object_get_data(source, "done") = TRUE;
}

static gboolean refresh(PonderRemoteProvider *provider, GError **error)
{
    gboolean done = FALSE;
    g_object_set_data(G_OBJECT(provider), "done", &done);
    ponder_remote_provider_refresh_async(provider, NULL, on_refreshed, error);
    while (!done)
        g_main_context_iteration(NULL, TRUE);
    return *error == NULL;
}

// An engine with no local model whose chosen model is MODEL_ID on PROVIDER.
static PonderEngine *remote_engine(PonderRemoteProvider *provider, const char *model_id)
{
    PonderEngine *engine = ponder_engine_new(NULL);
    ponder_engine_set_remote_provider(engine, provider);
    g_autofree char *path = ponder_remote_model_path(model_id);
    ponder_engine_set_model(engine, path);
    while (ponder_engine_get_state(engine) != PONDER_ENGINE_READY)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpstr(ponder_engine_get_backend_name(engine), ==, "remote");
    g_assert_cmpstr(ponder_engine_get_backend_note(engine), ==,
                    ponder_remote_provider_get_base_url(provider));
    g_assert_cmpstr(ponder_engine_get_model_path(engine), ==, path);
    return engine;
}

// ---- the served model ---------------------------------------------------------------------------

// The server goes when the test does, even when an assertion aborts it.
static void die_with_parent(gpointer data)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void start_server(void)
{
    guint16 port = app_test_free_port();
    server_url = g_strdup_printf("http://127.0.0.1:%u", port);
    g_autofree char *home = g_build_filename(tmp_dir, "server-home", NULL);
    g_autofree char *key_file = g_build_filename(tmp_dir, "api-key", NULL);
    g_assert_true(g_file_set_contents(key_file, API_KEY "\n", -1, NULL));
    g_autofree char *log = g_build_filename(tmp_dir, "server.log", NULL);
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
    g_subprocess_launcher_set_stdout_file_path(launcher, log);
    g_subprocess_launcher_set_flags(launcher, G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_subprocess_launcher_setenv(launcher, "HOME", home, TRUE);
    const char *dirs[][2] = {
        {"XDG_DATA_HOME", "data"}, {"XDG_CONFIG_HOME", "config"}, {"XDG_CACHE_HOME", "cache"}};
    for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
        g_autofree char *dir = g_build_filename(home, dirs[i][1], NULL);
        g_subprocess_launcher_setenv(launcher, dirs[i][0], dir, TRUE);
    }
    g_subprocess_launcher_unsetenv(launcher, "DISPLAY");
    g_subprocess_launcher_unsetenv(launcher, "WAYLAND_DISPLAY");
    // Under ASan the server's exit-time caches (fontconfig, probed for a display) are not
    // what this test is about; the app's own code is leak-checked by the unit tests.
    g_subprocess_launcher_setenv(launcher, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
    g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
    g_autofree char *port_arg = g_strdup_printf("%u", port);
    // No session bus: another test's `ponder` on a shared bus would take the command line.
    g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent",
                                 TRUE);
    g_autoptr(GError) error = NULL;
    server = g_subprocess_launcher_spawn(launcher, &error, ponder_exe, "--serve", "--port",
                                         port_arg, "--model", model_path, "--backend", "cpu",
                                         "--ctx", "1024", "--api-key-file", key_file, NULL);
    g_assert_no_error(error);

    // Serving once /v1/models answers (the key is required, so send it).
    g_autoptr(PonderRemoteProvider) probe = ponder_remote_provider_new(server_url, API_KEY, &error);
    g_assert_no_error(error);
    for (int i = 0; i < 300 && g_subprocess_get_identifier(server); i++) {
        g_autoptr(GError) refresh_error = NULL;
        if (refresh(probe, &refresh_error))
            return;
        g_usleep(100 * 1000);
    }
    g_autofree char *output = NULL;
    g_file_get_contents(log, &output, NULL, NULL);
    g_error("ponder --serve never answered on %s; it printed:\n%s", server_url, output);
}

static void test_models_listed(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderRemoteProvider) provider =
        ponder_remote_provider_new(server_url, API_KEY, &error);
    g_assert_no_error(error);
    // A URL without a path gets the OpenAI root.
    g_autofree char *expected_root = g_strconcat(server_url, "/v1", NULL);
    g_assert_cmpstr(ponder_remote_provider_get_base_url(provider), ==, expected_root);
    g_assert_true(refresh(provider, &error));
    g_assert_no_error(error);
    const char *const *models = ponder_remote_provider_get_models(provider);
    g_assert_true(g_strv_contains(models, model_slug));
}

// The same greedy request, run here and through the server, gives the same text and counts.
static void test_chat_matches_local_engine(void)
{
    g_autoptr(PonderEngine) local = local_engine();
    g_autoptr(PonderGeneration) reference = chat_generation("Why is the sky blue?", MAX_TOKENS);
    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_engine_submit(local, reference, &error));
    wait_finished(reference);

    g_autoptr(PonderRemoteProvider) provider =
        ponder_remote_provider_new(server_url, API_KEY, &error);
    g_autoptr(PonderEngine) engine = remote_engine(provider, model_slug);
    g_autoptr(PonderGeneration) remote = chat_generation("Why is the sky blue?", MAX_TOKENS);
    g_assert_true(ponder_engine_submit(engine, remote, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(ponder_engine_get_running(engine), ==, 1);
    wait_finished(remote);

    g_assert_no_error(ponder_generation_get_error(remote));
    g_assert_cmpint(ponder_generation_get_finish_reason(remote), ==,
                    ponder_generation_get_finish_reason(reference));
    g_assert_cmpstr(ponder_generation_get_reasoning(remote), ==,
                    ponder_generation_get_reasoning(reference));
    g_assert_cmpstr(ponder_generation_get_answer(remote), ==,
                    ponder_generation_get_answer(reference));
    g_assert_cmpint(ponder_generation_ended_in_reasoning(remote), ==,
                    ponder_generation_ended_in_reasoning(reference));
    g_assert_cmpuint(strlen(ponder_generation_get_reasoning(remote)) +
                         strlen(ponder_generation_get_answer(remote)),
                     >, 0);
    PonderGenerationStats want, got;
    ponder_generation_get_stats(reference, &want);
    ponder_generation_get_stats(remote, &got);
    g_assert_cmpuint(got.prompt_tokens, ==, want.prompt_tokens);
    g_assert_cmpuint(got.completion_tokens, ==, want.completion_tokens);
    g_assert_cmpuint(ponder_engine_get_running(engine), ==, 0);
}

static void test_raw_completion_matches_local_engine(void)
{
    g_autoptr(PonderEngine) local = local_engine();
    g_autoptr(PonderGeneration) reference = ponder_generation_new_raw("Once upon a time");
    ponder_generation_set_sampling(reference, greedy());
    ponder_generation_set_max_tokens(reference, 12);
    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_engine_submit(local, reference, &error));
    wait_finished(reference);

    g_autoptr(PonderRemoteProvider) provider =
        ponder_remote_provider_new(server_url, API_KEY, &error);
    g_autoptr(PonderEngine) engine = remote_engine(provider, model_slug);
    g_autoptr(PonderGeneration) remote = ponder_generation_new_raw("Once upon a time");
    ponder_generation_set_sampling(remote, greedy());
    ponder_generation_set_max_tokens(remote, 12);
    g_assert_true(ponder_engine_submit(engine, remote, &error));
    wait_finished(remote);
    g_assert_no_error(ponder_generation_get_error(remote));
    g_assert_cmpstr(ponder_generation_get_answer(remote), ==,
                    ponder_generation_get_answer(reference));
    g_assert_cmpstr(ponder_generation_get_reasoning(remote), ==, "");
}

// A reply through a remote model is stored as the window stores any answer.
static void test_reply_saved_in_history(void)
{
    g_autoptr(PonderEngine) local = local_engine();
    g_autoptr(PonderGeneration) reference = chat_generation("Name a colour.", MAX_TOKENS);
    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_engine_submit(local, reference, &error));
    wait_finished(reference);

    g_autofree char *db = g_build_filename(tmp_dir, "history.db", NULL);
    g_autoptr(PonderStore) store = ponder_store_new(db, &error);
    g_assert_no_error(error);
    gint64 conversation = ponder_store_create_conversation(store, "Colours", &error);
    g_autoptr(PonderRemoteProvider) provider =
        ponder_remote_provider_new(server_url, API_KEY, &error);
    g_autoptr(PonderEngine) engine = remote_engine(provider, model_slug);
    PonderReplyOptions options = {.model_name = model_slug,
                                  .max_tokens = MAX_TOKENS,
                                  .save_interval_ms = 20,
                                  .sampling = greedy()};
    g_autoptr(PonderReply) reply =
        ponder_reply_send(store, engine, conversation, 0, "Name a colour.", &options, &error);
    g_assert_no_error(error);
    while (!ponder_reply_is_saved(reply))
        g_main_context_iteration(NULL, TRUE);

    g_autoptr(PonderMessage) answer =
        ponder_store_get_message(store, ponder_reply_get_answer_id(reply), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(answer->content, ==, ponder_generation_get_answer(reference));
    const char *want_reasoning = ponder_generation_get_reasoning(reference);
    g_assert_cmpstr(answer->reasoning ? answer->reasoning : "", ==, want_reasoning);
    g_assert_cmpstr(answer->model, ==, model_slug);
    g_assert_cmpint(answer->finish, ==, ponder_generation_get_finish_reason(reference));
    g_autoptr(PonderMessage) question =
        ponder_store_get_message(store, ponder_reply_get_user_message_id(reply), &error);
    g_assert_cmpstr(question->content, ==, "Name a colour.");

    // Continuing a cut answer needs the local engine; a remote model says so at once.
    if (answer->finish == PONDER_FINISH_LENGTH) {
        g_autoptr(GError) continue_error = NULL;
        g_autoptr(PonderReply) more =
            ponder_reply_continue(store, engine, answer->id, &options, &continue_error);
        g_assert_null(more);
        g_assert_error(continue_error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_INVALID);
        g_assert_nonnull(strstr(continue_error->message, "local models only"));
    }
}

// Cancelling closes the connection: the generation ends at once, and the server frees its slot.
static void test_cancel_mid_stream(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderRemoteProvider) provider =
        ponder_remote_provider_new(server_url, API_KEY, &error);
    g_autoptr(PonderEngine) engine = remote_engine(provider, model_slug);
    g_autoptr(PonderGeneration) g = chat_generation("Tell me everything.", 100000);
    SamplerParams wander = *greedy();
    wander.temperature = 1.0f; // an end-of-sentence token is then about one in the vocabulary
    ponder_generation_set_sampling(g, &wander);
    g_assert_true(ponder_engine_submit(engine, g, &error));
    while (!*ponder_generation_get_reasoning(g) && !*ponder_generation_get_answer(g) &&
           !ponder_generation_is_finished(g))
        g_main_context_iteration(NULL, TRUE);
    g_assert_false(ponder_generation_is_finished(g));
    gint64 cancelled_at = g_get_monotonic_time();
    ponder_generation_cancel(g);
    wait_finished(g);
    g_assert_cmpint(ponder_generation_get_finish_reason(g), ==, PONDER_FINISH_CANCELLED);
    g_assert_cmpint(g_get_monotonic_time() - cancelled_at, <, 2 * G_USEC_PER_SEC);
    g_assert_cmpuint(ponder_remote_provider_get_running(provider), ==, 0);

    // The server noticed: a new request is answered (its only sequence is free again).
    g_autoptr(PonderGeneration) next = chat_generation("Short one.", 4);
    g_assert_true(ponder_engine_submit(engine, next, &error));
    wait_finished(next);
    g_assert_no_error(ponder_generation_get_error(next));
}

static void test_wrong_key_and_unreachable_server(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderRemoteProvider) wrong =
        ponder_remote_provider_new(server_url, "not-the-key", &error);
    g_assert_false(refresh(wrong, &error));
    g_assert_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BACKEND);
    g_assert_nonnull(strstr(error->message, "refused the API key (HTTP 401)"));
    g_clear_error(&error);
    g_autoptr(PonderRemoteProvider) keyless = ponder_remote_provider_new(server_url, NULL, &error);
    g_assert_false(refresh(keyless, &error));
    g_assert_nonnull(strstr(error->message, "asks for an API key (HTTP 401)"));
    g_clear_error(&error);

    g_autoptr(PonderEngine) engine = remote_engine(wrong, model_slug);
    g_autoptr(PonderGeneration) g = chat_generation("Hello?", 4);
    g_assert_true(ponder_engine_submit(engine, g, &error));
    wait_finished(g);
    g_assert_cmpint(ponder_generation_get_finish_reason(g), ==, PONDER_FINISH_ERROR);
    g_assert_nonnull(strstr(ponder_generation_get_error(g)->message, "HTTP 401"));

    // Nothing listens on a fresh port.
    g_autofree char *nowhere = g_strdup_printf("http://127.0.0.1:%u/v1", app_test_free_port());
    g_autoptr(PonderRemoteProvider) gone = ponder_remote_provider_new(nowhere, NULL, &error);
    g_autoptr(PonderEngine) engine2 = remote_engine(gone, "any");
    g_autoptr(PonderGeneration) g2 = chat_generation("Hello?", 4);
    g_assert_true(ponder_engine_submit(engine2, g2, &error));
    wait_finished(g2);
    g_assert_cmpint(ponder_generation_get_finish_reason(g2), ==, PONDER_FINISH_ERROR);
    g_assert_true(g_str_has_prefix(ponder_generation_get_error(g2)->message,
                                   "Could not reach the remote server at"));
    g_assert_nonnull(strstr(ponder_generation_get_error(g2)->message, nowhere));
}

static void test_bad_urls(void)
{
    const char *bad[] = {"",        "gpu-box:8000", "ftp://host/v1",
                         "http://", "not a url",    "http://user:secret@gpu-box:8000/v1"};
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PonderRemoteProvider) p = ponder_remote_provider_new(bad[i], NULL, &error);
        g_assert_null(p);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        g_assert_true(strstr(error->message, "http://") || strstr(error->message, "API key"));
        g_assert_null(strstr(error->message, "secret"));
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderRemoteProvider) p =
        ponder_remote_provider_new(" https://h.example/api/v1/ ", NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(ponder_remote_provider_get_base_url(p), ==, "https://h.example/api/v1");
}

// ---- what other servers send
// ----------------------------------------------------------------------

// The scripted server answers /v1/chat/completions with the current case's status and body.
// A case with REFUSE_MAX_TOKENS first answers a request carrying max_tokens with vLLM's 400.
typedef struct {
    const char *name;
    const char *model; // NULL: "scripted-model"
    guint status;
    const char *body;
    const char *reasoning, *answer;
    PonderFinishReason finish;
    const char *error; // a part of the error message
    gboolean refuse_max_tokens;
    // Requests the server sees: a 400 about the context while max_tokens was sent is asked
    // once more without it.
    guint n_requests;
} Case;

typedef struct {
    const Case *current;
    char *request; // the last request body, for checks
    guint requests;
} Script;

static void scripted(SoupServer *s, SoupServerMessage *msg, const char *path, GHashTable *query,
                     gpointer data)
{
    Script *script = data;
    const Case *c = script->current;
    SoupMessageBody *request = soup_server_message_get_request_body(msg);
    g_free(script->request);
    script->request = g_strndup(request->data, request->length);
    script->requests++;
    static const char refusal[] =
        "{\"object\":\"error\",\"message\":\"This model's maximum context length is 8192 tokens. "
        "However, you requested 16400 tokens (16 in the messages, 16384 in the completion).\","
        "\"type\":\"BadRequestError\",\"code\":400}";
    gboolean refuse = c->refuse_max_tokens && strstr(script->request, "\"max_tokens\"");
    guint status = refuse ? 400 : c->status;
    const char *body = refuse ? refusal : c->body;
    soup_server_message_set_status(msg, status, NULL);
    soup_server_message_set_response(msg, status == 200 ? "text/event-stream" : "application/json",
                                     SOUP_MEMORY_STATIC, body, strlen(body));
}

// Runs case C against the scripted server behind PROVIDER: what the generation ends with, and
// what was sent.
static void check_case(PonderRemoteProvider *provider, Script *script, const Case *c)
{
    g_autoptr(GError) error = NULL;
    g_test_message("case: %s", c->name);
    script->current = c;
    script->requests = 0;
    const char *model = c->model ? c->model : "scripted-model";
    g_autoptr(PonderEngine) engine = remote_engine(provider, model);
    g_autoptr(PonderGeneration) g = chat_generation("Colour?", 7);
    const char *stop[] = {"STOP", NULL};
    ponder_generation_set_stop(g, stop);
    g_assert_true(ponder_engine_submit(engine, g, &error));
    wait_finished(g);
    g_assert_cmpstr(ponder_generation_get_reasoning(g), ==, c->reasoning);
    g_assert_cmpstr(ponder_generation_get_answer(g), ==, c->answer);
    g_assert_cmpint(ponder_generation_get_finish_reason(g), ==, c->finish);
    const GError *e = ponder_generation_get_error(g);
    if (c->error) {
        g_assert_nonnull(e);
        g_assert_nonnull(strstr(e->message, c->error));
    } else {
        g_assert_null(e);
    }
    PonderGenerationStats stats;
    ponder_generation_get_stats(g, &stats);
    g_assert_cmpuint(stats.prompt_tokens, <, 1000); // never a wrapped-around count

    // What was sent: the model, the messages, the limits, streaming with usage.
    g_assert_cmpuint(script->requests, ==, c->n_requests);
    g_autoptr(JsonNode) sent = json_from_string(script->request, &error);
    g_assert_no_error(error);
    JsonObject *o = json_node_get_object(sent);
    g_assert_cmpstr(json_object_get_string_member(o, "model"), ==, model);
    g_assert_true(json_object_get_boolean_member(o, "stream"));
    g_assert_true(json_object_get_boolean_member(json_object_get_object_member(o, "stream_options"),
                                                 "include_usage"));
    if (c->n_requests == 2)
        g_assert_false(json_object_has_member(o, "max_tokens"));
    else
        g_assert_cmpint(json_object_get_int_member(o, "max_tokens"), ==, 7);
    g_assert_cmpfloat(json_object_get_double_member(o, "temperature"), ==, 0.0);
    JsonArray *messages = json_object_get_array_member(o, "messages");
    g_assert_cmpuint(json_array_get_length(messages), ==, 1);
    JsonObject *m = json_array_get_object_element(messages, 0);
    g_assert_cmpstr(json_object_get_string_member(m, "role"), ==, "user");
    g_assert_cmpstr(json_object_get_string_member(m, "content"), ==, "Colour?");
    JsonArray *stops = json_object_get_array_member(o, "stop");
    g_assert_cmpstr(json_array_get_string_element(stops, 0), ==, "STOP");
}

static SoupServer *start_scripted(Script *script, PonderRemoteProvider **provider)
{
    SoupServer *soup_server = soup_server_new(NULL, NULL);
    soup_server_add_handler(soup_server, "/v1/chat/completions", scripted, script, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(soup_server_listen_local(soup_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
    GSList *uris = soup_server_get_uris(soup_server);
    g_autofree char *root = g_uri_to_string(uris->data);
    g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
    *provider = ponder_remote_provider_new(root, "k", &error);
    g_assert_no_error(error);
    return soup_server;
}

static void test_other_servers(void)
{
    static const Case cases[] = {
        {"inline think tags (no reasoning parser)", NULL, 200,
         "data: {\"choices\":[{\"delta\":{\"content\":\"<thi\"}}]}\n\n"
         "data: {\"choices\":[{\"delta\":{\"content\":\"nk>Let me see.</th\"}}]}\n\n"
         "data: "
         "{\"choices\":[{\"delta\":{\"content\":\"ink>Blue.\"},\"finish_reason\":\"stop\"}]}\n\n"
         "data: [DONE]\n\n",
         "Let me see.", "Blue.", PONDER_FINISH_STOP, NULL, FALSE, 1},
        {"R1's newer template: no opening tag", "deepseek-r1-distill-qwen-32b", 200,
         "data: {\"choices\":[{\"delta\":{\"content\":\"Let me see.\"},\"error\":null}]}\n\n"
         "data: "
         "{\"choices\":[{\"delta\":{\"content\":\"</"
         "think>\\n\\nBlue.\"},\"finish_reason\":\"stop\"}]}\n\n"
         "data: [DONE]\n\n",
         "Let me see.", "\n\nBlue.", PONDER_FINISH_STOP, NULL, FALSE, 1},
        {"Ollama's reasoning field, CRLF lines, odd types, negative usage", NULL, 200,
         "data: {\"choices\":[{\"delta\":{\"reasoning\":\"Hmm.\"}}]}\r\n\r\n"
         "data: "
         "{\"choices\":[{\"delta\":{\"content\":[\"x\"]}}],\"usage\":{\"prompt_tokens\":{}}}"
         "\r\n\r\n"
         "data: {\"choices\":[{\"delta\":{\"content\":\"Red\"}}],\"error\":null}\r\n\r\n"
         ": a comment line\r\n"
         "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}],"
         "\"usage\":{\"prompt_tokens\":-3,\"completion_tokens\":2}}\r\n\r\n"
         "data: [DONE]\r\n\r\n",
         "Hmm.", "Red", PONDER_FINISH_LENGTH, NULL, FALSE, 1},
        {"plain content, not a reasoning model", NULL, 200,
         "data: {\"choices\":[{\"delta\":{\"content\":\"  Hi <b>\"}}]}\n\n"
         "data: {\"choices\":[{\"delta\":{\"content\":\" there\"},\"finish_reason\":\"stop\"}]}\n\n"
         "data: [DONE]\n\n",
         "", "  Hi <b> there", PONDER_FINISH_STOP, NULL, FALSE, 1},
        {"a server that ignored stream: one completion", NULL, 200,
         "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"reasoning_content\":\"Think.\","
         "\"content\":\"Green.\"},\"finish_reason\":\"stop\"}]}\n",
         "Think.", "Green.", PONDER_FINISH_STOP, NULL, FALSE, 1},
        {"an error sent with 200", NULL, 200, "{\"error\":{\"message\":\"quota exhausted\"}}\n", "",
         "", PONDER_FINISH_ERROR, "quota exhausted", FALSE, 1},
        {"an error inside the stream", NULL, 200,
         "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"Thinking\"}}]}\n\n"
         "data: {\"error\":{\"message\":\"CUDA out of memory\",\"type\":\"server_error\"}}\n\n",
         "Thinking", "", PONDER_FINISH_ERROR,
         "failed in the middle of the answer: CUDA out of memory", FALSE, 1},
        {"cut off without finish_reason", NULL, 200,
         "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"Half\"}}]}\n\n", "Half", "",
         PONDER_FINISH_ERROR, "closed the connection in the middle of the answer", FALSE, 1},
        {"max_tokens beyond vLLM's context: asked again without it", NULL, 200,
         "data: {\"choices\":[{\"delta\":{\"content\":\"Fits.\"},\"finish_reason\":\"stop\"}]}\n\n"
         "data: [DONE]\n\n",
         "", "Fits.", PONDER_FINISH_STOP, NULL, TRUE, 2},
        {"HTTP 404 with an OpenAI error", NULL, 404,
         "{\"error\":{\"message\":\"The model `x` does not exist.\",\"code\":\"model_not_found\"}}",
         "", "", PONDER_FINISH_ERROR, "answered HTTP 404 Not Found: The model `x` does not exist.",
         FALSE, 1},
        {"HTTP 400 context too long (vLLM)", NULL, 400,
         "{\"object\":\"error\",\"message\":\"This model's maximum context length is 4096 "
         "tokens.\","
         "\"code\":\"context_length_exceeded\"}",
         "", "", PONDER_FINISH_ERROR, "maximum context length is 4096", FALSE, 2},
        {"HTTP 502 from a proxy, not UTF-8", NULL, 502,
         "\xe9"
         "chec du proxy\n",
         "", "", PONDER_FINISH_ERROR,
         "answered HTTP 502 Bad Gateway: \xef\xbf\xbd"
         "chec du proxy",
         FALSE, 1},
        {"HTTP 500 with a plain body", NULL, 500, "upstream exploded\n", "", "",
         PONDER_FINISH_ERROR, "answered HTTP 500 Internal Server Error: upstream exploded", FALSE,
         1},
    };
    Script script = {0};
    g_autoptr(PonderRemoteProvider) provider = NULL;
    g_autoptr(SoupServer) soup_server = start_scripted(&script, &provider);
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
        check_case(provider, &script, &cases[i]);

    // A generation without a length limit leaves it to the server.
    script.current = &cases[3];
    g_autoptr(PonderEngine) engine = remote_engine(provider, "scripted-model");
    ChatMessage question[] = {{CHAT_ROLE_USER, "Unlimited?"}};
    g_autoptr(PonderGeneration) g = ponder_generation_new_chat(question, 1, NULL);
    g_assert_true(ponder_engine_submit(engine, g, &error));
    wait_finished(g);
    g_autoptr(JsonNode) sent = json_from_string(script.request, &error);
    g_assert_false(json_object_has_member(json_node_get_object(sent), "max_tokens"));
    g_free(script.request);
}

// JSON nested past the guard's limit, in every place a server's JSON is read: a stream
// chunk, a completion that did not stream, an error body, the model list. Each ends in an
// error that says so (json-glib alone would recurse 100,000 levels deep and crash).
static void test_nested_json_from_server(void)
{
    g_autofree char *brackets = g_strnfill(100000, '[');
    g_autofree char *objects = g_strnfill(5 * 100000, ' ');
    for (guint i = 0; i < 100000; i++)
        memcpy(objects + 5 * i, "{\"a\":", 5);
    g_autofree char *stream_chunk =
        g_strdup_printf("data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"Thinking\"}}]}\n\n"
                        "data: %s\n\n"
                        "data: {\"choices\":[{\"delta\":{\"content\":\"never read\"}}]}\n\n"
                        "data: [DONE]\n\n",
                        brackets);
    g_autofree char *unstreamed = g_strdup_printf("{\"choices\":%s\n", objects);
    g_autofree char *error_body = g_strdup_printf("{\"error\":%s", brackets);
    const char *too_deep = "sent JSON nested deeper than 512 levels";
    const Case cases[] = {
        {"a stream chunk nested 100,000 deep", NULL, 200, stream_chunk, "Thinking", "",
         PONDER_FINISH_ERROR, too_deep, FALSE, 1},
        {"a completion that did not stream, nested 100,000 deep", NULL, 200, unstreamed, "", "",
         PONDER_FINISH_ERROR, too_deep, FALSE, 1},
        {"an HTTP 500 whose error is nested 100,000 deep", NULL, 500, error_body, "", "",
         PONDER_FINISH_ERROR, "its error was JSON nested deeper than 512 levels", FALSE, 1},
    };
    Script script = {0};
    g_autoptr(PonderRemoteProvider) provider = NULL;
    g_autoptr(SoupServer) soup_server = start_scripted(&script, &provider);
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
        check_case(provider, &script, &cases[i]);

    // The model list.
    const Case models = {
        .name = "a model list nested 100,000 deep", .status = 200, .body = unstreamed};
    script.current = &models;
    soup_server_add_handler(soup_server, "/v1/models", scripted, &script, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_false(refresh(provider, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, too_deep));
    g_free(script.request);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ponder_exe = argc > 1 ? argv[1] : NULL;
    tmp_dir = g_dir_make_tmp("ponder-remote-XXXXXX", NULL);
    // In the server's own models folder, where its library finds it.
    g_autofree char *models_dir =
        g_build_filename(tmp_dir, "server-home", "data", "ponder", "models", NULL);
    g_mkdir_with_parents(models_dir, 0700);
    model_path = app_test_make_tiny_model(models_dir, 7);

    g_test_add_func("/remote/bad-urls", test_bad_urls);
    g_test_add_func("/remote/other-servers", test_other_servers);
    g_test_add_func("/remote/nested-json-from-server", test_nested_json_from_server);
    if (!model_path || !ponder_exe) {
        g_test_message("skipped the served-model tests: %s",
                       !model_path ? "no R1 tokenizer in ../shared" : "no ponder executable given");
    } else {
        g_autoptr(PonderModelEntry) entry = ponder_model_entry_new_from_file(
            model_path, PONDER_MODEL_SOURCE_FOLDER, NULL, NULL, NULL);
        model_slug = g_strdup(ponder_model_entry_get_slug(entry));
        start_server();
        g_test_add_func("/remote/models-listed", test_models_listed);
        g_test_add_func("/remote/chat-matches-local-engine", test_chat_matches_local_engine);
        g_test_add_func("/remote/raw-completion-matches-local-engine",
                        test_raw_completion_matches_local_engine);
        g_test_add_func("/remote/reply-saved-in-history", test_reply_saved_in_history);
        g_test_add_func("/remote/cancel-mid-stream", test_cancel_mid_stream);
        g_test_add_func("/remote/wrong-key-and-unreachable-server",
                        test_wrong_key_and_unreachable_server);
    }
    int status = g_test_run();
    if (server) {
        g_subprocess_send_signal(server, SIGTERM);
        g_subprocess_wait(server, NULL, NULL);
    }
    app_test_remove_tree(tmp_dir);
    return status;
}
