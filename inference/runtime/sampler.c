// Token sampling.
//
// Order of the steps (that of Hugging Face `generate` and vLLM, which DeepSeek's
// recommended settings assume): penalties on the raw logits, then temperature, then
// top-k, top-p (over the top-k set, renormalised) and min-p (relative to the most
// likely token), then one draw from what is left.
//
// Speed on a 152k vocabulary comes from never sorting:
//   1. exp((logit - max) / T) for every token with a branch-free exp that the compiler
//      vectorises (glibc's expf alone costs ~0.6 ms for 152k values on a slow core);
//   2. one pass gathers the tokens the filters could keep: those whose weight is at
//      least (1 - top_p) / n_vocab (all lighter tokens together weigh less than the
//      1 - top_p that the nucleus leaves out) or min_p;
//   3. top-k and top-p are radix selections on the weights' float bits (which order like
//      the weights) over that small set, with the count or mass of each digit;
//   4. the draw walks the kept tokens in id order: no sorted order is ever needed.
#include "ponder-infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    EXP_BLOCK = 16, // the exp loop works in fixed blocks so that -O2 vectorises it
};

// A weight below which top-k's k tokens usually are not (checked, then lowered to 0).
#define TOP_K_GUESS 0x1.0p-40f

typedef struct Candidate {
    float weight;
    int32_t id;
} Candidate;

struct Sampler {
    SamplerParams params;
    int32_t n_vocab;
    uint64_t rng[4]; // xoshiro256** state

    // Penalty window: the last penalty_last_n accepted tokens (all of them when < 0).
    int32_t *ring; // [penalty_last_n] oldest at ring_start; NULL when unbounded or off
    size_t ring_len, ring_start;
    int32_t *counts;       // [n_vocab] occurrences in the window
    int32_t *distinct;     // [n_vocab] the tokens whose count is > 0
    int32_t *distinct_pos; // [n_vocab] index in distinct, or -1
    size_t n_distinct;

    // Scratch for one sample.
    float *penalized;      // [n_vocab] logits after the penalties
    float *weights;        // [n_vocab] exp((logit - max) / T), the max token has 1
    Candidate *candidates; // [n_vocab] tokens that filters may keep, in id order
    Candidate *group;      // [n_vocab] scratch of the radix selection
};

// ---- Random numbers: xoshiro256** seeded through splitmix64 ------------------------

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

// Uniform in [0, 1) with 53 random bits.
static double rng_uniform(uint64_t s[4])
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static void rng_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&seed);
}

// ---- Parameters and lifetime --------------------------------------------------------

SamplerParams sampler_default_params(void)
{
    return (SamplerParams){
        .temperature = 0.6f,
        .top_k = 0,
        .top_p = 0.95f,
        .min_p = 0.0f,
        .repetition_penalty = 1.0f,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .penalty_last_n = 64,
        .seed = 0,
    };
}

Sampler *sampler_new(const SamplerParams *params, int32_t n_vocab)
{
    if (n_vocab <= 0)
        return NULL;
    Sampler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->params = params ? *params : sampler_default_params();
    s->n_vocab = n_vocab;
    size_t n = (size_t)n_vocab;
    if (s->params.penalty_last_n > 0)
        s->ring = malloc((size_t)s->params.penalty_last_n * sizeof *s->ring);
    s->counts = calloc(n, sizeof *s->counts);
    s->distinct = malloc(n * sizeof *s->distinct);
    s->distinct_pos = malloc(n * sizeof *s->distinct_pos);
    s->penalized = malloc(n * sizeof *s->penalized);
    s->weights = malloc(n * sizeof *s->weights);
    s->candidates = malloc(n * sizeof *s->candidates);
    s->group = malloc(n * sizeof *s->group);
    if ((s->params.penalty_last_n > 0 && !s->ring) || !s->counts || !s->distinct ||
        !s->distinct_pos || !s->penalized || !s->weights || !s->candidates || !s->group) {
        sampler_free(s);
        return NULL;
    }
    memset(s->distinct_pos, 0xff, n * sizeof *s->distinct_pos); // all -1
    rng_seed(s->rng, s->params.seed);
    return s;
}

void sampler_free(Sampler *s)
{
    if (!s)
        return;
    free(s->ring);
    free(s->counts);
    free(s->distinct);
    free(s->distinct_pos);
    free(s->penalized);
    free(s->weights);
    free(s->candidates);
    free(s->group);
    free(s);
}

void sampler_reset(Sampler *s)
{
    for (size_t i = 0; i < s->n_distinct; i++) {
        s->counts[s->distinct[i]] = 0;
        s->distinct_pos[s->distinct[i]] = -1;
    }
    s->n_distinct = 0;
    s->ring_len = 0;
    s->ring_start = 0;
    rng_seed(s->rng, s->params.seed);
}

