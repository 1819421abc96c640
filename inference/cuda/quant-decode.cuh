// Reading the ggml block layouts on the GPU, one chunk of 16 consecutive elements at a
// time: every weight type's chunk is 16 small integers q (packed 4 per int, 0..63 or
// signed for Q8_0) with one affine map, value = a * q + b. That single shape lets one
// mat-vec kernel and one dequantizer serve all types: the dot product of a chunk with 16
// activations x = dx * xq is dx * (a * sum(q * xq) + b * sum(xq)), two dp4a sums.
//
// The IQ types fit the same shape with b = 0: q is a codebook entry's bytes with the signs
// applied (IQ2/IQ3: magnitudes up to 62; IQ1: 8 * {-1, 0, 1} +- 1; IQ4: the 16 levels) and a
// the block's scale times the sub-block's. The codebooks are the .inc files the CPU tables
// are built from, here in global memory (constant memory would serialise a warp's
// scattered lookups).
//
// A chunk never straddles a 32-element activation block, nor a scale sub-block of any
// type (sub-blocks are 16 or 32 elements), so (a, b) are constant over it. The layouts
// are those of quant-blocks.h (its dequantizers in quant-dequant.c are the definition);
// the block structs come from there so the offsets below cannot drift.
#pragma once

#include <stddef.h>

#include "cuda-common.cuh" // first: it includes quant.h with C linkage
#include "quant/quant-blocks.h"

enum { CHUNK = 16 };

template <int TYPE> struct QuantTraits;

#define QUANT_TRAITS(TYPE_ID, BLOCK, ELEMS, ALIGNMENT)                                             \
    template <> struct QuantTraits<TYPE_ID> {                                                      \
        static constexpr int block_bytes = sizeof(BLOCK);                                          \
        static constexpr int block_elems = ELEMS;                                                  \
        static constexpr int chunks_per_block = ELEMS / CHUNK;                                     \
        static constexpr int align = ALIGNMENT; /* of every block start, given aligned rows */     \
    }

QUANT_TRAITS(PONDER_TYPE_Q4_0, BlockQ4_0, 32, 2);
QUANT_TRAITS(PONDER_TYPE_Q4_1, BlockQ4_1, 32, 4);
QUANT_TRAITS(PONDER_TYPE_Q5_0, BlockQ5_0, 32, 2);
QUANT_TRAITS(PONDER_TYPE_Q5_1, BlockQ5_1, 32, 4);
QUANT_TRAITS(PONDER_TYPE_Q8_0, BlockQ8_0, 32, 2);
QUANT_TRAITS(PONDER_TYPE_Q2_K, BlockQ2_K, 256, 4);
QUANT_TRAITS(PONDER_TYPE_Q3_K, BlockQ3_K, 256, 2);
QUANT_TRAITS(PONDER_TYPE_Q4_K, BlockQ4_K, 256, 16);
QUANT_TRAITS(PONDER_TYPE_Q5_K, BlockQ5_K, 256, 16);
QUANT_TRAITS(PONDER_TYPE_Q6_K, BlockQ6_K, 256, 2);
QUANT_TRAITS(PONDER_TYPE_IQ2_XXS, BlockIQ2_XXS, 256, 2);
QUANT_TRAITS(PONDER_TYPE_IQ2_XS, BlockIQ2_XS, 256, 2);
QUANT_TRAITS(PONDER_TYPE_IQ2_S, BlockIQ2_S, 256, 2);
QUANT_TRAITS(PONDER_TYPE_IQ3_XXS, BlockIQ3_XXS, 256, 2);
QUANT_TRAITS(PONDER_TYPE_IQ3_S, BlockIQ3_S, 256, 2);
QUANT_TRAITS(PONDER_TYPE_IQ1_S, BlockIQ1_S, 256, 2);
QUANT_TRAITS(PONDER_TYPE_IQ1_M, BlockIQ1_M, 256, 8);
QUANT_TRAITS(PONDER_TYPE_IQ4_NL, BlockIQ4_NL, 32, 2);
QUANT_TRAITS(PONDER_TYPE_IQ4_XS, BlockIQ4_XS, 256, 8);
#undef QUANT_TRAITS

