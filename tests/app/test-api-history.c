// The local API's history (save_history) end to end: a PonderCore as the app has one (its
// store, library and engine, on a tiny synthetic model on the CPU), a server on a free
// loopback port, real HTTP requests from libsoup in both dialects, streaming and not, and
// the store read back through PonderStore's public API.
//
// References: each saved question is what the request sent; each saved answer is what the
// HTTP response carried (its text, reasoning, finish reason and token counts); titles are
// written out by hand.
#include <locale.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sqlite3.h>

#include "app-test-engine.h"
#include "app-test-util.h"
#include "ponder-api-server.h"
#include "ponder-application.h"
#include "ponder-core.h"

#define N_CTX 1024

static char *tmp_dir;
static PonderCore *core;
static PonderStore *store; // the core's
static PonderApiServer *server;
static SoupSession *session;
static const char *slug;
static char *base_url;

// ---- HTTP from the test ----------------------------------------------------------------------

static void on_done(GObject *source, GAsyncResult *result, gpointer data)
{
    *(GAsyncResult **)data = g_object_ref(result);
}

// Runs the main context (and so the server) until the call that was given on_done and
// *RESULT as its callback is done; returns its result (owned).
static GAsyncResult *wait_for(GAsyncResult **result)
{
    while (!*result)
        g_main_context_iteration(NULL, TRUE);
    return *result;
}

// A POST of BODY (JSON) to URI.
static SoupMessage *json_post(const char *uri, const char *body)
{
    SoupMessage *msg = soup_message_new("POST", uri);
    g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
    return msg;
}

// POSTs BODY to PATH of the server at URL and returns the response body; asserts a 200.
static char *post_to(const char *url, const char *path, const char *body)
{
    g_autofree char *uri = g_strconcat(url, path, NULL);
    g_autoptr(SoupMessage) msg = json_post(uri, body);
    g_autoptr(GAsyncResult) result = NULL;
    soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL, on_done, &result);
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) bytes = soup_session_send_and_read_finish(session, wait_for(&result), &error);
    g_assert_no_error(error);
    char *text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
    if (soup_message_get_status(msg) != SOUP_STATUS_OK)
        g_error("%s answered %u: %s", path, soup_message_get_status(msg), text);
    return text;
}

static char *post(const char *path, const char *body)
{
    return post_to(base_url, path, body);
}

static JsonObject *parse_object(const char *text, JsonNode **node)
{
    g_autoptr(GError) error = NULL;
    *node = json_from_string(text, &error);
    g_assert_no_error(error);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(*node));
    return json_node_get_object(*node);
}

// ---- what a client saw -------------------------------------------------------------------------

typedef struct {
    GString *content, *reasoning;
    char *finish;
    gint64 prompt_tokens, completion_tokens;
} Answer;

static void answer_init(Answer *a)
{
    a->content = g_string_new(NULL);
    a->reasoning = g_string_new(NULL);
    a->finish = NULL;
    a->prompt_tokens = a->completion_tokens = -1;
}

static void answer_clear(Answer *a)
{
    if (a->content)
        g_string_free(a->content, TRUE);
    if (a->reasoning)
        g_string_free(a->reasoning, TRUE);
    g_free(a->finish);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Answer, answer_clear)

static const char *string_or(JsonObject *object, const char *name, const char *fallback)
{
    JsonNode *node = object ? json_object_get_member(object, name) : NULL;
    return node && JSON_NODE_HOLDS_VALUE(node) ? json_node_get_string(node) : fallback;
}

static void set_finish(Answer *a, const char *finish)
{
    g_assert_nonnull(finish);
    g_assert_null(a->finish); // once per answer
    a->finish = g_strdup(finish);
}

// One OpenAI chat.completion or chat.completion.chunk.
static void add_openai(Answer *a, JsonObject *root, gboolean chunk)
{
    JsonArray *choices = json_object_get_array_member(root, "choices");
    if (json_array_get_length(choices) > 0) {
        JsonObject *choice = json_array_get_object_element(choices, 0);
        JsonObject *message = json_object_get_object_member(choice, chunk ? "delta" : "message");
        g_string_append(a->content, string_or(message, "content", ""));
        g_string_append(a->reasoning, string_or(message, "reasoning_content", ""));
        if (!json_object_get_null_member(choice, "finish_reason"))
            set_finish(a, json_object_get_string_member(choice, "finish_reason"));
    }
    JsonNode *usage = json_object_get_member(root, "usage");
    if (usage && JSON_NODE_HOLDS_OBJECT(usage)) {
        JsonObject *u = json_node_get_object(usage);
        a->prompt_tokens = json_object_get_int_member(u, "prompt_tokens");
        a->completion_tokens = json_object_get_int_member(u, "completion_tokens");
    }
}