// ---- Penalty window ------------------------------------------------------------------

static void count_add(Sampler *s, int32_t token)
{
    if (s->counts[token]++ == 0) {
        s->distinct_pos[token] = (int32_t)s->n_distinct;
        s->distinct[s->n_distinct++] = token;
    }
}

static void count_remove(Sampler *s, int32_t token)
{
    if (--s->counts[token] == 0) {
        int32_t pos = s->distinct_pos[token];
        int32_t last = s->distinct[--s->n_distinct];
        s->distinct[pos] = last;
        s->distinct_pos[last] = pos;
        s->distinct_pos[token] = -1;
    }
}

void sampler_accept(Sampler *s, int32_t token)
{
    if (token < 0 || token >= s->n_vocab || s->params.penalty_last_n == 0)
        return;
    if (s->ring) {
        size_t cap = (size_t)s->params.penalty_last_n;
        if (s->ring_len == cap) {
            count_remove(s, s->ring[s->ring_start]);
            s->ring[s->ring_start] = token;
            s->ring_start = (s->ring_start + 1) % cap;
        } else {
            s->ring[(s->ring_start + s->ring_len++) % cap] = token;
        }
    }
    count_add(s, token);
}

static bool penalties_active(const SamplerParams *p)
{
    return p->penalty_last_n != 0 && (p->repetition_penalty != 1.0f ||
                                      p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f);
}

// CTRL's repetition penalty (shrinks a seen token's logit towards -inf whatever its sign),
// then OpenAI's presence and frequency penalties.
static void apply_penalties(const Sampler *s, float *logits)
{
    const SamplerParams *p = &s->params;
    for (size_t i = 0; i < s->n_distinct; i++) {
        int32_t token = s->distinct[i];
        float l = logits[token];
        if (p->repetition_penalty != 1.0f && p->repetition_penalty > 0.0f)
            l = l > 0.0f ? l / p->repetition_penalty : l * p->repetition_penalty;
        l -= p->presence_penalty + p->frequency_penalty * (float)s->counts[token];
        logits[token] = l;
    }
}

// ---- Weights ---------------------------------------------------------------------------

// The largest logit, NaN ignored (-inf when there is none). Independent lanes let the
// compiler use packed max instructions.
static float max_logit(const float *logits, int32_t n)
{
    float lanes[EXP_BLOCK];
    for (int j = 0; j < EXP_BLOCK; j++)
        lanes[j] = -INFINITY;
    int32_t i = 0;
    for (; i + EXP_BLOCK <= n; i += EXP_BLOCK) {
        for (int j = 0; j < EXP_BLOCK; j++)
            lanes[j] = logits[i + j] > lanes[j] ? logits[i + j] : lanes[j];
    }
    float m = -INFINITY;
    for (; i < n; i++)
        m = logits[i] > m ? logits[i] : m;
    for (int j = 0; j < EXP_BLOCK; j++)
        m = lanes[j] > m ? lanes[j] : m;
    return m;
}

int32_t sampler_argmax(const float *logits, int32_t n)
{
    float m = max_logit(logits, n);
    for (int32_t i = 0; i < n; i++)
        if (logits[i] == m)
            return i;
    return 0; // all NaN
}

