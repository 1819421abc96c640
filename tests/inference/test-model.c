// The forward pass against llama.cpp: ../shared/models/ holds tiny qwen2 and llama models
// quantized by llama.cpp in every type, with llama.cpp's logits and greedy continuations.
// A wrong block layout or RoPE layout lands near 0.3-1.0 relative RMS; a correct engine
// within 0.01 (F16/BF16) and 0.05 (quantized types).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ponder-infer.h"
#include "test-util.h"

static double bound_for(const char *file)
{
    return strstr(file, "f16") || strstr(file, "bf16") ? 0.01 : 0.05;
}

// Second-largest logit, to tell a near-tie from a real disagreement.
static float runner_up(const float *logits, uint32_t n, int32_t best)
{
    float second = -INFINITY;
    for (uint32_t i = 0; i < n; i++)
        if ((int32_t)i != best && logits[i] > second)
            second = logits[i];
    return second;
}

static void check_file(const char *name, const JsonValue *ref, const int32_t *prompt, uint32_t n_prompt)
{
    char path[512];
    snprintf(path, sizeof path, "%s", test_shared_path("models/"));
    strncat(path, name, sizeof path - strlen(path) - 1);
    PonderError err = {0};
    PonderModel *model = ponder_model_load(path, &err);
    CHECKF(model != NULL, "%s: %s", name, err.message);
    if (!model)
        return;
    PonderContextParams params = ponder_context_default_params();
    params.n_ctx = 64;
    params.n_threads = 2;
    PonderContext *ctx = ponder_context_new(model, &params, &err);
    CHECKF(ctx != NULL, "%s: %s", name, err.message);
    if (!ctx) {
        ponder_model_free(model);
        return;
    }
    uint32_t n_vocab = ponder_model_info(model)->n_vocab;
    const JsonValue *expected = json_get(ref, "llama_cpp_logits");
    CHECK(expected && expected->count == n_vocab);
    float *logits = malloc(n_vocab * sizeof(float));
    float *want = malloc(n_vocab * sizeof(float));
    for (uint32_t i = 0; i < n_vocab && expected && i < expected->count; i++)
        want[i] = (float)expected->items[i].number;

    int32_t seq = ponder_seq_new(ctx);
    PonderBatchEntry entry = {.seq = seq, .tokens = prompt, .n_tokens = n_prompt, .logits = logits};
    CHECKF(ponder_decode(ctx, &entry, 1, &err) == PONDER_OK, "%s", err.message);
    double rel = test_rel_rms(logits, want, n_vocab);
    printf("%-22s relative RMS vs llama.cpp %.5f (bound %.2f)\n", name, rel, bound_for(name));
    CHECKF(rel <= bound_for(name), "%s: relative RMS %.4f", name, rel);

    // Greedy continuation: identical until a near-tie (top two within 0.1) allows a split.
    const JsonValue *greedy = json_get(ref, "llama_cpp_greedy");
    for (size_t i = 0; greedy && i < greedy->count; i++) {
        int32_t ours = sampler_argmax(logits, (int32_t)n_vocab);
        int32_t theirs = (int32_t)greedy->items[i].integer;
        if (ours != theirs) {
            float gap = logits[ours] - runner_up(logits, n_vocab, ours);
            CHECKF(gap < 0.1f, "%s: greedy token %zu is %d, llama.cpp %d (margin %.3f)", name, i, ours,
                   theirs, gap);
            printf("%-22s greedy agrees for %zu tokens, then a near-tie (margin %.3f)\n", name, i, gap);
            break;
        }
        entry = (PonderBatchEntry){.seq = seq, .tokens = &ours, .n_tokens = 1, .logits = logits};
        if (ponder_decode(ctx, &entry, 1, &err) != PONDER_OK) {
            CHECKF(false, "%s", err.message);
            break;
        }
    }
    free(logits);
    free(want);
    ponder_context_free(ctx);
    ponder_model_free(model);
}

int main(void)
{
    char err[256];
    JsonValue *ref = json_parse_file(test_shared_path("models/reference.json"), err, sizeof err);
    if (!ref)
        return test_skip("../shared/models/reference.json not readable");
    const JsonValue *ids = json_get(ref, "prompt_ids");
    const JsonValue *files = json_get(ref, "files");
    CHECK(ids && files);
    if (!ids || !files)
        return test_finish();
    test_check_model_set(files->keys, files->count);
    int32_t prompt[64];
    uint32_t n_prompt = 0;
    for (size_t i = 0; i < ids->count && i < 64; i++)
        prompt[n_prompt++] = (int32_t)ids->items[i].integer;
    for (size_t f = 0; f < files->count; f++)
        check_file(files->keys[f], &files->items[f], prompt, n_prompt);
    json_free(ref);
    return test_finish();
}