// The complete events of an SSE text, up to "[DONE]" when it came.
static void read_sse(const char *text, Answer *a, gboolean *done)
{
    g_auto(GStrv) blocks = g_strsplit(text, "\n\n", -1);
    guint n = g_strv_length(blocks);
    *done = FALSE;
    for (guint i = 0; i + 1 < n; i++) { // the last block is not complete yet (or empty)
        g_assert_true(g_str_has_prefix(blocks[i], "data: "));
        if (g_str_equal(blocks[i], "data: [DONE]")) {
            *done = TRUE;
            break;
        }
        g_autoptr(JsonNode) node = NULL;
        add_openai(a, parse_object(blocks[i] + 6, &node), TRUE);
    }
}

// One Ollama /api/chat object (a line, or the whole answer).
static void add_ollama(Answer *a, JsonObject *root)
{
    JsonObject *message = json_object_get_object_member(root, "message");
    g_string_append(a->content, string_or(message, "content", ""));
    g_string_append(a->reasoning, string_or(message, "thinking", ""));
    if (json_object_get_boolean_member(root, "done")) {
        set_finish(a, json_object_get_string_member(root, "done_reason"));
        a->prompt_tokens = json_object_get_int_member(root, "prompt_eval_count");
        a->completion_tokens = json_object_get_int_member(root, "eval_count");
    }
}

typedef struct {
    const char *role, *content;
} Turn;

static char *messages_json(const Turn *turns, gsize n)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (gsize i = 0; i < n; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "role");
        json_builder_add_string_value(b, turns[i].role);
        json_builder_set_member_name(b, "content");
        json_builder_add_string_value(b, turns[i].content);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    return json_to_string(root, FALSE);
}

typedef enum { OPENAI, OLLAMA } Dialect;

static char *chat_body(Dialect dialect, gboolean stream, const Turn *turns, gsize n,
                       guint max_tokens)
{
    g_autofree char *messages = messages_json(turns, n);
    if (dialect == OPENAI)
        return g_strdup_printf("{\"model\":\"%s\",\"messages\":%s,\"temperature\":0,"
                               "\"max_tokens\":%u,\"stream\":%s%s}",
                               slug, messages, max_tokens, stream ? "true" : "false",
                               stream ? ",\"stream_options\":{\"include_usage\":true}" : "");
    return g_strdup_printf("{\"model\":\"%s\",\"messages\":%s,\"stream\":%s,\"think\":true,"
                           "\"options\":{\"temperature\":0,\"num_predict\":%u}}",
                           slug, messages, stream ? "true" : "false", max_tokens);
}

// Sends TURNS as a chat to the server at URL; OUT is the answer as the client read it.
static void chat_at(const char *url, Dialect dialect, gboolean stream, const Turn *turns, gsize n,
                    Answer *out)
{
    answer_init(out);
    g_autofree char *body = chat_body(dialect, stream, turns, n, 24);
    g_autofree char *text =
        post_to(url, dialect == OPENAI ? "/v1/chat/completions" : "/api/chat", body);
    if (dialect == OPENAI && stream) {
        gboolean done = FALSE;
        read_sse(text, out, &done);
        g_assert_true(done);
    } else if (dialect == OPENAI) {
        g_autoptr(JsonNode) node = NULL;
        add_openai(out, parse_object(text, &node), FALSE);
    } else {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        guint n_lines = 0;
        for (guint i = 0; lines[i]; i++) {
            if (!*lines[i])
                continue;
            g_autoptr(JsonNode) node = NULL;
            add_ollama(out, parse_object(lines[i], &node));
            n_lines++;
        }
        if (stream)
            g_assert_cmpuint(n_lines, >=, 2);
        else
            g_assert_cmpuint(n_lines, ==, 1);
    }
    g_assert_nonnull(out->finish);
    g_assert_cmpint(out->prompt_tokens, >, 0);
    g_assert_cmpint(out->completion_tokens, >, 0);
}

static void chat(Dialect dialect, gboolean stream, const Turn *turns, gsize n, Answer *out)
{
    chat_at(base_url, dialect, stream, turns, n, out);
}

// ---- what the store holds ----------------------------------------------------------------------

// The conversations in the history, most recently active first.
static GPtrArray *conversations(void)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *list = ponder_store_list_conversations(store, &error);
    g_assert_no_error(error);
    return list;
}

static guint n_conversations(void)
{
    g_autoptr(GPtrArray) list = conversations();
    return list->len;
}

static PonderConversation *newest_conversation(void)
{
    g_autoptr(GPtrArray) list = conversations();
    g_assert_cmpuint(list->len, >, 0);
    return g_ptr_array_steal_index(list, 0);
}

// The messages the window shows for CONVERSATION_ID (its selected branch), in order.
static GPtrArray *shown_path(gint64 conversation_id)
{
    g_autoptr(GError) error = NULL;
    gint64 leaf = ponder_store_get_selected_leaf(store, conversation_id, &error);
    g_assert_no_error(error);
    g_assert_cmpint(leaf, >, 0);
    GPtrArray *path = ponder_store_get_path_to_leaf(store, leaf, &error);
    g_assert_no_error(error);
    return path;
}

