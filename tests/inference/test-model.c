// The forward pass against llama.cpp: ../shared/models/ holds tiny qwen2 and llama models
// quantized by llama.cpp in every type, with llama.cpp's logits and greedy continuations;
// ../shared/models2/ tiny qwen3 models (q/k norms, head 128 ≠ embedding ÷ heads, tied
// output, the DeepSeek-V3 vocabulary) with ik_llama.cpp's logits, each file its own prompt.
// A wrong block layout or RoPE layout lands near 0.3-1.0 relative RMS; a correct engine
// within 0.01 (F16/BF16) and 0.05 (quantized types).
// ../shared/models2/ also holds every IQ weight type (qwen2 and qwen3 files); same bounds,
// argmax equal up to a near-tie of 0.1.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"
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

// FOLDER/NAME against REF: its logits under LOGITS_KEY after PROMPT, and (when REF has
// one) its greedy continuation.
static void check_file(const char *folder, const char *name, const JsonValue *ref,
                       const char *logits_key, const int32_t *prompt, uint32_t n_prompt)
{
    char path[512];
    snprintf(path, sizeof path, "%s", test_shared_path(folder));
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
    // the CPU backend's KV cache: K and V of every layer, f32 by default
    const PonderModelInfo *info = ponder_model_info(model);
    uint64_t kv_bytes = 2ull * info->n_layer * params.n_ctx * info->n_head_kv * info->head_dim * 4;
    CHECKF(ponder_context_kv_bytes(ctx) == kv_bytes, "%s: %llu bytes of KV cache, expected %llu",
           name, (unsigned long long)ponder_context_kv_bytes(ctx), (unsigned long long)kv_bytes);
    uint32_t n_vocab = info->n_vocab;
    const JsonValue *expected = json_get(ref, logits_key);
    CHECK(expected && expected->count == n_vocab);
    float *logits = malloc(n_vocab * sizeof(float));
    float *want = malloc(n_vocab * sizeof(float));
    for (uint32_t i = 0; i < n_vocab && expected && i < expected->count; i++)
        want[i] = (float)expected->items[i].number;

    int32_t seq = ponder_seq_new(ctx);
    PonderBatchEntry entry = {.seq = seq, .tokens = prompt, .n_tokens = n_prompt, .logits = logits};
    CHECKF(ponder_decode(ctx, &entry, 1, &err) == PONDER_OK, "%s", err.message);
    double rel = test_rel_rms(logits, want, n_vocab);
    printf("%-22s relative RMS vs reference %.5f (bound %.2f)\n", name, rel, bound_for(name));
    if (!json_get(ref, "llama_cpp_greedy")) { // models2: the argmax, up to a near-tie
        const JsonValue *w = expected;
        int32_t ours = sampler_argmax(logits, (int32_t)n_vocab);
        int32_t theirs = sampler_argmax(want, (int32_t)n_vocab);
        if (w && ours != theirs) {
            float gap = want[theirs] - want[ours];
            CHECKF(gap < 0.1f, "%s: argmax %d, reference %d (reference margin %.3f)", name, ours,
                   theirs, gap);
        }
    }
    CHECKF(rel <= bound_for(name), "%s: relative RMS %.4f", name, rel);

    // Greedy continuation: identical until a near-tie (top two within 0.1) allows a split.
    const JsonValue *greedy = json_get(ref, "llama_cpp_greedy");
    for (size_t i = 0; greedy && i < greedy->count; i++) {
        int32_t ours = sampler_argmax(logits, (int32_t)n_vocab);
        int32_t theirs = (int32_t)greedy->items[i].integer;
        if (ours != theirs) {
            float gap = logits[ours] - runner_up(logits, n_vocab, ours);
            CHECKF(gap < 0.1f, "%s: greedy token %zu is %d, llama.cpp %d (margin %.3f)", name, i,
                   ours, theirs, gap);
            printf("%-22s greedy agrees for %zu tokens, then a near-tie (margin %.3f)\n", name, i,
                   gap);
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

// Every file of ../shared/models2/: the qwen3 architecture and the IQ weight types.
static int check_models2(void)
{
    char err[256];
    JsonValue *ref = json_parse_file(test_shared_path("models2/reference.json"), err, sizeof err);
    CHECKF(ref != NULL, "models2/reference.json: %s", err);
    if (!ref)
        return 0;
    const JsonValue *files = json_get(ref, "files");
    int checked = 0;
    for (size_t f = 0; files && f < files->count; f++) {
        const char *name = files->keys[f];
        const JsonValue *ids = json_get(&files->items[f], "prompt_ids");
        CHECKF(ids && ids->count > 0 && ids->count <= 64, "%s: prompt_ids", name);
        if (!ids || ids->count == 0 || ids->count > 64)
            continue;
        int32_t prompt[64];
        for (size_t i = 0; i < ids->count; i++)
            prompt[i] = (int32_t)ids->items[i].integer;
        check_file("models2/", name, &files->items[f], "logits", prompt, (uint32_t)ids->count);
        checked++;
    }
    // ../shared: qwen3 in 18 types, qwen3t in 5, qwen2 in the 11 IQ types and mixes; the
    // committed subset: every IQ tensor type and both qwen3 shapes in 8 files
    int want = test_data_is_subset() ? 8 : 34;
    CHECKF(checked >= want, "only %d files in models2/reference.json (%d expected)", checked, want);
    json_free(ref);
    return checked;
}

int main(void)
{
    check_models2();

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
        check_file("models/", files->keys[f], &files->items[f], "llama_cpp_logits", prompt,
                   n_prompt);
    json_free(ref);
    return test_finish();
}
