// AVX-512 VNNI dot kernels: dot-x86.h with the fused multiply-accumulates vpdpbusd and
// vpdpwssd (on 256-bit vectors: the kernels stream weights at memory speed already, and
// 256-bit VNNI runs at the full rate on the CPUs we target).
#include <immintrin.h>

#define DOT_U8S8(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define DOT_I16(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))

#include "dot-x86.h"

PonderVecDot quant_vec_dot_avx512(PonderType type)
{
    return x86_vec_dot(type);
}

PonderGemm quant_gemm_avx512(PonderType type)
{
    PonderGemm tiles = quant_gemm_avx512_tiles(type);
    return tiles ? tiles : x86_gemm_from_dot(type);
}
