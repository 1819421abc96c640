// Which type each tensor gets in a file of a given type: llama.cpp's quantization mixes.
//
// "q4_k_m" does not mean "every matrix Q4_K": llama.cpp gives the output matrix Q6_K and
// spends more bits on attn_v / ffn_down in some layers, and falls back to another type when
// a row does not fit a K-quant's 256-element super-block. `quantize` and `synth` both ask
// this module, so a file written by either has exactly the per-tensor types that
// llama-quantize would give the same model (for the dense llama/qwen2 models Ponder runs).
#pragma once

#include "quant/quant.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct QuantMix {
    const char *name;   // "q4_k_m" (as the user types it)
    uint32_t file_type; // llama.cpp's LLAMA_FTYPE_*, stored as general.file_type
    PonderType base;    // the type of the matrices no rule singles out
} QuantMix;

// NULL for an unknown name. Names (case-insensitive): f32 f16 bf16 q4_0 q4_1 q5_0 q5_1
// q8_0 q2_k q3_k_m q4_k_m q5_k_m q6_k, and the IQ mixes (see quant_mix_names).
const QuantMix *quant_mix_find(const char *name);
// The accepted names, space-separated (for error messages and usage text).
const char *quant_mix_names(void);
// The names of the mixes `quantize` writes (those quant_mix_can_quantize accepts).
const char *quant_mix_quantizable_names(void);
// Whether Ponder's quantizers can write every tensor of MIX: false for the IQ mixes below 4
// bits, whose types have no quantizer (ponder_can_quantize); `synth` writes them with random
// blocks, `quantize` refuses them, with or without an importance matrix.
bool quant_mix_can_quantize(const QuantMix *mix);
// Whether llama.cpp's llama-quantize refuses MIX without an importance matrix: the mixes of
// IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S or IQ3_XXS tensors ("this quantization requires an
// imatrix", tensor_requires_imatrix in src/llama-quant.cpp). None of them is one Ponder writes.
bool quant_mix_needs_imatrix(const QuantMix *mix);

// The facts the mix rules depend on: the model's, and whether an importance matrix is used.
typedef struct QuantMixModel {
    const char *arch;   // general.architecture ("llama", "qwen2", ...)
    uint32_t n_layer;   // block_count
    uint32_t n_head;    // attention.head_count
    uint32_t n_head_kv; // attention.head_count_kv (GQA makes attn_v small and cheap to keep)
    bool has_output;    // false when token_embd.weight doubles as the output matrix
    bool has_imatrix;   // quantizing with an importance matrix (a few rules change with it)
} QuantMixModel;

// The type tensor NAME (N_DIMS dimensions, NE as in GGUF, stored now as CURRENT) gets in a
// file of mix MIX. Tensors that are never quantized (1-D norms and biases, rope_freqs, any
// tensor whose name does not end in "weight") keep CURRENT.
PonderType quant_mix_tensor_type(const QuantMix *mix, const QuantMixModel *model, const char *name,
                                 uint32_t n_dims, const uint64_t *ne, PonderType current);

// ---- Row-parallel conversion (shared by quantize and synth) -------------------------

// Converts rows [FIRST_ROW, FIRST_ROW + N_ROWS); SCRATCH holds ROW_LEN floats owned by
// the calling thread.
typedef void (*QuantRowsWork)(void *arg, uint64_t first_row, uint64_t n_rows, float *scratch);

// Runs WORK over N_ROWS rows in small chunks on N_THREADS threads (below 1: one per
// online core; the caller is one of them, and threads that cannot start just leave more
// chunks to the others). False only when the scratch rows cannot be allocated.
bool quant_rows_parallel(uint64_t n_rows, uint64_t row_len, int n_threads, QuantRowsWork work,
                         void *arg);
