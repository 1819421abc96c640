// Sampler tests against a plain reference written here: double precision, exact exp, a
// full sort of the vocabulary, each filter applied literally as documented. The sampler
// must never draw a token the reference excludes, must draw every token it allows, and
// its frequencies must pass a chi-square test against the reference probabilities.
#include "ponder-infer.h"
#include "test-util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// ---- Reference ---------------------------------------------------------------------------

typedef struct RefOrder {
    double logit;
    int32_t id;
} RefOrder;

static int compare_ref(const void *a, const void *b)
{
    const RefOrder *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

// Logits after the penalties, for HISTORY (oldest first); the window is the last
// penalty_last_n entries (all when negative, none when 0).
static void ref_penalize(const SamplerParams *sp, const float *logits, int32_t n,
                         const int32_t *history, size_t n_history, double *out)
{
    for (int32_t i = 0; i < n; i++)
        out[i] = logits[i];
    if (sp->penalty_last_n == 0)
        return;
    size_t first = 0;
    if (sp->penalty_last_n > 0 && n_history > (size_t)sp->penalty_last_n)
        first = n_history - (size_t)sp->penalty_last_n;
    int32_t *count = calloc((size_t)n, sizeof *count);
    for (size_t i = first; i < n_history; i++)
        count[history[i]]++;
    for (int32_t t = 0; t < n; t++) {
        if (!count[t])
            continue;
        double l = out[t];
        double rp = sp->repetition_penalty;
        l = l > 0 ? l / rp : l * rp;
        l -= sp->presence_penalty + sp->frequency_penalty * count[t];
        out[t] = l;
    }
    free(count);
}

// Probabilities after temperature, top-k, top-p and min-p (zero for excluded tokens).
// *AMBIGUITY is the smallest distance of a top-p or min-p decision from its threshold, so
// tests can avoid cases that float rounding may legitimately decide either way.
static void ref_probs(const SamplerParams *sp, const double *logits, int32_t n, double *probs,
                      double *ambiguity)
{
    RefOrder *order = malloc((size_t)n * sizeof *order);
    for (int32_t i = 0; i < n; i++)
        order[i] = (RefOrder){logits[i], i};
    qsort(order, (size_t)n, sizeof *order, compare_ref);
    double *w = malloc((size_t)n * sizeof *w); // in sorted order
    for (int32_t i = 0; i < n; i++)
        w[i] = exp((order[i].logit - order[0].logit) / sp->temperature);

    int32_t keep = n;
    if (sp->top_k > 0 && sp->top_k < keep)
        keep = sp->top_k;
    *ambiguity = INFINITY;
    if (sp->top_p < 1.0f) {
        double total = 0;
        for (int32_t i = 0; i < keep; i++)
            total += w[i];
        double acc = 0;
        for (int32_t i = 0; i < keep; i++) {
            double before = acc / total;
            acc += w[i];
            if (acc / total >= sp->top_p) {
                *ambiguity = fmin(acc / total - sp->top_p, i > 0 ? sp->top_p - before : INFINITY);
                keep = i + 1;
                break;
            }
        }
    }
    if (sp->min_p > 0.0f) {
        int32_t kept = 1;
        for (int32_t i = 1; i < keep; i++) {
            *ambiguity = fmin(*ambiguity, fabs(w[i] / w[0] - sp->min_p));
            if (w[i] / w[0] >= sp->min_p)
                kept = i + 1;
        }
        keep = kept;
    }
    double total = 0;
    for (int32_t i = 0; i < keep; i++)
        total += w[i];
    memset(probs, 0, (size_t)n * sizeof *probs);
    for (int32_t i = 0; i < keep; i++)
        probs[order[i].id] = w[i] / total;
    free(w);
    free(order);
}

static double ambiguity_of(const SamplerParams *sp, const float *logits, int32_t n)
{
    double *penalized = malloc((size_t)n * sizeof *penalized);
    double *probs = malloc((size_t)n * sizeof *probs);
    double ambiguity;
    ref_penalize(sp, logits, n, NULL, 0, penalized);
    ref_probs(sp, penalized, n, probs, &ambiguity);
    free(penalized);
    free(probs);
    return ambiguity;
}

// ---- Statistics ----------------------------------------------------------------------------

// Upper quantile of chi-square with DF degrees of freedom at normal deviate Z
// (Wilson-Hilferty; accurate to a few percent for df >= 1 in the far tail).
static double chi2_critical(int df, double z)
{
    double k = df, c = 2.0 / (9.0 * k);
    return k * pow(1.0 - c + z * sqrt(c), 3.0);
}

// Checks counts of DRAWS draws against PROBS: no draw of a zero-probability token, every
// allowed token with an expected count of at least 20 seen, and a chi-square test (tokens
// expected fewer than 5 times pooled) at the 1e-6 level. Returns the number of failures.
static int check_frequencies(const char *what, const int64_t *counts, const double *probs,
                             int32_t n, int64_t draws)
{
    int failures = 0;
    double chi2 = 0, pooled_expected = 0;
    int64_t pooled_observed = 0;
    int cells = 0;
    for (int32_t i = 0; i < n; i++) {
        double expected = probs[i] * (double)draws;
        if (probs[i] == 0.0) {
            if (counts[i]) {
                fprintf(stderr, "%s: token %d excluded but drawn %lld times\n", what, i,
                        (long long)counts[i]);
                failures++;
            }
            continue;
        }
        if (expected >= 20 && counts[i] == 0) {
            fprintf(stderr, "%s: token %d allowed (p=%g) but never drawn\n", what, i, probs[i]);
            failures++;
        }
        if (expected < 5) {
            pooled_expected += expected;
            pooled_observed += counts[i];
            continue;
        }
        double d = (double)counts[i] - expected;
        chi2 += d * d / expected;
        cells++;
    }
    if (pooled_expected > 0) {
        double d = (double)pooled_observed - pooled_expected;
        chi2 += d * d / fmax(pooled_expected, 1.0);
        cells++;
    }
    if (cells > 1) {
        double critical = chi2_critical(cells - 1, 4.75); // p ~ 1e-6
        if (chi2 > critical) {
            fprintf(stderr, "%s: chi-square %.1f > %.1f (%d cells)\n", what, chi2, critical, cells);
            failures++;
        }
    }
    return failures;
}

// Draws DRAWS tokens and compares their frequencies with the reference.
static void check_sampler(const char *what, const SamplerParams *sp, const float *logits, int32_t n,
                          const int32_t *history, size_t n_history, int64_t draws)
{
    double *penalized = malloc((size_t)n * sizeof *penalized);
    double *probs = malloc((size_t)n * sizeof *probs);
    int64_t *counts = calloc((size_t)n, sizeof *counts);
    ref_penalize(sp, logits, n, history, n_history, penalized);
    double ambiguity;
    ref_probs(sp, penalized, n, probs, &ambiguity);
    CHECKF(ambiguity > 2e-6, "%s: the test case itself is ambiguous (%g)", what, ambiguity);

    Sampler *s = sampler_new(sp, n);
    CHECK(s != NULL);
    for (size_t i = 0; i < n_history; i++)
        sampler_accept(s, history[i]);
    for (int64_t d = 0; d < draws; d++) {
        int32_t t = sampler_sample(s, logits);
        CHECK(t >= 0 && t < n);
        if (t >= 0 && t < n)
            counts[t]++;
    }
    test_failures += check_frequencies(what, counts, probs, n, draws);
    sampler_free(s);
    free(counts);
    free(probs);
    free(penalized);
}

// ---- Inputs ------------------------------------------------------------------------------------

static uint64_t test_rng = 0x1234567;

static double uniform01(void)
{
    test_rng = test_rng * 6364136223846793005u + 1442695040888963407u;
    return (double)(test_rng >> 11) * 0x1.0p-53;
}

static double gaussian(void)
{
    double u = uniform01(), v = uniform01();
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

// Something like a language model's logits: a broad Gaussian background and a few
// favoured tokens well above it.
static void model_like_logits(float *logits, int32_t n, double spread, int n_peaks)
{
    for (int32_t i = 0; i < n; i++)
        logits[i] = (float)(gaussian() * spread);
    for (int k = 0; k < n_peaks; k++)
        logits[(int32_t)(uniform01() * n)] += (float)(6.0 + 6.0 * uniform01());
}

static SamplerParams filter_params(float temperature, int32_t top_k, float top_p, float min_p,
                                   uint64_t seed)
{
    SamplerParams p = sampler_default_params();
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = seed;
    return p;
}

static SamplerParams plain_params(float temperature)
{
    return filter_params(temperature, 0, 1.0f, 0.0f, 42);
}

// ---- Tests ------------------------------------------------------------------------------

static void test_argmax(void)
{
    const float ties[] = {1.0f, 3.0f, 2.0f, 3.0f, 3.0f};
    CHECK(sampler_argmax(ties, 5) == 1);
    const float with_nan[] = {NAN, -5.0f, NAN, -4.0f};
    CHECK(sampler_argmax(with_nan, 4) == 3);
    const float all_inf[] = {-INFINITY, -INFINITY};
    CHECK(sampler_argmax(all_inf, 2) == 0);
    const float one[] = {-7.0f};
    CHECK(sampler_argmax(one, 1) == 0);

    enum { N = 1000 };
    float logits[N];
    for (int trial = 0; trial < 50; trial++) {
        for (int i = 0; i < N; i++)
            logits[i] = (float)(int)(gaussian() * 4); // many ties
        int best = 0;
        for (int i = 1; i < N; i++)
            if (logits[i] > logits[best])
                best = i;
        CHECK(sampler_argmax(logits, N) == best);
    }
}

// temperature <= 0 (or NaN) is greedy whatever the filters and seed.
static void test_greedy(void)
{
    enum { N = 5000 };
    float *logits = malloc(N * sizeof *logits);
    const float temps[] = {0.0f, -1.0f, NAN};
    for (int trial = 0; trial < 20; trial++) {
        model_like_logits(logits, N, 2.0, 5);
        for (size_t t = 0; t < sizeof temps / sizeof temps[0]; t++) {
            SamplerParams p = sampler_default_params();
            p.temperature = temps[t];
            p.top_k = 3;
            p.seed = (uint64_t)trial;
            Sampler *s = sampler_new(&p, N);
            for (int d = 0; d < 3; d++)
                CHECK(sampler_sample(s, logits) == sampler_argmax(logits, N));
            sampler_free(s);
        }
    }
    free(logits);
}

// 200k draws from a 5-token softmax at several temperatures.
static void test_temperature(void)
{
    const float logits[] = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
    const float temps[] = {0.3f, 0.6f, 1.0f, 2.0f, 5.0f};
    for (size_t t = 0; t < sizeof temps / sizeof temps[0]; t++) {
        char what[64];
        snprintf(what, sizeof what, "softmax at T=%.1f", temps[t]);
        SamplerParams p = plain_params(temps[t]);
        p.seed = 1000 + t;
        check_sampler(what, &p, logits, 5, NULL, 0, 200000);

        // And the per-token deviation stays within 5 binomial standard deviations.
        double penalized[5], probs[5], ambiguity;
        ref_penalize(&p, logits, 5, NULL, 0, penalized);
        ref_probs(&p, penalized, 5, probs, &ambiguity);
        int64_t counts[5] = {0};
        Sampler *s = sampler_new(&p, 5);
        const int draws = 200000;
        for (int d = 0; d < draws; d++)
            counts[sampler_sample(s, logits)]++;
        for (int i = 0; i < 5; i++) {
            double sd = sqrt(probs[i] * (1 - probs[i]) / draws);
            double diff = fabs((double)counts[i] / draws - probs[i]);
            CHECKF(diff <= 5 * sd + 1e-9, "T=%.1f token %d: freq %.5f vs p %.5f", temps[t], i,
                   (double)counts[i] / draws, probs[i]);
        }
        sampler_free(s);
    }
}

// Top-k, top-p and min-p alone and combined on a small vocabulary.
static void test_filters_small(void)
{
    enum { N = 24 };
    float logits[N];
    const struct {
        float temperature;
        int32_t top_k;
        float top_p, min_p;
    } cases[] = {
        {1.0f, 5, 1.0f, 0.0f},    {0.7f, 1, 1.0f, 0.0f},   {1.0f, 0, 0.5f, 0.0f},
        {1.3f, 0, 0.9f, 0.0f},    {1.0f, 0, 0.0f, 0.0f},   {1.0f, 0, 1.0f, 0.1f},
        {2.0f, 0, 1.0f, 0.3f},    {1.0f, 8, 0.8f, 0.0f},   {1.0f, 8, 0.8f, 0.05f},
        {0.8f, 12, 0.95f, 0.02f}, {1.0f, 100, 0.7f, 0.0f}, {1.0f, 0, 0.99f, 0.2f},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        SamplerParams p = filter_params(cases[c].temperature, cases[c].top_k, cases[c].top_p,
                                        cases[c].min_p, 77 + c);
        // Draw logits until the case is unambiguous (deterministic: fixed RNG).
        do {
            for (int i = 0; i < N; i++)
                logits[i] = (float)(gaussian() * 1.5);
        } while (ambiguity_of(&p, logits, N) <= 1e-3);
        char what[96];
        snprintf(what, sizeof what, "small: T=%.1f top_k=%d top_p=%.2f min_p=%.2f", p.temperature,
                 p.top_k, p.top_p, p.min_p);
        check_sampler(what, &p, logits, N, NULL, 0, 50000);
    }
}

// The same filters on a full-size vocabulary, where the sampler takes its fast paths.
static void test_filters_large(void)
{
    enum { N = 152064 };
    float *logits = malloc(N * sizeof *logits);
    const struct {
        double spread;
        int peaks;
        float temperature;
        int32_t top_k;
        float top_p, min_p;
        int draws;
    } cases[] = {
        {2.5, 30, 0.6f, 0, 0.95f, 0.0f, 1500}, // R1's recommended setting
        {2.5, 30, 0.6f, 0, 1.0f, 0.0f, 1500},  // no filter
        {2.5, 30, 1.0f, 40, 1.0f, 0.0f, 1500},
        {2.5, 3, 1.0f, 40, 1.0f, 0.0f, 1500}, // k beyond the favoured tokens
        {2.5, 30, 0.6f, 20, 0.9f, 0.0f, 1500},
        {2.5, 30, 0.6f, 0, 1.0f, 0.05f, 1500},
        {2.5, 30, 0.8f, 0, 0.95f, 0.01f, 1500},
        {1.0, 0, 1.0f, 0, 0.5f, 0.0f, 600},    // flat: a huge nucleus
        {1.0, 0, 1.0f, 2000, 1.0f, 0.0f, 600}, // large k
        {1.0, 0, 1.0f, 300, 0.3f, 0.0f, 600},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        SamplerParams p = filter_params(cases[c].temperature, cases[c].top_k, cases[c].top_p,
                                        cases[c].min_p, 500 + c);
        // New logits until no top-p/min-p decision is within rounding of its threshold.
        for (;;) {
            model_like_logits(logits, N, cases[c].spread, cases[c].peaks);
            if (ambiguity_of(&p, logits, N) > 3e-6)
                break;
        }
        char what[128];
        snprintf(what, sizeof what,
                 "large: spread %.1f peaks %d T=%.1f top_k=%d top_p=%.2f "
                 "min_p=%.2f",
                 cases[c].spread, cases[c].peaks, p.temperature, p.top_k, p.top_p, p.min_p);
        check_sampler(what, &p, logits, N, NULL, 0, cases[c].draws);
    }

    // Ties at the top-k boundary go to the lower ids: 10 tokens at 5, 200 at 3, the rest
    // far below; top-k 105 keeps the 10 and the first 95 of the 3s.
    for (int32_t i = 0; i < N; i++)
        logits[i] = -30.0f;
    int32_t placed = 0;
    for (int32_t i = 7; placed < 210; i += 701, placed++)
        logits[i] = placed < 10 ? 5.0f : 3.0f;
    SamplerParams p = plain_params(1.0f);
    p.top_k = 105;
    check_sampler("large: ties at the top-k boundary", &p, logits, N, NULL, 0, 5000);
    free(logits);
}

// Penalties change the distribution exactly as the reference computes them.
static void test_penalties(void)
{
    enum { N = 12 };
    const float logits[N] = {2.0f, 1.8f, -0.5f, 0.3f,  1.0f, -1.2f,
                             0.0f, 1.5f, 0.9f,  -0.2f, 0.6f, 1.1f};
    const int32_t history[] = {0, 2, 2, 7, 5, 0, 0, 11, 2, 3};
    const size_t n_history = sizeof history / sizeof history[0];
    const struct {
        float repetition, presence, frequency;
        int32_t last_n;
    } cases[] = {
        {1.3f, 0.0f, 0.0f, -1}, {1.3f, 0.0f, 0.0f, 4}, {1.0f, 0.7f, 0.0f, 64},
        {1.0f, 0.0f, 0.4f, 64}, {1.2f, 0.5f, 0.3f, 6}, {1.5f, 1.0f, 1.0f, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        SamplerParams p = plain_params(1.0f);
        p.repetition_penalty = cases[c].repetition;
        p.presence_penalty = cases[c].presence;
        p.frequency_penalty = cases[c].frequency;
        p.penalty_last_n = cases[c].last_n;
        p.seed = 900 + c;
        char what[96];
        snprintf(what, sizeof what, "penalties rep %.1f presence %.1f frequency %.1f last %d",
                 p.repetition_penalty, p.presence_penalty, p.frequency_penalty, p.penalty_last_n);
        check_sampler(what, &p, logits, N, history, n_history, 100000);

        // Greedy picks the argmax of the penalized logits.
        double penalized[N];
        ref_penalize(&p, logits, N, history, n_history, penalized);
        int best = 0;
        for (int i = 1; i < N; i++)
            if (penalized[i] > penalized[best])
                best = i;
        p.temperature = 0.0f;
        Sampler *s = sampler_new(&p, N);
        for (size_t i = 0; i < n_history; i++)
            sampler_accept(s, history[i]);
        CHECKF(sampler_sample(s, logits) == best, "%s: greedy", what);
        // reset forgets the history.
        sampler_reset(s);
        CHECK(sampler_sample(s, logits) == 0);
        sampler_free(s);
    }

    // Hand-checked: token 0 (2.0) seen once, repetition 1.25 -> 1.6 < 1.8, so token 1 wins
    // greedily; with presence 0.1 on top of a 1.0 repetition penalty, 1.9 still wins.
    SamplerParams p = plain_params(0.0f);
    p.repetition_penalty = 1.25f;
    Sampler *s = sampler_new(&p, N);
    sampler_accept(s, 0);
    CHECK(sampler_sample(s, logits) == 1);
    sampler_free(s);
    p.repetition_penalty = 1.0f;
    p.presence_penalty = 0.1f;
    s = sampler_new(&p, N);
    sampler_accept(s, 0);
    CHECK(sampler_sample(s, logits) == 0);
    sampler_accept(s, 0);
    CHECK(sampler_sample(s, logits) == 0); // presence does not grow with the count
    sampler_free(s);
    // Out-of-range tokens are ignored.
    p = plain_params(0.0f);
    p.repetition_penalty = 2.0f;
    s = sampler_new(&p, N);
    sampler_accept(s, -1);
    sampler_accept(s, N);
    CHECK(sampler_sample(s, logits) == 0);
    sampler_free(s);
}

// Same seed, same choices; another seed, other choices; reset starts over.
static void test_seeds(void)
{
    enum { N = 152064, DRAWS = 300 };
    float *logits = malloc(N * sizeof *logits);
    model_like_logits(logits, N, 1.5, 50);
    SamplerParams p = sampler_default_params();
    p.temperature = 1.0f;
    p.seed = 2024;
    Sampler *a = sampler_new(&p, N), *b = sampler_new(&p, N);
    p.seed = 2025;
    Sampler *c = sampler_new(&p, N);
    int32_t first[DRAWS];
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < DRAWS; i++) {
        first[i] = sampler_sample(a, logits);
        int32_t tb = sampler_sample(b, logits), tc = sampler_sample(c, logits);
        same_ab += first[i] == tb;
        same_ac += first[i] == tc;
    }
    CHECK(same_ab == DRAWS);
    CHECKF(same_ac < DRAWS / 2, "seeds 2024 and 2025 agree on %d of %d draws", same_ac, DRAWS);
    sampler_reset(a);
    int replayed = 0;
    for (int i = 0; i < DRAWS; i++)
        replayed += sampler_sample(a, logits) == first[i];
    CHECK(replayed == DRAWS);
    sampler_free(a);
    sampler_free(b);
    sampler_free(c);
    free(logits);
}

// Masked (-inf) and NaN logits are never drawn, even with no filter.
static void test_masked(void)
{
    enum { N = 4096 };
    float logits[N];
    for (int i = 0; i < N; i++)
        logits[i] = i % 2 ? (float)(gaussian() * 0.1) : -INFINITY;
    logits[5] = NAN;
    logits[N - 1] = NAN;
    const float top_ps[] = {1.0f, 0.999f};
    for (size_t t = 0; t < 2; t++) {
        SamplerParams p = plain_params(3.0f);
        p.top_p = top_ps[t];
        Sampler *s = sampler_new(&p, N);
        int bad = 0;
        for (int d = 0; d < 30000; d++) {
            int32_t tok = sampler_sample(s, logits);
            bad += tok % 2 == 0 || tok == 5 || tok == N - 1;
        }
        CHECKF(bad == 0, "top_p %.3f: %d draws of masked tokens", top_ps[t], bad);
        sampler_free(s);
    }
    // All masked: still returns a valid id.
    for (int i = 0; i < N; i++)
        logits[i] = -INFINITY;
    Sampler *s = sampler_new(NULL, N);
    int32_t tok = sampler_sample(s, logits);
    CHECK(tok >= 0 && tok < N);
    sampler_free(s);
    CHECK(sampler_new(NULL, 0) == NULL);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Reports (does not check: CI machines vary) the cost of one draw at R1's settings.
static void report_speed(void)
{
    enum { N = 152064, DRAWS = 200 };
    float *logits = malloc(N * sizeof *logits);
    model_like_logits(logits, N, 2.5, 30);
    SamplerParams p = sampler_default_params();
    Sampler *s = sampler_new(&p, N);
    double best = INFINITY, total = 0;
    for (int i = 0; i < DRAWS; i++) {
        double t0 = now_seconds();
        sampler_sample(s, logits);
        double dt = now_seconds() - t0;
        total += dt;
        best = fmin(best, dt);
    }
    printf("sample (152064 logits, T 0.6, top-p 0.95): mean %.0f us, best %.0f us\n",
           total / DRAWS * 1e6, best * 1e6);
    sampler_free(s);
    free(logits);
}

int main(void)
{
    test_argmax();
    test_greedy();
    test_temperature();
    test_filters_small();
    test_filters_large();
    test_penalties();
    test_seeds();
    test_masked();
    report_speed();
    return test_finish();
}
