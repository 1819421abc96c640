// The CPU forward pass against Hugging Face `transformers`: tests/data/hf-tiny-*/ hold tiny
// random Qwen2 / Llama checkpoints with the logits transformers computed from them in
// float64 (tools/make-hf-fixtures.py, run on the GPU machine). Each checkpoint is
// converted to an F32 GGUF with our converter, loaded, and run on the prompt:
//   - the prompt's ids from our tokenizer and chat format equal transformers' ids;
//   - the logits at every prompt position are within 1e-4 relative RMS of transformers';
//   - the 32-token greedy continuation is identical (the fixtures' seeds were chosen so
//     that no step is a near-tie).
// Every decode is also repeated with the KV cache in F16 (bound 1e-2): the cache types the
// app uses by default must not drift either.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/json.h"
#include "model-tools/model-files.h"
#include "ponder-infer.h"
#include "test-util.h"

static char tmp_dir[] = "/tmp/ponder-forward-hf-XXXXXX";

// Reads N floats (little-endian float32, as the fixture writes them).
static float *read_f32_file(const char *path, size_t n)
{
    size_t len = 0;
    char *bytes = test_read_file(path, &len);
    if (!bytes || len != n * sizeof(float)) {
        free(bytes);
        return NULL;
    }
    float *out = malloc(len);
    memcpy(out, bytes, len);
    free(bytes);
    return out;
}

static uint32_t ids_from_json(const JsonValue *array, int32_t *out, uint32_t max)
{
    uint32_t n = 0;
    for (size_t i = 0; array && i < array->count && n < max; i++)
        out[n++] = (int32_t)array->items[i].integer;
    return n;
}

// The prompt built by our chat format must be the one transformers was given: the
// fixture's prompt is "<｜User｜>MSG<｜Assistant｜><think>\n" after BOS.
static void check_prompt_ids(const PonderModel *model, const char *text, const int32_t *want,
                             uint32_t n_want, const char *name)
{
    const char *user = "<｜User｜>", *assistant = "<｜Assistant｜>";
    const char *begin = strstr(text, user), *end = strstr(text, assistant);
    CHECKF(begin && end && end > begin, "%s: prompt_text is not a one-turn R1 prompt", name);
    if (!begin || !end || end <= begin)
        return;
    begin += strlen(user);
    char *message = strndup(begin, (size_t)(end - begin));
    ChatMessage turn = {.role = CHAT_ROLE_USER, .text = message};
    int32_t *ids = NULL;
    char err[256];
    int64_t n =
        chat_build_prompt(ponder_model_tokenizer(model), &turn, 1, true, &ids, err, sizeof err);
    CHECKF(n >= 0, "%s: %s", name, err);
    bool same = n == (int64_t)n_want && memcmp(ids, want, n_want * sizeof(int32_t)) == 0;
    CHECKF(same, "%s: chat prompt has %lld ids, transformers %u (or they differ)", name,
           (long long)n, n_want);
    free(ids);
    free(message);
}

typedef struct Fixture {
    const char *name;
    const char *prompt_text; // after BOS, markers included
    uint32_t n_vocab;
    int32_t prompt[256];
    uint32_t n_prompt;
    int32_t greedy[64];
    uint32_t n_greedy;
    float *logits; // [n_prompt][n_vocab]
} Fixture;

