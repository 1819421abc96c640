// Whole models on the CUDA backend against the CPU backend (same inputs, same steps) and
// against llama.cpp's logits: every file in ../shared/models (every weight type, qwen2
// and llama), then on a few files: batched decode of 8 sequences, a long prompt in
// several prefill chunks, the GEMM path for every step, graphs off (bit-identical to on),
// and partial offload (1 and 0 of 2 layers on the GPU).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "ponder-infer.h"
#include "cuda-test.h"

enum { MAX_PROMPT = 128, N_DECODE = 6, N_BATCH = 8, MAX_VOCAB = 4096 };

typedef struct Pair {
    PonderModel *model;
    PonderContext *cpu, *gpu;
    uint32_t n_vocab;
    const char *name;
} Pair;

static double gpu_bound(const char *file)
{
    // the GPU quantizes activations per 32 (the CPU per 32 or 256) and stores fp16 K/V
    return strstr(file, "f16") ? 0.01 : strstr(file, "q2_k") || strstr(file, "q3_k") ? 0.05 : 0.03;
}

static double llama_bound(const char *file)
{
    return strstr(file, "f16") ? 0.01 : 0.05; // as the shared README says
}

static PonderContext *new_context(PonderModel *model, PonderBackend backend, uint32_t n_seq, int32_t gpu_layers,
                                  uint32_t prefill_chunk, PonderError *err)
{
    PonderContextParams p = ponder_context_default_params();
    p.n_ctx = 256;
    p.n_seq = n_seq;
    p.n_threads = 2;
    p.backend = backend;
    p.gpu_layers = gpu_layers;
    p.kv_type = PONDER_KV_F16; // what the GPU stores, so the two caches round alike
    p.prefill_chunk = prefill_chunk;
    return ponder_context_new(model, &p, err);
}

static bool open_pair(Pair *pair, const char *file, uint32_t n_seq, int32_t gpu_layers, uint32_t prefill_chunk)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", test_shared_path("models/"), file);
    PonderError err = {0};
    memset(pair, 0, sizeof *pair);
    pair->name = file;
    pair->model = ponder_model_load(path, &err);
    CHECKF(pair->model != NULL, "%s: %s", file, err.message);
    if (!pair->model)
        return false;
    pair->n_vocab = ponder_model_info(pair->model)->n_vocab;
    pair->cpu = new_context(pair->model, PONDER_BACKEND_CPU, n_seq, -1, prefill_chunk, &err);
    CHECKF(pair->cpu != NULL, "%s (cpu): %s", file, err.message);
    if (pair->cpu) {
        pair->gpu = new_context(pair->model, PONDER_BACKEND_CUDA, n_seq, gpu_layers, prefill_chunk, &err);
        CHECKF(pair->gpu != NULL, "%s (cuda): %s", file, err.message);
    }
    return pair->cpu && pair->gpu;
}

static void close_pair(Pair *pair)
{
    ponder_context_free(pair->cpu);
    ponder_context_free(pair->gpu);
    ponder_model_free(pair->model);
}

// Runs the same entries on both contexts (logits pointers are per context).
static bool decode_both(Pair *p, PonderBatchEntry *entries, size_t n, float *cpu_logits, float *gpu_logits)
{
    PonderError err = {0};
    for (size_t i = 0; i < n; i++)
        entries[i].logits = cpu_logits + i * p->n_vocab;
    PonderStatus st = ponder_decode(p->cpu, entries, n, &err);
    CHECKF(st == PONDER_OK, "%s cpu decode: %s", p->name, err.message);
    for (size_t i = 0; i < n; i++)
        entries[i].logits = gpu_logits + i * p->n_vocab;
    PonderStatus st2 = ponder_decode(p->gpu, entries, n, &err);
    CHECKF(st2 == PONDER_OK, "%s cuda decode: %s", p->name, err.message);
    return st == PONDER_OK && st2 == PONDER_OK;
}

static double check_logits(const Pair *p, const char *what, const float *gpu, const float *cpu, double bound)
{
    double rel = test_rel_rms(gpu, cpu, p->n_vocab);
    CHECKF(isfinite(rel) && rel <= bound, "%s %s: GPU vs CPU rel %.4f (bound %.3f)", p->name, what, rel, bound);
    return rel;
}

