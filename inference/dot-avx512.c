// AVX-512 VNNI kernels (placeholder while they are written).
#include "quant-kernels.h"

PonderVecDot quant_vec_dot_avx512(PonderType type)
{
    (void)type;
    return NULL;
}

PonderGemm quant_gemm_avx512(PonderType type)
{
    (void)type;
    return NULL;
}