static __device__ const uint64_t iq2xxs_grid_dev[256] = {
#include "../quant/iq-grids/iq2xxs.inc"
};
static __device__ const uint64_t iq2xs_grid_dev[512] = {
#include "../quant/iq-grids/iq2xs.inc"
};
static __device__ const uint64_t iq2s_grid_dev[1024] = {
#include "../quant/iq-grids/iq2s.inc"
};
static __device__ const uint32_t iq3xxs_grid_dev[256] = {
#include "../quant/iq-grids/iq3xxs.inc"
};
static __device__ const uint32_t iq3s_grid_dev[512] = {
#include "../quant/iq-grids/iq3s.inc"
};
static __device__ const uint64_t iq1s_grid_dev[2048] = {
#include "../quant/iq-grids/iq1s.inc"
};
static constexpr int8_t iq4nl_levels[16] = {
#include "../quant/iq-grids/iq4nl.inc"
};
// The levels as four little-endian words, for byte-permute lookups.
static __host__ __device__ constexpr uint32_t iq4nl_word(int i)
{
    return (uint32_t)(uint8_t)iq4nl_levels[4 * i] |
           (uint32_t)(uint8_t)iq4nl_levels[4 * i + 1] << 8 |
           (uint32_t)(uint8_t)iq4nl_levels[4 * i + 2] << 16 |
           (uint32_t)(uint8_t)iq4nl_levels[4 * i + 3] << 24;
}

// Spreads bits 0..3 of BITS to bit 0 of bytes 0..3 (the four products land on distinct
// bit positions, so nothing carries).
static __device__ __forceinline__ int spread_nibble_bits(uint32_t bits)
{
    return (int)((bits * 0x00204081u) & 0x01010101u);
}

// Six-bit scale and min of sub-block J of a Q4_K/Q5_K block (see k_scale_min).
static __device__ __forceinline__ void k_scale_min_dev(const uint8_t *scales, int j, int *sc,
                                                       int *m)
{
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (scales[j + 4] & 0xf) | ((scales[j - 4] >> 6) << 4);
        *m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

// Four unsigned codebook bytes G with the signs in bits 0..3 of SIGNS applied.
static __device__ __forceinline__ int iq_signed4(uint32_t g, uint32_t signs)
{
    const uint32_t m = (uint32_t)spread_nibble_bits(signs & 0xf) * 0xffu;
    return (int)__vsub4(g ^ m, m);
}

// Sign bits of 8 elements from the 7 stored ones (ggml's ksigns_iq2xs): even parity.
static __device__ __forceinline__ uint32_t iq_signs8_dev(uint32_t seven)
{
    seven &= 127;
    return seven | (uint32_t)(__popc(seven) & 1) << 7;
}

// Eight elements from a uint64 codebook entry and 8 sign bits, into q[0..1].
static __device__ __forceinline__ void iq_put8_dev(int *q, uint64_t grid, uint32_t signs)
{
    q[0] = iq_signed4((uint32_t)grid, signs);
    q[1] = iq_signed4((uint32_t)(grid >> 32), signs >> 4);
}

// Eight IQ1 elements: 8 * grid (-1/0/+1 bytes) + delta sign, as bytes 8 * (g + 1) - 8 +- 1.
static __device__ __forceinline__ void iq1_put8_dev(int *q, uint64_t grid, bool negative_delta)
{
    const uint32_t add = negative_delta ? 0xf7f7f7f7u : 0xf9f9f9f9u; // -9 / -7 per byte
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const uint32_t g = __vadd4((uint32_t)(grid >> (32 * h)), 0x01010101u) << 3;
        q[h] = (int)__vadd4(g, add);
    }
}

// The IQ4 levels of the four nibble indices in bytes 0..3 of V (each 0..15).
static __device__ __forceinline__ int iq4_lookup4(uint32_t v)
{
    const uint32_t sel =
        ((v & 0x7) | ((v >> 4) & 0x70) | ((v >> 8) & 0x700) | ((v >> 12) & 0x7000));
    constexpr uint32_t w0 = iq4nl_word(0), w1 = iq4nl_word(1), w2 = iq4nl_word(2),
                       w3 = iq4nl_word(3);
    const uint32_t lo = __byte_perm(w0, w1, sel);
    const uint32_t hi = __byte_perm(w2, w3, sel);
    const uint32_t upper = ((v >> 3) & 0x01010101u) * 0xffu; // index >= 8
    return (int)((hi & upper) | (lo & ~upper));
}

