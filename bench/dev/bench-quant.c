// Micro-benchmark of the dot and tile kernels (development only, not shipped).
//
//   cc -O2 -Iinference bench/dev/bench-quant.c <the library> -lm -o /tmp/bench-quant
//   /tmp/bench-quant [--dram] [type ...]        e.g. /tmp/bench-quant q4_K q6_K
//
// vec_dot: one thread streams a weight matrix against one activation row, reported in
// GB/s of weight bytes per instruction-set level, for a matrix of 512 KiB (in L2), 8 MiB
// (in L3) and, with --dram, 512 MiB (from memory).
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
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); // CPU time: robust on a busy machine
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

static double bench_dot(PonderVecDot dot, const uint8_t *w, uint64_t w_bytes, int64_t rows,
                        const uint8_t *x, int64_t k)
{
    volatile float sink = 0;
    double best = 1e30;
    int reps = rows * (int64_t)w_bytes > (64 << 20) ? 2 : 20;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        for (int64_t r = 0; r < rows; r++)
            sink += dot(w + (size_t)r * w_bytes, x, k);
        best = fmin(best, now() - t0);
    }
    (void)sink;
    return (double)rows * (double)w_bytes / best / 1e9;
}

static bool with_dram;

static void bench_type(PonderType type)
{
    const PonderTypeTraits *t = ponder_type_traits(type);
    const int64_t k = 1536; // the 1.5B model's hidden size
    uint64_t w_bytes, x_bytes;
    int64_t row_bytes = (int64_t)t->block_bytes * k / t->block_len;
    int64_t sizes[3] = {(512 << 10) / row_bytes, (8 << 20) / row_bytes, (512ll << 20) / row_bytes};
    int n_sizes = with_dram ? 3 : 2;
    uint8_t *w = quantized_random(type, sizes[n_sizes - 1], k, &w_bytes);
    const int n_cols = 64;
    uint8_t *x = quantized_random(t->dot_type, n_cols, k, &x_bytes);
    float *out = malloc(sizeof(float) * 32 * n_cols);
    printf("%-5s\n", t->name);
    for (PonderCpuLevel level = PONDER_CPU_SCALAR; level <= PONDER_CPU_AVX512; level++) {
        PonderVecDot dot = ponder_vec_dot_at_level(type, level);
        PonderGemm gemm = ponder_gemm_at_level(type, level);
        if (!dot || !gemm)
            continue;
        printf("  %-11s dot GB/s:", level == PONDER_CPU_AVX512 ? "avx512-vnni"
                                    : level == PONDER_CPU_AVX2 ? "avx2"
                                                               : "scalar");
        static const char *const where[] = {"L2", "L3", "DRAM"};
        for (int i = 0; i < n_sizes; i++)
            printf(" %s %5.1f", where[i], bench_dot(dot, w, w_bytes, sizes[i], x, k));
        // gemm: row chunks of 32 against 64 columns, weights in L2
        double gbest = 1e30;
        int64_t grows = sizes[0] / 32 * 32;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int64_t r = 0; r < grows; r += 32)
                gemm(w + (size_t)r * w_bytes, w_bytes, 32, x, x_bytes, n_cols, k, out, 32);
            gbest = fmin(gbest, now() - t0);
        }
        printf("   gemm 32x64 %6.1f GOP/s\n",
               2.0 * (double)grows * n_cols * (double)k / gbest / 1e9);
    }
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
    int n_named = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--dram") == 0)
            with_dram = true;
        else
            n_named++;
    }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        bool wanted = n_named == 0;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], ponder_type_traits(all[i])->name) == 0;
        if (wanted)
            bench_type(all[i]);
    }
    return 0;
}
