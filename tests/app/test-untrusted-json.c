// JSON from outside, nested to exhaust a recursive parser's stack: the guard itself
// (ponder-json-guard.c), every JSON route of both API dialects over a socket, the request
// parser the fuzzer drives, a conversation file to import, and settings to store. json-glib
// recurses once per level, so without the guard 100,000 levels were a segfault.
#include <string.h>

#include <json-glib/json-glib.h>

#include "app-test-api.h"
#include "app-test-util.h"
#include "ponder-api-server-private.h"
#include "ponder-json-guard.h"
#include "ponder-store.h"

static char *tmp_dir;
static char *model_path;
static PonderModelLibrary *library;

// ---- nested documents ------------------------------------------------------------------------

typedef enum {
    NEST_ARRAYS,  // [[[ ... ]]]
    NEST_OBJECTS, // {"a":{"a": ... 1}}
} NestForm;

// LEVELS arrays or objects, one inside the other, closed when CLOSED.
static char *nested(NestForm form, guint levels, gboolean closed)
{
    GString *text = g_string_sized_new(levels * 6 + 1);
    for (guint i = 0; i < levels; i++)
        g_string_append(text, form == NEST_ARRAYS ? "[" : "{\"a\":");
    if (form == NEST_OBJECTS || closed)
        g_string_append(text, "1");
    for (guint i = 0; closed && i < levels; i++)
        g_string_append_c(text, form == NEST_ARRAYS ? ']' : '}');
    return g_string_free(text, FALSE);
}

static gboolean guard_accepts(const char *text)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = ponder_json_check_depth(text, -1, &error);
    g_assert_true(ok == (error == NULL));
    if (error) {
        g_assert_error(error, PONDER_JSON_GUARD_ERROR, PONDER_JSON_GUARD_ERROR_TOO_DEEP);
        g_assert_nonnull(strstr(error->message, "nested deeper than 512 levels"));
    }
    return ok;
}

// ---- the guard ---------------------------------------------------------------------------------

static void test_guard_limit(void)
{
    for (NestForm form = NEST_ARRAYS; form <= NEST_OBJECTS; form++) {
        g_autofree char *at_limit = nested(form, PONDER_JSON_MAX_DEPTH, TRUE);
        g_autofree char *over = nested(form, PONDER_JSON_MAX_DEPTH + 1, TRUE);
        g_autofree char *over_open = nested(form, PONDER_JSON_MAX_DEPTH + 1, FALSE);
        g_assert_true(guard_accepts(at_limit));
        g_assert_false(guard_accepts(over));
        g_assert_false(guard_accepts(over_open));
        // What passes the guard, json-glib parses.
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) node = ponder_json_from_untrusted(at_limit, -1, &error);
        g_assert_no_error(error);
        g_assert_nonnull(node);
        g_autoptr(JsonNode) refused = ponder_json_from_untrusted(over, -1, &error);
        g_assert_null(refused);
        g_assert_error(error, PONDER_JSON_GUARD_ERROR, PONDER_JSON_GUARD_ERROR_TOO_DEEP);
    }
    // Depth is what is open at once, not how many brackets there are.
    GString *siblings = g_string_new("[");
    for (guint i = 0; i < 10000; i++)
        g_string_append(siblings, i ? ",[[1]]" : "[[1]]");
    g_string_append(siblings, "]");
    g_assert_true(guard_accepts(siblings->str));
    g_string_free(siblings, TRUE);
}

