#include "backend-compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/context.h"

PonderModel *backend_test_load_model(const char *file)
{
    char path[512];
    if (strchr(file, '/'))
        snprintf(path, sizeof path, "%s", test_shared_path(file));
    else
        snprintf(path, sizeof path, "%s%s", test_shared_path("models/"), file);
    PonderError err = {0};
    PonderModel *model = ponder_model_load(path, &err);
    CHECKF(model != NULL, "%s: %s", file, err.message);
    return model;
}

bool backend_pair_open(BackendPair *pair, const char *file, const PonderContextParams *gpu_params,
                       PonderError *gpu_err)
{
    memset(pair, 0, sizeof *pair);
    pair->name = file;
    pair->gpu_name = ponder_backend_name(gpu_params->backend);
    if (!(pair->model = backend_test_load_model(file)))
        return false;
    pair->n_vocab = ponder_model_info(pair->model)->n_vocab;
    PonderContextParams cpu_params = *gpu_params;
    cpu_params.backend = PONDER_BACKEND_CPU;
    cpu_params.gpu_layers = -1;
    PonderError err = {0};
    pair->cpu = ponder_context_new(pair->model, &cpu_params, &err);
    CHECKF(pair->cpu != NULL, "%s (cpu): %s", file, err.message);
    if (pair->cpu)
        pair->gpu = ponder_context_new(pair->model, gpu_params, gpu_err);
    return pair->cpu && pair->gpu;
}

void backend_pair_close(BackendPair *pair)
{
    ponder_context_free(pair->cpu);
    ponder_context_free(pair->gpu);
    ponder_model_free(pair->model);
}

bool backend_pair_decode(BackendPair *p, PonderBatchEntry *entries, size_t n, float *cpu_logits,
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
    CHECKF(st2 == PONDER_OK, "%s %s decode: %s", p->name, p->gpu_name, err.message);
    return st == PONDER_OK && st2 == PONDER_OK;
}

void backend_pair_check_kv_placement(const BackendPair *p, int32_t gpu_layers)
{
    uint32_t n_layer = ponder_model_info(p->model)->n_layer;
    uint32_t n_gpu =
        gpu_layers < 0 || (uint32_t)gpu_layers > n_layer ? n_layer : (uint32_t)gpu_layers;
    KvBytes cpu = context_kv_bytes(p->cpu), gpu = context_kv_bytes(p->gpu);
    uint64_t layer = cpu.host / n_layer;
    CHECKF(cpu.device == 0 && layer > 0 && cpu.host == layer * n_layer,
           "%s: the CPU context's KV cache: %llu bytes on the host, %llu on a device", p->name,
           (unsigned long long)cpu.host, (unsigned long long)cpu.device);
    CHECKF(gpu.host == layer * (n_layer - n_gpu) && gpu.device == layer * n_gpu,
           "%s: %u of %u layers on the %s GPU: KV cache %llu bytes on the host and %llu on the "
           "device, expected %llu and %llu",
           p->name, n_gpu, n_layer, p->gpu_name, (unsigned long long)gpu.host,
           (unsigned long long)gpu.device, (unsigned long long)(layer * (n_layer - n_gpu)),
           (unsigned long long)(layer * n_gpu));
    CHECK(ponder_context_kv_bytes(p->cpu) == cpu.host);
    CHECK(ponder_context_kv_bytes(p->gpu) == gpu.host + gpu.device);
}

double backend_pair_check_logits(const BackendPair *p, const char *what, const float *gpu,
                                 const float *cpu, double bound)
{
    double rel = test_rel_rms(gpu, cpu, p->n_vocab);
    CHECKF(isfinite(rel) && rel <= bound, "%s %s: %s vs CPU rel %.4f (bound %.3f)", p->name, what,
           p->gpu_name, rel, bound);
    if (p->check_greedy_choice) {
        int32_t a = sampler_argmax(gpu, (int32_t)p->n_vocab),
                b = sampler_argmax(cpu, (int32_t)p->n_vocab);
        CHECKF(a == b || cpu[b] - cpu[a] < 0.1f, "%s %s: %s picks %d, CPU %d (logits %.3f vs %.3f)",
               p->name, what, p->gpu_name, a, b, cpu[a], cpu[b]);
    }
    return rel;
}