// Prompt, then greedy decode steps (the CPU's choice fed to both): the worst rel RMS.
static double prompt_and_decode(Pair *p, const int32_t *prompt, uint32_t n_prompt, int n_steps, float *cpu_l,
                                float *gpu_l, double bound, float *first_gpu_logits)
{
    int32_t seq_c = ponder_seq_new(p->cpu), seq_g = ponder_seq_new(p->gpu);
    CHECK(seq_c == seq_g);
    PonderBatchEntry e = {.seq = seq_c, .tokens = prompt, .n_tokens = n_prompt};
    double worst = 0;
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

static void check_file(const char *file, const JsonValue *ref, const int32_t *prompt, uint32_t n_prompt,
                       bool quick)
{
    Pair p;
    if (!open_pair(&p, file, 1, -1, 256)) {
        close_pair(&p);
        return;
    }
    float *cpu_l = malloc(p.n_vocab * sizeof(float)), *gpu_l = malloc(p.n_vocab * sizeof(float));
    float *first = malloc(p.n_vocab * sizeof(float)), *want = malloc(p.n_vocab * sizeof(float));
    double worst = prompt_and_decode(&p, prompt, n_prompt, quick ? 3 : N_DECODE, cpu_l, gpu_l, gpu_bound(file),
                                     first);
    const JsonValue *expected = json_get(ref, "llama_cpp_logits");
    double rel_llama = INFINITY;
    if (expected && expected->count == p.n_vocab) {
        for (uint32_t i = 0; i < p.n_vocab; i++)
            want[i] = (float)expected->items[i].number;
        rel_llama = test_rel_rms(first, want, p.n_vocab);
    }
    CHECKF(rel_llama <= llama_bound(file), "%s: GPU vs llama.cpp rel %.4f", file, rel_llama);
    printf("  %-20s GPU vs CPU worst rel %.4f over prompt + decode; GPU vs llama.cpp %.4f (bound %.2f)\n", file,
           worst, rel_llama, llama_bound(file));
    free(cpu_l);
    free(gpu_l);
    free(first);
    free(want);
    close_pair(&p);
}

// N_BATCH sequences prefilled together in one call (one mixed step), then decoded
// together, then a step with only some of them.
static void check_batched(const char *file, const int32_t *prompt, uint32_t n_prompt, int n_steps)
{
    Pair p;
    if (!open_pair(&p, file, N_BATCH, -1, 256)) {
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
        uint32_t n = 4 + (uint32_t)s % n_prompt;
        for (uint32_t i = 0; i < n; i++)
            prompts[s][i] = (prompt[i % n_prompt] + 37 * s) % 1024;
        e[s] = (PonderBatchEntry){.seq = seq, .tokens = prompts[s], .n_tokens = n};
    }
    double worst = 0;
    bool ok = decode_both(&p, e, N_BATCH, cpu_l, gpu_l);
    for (int s = 0; ok && s < N_BATCH; s++)
        worst = fmax(worst, check_logits(&p, "batched prompt", gpu_l + (size_t)s * p.n_vocab,
                                         cpu_l + (size_t)s * p.n_vocab, gpu_bound(file)));
    for (int step = 0; ok && step < n_steps; step++) {
        // the last step advances only every third sequence (another graph shape)
        int n = step == n_steps - 1 ? 0 : N_BATCH;
        for (int s = 0; s < N_BATCH; s++) {
            if (step == n_steps - 1 && s % 3)
                continue;
            int i = step == n_steps - 1 ? n++ : s;
            tokens[s] = sampler_argmax(cpu_l + (size_t)s * p.n_vocab, (int32_t)p.n_vocab);
            e[i] = (PonderBatchEntry){.seq = s, .tokens = &tokens[s], .n_tokens = 1};
        }
        ok = decode_both(&p, e, (size_t)n, cpu_l, gpu_l);
        for (int i = 0; ok && i < n; i++)
            worst = fmax(worst, check_logits(&p, "batched decode", gpu_l + (size_t)i * p.n_vocab,
                                             cpu_l + (size_t)i * p.n_vocab, gpu_bound(file)));
    }
    printf("  %-20s %d sequences batched: GPU vs CPU worst rel %.4f\n", file, N_BATCH, worst);
    free(cpu_l);
    free(gpu_l);
    close_pair(&p);
}

// One configuration of the GPU context on one file: prompt of N_PROMPT tokens in chunks of
// CHUNK, then decode steps; returns the GPU's prompt logits in FIRST.
static void check_variant(const char *label, const char *file, const int32_t *prompt, uint32_t n_prompt,
                          int32_t gpu_layers, uint32_t chunk, float *first)
{
    Pair p;
    if (!open_pair(&p, file, 1, gpu_layers, chunk)) {
        close_pair(&p);
        return;
    }
    CHECK(p.n_vocab <= MAX_VOCAB);
    float *cpu_l = malloc(p.n_vocab * sizeof(float)), *gpu_l = malloc(p.n_vocab * sizeof(float));
    double worst = prompt_and_decode(&p, prompt, n_prompt, 4, cpu_l, gpu_l, gpu_bound(file), first);
    printf("  %-20s %-34s GPU vs CPU worst rel %.4f\n", file, label, worst);
    free(cpu_l);
    free(gpu_l);
    close_pair(&p);
}

static void check_variants(const char *file, const int32_t *prompt, uint32_t n_prompt, bool quick)
{
    int32_t long_prompt[MAX_PROMPT];
    for (uint32_t i = 0; i < 100; i++)
        long_prompt[i] = (prompt[i % n_prompt] + 11 * (i / n_prompt)) % 1024;
    float *with_graphs = calloc(MAX_VOCAB, sizeof(float)), *without = calloc(MAX_VOCAB, sizeof(float));

    check_variant("100-token prompt, chunks of 48", file, long_prompt, 100, -1, 48, NULL);
    check_variant("partial offload: 1 layer on GPU", file, prompt, n_prompt, 1, 256, NULL);
    if (quick) {
        free(with_graphs);
        free(without);
        return;
    }
    check_variant("partial offload: 0 layers on GPU", file, prompt, n_prompt, 0, 256, NULL);
    setenv("PONDER_CUDA_MATVEC_MAX", "0", 1);
    check_variant("every step by dequantize + GEMM", file, long_prompt, 40, -1, 256, NULL);
    unsetenv("PONDER_CUDA_MATVEC_MAX");
    // a decode step replayed from a graph equals the same step launched directly
    check_variant("decode graphs on", file, prompt, 7, -1, 1, with_graphs);
    setenv("PONDER_CUDA_GRAPHS", "0", 1);
    check_variant("decode graphs off", file, prompt, 7, -1, 1, without);
    unsetenv("PONDER_CUDA_GRAPHS");
    CHECKF(memcmp(with_graphs, without, MAX_VOCAB * sizeof(float)) == 0,
           "%s: graph replay differs from direct launch", file);
    free(with_graphs);
    free(without);
}

void run_model_tests(bool quick)
{
    char err[256];
    JsonValue *ref = json_parse_file(test_shared_path("models/reference.json"), err, sizeof err);
    CHECKF(ref != NULL, "models/reference.json: %s", err);
    if (!ref)
        return;
    const JsonValue *ids = json_get(ref, "prompt_ids");
    const JsonValue *files = json_get(ref, "files");
    int32_t prompt[MAX_PROMPT];
    uint32_t n_prompt = 0;
    for (size_t i = 0; ids && i < ids->count && i < MAX_PROMPT; i++)
        prompt[n_prompt++] = (int32_t)ids->items[i].integer;
    printf("models against the CPU backend and llama.cpp:\n");
    // PONDER_CUDA_TEST_SUBSET=1: only the files present (a device run that carries a few)
    bool subset = getenv("PONDER_CUDA_TEST_SUBSET") != NULL;
    for (size_t f = 0; files && f < files->count; f++) {
        if (quick && strcmp(files->keys[f], "qwen2-q4_k_m.gguf") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s%s", test_shared_path("models/"), files->keys[f]);
        if (subset && access(path, R_OK) != 0)
            continue;
        check_file(files->keys[f], &files->items[f], prompt, n_prompt, quick);
    }
    check_batched("qwen2-q4_k_m.gguf", prompt, n_prompt, quick ? 2 : N_DECODE);
    if (!quick && !subset) {
        check_batched("llama-q8_0.gguf", prompt, n_prompt, N_DECODE);
        check_batched("qwen2-f16.gguf", prompt, n_prompt, N_DECODE);
    }
    check_variants("qwen2-q4_k_m.gguf", prompt, n_prompt, quick);
    if (!quick && !subset)
        check_variants("llama-q5_k_m.gguf", prompt, n_prompt, quick);
    json_free(ref);
}