// Chunk C of the row at ROW: q[0..3] (bytes = element order), and the affine map.
template <int TYPE>
static __device__ __forceinline__ void decode_chunk(const uint8_t *row, int c, int q[4], float &a,
                                                    float &b)
{
    using T = QuantTraits<TYPE>;
    const uint8_t *blk = row + (size_t)(c / T::chunks_per_block) * T::block_bytes;
    const int j = c % T::chunks_per_block; // chunk within the block

    if constexpr (TYPE == PONDER_TYPE_Q4_0 || TYPE == PONDER_TYPE_Q4_1) {
        // elements 0-15: low nibbles of qs[0..16); 16-31: high nibbles
        constexpr bool has_min = TYPE == PONDER_TYPE_Q4_1;
        constexpr size_t qs_at = has_min ? offsetof(BlockQ4_1, qs) : offsetof(BlockQ4_0, qs);
        load16<T::align>(blk + qs_at, q);
#pragma unroll
        for (int i = 0; i < 4; i++)
            q[i] = (q[i] >> (4 * j)) & 0x0f0f0f0f;
        a = load_half(blk);
        b = has_min ? load_half(blk + 2) : -8.0f * a;
    } else if constexpr (TYPE == PONDER_TYPE_Q5_0 || TYPE == PONDER_TYPE_Q5_1) {
        // as Q4 for the low bits; bit 4 of element e is bit e of qh
        constexpr bool has_min = TYPE == PONDER_TYPE_Q5_1;
        constexpr size_t qs_at = has_min ? offsetof(BlockQ5_1, qs) : offsetof(BlockQ5_0, qs);
        constexpr size_t qh_at = has_min ? offsetof(BlockQ5_1, qh) : offsetof(BlockQ5_0, qh);
        load16<T::align>(blk + qs_at, q);
        const uint32_t high = load_u32_a2(blk + qh_at) >> (16 * j);
#pragma unroll
        for (int i = 0; i < 4; i++)
            q[i] = ((q[i] >> (4 * j)) & 0x0f0f0f0f) |
                   (spread_nibble_bits((high >> (4 * i)) & 0xf) << 4);
        a = load_half(blk);
        b = has_min ? load_half(blk + 2) : -16.0f * a;
    } else if constexpr (TYPE == PONDER_TYPE_Q8_0) {
        load16<T::align>(blk + offsetof(BlockQ8_0, qs) + 16 * j, q);
        a = load_half(blk);
        b = 0.0f;
    } else if constexpr (TYPE == PONDER_TYPE_Q2_K || TYPE == PONDER_TYPE_Q3_K ||
                         TYPE == PONDER_TYPE_Q6_K) {
        // element h*128 + s*32 + l; a chunk is l in [l0, l0 + 16) of one (h, s)
        const int h = j >> 3, s = (j >> 1) & 3, l0 = (j & 1) * 16;
        if constexpr (TYPE == PONDER_TYPE_Q2_K) {
            load16<T::align>(blk + offsetof(BlockQ2_K, qs) + h * 32 + l0, q);
#pragma unroll
            for (int i = 0; i < 4; i++)
                q[i] = (q[i] >> (2 * s)) & 0x03030303;
            const int sc = blk[offsetof(BlockQ2_K, scales) + j];
            a = load_half(blk + offsetof(BlockQ2_K, d)) * (float)(sc & 0xf);
            b = -load_half(blk + offsetof(BlockQ2_K, dmin)) * (float)(sc >> 4);
        } else if constexpr (TYPE == PONDER_TYPE_Q3_K) {
            int hm[4];
            load16<T::align>(blk + offsetof(BlockQ3_K, qs) + h * 32 + l0, q);
            load16<T::align>(blk + offsetof(BlockQ3_K, hmask) + l0, hm);
#pragma unroll
            for (int i = 0; i < 4; i++)
                q[i] =
                    ((q[i] >> (2 * s)) & 0x03030303) | (((hm[i] >> (4 * h + s)) & 0x01010101) << 2);
            const uint8_t *packed = blk + offsetof(BlockQ3_K, scales);
            const int low = (j < 8 ? packed[j] : packed[j - 8] >> 4) & 0xf;
            const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
            a = load_half(blk + offsetof(BlockQ3_K, d)) * (float)((low | (high << 4)) - 32);
            b = -4.0f * a;
        } else {
            int qh[4];
            load16<T::align>(blk + offsetof(BlockQ6_K, ql) + h * 64 + (s & 1) * 32 + l0, q);
            load16<T::align>(blk + offsetof(BlockQ6_K, qh) + h * 32 + l0, qh);
#pragma unroll
            for (int i = 0; i < 4; i++)
                q[i] = ((q[i] >> (s < 2 ? 0 : 4)) & 0x0f0f0f0f) |
                       (((qh[i] >> (2 * s)) & 0x03030303) << 4);
            const int sc = (int8_t)blk[offsetof(BlockQ6_K, scales) + j];
            a = load_half(blk + offsetof(BlockQ6_K, d)) * (float)sc;
            b = -32.0f * a;
        }
    } else if constexpr (TYPE == PONDER_TYPE_Q4_K || TYPE == PONDER_TYPE_Q5_K) {
        // 64-element piece j/4 takes 32 bytes of qs: low nibbles sub-block 2p, high 2p + 1
        constexpr bool five = TYPE == PONDER_TYPE_Q5_K;
        constexpr size_t qs_at = five ? offsetof(BlockQ5_K, qs) : offsetof(BlockQ4_K, qs);
        constexpr size_t scales_at =
            five ? offsetof(BlockQ5_K, scales) : offsetof(BlockQ4_K, scales);
        const int sub = j >> 1, l0 = (j & 1) * 16;
        load16<T::align>(blk + qs_at + (j >> 2) * 32 + l0, q);
#pragma unroll
        for (int i = 0; i < 4; i++)
            q[i] = (q[i] >> (4 * (sub & 1))) & 0x0f0f0f0f;
        if constexpr (five) {
            int qh[4];
            load16<T::align>(blk + offsetof(BlockQ5_K, qh) + l0, qh);
#pragma unroll
            for (int i = 0; i < 4; i++)
                q[i] |= ((qh[i] >> sub) & 0x01010101) << 4;
        }
        int sc, m;
        k_scale_min_dev(blk + scales_at, sub, &sc, &m);
        a = load_half(blk) * (float)sc;
        b = -load_half(blk + 2) * (float)m;
    } else if constexpr (TYPE == PONDER_TYPE_IQ4_NL || TYPE == PONDER_TYPE_IQ4_XS) {
        // 16 bytes per 32 elements, low nibbles first (as Q4_0)
        constexpr bool xs = TYPE == PONDER_TYPE_IQ4_XS;
        const int ib = xs ? j >> 1 : 0, shift = 4 * (j & 1);
        int raw[4];
        load16<T::align>(
            blk + (xs ? offsetof(BlockIQ4_XS, qs) : offsetof(BlockIQ4_NL, qs)) + 16 * ib, raw);
#pragma unroll
        for (int i = 0; i < 4; i++)
            q[i] = iq4_lookup4(((uint32_t)raw[i] >> shift) & 0x0f0f0f0fu);
        a = load_half(blk);
        if constexpr (xs) {
            const int low = (blk[offsetof(BlockIQ4_XS, scales_l) + ib / 2] >> (4 * (ib & 1))) & 0xf;
            const int high =
                (*(const uint16_t *)(blk + offsetof(BlockIQ4_XS, scales_h)) >> (2 * ib)) & 3;
            a *= (float)((low | high << 4) - 32);
        }
        b = 0.0f;
    } else {
        // codebook types: chunk j is groups 2h, 2h + 1 (8 elements each) of sub-block ib
        const int ib = j >> 1, h = j & 1;
        b = 0.0f;
        if constexpr (TYPE == PONDER_TYPE_IQ2_XXS) {
            const uint8_t *qs = blk + offsetof(BlockIQ2_XXS, qs) + 8 * ib;
            const uint32_t index = load_u32_a2(qs), meta = load_u32_a2(qs + 4);
#pragma unroll
            for (int g = 0; g < 2; g++) {
                const int l = 2 * h + g;
                iq_put8_dev(q + 2 * g, iq2xxs_grid_dev[(index >> (8 * l)) & 0xff],
                            iq_signs8_dev(meta >> (7 * l)));
            }
            a = load_half(blk) * 0.125f * (float)(2 * (meta >> 28) + 1);
        } else if constexpr (TYPE == PONDER_TYPE_IQ2_XS) {
            const uint16_t *qs = (const uint16_t *)(blk + offsetof(BlockIQ2_XS, qs)) + 4 * ib;
#pragma unroll
            for (int g = 0; g < 2; g++) {
                const uint32_t v = qs[2 * h + g];
                iq_put8_dev(q + 2 * g, iq2xs_grid_dev[v & 511], iq_signs8_dev(v >> 9));
            }
            const int sc = (blk[offsetof(BlockIQ2_XS, scales) + ib] >> (4 * h)) & 0xf;
            a = load_half(blk) * 0.125f * (float)(2 * sc + 1);
        } else if constexpr (TYPE == PONDER_TYPE_IQ2_S) {
            const uint8_t *qs = blk + offsetof(BlockIQ2_S, qs);
            const int qh = blk[offsetof(BlockIQ2_S, qh) + ib];
#pragma unroll
            for (int g = 0; g < 2; g++) {
                const int l = 2 * h + g;
                const int index = qs[4 * ib + l] | ((qh >> (2 * l)) & 3) << 8;
                iq_put8_dev(q + 2 * g, iq2s_grid_dev[index], qs[32 + 4 * ib + l]);
            }
            const int sc = (blk[offsetof(BlockIQ2_S, scales) + ib] >> (4 * h)) & 0xf;
            a = load_half(blk) * 0.125f * (float)(2 * sc + 1);
        } else if constexpr (TYPE == PONDER_TYPE_IQ3_XXS) {
            const uint8_t *qs = blk + offsetof(BlockIQ3_XXS, qs);
            const uint32_t meta = load_u32_a2(qs + 64 + 4 * ib);
#pragma unroll
            for (int g = 0; g < 2; g++) {
                const int l = 2 * h + g;
                const uint32_t signs = iq_signs8_dev(meta >> (7 * l));
                q[2 * g] = iq_signed4(iq3xxs_grid_dev[qs[8 * ib + 2 * l]], signs);
                q[2 * g + 1] = iq_signed4(iq3xxs_grid_dev[qs[8 * ib + 2 * l + 1]], signs >> 4);
            }
            a = load_half(blk) * 0.25f * (float)(2 * (meta >> 28) + 1);
        } else if constexpr (TYPE == PONDER_TYPE_IQ3_S) {
            const uint8_t *qs = blk + offsetof(BlockIQ3_S, qs) + 8 * ib;
            const int qh = blk[offsetof(BlockIQ3_S, qh) + ib];
#pragma unroll
            for (int g = 0; g < 2; g++) {
                const int l = 2 * h + g;
                const uint32_t signs = blk[offsetof(BlockIQ3_S, signs) + 4 * ib + l];
                q[2 * g] = iq_signed4(iq3s_grid_dev[qs[2 * l] | ((qh >> (2 * l)) & 1) << 8], signs);
                q[2 * g + 1] = iq_signed4(
                    iq3s_grid_dev[qs[2 * l + 1] | ((qh >> (2 * l + 1)) & 1) << 8], signs >> 4);
            }
            const int sc = (blk[offsetof(BlockIQ3_S, scales) + ib / 2] >> (4 * (ib & 1))) & 0xf;
            a = load_half(blk) * (float)(2 * sc + 1);
        } else if constexpr (TYPE == PONDER_TYPE_IQ1_S) {
            const uint8_t *qs = blk + offsetof(BlockIQ1_S, qs) + 4 * ib;
            const uint32_t qh = *(const uint16_t *)(blk + offsetof(BlockIQ1_S, qh) + 2 * ib);
#pragma unroll
            for (int g = 0; g < 2; g++) {
                const int l = 2 * h + g;
                iq1_put8_dev(q + 2 * g, iq1s_grid_dev[qs[l] | ((qh >> (3 * l)) & 7) << 8],
                             qh & 0x8000);
            }
            a = load_half(blk) * 0.125f * (float)(2 * ((qh >> 12) & 7) + 1);
        } else if constexpr (TYPE == PONDER_TYPE_IQ1_M) {
            const uint16_t *sw = (const uint16_t *)(blk + offsetof(BlockIQ1_M, scales));
            const uint16_t d_bits = (uint16_t)((sw[0] >> 12) | ((sw[1] >> 8) & 0x00f0) |
                                               ((sw[2] >> 4) & 0x0f00) | (sw[3] & 0xf000));
            const int qh = blk[offsetof(BlockIQ1_M, qh) + j]; // 2 nibbles: this chunk's groups
#pragma unroll
            for (int g = 0; g < 2; g++) {
                const int nibble = (qh >> (4 * g)) & 0xf;
                const int index = blk[offsetof(BlockIQ1_M, qs) + 4 * ib + 2 * h + g] | (nibble & 7)
                                                                                           << 8;
                iq1_put8_dev(q + 2 * g, iq1s_grid_dev[index], nibble & 8);
            }
            const int sc = (sw[j / 4] >> (3 * (j % 4))) & 7;
            a = half_bits_to_float(d_bits) * 0.125f * (float)(2 * sc + 1);
        }
    }
}

