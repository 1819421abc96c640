// The Vulkan backend against the CPU backend (same inputs, same steps) and llama.cpp's
// logits: every file in $PONDER_SHARED/models (every weight type the CPU runs, Q2_K to
// F16), prompt and greedy decode steps; four sequences in one step; an f32 KV cache;
// recorded command buffers against re-recorded ones; partial offload (1 and 0 of the 2
// layers on the GPU, the rest on the CPU); where every context keeps its KV cache (a GPU
// layer's on the device only); the errors for what the backend does not do.
// The same for the qwen3 files of $PONDER_SHARED/models2 (against their own reference).
// Skips (77) where no Vulkan loader or device is usable. Lavapipe on two cores runs it in
// about 90 seconds.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend-compare.h"
#include "runtime/context.h"

enum { MAX_PROMPT = 32, N_DECODE = 6, N_BATCH = 4 };

static double bound_for(const char *file)
{
    return strstr(file, "f16") ? 0.01 : 0.05; // f16 and bf16; quantized types
}

static PonderContextParams vulkan_params(uint32_t n_seq, PonderKvType kv, int32_t gpu_layers)
{
    PonderContextParams p = ponder_context_default_params();
    p.n_ctx = 128;
    p.n_seq = n_seq;
    p.n_threads = 2;
    p.backend = PONDER_BACKEND_VULKAN;
    p.gpu_layers = gpu_layers;
    p.kv_type = kv; // the same on both, so the two caches round alike
    return p;
}

// One sequence, every layer on the GPU.
static PonderContext *new_vulkan_context(PonderModel *model, PonderKvType kv, PonderError *err)
{
    PonderContextParams p = vulkan_params(1, kv, -1);
    return ponder_context_new(model, &p, err);
}

// Opens the model on both backends. False with GPU_ERR set when the Vulkan context could
// not be made (the caller decides whether that was expected).
static bool open_pair(BackendPair *pair, const char *file, uint32_t n_seq, PonderKvType kv,
                      int32_t gpu_layers, PonderError *gpu_err)
{
    PonderContextParams p = vulkan_params(n_seq, kv, gpu_layers);
    bool ok = backend_pair_open(pair, file, &p, gpu_err);
    pair->check_greedy_choice = true;
    if (ok)
        backend_pair_check_kv_placement(pair, gpu_layers);
    return ok;
}

static bool is_unsupported_type(const PonderError *err)
{
    return err->status == PONDER_ERR_UNSUPPORTED &&
           strstr(err->message, "which the Vulkan backend does not run yet");
}

// Returns false when the file's types are not run yet (with that error).
static bool check_file(const char *file, const JsonValue *ref, const int32_t *prompt,
                       uint32_t n_prompt)
{
    BackendPair p;
    PonderError gpu_err = {0};
    if (!open_pair(&p, file, 1, PONDER_KV_F16, -1, &gpu_err)) {
        bool expected = is_unsupported_type(&gpu_err);
        CHECKF(expected, "%s (vulkan): %s", file, gpu_err.message);
        if (expected)
            printf("  %-20s not run yet: %s\n", file, gpu_err.message);
        backend_pair_close(&p);
        return false;
    }
    float *cpu_l = malloc(p.n_vocab * sizeof(float)), *gpu_l = malloc(p.n_vocab * sizeof(float));
    float *first = malloc(p.n_vocab * sizeof(float));
    double worst = backend_pair_prompt_and_decode(&p, prompt, n_prompt, N_DECODE, cpu_l, gpu_l,
                                                  bound_for(file), first);
    double rel_llama = reference_rel_rms(ref, first, p.n_vocab);
    CHECKF(rel_llama <= bound_for(file), "%s: Vulkan vs reference rel %.4f", file, rel_llama);
    printf("  %-20s Vulkan vs CPU worst rel %.2e over prompt + %d steps (bound %.2f); vs reference "
           "%.4f\n",
           file, worst, N_DECODE, bound_for(file), rel_llama);
    free(cpu_l);
    free(gpu_l);
    free(first);
    backend_pair_close(&p);
    return true;
}