static PonderMessage *path_message(GPtrArray *path, guint i)
{
    g_assert_cmpuint(i, <, path->len);
    return path->pdata[i];
}

static void assert_message(PonderMessage *m, PonderMessageRole role, const char *content)
{
    g_assert_cmpint(m->role, ==, role);
    g_assert_cmpstr(m->content, ==, content);
    g_assert_cmpint(m->finish, ==, PONDER_FINISH_STOP);
}

// The stored answer M is the one the client read (A).
static void assert_saved_answer(PonderMessage *m, const Answer *a)
{
    g_assert_cmpint(m->role, ==, PONDER_MESSAGE_ROLE_ASSISTANT);
    g_assert_cmpstr(m->content, ==, a->content->str);
    g_assert_cmpstr(m->reasoning, ==, a->reasoning->len ? a->reasoning->str : NULL);
    g_assert_cmpstr(m->model, ==, slug);
    g_assert_cmpstr(ponder_finish_reason_to_string(m->finish), ==, a->finish);
    g_assert_cmpint(m->prompt_tokens, ==, a->prompt_tokens);
    g_assert_cmpint(m->completion_tokens, ==, a->completion_tokens);
    g_assert_null(m->error);
    // The request's sampling, as sent (temperature 0, 24 tokens at most).
    g_autoptr(JsonNode) node = NULL;
    JsonObject *sampling = parse_object(m->sampling_json, &node);
    g_assert_cmpfloat(json_object_get_double_member(sampling, "temperature"), ==, 0);
    g_assert_cmpint(json_object_get_int_member(sampling, "max_tokens"), ==, 24);
}

static void set_saving(gboolean on)
{
    ponder_api_server_set_save_history(server, on);
    g_assert_true(ponder_api_server_get_save_history(server) == on);
}

// ---- off ---------------------------------------------------------------------------------------

static const Turn sky[] = {
    {"system", "You are terse."},
    {"user", "Why is the sky blue?"},
};

// Off (the default, with a store at hand): nothing of any request reaches the store.
static void test_off(void)
{
    PonderApiServerOptions options = {.port = PONDER_API_PORT_ANY, .history_store = store};
    g_autoptr(PonderApiServer) fresh = ponder_api_server_new(
        ponder_core_get_engine(core), ponder_core_get_library(core), &options);
    g_assert_false(ponder_api_server_get_save_history(fresh));
    g_assert_true(ponder_api_server_start(fresh, NULL));
    g_autofree char *url =
        g_strdup_printf("http://127.0.0.1:%u", ponder_api_server_get_port(fresh));
    for (int dialect = OPENAI; dialect <= OLLAMA; dialect++)
        for (int stream = 0; stream < 2; stream++) {
            g_auto(Answer) a = {0};
            chat_at(url, dialect, stream, sky, G_N_ELEMENTS(sky), &a);
        }
    g_assert_cmpuint(n_conversations(), ==, 0);

    // The shared server, switched off after being on, keeps nothing either.
    set_saving(TRUE);
    set_saving(FALSE);
    g_auto(Answer) a = {0};
    chat(OLLAMA, TRUE, sky, G_N_ELEMENTS(sky), &a);
    g_assert_cmpuint(n_conversations(), ==, 0);
}

// ---- one request, each dialect ------------------------------------------------------------------

static void assert_one_turn(gint64 conversation_id, const char *system_prompt, const char *question,
                            const Answer *a)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderConversation) c = ponder_store_get_conversation(store, conversation_id, &error);
    g_assert_no_error(error);
    g_assert_true(c->from_api);
    g_assert_cmpstr(c->system_prompt, ==, system_prompt);
    g_autoptr(GPtrArray) path = shown_path(conversation_id);
    g_assert_cmpuint(path->len, ==, 2);
    assert_message(path_message(path, 0), PONDER_MESSAGE_ROLE_USER, question);
    assert_saved_answer(path_message(path, 1), a);
}

static void on_exchange_saved(PonderStore *s, gint64 conversation_id, gint64 *last)
{
    *last = conversation_id;
}