static void check_run(const char *gguf, const Fixture *fx, PonderKvType kv_type, double bound)
{
    const char *kv_name = kv_type == PONDER_KV_F32 ? "f32" : "f16";
    PonderError err = {0};
    PonderModel *model = ponder_model_load(gguf, &err);
    CHECKF(model != NULL, "%s: %s", fx->name, err.message);
    if (!model)
        return;
    CHECKF(ponder_model_info(model)->n_vocab == fx->n_vocab, "%s: n_vocab %u, want %u", fx->name,
           ponder_model_info(model)->n_vocab, fx->n_vocab);
    if (kv_type == PONDER_KV_F32)
        check_prompt_ids(model, fx->prompt_text, fx->prompt, fx->n_prompt, fx->name);

    PonderContextParams params = ponder_context_default_params();
    params.n_ctx = 128;
    params.n_threads = 2;
    params.kv_type = kv_type;
    // Small chunks, so the prompt crosses chunk boundaries as long prompts do.
    params.prefill_chunk = 7;
    PonderContext *ctx = ponder_context_new(model, &params, &err);
    CHECKF(ctx != NULL, "%s: %s", fx->name, err.message);
    if (!ctx) {
        ponder_model_free(model);
        return;
    }
    float *logits = malloc((size_t)fx->n_prompt * fx->n_vocab * sizeof(float));
    int32_t seq = ponder_seq_new(ctx);
    PonderBatchEntry entry = {.seq = seq,
                              .tokens = fx->prompt,
                              .n_tokens = fx->n_prompt,
                              .logits = logits,
                              .all_logits = true};
    PonderStatus status = ponder_decode(ctx, &entry, 1, &err);
    CHECKF(status == PONDER_OK, "%s: %s", fx->name, err.message);
    double worst = 0;
    for (uint32_t pos = 0; status == PONDER_OK && pos < fx->n_prompt; pos++) {
        double rel = test_rel_rms(logits + (size_t)pos * fx->n_vocab,
                                  fx->logits + (size_t)pos * fx->n_vocab, fx->n_vocab);
        worst = rel > worst ? rel : worst;
    }
    printf("%-20s kv %s: worst relative RMS vs transformers over %u positions %.2e (bound %.0e)\n",
           fx->name, kv_name, fx->n_prompt, worst, bound);
    CHECKF(worst <= bound, "%s kv %s: logits relative RMS %.3e > %.0e", fx->name, kv_name, worst,
           bound);

    // Greedy continuation from the last prompt position, one token per step.
    const float *last = logits + (size_t)(fx->n_prompt - 1) * fx->n_vocab;
    float *step_logits = malloc(fx->n_vocab * sizeof(float));
    memcpy(step_logits, last, fx->n_vocab * sizeof(float));
    uint32_t agreed = 0;
    for (uint32_t i = 0; status == PONDER_OK && i < fx->n_greedy; i++) {
        int32_t ours = sampler_argmax(step_logits, (int32_t)fx->n_vocab);
        if (ours != fx->greedy[i]) {
            CHECKF(false, "%s kv %s: greedy token %u is %d, transformers %d", fx->name, kv_name, i,
                   ours, fx->greedy[i]);
            break;
        }
        agreed++;
        entry =
            (PonderBatchEntry){.seq = seq, .tokens = &ours, .n_tokens = 1, .logits = step_logits};
        status = ponder_decode(ctx, &entry, 1, &err);
        CHECKF(status == PONDER_OK, "%s: %s", fx->name, err.message);
    }
    printf("%-20s kv %s: greedy continuation identical for %u of %u tokens\n", fx->name, kv_name,
           agreed, fx->n_greedy);
    free(step_logits);
    free(logits);
    ponder_context_free(ctx);
    ponder_model_free(model);
}

static void check_fixture(const char *name)
{
    char dir[1024], path[2048], err[512];
    snprintf(dir, sizeof dir, "%s", test_source_path("tests/data/"));
    strncat(dir, name, sizeof dir - strlen(dir) - 1);
    snprintf(path, sizeof path, "%s/expected.json", dir);
    JsonValue *expected = json_parse_file(path, err, sizeof err);
    CHECKF(expected, "%s: %s", name, err);
    if (!expected)
        return;
    Fixture fx = {.name = name};
    fx.prompt_text = json_get_string(expected, "prompt_text", "");
    fx.n_vocab = (uint32_t)json_get_int(expected, "n_vocab", 0);
    fx.n_prompt = ids_from_json(json_get(expected, "prompt_ids"), fx.prompt, 256);
    fx.n_greedy = ids_from_json(json_get(expected, "greedy_ids"), fx.greedy, 64);
    CHECKF(fx.n_vocab > 0 && fx.n_prompt > 1 && fx.n_greedy == 32, "%s: expected.json incomplete",
           name);
    snprintf(path, sizeof path, "%s/expected-logits.f32", dir);
    fx.logits = read_f32_file(path, (size_t)fx.n_prompt * fx.n_vocab);
    CHECKF(fx.logits, "%s: %s missing or of the wrong size", name, path);

    char gguf[2048];
    snprintf(gguf, sizeof gguf, "%s/%s-f32.gguf", tmp_dir, name);
    bool converted = convert_hf_to_gguf(dir, gguf, "f32", err, sizeof err);
    CHECKF(converted, "convert %s: %s", name, err);
    if (converted && fx.logits && fx.n_prompt > 1) {
        check_run(gguf, &fx, PONDER_KV_F32, 1e-4);
        check_run(gguf, &fx, PONDER_KV_F16, 1e-2);
    }
    unlink(gguf);
    free(fx.logits);
    json_free(expected);
}

int main(void)
{
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    check_fixture("hf-tiny-qwen2");
    check_fixture("hf-tiny-llama");
    check_fixture("hf-tiny-qwen2-tied");
    rmdir(tmp_dir);
    return test_finish();
}
