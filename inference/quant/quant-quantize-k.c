// Reference quantizers of the K-quants: super-blocks of 256 values whose sub-blocks of
// 16 or 32 have their own scale (and min), themselves quantized against one fp16
// super-scale. Each sub-block is fitted on its own (quant-fit.h; weighted by the importance
// of each value's column when there is an importance matrix), the sub-block scales are then
// quantized, and finally every value is re-rounded against the scale it will actually be
// decoded with.
#include "quant-fit.h"

#include <math.h>

// Sub-block scales (>= 0) and mins (>= 0, subtracted) of an "affine" K-quant, quantized
// to unsigned integers of at most LEVELS against the super-scales *D and *DMIN.
typedef struct AffineScales {
    int n_sub;
    uint8_t scale[16];
    uint8_t min[16];
    float d, dmin; // the values decoded from the stored fp16
} AffineScales;

// Fits X (256 values; W: their weights or NULL) in N_SUB sub-blocks with quants in
// [0, QMAX], quantizes the sub-block scales and mins to [0, LEVELS], and writes the final
// quants to Q.
static void fit_affine_k(const float *x, const float *w, int n_sub, int qmax, int levels,
                         uint16_t *d_out, uint16_t *dmin_out, AffineScales *s, uint8_t *q)
{
    int sub_len = QK_K / n_sub;
    float sub_scale[16], sub_min[16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < n_sub; j++) {
        float scale, offset;
        quant_fit_affine(x + j * sub_len, w ? w + j * sub_len : NULL, sub_len, qmax, true,
                         q + j * sub_len, &scale, &offset);
        sub_scale[j] = fmaxf(scale, 0);
        sub_min[j] = -offset; // >= 0: the fit keeps offset <= 0
        max_scale = fmaxf(max_scale, sub_scale[j]);
        max_min = fmaxf(max_min, sub_min[j]);
    }
    s->n_sub = n_sub;
    s->d = quant_round_half(max_scale / (float)levels, d_out);
    s->dmin = quant_round_half(max_min / (float)levels, dmin_out);
    for (int j = 0; j < n_sub; j++) {
        s->scale[j] = s->d > 0 ? (uint8_t)quant_round_clamp(sub_scale[j] / s->d, 0, levels) : 0;
        s->min[j] = s->dmin > 0 ? (uint8_t)quant_round_clamp(sub_min[j] / s->dmin, 0, levels) : 0;
        float step = s->d * s->scale[j];
        float offset = s->dmin * s->min[j];
        for (int i = 0; i < sub_len; i++) {
            float v = x[j * sub_len + i];
            q[j * sub_len + i] =
                step > 0 ? (uint8_t)quant_round_clamp((v + offset) / step, 0, qmax) : 0;
        }
    }
}

// Signed sub-block scales of a "symmetric" K-quant (Q3_K, Q6_K): quants in
// [-NMAX, NMAX-1] per sub-block of 16, integer scales in [-SCALE_NMAX, SCALE_NMAX-1]
// against one fp16 super-scale. Returns the decoded super-scale; Q gets quants + NMAX.
// With weights W, the super-scale weighs each sub-block's scale by its sub-block's total
// weight (the sub-blocks whose values matter most get the scales closest to their fit).
static float fit_signed_k(const float *x, const float *w, int nmax, int scale_nmax, uint16_t *d_out,
                          int8_t scales[16], uint8_t q[QK_K])
{
    float sub_scale[16], sub_weight[16];
    int8_t sq[16];
    for (int j = 0; j < 16; j++) {
        sub_scale[j] = quant_fit_signed(x + 16 * j, w ? w + 16 * j : NULL, 16, nmax, sq);
        sub_weight[j] = 0;
        for (int i = 0; w && i < 16; i++)
            sub_weight[j] += w[16 * j + i];
    }
    int8_t ignored[16];
    float d = quant_round_half(
        quant_fit_signed(sub_scale, w ? sub_weight : NULL, 16, scale_nmax, ignored), d_out);
    for (int j = 0; j < 16; j++) {
        scales[j] =
            d != 0 ? (int8_t)quant_round_clamp(sub_scale[j] / d, -scale_nmax, scale_nmax - 1) : 0;
        float step = d * scales[j];
        for (int i = 0; i < 16; i++) {
            int v = step != 0 ? quant_round_clamp(x[16 * j + i] / step, -nmax, nmax - 1) : 0;
            q[16 * j + i] = (uint8_t)(v + nmax);
        }
    }
    return d;
}

