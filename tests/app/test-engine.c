// The engine thread and its scheduler on a tiny synthetic model on the CPU. The reference
// for every generated text is a plain greedy loop over the inference library (no engine,
// no threads), so batching, the prefix cache and streaming must not change a token.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app-test-engine.h"
#include "app-test-greedy.h"
#include "app-test-util.h"
#include "ponder-engine.h"

static char *model_path;
static char *tmp_dir;

// ---- driving the engine --------------------------------------------------------------

static PonderEngine *new_engine(guint n_parallel, guint max_queued, guint idle_seconds)
{
    PonderEngineSettings settings;
    app_test_cpu_engine_settings(&settings, 512, n_parallel);
    settings.max_queued = max_queued;
    settings.idle_unload_seconds = idle_seconds;
    settings.step_tokens = 32;
    PonderEngine *engine = ponder_engine_new(&settings);
    ponder_engine_set_model(engine, model_path);
    return engine;
}

// ---- tests ---------------------------------------------------------------------------

static const char *prompt_a = "The quick brown fox jumps over the lazy dog, and then";
static const char *prompt_b = "Once upon a time, in a land far away, there lived";

static void test_raw_matches_library(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 8, 0);
    g_autoptr(PonderGeneration) g = greedy_raw(prompt_a, 24);
    submit(engine, g);
    wait_finished(&g, 1);
    g_autoptr(GArray) prompt = raw_prompt_ids(prompt_a);
    g_autofree char *want = reference_text(prompt, 24);
    g_assert_cmpint(ponder_generation_get_finish_reason(g), ==, PONDER_FINISH_LENGTH);
    g_assert_cmpstr(ponder_generation_get_answer(g), ==, want);
    g_assert_cmpstr(ponder_generation_get_reasoning(g), ==, "");
    PonderGenerationStats stats;
    ponder_generation_get_stats(g, &stats);
    g_assert_cmpuint(stats.completion_tokens, ==, 24);
    g_assert_cmpuint(stats.prompt_tokens, ==, prompt->len);
    g_assert_cmpstr(ponder_engine_get_backend_name(engine), ==, "cpu");
    g_assert_cmpint(ponder_engine_get_state(engine), ==, PONDER_ENGINE_READY);
}

// A chat answer starts in the reasoning: the text up to "</think>" is reasoning, the rest
// the answer, as the reference's decoded text splits.
static void test_chat_splits_reasoning(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 8, 0);
    const ChatMessage question[] = {{CHAT_ROLE_USER, "Why is the sky blue?"}};
    g_autoptr(PonderGeneration) g = greedy_chat(question, 1, 20);
    submit(engine, g);
    wait_finished(&g, 1);
    g_autoptr(GArray) prompt = chat_prompt_ids(question, 1);
    g_autofree char *want = reference_text(prompt, 20);
    const char *end = strstr(want, "</think>");
    g_autofree char *want_reasoning = end ? g_strndup(want, (gsize)(end - want)) : g_strdup(want);
    g_assert_cmpstr(ponder_generation_get_reasoning(g), ==, want_reasoning);
    g_assert_cmpstr(ponder_generation_get_answer(g), ==, end ? end + strlen("</think>") : "");
    g_assert_cmpint(ponder_generation_get_finish_reason(g), ==, PONDER_FINISH_LENGTH);
    // Cut off by the length limit inside the reasoning: reported as such.
    g_assert_true(ponder_generation_ended_in_reasoning(g) == (end == NULL));
}

// Two clients at once, batched into the same steps: each gets what it would get alone.
static void test_concurrent_requests(void)
{
    g_autoptr(PonderEngine) engine = new_engine(2, 8, 0);
    g_autoptr(PonderGeneration) a = greedy_raw(prompt_a, 30);
    g_autoptr(PonderGeneration) b = greedy_raw(prompt_b, 30);
    ponder_generation_set_priority(b, PONDER_PRIORITY_API);
    submit(engine, a);
    submit(engine, b);
    PonderGeneration *both[] = {a, b};
    wait_finished(both, 2);
    g_autoptr(GArray) pa = raw_prompt_ids(prompt_a);
    g_autoptr(GArray) pb = raw_prompt_ids(prompt_b);
    g_autofree char *want_a = reference_text(pa, 30);
    g_autofree char *want_b = reference_text(pb, 30);
    g_assert_cmpstr(ponder_generation_get_answer(a), ==, want_a);
    g_assert_cmpstr(ponder_generation_get_answer(b), ==, want_b);
}

