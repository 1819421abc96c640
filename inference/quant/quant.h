// Weight types with the standard GGUF (ggml) bit layouts, and the CPU kernels on them.
//
// Every type has: a reference dequantizer (block -> float), a reference quantizer
// (float -> block, as used by `quantize` and `synth`), and a dot product of one weight
// row with an activation row that was quantized once to the type's "dot type"
// (Q8_0 blocks for the legacy quants and IQ4_NL, Q8_K blocks for the K-quants and the other
// IQ types, F32 for F32/F16/BF16).
// Dot kernels are picked at run time by CPU features (AVX-512 VNNI, AVX2/FMA, scalar).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ggml type ids as stored in GGUF files.
typedef enum PonderType {
    PONDER_TYPE_F32 = 0,
    PONDER_TYPE_F16 = 1,
    PONDER_TYPE_Q4_0 = 2,
    PONDER_TYPE_Q4_1 = 3,
    PONDER_TYPE_Q5_0 = 6,
    PONDER_TYPE_Q5_1 = 7,
    PONDER_TYPE_Q8_0 = 8,
    PONDER_TYPE_Q8_1 = 9, // activation-only type in ggml; not accepted as a weight type
    PONDER_TYPE_Q2_K = 10,
    PONDER_TYPE_Q3_K = 11,
    PONDER_TYPE_Q4_K = 12,
    PONDER_TYPE_Q5_K = 13,
    PONDER_TYPE_Q6_K = 14,
    PONDER_TYPE_Q8_K = 15, // activation-only: dot type of the K-quants and the IQ types
    PONDER_TYPE_IQ2_XXS = 16,
    PONDER_TYPE_IQ2_XS = 17,
    PONDER_TYPE_IQ3_XXS = 18,
    PONDER_TYPE_IQ1_S = 19,
    PONDER_TYPE_IQ4_NL = 20,
    PONDER_TYPE_IQ3_S = 21,
    PONDER_TYPE_IQ2_S = 22,
    PONDER_TYPE_IQ4_XS = 23,
    PONDER_TYPE_IQ1_M = 29,
    PONDER_TYPE_BF16 = 30,
    PONDER_TYPE_COUNT = 40,
} PonderType;

enum { QK_LEGACY = 32, QK_K = 256 };

typedef struct PonderTypeTraits {
    const char *name;   // "q4_K" etc., as ggml names them
    uint32_t block_len; // elements per block (1 for F32/F16/BF16)
    uint32_t block_bytes;
    bool is_weight_type; // may appear as a tensor type in a model file
    PonderType dot_type; // what activations are quantized to for ponder_vec_dot
} PonderTypeTraits;

// NULL for an unknown id.
const PonderTypeTraits *ponder_type_traits(uint32_t type);
// Bytes of a row of N elements; false when N is not a multiple of the block length or
// the type is unknown. Overflow-safe.
bool ponder_row_bytes(uint32_t type, uint64_t n, uint64_t *out_bytes);

float ponder_fp16_to_fp32(uint16_t h);
uint16_t ponder_fp32_to_fp16(float f); // round to nearest even
float ponder_bf16_to_fp32(uint16_t h);
uint16_t ponder_fp32_to_bf16(float f); // round to nearest even

// N must be a multiple of the block length.
void ponder_dequantize_row(PonderType type, const void *src, float *dst, int64_t n);
// Reference quantizers for every weight type that ponder_can_quantize accepts (and
// Q8_0/Q8_K for activations); other types leave DST untouched.
void ponder_quantize_row(PonderType type, const float *src, void *dst, int64_t n);
// ponder_quantize_row with each value's squared error weighted by IMPORTANCE (N weights,
// finite and >= 0: for a matrix row, each input column's mean squared activation, as an
// importance matrix gives it) where the quantizer searches scales: the legacy 4/5-bit types,
// the K-quants, IQ4_NL and IQ4_XS. NULL, and the types with no search (F32, F16, BF16,
// Q8_0), give ponder_quantize_row's result exactly; so does an importance that is the same
// power of two for every value.
void ponder_quantize_row_weighted(PonderType type, const float *src, void *dst, int64_t n,
                                  const float *importance);
// False for the IQ types below 4 bits (IQ3_XXS, IQ3_S, IQ2_*, IQ1_*): Ponder has no codebook
// search for them, with or without an importance matrix (llama.cpp's needs one for all but
// IQ3_S to be worth anything).
bool ponder_can_quantize(PonderType type);
// Random but valid blocks of TYPE whose scales follow the magnitude of SRC: benchmark files
// for every type (`synth`), never a quantization. Deterministic in SRC's bits and SEED.
// For types ponder_can_quantize accepts it quantizes.
void ponder_synth_row(PonderType type, const float *src, void *dst, int64_t n, uint64_t seed);

// Dot product of weight row W (of TYPE, N elements) with activation row X already
// quantized to ponder_type_traits(TYPE)->dot_type (use ponder_quantize_row for that).
typedef float (*PonderVecDot)(const void *w, const void *x, int64_t n);
// The fastest kernel this CPU supports for TYPE; NULL for types without one.
PonderVecDot ponder_vec_dot_for(PonderType type);
// The portable scalar kernel (tests compare the SIMD kernels against it).
PonderVecDot ponder_vec_dot_scalar(PonderType type);

// Matrix product tile for prompt processing: for r < n_rows and c < n_cols,
//   out[c * out_stride + r] = dot(weight row r, activation row c)
// where weight rows are W_STRIDE bytes apart and activation rows (quantized to the dot
// type) X_STRIDE bytes apart. Kernels reuse each decoded weight block across columns,
// which is what makes prefill compute-bound rather than decode-bound.
typedef void (*PonderGemm)(const void *w, size_t w_stride, int n_rows, const void *x,
                           size_t x_stride, int n_cols, int64_t k, float *out, size_t out_stride);
// The fastest tile kernel for TYPE on this CPU (a generic one built on the vec dot when
// no specialised kernel exists); NULL for types without a dot product. Tile kernels decode
// the weights once per call, so they pay off from about 4 columns (below that they call
// the dot products themselves); rows in multiples of 16 fill their vector lanes.
PonderGemm ponder_gemm_for(PonderType type);

// "avx512-vnni", "avx2", or "scalar": what ponder_vec_dot_for picks on this CPU.
// Environment variable PONDER_CPU_KERNELS=scalar|avx2 caps it (for tests/benchmarks).
const char *ponder_cpu_kernel_level(void);
