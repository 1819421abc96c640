// Block structs of the ggml weight types, bit for bit as llama.cpp writes them into GGUF
// files (so its files load), plus the two activation types Q8_1 and Q8_K that only live in
// memory. GPU backends mirror these structs; keep them in sync.
//
// Element orders (element e of a block, counting from 0):
//   Q4_0/Q4_1  e < 16: low nibble of qs[e]; e >= 16: high nibble of qs[e - 16].
//   Q5_0/Q5_1  as Q4 for the low 4 bits; bit 4 is bit e of qh read as a little-endian u32.
//   Q8_0       qs[e].
//   K-quants   a super-block of 256 elements in sub-blocks of 16 (Q2_K, Q3_K, Q6_K) or 32
//              (Q4_K, Q5_K); see the dequantizers in quant-dequant.c, which are the
//              readable definition of each layout.
//   IQ types   quants are indices into codebooks (quant-iq.h): 8 (IQ2/IQ1) or 4 (IQ3)
//              elements per grid entry, with sign bits where the grid is unsigned; IQ4
//              nibbles index 16 non-uniform levels. See quant-dequant.c.
#pragma once

#include "quant.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

typedef struct BlockQ4_0 {
    uint16_t d; // fp16 scale: value = (q - 8) * d
    uint8_t qs[QK_LEGACY / 2];
} BlockQ4_0;

typedef struct BlockQ4_1 {
    uint16_t d; // fp16: value = q * d + m
    uint16_t m;
    uint8_t qs[QK_LEGACY / 2];
} BlockQ4_1;

typedef struct BlockQ5_0 {
    uint16_t d; // fp16: value = (q - 16) * d
    uint8_t qh[4];
    uint8_t qs[QK_LEGACY / 2];
} BlockQ5_0;

typedef struct BlockQ5_1 {
    uint16_t d; // fp16: value = q * d + m
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK_LEGACY / 2];
} BlockQ5_1;

typedef struct BlockQ8_0 {
    uint16_t d; // fp16: value = q * d
    int8_t qs[QK_LEGACY];
} BlockQ8_0;

// Activation blocks for Q4_1/Q5_1, whose dot product needs the sum of the activations.
// ggml stores d * sum as fp16 here; we store the exact integer sum instead (same size),
// so the dot product of a block with a min is exact. Never appears in a file.
typedef struct BlockQ8_1 {
    uint16_t d;  // fp16: value = q * d
    int16_t sum; // sum of qs
    int8_t qs[QK_LEGACY];
} BlockQ8_1;

typedef struct BlockQ2_K {
    uint8_t scales[QK_K / 16]; // per 16 elements: low nibble scale, high nibble min
    uint8_t qs[QK_K / 4];      // 2-bit quants
    uint16_t d;                // fp16 super-scale of the scales
    uint16_t dmin;             // fp16 super-scale of the mins
} BlockQ2_K;

typedef struct BlockQ3_K {
    uint8_t hmask[QK_K / 8]; // bit 2 of each quant (set means +4 relative to the 2 low bits - 4)
    uint8_t qs[QK_K / 4];    // bits 0-1 of each quant
    uint8_t scales[12];      // 16 six-bit scales, stored + 32
    uint16_t d;              // fp16 super-scale
} BlockQ3_K;

typedef struct BlockQ4_K {
    uint16_t d;         // fp16 super-scale of the scales
    uint16_t dmin;      // fp16 super-scale of the mins
    uint8_t scales[12]; // 8 six-bit scales and 8 six-bit mins (see k_scale_min)
    uint8_t qs[QK_K / 2];
} BlockQ4_K;

typedef struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12]; // packed as in Q4_K
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} BlockQ5_K;

typedef struct BlockQ6_K {
    uint8_t ql[QK_K / 2];     // low 4 bits
    uint8_t qh[QK_K / 4];     // high 2 bits
    int8_t scales[QK_K / 16]; // per 16 elements
    uint16_t d;               // fp16 super-scale
} BlockQ6_K;

// Activation blocks for the K-quants.
typedef struct BlockQ8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16]; // sums of each 16 consecutive qs (for the mins)
} BlockQ8_K;

// ---- IQ types (quant-dequant.c is the definition of each layout) ----

typedef struct BlockIQ2_XXS {
    uint16_t d; // fp16
    // per 32 elements two u32: 4 grid indices (bytes), then 4 x 7 sign bits + a 4-bit scale
    uint16_t qs[QK_K / 8];
} BlockIQ2_XXS;

typedef struct BlockIQ2_XS {
    uint16_t d;
    uint16_t qs[QK_K / 8];     // per 8 elements: 9-bit grid index, 7 sign bits
    uint8_t scales[QK_K / 32]; // two 4-bit scales per 32 elements
} BlockIQ2_XS;

typedef struct BlockIQ2_S {
    uint16_t d;
    uint8_t qs[QK_K / 4];  // low 8 bits of 32 grid indices, then 32 sign bytes
    uint8_t qh[QK_K / 32]; // bits 8-9 of the indices, 2 per 8 elements
    uint8_t scales[QK_K / 32];
} BlockIQ2_S;

