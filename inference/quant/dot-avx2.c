// AVX2/FMA/F16C dot kernels: dot-x86.h with multiply-adds spelled vpmaddubsw/vpmaddwd.
#include <immintrin.h>

#define DOT_U8S8(acc, u, s)                                                                        \
    _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define DOT_I16(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))

#include "dot-x86.h"

PonderVecDot quant_vec_dot_avx2(PonderType type)
{
    return x86_vec_dot(type);
}

PonderGemm quant_gemm_avx2(PonderType type)
{
    PonderGemm tiles = quant_gemm_avx2_tiles(type);
    return tiles ? tiles : x86_gemm_from_dot(type);
}

// ---- Activation quantizers (Q8_0, Q8_1, Q8_K) ----
//
// The same arithmetic as the scalar reference in quant-quantize.c (scale = max|x| / 127,
// quants = x * (1 / scale) rounded half to even, clamped to [-127, 127]), so the bytes are
// identical; these run once per activation row per matrix product, on the hot path.

static inline float max_abs(const float *x, int n) // N a multiple of 32
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
        m1 = _mm256_max_ps(m1, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i + 8)));
    }
    __m256 m = _mm256_max_ps(m0, m1);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// Quantizes 32 values to Q; SUMS gets the sums of the first and the second 16 quants.
static inline void quantize32(const float *x, __m256 inv_scale, int8_t *q, int sums[2])
{
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    __m256i v[4];
    for (int i = 0; i < 4; i++) {
        __m256i r = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), inv_scale));
        v[i] = _mm256_min_epi32(_mm256_max_epi32(r, lo), hi); // NaN (INT_MIN) -> -127, as in C
    }
    sums[0] = hsum_epi32(_mm256_add_epi32(v[0], v[1]));
    sums[1] = hsum_epi32(_mm256_add_epi32(v[2], v[3]));
    // packs interleave 128-bit lanes: 0-3 4-7 ... come out as dwords 0 4 1 5 2 6 3 7
    __m256i packed =
        _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    packed = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, packed);
}

static inline __m256 inverse_scale(float d)
{
    return _mm256_set1_ps(d > 0 ? 1.0f / d : 0.0f);
}

void quant_quantize_q8_avx2(PonderType type, const float *x, void *dst, int64_t n)
{
    if (type == PONDER_TYPE_Q8_K) {
        BlockQ8_K *b = dst;
        for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
            b[i].d = max_abs(x, QK_K) / 127.0f;
            __m256 inv = inverse_scale(b[i].d);
            for (int j = 0; j < QK_K / 32; j++) {
                int sums[2];
                quantize32(x + 32 * j, inv, b[i].qs + 32 * j, sums);
                b[i].bsums[2 * j] = (int16_t)sums[0];
                b[i].bsums[2 * j + 1] = (int16_t)sums[1];
            }
        }
    } else {
        bool with_sum = type == PONDER_TYPE_Q8_1;
        size_t bytes = with_sum ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
        uint8_t *p = dst;
        for (int64_t i = 0; i < n / QK_LEGACY; i++, x += QK_LEGACY, p += bytes) {
            uint16_t d16 = ponder_fp32_to_fp16(max_abs(x, QK_LEGACY) / 127.0f);
            int sums[2];
            quantize32(x, inverse_scale(fp16(d16)), (int8_t *)p + (with_sum ? 4 : 2), sums);
            memcpy(p, &d16, 2);
            if (with_sum) {
                int16_t s16 = (int16_t)(sums[0] + sums[1]);
                memcpy(p + 2, &s16, 2);
            }
        }
    }
}