double backend_pair_prompt_and_decode(BackendPair *p, const int32_t *prompt, uint32_t n_prompt,
                                      int n_steps, float *cpu_logits, float *gpu_logits,
                                      double bound, float *first_gpu_logits)
{
    int32_t seq_c = ponder_seq_new(p->cpu), seq_g = ponder_seq_new(p->gpu);
    CHECK(seq_c == seq_g);
    double worst = 0;
    PonderBatchEntry e = {.seq = seq_c, .tokens = prompt, .n_tokens = n_prompt};
    if (!backend_pair_decode(p, &e, 1, cpu_logits, gpu_logits))
        return INFINITY;
    worst = fmax(worst, backend_pair_check_logits(p, "prompt", gpu_logits, cpu_logits, bound));
    if (first_gpu_logits)
        memcpy(first_gpu_logits, gpu_logits, p->n_vocab * sizeof(float));
    for (int s = 0; s < n_steps; s++) {
        int32_t token = sampler_argmax(cpu_logits, (int32_t)p->n_vocab);
        e = (PonderBatchEntry){.seq = seq_c, .tokens = &token, .n_tokens = 1};
        if (!backend_pair_decode(p, &e, 1, cpu_logits, gpu_logits))
            return INFINITY;
        worst =
            fmax(worst, backend_pair_check_logits(p, "decode step", gpu_logits, cpu_logits, bound));
    }
    ponder_seq_free(p->cpu, seq_c);
    ponder_seq_free(p->gpu, seq_g);
    return worst;
}

double backend_pair_check_batched(BackendPair *p, const int32_t *prompt, uint32_t n_prompt,
                                  const uint32_t *prompt_lens, uint32_t n_seq, int n_steps,
                                  uint32_t last_step_stride, double bound)
{
    size_t n_logits = (size_t)n_seq * p->n_vocab;
    float *cpu_l = malloc(n_logits * sizeof(float)), *gpu_l = malloc(n_logits * sizeof(float));
    int32_t **prompts = calloc(n_seq, sizeof *prompts);
    int32_t *seqs = malloc(n_seq * sizeof *seqs), *tokens = malloc(n_seq * sizeof *tokens);
    PonderBatchEntry *e = malloc(n_seq * sizeof *e);
    bool ok = cpu_l && gpu_l && prompts && seqs && tokens && e;
    CHECK(ok);
    for (uint32_t s = 0; ok && s < n_seq; s++) {
        seqs[s] = ponder_seq_new(p->cpu);
        CHECK(seqs[s] == ponder_seq_new(p->gpu));
        uint32_t n = prompt_lens[s];
        ok = (prompts[s] = malloc(n * sizeof(int32_t))) != NULL;
        for (uint32_t i = 0; ok && i < n; i++)
            prompts[s][i] = (prompt[i % n_prompt] + 37 * (int32_t)s) % 1024;
        e[s] = (PonderBatchEntry){.seq = seqs[s], .tokens = prompts[s], .n_tokens = n};
    }
    double worst = 0;
    ok = ok && backend_pair_decode(p, e, n_seq, cpu_l, gpu_l);
    for (uint32_t s = 0; ok && s < n_seq; s++)
        worst = fmax(worst, backend_pair_check_logits(p, "batched prompt", gpu_l + s * p->n_vocab,
                                                      cpu_l + s * p->n_vocab, bound));
    for (int step = 0; ok && step < n_steps; step++) {
        uint32_t stride = step == n_steps - 1 ? last_step_stride : 1, n = 0;
        for (uint32_t s = 0; s < n_seq; s += stride) {
            tokens[s] = sampler_argmax(cpu_l + s * p->n_vocab, (int32_t)p->n_vocab);
            e[n++] = (PonderBatchEntry){.seq = seqs[s], .tokens = &tokens[s], .n_tokens = 1};
        }
        ok = backend_pair_decode(p, e, n, cpu_l, gpu_l);
        for (uint32_t i = 0; ok && i < n; i++)
            worst =
                fmax(worst, backend_pair_check_logits(p, "batched decode", gpu_l + i * p->n_vocab,
                                                      cpu_l + i * p->n_vocab, bound));
    }
    for (uint32_t s = 0; prompts && s < n_seq; s++)
        free(prompts[s]);
    free(prompts);
    free(seqs);
    free(tokens);
    free(e);
    free(cpu_l);
    free(gpu_l);
    return worst;
}

uint32_t reference_prompt(const JsonValue *ref, int32_t *prompt, uint32_t max)
{
    const JsonValue *ids = json_get(ref, "prompt_ids");
    uint32_t n = 0;
    for (size_t i = 0; ids && i < ids->count && n < max; i++)
        prompt[n++] = (int32_t)ids->items[i].integer;
    return n;
}

double reference_rel_rms(const JsonValue *file_ref, const float *logits, uint32_t n_vocab)
{
    const JsonValue *expected = json_get(file_ref, "llama_cpp_logits");
    if (!expected)
        expected = json_get(file_ref, "logits"); // models2/reference.json
    if (!expected || expected->count != n_vocab)
        return INFINITY;
    float *want = malloc(n_vocab * sizeof(float));
    if (!want)
        return INFINITY;
    for (uint32_t i = 0; i < n_vocab; i++)
        want[i] = (float)expected->items[i].number;
    double rel = test_rel_rms(logits, want, n_vocab);
    free(want);
    return rel;
}