typedef struct BlockIQ3_XXS {
    uint16_t d;
    uint8_t qs[3 * QK_K / 8]; // 64 grid indices (4 elements each), then 8 u32 signs + scale
} BlockIQ3_XXS;

typedef struct BlockIQ3_S {
    uint16_t d;
    uint8_t qs[QK_K / 4];      // low 8 bits of 64 grid indices
    uint8_t qh[QK_K / 32];     // bit 8 of the indices
    uint8_t signs[QK_K / 8];   // one sign bit per element
    uint8_t scales[QK_K / 64]; // two 4-bit scales per 64 elements
} BlockIQ3_S;

typedef struct BlockIQ1_S {
    uint16_t d;
    uint8_t qs[QK_K / 8];   // low 8 bits of 32 grid indices
    uint16_t qh[QK_K / 32]; // per 32: 4 x 3 high index bits, a 3-bit scale, the delta's sign
} BlockIQ1_S;

typedef struct BlockIQ1_M {
    uint8_t qs[QK_K / 8];      // low 8 bits of 32 grid indices
    uint8_t qh[QK_K / 16];     // per 16: 2 x (3 high index bits + the delta's sign)
    uint8_t scales[QK_K / 32]; // 16 3-bit scales; the top nibbles of the 4 u16 hold fp16 d
} BlockIQ1_M;

typedef struct BlockIQ4_NL {
    uint16_t d;
    uint8_t qs[QK_LEGACY / 2]; // nibbles index kvalues_iq4nl, ordered as Q4_0
} BlockIQ4_NL;

typedef struct BlockIQ4_XS {
    uint16_t d;
    uint16_t scales_h;           // bits 4-5 of the 8 six-bit scales
    uint8_t scales_l[QK_K / 64]; // bits 0-3
    uint8_t qs[QK_K / 2];        // per 32 elements 16 bytes, ordered as Q4_0
} BlockIQ4_XS;

static_assert(sizeof(BlockIQ2_XXS) == 66, "iq2_xxs block size");
static_assert(sizeof(BlockIQ2_XS) == 74, "iq2_xs block size");
static_assert(sizeof(BlockIQ2_S) == 82, "iq2_s block size");
static_assert(sizeof(BlockIQ3_XXS) == 98, "iq3_xxs block size");
static_assert(sizeof(BlockIQ3_S) == 110, "iq3_s block size");
static_assert(sizeof(BlockIQ1_S) == 50, "iq1_s block size");
static_assert(sizeof(BlockIQ1_M) == 56, "iq1_m block size");
static_assert(sizeof(BlockIQ4_NL) == 18, "iq4_nl block size");
static_assert(sizeof(BlockIQ4_XS) == 136, "iq4_xs block size");
static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block size");
static_assert(sizeof(BlockQ4_1) == 20, "q4_1 block size");
static_assert(sizeof(BlockQ5_0) == 22, "q5_0 block size");
static_assert(sizeof(BlockQ5_1) == 24, "q5_1 block size");
static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block size");
static_assert(sizeof(BlockQ8_1) == 36, "q8_1 block size");
static_assert(sizeof(BlockQ2_K) == 84, "q2_K block size");
static_assert(sizeof(BlockQ3_K) == 110, "q3_K block size");
static_assert(sizeof(BlockQ4_K) == 144, "q4_K block size");
static_assert(sizeof(BlockQ5_K) == 176, "q5_K block size");
static_assert(sizeof(BlockQ6_K) == 210, "q6_K block size");
static_assert(sizeof(BlockQ8_K) == 292, "q8_K block size");

// Scale and min of sub-block J (0..7) of a Q4_K/Q5_K block: sub-blocks 0-3 keep their six
// bits in the low bits of bytes J and J+4; sub-blocks 4-7 keep the low four bits in a
// nibble of byte J+4 and the top two bits in the spare top bits of bytes J-4 and J.
static inline void k_scale_min(const uint8_t scales[12], int j, uint8_t *scale, uint8_t *min)
{
    if (j < 4) {
        *scale = scales[j] & 63;
        *min = scales[j + 4] & 63;
    } else {
        *scale = (uint8_t)((scales[j + 4] & 0xf) | ((scales[j - 4] >> 6) << 4));
        *min = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

// The 16 signed scales of a Q3_K block: low four bits of scale I in a nibble of byte I % 8
// (low nibble for I < 8), the top two bits in bits 2*(I/4)..+1 of byte 8 + I % 4.
static inline void q3_k_scales(const uint8_t packed[12], int8_t out[16])
{
    for (int i = 0; i < 16; i++) {
        int low = (i < 8 ? packed[i] : packed[i - 8] >> 4) & 0xf;
        int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
        out[i] = (int8_t)((low | (high << 4)) - 32);
    }
}

static inline uint32_t load_u32_le(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v; // x86 and the GPUs we target are little-endian, as is the file format
}
