// Internal interface between the run-time dispatcher (quant-dispatch.c) and the kernel
// files of each instruction-set level (dot-scalar.c, dot-avx2.c, dot-avx512.c, ...).
// Tests include it to run every level against the scalar reference.
#pragma once

#include "quant.h"

typedef enum PonderCpuLevel {
    PONDER_CPU_SCALAR = 0,
    PONDER_CPU_AVX2 = 1,   // AVX2 + FMA + F16C
    PONDER_CPU_AVX512 = 2, // AVX-512 F/BW/VL/DQ + VNNI
} PonderCpuLevel;

// What this CPU and OS support, capped by PONDER_CPU_KERNELS (decided once).
PonderCpuLevel ponder_cpu_level(void);
// The kernel of one level, falling back to a lower level for types without one there;
// NULL if LEVEL exceeds what the CPU supports.
PonderVecDot ponder_vec_dot_at_level(PonderType type, PonderCpuLevel level);
PonderGemm ponder_gemm_at_level(PonderType type, PonderCpuLevel level);

// Per-level tables: NULL where the level has no kernel of its own for TYPE.
PonderVecDot quant_vec_dot_avx2(PonderType type);
PonderVecDot quant_vec_dot_avx512(PonderType type);
PonderGemm quant_gemm_scalar(PonderType type);
PonderGemm quant_gemm_avx2(PonderType type);
PonderGemm quant_gemm_avx512(PonderType type);
// The specialised tile kernels of gemm-avx2.c / gemm-avx512.c (NULL for other types).
PonderGemm quant_gemm_avx2_tiles(PonderType type);
PonderGemm quant_gemm_avx512_tiles(PonderType type);

// Activation quantizers (Q8_0, Q8_1, Q8_K) with AVX2, byte-identical to the reference.
void quant_quantize_q8_avx2(PonderType type, const float *src, void *dst, int64_t n);
// ponder_quantize_row with the kernels of LEVEL, which this CPU must support (for tests).
void ponder_quantize_row_at_level(PonderType type, const float *src, void *dst, int64_t n,
                                  PonderCpuLevel level);

// A tile "kernel" that just calls DOT for every (row, column) pair: the fallback for types
// without a specialised tile kernel, and for tiles too narrow to pay for one (a tile kernel
// decodes its weights once per call, which takes a few columns to win back).
void quant_gemm_by_dot(PonderVecDot dot, const void *w, size_t w_stride, int n_rows, const void *x,
                       size_t x_stride, int n_cols, int64_t k, float *out, size_t out_stride);
// Columns below which the tile kernels hand over to quant_gemm_by_dot (measured on Zen 4:
// the decoded-panel kernels break even with the dot products at about 3 columns).
enum { QUANT_TILE_MIN_COLS = 4 };

// Defines NAME, a PonderGemm that is quant_gemm_by_dot with DOT.
#define QUANT_DEFINE_GEMM_FROM_DOT(NAME, DOT)                                                      \
    static void NAME(const void *w, size_t w_stride, int n_rows, const void *x, size_t x_stride,   \
                     int n_cols, int64_t k, float *out, size_t out_stride)                         \
    {                                                                                              \
        quant_gemm_by_dot(DOT, w, w_stride, n_rows, x, x_stride, n_cols, k, out, out_stride);      \
    }
