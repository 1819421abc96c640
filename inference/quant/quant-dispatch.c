// Run-time choice of the dot / tile kernels: the best instruction-set level that both the
// CPU (cpuid) and the OS (xgetbv: it saves the ymm/zmm registers on context switches)
// support, optionally capped by the environment variable PONDER_CPU_KERNELS.
#include "quant-kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// The SIMD kernel files are built for x86-64 only (see inference/meson.build).
#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static PonderCpuLevel detect_cpu_level(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return PONDER_CPU_SCALAR;
    bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12),
         f16c = c & (1u << 29);
    if (!osxsave || !avx)
        return PONDER_CPU_SCALAR;
    uint64_t xcr0 = read_xcr0();
    bool os_ymm = (xcr0 & 0x6) == 0x6;   // SSE and AVX state
    bool os_zmm = (xcr0 & 0xe0) == 0xe0; // opmask, upper halves of zmm0-15, zmm16-31
    if (!os_ymm || __get_cpuid_max(0, NULL) < 7)
        return PONDER_CPU_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    bool avx2 = b & (1u << 5);
    if (!(avx2 && fma && f16c))
        return PONDER_CPU_SCALAR;
    bool avx512 = (b & (1u << 16)) /* F */ && (b & (1u << 17)) /* DQ */ &&
                  (b & (1u << 30)) /* BW */ && (b & (1u << 31)) /* VL */ &&
                  (c & (1u << 11)) /* VNNI */;
    return avx512 && os_zmm ? PONDER_CPU_AVX512 : PONDER_CPU_AVX2;
}
#else
static PonderCpuLevel detect_cpu_level(void)
{
    return PONDER_CPU_SCALAR;
}
#endif

static const char *const level_names[] = {"scalar", "avx2", "avx512-vnni"};

// cpuid is slow (it traps in virtual machines), so both answers are computed once; racing
// threads only ever store the same value.
static PonderCpuLevel supported_level(void)
{
    static atomic_int cached = -1;
    int level = atomic_load_explicit(&cached, memory_order_relaxed);
    if (level < 0) {
        level = detect_cpu_level();
        atomic_store_explicit(&cached, level, memory_order_relaxed);
    }
    return (PonderCpuLevel)level;
}

PonderCpuLevel ponder_cpu_level(void)
{
    static atomic_int cached = -1;
    int level = atomic_load_explicit(&cached, memory_order_relaxed);
    if (level >= 0)
        return (PonderCpuLevel)level;
    level = supported_level();
    const char *cap = getenv("PONDER_CPU_KERNELS");
    if (cap) {
        for (int i = 0; i < level; i++)
            if (strcmp(cap, level_names[i]) == 0)
                level = i;
    }
    atomic_store_explicit(&cached, level, memory_order_relaxed);
    return (PonderCpuLevel)level;
}

const char *ponder_cpu_kernel_level(void)
{
    return level_names[ponder_cpu_level()];
}

PonderVecDot ponder_vec_dot_at_level(PonderType type, PonderCpuLevel level)
{
    if (level > supported_level())
        return NULL;
    PonderVecDot dot = NULL;
#if defined(__x86_64__)
    if (level >= PONDER_CPU_AVX512)
        dot = quant_vec_dot_avx512(type);
    if (!dot && level >= PONDER_CPU_AVX2)
        dot = quant_vec_dot_avx2(type);
#endif
    return dot ? dot : ponder_vec_dot_scalar(type);
}

PonderGemm ponder_gemm_at_level(PonderType type, PonderCpuLevel level)
{
    if (level > supported_level())
        return NULL;
    PonderGemm gemm = NULL;
#if defined(__x86_64__)
    if (level >= PONDER_CPU_AVX512)
        gemm = quant_gemm_avx512(type);
    if (!gemm && level >= PONDER_CPU_AVX2)
        gemm = quant_gemm_avx2(type);
#endif
    return gemm ? gemm : quant_gemm_scalar(type);
}

PonderVecDot ponder_vec_dot_for(PonderType type)
{
    return ponder_vec_dot_at_level(type, ponder_cpu_level());
}

PonderGemm ponder_gemm_for(PonderType type)
{
    return ponder_gemm_at_level(type, ponder_cpu_level());
}
