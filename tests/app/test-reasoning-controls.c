// The engine's control of the reasoning on a tiny synthetic model on the CPU: a thinking
// budget, "Answer now" and the loop guard close the reasoning with the template's closing
// tokens ("\n</think>\n\n") and the answer follows. The reference for every text is greedy
// decoding through the inference library alone, with the closing fed where the engine
// should have fed it.
#include <stdlib.h>
#include <string.h>

#include "app-test-engine.h"
#include "app-test-greedy.h"
#include "app-test-util.h"
#include "ponder-engine.h"

enum { N_CTX = 512 };

static char *model_path;
static char *tmp_dir;

static const ChatMessage question[] = {{CHAT_ROLE_USER, "Why is the sky blue?"}};
static const ChatMessage other_question[] = {{CHAT_ROLE_USER, "Name three prime numbers."}};

static PonderEngine *new_engine(guint n_parallel)
{
    PonderEngineSettings settings;
    app_test_cpu_engine_settings(&settings, N_CTX, n_parallel);
    settings.step_tokens = 32;
    PonderEngine *engine = ponder_engine_new(&settings);
    ponder_engine_set_model(engine, model_path);
    return engine;
}

static int32_t end_think_id(void)
{
    int32_t id = tokenizer_find(ponder_model_tokenizer(reference_model()), "</think>");
    g_assert_cmpint(id, >=, 0);
    return id;
}

// The closing as the template writes it: "\n", "</think>", "\n\n", each tokenized here.
static GArray *closing_ids(void)
{
    const Tokenizer *tok = ponder_model_tokenizer(reference_model());
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint32));
    const char *parts[] = {"\n", NULL, "\n\n"};
    for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
        if (!parts[i]) {
            int32_t end = end_think_id();
            g_array_append_val(ids, end);
            continue;
        }
        int32_t *out = NULL;
        int64_t n = tokenizer_encode(tok, parts[i], strlen(parts[i]), false, &out);
        g_assert_cmpint(n, >, 0);
        g_array_append_vals(ids, out, (guint)n);
        free(out);
    }
    return ids;
}

// The closing's tokens that count as reasoning: through "</think>".
static guint closing_reasoning_tokens(void)
{
    g_autoptr(GArray) closing = closing_ids();
    for (guint i = 0; i < closing->len; i++)
        if (g_array_index(closing, gint32, i) == end_think_id())
            return i + 1;
    g_assert_not_reached();
}

// What greedy decoding writes in TOTAL tokens after PROMPT when the closing is fed after
// the first K: the generated ids (K greedy, the closing, the rest greedy).
static GArray *reference_closed_at(const GArray *prompt, guint k, guint total)
{
    g_autoptr(GArray) closing = closing_ids();
    g_assert_cmpuint(k + closing->len, <, total);
    GArray *ids =
        reference_greedy_forcing((const gint32 *)prompt->data, prompt->len, total, k, closing);
    for (guint i = 0; i < k; i++)
        g_assert_cmpint(g_array_index(ids, gint32, i), !=, end_think_id()); // not the model's own
    return ids;
}

// G's reasoning and answer are IDS' text split at the first "</think>".
static void assert_texts(PonderGeneration *g, const GArray *ids)
{
    char *text = tokenizer_decode(ponder_model_tokenizer(reference_model()),
                                  (const int32_t *)ids->data, ids->len);
    const char *end = strstr(text, "</think>");
    g_assert_nonnull(end);
    g_autofree char *reasoning = g_strndup(text, (gsize)(end - text));
    g_assert_cmpstr(ponder_generation_get_reasoning(g), ==, reasoning);
    g_assert_cmpstr(ponder_generation_get_answer(g), ==, end + strlen("</think>"));
    free(text);
}

static PonderGenerationStats stats_of(PonderGeneration *g)
{
    PonderGenerationStats stats;
    ponder_generation_get_stats(g, &stats);
    return stats;
}

// A budget of B: exactly B reasoning tokens, then the closing, then the answer; the
// reasoning count includes the closing through "</think>". Budget 0: an empty reasoning.
static void test_budget(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1);
    g_autoptr(GArray) prompt = chat_prompt_ids(question, 1);
    const guint budgets[] = {0, 5, 11};
    for (guint i = 0; i < G_N_ELEMENTS(budgets); i++) {
        g_autoptr(PonderGeneration) g = greedy_chat(question, 1, 30);
        ponder_generation_set_reasoning_budget(g, (gint)budgets[i]);
        submit(engine, g);
        wait_finished(&g, 1);
        g_autoptr(GArray) want = reference_closed_at(prompt, budgets[i], 30);
        assert_texts(g, want);
        PonderGenerationStats stats = stats_of(g);
        g_assert_cmpuint(stats.reasoning_tokens, ==, budgets[i] + closing_reasoning_tokens());
        g_assert_cmpint(stats.reasoning_end, ==, PONDER_REASONING_END_BUDGET);
        g_assert_cmpuint(stats.completion_tokens, ==, 30);
        g_assert_cmpint(ponder_generation_get_finish_reason(g), ==, PONDER_FINISH_LENGTH);
        g_assert_false(ponder_generation_ended_in_reasoning(g));
    }
    // budget 0, the empty block: the reasoning is the closing's own newline
    g_autoptr(PonderGeneration) g = greedy_chat(question, 1, 8);
    ponder_generation_set_reasoning_budget(g, 0);
    submit(engine, g);
    wait_finished(&g, 1);
    g_assert_cmpstr(ponder_generation_get_reasoning(g), ==, "\n");
}

