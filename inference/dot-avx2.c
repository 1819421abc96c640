// AVX2/FMA/F16C kernels (placeholder while they are written).
#include "quant-kernels.h"

PonderVecDot quant_vec_dot_avx2(PonderType type)
{
    (void)type;
    return NULL;
}

PonderGemm quant_gemm_avx2(PonderType type)
{
    (void)type;
    return NULL;
}