// Element h*128 + s*32 + l of Q2_K/Q3_K keeps its two low bits at bit 2*s of byte h*32 + l.
static void pack_two_bit(const uint8_t *q, uint8_t qs[QK_K / 4])
{
    memset(qs, 0, QK_K / 4);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32;
        qs[h * 32 + l] |= (uint8_t)((q[e] & 3) << (2 * s));
    }
}

// Element 64c + l (l < 32) in the low nibble of qs[32c + l], element 64c + 32 + l in the
// high nibble (Q4_K, Q5_K).
static void pack_k_nibbles(const uint8_t *q, uint8_t qs[QK_K / 2])
{
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            qs[32 * c + l] = (uint8_t)((q[64 * c + l] & 0xf) | (q[64 * c + 32 + l] & 0xf) << 4);
}

// The inverse of k_scale_min (quant-blocks.h).
static void pack_k_scale_min(const AffineScales *s, uint8_t packed[12])
{
    for (int j = 0; j < 4; j++) {
        packed[j] = (uint8_t)((s->scale[j] & 63) | (s->scale[j + 4] >> 4) << 6);
        packed[j + 4] = (uint8_t)((s->min[j] & 63) | (s->min[j + 4] >> 4) << 6);
        packed[j + 8] = (uint8_t)((s->scale[j + 4] & 0xf) | (s->min[j + 4] & 0xf) << 4);
    }
}

void quant_quantize_q2_k(const float *x, const float *w, BlockQ2_K *b)
{
    uint8_t q[QK_K];
    AffineScales s;
    fit_affine_k(x, w, 16, 3, 15, &b->d, &b->dmin, &s, q);
    for (int j = 0; j < 16; j++)
        b->scales[j] = (uint8_t)(s.scale[j] | s.min[j] << 4);
    pack_two_bit(q, b->qs);
}

void quant_quantize_q3_k(const float *x, const float *w, BlockQ3_K *b)
{
    uint8_t q[QK_K];
    int8_t scales[16];
    fit_signed_k(x, w, 4, 32, &b->d, scales, q);
    // the inverse of q3_k_scales (quant-blocks.h)
    memset(b->scales, 0, sizeof b->scales);
    for (int i = 0; i < 16; i++) {
        int u = scales[i] + 32;
        b->scales[i % 8] |= (uint8_t)((u & 0xf) << (i < 8 ? 0 : 4));
        b->scales[8 + i % 4] |= (uint8_t)((u >> 4) << (2 * (i / 4)));
    }
    pack_two_bit(q, b->qs);
    memset(b->hmask, 0, sizeof b->hmask);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32;
        b->hmask[l] |= (uint8_t)((q[e] >> 2) << (h * 4 + s));
    }
}

void quant_quantize_q4_k(const float *x, const float *w, BlockQ4_K *b)
{
    uint8_t q[QK_K];
    AffineScales s;
    fit_affine_k(x, w, 8, 15, 63, &b->d, &b->dmin, &s, q);
    pack_k_scale_min(&s, b->scales);
    pack_k_nibbles(q, b->qs);
}

void quant_quantize_q5_k(const float *x, const float *w, BlockQ5_K *b)
{
    uint8_t q[QK_K];
    AffineScales s;
    fit_affine_k(x, w, 8, 31, 63, &b->d, &b->dmin, &s, q);
    pack_k_scale_min(&s, b->scales);
    pack_k_nibbles(q, b->qs);
    memset(b->qh, 0, sizeof b->qh);
    for (int e = 0; e < QK_K; e++)
        b->qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
}

void quant_quantize_q6_k(const float *x, const float *w, BlockQ6_K *b)
{
    uint8_t q[QK_K];
    fit_signed_k(x, w, 32, 128, &b->d, b->scales, q);
    memset(b->qh, 0, sizeof b->qh);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32;
        uint8_t *low = &b->ql[h * 64 + (s & 1) * 32 + l];
        if (s < 2)
            *low = q[e] & 0xf;
        else
            *low |= (uint8_t)((q[e] & 0xf) << 4);
        b->qh[h * 32 + l] |= (uint8_t)((q[e] >> 4) << (2 * s));
    }
}