// A budget at or above max_tokens never triggers: the request ends by length as without.
static void test_budget_beyond_max_tokens(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1);
    g_autoptr(PonderGeneration) g = greedy_chat(question, 1, 12);
    ponder_generation_set_reasoning_budget(g, 12);
    submit(engine, g);
    wait_finished(&g, 1);
    g_autoptr(GArray) prompt = chat_prompt_ids(question, 1);
    g_autofree char *want = reference_text(prompt, 12);
    g_assert_null(strstr(want, "</think>"));
    g_assert_cmpstr(ponder_generation_get_reasoning(g), ==, want);
    PonderGenerationStats stats = stats_of(g);
    g_assert_cmpint(stats.reasoning_end, ==, PONDER_REASONING_END_NONE);
    g_assert_cmpuint(stats.reasoning_tokens, ==, 12);
    g_assert_true(ponder_generation_ended_in_reasoning(g));
}

// Two sequences in one batch, each with its own budget, close each at its own.
static void test_budgets_in_one_batch(void)
{
    g_autoptr(PonderEngine) engine = new_engine(2);
    g_autoptr(PonderGeneration) a = greedy_chat(question, 1, 28);
    g_autoptr(PonderGeneration) b = greedy_chat(other_question, 1, 28);
    ponder_generation_set_reasoning_budget(a, 3);
    ponder_generation_set_reasoning_budget(b, 9);
    submit(engine, a);
    submit(engine, b);
    PonderGeneration *both[] = {a, b};
    wait_finished(both, 2);
    g_autoptr(GArray) pa = chat_prompt_ids(question, 1);
    g_autoptr(GArray) pb = chat_prompt_ids(other_question, 1);
    g_autoptr(GArray) want_a = reference_closed_at(pa, 3, 28);
    g_autoptr(GArray) want_b = reference_closed_at(pb, 9, 28);
    assert_texts(a, want_a);
    assert_texts(b, want_b);
    g_assert_cmpuint(stats_of(a).reasoning_tokens, ==, 3 + closing_reasoning_tokens());
    g_assert_cmpuint(stats_of(b).reasoning_tokens, ==, 9 + closing_reasoning_tokens());
}

// The presets, each capped so that 1,024 tokens of the context stay for the answer.
static void test_effort_presets(void)
{
    const struct {
        PonderReasoningEffort effort;
        gint roomy, tight; // 16,384-token context, 4,096-token context; 100 of prompt
    } cases[] = {
        {PONDER_REASONING_EFFORT_DEFAULT, -1, -1},
        {PONDER_REASONING_EFFORT_NONE, 0, 0},
        {PONDER_REASONING_EFFORT_MINIMAL, 256, 256},
        {PONDER_REASONING_EFFORT_LOW, 1024, 1024},
        {PONDER_REASONING_EFFORT_MEDIUM, 4096, 2972},
        {PONDER_REASONING_EFFORT_HIGH, 12288, 2972},
        {PONDER_REASONING_EFFORT_UNLIMITED, 15260, 2972},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpint(ponder_reasoning_effort_budget(cases[i].effort, 16384, 100), ==,
                        cases[i].roomy);
        g_assert_cmpint(ponder_reasoning_effort_budget(cases[i].effort, 4096, 100), ==,
                        cases[i].tight);
    }
    // a prompt that leaves less than the answer's share: no thinking at all
    g_assert_cmpint(ponder_reasoning_effort_budget(PONDER_REASONING_EFFORT_HIGH, 4096, 3500), ==,
                    0);

    // In the engine: this test's 512-token context leaves no room beyond the answer's 1,024,
    // so "low" answers at once, as budget 0 does.
    g_autoptr(PonderEngine) engine = new_engine(1);
    g_autoptr(PonderGeneration) g = greedy_chat(question, 1, 20);
    ponder_generation_set_reasoning_effort(g, PONDER_REASONING_EFFORT_LOW);
    submit(engine, g);
    wait_finished(&g, 1);
    g_autoptr(GArray) prompt = chat_prompt_ids(question, 1);
    g_autoptr(GArray) want = reference_closed_at(prompt, 0, 20);
    assert_texts(g, want);
    g_assert_cmpint(stats_of(g).reasoning_end, ==, PONDER_REASONING_END_BUDGET);
}

