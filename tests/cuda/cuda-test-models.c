// Whole models on the CUDA backend against the CPU backend (same inputs, same steps) and
// against llama.cpp's logits: every file in ../shared/models (every weight type, qwen2
// and llama), then on a few files: batched decode of 8 sequences, a long prompt in
// several prefill chunks, the GEMM path for every step, graphs off (bit-identical to on),
// and partial offload (1 and 0 of 2 layers on the GPU); where every context keeps its KV
// cache (a GPU layer's on the device only). The same for the files of
// ../shared/models2: qwen3 (q/k norms, head 128 with a 256-wide embedding, tied output) and
// the IQ weight types.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../inference/backend-compare.h"
#include "cuda-test.h"

enum { MAX_PROMPT = 128, N_DECODE = 6, N_BATCH = 8, MAX_VOCAB = 4096 };

static double gpu_bound(const char *file)
{
    // the GPU quantizes activations per 32 (the CPU per 32 or 256) and stores fp16 K/V
    // (the 1-3 bit types round activations' errors into coarser weights, like q2_k/q3_k)
    bool coarse = strstr(file, "q2_k") || strstr(file, "q3_k") || strstr(file, "-iq1") ||
                  strstr(file, "-iq2") || strstr(file, "-iq3");
    return strstr(file, "f16") ? 0.01 : coarse ? 0.05 : 0.03;
}

static double llama_bound(const char *file)
{
    return strstr(file, "f16") ? 0.01 : 0.05; // as the shared README says
}

// Opens the model on both backends; a CUDA context that cannot be made is a failure.
static bool open_pair(BackendPair *pair, const char *file, uint32_t n_seq, int32_t gpu_layers,
                      uint32_t prefill_chunk)
{
    PonderContextParams p = ponder_context_default_params();
    p.n_ctx = 256;
    p.n_seq = n_seq;
    p.n_threads = 2;
    p.backend = PONDER_BACKEND_CUDA;
    p.gpu_layers = gpu_layers;
    p.kv_type = PONDER_KV_F16; // what the GPU stores, so the two caches round alike
    p.prefill_chunk = prefill_chunk;
    PonderError gpu_err = {0};
    bool ok = backend_pair_open(pair, file, &p, &gpu_err);
    CHECKF(ok || gpu_err.status == PONDER_OK, "%s (cuda): %s", file, gpu_err.message);
    if (ok)
        backend_pair_check_kv_placement(pair, gpu_layers);
    return ok;
}

static void check_file(const char *file, const JsonValue *ref, const int32_t *prompt,
                       uint32_t n_prompt, bool quick)
{
    BackendPair p;
    if (!open_pair(&p, file, 1, -1, 256)) {
        backend_pair_close(&p);
        return;
    }
    float *cpu_l = malloc(p.n_vocab * sizeof(float)), *gpu_l = malloc(p.n_vocab * sizeof(float));
    float *first = malloc(p.n_vocab * sizeof(float));
    double worst = backend_pair_prompt_and_decode(&p, prompt, n_prompt, quick ? 3 : N_DECODE, cpu_l,
                                                  gpu_l, gpu_bound(file), first);
    double rel_llama = reference_rel_rms(ref, first, p.n_vocab);
    CHECKF(rel_llama <= llama_bound(file), "%s: GPU vs llama.cpp rel %.4f", file, rel_llama);
    printf("  %-20s GPU vs CPU worst rel %.4f over prompt + decode; GPU vs llama.cpp %.4f (bound "
           "%.2f)\n",
           file, worst, rel_llama, llama_bound(file));
    free(cpu_l);
    free(gpu_l);
    free(first);
    backend_pair_close(&p);
}

// N_BATCH sequences prefilled together in one call (one mixed step), then decoded
// together, then a step with only some of them.
static void check_batched(const char *file, const int32_t *prompt, uint32_t n_prompt, int n_steps)
{
    BackendPair p;
    if (!open_pair(&p, file, N_BATCH, -1, 256)) {
        backend_pair_close(&p);
        return;
    }
    uint32_t prompt_lens[N_BATCH];
    for (uint32_t s = 0; s < N_BATCH; s++)
        prompt_lens[s] = 4 + s % n_prompt;
    // the last step advances only every third sequence (another graph shape)
    double worst = backend_pair_check_batched(&p, prompt, n_prompt, prompt_lens, N_BATCH, n_steps,
                                              3, gpu_bound(file));
    printf("  %-20s %d sequences batched: GPU vs CPU worst rel %.4f\n", file, N_BATCH, worst);
    backend_pair_close(&p);
}

