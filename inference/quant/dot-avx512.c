// AVX-512 VNNI dot kernels: dot-x86.h with the fused multiply-accumulates vpdpbusd and
// vpdpwssd, plus 512-bit versions of Q4_K and Q5_K, which need about two thirds of the
// instructions per block of the 256-bit ones (Q4_K ~17 vs ~13 GB/s on Zen 4; a 512-bit
// Q6_K was slower than the 256-bit one, ~24 vs ~30 GB/s, and was dropped).
#include <immintrin.h>

#define DOT_U8S8(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define DOT_I16(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))

#include "dot-x86.h"

// Quants come 64 at a time as elements 64c..64c+63 of the block, matching one 64-byte load
// of the activations; the integer partial sums of 4 products (lanes 0-7: the first 32
// elements, 8-15: the second) fit 16 bits, so vpdpwssd applies the sub-block scales,
// given as i16 pairs (scale, 0).

static inline int hsum512_epi32(__m512i v)
{
    __m256i s = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return hsum_epi32(s);
}

// The 64 low or high nibbles of qs[0..31] (Q4_K/Q5_K layout: elements 64c + l and 64c + 32 + l).
static inline __m512i nibbles64(const uint8_t *qs32)
{
    __m512i both = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qs32));
    __m512i shifted = _mm512_srlv_epi64(both, _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0));
    return _mm512_and_si512(shifted, _mm512_set1_epi8(0xf));
}

// Sub-block scales of a Q4_K/Q5_K block for chunk C: lanes 0-7 scale 2c, lanes 8-15 2c+1.
static inline __m512i chunk_scales(__m512i scales32, int c)
{
    const __m512i index = _mm512_set_epi32(2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1,
                                           2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c, 2 * c, 2 * c,
                                           2 * c, 2 * c, 2 * c, 2 * c, 2 * c);
    return _mm512_permutexvar_epi32(index, scales32);
}

// Shared by Q4_K/Q5_K: Q[c] holds the quants of elements 64c..64c+63.
static inline float k_affine_block512(const __m512i q[4], uint16_t d, uint16_t dmin,
                                      const uint8_t packed_scales[12], const BlockQ8_K *b)
{
    uint64_t scales, mins;
    unpack_k_scales(packed_scales, &scales, &mins);
    __m512i scales32 = _mm512_cvtepu8_epi32(_mm_cvtsi64_si128((long long)scales));
    __m512i part[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m512i p =
            _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[c], _mm512_loadu_si512(b->qs + 64 * c));
        part[c % 2] = _mm512_dpwssd_epi32(part[c % 2], p, chunk_scales(scales32, c));
    }
    float scaled = (float)hsum512_epi32(_mm512_add_epi32(part[0], part[1]));
    float min_sum = (float)hsum_epi32_128(k_min_products(mins, b->bsums));
    return b->d * (fp16(d) * scaled - fp16(dmin) * min_sum);
}

static float dot_q4_k_512(const void *w, const void *x, int64_t n)
{
    const BlockQ4_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m512i q[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            q[c] = nibbles64(a[i].qs + 32 * c);
        sum += k_affine_block512(q, a[i].d, a[i].dmin, a[i].scales, &b[i]);
    }
    return sum;
}

static float dot_q5_k_512(const void *w, const void *x, int64_t n)
{
    const BlockQ5_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)a[i].qh));
        __m512i q[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            // bit 4 of element 32j + l is bit j of qh[l]; here j = 2c (low half), 2c + 1
            __m512i high =
                _mm512_srlv_epi64(qh, _mm512_set_epi64(2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1,
                                                       2 * c, 2 * c, 2 * c, 2 * c));
            high = _mm512_slli_epi64(_mm512_and_si512(high, _mm512_set1_epi8(1)), 4);
            q[c] = _mm512_or_si512(nibbles64(a[i].qs + 32 * c), high);
        }
        sum += k_affine_block512(q, a[i].d, a[i].dmin, a[i].scales, &b[i]);
    }
    return sum;
}

PonderVecDot quant_vec_dot_avx512(PonderType type)
{
    switch (type) {
    case PONDER_TYPE_Q4_K: return dot_q4_k_512;
    case PONDER_TYPE_Q5_K: return dot_q5_k_512;
    default: return x86_vec_dot(type);
    }
}

PonderGemm quant_gemm_avx512(PonderType type)
{
    PonderGemm tiles = quant_gemm_avx512_tiles(type);
    return tiles ? tiles : x86_gemm_from_dot(type);
}
