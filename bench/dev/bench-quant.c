// Micro-benchmark of the dot and tile kernels (development only, not shipped).
//
//   cc -O2 -Iinference bench/dev/bench-quant.c <the library> -lm -o /tmp/bench-quant
//   /tmp/bench-quant [type ...]        e.g. /tmp/bench-quant q4_K q6_K
//
// vec_dot: one thread streams a weight matrix of ~3 MiB (in L2/L3) against one
// activation row, reported in GB/s of weight bytes per instruction-set level.
// gemm: a 32-row x 64-column tile call, as the CPU backend makes in prefill, reported in
// GOP/s (2 operations per multiply-add).
#define _POSIX_C_SOURCE 200809L
#include "quant-kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *quantized_random(PonderType type, int64_t rows, int64_t k, uint64_t *row_bytes)
{
    ponder_row_bytes(type, (uint64_t)k, row_bytes);
    float *x = malloc((size_t)k * sizeof *x);
    uint8_t *out = malloc(*row_bytes * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < k; i++)
            x[i] = (float)((rand() / (double)RAND_MAX - 0.5) * 2.0);
        if (r < 16) // quantizing is slow: reuse a few distinct rows
            ponder_quantize_row(type, x, out + (size_t)r * *row_bytes, k);
        else
            memcpy(out + (size_t)r * *row_bytes, out + (size_t)(r % 16) * *row_bytes, *row_bytes);
    }
    free(x);
    return out;
}

static void bench_type(PonderType type)
{
    const PonderTypeTraits *t = ponder_type_traits(type);
    const int64_t k = 1536; // the 1.5B model's hidden size
    uint64_t w_bytes, x_bytes;
    int64_t rows = (3 << 20) / ((int64_t)t->block_bytes * k / t->block_len);
    uint8_t *w = quantized_random(type, rows, k, &w_bytes);
    const int n_cols = 64;
    uint8_t *x = quantized_random(t->dot_type, n_cols, k, &x_bytes);
    float *out = malloc(sizeof(float) * 32 * n_cols);
    printf("%-5s", t->name);
    for (PonderCpuLevel level = PONDER_CPU_SCALAR; level <= PONDER_CPU_AVX512; level++) {
        PonderVecDot dot = ponder_vec_dot_at_level(type, level);
        PonderGemm gemm = ponder_gemm_at_level(type, level);
        if (!dot || !gemm)
            continue;
        volatile float sink = 0;
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int64_t r = 0; r < rows; r++)
                sink += dot(w + (size_t)r * w_bytes, x, k);
            best = fmin(best, now() - t0);
        }
        double gbs = (double)rows * (double)w_bytes / best / 1e9;
        // gemm: all row chunks of 32 against 64 columns
        double gbest = 1e30;
        int64_t grows = rows / 32 * 32;
        if (grows > 512)
            grows = 512;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            for (int64_t r = 0; r < grows; r += 32)
                gemm(w + (size_t)r * w_bytes, w_bytes, 32, x, x_bytes, n_cols, k, out, 32);
            gbest = fmin(gbest, now() - t0);
        }
        double gops = 2.0 * (double)grows * n_cols * (double)k / gbest / 1e9;
        printf("  %-6s dot %6.1f GB/s  gemm %6.1f GOP/s", level == PONDER_CPU_AVX512 ? "avx512"
                                                           : level == PONDER_CPU_AVX2 ? "avx2"
                                                                                      : "scalar",
               gbs, gops);
        (void)sink;
    }
    printf("\n");
    free(w);
    free(x);
    free(out);
}

int main(int argc, char **argv)
{
    static const PonderType all[] = {
        PONDER_TYPE_F32,  PONDER_TYPE_F16,  PONDER_TYPE_BF16, PONDER_TYPE_Q4_0, PONDER_TYPE_Q4_1,
        PONDER_TYPE_Q5_0, PONDER_TYPE_Q5_1, PONDER_TYPE_Q8_0, PONDER_TYPE_Q2_K, PONDER_TYPE_Q3_K,
        PONDER_TYPE_Q4_K, PONDER_TYPE_Q5_K, PONDER_TYPE_Q6_K,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        bool wanted = argc == 1;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], ponder_type_traits(all[i])->name) == 0;
        if (wanted)
            bench_type(all[i]);
    }
    return 0;
}