static void test_dialect(gconstpointer data)
{
    Dialect dialect = GPOINTER_TO_INT(data);
    set_saving(TRUE);
    guint before = n_conversations();
    // The window's sidebar refreshes on this signal.
    gint64 announced = 0;
    gulong handler =
        g_signal_connect(store, "api-exchange-saved", G_CALLBACK(on_exchange_saved), &announced);

    g_auto(Answer) plain = {0};
    chat(dialect, FALSE, sky, G_N_ELEMENTS(sky), &plain);
    g_assert_cmpuint(n_conversations(), ==, before + 1);
    g_autoptr(PonderConversation) first = newest_conversation();
    g_assert_cmpstr(first->title, ==, "Why is the sky blue?");
    assert_one_turn(first->id, "You are terse.", "Why is the sky blue?", &plain);
    g_assert_cmpint(announced, ==, first->id);

    // Streamed, with a first line too long for a title: a conversation of its own.
    const Turn rainbow[] = {
        {"user", "Explain how the rainbow forms after a summer storm in the hills\nStep by step."},
    };
    g_auto(Answer) streamed = {0};
    chat(dialect, TRUE, rainbow, 1, &streamed);
    g_assert_cmpuint(n_conversations(), ==, before + 2);
    g_autoptr(PonderConversation) second = newest_conversation();
    g_assert_cmpint(second->id, !=, first->id);
    g_assert_cmpstr(second->title, ==, "Explain how the rainbow forms after a…");
    assert_one_turn(second->id, NULL, rainbow[0].content, &streamed);
    g_assert_cmpint(announced, ==, second->id);
    g_signal_handler_disconnect(store, handler);
    set_saving(FALSE);
}

// The first system message is the conversation's system prompt; one sent after the last
// question is kept before it, so that the answer sits under its question.
static void test_system_messages(void)
{
    set_saving(TRUE);
    const Turn turns[] = {
        {"system", "Be brief."},
        {"user", "Which ocean is largest?"},
        {"system", "Answer in French."},
    };
    g_auto(Answer) a = {0};
    chat(OPENAI, FALSE, turns, G_N_ELEMENTS(turns), &a);
    g_autoptr(PonderConversation) c = newest_conversation();
    g_assert_cmpstr(c->system_prompt, ==, "Be brief.");
    g_assert_cmpstr(c->title, ==, "Which ocean is largest?");
    g_autoptr(GPtrArray) path = shown_path(c->id);
    g_assert_cmpuint(path->len, ==, 3);
    assert_message(path_message(path, 0), PONDER_MESSAGE_ROLE_SYSTEM, "Answer in French.");
    assert_message(path_message(path, 1), PONDER_MESSAGE_ROLE_USER, "Which ocean is largest?");
    assert_saved_answer(path_message(path, 2), &a);
    set_saving(FALSE);
}

// Raw completions are no conversations: not saved, in either dialect.
static void test_completions_not_saved(void)
{
    set_saving(TRUE);
    guint before = n_conversations();
    g_autofree char *completion = g_strdup_printf(
        "{\"model\":\"%s\",\"prompt\":\"def fib(n):\",\"max_tokens\":8,\"temperature\":0}", slug);
    g_free(post("/v1/completions", completion));
    g_autofree char *generate = g_strdup_printf(
        "{\"model\":\"%s\",\"prompt\":\"Why?\",\"system\":\"Be brief.\",\"stream\":false,"
        "\"options\":{\"num_predict\":8}}",
        slug);
    g_free(post("/api/generate", generate));
    // An Ollama chat without messages only loads the model.
    g_autofree char *load = g_strdup_printf("{\"model\":\"%s\",\"messages\":[]}", slug);
    g_free(post("/api/chat", load));
    g_assert_cmpuint(n_conversations(), ==, before);
    set_saving(FALSE);
}

// ---- turns of one chat -------------------------------------------------------------------------

