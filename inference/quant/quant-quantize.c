// Reference quantizers: float -> blocks, for every weight type and the activation types.
//
// Weights are quantized offline (by `quantize` and `synth`), so these favour accuracy over
// speed: every block's scale (and offset) comes from a small search over candidate scales,
// each refined by least squares, instead of simply mapping the largest value onto the
// largest quant. With an importance matrix (ponder_quantize_row_weighted) the least squares
// are weighted by each column's importance. The K-quants (two-level scales) live in
// quant-quantize-k.c and reuse the fitting helpers declared in quant-fit.h.
#include "quant-fit.h"
#include "quant-kernels.h"

#include <math.h>

// Score of quants Q for X under the least-squares scale: (sum w x q)^2 / sum w q^2 is the
// reduction of the weighted squared error that scale achieves; larger is better.
static float signed_fit_score(const float *x, const float *w, const int8_t *q, int n, float *scale)
{
    float sxq = 0, sqq = 0;
    for (int i = 0; i < n; i++) {
        float wi = w ? w[i] : 1.0f;
        sxq += wi * x[i] * q[i];
        sqq += wi * q[i] * q[i];
    }
    if (sqq <= 0) {
        *scale = 0;
        return 0;
    }
    *scale = sxq / sqq;
    return sxq * sxq / sqq;
}

float quant_fit_signed(const float *x, const float *w, int n, int nmax, int8_t *q)
{
    w = quant_usable_weights(w, n);
    float amax = 0, vmax = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            vmax = x[i];
        }
    }
    if (amax < 1e-30f) {
        memset(q, 0, (size_t)n);
        return 0;
    }
    int8_t trial[QUANT_FIT_MAX];
    float best_score = -1, best_scale = 0;
    // The range [-nmax, nmax-1] is lopsided: try mapping the largest value onto either
    // end, with the ends stretched and shrunk a little.
    for (int side = 0; side < 2; side++) {
        float end = side == 0 ? -(float)nmax : (float)(nmax - 1);
        for (int k = -8; k <= 8; k++) {
            float iscale = (end + (end < 0 ? -0.1f : 0.1f) * (float)k) / vmax;
            for (int i = 0; i < n; i++)
                trial[i] = (int8_t)quant_round_clamp(x[i] * iscale, -nmax, nmax - 1);
            float scale;
            float score = signed_fit_score(x, w, trial, n, &scale);
            if (score > best_score) {
                best_score = score;
                best_scale = scale;
                memcpy(q, trial, (size_t)n);
            }
        }
    }
    // Re-round to the least-squares scale until that stops helping.
    for (int iter = 0; iter < 4 && best_scale != 0; iter++) {
        for (int i = 0; i < n; i++)
            trial[i] = (int8_t)quant_round_clamp(x[i] / best_scale, -nmax, nmax - 1);
        float scale;
        float score = signed_fit_score(x, w, trial, n, &scale);
        if (!(score > best_score))
            break;
        best_score = score;
        best_scale = scale;
        memcpy(q, trial, (size_t)n);
    }
    return best_scale;
}

// (Weighted) least-squares scale and offset of X ~ scale * q + offset for fixed quants; with
// NONPOSITIVE_OFFSET the offset is held at <= 0 (the K-quants store it as a subtracted
// unsigned min). Returns the (weighted) squared error.
static float affine_least_squares(const float *x, const float *w, const uint8_t *q, int n,
                                  bool nonpositive_offset, float *scale, float *offset)
{
    double sw = 0, sq = 0, sqq = 0, sx = 0, sxq = 0;
    for (int i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        sw += wi;
        sq += wi * q[i];
        sqq += wi * q[i] * q[i];
        sx += wi * x[i];
        sxq += wi * x[i] * q[i];
    }
    double det = sw * sqq - sq * sq;
    double d = 0, o = sx / sw;
    if (det > 0) {
        d = (sw * sxq - sq * sx) / det;
        o = (sqq * sx - sq * sxq) / det;
    }
    if (nonpositive_offset && o > 0) {
        o = 0;
        d = sqq > 0 ? sxq / sqq : 0;
    }
    *scale = (float)d;
    *offset = (float)o;
    float err = 0;
    for (int i = 0; i < n; i++) {
        float e = *scale * q[i] + *offset - x[i];
        err += (w ? w[i] : 1.0f) * e * e;
    }
    return err;
}

