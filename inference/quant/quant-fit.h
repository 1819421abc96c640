// Scale fitting shared by the reference quantizers (quant-quantize.c, quant-quantize-k.c).
#pragma once

#include "quant-blocks.h"

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

// Signed quants Q in [-NMAX, NMAX-1] for the N values X (N <= QUANT_FIT_MAX) and the
// scale that minimises the squared error of X ~ scale * Q. Zero for an all-zero X.
float quant_fit_signed(const float *x, int n, int nmax, int8_t *q);

// Unsigned quants Q in [0, QMAX] with SCALE and OFFSET minimising the squared error of
// X ~ scale * Q + offset. NONPOSITIVE_OFFSET keeps offset <= 0.
void quant_fit_affine(const float *x, int n, int qmax, bool nonpositive_offset, uint8_t *q,
                      float *scale, float *offset);

// V rounded to fp16: the stored bits go to *STORED, the value it stands for is returned.
float quant_round_half(float v, uint16_t *stored);

// The K-quant block quantizers (quant-quantize-k.c).
void quant_quantize_q2_k(const float *x, BlockQ2_K *b);
void quant_quantize_q3_k(const float *x, BlockQ3_K *b);
void quant_quantize_q4_k(const float *x, BlockQ4_K *b);
void quant_quantize_q5_k(const float *x, BlockQ5_K *b);
void quant_quantize_q6_k(const float *x, BlockQ6_K *b);

// The IQ4 quantizers (quant-quantize-iq.c); the other IQ types have none (see
// ponder_can_quantize).
void quant_quantize_iq4_nl(const float *x, BlockIQ4_NL *b);
void quant_quantize_iq4_xs(const float *x, BlockIQ4_XS *b);