static void test_multi_turn(void)
{
    set_saving(TRUE);
    guint before = n_conversations();
    const char *u1 = "Name a prime number.", *u2 = "And a larger one?", *u3 = "Their sum?";

    const Turn turn1[] = {{"user", u1}};
    g_auto(Answer) a1 = {0};
    chat(OPENAI, FALSE, turn1, 1, &a1);
    g_assert_cmpuint(n_conversations(), ==, before + 1);
    g_autoptr(PonderConversation) c = newest_conversation();
    g_autoptr(GPtrArray) path1 = shown_path(c->id);
    gint64 a1_id = path_message(path1, 1)->id;

    // The plugin sends the whole chat again, with the answer it got: the same conversation.
    const Turn turn2[] = {{"user", u1}, {"assistant", a1.content->str}, {"user", u2}};
    g_auto(Answer) a2 = {0};
    chat(OPENAI, TRUE, turn2, 3, &a2);
    g_assert_cmpuint(n_conversations(), ==, before + 1);
    g_autoptr(GPtrArray) path2 = shown_path(c->id);
    g_assert_cmpuint(path2->len, ==, 4);
    g_assert_cmpint(path_message(path2, 1)->id, ==, a1_id);
    assert_message(path_message(path2, 0), PONDER_MESSAGE_ROLE_USER, u1);
    assert_saved_answer(path_message(path2, 1), &a1);
    assert_message(path_message(path2, 2), PONDER_MESSAGE_ROLE_USER, u2);
    assert_saved_answer(path_message(path2, 3), &a2);

    // Another dialect, the answer sent back with its reasoning inline and padded: still it.
    g_autofree char *a2_echo =
        g_strdup_printf("<think>\n%s</think>\n\n%s \n", a2.reasoning->str, a2.content->str);
    const Turn turn3[] = {
        {"user", u1}, {"assistant", a1.content->str}, {"user", u2}, {"assistant", a2_echo},
        {"user", u3},
    };
    g_auto(Answer) a3 = {0};
    chat(OLLAMA, FALSE, turn3, 5, &a3);
    g_assert_cmpuint(n_conversations(), ==, before + 1);
    g_autoptr(GPtrArray) path3 = shown_path(c->id);
    g_assert_cmpuint(path3->len, ==, 6);
    g_assert_cmpint(path_message(path3, 3)->id, ==, path_message(path2, 3)->id);
    assert_message(path_message(path3, 4), PONDER_MESSAGE_ROLE_USER, u3);
    assert_saved_answer(path_message(path3, 5), &a3);

    // The same turn again (a plugin's regenerate): a second branch under the same answer.
    g_auto(Answer) again = {0};
    chat(OPENAI, FALSE, turn2, 3, &again);
    g_assert_cmpuint(n_conversations(), ==, before + 1);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) branches = ponder_store_list_children(store, c->id, a1_id, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(branches->len, ==, 2);
    assert_message(branches->pdata[1], PONDER_MESSAGE_ROLE_USER, u2);
    g_autoptr(GPtrArray) path4 = shown_path(c->id);
    g_assert_cmpuint(path4->len, ==, 4);
    assert_saved_answer(path_message(path4, 3), &again);

    // An earlier answer the server never gave: a new conversation with it as sent...
    const Turn edited[] = {{"user", u1}, {"assistant", "Seven."}, {"user", u2}};
    g_auto(Answer) b2 = {0};
    chat(OLLAMA, TRUE, edited, 3, &b2);
    g_assert_cmpuint(n_conversations(), ==, before + 2);
    g_autoptr(PonderConversation) other = newest_conversation();
    g_assert_cmpint(other->id, !=, c->id);
    g_assert_cmpstr(other->title, ==, u1);
    g_autoptr(GPtrArray) other_path = shown_path(other->id);
    g_assert_cmpuint(other_path->len, ==, 4);
    assert_message(path_message(other_path, 0), PONDER_MESSAGE_ROLE_USER, u1);
    PonderMessage *seven = path_message(other_path, 1);
    assert_message(seven, PONDER_MESSAGE_ROLE_ASSISTANT, "Seven.");
    g_assert_null(seven->model);
    assert_message(path_message(other_path, 2), PONDER_MESSAGE_ROLE_USER, u2);
    assert_saved_answer(path_message(other_path, 3), &b2);

    // ...which the next request that goes back to it continues, as a branch there (however
    // the client pads the text).
    const Turn back[] = {{"user", u1}, {"assistant", "\n Seven.  "}, {"user", u3}};
    g_auto(Answer) b3 = {0};
    chat(OPENAI, FALSE, back, 3, &b3);
    g_assert_cmpuint(n_conversations(), ==, before + 2);
    g_autoptr(GPtrArray) back_branches =
        ponder_store_list_children(store, other->id, seven->id, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(back_branches->len, ==, 2);
    assert_message(back_branches->pdata[1], PONDER_MESSAGE_ROLE_USER, u3);

    // A conversation in the trash is not continued: the turn starts a new one.
    g_assert_true(ponder_store_delete_conversation(store, c->id, &error));
    g_auto(Answer) after_delete = {0};
    chat(OPENAI, FALSE, turn2, 3, &after_delete);
    g_assert_cmpuint(n_conversations(), ==, before + 2); // one gone, one new
    g_autoptr(PonderConversation) fresh = newest_conversation();
    g_assert_cmpint(fresh->id, !=, c->id);
    g_autoptr(GPtrArray) fresh_path = shown_path(fresh->id);
    g_assert_cmpuint(fresh_path->len, ==, 4);
    g_assert_true(ponder_store_restore_conversation(store, c->id, &error));
    set_saving(FALSE);
}

// ---- the client hangs up -----------------------------------------------------------------------

// Starts a streaming OpenAI chat; returns its body stream once the headers are in.
static GInputStream *start_stream(SoupSession *client, const Turn *turns, gsize n, guint max_tokens,
                                  GCancellable *cancellable)
{
    g_autofree char *body = chat_body(OPENAI, TRUE, turns, n, max_tokens);
    g_autofree char *uri = g_strconcat(base_url, "/v1/chat/completions", NULL);
    g_autoptr(SoupMessage) msg = json_post(uri, body);
    g_autoptr(GAsyncResult) result = NULL;
    soup_session_send_async(client, msg, G_PRIORITY_DEFAULT, cancellable, on_done, &result);
    g_autoptr(GError) error = NULL;
    GInputStream *stream = soup_session_send_finish(client, wait_for(&result), &error);
    g_assert_no_error(error);
    g_assert_cmpuint(soup_message_get_status(msg), ==, SOUP_STATUS_OK);
    return stream;
}

// Reads one more piece of STREAM into TEXT; FALSE at its end.
static gboolean read_more(GInputStream *stream, GString *text, GCancellable *cancellable)
{
    char buffer[4096];
    g_autoptr(GAsyncResult) result = NULL;
    g_input_stream_read_async(stream, buffer, sizeof buffer, G_PRIORITY_DEFAULT, cancellable,
                              on_done, &result);
    g_autoptr(GError) error = NULL;
    gssize n = g_input_stream_read_finish(stream, wait_for(&result), &error);
    g_assert_no_error(error);
    g_string_append_len(text, buffer, n);
    return n > 0;
}

static void wait_for_conversations(guint count)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (n_conversations() < count) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(1000);
    }
}

