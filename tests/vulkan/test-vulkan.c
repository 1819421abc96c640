// The Vulkan backend against the CPU backend (same inputs, same steps) and llama.cpp's
// logits: every file in $PONDER_SHARED/models (every weight type the CPU runs, Q2_K to
// F16), prompt and greedy decode steps; four sequences in one step; an f32 KV cache;
// recorded command buffers against re-recorded ones; partial offload (1 and 0 of the 2
// layers on the GPU, the rest on the CPU); the errors for what the backend does not do.
// Skips (77) where no Vulkan loader or device is usable. Lavapipe on two cores runs it in
// about 90 seconds.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ponder-infer.h"
#include "sampler.h"
#include "test-util.h"

enum { MAX_PROMPT = 32, N_DECODE = 6, N_BATCH = 4 };

typedef struct Pair {
    PonderModel *model;
    PonderContext *cpu, *gpu;
    uint32_t n_vocab;
    const char *name;
} Pair;

static double bound_for(const char *file)
{
    return strstr(file, "f16") ? 0.01 : 0.05; // f16 and bf16; quantized types
}

static PonderContext *new_context(PonderModel *model, PonderBackend backend, uint32_t n_seq,
                                  PonderKvType kv, int32_t gpu_layers, PonderError *err)
{
    PonderContextParams p = ponder_context_default_params();
    p.n_ctx = 128;
    p.n_seq = n_seq;
    p.n_threads = 2;
    p.backend = backend;
    p.gpu_layers = gpu_layers;
    p.kv_type = kv; // the same on both, so the two caches round alike
    return ponder_context_new(model, &p, err);
}

static PonderModel *load_model(const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", test_shared_path("models/"), file);
    PonderError err = {0};
    PonderModel *model = ponder_model_load(path, &err);
    CHECKF(model != NULL, "%s: %s", file, err.message);
    return model;
}

// Opens the model on both backends. False with GPU_ERR set when the Vulkan context could
// not be made (the caller decides whether that was expected).
static bool open_pair(Pair *pair, const char *file, uint32_t n_seq, PonderKvType kv,
                      int32_t gpu_layers, PonderError *gpu_err)
{
    memset(pair, 0, sizeof *pair);
    pair->name = file;
    if (!(pair->model = load_model(file)))
        return false;
    pair->n_vocab = ponder_model_info(pair->model)->n_vocab;
    PonderError err = {0};
    pair->cpu = new_context(pair->model, PONDER_BACKEND_CPU, n_seq, kv, -1, &err);
    CHECKF(pair->cpu != NULL, "%s (cpu): %s", file, err.message);
    pair->gpu = new_context(pair->model, PONDER_BACKEND_VULKAN, n_seq, kv, gpu_layers, gpu_err);
    return pair->cpu && pair->gpu;
}

static void close_pair(Pair *pair)
{
    ponder_context_free(pair->cpu);
    ponder_context_free(pair->gpu);
    ponder_model_free(pair->model);
}

// Runs the same entries on both contexts (logits pointers are per context).
static bool decode_both(Pair *p, PonderBatchEntry *entries, size_t n, float *cpu_logits,
                        float *gpu_logits)
{
    PonderError err = {0};
    for (size_t i = 0; i < n; i++)
        entries[i].logits = cpu_logits + i * p->n_vocab;
    PonderStatus st = ponder_decode(p->cpu, entries, n, &err);
    CHECKF(st == PONDER_OK, "%s cpu decode: %s", p->name, err.message);
    for (size_t i = 0; i < n; i++)
        entries[i].logits = gpu_logits + i * p->n_vocab;
    PonderStatus st2 = ponder_decode(p->gpu, entries, n, &err);
    CHECKF(st2 == PONDER_OK, "%s vulkan decode: %s", p->name, err.message);
    return st == PONDER_OK && st2 == PONDER_OK;
}

// Logits within BOUND of the CPU's, and the same greedy choice unless the CPU's two
// best logits are a near tie (random weights make those common). Returns the rel RMS.
static double check_logits(const Pair *p, const char *what, const float *gpu, const float *cpu,
                           double bound)
{
    double rel = test_rel_rms(gpu, cpu, p->n_vocab);
    CHECKF(isfinite(rel) && rel <= bound, "%s %s: Vulkan vs CPU rel %.4f (bound %.3f)", p->name,
           what, rel, bound);
    int32_t a = sampler_argmax(gpu, (int32_t)p->n_vocab),
            b = sampler_argmax(cpu, (int32_t)p->n_vocab);
    CHECKF(a == b || cpu[b] - cpu[a] < 0.1f, "%s %s: Vulkan picks %d, CPU %d (logits %.3f vs %.3f)",
           p->name, what, a, b, cpu[a], cpu[b]);
    return rel;
}