// N_BATCH sequences prefilled together in one step (prompts of different lengths), then
// decoded together in one step each, then a step with only some of them.
static void check_batched(const char *file, int32_t gpu_layers, const int32_t *prompt,
                          uint32_t n_prompt)
{
    BackendPair p;
    PonderError gpu_err = {0};
    if (!open_pair(&p, file, N_BATCH, PONDER_KV_F16, gpu_layers, &gpu_err)) {
        CHECKF(false, "%s (vulkan): %s", file, gpu_err.message);
        backend_pair_close(&p);
        return;
    }
    uint32_t prompt_lens[N_BATCH];
    for (uint32_t s = 0; s < N_BATCH; s++)
        prompt_lens[s] = 3 + s * 2 % n_prompt;
    // the last step advances only sequences 0 and 2 (another step shape)
    double worst = backend_pair_check_batched(&p, prompt, n_prompt, prompt_lens, N_BATCH, 4, 2,
                                              bound_for(file));
    printf("  %-20s %d sequences in one step, gpu_layers %d: Vulkan vs CPU worst rel %.2e\n", file,
           N_BATCH, gpu_layers, worst);
    backend_pair_close(&p);
}

// An f32 KV cache on both backends.
static void check_kv_f32(const char *file, const int32_t *prompt, uint32_t n_prompt)
{
    BackendPair p;
    PonderError gpu_err = {0};
    if (open_pair(&p, file, 1, PONDER_KV_F32, -1, &gpu_err)) {
        float *cpu_l = malloc(p.n_vocab * sizeof(float)),
              *gpu_l = malloc(p.n_vocab * sizeof(float));
        double worst = backend_pair_prompt_and_decode(&p, prompt, n_prompt, 3, cpu_l, gpu_l,
                                                      bound_for(file), NULL);
        printf("  %-20s f32 KV cache: Vulkan vs CPU worst rel %.2e\n", file, worst);
        free(cpu_l);
        free(gpu_l);
    } else {
        CHECKF(false, "%s (vulkan, f32 KV): %s", file, gpu_err.message);
    }
    backend_pair_close(&p);
}

// Decode steps from recorded command buffers equal the same steps recorded afresh.
static void check_reuse(const char *file, const int32_t *prompt, uint32_t n_prompt)
{
    PonderModel *model = backend_test_load_model(file);
    if (!model)
        return;
    uint32_t n_vocab = ponder_model_info(model)->n_vocab;
    float *logits[2] = {malloc(n_vocab * sizeof(float)), malloc(n_vocab * sizeof(float))};
    for (int run = 0; run < 2; run++) {
        setenv("PONDER_VULKAN_REUSE", run ? "0" : "1", 1);
        PonderError err = {0};
        PonderContext *ctx = new_vulkan_context(model, PONDER_KV_F16, &err);
        CHECKF(ctx != NULL, "%s: %s", file, err.message);
        if (!ctx)
            break;
        int32_t seq = ponder_seq_new(ctx);
        PonderBatchEntry e = {
            .seq = seq, .tokens = prompt, .n_tokens = n_prompt, .logits = logits[run]};
        CHECK(ponder_decode(ctx, &e, 1, &err) == PONDER_OK);
        for (int s = 0; s < 3; s++) { // the same shape thrice: replays when reuse is on
            int32_t token = sampler_argmax(logits[run], (int32_t)n_vocab);
            e = (PonderBatchEntry){
                .seq = seq, .tokens = &token, .n_tokens = 1, .logits = logits[run]};
            CHECKF(ponder_decode(ctx, &e, 1, &err) == PONDER_OK, "%s", err.message);
        }
        ponder_context_free(ctx);
    }
    unsetenv("PONDER_VULKAN_REUSE");
    CHECKF(memcmp(logits[0], logits[1], n_vocab * sizeof(float)) == 0,
           "%s: resubmitted command buffers differ from freshly recorded ones", file);
    printf("  %-20s resubmitted command buffers match re-recorded ones\n", file);
    free(logits[0]);
    free(logits[1]);
    ponder_model_free(model);
}