void quant_fit_affine(const float *x, const float *w, int n, int qmax, bool nonpositive_offset,
                      uint8_t *q, float *scale, float *offset)
{
    w = quant_usable_weights(w, n);
    float xmin = x[0], xmax = x[0];
    for (int i = 1; i < n; i++) {
        xmin = fminf(xmin, x[i]);
        xmax = fmaxf(xmax, x[i]);
    }
    if (nonpositive_offset && xmin > 0)
        xmin = 0;
    if (!(xmax > xmin)) { // constant block (or zero): the offset says it all
        memset(q, 0, (size_t)n);
        *scale = 0;
        *offset = xmin;
        return;
    }
    uint8_t trial[QUANT_FIT_MAX];
    float best_err = INFINITY;
    *scale = 0;
    *offset = xmin;
    memset(q, 0, (size_t)n);
    // Candidate grids spanning [xmin, xmax] with a little less or more than QMAX steps.
    for (int k = -10; k <= 10; k++) {
        float iscale = ((float)qmax + 0.1f * (float)k) / (xmax - xmin);
        for (int i = 0; i < n; i++)
            trial[i] = (uint8_t)quant_round_clamp((x[i] - xmin) * iscale, 0, qmax);
        float s, o;
        float err = affine_least_squares(x, w, trial, n, nonpositive_offset, &s, &o);
        if (err < best_err) {
            best_err = err;
            *scale = s;
            *offset = o;
            memcpy(q, trial, (size_t)n);
        }
    }
    for (int iter = 0; iter < 4 && *scale > 0; iter++) {
        for (int i = 0; i < n; i++)
            trial[i] = (uint8_t)quant_round_clamp((x[i] - *offset) / *scale, 0, qmax);
        float s, o;
        float err = affine_least_squares(x, w, trial, n, nonpositive_offset, &s, &o);
        if (!(err < best_err))
            break;
        best_err = err;
        *scale = s;
        *offset = o;
        memcpy(q, trial, (size_t)n);
    }
}

float quant_round_half(float v, uint16_t *stored)
{
    *stored = ponder_fp32_to_fp16(v);
    return ponder_fp16_to_fp32(*stored);
}

// ---- Legacy 32-element blocks ----

// Signed quants in [-nmax, nmax-1] with an fp16 scale; returns the stored scale and
// leaves the quants, re-rounded to it, in Q. (Rounding to the nearest quant is right whatever
// the weights: each value's error depends on its own quant only.)
static float quantize_signed_block(const float *x, const float *w, int nmax, uint16_t *d_out,
                                   int8_t *q)
{
    float d = quant_round_half(quant_fit_signed(x, w, QK_LEGACY, nmax, q), d_out);
    for (int i = 0; i < QK_LEGACY; i++)
        q[i] = d != 0 ? (int8_t)quant_round_clamp(x[i] / d, -nmax, nmax - 1) : 0;
    return d;
}

// Unsigned quants in [0, qmax] with fp16 scale and min.
static void quantize_affine_block(const float *x, const float *w, int qmax, uint16_t *d_out,
                                  uint16_t *m_out, uint8_t *q)
{
    float scale, offset;
    quant_fit_affine(x, w, QK_LEGACY, qmax, false, q, &scale, &offset);
    float d = quant_round_half(scale, d_out);
    float m = quant_round_half(offset, m_out);
    for (int i = 0; i < QK_LEGACY; i++)
        q[i] = d != 0 ? (uint8_t)quant_round_clamp((x[i] - m) / d, 0, qmax) : 0;
}