// exp(x) for x <= 0 to within 3e-7 relative; 0 for x < -87 and for NaN. Branch-free,
// integer selects only, so the calling loop vectorises at -O2.
static inline float exp_nonpositive(float x)
{
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    // All ones when |x| > 87 (or x is inf/NaN): the result is then forced to 0.
    int32_t out_of_range = (0x42AE0000 - (bits & 0x7fffffff)) >> 31;
    bits &= ~out_of_range;
    memcpy(&x, &bits, sizeof x);

    // x = n ln2 + r, |r| <= ln2 / 2 (rounding by the 1.5 * 2^23 trick), ln2 split in two
    // so that n * ln2_hi is exact.
    float n = x * 1.44269504088896341f + 12582912.0f;
    n -= 12582912.0f;
    float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    // exp(r): its Taylor polynomial of degree 6 in Horner form (error < 2.5e-7 here).
    float poly = 0.0013888889f;
    poly = poly * r + 0.0083333338f;
    poly = poly * r + 0.041666668f;
    poly = poly * r + 0.16666666f;
    poly = poly * r + 0.5f;
    poly = poly * r + 1.0f;
    poly = poly * r + 1.0f;
    int32_t scale_bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    float y = poly * scale;
    memcpy(&bits, &y, sizeof bits);
    bits &= ~out_of_range;
    memcpy(&y, &bits, sizeof y);
    return y;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

// weights[i] = exp((logits[i] - max) * inv_temp); returns their sum. Tokens whose weight
// is at least MIN_WEIGHT are gathered into CANDIDATES (in id order, *N_CANDIDATES) in the
// same pass, while their block is in cache. The sum runs in float lanes (to vectorise)
// flushed into a double every chunk, which bounds the rounding.
static double compute_weights(const float *restrict logits, float *restrict weights, int32_t n,
                              float max, float inv_temp, float min_weight,
                              Candidate *restrict candidates, size_t *n_candidates)
{
    enum { CHUNK = 64 * EXP_BLOCK };
    uint32_t min_bits = float_bits(min_weight); // weights are >= 0: bits order like values
    size_t count = 0;
    double sum = 0.0;
    int32_t i = 0;
    while (i + EXP_BLOCK <= n) {
        float lane_sums[EXP_BLOCK] = {0};
        int32_t chunk_end = n - i > CHUNK ? i + CHUNK : n;
        for (; i + EXP_BLOCK <= chunk_end; i += EXP_BLOCK) {
            int32_t hits = 0;
            for (int j = 0; j < EXP_BLOCK; j++) {
                float w = exp_nonpositive((logits[i + j] - max) * inv_temp);
                weights[i + j] = w;
                lane_sums[j] += w;
                hits += float_bits(w) >= min_bits;
            }
            if (hits) {
                for (int j = 0; j < EXP_BLOCK; j++) {
                    candidates[count] = (Candidate){weights[i + j], i + j};
                    count += float_bits(weights[i + j]) >= min_bits;
                }
            }
        }
        for (int j = 0; j < EXP_BLOCK; j++)
            sum += lane_sums[j];
    }
    for (; i < n; i++) {
        weights[i] = exp_nonpositive((logits[i] - max) * inv_temp);
        sum += weights[i];
        candidates[count] = (Candidate){weights[i], i};
        count += float_bits(weights[i]) >= min_bits;
    }
    *n_candidates = count;
    return sum;
}

// ---- Selection -------------------------------------------------------------------------

// Gathers the tokens whose weight is at least MIN_WEIGHT into CANDIDATES, in id order.
static size_t gather(const float *weights, int32_t n, float min_weight, Candidate *candidates)
{
    uint32_t min_bits = float_bits(min_weight);
    size_t count = 0;
    for (int32_t i = 0; i < n; i++) { // branch-free: always write, advance when kept
        candidates[count] = (Candidate){weights[i], i};
        count += float_bits(weights[i]) >= min_bits;
    }
    return count;
}

// Keeps the first tokens of C[0..n) in descending weight order (ties: lower id first) up
// to and including the one where the running count (BY_MASS false) or weight (BY_MASS
// true) reaches NEED; at least one. C stays in id order. Returns the new count.
//
// A most-significant-digit radix selection on the weights' bits: each level keeps only the
// "group" of tokens sharing the digits fixed so far. The first digit is the exponent and
// three mantissa bits (weights are in [0, 1], so 10 bits hold it), fine enough that the
// first group is usually small.
static size_t keep_top(Candidate *c, size_t n, bool by_mass, double need, Candidate *scratch)
{
    static const struct {
        int shift;
        unsigned mask;
    } levels[] = {{20, 0x3ff}, {12, 0xff}, {4, 0xff}, {0, 0xf}};
    const Candidate *group = c;
    size_t n_group = n;
    double above = 0.0; // count or weight of the tokens heavier than the group
    uint32_t boundary = 0;
    for (size_t level = 0; level < sizeof levels / sizeof levels[0]; level++) {
        int shift = levels[level].shift;
        unsigned mask = levels[level].mask;
        size_t counts[1024] = {0};
        double mass[1024] = {0};
        for (size_t i = 0; i < n_group; i++) {
            unsigned digit = (float_bits(group[i].weight) >> shift) & mask;
            counts[digit]++;
            mass[digit] += group[i].weight;
        }
        int chosen = -1;
        for (int d = (int)mask; d >= 0; d--) {
            if (!counts[d])
                continue;
            double here = by_mass ? mass[d] : (double)counts[d];
            if (above + here >= need) {
                chosen = d;
                break;
            }
            above += here;
        }
        if (chosen < 0) // NEED beyond the total (rounding, or k > n): keep everything
            return n;
        boundary |= (uint32_t)chosen << shift;
        size_t kept = 0;
        for (size_t i = 0; i < n_group; i++) { // branch-free: the outcome is unpredictable
            scratch[kept] = group[i];
            kept += ((float_bits(group[i].weight) >> shift) & mask) == (unsigned)chosen;
        }
        group = scratch;
        n_group = kept;
    }

    // The group now holds the tokens whose weight is exactly the boundary, in id order.
    size_t ties = 0;
    for (; ties < n_group; ties++) {
        above += by_mass ? group[ties].weight : 1.0;
        if (above >= need) {
            ties++;
            break;
        }
    }
    size_t kept = 0, seen_ties = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = float_bits(c[i].weight);
        c[kept] = c[i];
        kept += (bits > boundary) | ((bits == boundary) & (seen_ties < ties));
        seen_ties += bits == boundary;
    }
    return kept ? kept : 1;
}

