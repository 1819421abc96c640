// `bench`: prompt processing and generation speed, measured like llama-bench
// (pp = one prefill of P tokens; tg = N single-token steps; both after --depth tokens of
// context; --parallel decodes several sequences per step and reports the aggregate).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"
#include "tool.h"

typedef struct BenchOptions {
    CommonOptions common;
    uint32_t n_prompt, n_gen, depth, parallel, reps;
    bool json;
} BenchOptions;

typedef struct BenchResult {
    const char *test;
    uint32_t n_tokens; // per repetition, all sequences together
    double mean, stddev;
    double *samples;
} BenchResult;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static int32_t random_token(uint32_t n_vocab)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (int32_t)(rng_state % n_vocab);
}

static bool fill_context(PonderContext *ctx, int32_t seq, uint32_t n, uint32_t n_vocab,
                         PonderError *err)
{
    if (n == 0)
        return true;
    int32_t *tokens = malloc(n * sizeof *tokens);
    if (!tokens)
        return false;
    for (uint32_t i = 0; i < n; i++)
        tokens[i] = random_token(n_vocab);
    PonderBatchEntry entry = {.seq = seq, .tokens = tokens, .n_tokens = n};
    bool ok = ponder_decode(ctx, &entry, 1, err) == PONDER_OK;
    free(tokens);
    return ok;
}

// One repetition: resets the sequences to DEPTH tokens, then times the test.
static double run_once(PonderContext *ctx, const BenchOptions *o, bool prompt_test,
                       uint32_t n_vocab, int32_t *seqs, float *logits, PonderError *err)
{
    for (uint32_t s = 0; s < o->parallel; s++)
        ponder_seq_truncate(ctx, seqs[s], o->depth);
    if (prompt_test) {
        double t0 = now_seconds();
        if (!fill_context(ctx, seqs[0], o->n_prompt, n_vocab, err))
            return -1;
        return now_seconds() - t0;
    }
    PonderBatchEntry *entries = calloc(o->parallel, sizeof *entries);
    int32_t *tokens = calloc(o->parallel, sizeof *tokens);
    double elapsed = -1;
    if (entries && tokens) {
        double t0 = now_seconds();
        uint32_t step;
        for (step = 0; step < o->n_gen; step++) {
            for (uint32_t s = 0; s < o->parallel; s++) {
                tokens[s] = random_token(n_vocab);
                entries[s] = (PonderBatchEntry){.seq = seqs[s],
                                                .tokens = &tokens[s],
                                                .n_tokens = 1,
                                                .logits = logits + (uint64_t)s * n_vocab};
            }
            if (ponder_decode(ctx, entries, o->parallel, err) != PONDER_OK)
                break;
        }
        if (step == o->n_gen)
            elapsed = now_seconds() - t0;
    }
    free(entries);
    free(tokens);
    return elapsed;
}

static bool run_test(PonderContext *ctx, const BenchOptions *o, bool prompt_test, uint32_t n_vocab,
                     int32_t *seqs, float *logits, BenchResult *r)
{
    PonderError err = {0};
    r->n_tokens = prompt_test ? o->n_prompt : o->n_gen * o->parallel;
    r->samples = calloc(o->reps, sizeof(double));
    if (!r->samples)
        return false;
    // A warm-up repetition first (page faults of the mapped weights, thread start-up).
    if (run_once(ctx, o, prompt_test, n_vocab, seqs, logits, &err) < 0) {
        fprintf(stderr, "ponder-infer: %s\n", err.message);
        return false;
    }
    double sum = 0;
    for (uint32_t i = 0; i < o->reps; i++) {
        double t = run_once(ctx, o, prompt_test, n_vocab, seqs, logits, &err);
        if (t <= 0) {
            fprintf(stderr, "ponder-infer: %s\n", err.message);
            return false;
        }
        r->samples[i] = r->n_tokens / t;
        sum += r->samples[i];
    }
    r->mean = sum / o->reps;
    double var = 0;
    for (uint32_t i = 0; i < o->reps; i++)
        var += (r->samples[i] - r->mean) * (r->samples[i] - r->mean);
    r->stddev = o->reps > 1 ? sqrt(var / (o->reps - 1)) : 0;
    return true;
}

static void test_name(const BenchOptions *o, bool prompt_test, char *buf, size_t size)
{
    int n =
        snprintf(buf, size, prompt_test ? "pp%u" : "tg%u", prompt_test ? o->n_prompt : o->n_gen);
    if (o->depth)
        n += snprintf(buf + n, size - (size_t)n, " @ d%u", o->depth);
    if (!prompt_test && o->parallel > 1)
        snprintf(buf + n, size - (size_t)n, " x%u", o->parallel);
}