static void pack_nibbles(const uint8_t *q, uint8_t qs[16])
{
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)((q[j] & 0xf) | (q[j + 16] & 0xf) << 4);
}

static void pack_q5_high_bits(const uint8_t *q, uint8_t qh[4])
{
    uint32_t high = 0;
    for (int j = 0; j < QK_LEGACY; j++)
        high |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int b = 0; b < 4; b++)
        qh[b] = (uint8_t)(high >> (8 * b));
}

static void quantize_q4_0(const float *x, const float *w, BlockQ4_0 *b)
{
    int8_t q[QK_LEGACY];
    uint8_t u[QK_LEGACY];
    quantize_signed_block(x, w, 8, &b->d, q);
    for (int i = 0; i < QK_LEGACY; i++)
        u[i] = (uint8_t)(q[i] + 8);
    pack_nibbles(u, b->qs);
}

static void quantize_q5_0(const float *x, const float *w, BlockQ5_0 *b)
{
    int8_t q[QK_LEGACY];
    uint8_t u[QK_LEGACY];
    quantize_signed_block(x, w, 16, &b->d, q);
    for (int i = 0; i < QK_LEGACY; i++)
        u[i] = (uint8_t)(q[i] + 16);
    pack_nibbles(u, b->qs);
    pack_q5_high_bits(u, b->qh);
}

static void quantize_q4_1(const float *x, const float *w, BlockQ4_1 *b)
{
    uint8_t q[QK_LEGACY];
    quantize_affine_block(x, w, 15, &b->d, &b->m, q);
    pack_nibbles(q, b->qs);
}

static void quantize_q5_1(const float *x, const float *w, BlockQ5_1 *b)
{
    uint8_t q[QK_LEGACY];
    quantize_affine_block(x, w, 31, &b->d, &b->m, q);
    pack_nibbles(q, b->qs);
    pack_q5_high_bits(q, b->qh);
}