// Prompt, then greedy decode steps (the CPU's choice fed to both): the worst rel RMS.
static double prompt_and_decode(Pair *p, const int32_t *prompt, uint32_t n_prompt, int n_steps,
                                float *cpu_l, float *gpu_l, float *first_gpu_logits)
{
    int32_t seq_c = ponder_seq_new(p->cpu), seq_g = ponder_seq_new(p->gpu);
    CHECK(seq_c == seq_g);
    double bound = bound_for(p->name), worst = 0;
    PonderBatchEntry e = {.seq = seq_c, .tokens = prompt, .n_tokens = n_prompt};
    if (!decode_both(p, &e, 1, cpu_l, gpu_l))
        return INFINITY;
    worst = fmax(worst, check_logits(p, "prompt", gpu_l, cpu_l, bound));
    if (first_gpu_logits)
        memcpy(first_gpu_logits, gpu_l, p->n_vocab * sizeof(float));
    for (int s = 0; s < n_steps; s++) {
        int32_t token = sampler_argmax(cpu_l, (int32_t)p->n_vocab);
        e = (PonderBatchEntry){.seq = seq_c, .tokens = &token, .n_tokens = 1};
        if (!decode_both(p, &e, 1, cpu_l, gpu_l))
            return INFINITY;
        worst = fmax(worst, check_logits(p, "decode step", gpu_l, cpu_l, bound));
    }
    ponder_seq_free(p->cpu, seq_c);
    ponder_seq_free(p->gpu, seq_g);
    return worst;
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
    Pair p;
    PonderError gpu_err = {0};
    if (!open_pair(&p, file, 1, PONDER_KV_F16, -1, &gpu_err)) {
        bool expected = is_unsupported_type(&gpu_err);
        CHECKF(expected, "%s (vulkan): %s", file, gpu_err.message);
        if (expected)
            printf("  %-20s not run yet: %s\n", file, gpu_err.message);
        close_pair(&p);
        return false;
    }
    float *cpu_l = malloc(p.n_vocab * sizeof(float)), *gpu_l = malloc(p.n_vocab * sizeof(float));
    float *first = malloc(p.n_vocab * sizeof(float)), *want = malloc(p.n_vocab * sizeof(float));
    double worst = prompt_and_decode(&p, prompt, n_prompt, N_DECODE, cpu_l, gpu_l, first);
    const JsonValue *expected = json_get(ref, "llama_cpp_logits");
    double rel_llama = INFINITY;
    if (expected && expected->count == p.n_vocab) {
        for (uint32_t i = 0; i < p.n_vocab; i++)
            want[i] = (float)expected->items[i].number;
        rel_llama = test_rel_rms(first, want, p.n_vocab);
    }
    CHECKF(rel_llama <= bound_for(file), "%s: Vulkan vs llama.cpp rel %.4f", file, rel_llama);
    printf("  %-20s Vulkan vs CPU worst rel %.2e over prompt + %d steps (bound %.2f); vs llama.cpp "
           "%.4f\n",
           file, worst, N_DECODE, bound_for(file), rel_llama);
    free(cpu_l);
    free(gpu_l);
    free(first);
    free(want);
    close_pair(&p);
    return true;
}

// N_BATCH sequences prefilled together in one step (prompts of different lengths), then
// decoded together in one step each, then a step with only some of them.
static void check_batched(const char *file, int32_t gpu_layers, const int32_t *prompt,
                          uint32_t n_prompt)
{
    Pair p;
    PonderError gpu_err = {0};
    if (!open_pair(&p, file, N_BATCH, PONDER_KV_F16, gpu_layers, &gpu_err)) {
        CHECKF(false, "%s (vulkan): %s", file, gpu_err.message);
        close_pair(&p);
        return;
    }
    float *cpu_l = malloc((size_t)N_BATCH * p.n_vocab * sizeof(float));
    float *gpu_l = malloc((size_t)N_BATCH * p.n_vocab * sizeof(float));
    int32_t prompts[N_BATCH][MAX_PROMPT], tokens[N_BATCH];
    PonderBatchEntry e[N_BATCH];
    for (int s = 0; s < N_BATCH; s++) {
        int32_t seq = ponder_seq_new(p.cpu);
        CHECK(seq == ponder_seq_new(p.gpu));
        uint32_t n = 3 + (uint32_t)s * 2 % n_prompt;
        for (uint32_t i = 0; i < n; i++)
            prompts[s][i] = (prompt[i % n_prompt] + 37 * s) % 1024;
        e[s] = (PonderBatchEntry){.seq = seq, .tokens = prompts[s], .n_tokens = n};
    }
    double worst = 0, bound = bound_for(file);
    bool ok = decode_both(&p, e, N_BATCH, cpu_l, gpu_l);
    for (int s = 0; ok && s < N_BATCH; s++)
        worst = fmax(worst, check_logits(&p, "batched prompt", gpu_l + (size_t)s * p.n_vocab,
                                         cpu_l + (size_t)s * p.n_vocab, bound));
    const int n_steps = 4;
    for (int step = 0; ok && step < n_steps; step++) {
        // the last step advances only sequences 0 and 2 (another step shape)
        bool partial = step == n_steps - 1;
        int n = 0;
        for (int s = 0; s < N_BATCH; s++) {
            if (partial && s % 2)
                continue;
            tokens[s] = sampler_argmax(cpu_l + (size_t)s * p.n_vocab, (int32_t)p.n_vocab);
            e[n++] = (PonderBatchEntry){.seq = s, .tokens = &tokens[s], .n_tokens = 1};
        }
        ok = decode_both(&p, e, (size_t)n, cpu_l, gpu_l);
        for (int i = 0; ok && i < n; i++)
            worst = fmax(worst, check_logits(&p, "batched decode", gpu_l + (size_t)i * p.n_vocab,
                                             cpu_l + (size_t)i * p.n_vocab, bound));
    }
    printf("  %-20s %d sequences in one step, gpu_layers %d: Vulkan vs CPU worst rel %.2e\n", file,
           N_BATCH, gpu_layers, worst);
    free(cpu_l);
    free(gpu_l);
    close_pair(&p);
}