// Partial offload of a two-layer file: with 1 layer on the GPU, logits within the file's
// bound of the CPU backend's and not bit-identical to them (so layer 0 really ran on the
// GPU); with 0 layers, the CPU backend runs everything (same threads, same order), so the
// logits equal its own bit for bit.
static void check_offload(const char *file, const int32_t *prompt, uint32_t n_prompt)
{
    for (int32_t gpu_layers = 1; gpu_layers >= 0; gpu_layers--) {
        BackendPair p;
        PonderError gpu_err = {0};
        if (!open_pair(&p, file, 1, PONDER_KV_F16, gpu_layers, &gpu_err)) {
            CHECKF(false, "%s (vulkan, gpu_layers %d): %s", file, gpu_layers, gpu_err.message);
            backend_pair_close(&p);
            continue;
        }
        CHECKF(ponder_model_info(p.model)->n_layer == 2, "%s: %u layers, the test expects 2", file,
               ponder_model_info(p.model)->n_layer);
        float *cpu_l = malloc(p.n_vocab * sizeof(float)),
              *gpu_l = malloc(p.n_vocab * sizeof(float));
        int32_t seq = ponder_seq_new(p.cpu), token;
        CHECK(seq == ponder_seq_new(p.gpu));
        PonderBatchEntry e = {.seq = seq, .tokens = prompt, .n_tokens = n_prompt};
        bool same = true;
        double worst = 0;
        for (int step = 0; step <= N_DECODE && backend_pair_decode(&p, &e, 1, cpu_l, gpu_l);
             step++) {
            worst = fmax(
                worst, backend_pair_check_logits(&p, gpu_layers ? "1 of 2 layers" : "0 of 2 layers",
                                                 gpu_l, cpu_l, bound_for(file)));
            same = same && memcmp(gpu_l, cpu_l, p.n_vocab * sizeof(float)) == 0;
            token = sampler_argmax(cpu_l, (int32_t)p.n_vocab);
            e = (PonderBatchEntry){.seq = seq, .tokens = &token, .n_tokens = 1};
        }
        if (gpu_layers == 1)
            CHECKF(!same, "%s: 1 of 2 layers gives the CPU's logits bit for bit (no GPU layer?)",
                   file);
        else
            CHECKF(same, "%s: 0 of 2 layers differs from the CPU backend (rel %.2e)", file, worst);
        KvBytes kv = context_kv_bytes(p.gpu);
        printf("  %-20s %d of 2 layers on the GPU: worst rel %.2e over prompt + %d steps%s; KV "
               "cache %llu bytes on the host, %llu on the GPU\n",
               file, gpu_layers, worst, N_DECODE, same ? " (bit-identical)" : "",
               (unsigned long long)kv.host, (unsigned long long)kv.device);
        free(cpu_l);
        free(gpu_l);
        backend_pair_close(&p);
    }
}

// The qwen3 files of ../shared/models2 in the types this library runs (the IQ ones belong
// to the IQ work): each against the CPU and its own reference logits, after its own
// prompt; then the head-128, tied-output file batched and partly offloaded.
static void check_models2(void)
{
    char jerr[256];
    JsonValue *ref = json_parse_file(test_shared_path("models2/reference.json"), jerr, sizeof jerr);
    if (!ref) {
        printf("  models2/reference.json not readable: qwen3 files not checked\n");
        return;
    }
    printf("qwen3 files of models2 against the CPU backend and their reference:\n");
    const JsonValue *files = json_get(ref, "files");
    int n_run = 0;
    for (size_t f = 0; files && f < files->count; f++) {
        const char *name = files->keys[f];
        if (strncmp(name, "qwen3", 5) != 0 || strstr(name, "-iq"))
            continue;
        int32_t prompt[MAX_PROMPT];
        uint32_t n_prompt = reference_prompt(&files->items[f], prompt, MAX_PROMPT);
        char file[128];
        snprintf(file, sizeof file, "models2/%s", name);
        CHECKF(n_prompt > 0, "%s: no prompt ids", file);
        if (n_prompt > 0 && check_file(file, &files->items[f], prompt, n_prompt))
            n_run++;
    }
    CHECKF(n_run >= 10, "only %d qwen3 files run", n_run);
    const JsonValue *t = json_get(files, "qwen3t-q8_0.gguf");
    int32_t prompt[MAX_PROMPT];
    uint32_t n_prompt = t ? reference_prompt(t, prompt, MAX_PROMPT) : 0;
    CHECKF(n_prompt > 4, "models2/qwen3t-q8_0.gguf: no prompt");
    if (n_prompt > 4) {
        check_batched("models2/qwen3t-q8_0.gguf", -1, prompt, n_prompt);
        check_offload("models2/qwen3t-q8_0.gguf", prompt, n_prompt);
    }
    json_free(ref);
}