static void count_started(PonderGeneration *g, gpointer data)
{
    GPtrArray *order = data;
    g_ptr_array_add(order, g);
}

static void cancel_on_delta(PonderGeneration *g, const char *text, gpointer data)
{
    ponder_generation_cancel(g);
}

static void test_cancel_frees_the_slot(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 8, 0);
    g_autoptr(PonderGeneration) endless = greedy_raw(prompt_a, 100000);
    g_signal_connect(endless, "answer-delta", G_CALLBACK(cancel_on_delta), NULL);
    submit(engine, endless);
    wait_finished(&endless, 1);
    g_assert_cmpint(ponder_generation_get_finish_reason(endless), ==, PONDER_FINISH_CANCELLED);
    PonderGenerationStats stats;
    ponder_generation_get_stats(endless, &stats);
    g_assert_cmpuint(stats.completion_tokens, <, 100000);
    // The only slot is free again: the next request runs to the end.
    g_autoptr(PonderGeneration) next = greedy_raw(prompt_b, 5);
    submit(engine, next);
    wait_finished(&next, 1);
    g_assert_cmpint(ponder_generation_get_finish_reason(next), ==, PONDER_FINISH_LENGTH);
}

static void test_queue_limit_and_priority(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 2, 0);
    g_autoptr(GPtrArray) order = g_ptr_array_new();
    g_autoptr(PonderGeneration) running = greedy_raw(prompt_a, 100000);
    g_signal_connect(running, "started", G_CALLBACK(count_started), order);
    submit(engine, running);
    while (order->len == 0)
        g_main_context_iteration(NULL, TRUE);

    // One slot busy: the next two wait (the API one first in time), a third is refused.
    g_autoptr(PonderGeneration) api = greedy_raw(prompt_b, 3);
    ponder_generation_set_priority(api, PONDER_PRIORITY_API);
    g_autoptr(PonderGeneration) interactive = greedy_raw(prompt_b, 3);
    g_signal_connect(api, "started", G_CALLBACK(count_started), order);
    g_signal_connect(interactive, "started", G_CALLBACK(count_started), order);
    submit(engine, api);
    submit(engine, interactive);
    g_assert_cmpuint(ponder_engine_get_queue_depth(engine), ==, 2);
    g_autoptr(PonderGeneration) refused = greedy_raw(prompt_b, 3);
    g_autoptr(GError) error = NULL;
    g_assert_false(ponder_engine_submit(engine, refused, &error));
    g_assert_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BUSY);
    g_assert_nonnull(strstr(error->message, "busy"));

    ponder_generation_cancel(running);
    PonderGeneration *all[] = {running, api, interactive};
    wait_finished(all, 3);
    g_assert_cmpuint(order->len, ==, 3);
    // The window's request went before the API's, although it came later.
    g_assert_true(order->pdata[1] == interactive);
    g_assert_true(order->pdata[2] == api);
}

// The next turn of a conversation re-uses the KV cache of the tokens already processed;
// with two slots, a conversation in between does not evict it; with one, it does (LRU).
static void run_turns(guint n_parallel, gboolean expect_reuse)
{
    g_autoptr(PonderEngine) engine = new_engine(n_parallel, 8, 0);
    const ChatMessage first[] = {{CHAT_ROLE_USER, "Tell me about the moon."}};
    g_autoptr(PonderGeneration) t1 = greedy_chat(first, 1, 12);
    submit(engine, t1);
    wait_finished(&t1, 1);

    const ChatMessage other[] = {{CHAT_ROLE_USER, "An unrelated question about cooking pasta."}};
    g_autoptr(PonderGeneration) o = greedy_chat(other, 1, 4);
    submit(engine, o);
    wait_finished(&o, 1);

    const ChatMessage second[] = {
        first[0],
        {CHAT_ROLE_ASSISTANT, chat_strip_reasoning(ponder_generation_get_answer(t1))},
        {CHAT_ROLE_USER, "And about the sun?"}};
    g_autoptr(PonderGeneration) t2 = greedy_chat(second, 3, 4);
    submit(engine, t2);
    wait_finished(&t2, 1);

    // What the cache can hold of turn 2: its common prefix with turn 1's prompt.
    g_autoptr(GArray) p1 = chat_prompt_ids(first, 1);
    g_autoptr(GArray) p2 = chat_prompt_ids(second, 3);
    g_autoptr(GArray) po = chat_prompt_ids(other, 1);
    guint shared = 0, shared_other = 0;
    while (shared < MIN(p1->len, p2->len) &&
           g_array_index(p1, gint32, shared) == g_array_index(p2, gint32, shared))
        shared++;
    while (shared_other < MIN(po->len, p2->len) &&
           g_array_index(po, gint32, shared_other) == g_array_index(p2, gint32, shared_other))
        shared_other++;
    g_assert_cmpuint(shared, >, shared_other);

    PonderGenerationStats stats;
    ponder_generation_get_stats(t2, &stats);
    g_assert_cmpuint(stats.prompt_tokens, ==, p2->len);
    g_assert_cmpuint(stats.cached_tokens, ==, expect_reuse ? shared : shared_other);
    g_assert_cmpuint(stats.prefill_tokens, ==, p2->len - stats.cached_tokens);
    // And the answer is the one computed from scratch.
    g_autofree char *want = reference_text(p2, 4);
    g_autofree char *got =
        g_strconcat(ponder_generation_get_reasoning(t2), ponder_generation_get_answer(t2), NULL);
    if (!strstr(want, "</think>"))
        g_assert_cmpstr(got, ==, want);
}

