// The CUDA backend's operations: C launchers of the kernels in the .cu files, called by
// the host code (cuda-forward.c) and, one by one, by the GPU test (tests/cuda).
//
// Every launcher only enqueues work on STREAM and returns the launch status; nothing
// here synchronises, so a whole decode step can be captured into one CUDA graph. Sizes
// are element counts unless named *_bytes. Device pointers are marked d_ where the
// argument could be mistaken for a host pointer.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" { // quant.h is a C header without its own guard
#endif

#include "quant/quant.h"

enum {
    CUDA_ACT_BLOCK = 32,         // elements sharing one scale in the 8-bit activations
    CUDA_MAX_GROUP = 8,          // query heads per KV head the attention kernels handle
    CUDA_NORM_MATVEC_MAX = 8192, // longest row cuda_matvec_norm stages in shared memory
};

// A weight matrix in device memory, in its file's block layout (never dequantized in
// place): n_rows rows of row_len elements, row_bytes apart.
typedef struct GpuWeight {
    PonderType type;
    const void *data;
    uint64_t row_len;
    uint64_t n_rows;
    uint64_t row_bytes;
} GpuWeight;

// One activation matrix [n_tokens][stride] in the forms its consumers read: floats (for
// F32/F16/BF16 weights and residual math), fp16 (the prefill GEMM), and 8-bit blocks of
// 32 with one float scale each (the quantized mat-vec). A NULL form is not written.
typedef struct CudaAct {
    float *f;    // [n_tokens][stride]
    uint16_t *h; // [n_tokens][stride] fp16
    int8_t *q;   // [n_tokens][stride]
    float *d;    // [n_tokens][stride / 32]
    uint32_t stride;
} CudaAct;

// Which weight types have kernels (all the CPU backend's weight types do).
bool cuda_weight_type_supported(PonderType type);
// Whether the mat-vec kernels read W from the float form of the activations (F32, F16,
// BF16) rather than the 8-bit one.
bool cuda_weight_reads_float(PonderType type);
// Row lengths the kernels accept for TYPE (multiples of 16 elements for the quantized
// chunks, 8 for the float types).
bool cuda_row_len_supported(PonderType type, uint64_t row_len);

// OUT = rmsnorm(X[rows[r]]) * WEIGHT for r < n_rows (rows == NULL: row r itself), in the
// forms OUT asks for. X rows are x_stride floats apart; N must be a multiple of 32.
// WEIGHT == NULL: no normalisation (the rows are only converted).
cudaError_t cuda_norm_to_act(cudaStream_t stream, const float *x, uint32_t x_stride,
                             const uint32_t *d_rows, uint32_t n_rows, uint32_t n,
                             const float *weight, float eps, const CudaAct *out);
// OUT = silu(GATE) * UP, rows of N elements STRIDE apart.
cudaError_t cuda_swiglu_to_act(cudaStream_t stream, const float *gate, const float *up,
                               uint32_t stride, uint32_t n_rows, uint32_t n, const CudaAct *out);

// qwen3: each of N_HEADS heads of HEAD_DIM in rows X[t] (STRIDE floats apart, t <
// n_tokens) RMS-normalised and multiplied by WEIGHT[head_dim], in place.
cudaError_t cuda_head_norm(cudaStream_t stream, float *x, uint32_t stride, uint32_t n_tokens,
                           uint32_t n_heads, uint32_t head_dim, const float *weight, float eps);

// Y[t][r] (+)= dot(W row r, X[t]) for t < n_tokens: one pass over the weight bytes (decode
// and small batches). Y rows are y_stride floats apart; ACCUMULATE adds to Y (residual).
cudaError_t cuda_matvec(cudaStream_t stream, const GpuWeight *w, const CudaAct *x,
                        uint32_t n_tokens, float *y, uint32_t y_stride, bool accumulate);
// H[t][r] = silu(dot(GATE row r, X[t])) * dot(UP row r, X[t]): the feed-forward's first half
// in one pass. GATE and UP must have the same type and shape.
cudaError_t cuda_matvec_glu(cudaStream_t stream, const GpuWeight *gate, const GpuWeight *up,
                            const CudaAct *x, uint32_t n_tokens, float *h, uint32_t h_stride);
