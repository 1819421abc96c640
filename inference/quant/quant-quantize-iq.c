// Quantizers of the IQ types: IQ4_NL and IQ4_XS (a search over 16 non-uniform levels, no
// importance matrix needed, one used when given), and the random-but-valid blocks `synth`
// writes for the IQ types whose codebook search Ponder does not have.
#include "quant-fit.h"
#include "quant-iq.h"

#include <math.h>

// Index of the IQ4 level nearest V (levels ascending).
static int iq4_nearest(float v)
{
    if (!(v > kvalues_iq4nl[0])) // also NaN
        return 0;
    if (v >= kvalues_iq4nl[15])
        return 15;
    int lo = 0, hi = 15; // kvalues[lo] < v <= kvalues[hi]
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v > kvalues_iq4nl[mid])
            lo = mid;
        else
            hi = mid;
    }
    return v - kvalues_iq4nl[lo] < kvalues_iq4nl[hi] - v ? lo : hi;
}

// Scale and level indices for N values: tries maps that put the largest value near the
// -127 end of the levels (the largest magnitude; the scale's sign picks the side) and keeps
// the weighted least-squares best.
// Weights favour large values a little (x^2 + mean square), as llama.cpp's do, times the
// importance IMP of each value's column when given (NULL: 1).
static float iq4_fit(const float *x, const float *imp, int n, uint8_t *idx)
{
    imp = quant_usable_weights(imp, n);
    float amax = 0, max = 0, sigma2 = 0;
    for (int j = 0; j < n; j++) {
        sigma2 += x[j] * x[j];
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    sigma2 /= (float)n;
    if (!(amax > 1e-30f) || !isfinite(amax)) {
        for (int j = 0; j < n; j++)
            idx[j] = 8; // level +1: times a zero scale
        return 0;
    }
    float best_score = -1, best_scale = 0;
    for (int step = -7; step <= 7; step++) {
        float id = (kvalues_iq4nl[0] + step) / max;
        float sum_qx = 0, sum_q2 = 0;
        for (int j = 0; j < n; j++) {
            float w = (x[j] * x[j] + sigma2) * (imp ? imp[j] : 1.0f);
            float q = kvalues_iq4nl[iq4_nearest(id * x[j])];
            sum_qx += w * q * x[j];
            sum_q2 += w * q * q;
        }
        if (sum_q2 > 0 && sum_qx * sum_qx / sum_q2 > best_score) {
            best_score = sum_qx * sum_qx / sum_q2;
            best_scale = sum_qx / sum_q2;
        }
    }
    for (int j = 0; j < n; j++)
        idx[j] = (uint8_t)iq4_nearest(best_scale ? x[j] / best_scale : 0);
    return best_scale;
}

static void iq4_pack(const uint8_t idx[32], uint8_t qs[16])
{
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(idx[j] | idx[j + 16] << 4);
}

static void iq4_assign(const float *x, float scale, uint8_t idx[32])
{
    for (int j = 0; j < 32; j++)
        idx[j] = (uint8_t)iq4_nearest(scale != 0 ? x[j] / scale : 0);
}

void quant_quantize_iq4_nl(const float *x, const float *w, BlockIQ4_NL *b)
{
    uint8_t idx[32];
    float d = quant_round_half(iq4_fit(x, w, 32, idx), &b->d);
    iq4_assign(x, d, idx);
    iq4_pack(idx, b->qs);
}

void quant_quantize_iq4_xs(const float *x, const float *w, BlockIQ4_XS *b)
{
    uint8_t idx[32];
    float scales[8], max_scale = 0;
    for (int ib = 0; ib < 8; ib++) {
        scales[ib] = iq4_fit(x + 32 * ib, w ? w + 32 * ib : NULL, 32, idx);
        if (fabsf(scales[ib]) > fabsf(max_scale))
            max_scale = scales[ib];
    }
    // the largest scale becomes -32 (the 6-bit range is [-32, 31])
    float d = quant_round_half(-max_scale / 32.0f, &b->d);
    b->scales_h = 0;
    for (int ib = 0; ib < 8; ib++) {
        int ls = d != 0 ? quant_round_clamp(scales[ib] / d, -32, 31) : 0;
        if (ib % 2 == 0)
            b->scales_l[ib / 2] = (uint8_t)((ls + 32) & 0xf);
        else
            b->scales_l[ib / 2] |= (uint8_t)(((ls + 32) & 0xf) << 4);
        b->scales_h |= (uint16_t)(((ls + 32) >> 4) << (2 * ib));
        iq4_assign(x + 32 * ib, d * (float)ls, idx);
        iq4_pack(idx, b->qs + 16 * ib);
    }
}

bool ponder_can_quantize(PonderType type)
{
    const PonderTypeTraits *t = ponder_type_traits(type);
    if (!t)
        return false;
    switch (type) {
    case PONDER_TYPE_IQ2_XXS:
    case PONDER_TYPE_IQ2_XS:
    case PONDER_TYPE_IQ2_S:
    case PONDER_TYPE_IQ3_XXS:
    case PONDER_TYPE_IQ3_S:
    case PONDER_TYPE_IQ1_S:
    case PONDER_TYPE_IQ1_M: return false;
    default: return true;
    }
}

// ---- Random blocks for `synth` ----

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void set_block_d(PonderType type, uint8_t *block, uint16_t d)
{
    if (type == PONDER_TYPE_IQ1_M) { // the top nibbles of the four scale words
        BlockIQ1_M *b = (BlockIQ1_M *)block;
        for (int k = 0; k < 4; k++)
            b->scales[2 * k + 1] =
                (uint8_t)((b->scales[2 * k + 1] & 0x0f) | ((d >> (4 * k)) & 0xf) << 4);
    } else { // fp16 d leads every other IQ block
        block[0] = (uint8_t)d;
        block[1] = (uint8_t)(d >> 8);
    }
}

static double mean_square(const float *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return s / n;
}

void ponder_synth_row(PonderType type, const float *src, void *dst, int64_t n, uint64_t seed)
{
    const PonderTypeTraits *t = ponder_type_traits(type);
    if (!t)
        return;
    if (ponder_can_quantize(type)) {
        ponder_quantize_row(type, src, dst, n);
        return;
    }
    uint8_t *p = dst;
    uint64_t state = seed;
    float y[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, p += t->block_bytes) {
        for (uint32_t k = 0; k < t->block_bytes; k++)
            p[k] = (uint8_t)splitmix(&state);
        // scale d so the block's mean square matches the source's
        set_block_d(type, p, ponder_fp32_to_fp16(1.0f));
        ponder_dequantize_row(type, p, y, QK_K);
        double have = mean_square(y, QK_K), want = mean_square(src + i * QK_K, QK_K);
        double d = have > 0 && isfinite(want) ? sqrt(want / have) : 0.0;
        d = d < 65504.0 ? d : 65504.0; // the largest finite fp16
        set_block_d(type, p, ponder_fp32_to_fp16((float)d));
    }
}