// 8-bit blocks need no search (so no weights either): 255 levels leave little to gain, and
// they also quantize activations on the hot path. Quants stay within [-127, 127] (the SIMD
// kernels rely on it: they negate activations).
static float quantize_q8_block(const float *x, int n, int8_t *q)
{
    float amax = 0;
    for (int i = 0; i < n; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    float d = amax / 127.0f;
    float id = d > 0 ? 1.0f / d : 0;
    for (int i = 0; i < n; i++)
        q[i] = (int8_t)quant_round_clamp(x[i] * id, -127, 127);
    return d;
}

static void quantize_q8_0(const float *x, BlockQ8_0 *b)
{
    int8_t q[QK_LEGACY];
    float d = quant_round_half(quantize_q8_block(x, QK_LEGACY, q), &b->d);
    // re-round to the stored fp16 scale
    float id = d > 0 ? 1.0f / d : 0;
    for (int i = 0; i < QK_LEGACY; i++)
        b->qs[i] = (int8_t)quant_round_clamp(x[i] * id, -127, 127);
}

static void quantize_q8_1(const float *x, BlockQ8_1 *b)
{
    BlockQ8_0 tmp;
    quantize_q8_0(x, &tmp);
    b->d = tmp.d;
    int sum = 0;
    for (int i = 0; i < QK_LEGACY; i++) {
        b->qs[i] = tmp.qs[i];
        sum += tmp.qs[i];
    }
    b->sum = (int16_t)sum;
}

static void quantize_q8_k(const float *x, BlockQ8_K *b)
{
    b->d = quantize_q8_block(x, QK_K, b->qs);
    for (int g = 0; g < QK_K / 16; g++) {
        int sum = 0;
        for (int i = 0; i < 16; i++)
            sum += b->qs[g * 16 + i];
        b->bsums[g] = (int16_t)sum;
    }
}

// Quantizes the N values of SRC in blocks of TYPE (a block type), block by block; W: N
// weights or NULL.
static void quantize_blocks(PonderType type, const PonderTypeTraits *traits, const float *src,
                            void *dst, int64_t n, const float *w)
{
    uint8_t *p = dst;
    int64_t blocks = n / traits->block_len;
    for (int64_t i = 0; i < blocks; i++, p += traits->block_bytes) {
        const float *x = src + i * traits->block_len;
        const float *wb = w ? w + i * traits->block_len : NULL;
        switch (type) {
        case PONDER_TYPE_Q4_0: quantize_q4_0(x, wb, (BlockQ4_0 *)p); break;
        case PONDER_TYPE_Q4_1: quantize_q4_1(x, wb, (BlockQ4_1 *)p); break;
        case PONDER_TYPE_Q5_0: quantize_q5_0(x, wb, (BlockQ5_0 *)p); break;
        case PONDER_TYPE_Q5_1: quantize_q5_1(x, wb, (BlockQ5_1 *)p); break;
        case PONDER_TYPE_Q8_0: quantize_q8_0(x, (BlockQ8_0 *)p); break;
        case PONDER_TYPE_Q8_1: quantize_q8_1(x, (BlockQ8_1 *)p); break;
        case PONDER_TYPE_Q8_K: quantize_q8_k(x, (BlockQ8_K *)p); break;
        case PONDER_TYPE_Q2_K: quant_quantize_q2_k(x, wb, (BlockQ2_K *)p); break;
        case PONDER_TYPE_Q3_K: quant_quantize_q3_k(x, wb, (BlockQ3_K *)p); break;
        case PONDER_TYPE_Q4_K: quant_quantize_q4_k(x, wb, (BlockQ4_K *)p); break;
        case PONDER_TYPE_Q5_K: quant_quantize_q5_k(x, wb, (BlockQ5_K *)p); break;
        case PONDER_TYPE_Q6_K: quant_quantize_q6_k(x, wb, (BlockQ6_K *)p); break;
        case PONDER_TYPE_IQ4_NL: quant_quantize_iq4_nl(x, wb, (BlockIQ4_NL *)p); break;
        case PONDER_TYPE_IQ4_XS: quant_quantize_iq4_xs(x, wb, (BlockIQ4_XS *)p); break;
        default: return;
        }
    }
}

void ponder_quantize_row(PonderType type, const float *src, void *dst, int64_t n)
{
    ponder_quantize_row_at_level(type, src, dst, n, ponder_cpu_level());
}

void ponder_quantize_row_weighted(PonderType type, const float *src, void *dst, int64_t n,
                                  const float *importance)
{
    const PonderTypeTraits *traits = ponder_type_traits(type);
    bool searched = traits && traits->block_len > 1 && type != PONDER_TYPE_Q8_0 &&
                    type != PONDER_TYPE_Q8_1 && type != PONDER_TYPE_Q8_K;
    if (importance && searched)
        quantize_blocks(type, traits, src, dst, n, importance);
    else
        ponder_quantize_row(type, src, dst, n);
}

void ponder_quantize_row_at_level(PonderType type, const float *src, void *dst, int64_t n,
                                  PonderCpuLevel level)
{
    const PonderTypeTraits *traits = ponder_type_traits(type);
    if (!traits)
        return;
    bool activation =
        type == PONDER_TYPE_Q8_0 || type == PONDER_TYPE_Q8_1 || type == PONDER_TYPE_Q8_K;
#if defined(__x86_64__)
    if (activation && level >= PONDER_CPU_AVX2) {
        quant_quantize_q8_avx2(type, src, dst, n);
        return;
    }
#endif
    (void)activation;
    uint8_t *p = dst;
    if (traits->block_len == 1) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            if (type == PONDER_TYPE_F32) {
                memcpy(p + 4 * i, &src[i], 4);
                continue;
            }
            h = type == PONDER_TYPE_F16 ? ponder_fp32_to_fp16(src[i]) : ponder_fp32_to_bf16(src[i]);
            p[2 * i] = (uint8_t)h;
            p[2 * i + 1] = (uint8_t)(h >> 8);
        }
        return;
    }
    quantize_blocks(type, traits, src, dst, n, NULL);
}
