// Answers streaming into the store, on a tiny synthetic model on the CPU: the question is
// on disk before the answer starts, partial text is saved while it streams (seen through a
// second connection to the database), the end is stored with its stats, and regenerate /
// continue make branches whose prompts come from the stored path.
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "app-test-engine.h"
#include "app-test-util.h"
#include "ponder-reply.h"
#include "ponder-sampling.h"

static char *tmp_dir, *model_path, *db_path;

static PonderEngine *new_engine(void)
{
    PonderEngineSettings settings;
    app_test_cpu_engine_settings(&settings, 2048, 2);
    PonderEngine *engine = ponder_engine_new(&settings);
    ponder_engine_set_model(engine, model_path);
    return engine;
}

static void wait_reply(PonderReply *reply)
{
    while (!ponder_generation_is_finished(ponder_reply_get_generation(reply)))
        g_main_context_iteration(NULL, TRUE);
}

static const SamplerParams *greedy(void)
{
    static SamplerParams params;
    params = sampler_default_params();
    params.temperature = 0;
    return &params;
}

typedef struct {
    PonderStore *observer; // a second connection, as another process would have
    gint64 answer_id;
    gint64 started_us;
    gboolean saw_partial;
} Observation;

// While the answer streams, a second connection sees a growing, incomplete answer.
static void observe(PonderGeneration *g, const char *text, Observation *o)
{
    if (o->saw_partial || g_get_monotonic_time() - o->started_us < 100000)
        return;
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderMessage) m = ponder_store_get_message(o->observer, o->answer_id, &error);
    g_assert_no_error(error);
    if (m->finish == PONDER_FINISH_NONE && ((m->reasoning && *m->reasoning) || *m->content))
        o->saw_partial = TRUE;
}

static void test_send_streams_into_store(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(db_path, &error);
    g_assert_no_error(error);
    g_autoptr(PonderEngine) engine = new_engine();
    gint64 conversation = ponder_store_create_conversation(store, "Sky", &error);
    g_assert_cmpint(conversation, >, 0);

    PonderReplyOptions options = {.model_name = "tiny-qwen2:q8_0",
                                  .max_tokens = 1500,
                                  .save_interval_ms = 20,
                                  .ignore_eos = TRUE,
                                  .sampling = greedy()};
    g_autoptr(PonderReply) reply =
        ponder_reply_send(store, engine, conversation, 0, "Why is the sky blue?", &options, &error);
    g_assert_no_error(error);
    g_assert_nonnull(reply);

    // The question is committed before any token: a second connection sees it now.
    Observation o = {.answer_id = ponder_reply_get_answer_id(reply),
                     .started_us = g_get_monotonic_time()};
    o.observer = ponder_store_new(db_path, &error);
    g_assert_no_error(error);
    g_autoptr(PonderMessage) question =
        ponder_store_get_message(o.observer, ponder_reply_get_user_message_id(reply), &error);
    g_assert_cmpstr(question->content, ==, "Why is the sky blue?");
    g_signal_connect(ponder_reply_get_generation(reply), "reasoning-delta", G_CALLBACK(observe),
                     &o);
    g_signal_connect(ponder_reply_get_generation(reply), "answer-delta", G_CALLBACK(observe), &o);
    wait_reply(reply);
    g_assert_true(ponder_reply_is_saved(reply));

    PonderGeneration *g = ponder_reply_get_generation(reply);
    g_autoptr(PonderMessage) answer = ponder_store_get_message(o.observer, o.answer_id, &error);
    g_assert_no_error(error);
    g_assert_cmpint(answer->finish, ==, PONDER_FINISH_LENGTH);
    g_assert_cmpstr(answer->content, ==, ponder_generation_get_answer(g));
    g_assert_cmpstr(answer->reasoning ? answer->reasoning : "", ==,
                    ponder_generation_get_reasoning(g));
    g_assert_cmpint(answer->completion_tokens, ==, 1500);
    g_assert_cmpstr(answer->model, ==, "tiny-qwen2:q8_0");
    g_assert_cmpint(answer->parent_id, ==, ponder_reply_get_user_message_id(reply));
    g_assert_cmpfloat(answer->total_s, >, 0);
    g_assert_cmpint(ponder_store_get_selected_leaf(store, conversation, &error), ==, o.answer_id);
    // Partial saves were seen while it streamed (when the answer took long enough for the
    // observer to look after 100 ms; a very fast run cannot show the partial row).
    PonderGenerationStats stats;
    ponder_generation_get_stats(g, &stats);
    if (stats.total_us > 200000)
        g_assert_true(o.saw_partial);
    else
        g_test_message("answer finished in %" G_GINT64_FORMAT
                       " us: too fast to observe a partial save",
                       stats.total_us);
    g_object_unref(o.observer);
}