// Until the engine runs nothing and what it finished has reached the main context.
static void wait_engine_idle(void)
{
    PonderEngine *engine = ponder_core_get_engine(core);
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (ponder_engine_get_running(engine) || ponder_engine_get_queue_depth(engine)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    gint64 settle = g_get_monotonic_time() + G_USEC_PER_SEC / 4;
    while (g_get_monotonic_time() < settle)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(1000);
}

static const Turn story[] = {{"user", "Tell me a very long story."}};

// A client that asked for a very long answer (100000 tokens), has read some of it (SEEN),
// and then hangs up.
typedef struct {
    SoupSession *session;
    GCancellable *cancellable;
    GInputStream *stream;
} Listener;

static void listen_for_a_while(Listener *l, Answer *seen)
{
    l->session = soup_session_new();
    l->cancellable = g_cancellable_new();
    l->stream = start_stream(l->session, story, 1, 100000, l->cancellable);
    g_autoptr(GString) text = g_string_new(NULL);
    answer_init(seen);
    gboolean done = FALSE;
    while (seen->reasoning->len + seen->content->len < 40) {
        g_assert_true(read_more(l->stream, text, l->cancellable));
        answer_clear(seen);
        answer_init(seen);
        read_sse(text->str, seen, &done);
        g_assert_false(done); // 100000 tokens take far longer
    }
}

static void hang_up(Listener *l)
{
    g_cancellable_cancel(l->cancellable);
    g_input_stream_close(l->stream, NULL, NULL);
    soup_session_abort(l->session);
    g_clear_object(&l->stream);
    g_clear_object(&l->cancellable);
    g_clear_object(&l->session);
}

// A client that hangs up mid-answer: the part it got (and what the engine wrote before it
// noticed) is saved, marked cancelled, as the window keeps a stopped answer.
static void test_cancelled(void)
{
    set_saving(TRUE);
    guint before = n_conversations();
    Listener listener = {0};
    g_auto(Answer) seen = {0};
    listen_for_a_while(&listener, &seen);
    hang_up(&listener);

    wait_for_conversations(before + 1);
    g_autoptr(PonderConversation) c = newest_conversation();
    g_autoptr(GPtrArray) path = shown_path(c->id);
    g_assert_cmpuint(path->len, ==, 2);
    assert_message(path_message(path, 0), PONDER_MESSAGE_ROLE_USER, story[0].content);
    PonderMessage *answer = path_message(path, 1);
    g_assert_cmpint(answer->finish, ==, PONDER_FINISH_CANCELLED);
    g_assert_null(answer->error);
    g_assert_cmpstr(answer->model, ==, slug);
    // What the client read is where the saved answer starts.
    g_assert_true(
        g_str_has_prefix(answer->reasoning ? answer->reasoning : "", seen.reasoning->str));
    g_assert_true(g_str_has_prefix(answer->content, seen.content->str));
    g_assert_cmpint(answer->completion_tokens, >=, 1);
    set_saving(FALSE);
}

// Switched off while a chat runs: that chat is not saved (the same hang-up as above would
// be); switched on again, the next one is.
static void test_switched_off_while_running(void)
{
    set_saving(TRUE);
    guint before = n_conversations();
    Listener listener = {0};
    g_auto(Answer) seen = {0};
    listen_for_a_while(&listener, &seen);
    g_assert_cmpuint(n_conversations(), ==, before); // still running
    set_saving(FALSE);
    hang_up(&listener);
    wait_engine_idle();
    g_assert_cmpuint(n_conversations(), ==, before);

    set_saving(TRUE);
    g_auto(Answer) a = {0};
    chat(OPENAI, FALSE, sky, G_N_ELEMENTS(sky), &a);
    g_assert_cmpuint(n_conversations(), ==, before + 1);
    set_saving(FALSE);
}

// ---- the store fails ---------------------------------------------------------------------------

// Another program holds the database's write lock past the busy timeout: the client still
// gets its whole answer, a warning says what was not saved, and saving goes on afterwards.
static void test_store_failure(void)
{
    set_saving(TRUE);
    guint before = n_conversations();
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(ponder_store_get_filename(store), &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
    g_test_expect_message("Ponder", G_LOG_LEVEL_WARNING,
                          "could not save the API conversation in the history: *locked*");
    g_auto(Answer) a = {0};
    chat(OPENAI, FALSE, sky, G_N_ELEMENTS(sky), &a);
    g_test_assert_expected_messages();
    g_assert_cmpint(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
    g_assert_cmpuint(n_conversations(), ==, before);

    g_auto(Answer) b = {0};
    chat(OLLAMA, FALSE, sky, G_N_ELEMENTS(sky), &b);
    g_assert_cmpuint(n_conversations(), ==, before + 1);
    g_autoptr(PonderConversation) c = newest_conversation();
    assert_one_turn(c->id, "You are terse.", "Why is the sky blue?", &b);
    set_saving(FALSE);
}

// The store's side on its own: an exchange that does not fit saves nothing at all.
static void test_exchange_refused(void)
{
    g_autoptr(GError) error = NULL;
    PonderAnswerStats stats = {.finish = PONDER_FINISH_STOP,
                               .prompt_tokens = 3,
                               .completion_tokens = 2,
                               .first_token_s = -1,
                               .total_s = -1,
                               .tokens_per_second = -1};
    const PonderExchangeMessage question[] = {{PONDER_MESSAGE_ROLE_USER, "Hello?", NULL}};
    PonderApiExchange x = {.title = "Hello?",
                           .messages = question,
                           .n_messages = 1,
                           .content = "Hi.",
                           .stats = &stats,
                           .thread_key = "test-key"};
    guint before = n_conversations();
    gint64 answer = ponder_store_add_api_exchange(store, &x, &error);
    g_assert_no_error(error);
    g_assert_cmpint(ponder_store_find_api_answer(store, "test-key", &error), ==, answer);
    g_autoptr(PonderMessage) saved = ponder_store_get_message(store, answer, &error);
    g_autoptr(GPtrArray) path = shown_path(saved->conversation_id);
    gint64 question_id = path_message(path, 0)->id;

    // Under a question rather than an answer; ending in an answer; an unfinished answer.
    x.after_answer_id = question_id;
    g_assert_cmpint(ponder_store_add_api_exchange(store, &x, &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    x.after_answer_id = answer;
    const PonderExchangeMessage answer_last[] = {{PONDER_MESSAGE_ROLE_ASSISTANT, "Hm.", NULL}};
    x.messages = answer_last;
    g_assert_cmpint(ponder_store_add_api_exchange(store, &x, &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    x.messages = question;
    stats.finish = PONDER_FINISH_NONE;
    g_assert_cmpint(ponder_store_add_api_exchange(store, &x, &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    stats.finish = PONDER_FINISH_STOP;

    // In the trash: not found, and not continued (nothing added halfway).
    g_assert_true(ponder_store_delete_conversation(store, saved->conversation_id, &error));
    g_assert_cmpint(ponder_store_find_api_answer(store, "test-key", &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpint(ponder_store_add_api_exchange(store, &x, &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_true(ponder_store_restore_conversation(store, saved->conversation_id, &error));
    g_autoptr(GPtrArray) children =
        ponder_store_list_children(store, saved->conversation_id, answer, &error);
    g_assert_cmpuint(children->len, ==, 0);
    g_assert_cmpuint(n_conversations(), ==, before + 1);
    g_assert_true(ponder_store_delete_conversation(store, saved->conversation_id, &error));
}

// ---- `ponder --serve [--save-history]` ----------------------------------------------------------

static int serve(GVariantDict *options)
{
    g_autoptr(GVariant) dict = g_variant_ref_sink(g_variant_dict_end(options));
    g_autoptr(GApplicationCommandLine) cmdline =
        g_object_new(G_TYPE_APPLICATION_COMMAND_LINE, "options", dict, NULL);
    g_auto(GVariantDict) parsed = G_VARIANT_DICT_INIT(dict);
    return ponder_application_serve_core(core, cmdline, &parsed);
}

// The first `ponder --serve` without --save-history saves nothing; a second one with it,
// handed to the running instance, switches saving on there (the same server, port and store).
static void test_serve_option(void)
{
    guint port = app_test_free_port();
    g_auto(GVariantDict) first = G_VARIANT_DICT_INIT(NULL);
    g_variant_dict_insert(&first, "serve", "b", TRUE);
    g_variant_dict_insert(&first, "port", "i", (gint32)port);
    g_variant_dict_insert(&first, "model", "s", slug);
    g_assert_cmpint(serve(&first), ==, 0);
    PonderApiServer *api = ponder_core_get_api(core);
    g_assert_nonnull(api);
    g_assert_cmpuint(ponder_api_server_get_port(api), ==, port);
    g_assert_false(ponder_api_server_get_save_history(api));
    g_autofree char *url = g_strdup_printf("http://127.0.0.1:%u", port);
    guint before = n_conversations();
    g_auto(Answer) a = {0};
    chat_at(url, OPENAI, FALSE, sky, G_N_ELEMENTS(sky), &a);
    g_assert_cmpuint(n_conversations(), ==, before);

    g_auto(GVariantDict) second = G_VARIANT_DICT_INIT(NULL);
    g_variant_dict_insert(&second, "serve", "b", TRUE);
    g_variant_dict_insert(&second, "save-history", "b", TRUE);
    g_assert_cmpint(serve(&second), ==, 0);
    g_assert_true(ponder_core_get_api(core) == api);
    g_assert_true(ponder_api_server_get_save_history(api));
    g_auto(Answer) b = {0};
    chat_at(url, OLLAMA, TRUE, sky, G_N_ELEMENTS(sky), &b);
    g_assert_cmpuint(n_conversations(), ==, before + 1);
    g_autoptr(PonderConversation) c = newest_conversation();
    assert_one_turn(c->id, "You are terse.", "Why is the sky blue?", &b);
    ponder_core_stop_api(core);
}

// ---- setup -------------------------------------------------------------------------------------

static void wait_ready(PonderEngine *engine)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (ponder_engine_get_state(engine) != PONDER_ENGINE_READY) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, TRUE);
    }
}

int main(int argc, char **argv)
{
    // The user's locale, as the app takes it (CI runs this test under de_DE.UTF-8 too).
    setlocale(LC_ALL, "");
    g_test_init(&argc, &argv, NULL);
    // The core finds its database and models under XDG_DATA_HOME: a folder of the test's own,
    // set before GLib reads (and caches) it.
    tmp_dir = g_dir_make_tmp("ponder-api-history-XXXXXX", NULL);
    g_autofree char *data_home = g_build_filename(tmp_dir, "data", NULL);
    g_autofree char *models = g_build_filename(data_home, "ponder", "models", NULL);
    g_setenv("HOME", tmp_dir, TRUE);
    g_setenv("XDG_DATA_HOME", data_home, TRUE);
    g_setenv("XDG_CACHE_HOME", tmp_dir, TRUE);
    g_setenv("XDG_CONFIG_HOME", tmp_dir, TRUE);
    g_mkdir_with_parents(models, 0700);
    g_autofree char *model_path = app_test_make_tiny_model(models, 7);
    if (!model_path) {
        app_test_remove_tree(tmp_dir);
        g_print("skipped: the R1 tokenizer in ../shared is missing\n");
        return 77;
    }

    PonderEngineSettings settings;
    app_test_cpu_engine_settings(&settings, N_CTX, 2);
    settings.step_tokens = 64;
    g_autoptr(GError) error = NULL;
    core = ponder_core_new(&settings, &error);
    g_assert_no_error(error);
    store = ponder_core_get_store(core);
    PonderModelEntry *entry = ponder_core_choose_model(core, model_path, &error);
    g_assert_no_error(error);
    slug = ponder_model_entry_get_slug(entry);
    wait_ready(ponder_core_get_engine(core));
    PonderApiServerOptions options = {.port = PONDER_API_PORT_ANY, .history_store = store};
    server = ponder_api_server_new(ponder_core_get_engine(core), ponder_core_get_library(core),
                                   &options);
    if (!ponder_api_server_start(server, &error))
        g_error("%s", error->message);
    base_url = g_strdup_printf("http://127.0.0.1:%u", ponder_api_server_get_port(server));
    session = soup_session_new_with_options("timeout", 60, NULL);

    g_test_add_func("/api-history/off", test_off);
    g_test_add_data_func("/api-history/openai", GINT_TO_POINTER(OPENAI), test_dialect);
    g_test_add_data_func("/api-history/ollama", GINT_TO_POINTER(OLLAMA), test_dialect);
    g_test_add_func("/api-history/system-messages", test_system_messages);
    g_test_add_func("/api-history/completions-not-saved", test_completions_not_saved);
    g_test_add_func("/api-history/multi-turn", test_multi_turn);
    g_test_add_func("/api-history/cancelled", test_cancelled);
    g_test_add_func("/api-history/switched-off-while-running", test_switched_off_while_running);
    g_test_add_func("/api-history/store-failure", test_store_failure);
    g_test_add_func("/api-history/exchange-refused", test_exchange_refused);
    g_test_add_func("/api-history/serve-option", test_serve_option);
    int status = g_test_run();

    g_object_unref(session);
    g_clear_object(&server);
    g_clear_object(&core);
    app_test_remove_tree(tmp_dir);
    g_free(tmp_dir);
    g_free(base_url);
    return status;
}
