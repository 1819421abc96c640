// The reference for the engine's tests: a plain greedy loop over the inference library (no
// engine, no threads), and the small steps of driving an engine from a test.
#include "app-test-greedy.h"

#include <stdlib.h>
#include <string.h>

static char *model_path;

void app_test_greedy_set_model(const char *path)
{
    g_free(model_path);
    model_path = g_strdup(path);
}

PonderModel *reference_model(void)
{
    static PonderModel *model;
    if (!model) {
        PonderError err = {0};
        model = ponder_model_load(model_path, &err);
        g_assert_nonnull(model);
    }
    return model;
}

// Greedy ids after PROMPT, N of them, through the library alone.
GArray *reference_greedy(const gint32 *prompt, guint n_prompt, guint n)
{
    return reference_greedy_forcing(prompt, n_prompt, n, G_MAXUINT, NULL);
}

GArray *reference_greedy_forcing(const gint32 *prompt, guint n_prompt, guint n, guint force_at,
                                 const GArray *forced)
{
    PonderModel *model = reference_model();
    PonderContextParams params = ponder_context_default_params();
    params.n_ctx = 512;
    params.n_threads = 1;
    params.kv_type = PONDER_KV_F16;
    PonderError err = {0};
    PonderContext *ctx = ponder_context_new(model, &params, &err);
    g_assert_nonnull(ctx);
    guint n_vocab = ponder_model_info(model)->n_vocab;
    g_autofree float *logits = g_new(float, n_vocab);
    int32_t seq = ponder_seq_new(ctx);
    PonderBatchEntry entry = {.seq = seq, .tokens = prompt, .n_tokens = n_prompt, .logits = logits};
    g_assert_cmpint(ponder_decode(ctx, &entry, 1, &err), ==, PONDER_OK);
    GArray *out = g_array_new(FALSE, FALSE, sizeof(gint32));
    for (guint i = 0; i < n; i++) {
        gint32 token = i >= force_at && forced && i - force_at < forced->len
                           ? g_array_index(forced, gint32, i - force_at)
                           : sampler_argmax(logits, (int32_t)n_vocab);
        g_array_append_val(out, token);
        entry = (PonderBatchEntry){.seq = seq, .tokens = &token, .n_tokens = 1, .logits = logits};
        g_assert_cmpint(ponder_decode(ctx, &entry, 1, &err), ==, PONDER_OK);
    }
    ponder_context_free(ctx);
    return out;
}

GArray *raw_prompt_ids(const char *text)
{
    const Tokenizer *tok = ponder_model_tokenizer(reference_model());
    int32_t *ids = NULL;
    int64_t n = tokenizer_encode(tok, text, strlen(text), false, &ids);
    g_assert_cmpint(n, >, 0);
    GArray *out = g_array_new(FALSE, FALSE, sizeof(gint32));
    if (tokenizer_add_bos(tok)) {
        gint32 bos = tokenizer_bos(tok);
        g_array_append_val(out, bos);
    }
    g_array_append_vals(out, ids, (guint)n);
    free(ids);
    return out;
}

GArray *chat_prompt_ids(const ChatMessage *messages, gsize n)
{
    int32_t *ids = NULL;
    char err[256];
    int64_t count = chat_build_prompt(ponder_model_tokenizer(reference_model()), messages, n, true,
                                      &ids, err, sizeof err);
    g_assert_cmpint(count, >, 0);
    GArray *out = g_array_new(FALSE, FALSE, sizeof(gint32));
    g_array_append_vals(out, ids, (guint)count);
    free(ids);
    return out;
}

char *reference_text(const GArray *prompt, guint n)
{
    g_autoptr(GArray) ids = reference_greedy((const gint32 *)prompt->data, prompt->len, n);
    char *text = tokenizer_decode(ponder_model_tokenizer(reference_model()),
                                  (const int32_t *)ids->data, ids->len);
    char *copy = g_strdup(text);
    free(text);
    return copy;
}

gboolean timed_out(gpointer data)
{
    g_error("the engine test timed out");
    return G_SOURCE_REMOVE;
}

// Iterates the main context until every generation has finished (or fails the test).
void wait_finished(PonderGeneration **generations, guint n)
{
    guint timeout = g_timeout_add_seconds(60, timed_out, NULL);
    for (;;) {
        guint done = 0;
        for (guint i = 0; i < n; i++)
            done += ponder_generation_is_finished(generations[i]);
        if (done == n)
            break;
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(timeout);
}

// Greedy sampling, exactly MAX_TOKENS tokens (end-of-sentence ignored).
static PonderGeneration *made_greedy(PonderGeneration *g, guint max_tokens)
{
    SamplerParams greedy = sampler_default_params();
    greedy.temperature = 0;
    ponder_generation_set_sampling(g, &greedy);
    ponder_generation_set_max_tokens(g, max_tokens);
    ponder_generation_set_ignore_eos(g, TRUE);
    return g;
}

PonderGeneration *greedy_raw(const char *text, guint max_tokens)
{
    return made_greedy(ponder_generation_new_raw(text), max_tokens);
}

PonderGeneration *greedy_chat(const ChatMessage *messages, gsize n, guint max_tokens)
{
    return made_greedy(ponder_generation_new_chat(messages, n, NULL), max_tokens);
}

void submit(PonderEngine *engine, PonderGeneration *g)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_engine_submit(engine, g, &error));
    g_assert_no_error(error);
}
