// Scale fitting shared by the reference quantizers (quant-quantize.c, quant-quantize-k.c,
// quant-quantize-iq.c).
//
// Every fit takes optional weights W (one per value): with them it minimises the weighted
// squared error sum w_i (x_i - x^_i)^2, so the values whose error costs the model most are
// kept sharpest. They come from an importance matrix (ponder_quantize_row_weighted): the
// mean square of the activation each weight multiplies. W == NULL is the plain least-squares
// fit, bit for bit the one Ponder always made: every weighted sum is written so that a weight
// of exactly 1 (what NULL stands for) leaves each rounding as it was.
#pragma once

#include "quant-blocks.h"

#include <float.h>
#include <stdbool.h>

enum { QUANT_FIT_MAX = 32 }; // longest group a fit handles (a legacy block)

// Rounds V to the nearest integer (half to even) after clamping it to [LO, HI]
// (|LO|, |HI| < 2^22); NaN gives LO.
static inline int quant_round_clamp(float v, int lo, int hi)
{
    if (!(v > (float)lo))
        return lo;
    if (v > (float)hi)
        return hi;
    // Adding 1.5 * 2^23 leaves round-to-nearest-even(v) in the low mantissa bits.
    float shifted = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x7fffff) - 0x400000;
}

// W itself, or NULL when it is NULL, holds a negative or NaN weight, or its N weights do
// not add up to a positive finite number (a group no activation reaches: the plain fit is
// as good as any there).
static inline const float *quant_usable_weights(const float *w, int n)
{
    if (!w)
        return NULL;
    float sum = 0;
    for (int i = 0; i < n; i++) {
        if (!(w[i] >= 0))
            return NULL;
        sum += w[i];
    }
    return sum > 0 && sum <= FLT_MAX ? w : NULL;
}

// Signed quants Q in [-NMAX, NMAX-1] for the N values X (N <= QUANT_FIT_MAX) and the
// scale that minimises the (W-weighted) squared error of X ~ scale * Q. Zero for an all-zero X.
float quant_fit_signed(const float *x, const float *w, int n, int nmax, int8_t *q);

// Unsigned quants Q in [0, QMAX] with SCALE and OFFSET minimising the (W-weighted) squared
// error of X ~ scale * Q + offset. NONPOSITIVE_OFFSET keeps offset <= 0.
void quant_fit_affine(const float *x, const float *w, int n, int qmax, bool nonpositive_offset,
                      uint8_t *q, float *scale, float *offset);

// V rounded to fp16: the stored bits go to *STORED, the value it stands for is returned.
float quant_round_half(float v, uint16_t *stored);

// The K-quant block quantizers (quant-quantize-k.c); W: 256 weights or NULL.
void quant_quantize_q2_k(const float *x, const float *w, BlockQ2_K *b);
void quant_quantize_q3_k(const float *x, const float *w, BlockQ3_K *b);
void quant_quantize_q4_k(const float *x, const float *w, BlockQ4_K *b);
void quant_quantize_q5_k(const float *x, const float *w, BlockQ5_K *b);
void quant_quantize_q6_k(const float *x, const float *w, BlockQ6_K *b);

// The IQ4 quantizers (quant-quantize-iq.c; W: a block's weights or NULL); the other IQ
// types have none (see ponder_can_quantize).
void quant_quantize_iq4_nl(const float *x, const float *w, BlockIQ4_NL *b);
void quant_quantize_iq4_xs(const float *x, const float *w, BlockIQ4_XS *b);