static void test_prefix_cache_reuse(void)
{
    run_turns(2, TRUE);
}

static void test_prefix_cache_lru_eviction(void)
{
    run_turns(1, FALSE);
}

// Stop strings end the answer before the match, also when it arrives across tokens.
static void test_stop_string(void)
{
    g_autoptr(GArray) prompt = raw_prompt_ids(prompt_a);
    g_autofree char *want = reference_text(prompt, 40);
    gsize len = strlen(want);
    g_assert_cmpuint(len, >, 20);
    // A stop string taken from the middle of the reference text.
    g_autofree char *stop = g_strndup(want + len / 2, 5);
    const char *first = strstr(want, stop);
    g_autofree char *expected = g_strndup(want, (gsize)(first - want));

    g_autoptr(PonderEngine) engine = new_engine(1, 8, 0);
    g_autoptr(PonderGeneration) g = greedy_raw(prompt_a, 40);
    const char *stops[] = {"never appears at all", stop, NULL};
    ponder_generation_set_stop(g, stops);
    submit(engine, g);
    wait_finished(&g, 1);
    g_assert_cmpint(ponder_generation_get_finish_reason(g), ==, PONDER_FINISH_STOP);
    g_assert_cmpstr(ponder_generation_get_answer(g), ==, expected);
}

static void test_prompt_too_long(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 8, 0);
    GString *text = g_string_new(NULL);
    for (int i = 0; i < 1200; i++)
        g_string_append(text, "word ");
    const ChatMessage huge[] = {{CHAT_ROLE_USER, text->str}};
    g_autoptr(PonderGeneration) g = greedy_chat(huge, 1, 10);
    submit(engine, g);
    wait_finished(&g, 1);
    g_string_free(text, TRUE);
    g_assert_cmpint(ponder_generation_get_finish_reason(g), ==, PONDER_FINISH_ERROR);
    const GError *error = ponder_generation_get_error(g);
    g_assert_error((GError *)error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_PROMPT_TOO_LONG);
    g_assert_nonnull(strstr(error->message, "too long"));
}

// However fast the model runs, the UI sees at most about one delta per 16 ms frame.
static void test_deltas_coalesced(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 8, 0);
    g_autoptr(PonderGeneration) g = greedy_raw(prompt_a, 200);
    submit(engine, g);
    gint64 t0 = g_get_monotonic_time();
    wait_finished(&g, 1);
    gint64 elapsed_ms = (g_get_monotonic_time() - t0) / 1000;
    PonderGenerationStats stats;
    ponder_generation_get_stats(g, &stats);
    g_assert_cmpuint(stats.completion_tokens, ==, 200);
    g_test_message("200 tokens in %" G_GINT64_FORMAT " ms, %u deltas", elapsed_ms,
                   stats.deltas_emitted);
    g_assert_cmpuint(stats.deltas_emitted, <=, elapsed_ms / 16 + 3);
    g_assert_cmpuint(stats.deltas_emitted, >=, 1);
}