static void test_regenerate_and_continue(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(db_path, &error);
    g_autoptr(PonderEngine) engine = new_engine();
    gint64 conversation = ponder_store_create_conversation(store, "Branches", &error);
    g_assert_no_error(error);
    g_assert_true(ponder_store_set_system_prompt(store, conversation, "Answer briefly.", &error));

    PonderReplyOptions options = {.max_tokens = 6, .ignore_eos = TRUE, .sampling = greedy()};
    g_autoptr(PonderReply) first =
        ponder_reply_send(store, engine, conversation, 0, "Count to three.", &options, &error);
    g_assert_no_error(error);
    wait_reply(first);

    // Regenerating with the same greedy settings gives the same text, in a second branch.
    g_autoptr(PonderReply) again = ponder_reply_regenerate(
        store, engine, ponder_reply_get_user_message_id(first), &options, &error);
    g_assert_no_error(error);
    wait_reply(again);
    g_assert_cmpstr(ponder_reply_get_reasoning(again), ==, ponder_reply_get_reasoning(first));
    g_autoptr(GPtrArray) branches = ponder_store_list_children(
        store, conversation, ponder_reply_get_user_message_id(first), &error);
    g_assert_cmpuint(branches->len, ==, 2);

    // Continuing the cut-off answer: a new branch that starts with the cut text and goes on
    // as if it had never stopped (greedy: the same as one longer answer).
    g_autoptr(PonderReply) more =
        ponder_reply_continue(store, engine, ponder_reply_get_answer_id(first), &options, &error);
    g_assert_no_error(error);
    wait_reply(more);
    g_assert_true(
        g_str_has_prefix(ponder_reply_get_reasoning(more), ponder_reply_get_reasoning(first)));
    g_assert_cmpuint(
        strlen(ponder_reply_get_reasoning(more)) + strlen(ponder_reply_get_answer(more)), >,
        strlen(ponder_reply_get_reasoning(first)) + strlen(ponder_reply_get_answer(first)));
    g_autoptr(GPtrArray) after = ponder_store_list_children(
        store, conversation, ponder_reply_get_user_message_id(first), &error);
    g_assert_cmpuint(after->len, ==, 3);
    // The cut answer itself is unchanged.
    g_autoptr(PonderMessage) cut =
        ponder_store_get_message(store, ponder_reply_get_answer_id(first), &error);
    g_assert_cmpstr(cut->reasoning ? cut->reasoning : "", ==, ponder_reply_get_reasoning(first));
    g_assert_cmpint(cut->finish, ==, PONDER_FINISH_LENGTH);
}

static guint64 stored_seed(PonderStore *store, gint64 answer_id)
{
    g_autoptr(PonderMessage) m = ponder_store_get_message(store, answer_id, NULL);
    g_assert_nonnull(m);
    g_autoptr(JsonNode) node = json_from_string(m->sampling_json, NULL);
    g_assert_nonnull(node);
    JsonObject *o = json_node_get_object(node);
    g_assert_true(json_object_has_member(o, "seed"));
    return (guint64)json_object_get_int_member(o, "seed");
}

// Without a seed in the conversation's settings, every answer draws its own (and stores it),
// so Regenerate gives another answer; a seed the conversation sets is kept.
static void test_regenerate_draws_a_new_seed(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(db_path, &error);
    g_autoptr(PonderEngine) engine = new_engine();
    gint64 conversation = ponder_store_create_conversation(store, "Seeds", &error);
    PonderReplyOptions options = {.max_tokens = 2, .ignore_eos = TRUE};
    g_autoptr(PonderReply) first =
        ponder_reply_send(store, engine, conversation, 0, "Pick a number.", &options, &error);
    g_assert_no_error(error);
    wait_reply(first);
    g_autoptr(PonderReply) again = ponder_reply_regenerate(
        store, engine, ponder_reply_get_user_message_id(first), &options, &error);
    g_assert_no_error(error);
    wait_reply(again);
    while (!ponder_reply_is_saved(first) || !ponder_reply_is_saved(again))
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(stored_seed(store, ponder_reply_get_answer_id(first)), !=,
                     stored_seed(store, ponder_reply_get_answer_id(again)));

    g_assert_true(ponder_store_set_settings(store, conversation, "{\"seed\":1234}", &error));
    g_autoptr(PonderReply) fixed = ponder_reply_regenerate(
        store, engine, ponder_reply_get_user_message_id(first), &options, &error);
    wait_reply(fixed);
    while (!ponder_reply_is_saved(fixed))
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(stored_seed(store, ponder_reply_get_answer_id(fixed)), ==, 1234);
}