int cmd_bench(int argc, char **argv)
{
    BenchOptions o = {
        .common = {.gpu_layers = -1}, .n_prompt = 512, .n_gen = 128, .parallel = 1, .reps = 5};
    ArgCursor args = {argc, argv, 1};
    for (; args.i < argc; args.i++) {
        int c = parse_common_option(&args, &o.common);
        if (c < 0)
            return 2;
        if (c)
            continue;
        const char *arg = argv[args.i], *v;
        uint32_t *target = strcmp(arg, "-p") == 0           ? &o.n_prompt
                           : strcmp(arg, "-n") == 0         ? &o.n_gen
                           : strcmp(arg, "--depth") == 0    ? &o.depth
                           : strcmp(arg, "--parallel") == 0 ? &o.parallel
                           : strcmp(arg, "--reps") == 0     ? &o.reps
                                                            : NULL;
        if (target) {
            if (!(v = option_value(&args, arg)) || !parse_u32(v, target))
                return usage_error("%s needs a number", arg);
        } else if (strcmp(arg, "--json") == 0) {
            o.json = true;
        } else {
            return usage_error("bench: unknown option '%s'", arg);
        }
    }
    if (o.parallel == 0 || o.reps == 0)
        return usage_error("--parallel and --reps must be at least 1");
    if (o.common.n_ctx == 0)
        o.common.n_ctx = o.depth + (o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen) + 16;

    PonderModel *model;
    PonderContext *ctx;
    if (!open_model(&o.common, o.parallel, &model, &ctx))
        return 1;
    const PonderModelInfo *mi = ponder_model_info(model);
    uint32_t threads = ponder_context_n_threads(ctx);
    int32_t *seqs = calloc(o.parallel, sizeof *seqs);
    float *logits = malloc((uint64_t)o.parallel * mi->n_vocab * sizeof(float));
    int status = 0;
    PonderError err = {0};
    for (uint32_t s = 0; seqs && s < o.parallel; s++) {
        seqs[s] = ponder_seq_new(ctx);
        if (!fill_context(ctx, seqs[s], o.depth, mi->n_vocab, &err)) {
            fprintf(stderr, "ponder-infer: %s\n", err.message);
            status = 1;
        }
    }
    BenchResult results[2] = {0};
    int n_results = 0;
    bool tests[2] = {o.n_prompt > 0, o.n_gen > 0};
    for (int t = 0; t < 2 && status == 0 && seqs && logits; t++) {
        if (!tests[t])
            continue;
        if (!run_test(ctx, &o, t == 0, mi->n_vocab, seqs, logits, &results[n_results]))
            status = 1;
        else
            n_results++;
    }

    if (!o.json) {
        printf("| model | size | params | backend | threads | kernels | test | t/s |\n");
        printf("| --- | ---: | ---: | --- | ---: | --- | --- | ---: |\n");
    } else {
        printf("[");
    }
    for (int i = 0; i < n_results; i++) {
        char name[64];
        test_name(&o, i == 0 && tests[0], name, sizeof name);
        if (o.json) {
            printf("%s\n  {\"model\": \"%s\", \"file_type\": \"%s\", \"size_bytes\": %llu, "
                   "\"n_params\": %llu, \"backend\": \"%s\", \"threads\": %u, \"cpu_kernels\": "
                   "\"%s\", "
                   "\"test\": \"%s\", \"n_prompt\": %u, \"n_gen\": %u, \"depth\": %u, "
                   "\"parallel\": %u, "
                   "\"reps\": %u, \"avg_ts\": %.3f, \"stddev_ts\": %.3f}",
                   i ? "," : "", mi->name, mi->file_type, (unsigned long long)mi->tensor_bytes,
                   (unsigned long long)mi->n_params, ponder_backend_name(o.common.backend), threads,
                   ponder_cpu_kernel_level(), name, i == 0 && tests[0] ? o.n_prompt : 0,
                   i == 0 && tests[0] ? 0 : o.n_gen, o.depth, o.parallel, o.reps, results[i].mean,
                   results[i].stddev);
        } else {
            printf("| %s %s | %.2f GiB | %.2f B | %s | %u | %s | %s | %.2f ± %.2f |\n", mi->name,
                   mi->file_type, mi->tensor_bytes / 1073741824.0, mi->n_params / 1e9,
                   ponder_backend_name(o.common.backend), threads, ponder_cpu_kernel_level(), name,
                   results[i].mean, results[i].stddev);
        }
        free(results[i].samples);
    }
    if (o.json)
        printf("\n]\n");
    free(seqs);
    free(logits);
    ponder_context_free(ctx);
    ponder_model_free(model);
    return status;
}