// An f32 KV cache on both backends.
static void check_kv_f32(const char *file, const int32_t *prompt, uint32_t n_prompt)
{
    Pair p;
    PonderError gpu_err = {0};
    if (open_pair(&p, file, 1, PONDER_KV_F32, -1, &gpu_err)) {
        float *cpu_l = malloc(p.n_vocab * sizeof(float)),
              *gpu_l = malloc(p.n_vocab * sizeof(float));
        double worst = prompt_and_decode(&p, prompt, n_prompt, 3, cpu_l, gpu_l, NULL);
        printf("  %-20s f32 KV cache: Vulkan vs CPU worst rel %.2e\n", file, worst);
        free(cpu_l);
        free(gpu_l);
    } else {
        CHECKF(false, "%s (vulkan, f32 KV): %s", file, gpu_err.message);
    }
    close_pair(&p);
}

// Decode steps from recorded command buffers equal the same steps recorded afresh.
static void check_reuse(const char *file, const int32_t *prompt, uint32_t n_prompt)
{
    PonderModel *model = load_model(file);
    if (!model)
        return;
    uint32_t n_vocab = ponder_model_info(model)->n_vocab;
    float *logits[2] = {malloc(n_vocab * sizeof(float)), malloc(n_vocab * sizeof(float))};
    for (int run = 0; run < 2; run++) {
        setenv("PONDER_VULKAN_REUSE", run ? "0" : "1", 1);
        PonderError err = {0};
        PonderContext *ctx = new_context(model, PONDER_BACKEND_VULKAN, 1, PONDER_KV_F16, -1, &err);
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
        Pair p;
        PonderError gpu_err = {0};
        if (!open_pair(&p, file, 1, PONDER_KV_F16, gpu_layers, &gpu_err)) {
            CHECKF(false, "%s (vulkan, gpu_layers %d): %s", file, gpu_layers, gpu_err.message);
            close_pair(&p);
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
        for (int step = 0; step <= N_DECODE && decode_both(&p, &e, 1, cpu_l, gpu_l); step++) {
            worst = fmax(worst, check_logits(&p, gpu_layers ? "1 of 2 layers" : "0 of 2 layers",
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
        printf("  %-20s %d of 2 layers on the GPU: worst rel %.2e over prompt + %d steps%s\n", file,
               gpu_layers, worst, N_DECODE, same ? " (bit-identical)" : "");
        free(cpu_l);
        free(gpu_l);
        close_pair(&p);
    }
}

// What the backend does not do fails with a message, never a crash.
static void check_errors(void)
{
    PonderModel *model = load_model("llama-q4_k_m.gguf");
    if (!model)
        return;
    PonderError err = {0};
    PonderContext *ctx = new_context(model, PONDER_BACKEND_VULKAN, 1, PONDER_KV_Q8_0, -1, &err);
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
    const JsonValue *ids = json_get(ref, "prompt_ids");
    const JsonValue *files = json_get(ref, "files");
    int32_t prompt[MAX_PROMPT];
    uint32_t n_prompt = 0;
    for (size_t i = 0; ids && i < ids->count && i < MAX_PROMPT; i++)
        prompt[n_prompt++] = (int32_t)ids->items[i].integer;
    CHECK(n_prompt > 4 && files != NULL);

    // Is a Vulkan device usable at all?
    PonderModel *probe = load_model("qwen2-f16.gguf");
    if (!probe)
        return test_finish();
    PonderError err = {0};
    PonderContext *ctx = new_context(probe, PONDER_BACKEND_VULKAN, 1, PONDER_KV_F16, -1, &err);
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