// ---- Drawing -----------------------------------------------------------------------------

static double candidates_total(const Candidate *c, size_t n)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
        total += c[i].weight;
    return total;
}

// Draws from candidates[0..n) in proportion to their weights (whose sum is TOTAL).
static int32_t draw(uint64_t rng[4], const Candidate *c, size_t n, double total)
{
    double target = rng_uniform(rng) * total;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        acc += c[i].weight;
        if (target < acc)
            return c[i].id;
    }
    for (size_t i = n; i-- > 0;) // rounding left the target at the very end
        if (c[i].weight > 0.0f)
            return c[i].id;
    return c[0].id;
}

static int32_t draw_all(uint64_t rng[4], const float *weights, int32_t n, double total)
{
    double target = rng_uniform(rng) * total;
    double acc = 0.0;
    for (int32_t i = 0; i < n; i++) {
        acc += weights[i];
        if (target < acc)
            return i;
    }
    for (int32_t i = n; i-- > 0;)
        if (weights[i] > 0.0f)
            return i;
    return 0;
}

int32_t sampler_sample(Sampler *s, const float *logits)
{
    const SamplerParams *p = &s->params;
    int32_t n = s->n_vocab;
    if (penalties_active(p) && s->n_distinct > 0) {
        memcpy(s->penalized, logits, (size_t)n * sizeof *logits);
        apply_penalties(s, s->penalized);
        logits = s->penalized;
    }

    if (!(p->temperature > 0.0f)) // also NaN
        return sampler_argmax(logits, n);
    float inv_temp = 1.0f / p->temperature;
    if (!isfinite(inv_temp)) // a subnormal temperature: greedy in effect
        return sampler_argmax(logits, n);
    float max = max_logit(logits, n);
    if (!isfinite(max)) // all -inf/NaN, or a +inf that outweighs everything
        return sampler_argmax(logits, n);

    bool use_top_k = p->top_k > 0 && p->top_k < n;
    bool use_top_p = p->top_p < 1.0f; // NaN: off
    bool use_min_p = p->min_p > 0.0f;
    // Lighter tokens than MIN_WEIGHT cannot be kept. Top-p after top-k needs the whole
    // top-k set (its total is top-p's reference), so min-p cannot narrow that case. The
    // most likely token has weight exactly 1 (exp(0)), so min-p compares to min_p.
    float min_weight = 2.0f; // above every weight: gather nothing
    if (use_top_k || use_top_p || use_min_p)
        min_weight = 0.0f;
    if (use_top_p)
        min_weight = (1.0f - p->top_p) / (float)n * 0.5f; // halved: margin for rounding
    if (use_min_p && !(use_top_k && use_top_p))
        min_weight = fmaxf(min_weight, fminf(p->min_p, 1.0f));
    if (use_top_k && !use_top_p && !use_min_p)
        min_weight = TOP_K_GUESS;

    Candidate *c = s->candidates;
    size_t n_candidates = 0;
    double total =
        compute_weights(logits, s->weights, n, max, inv_temp, min_weight, c, &n_candidates);
    if (!use_top_k && !use_top_p && !use_min_p)
        return draw_all(s->rng, s->weights, n, total);
    // Top-k reaching below MIN_WEIGHT (unless min-p alone then decides): gather lower.
    if (use_top_k && n_candidates < (size_t)p->top_k && !(use_min_p && !use_top_p)) {
        if (min_weight > TOP_K_GUESS)
            n_candidates = gather(s->weights, n, TOP_K_GUESS, c);
        if (n_candidates < (size_t)p->top_k)
            n_candidates = gather(s->weights, n, 0.0f, c);
    }

    double top_total = total;
    if (use_top_k) {
        n_candidates = keep_top(c, n_candidates, false, (double)p->top_k, s->group);
        top_total = candidates_total(c, n_candidates);
    }
    if (use_top_p)
        n_candidates = keep_top(c, n_candidates, true, (double)p->top_p * top_total, s->group);
    if (use_min_p) {
        float threshold = fminf(p->min_p, 1.0f); // relative to the heaviest weight, 1
        size_t kept = 0;
        for (size_t i = 0; i < n_candidates; i++) {
            if (c[i].weight >= threshold)
                c[kept++] = c[i];
        }
        n_candidates = kept;
    }
    return draw(s->rng, c, n_candidates, candidates_total(c, n_candidates));
}