// Brackets inside strings are text, whatever the escapes around them.
static void test_guard_skips_strings(void)
{
    g_autofree char *deep_text = g_strnfill(100000, '[');
    g_autofree char *in_string = g_strdup_printf("{\"text\":\"%s\"}", deep_text);
    g_assert_true(guard_accepts(in_string));
    g_autofree char *braces = g_strnfill(100000, '{');
    g_autofree char *key = g_strdup_printf("{\"%s\":1}", braces);
    g_assert_true(guard_accepts(key));

    // An escaped quote does not end the string: the brackets after it are still text.
    g_autofree char *after_escaped_quote = g_strdup_printf("[\"say \\\"%s\\\" twice\"]", deep_text);
    g_assert_true(guard_accepts(after_escaped_quote));
    // An escaped backslash does end it: the brackets after it count.
    g_autofree char *after_escaped_backslash = g_strdup_printf("[\"C:\\\\\",%s", deep_text);
    g_assert_false(guard_accepts(after_escaped_backslash));
    // Closing brackets in a string do not pay for real depth.
    g_autofree char *closers = g_strnfill(1000, ']');
    g_autofree char *open = nested(NEST_ARRAYS, PONDER_JSON_MAX_DEPTH + 1, FALSE);
    g_autofree char *fake_closers = g_strdup_printf("[\"%s\",%s", closers, open);
    g_assert_false(guard_accepts(fake_closers));
    // Stray closers outside strings do not either (the parser rejects them anyway).
    g_autofree char *stray = g_strdup_printf("%s%s", closers, open);
    g_assert_false(guard_accepts(stray));
    // A string left open runs to the end: nothing after its quote counts.
    g_autofree char *unterminated = g_strdup_printf("[\"%s", deep_text);
    g_assert_true(guard_accepts(unterminated));
    // An explicit length stops the scan.
    g_assert_true(ponder_json_check_depth(open, PONDER_JSON_MAX_DEPTH, NULL));
    g_assert_false(ponder_json_check_depth(open, PONDER_JSON_MAX_DEPTH + 1, NULL));
}

// ---- the API
// -------------------------------------------------------------------------------------

static const char *const json_routes[] = {"/v1/chat/completions", "/v1/completions", "/api/show",
                                          "/api/chat", "/api/generate"};

// A 400 in the route's dialect; with MENTIONS_LIMIT, its message names the limit.
static void assert_bad_request(Raw *raw, const char *route, gboolean mentions_limit)
{
    g_assert_cmpuint(raw_status(raw), ==, 400);
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) answer = json_from_string(raw_body(raw), &error);
    g_assert_no_error(error);
    JsonNode *error_node = json_object_get_member(json_node_get_object(answer), "error");
    g_assert_nonnull(error_node);
    const char *message;
    if (g_str_has_prefix(route, "/api/")) {
        message = json_node_get_string(error_node); // Ollama: {"error": "message"}
    } else {
        JsonObject *object = json_node_get_object(error_node);
        message = json_object_get_string_member(object, "message");
        g_assert_cmpstr(json_object_get_string_member(object, "type"), ==, "invalid_request_error");
    }
    g_assert_nonnull(message);
    if (mentions_limit && !strstr(message, "nested deeper than 512 levels"))
        g_error("%s: \"%s\" does not name the nesting limit", route, message);
}

static void test_api_routes_refuse_nesting(void)
{
    g_autoptr(PonderEngine) engine = app_test_api_engine(model_path, 1, 4);
    g_autoptr(PonderApiServer) server = app_test_api_start(engine, library, NULL);
    guint port = ponder_api_server_get_port(server);
    const guint levels[] = {100, 10000, 100000, 1000000};
    for (NestForm form = NEST_ARRAYS; form <= NEST_OBJECTS; form++) {
        for (guint l = 0; l < G_N_ELEMENTS(levels); l++) {
            // Left open (what the crash needed) and closed (well-formed).
            for (gboolean closed = FALSE; closed <= TRUE; closed++) {
                g_autofree char *body = nested(form, levels[l], closed);
                for (guint r = 0; r < G_N_ELEMENTS(json_routes); r++) {
                    g_test_message("%s, %u levels of %s%s", json_routes[r], levels[l],
                                   form == NEST_ARRAYS ? "[" : "{\"a\":", closed ? ", closed" : "");
                    g_autoptr(Raw) raw = exchange(port, "POST", json_routes[r], NULL, body);
                    if (levels[l] > PONDER_JSON_MAX_DEPTH) {
                        assert_bad_request(raw, json_routes[r], TRUE);
                    } else {
                        // Within the limit it is parsed and judged as any body: {"a":…} is
                        // a request to load the current model for /api/generate.
                        guint status = raw_status(raw);
                        g_assert_true(status == 400 || status == 200);
                        if (status == 400)
                            assert_bad_request(raw, json_routes[r], FALSE);
                    }
                }
            }
        }
    }
    // The server is still there and answers a chat.
    g_autoptr(Raw) chat = exchange(port, "POST", "/v1/chat/completions", NULL,
                                   "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                                   "\"max_tokens\":3,\"temperature\":0}");
    g_assert_cmpuint(raw_status(chat), ==, 200);
    g_assert_nonnull(strstr(raw_body(chat), "\"completion_tokens\":3"));
}

