// AVX2/FMA/F16C dot kernels: dot-x86.h with multiply-adds spelled vpmaddubsw/vpmaddwd.
#include <immintrin.h>

#define DOT_U8S8(acc, u, s)                                                              \
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