static void answer_now_on_delta(PonderGeneration *g, const char *text, gpointer data)
{
    ponder_generation_answer_now(g);
}

// "Answer now" while the reasoning streams: closed at the next step, the answer follows the
// reasoning written so far (wherever that was, the texts match the reference closed there).
static void test_answer_now(void)
{
    g_autoptr(PonderEngine) engine = new_engine(1);
    g_autoptr(PonderGeneration) g = greedy_chat(question, 1, 120);
    g_signal_connect(g, "reasoning-delta", G_CALLBACK(answer_now_on_delta), NULL);
    submit(engine, g);
    wait_finished(&g, 1);
    PonderGenerationStats stats = stats_of(g);
    g_assert_cmpint(stats.reasoning_end, ==, PONDER_REASONING_END_ANSWER_NOW);
    guint k = stats.reasoning_tokens - closing_reasoning_tokens();
    g_assert_cmpuint(k, >=, 1);
    g_assert_cmpuint(k, <, 100);
    g_autoptr(GArray) prompt = chat_prompt_ids(question, 1);
    g_autoptr(GArray) want = reference_closed_at(prompt, k, 120);
    assert_texts(g, want);
}

// Where the last tokens of IDS[0..n) are one span of 16-64 tokens written 4 times.
static gboolean ends_in_loop(const gint32 *ids, guint n)
{
    for (guint span = 16; span <= 64; span++) {
        if (4 * span > n)
            break;
        gboolean same = TRUE;
        for (guint copy = 1; copy < 4 && same; copy++)
            same = memcmp(ids + n - span, ids + n - (copy + 1) * span, span * sizeof *ids) == 0;
        if (same)
            return TRUE;
    }
    return FALSE;
}

// The loop guard closes reasoning that went round in a circle, at the step after the fourth
// copy of the span; off, the same request runs on. Greedy decoding of the tiny model falls
// into such a circle; where it does is found here from the reference alone.
static void test_loop_guard(void)
{
    enum { TOTAL = 440 };
    const ChatMessage *questions[] = {question, other_question};
    for (guint q = 0; q < G_N_ELEMENTS(questions); q++) {
        g_autoptr(GArray) prompt = chat_prompt_ids(questions[q], 1);
        g_autoptr(GArray) free_run =
            reference_greedy((const gint32 *)prompt->data, prompt->len, TOTAL);
        guint loop_at = 0;
        for (guint n = 64; n < TOTAL - 8 && !loop_at; n++) {
            if (g_array_index(free_run, gint32, n - 1) == end_think_id())
                break; // the model closed its reasoning first
            if (ends_in_loop((const gint32 *)free_run->data, n))
                loop_at = n;
        }
        g_autoptr(PonderEngine) engine = new_engine(1);
        g_autoptr(PonderGeneration) guarded = greedy_chat(questions[q], 1, TOTAL);
        ponder_generation_set_loop_guard(guarded, TRUE);
        submit(engine, guarded);
        wait_finished(&guarded, 1);
        PonderGenerationStats stats = stats_of(guarded);
        if (!loop_at) {
            g_test_message("no loop in the reference of question %u", q);
            g_assert_cmpint(stats.reasoning_end, !=, PONDER_REASONING_END_LOOP);
            continue;
        }
        g_assert_cmpint(stats.reasoning_end, ==, PONDER_REASONING_END_LOOP);
        g_assert_cmpuint(stats.reasoning_tokens, ==, loop_at + closing_reasoning_tokens());
        g_autoptr(GArray) want = reference_closed_at(prompt, loop_at, TOTAL);
        assert_texts(guarded, want);
        return; // one circle closed is the proof; the other question is not needed
    }
    g_test_fail_printf("the tiny model's greedy reasoning never went round in a circle: the "
                       "loop guard was not exercised");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("ponder-reasoning-XXXXXX", NULL);
    model_path = app_test_make_tiny_model(tmp_dir, 7);
    if (!model_path) {
        g_printerr("skipped: ../shared's R1 tokenizer is missing\n");
        app_test_remove_tree(tmp_dir);
        return 77;
    }
    app_test_greedy_set_model(model_path);
    g_test_add_func("/reasoning/budget", test_budget);
    g_test_add_func("/reasoning/budget-beyond-max-tokens", test_budget_beyond_max_tokens);
    g_test_add_func("/reasoning/budgets-in-one-batch", test_budgets_in_one_batch);
    g_test_add_func("/reasoning/effort-presets", test_effort_presets);
    g_test_add_func("/reasoning/answer-now", test_answer_now);
    g_test_add_func("/reasoning/loop-guard", test_loop_guard);
    int status = g_test_run();
    app_test_remove_tree(tmp_dir);
    g_free(model_path);
    return status;
}