// Float weight types are read 8 elements (one 16-byte load of fp16/bf16) at a time.
enum { FLOAT_CHUNK = 8 };

template <int TYPE>
static __device__ __forceinline__ void load_float_chunk(const uint8_t *row, int c, float w[8])
{
    if constexpr (TYPE == PONDER_TYPE_F32) {
        const float4 *p = (const float4 *)(row + (size_t)c * 32);
        const float4 lo = p[0], hi = p[1];
        w[0] = lo.x, w[1] = lo.y, w[2] = lo.z, w[3] = lo.w;
        w[4] = hi.x, w[5] = hi.y, w[6] = hi.z, w[7] = hi.w;
    } else {
        const uint4 raw = *(const uint4 *)(row + (size_t)c * 16);
        const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const uint16_t lo = (uint16_t)(words[i] & 0xffff), hi = (uint16_t)(words[i] >> 16);
            if constexpr (TYPE == PONDER_TYPE_F16) {
                w[2 * i] = half_bits_to_float(lo);
                w[2 * i + 1] = half_bits_to_float(hi);
            } else {
                w[2 * i] = bf16_bits_to_float(lo);
                w[2 * i + 1] = bf16_bits_to_float(hi);
            }
        }
    }
}

// Calls F.template operator()<TYPE>() for the run-time TYPE; false for a type without kernels.
template <typename F> static bool dispatch_quant_type(PonderType type, F &&f)
{
    switch (type) {
    case PONDER_TYPE_Q4_0: f.template operator()<PONDER_TYPE_Q4_0>(); return true;
    case PONDER_TYPE_Q4_1: f.template operator()<PONDER_TYPE_Q4_1>(); return true;
    case PONDER_TYPE_Q5_0: f.template operator()<PONDER_TYPE_Q5_0>(); return true;
    case PONDER_TYPE_Q5_1: f.template operator()<PONDER_TYPE_Q5_1>(); return true;
    case PONDER_TYPE_Q8_0: f.template operator()<PONDER_TYPE_Q8_0>(); return true;
    case PONDER_TYPE_Q2_K: f.template operator()<PONDER_TYPE_Q2_K>(); return true;
    case PONDER_TYPE_Q3_K: f.template operator()<PONDER_TYPE_Q3_K>(); return true;
    case PONDER_TYPE_Q4_K: f.template operator()<PONDER_TYPE_Q4_K>(); return true;
    case PONDER_TYPE_Q5_K: f.template operator()<PONDER_TYPE_Q5_K>(); return true;
    case PONDER_TYPE_Q6_K: f.template operator()<PONDER_TYPE_Q6_K>(); return true;
    case PONDER_TYPE_IQ2_XXS: f.template operator()<PONDER_TYPE_IQ2_XXS>(); return true;
    case PONDER_TYPE_IQ2_XS: f.template operator()<PONDER_TYPE_IQ2_XS>(); return true;
    case PONDER_TYPE_IQ2_S: f.template operator()<PONDER_TYPE_IQ2_S>(); return true;
    case PONDER_TYPE_IQ3_XXS: f.template operator()<PONDER_TYPE_IQ3_XXS>(); return true;
    case PONDER_TYPE_IQ3_S: f.template operator()<PONDER_TYPE_IQ3_S>(); return true;
    case PONDER_TYPE_IQ1_S: f.template operator()<PONDER_TYPE_IQ1_S>(); return true;
    case PONDER_TYPE_IQ1_M: f.template operator()<PONDER_TYPE_IQ1_M>(); return true;
    case PONDER_TYPE_IQ4_NL: f.template operator()<PONDER_TYPE_IQ4_NL>(); return true;
    case PONDER_TYPE_IQ4_XS: f.template operator()<PONDER_TYPE_IQ4_XS>(); return true;
    default: return false;
    }
}

template <typename F> static bool dispatch_float_type(PonderType type, F &&f)
{
    switch (type) {
    case PONDER_TYPE_F32: f.template operator()<PONDER_TYPE_F32>(); return true;
    case PONDER_TYPE_F16: f.template operator()<PONDER_TYPE_F16>(); return true;
    case PONDER_TYPE_BF16: f.template operator()<PONDER_TYPE_BF16>(); return true;
    default: return false;
    }
}