// The parser behind the server (and the fuzzer): the same refusal without a socket, and a
// valid request of each generation route parsed into its parameters.
static void test_parse_request(void)
{
    PonderApiAccess access = {0};
    const PonderApiHeader headers[] = {{"Host", "localhost"}, {"Content-Type", "application/json"}};
    g_autofree char *deep = nested(NEST_OBJECTS, 100000, FALSE);
    for (guint r = 0; r < G_N_ELEMENTS(json_routes); r++) {
        PonderApiParsedRequest parsed;
        g_autoptr(PonderApiError) error = NULL;
        g_assert_false(ponder_api_parse_request(&access, "POST", json_routes[r], headers,
                                                G_N_ELEMENTS(headers), (const guint8 *)deep,
                                                strlen(deep), &parsed, &error));
        g_assert_cmpuint(error->status, ==, 400);
        g_assert_nonnull(strstr(error->message, "nested deeper than 512 levels"));
        ponder_api_parsed_request_clear(&parsed);
    }
    const struct {
        const char *path, *body;
    } valid[] = {
        {"/v1/chat/completions",
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"},
        {"/v1/completions", "{\"model\":\"m\",\"prompt\":\"Hi\"}"},
        {"/api/chat", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"},
        {"/api/generate", "{\"model\":\"m\",\"prompt\":\"Hi\"}"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(valid); i++) {
        PonderApiParsedRequest parsed;
        g_autoptr(PonderApiError) error = NULL;
        g_assert_true(ponder_api_parse_request(&access, "POST", valid[i].path, headers,
                                               G_N_ELEMENTS(headers), (const guint8 *)valid[i].body,
                                               strlen(valid[i].body), &parsed, &error));
        g_assert_null(error);
        g_assert_cmpstr(parsed.route->path, ==, valid[i].path);
        g_assert_cmpstr(parsed.params.model, ==, "m");
        g_assert_true(parsed.params.n_messages == 1 || g_strcmp0(parsed.params.prompt, "Hi") == 0);
        ponder_api_parsed_request_clear(&parsed);
    }
}

// Found by fuzz-api: header bytes that are not UTF-8 (HTTP allows them) were echoed into the
// JSON error, which then was not UTF-8 either.
static void test_error_messages_are_utf8(void)
{
    PonderApiAccess access = {0};
    const char *const allowed[] = {"http://localhost:3000", NULL};
    access.allowed_origins = allowed;
    const PonderApiHeader bad_host[] = {{"Host", "localhost\xdb\x0b"}};
    const PonderApiHeader bad_origin[] = {{"Host", "localhost"}, {"Origin", "http://\xff\xfe"}};
    const struct {
        const PonderApiHeader *headers;
        gsize n;
        const char *path;
    } cases[] = {
        {bad_host, 1, "/v1/models"},
        {bad_origin, 2, "/v1/models"},
        {bad_origin + 0, 1, "/api/\xc3\x28"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        PonderApiParsedRequest parsed;
        g_autoptr(PonderApiError) error = NULL;
        g_assert_false(ponder_api_parse_request(&access, "GET", cases[i].path, cases[i].headers,
                                                cases[i].n, NULL, 0, &parsed, &error));
        g_assert_true(g_utf8_validate(error->message, -1, NULL));
        g_autoptr(JsonNode) answer = ponder_api_error_to_json(parsed.dialect, error);
        g_autofree char *text = ponder_api_json_to_string(answer);
        g_assert_true(g_utf8_validate(text, -1, NULL));
        ponder_api_parsed_request_clear(&parsed);
    }
    // Found by fuzz-api too: json-glib's error about a lone surrogate quotes bytes that are
    // not UTF-8.
    const PonderApiHeader host[] = {{"Host", "localhost"}};
    const char *body = "{\"messages\":[[[[[\"system\\ud800\"[[[+[[[";
    PonderApiParsedRequest parsed;
    g_autoptr(PonderApiError) error = NULL;
    g_assert_false(ponder_api_parse_request(&access, "POST", "/v1/chat/completions", host, 1,
                                            (const guint8 *)body, strlen(body), &parsed, &error));
    g_assert_cmpuint(error->status, ==, 400);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    ponder_api_parsed_request_clear(&parsed);
}

// Found by fuzz-api (clang's UBSan): an integer parameter far beyond 64 bits was converted to
// gint64 before its range was checked. Each is a 400 naming the parameter.
static void test_huge_integers_are_refused(void)
{
    PonderApiAccess access = {0};
    const PonderApiHeader host[] = {{"Host", "localhost"}};
    const char *const values[][2] = {
        {"seed", "73333222222222222222222222222222222222222222222222222222.5e40"},
        {"seed", "9223372036854775808.0"},
        {"seed", "-1e300"},
        {"max_tokens", "1e30"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(values); i++) {
        g_autofree char *body =
            g_strdup_printf("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"%s\":%s}",
                            values[i][0], values[i][1]);
        PonderApiParsedRequest parsed;
        g_autoptr(PonderApiError) error = NULL;
        g_assert_false(ponder_api_parse_request(&access, "POST", "/v1/chat/completions", host, 1,
                                                (const guint8 *)body, strlen(body), &parsed,
                                                &error));
        g_assert_cmpuint(error->status, ==, 400);
        g_assert_nonnull(strstr(error->message, values[i][0]));
        ponder_api_parsed_request_clear(&parsed);
    }
}

// ---- the store ---------------------------------------------------------------------------------

static void test_import_refuses_nesting(void)
{
    g_autofree char *path = g_build_filename(tmp_dir, "import.db", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(path, &error);
    g_assert_no_error(error);
    gint64 kept = ponder_store_create_conversation(store, "Kept", &error);
    g_assert_cmpint(kept, >, 0);
    g_autofree char *before = ponder_store_export_json(store, kept, &error);
    g_assert_no_error(error);

    g_autofree char *deep_arrays = nested(NEST_ARRAYS, 100000, FALSE);
    g_autofree char *deep_objects = nested(NEST_OBJECTS, 100000, TRUE);
    const char *head = "{\"format\":\"ponder-conversation\",\"version\":1,\"title\":\"t\",";
    g_autofree char *in_messages = g_strdup_printf("%s\"messages\":%s", head, deep_arrays);
    g_autofree char *in_settings =
        g_strdup_printf("%s\"settings\":%s,\"messages\":[]}", head, deep_objects);
    const char *files[] = {deep_arrays, in_messages, in_settings};
    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        gint64 id = ponder_store_import_json(store, files[i], -1, &error);
        g_assert_cmpint(id, ==, 0);
        g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_IMPORT);
        g_assert_nonnull(strstr(error->message, "this file is nested too deeply"));
        g_clear_error(&error);
    }
    // Nothing saved was lost, nothing half-imported was added.
    g_autoptr(GPtrArray) conversations = ponder_store_list_conversations(store, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(conversations->len, ==, 1);
    g_autofree char *after = ponder_store_export_json(store, kept, &error);
    g_assert_cmpstr(after, ==, before);

    // Settings handed to the store are checked by the same guard.
    g_autofree char *deep_settings = g_strdup_printf("{\"sampling\":%s}", deep_objects);
    g_assert_false(ponder_store_set_settings(store, kept, deep_settings, &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "nested deeper than 512 levels"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("ponder-untrusted-json-XXXXXX", NULL);
    g_test_add_func("/untrusted-json/guard/limit", test_guard_limit);
    g_test_add_func("/untrusted-json/guard/skips-strings", test_guard_skips_strings);
    g_test_add_func("/untrusted-json/api/parse-request", test_parse_request);
    g_test_add_func("/untrusted-json/api/error-messages-are-utf8", test_error_messages_are_utf8);
    g_test_add_func("/untrusted-json/api/huge-integers", test_huge_integers_are_refused);
    g_test_add_func("/untrusted-json/store/import", test_import_refuses_nesting);
    model_path = app_test_make_tiny_model(tmp_dir, 7);
    if (model_path) {
        library = app_test_api_library(tmp_dir);
        g_test_add_func("/untrusted-json/api/routes", test_api_routes_refuse_nesting);
    } else {
        g_test_message("the R1 tokenizer in ../shared is missing: the API routes are not tested");
    }
    int status = g_test_run();
    g_clear_object(&library);
    app_test_remove_tree(tmp_dir);
    g_free(model_path);
    g_free(tmp_dir);
    return status;
}