static void test_stop_is_stored_as_cancelled(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(db_path, &error);
    g_autoptr(PonderEngine) engine = new_engine();
    gint64 conversation = ponder_store_create_conversation(store, "Stop", &error);
    PonderReplyOptions options = {.max_tokens = 100000, .ignore_eos = TRUE, .sampling = greedy()};
    g_autoptr(PonderReply) reply =
        ponder_reply_send(store, engine, conversation, 0, "Go on forever.", &options, &error);
    g_assert_no_error(error);
    while (!*ponder_reply_get_reasoning(reply) &&
           !ponder_generation_is_finished(ponder_reply_get_generation(reply)))
        g_main_context_iteration(NULL, TRUE);
    ponder_reply_stop(reply);
    wait_reply(reply);
    g_autoptr(PonderMessage) answer =
        ponder_store_get_message(store, ponder_reply_get_answer_id(reply), &error);
    g_assert_cmpint(answer->finish, ==, PONDER_FINISH_CANCELLED);
    g_assert_cmpstr(answer->reasoning, ==, ponder_reply_get_reasoning(reply));
}

// The sampling as the store records it: JSON with a '.' in every number, the shortest text
// that reads back as the same float, whatever LC_NUMERIC says.
static void test_sampling_json(void)
{
    SamplerParams s = sampler_default_params();
    s.top_k = 40;
    s.min_p = 1e-5f;
    s.repetition_penalty = 1.1f;
    s.presence_penalty = -0.5f;
    s.seed = G_MAXUINT64; // written as the same bits, signed
    static const char expected[] =
        "{\"temperature\":0.6,\"top_p\":0.95,\"top_k\":40,\"min_p\":1e-05,"
        "\"repetition_penalty\":1.1,\"presence_penalty\":-0.5,\"frequency_penalty\":0,"
        "\"seed\":-1,\"max_tokens\":7}";
    g_autofree char *json = ponder_sampling_to_json(&s, TRUE, 7);
    g_assert_cmpstr(json, ==, expected);

    char *previous = app_test_use_comma_locale();
    if (!previous) {
        g_test_skip("no comma-decimal locale is installed (tools/install-deps makes de_DE.UTF-8)");
        return;
    }
    g_autofree char *in_comma_locale = ponder_sampling_to_json(&s, TRUE, 7);
    app_test_restore_numeric_locale(previous);
    g_assert_cmpstr(in_comma_locale, ==, expected);
}

// What the window, the reply and the API history write reads back as the same settings
// (the seed's bits included); a subset replaces only its own fields; a member of the wrong
// kind fails and leaves the settings as they were.
static void test_sampling_json_read_back(void)
{
    SamplerParams s = sampler_default_params();
    s.temperature = 0.3f;
    s.top_k = 17;
    s.min_p = 0.05f;
    s.repetition_penalty = 1.25f;
    s.presence_penalty = 0.5f;
    s.frequency_penalty = -0.25f;
    s.seed = G_MAXUINT64 - 5;
    g_autofree char *json = ponder_sampling_to_json(&s, TRUE, 0);
    SamplerParams back = sampler_default_params();
    gboolean has_seed = FALSE;
    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_sampling_from_json(json, &back, &has_seed, &error));
    g_assert_no_error(error);
    g_assert_true(has_seed);
    g_assert_cmpfloat(back.temperature, ==, 0.3f);
    g_assert_cmpint(back.top_k, ==, 17);
    g_assert_cmpfloat(back.min_p, ==, 0.05f);
    g_assert_cmpfloat(back.repetition_penalty, ==, 1.25f);
    g_assert_cmpfloat(back.presence_penalty, ==, 0.5f);
    g_assert_cmpfloat(back.frequency_penalty, ==, -0.25f);
    g_assert_cmpuint(back.seed, ==, G_MAXUINT64 - 5);

    // without the seed (the window's conversation settings): the seed stays the caller's
    g_autofree char *no_seed = ponder_sampling_to_json(&s, FALSE, 0);
    g_assert_null(strstr(no_seed, "seed"));
    back = sampler_default_params();
    back.seed = 42;
    g_assert_true(ponder_sampling_from_json(no_seed, &back, &has_seed, &error));
    g_assert_false(has_seed);
    g_assert_cmpuint(back.seed, ==, 42);

    // an older conversation's two members
    back = sampler_default_params();
    g_assert_true(
        ponder_sampling_from_json("{\"temperature\":1,\"top_p\":0.5}", &back, NULL, &error));
    g_assert_cmpfloat(back.temperature, ==, 1.0f);
    g_assert_cmpfloat(back.top_p, ==, 0.5f);
    g_assert_cmpfloat(back.min_p, ==, sampler_default_params().min_p);

    // wrong kinds: nothing changes
    const char *bad[] = {"{\"temperature\":\"hot\",\"top_k\":3}", "{\"top_k\":2.5}", "[1]",
                         "{\"seed\":true}", "0,6"};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        back = sampler_default_params();
        g_assert_false(ponder_sampling_from_json(bad[i], &back, NULL, &error));
        g_assert_nonnull(error);
        g_clear_error(&error);
        g_assert_cmpint(back.top_k, ==, sampler_default_params().top_k);
        g_assert_cmpfloat(back.temperature, ==, sampler_default_params().temperature);
    }
}