// What the backend does not do fails with a message, never a crash.
static void check_errors(void)
{
    PonderModel *model = backend_test_load_model("llama-q5_k_m.gguf");
    if (!model)
        return;
    PonderError err = {0};
    PonderContext *ctx = new_vulkan_context(model, PONDER_KV_Q8_0, &err);
    CHECKF(!ctx && err.status == PONDER_ERR_UNSUPPORTED && strstr(err.message, "q8_0"),
           "q8_0 KV cache: %s", err.message);
    printf("  q8_0 KV cache: %s\n", err.message);
    ponder_context_free(ctx);
    ponder_model_free(model);
}

int main(void)
{
    char jerr[256];
    JsonValue *ref = json_parse_file(test_shared_path("models/reference.json"), jerr, sizeof jerr);
    if (!ref) {
        fprintf(stderr, "models/reference.json: %s\n", jerr);
        return 1;
    }
    const JsonValue *files = json_get(ref, "files");
    int32_t prompt[MAX_PROMPT];
    uint32_t n_prompt = reference_prompt(ref, prompt, MAX_PROMPT);
    CHECK(n_prompt > 4 && files != NULL);

    // Is a Vulkan device usable at all?
    PonderModel *probe = backend_test_load_model("qwen2-f16.gguf");
    if (!probe)
        return test_finish();
    PonderError err = {0};
    PonderContext *ctx = new_vulkan_context(probe, PONDER_KV_F16, &err);
    ponder_context_free(ctx);
    ponder_model_free(probe);
    if (!ctx) {
        if (err.status == PONDER_ERR_UNSUPPORTED &&
            (strstr(err.message, "no Vulkan loader") ||
             strstr(err.message, "no suitable Vulkan device") ||
             strstr(err.message, "could not be loaded"))) {
            json_free(ref);
            return test_skip(err.message);
        }
        CHECKF(false, "vulkan context: %s", err.message);
        json_free(ref);
        return test_finish();
    }

    printf("models against the CPU backend (f16 KV cache on both) and llama.cpp:\n");
    int n_run = 0, n_not_run = 0;
    for (size_t f = 0; files && f < files->count; f++) {
        if (check_file(files->keys[f], &files->items[f], prompt, n_prompt))
            n_run++;
        else
            n_not_run++;
    }
    printf("  %d files run, %d not run yet\n", n_run, n_not_run);
    CHECKF(n_not_run == 0 && n_run >= 24, "%d files run, %d not", n_run, n_not_run);
    check_models2();
    check_batched("qwen2-q4_k_m.gguf", -1, prompt, n_prompt);
    check_batched("llama-q8_0.gguf", -1, prompt, n_prompt);
    check_offload("qwen2-q3_k_m.gguf", prompt, n_prompt);
    check_offload("llama-q2_k.gguf", prompt, n_prompt);
    check_batched("qwen2-q4_k_m.gguf", 1, prompt, n_prompt);
    check_kv_f32("llama-q4_0.gguf", prompt, n_prompt);
    check_kv_f32("qwen2-f16.gguf", prompt, n_prompt);
    check_reuse("qwen2-q6_k.gguf", prompt, n_prompt);
    check_errors();
    json_free(ref);
    return test_finish();
}