// Y = W rmsnorm(X[*d_row]) * WEIGHT (and for UP != NULL, GLU: Y = silu(W x) * (UP x)) for
// one token: the norm and the 8-bit quantization happen in each block, saving the separate
// RMSNorm launch of a decode step. X rows are N floats apart (d_row NULL: row 0); Y is
// dense. Only for quantized W of row length N <= CUDA_NORM_MATVEC_MAX.
bool cuda_matvec_norm_supported(const GpuWeight *w, uint32_t n);
cudaError_t cuda_matvec_norm(cudaStream_t stream, const GpuWeight *w, const GpuWeight *up,
                             const float *x, const uint32_t *d_row, uint32_t n, const float *weight,
                             float eps, float *y);
// Largest n_tokens the mat-vec kernels keep in registers at once (more are done in groups).
uint32_t cuda_matvec_group_tokens(void);
// Rows per thread block in single-token steps (1, 2, 4 or 8; a tuning knob, default 4).
void cuda_matvec_set_decode_rows(int rows);

// Dequantizes rows [row0, row0 + n_rows) of W to fp16 (for the prefill GEMM).
cudaError_t cuda_dequantize_f16(cudaStream_t stream, const GpuWeight *w, uint64_t row0,
                                uint64_t n_rows, uint16_t *out);

// RoPE and the KV cache write for one layer. Q, K, V are [n_tokens][*] floats with the
// given strides; biases (or NULL) are added first. Q is rotated in place; rotated K and V
// go to the cache as fp16. Cache layout per layer: [n_seq][n_head_kv][n_ctx][head_dim].
typedef struct CudaRopeArgs {
    float *q;
    const float *k, *v;
    uint32_t qkv_stride;
    const float *bq, *bk, *bv;
    uint32_t n_tokens, n_head, n_head_kv, head_dim, n_rot;
    bool rope_halves;            // qwen2: pairs (i, i + n_rot/2); llama: (2i, 2i + 1)
    const double *d_inv_freq;    // [n_rot / 2]
    const int32_t *d_seq;        // [n_tokens]
    const uint32_t *d_pos;       // [n_tokens]
    uint16_t *k_cache, *v_cache; // this layer's
    uint32_t n_ctx;
} CudaRopeArgs;
cudaError_t cuda_rope_store_kv(cudaStream_t stream, const CudaRopeArgs *args);

// Causal attention of each token over positions 0..pos of its own sequence, split across
// the context (flash-decoding): n_split blocks per (token, KV head) each reduce a slice,
// then one pass merges the slices and writes OUT (f, q/d and h forms as requested).
typedef struct CudaAttentionArgs {
    const float *q; // [n_tokens][n_head * head_dim], rotated
    uint32_t q_stride;
    uint32_t n_tokens, n_head, n_head_kv, head_dim;
    const int32_t *d_seq;
    const uint32_t *d_pos;
    const uint16_t *k_cache, *v_cache; // this layer's, layout as in CudaRopeArgs
    uint32_t n_ctx;
    uint32_t n_split;
    float *part_acc; // [n_tokens][n_head][n_split][head_dim]
    float *part_ml;  // [n_tokens][n_head][n_split][2] running max and sum (active slices only)
    float scale; // of q·k: 1/sqrt(head_dim), YaRN's correction included (model_attention_scale)
    CudaAct out; // [n_tokens][n_head * head_dim]
} CudaAttentionArgs;
cudaError_t cuda_attention(cudaStream_t stream, const CudaAttentionArgs *args);

// Decode steps (each sequence has one token in the step): RoPE, the KV cache write,
// attention and the merge in one launch. ROPE holds the step's raw q, k, v (ROPE.q is
// read, not rotated in place); ATT.q is unused. D_COUNTERS: [n_tokens][n_head] zeros,
// left at zero. HEADS_PER_BLOCK: query heads of a GQA group one block takes (a divisor of
// the group; 0: the whole group); the outputs are the same bits whatever it is.
typedef struct CudaDecodeAttentionArgs {
    CudaRopeArgs rope;
    CudaAttentionArgs att;
    uint32_t *d_counters;
    uint32_t heads_per_block;
} CudaDecodeAttentionArgs;
cudaError_t cuda_attention_decode(cudaStream_t stream, const CudaDecodeAttentionArgs *args);
// Slices for the fused decode attention (fewer: its last block merges them alone).
uint32_t cuda_attention_decode_splits(uint32_t n_tokens, uint32_t n_head_kv, uint32_t n_sm);
bool cuda_attention_head_dim_supported(uint32_t head_dim);
// Slices per (token, KV head) that keep every multiprocessor busy.
uint32_t cuda_attention_splits(uint32_t n_tokens, uint32_t n_head_kv, uint32_t n_sm);

#ifdef __cplusplus
}
#endif