// A user whose locale writes 0.6 as "0,6" (de_DE, fr_FR, ru_RU, pt_BR...) sends a message
// with the conversation's own sampling, as the window does: it is answered, and the sampling
// stored with the answer is JSON. (It once failed: "The sampling settings are not valid JSON".)
static void test_send_in_comma_locale(void)
{
    char *previous = app_test_use_comma_locale();
    if (!previous) {
        g_test_skip("no comma-decimal locale is installed (tools/install-deps makes de_DE.UTF-8)");
        return;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(db_path, &error);
    g_assert_no_error(error);
    g_autoptr(PonderEngine) engine = new_engine();
    gint64 conversation = ponder_store_create_conversation(store, "Komma", &error);
    g_assert_true(ponder_store_set_settings(store, conversation,
                                            "{\"temperature\":0.6,\"top_p\":0.95}", &error));
    PonderReplyOptions options = {.max_tokens = 3, .ignore_eos = TRUE};
    g_autoptr(PonderReply) reply = ponder_reply_send(
        store, engine, conversation, 0, "Warum ist der Himmel blau?", &options, &error);
    g_assert_no_error(error);
    g_assert_nonnull(reply);
    wait_reply(reply);
    while (!ponder_reply_is_saved(reply))
        g_main_context_iteration(NULL, TRUE);
    app_test_restore_numeric_locale(previous);

    g_autoptr(PonderMessage) answer =
        ponder_store_get_message(store, ponder_reply_get_answer_id(reply), &error);
    g_assert_no_error(error);
    g_assert_cmpint(answer->finish, ==, PONDER_FINISH_LENGTH);
    g_assert_cmpint(answer->completion_tokens, ==, 3);
    g_autoptr(JsonNode) node = json_from_string(answer->sampling_json, &error);
    g_assert_no_error(error);
    JsonObject *o = json_node_get_object(node);
    g_assert_cmpfloat((float)json_object_get_double_member(o, "temperature"), ==, 0.6f);
    g_assert_cmpfloat((float)json_object_get_double_member(o, "top_p"), ==, 0.95f);
    g_assert_cmpint(json_object_get_int_member(o, "max_tokens"), ==, 3);
}

int main(int argc, char **argv)
{
    // The user's locale, as the app takes it (CI runs this test under de_DE.UTF-8 too).
    setlocale(LC_ALL, "");
    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("ponder-reply-XXXXXX", NULL);
    model_path = app_test_make_tiny_model(tmp_dir, 3);
    if (!model_path) {
        g_printerr("skipped: ../shared's R1 tokenizer is missing\n");
        app_test_remove_tree(tmp_dir);
        return 77;
    }
    db_path = g_build_filename(tmp_dir, "data", "ponder.db", NULL);
    g_test_add_func("/reply/send-streams-into-store", test_send_streams_into_store);
    g_test_add_func("/reply/regenerate-and-continue", test_regenerate_and_continue);
    g_test_add_func("/reply/stop-is-stored-as-cancelled", test_stop_is_stored_as_cancelled);
    g_test_add_func("/reply/regenerate-draws-a-new-seed", test_regenerate_draws_a_new_seed);
    g_test_add_func("/reply/sampling-json", test_sampling_json);
    g_test_add_func("/reply/sampling-json-read-back", test_sampling_json_read_back);
    g_test_add_func("/reply/send-in-comma-locale", test_send_in_comma_locale);
    int status = g_test_run();
    app_test_remove_tree(tmp_dir);
    g_free(model_path);
    g_free(db_path);
    g_free(tmp_dir);
    return status;
}