static void test_idle_unload_and_reload(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 8, 1);
    g_autoptr(PonderGeneration) g = greedy_raw(prompt_a, 3);
    submit(engine, g);
    wait_finished(&g, 1);
    g_assert_cmpint(ponder_engine_get_state(engine), ==, PONDER_ENGINE_READY);
    guint timeout = g_timeout_add_seconds(20, timed_out, NULL);
    while (ponder_engine_get_state(engine) != PONDER_ENGINE_UNLOADED)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(timeout);
    // The next request loads it again.
    g_autoptr(PonderGeneration) again = greedy_raw(prompt_a, 3);
    submit(engine, again);
    wait_finished(&again, 1);
    g_assert_cmpstr(ponder_generation_get_answer(again), ==, ponder_generation_get_answer(g));
    PonderGenerationStats stats;
    ponder_generation_get_stats(again, &stats);
    g_assert_cmpint(stats.load_us, >, 0);
}

static void test_eject_cancels_running(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1, 8, 0);
    g_autoptr(GPtrArray) order = g_ptr_array_new();
    g_autoptr(PonderGeneration) endless = greedy_raw(prompt_a, 100000);
    g_signal_connect(endless, "started", G_CALLBACK(count_started), order);
    submit(engine, endless);
    while (order->len == 0)
        g_main_context_iteration(NULL, TRUE);
    ponder_engine_eject(engine);
    wait_finished(&endless, 1);
    g_assert_cmpint(ponder_generation_get_finish_reason(endless), ==, PONDER_FINISH_CANCELLED);
    g_assert_error((GError *)ponder_generation_get_error(endless), PONDER_ENGINE_ERROR,
                   PONDER_ENGINE_ERROR_EJECTED);
    while (ponder_engine_get_state(engine) != PONDER_ENGINE_UNLOADED)
        g_main_context_iteration(NULL, TRUE);
}

static void test_bad_model_and_no_model(void)
{
    PonderEngineSettings settings;
    ponder_engine_settings_init(&settings);
    settings.backend = PONDER_BACKEND_CHOICE_CPU;
    g_autoptr(PonderEngine) engine = ponder_engine_new(&settings);
    g_autoptr(PonderGeneration) g = greedy_raw(prompt_a, 3);
    g_autoptr(GError) error = NULL;
    g_assert_false(ponder_engine_submit(engine, g, &error));
    g_assert_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_NO_MODEL);

    g_autofree char *missing = g_build_filename(tmp_dir, "missing.gguf", NULL);
    ponder_engine_set_model(engine, missing);
    guint timeout = g_timeout_add_seconds(20, timed_out, NULL);
    while (ponder_engine_get_state(engine) != PONDER_ENGINE_FAILED)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(timeout);
    g_assert_nonnull(strstr(ponder_engine_get_last_error(engine)->message, "missing.gguf"));
    submit(engine, g);
    wait_finished(&g, 1);
    g_assert_cmpint(ponder_generation_get_finish_reason(g), ==, PONDER_FINISH_ERROR);
    g_assert_error((GError *)ponder_generation_get_error(g), PONDER_ENGINE_ERROR,
                   PONDER_ENGINE_ERROR_LOAD);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("ponder-engine-XXXXXX", NULL);
    model_path = app_test_make_tiny_model(tmp_dir, 7);
    app_test_greedy_set_model(model_path);
    if (!model_path) {
        g_printerr("skipped: ../shared's R1 tokenizer is missing\n");
        app_test_remove_tree(tmp_dir);
        return 77;
    }

    g_test_add_func("/engine/raw-matches-library", test_raw_matches_library);
    g_test_add_func("/engine/chat-splits-reasoning", test_chat_splits_reasoning);
    g_test_add_func("/engine/concurrent-requests", test_concurrent_requests);
    g_test_add_func("/engine/cancel-frees-the-slot", test_cancel_frees_the_slot);
    g_test_add_func("/engine/queue-limit-and-priority", test_queue_limit_and_priority);
    g_test_add_func("/engine/prefix-cache-reuse", test_prefix_cache_reuse);
    g_test_add_func("/engine/prefix-cache-lru-eviction", test_prefix_cache_lru_eviction);
    g_test_add_func("/engine/stop-string", test_stop_string);
    g_test_add_func("/engine/prompt-too-long", test_prompt_too_long);
    g_test_add_func("/engine/deltas-coalesced", test_deltas_coalesced);
    g_test_add_func("/engine/idle-unload-and-reload", test_idle_unload_and_reload);
    g_test_add_func("/engine/eject-cancels-running", test_eject_cancels_running);
    g_test_add_func("/engine/bad-model-and-no-model", test_bad_model_and_no_model);
    int status = g_test_run();

    if (reference_model())
        ponder_model_free(reference_model());
    app_test_remove_tree(tmp_dir);
    g_free(model_path);
    g_free(tmp_dir);
    return status;
}