// One configuration of the GPU context on one file: prompt of N_PROMPT tokens in chunks of
// CHUNK, then decode steps; returns the GPU's prompt logits in FIRST.
static void check_variant(const char *label, const char *file, const int32_t *prompt,
                          uint32_t n_prompt, int32_t gpu_layers, uint32_t chunk, float *first)
{
    BackendPair p;
    if (!open_pair(&p, file, 1, gpu_layers, chunk)) {
        backend_pair_close(&p);
        return;
    }
    CHECK(p.n_vocab <= MAX_VOCAB);
    float *cpu_l = malloc(p.n_vocab * sizeof(float)), *gpu_l = malloc(p.n_vocab * sizeof(float));
    double worst = backend_pair_prompt_and_decode(&p, prompt, n_prompt, 4, cpu_l, gpu_l,
                                                  gpu_bound(file), first);
    printf("  %-20s %-34s GPU vs CPU worst rel %.4f\n", file, label, worst);
    free(cpu_l);
    free(gpu_l);
    backend_pair_close(&p);
}

static void check_variants(const char *file, const int32_t *prompt, uint32_t n_prompt, bool quick)
{
    int32_t long_prompt[MAX_PROMPT];
    for (uint32_t i = 0; i < 100; i++)
        long_prompt[i] = (prompt[i % n_prompt] + 11 * (i / n_prompt)) % 1024;
    float *with_graphs = calloc(MAX_VOCAB, sizeof(float)),
          *without = calloc(MAX_VOCAB, sizeof(float));

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

// Every file of ../shared/models2 (qwen3 and the IQ types), each after its own prompt and
// against its own reference; then the
// head-128, tied-output, YaRN-free file through the batched, GEMM, graph and offload paths.
static void run_models2_tests(bool quick, bool subset)
{
    char err[256];
    JsonValue *ref = json_parse_file(test_shared_path("models2/reference.json"), err, sizeof err);
    if (!ref) {
        printf("models2/reference.json not readable: qwen3 and IQ files not checked\n");
        return;
    }
    printf("qwen3 and IQ files of models2 against the CPU backend and their reference:\n");
    const JsonValue *files = json_get(ref, "files");
    for (size_t f = 0; files && f < files->count; f++) {
        const char *name = files->keys[f];
        if (quick && strcmp(name, "qwen3t-q4_k_m.gguf") != 0)
            continue;
        char file[128];
        snprintf(file, sizeof file, "models2/%s", name);
        if (subset && access(test_shared_path(file), R_OK) != 0)
            continue;
        int32_t prompt[MAX_PROMPT];
        uint32_t n_prompt = reference_prompt(&files->items[f], prompt, MAX_PROMPT);
        CHECKF(n_prompt > 0, "%s: no prompt ids", file);
        if (n_prompt > 0)
            check_file(file, &files->items[f], prompt, n_prompt, quick);
    }
    const JsonValue *t = json_get(files, "qwen3t-q4_k_m.gguf");
    int32_t prompt[MAX_PROMPT];
    uint32_t n_prompt = t ? reference_prompt(t, prompt, MAX_PROMPT) : 0;
    if (n_prompt > 4 &&
        (!subset || access(test_shared_path("models2/qwen3t-q4_k_m.gguf"), R_OK) == 0)) {
        check_batched("models2/qwen3t-q4_k_m.gguf", prompt, n_prompt, quick ? 2 : N_DECODE);
        check_variants("models2/qwen3t-q4_k_m.gguf", prompt, n_prompt, quick);
    }
    json_free(ref);
}

void run_model_tests(bool quick)
{
    char err[256];
    JsonValue *ref = json_parse_file(test_shared_path("models/reference.json"), err, sizeof err);
    CHECKF(ref != NULL, "models/reference.json: %s", err);
    if (!ref)
        return;
    const JsonValue *files = json_get(ref, "files");
    int32_t prompt[MAX_PROMPT];
    uint32_t n_prompt = reference_prompt(ref, prompt, MAX_PROMPT);
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
    run_models2_tests(quick, subset);
}
