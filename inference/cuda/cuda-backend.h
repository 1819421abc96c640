// The CUDA backend's host side: its state, and the functions its files share.
//
//   cuda-backend.c  the Backend table, device choice, init/free
//   cuda-plan.c     GPU memory planning (how many layers fit) and weight upload
//   cuda-forward.c  one forward step: the layer loop, CUDA graphs, the prefill GEMMs
//   ../cpu/forward-cpu.c  the layers kept on the CPU, and then the head (partial offload)
//
// Three kinds of state kept apart, as in the CPU backend: the model's weights on the
// device (GpuLayer), the run state (KV cache, activations), and the host staging buffers.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "runtime/context.h"
#include "cpu/forward-cpu.h"
#include "cuda-ops.h"

typedef struct GpuLayer {
    float *attn_norm, *ffn_norm; // [n_embd]
    float *bq, *bk, *bv;         // [q_dim], [kv_dim], [kv_dim]; NULL when the model has none
    float *q_norm, *k_norm;      // qwen3: [head_dim] each; NULL when the model has none
    GpuWeight wq, wk, wv, wo, w_gate, w_up, w_down;
} GpuLayer;

// How device memory would be used for a context, before anything is allocated.
typedef struct CudaMemoryPlan {
    uint32_t n_gpu_layers;      // layers [0, n_gpu_layers) go to the GPU
    bool head_on_gpu;           // output norm and head (only when every layer is there)
    uint64_t layer_bytes_total; // weights of those layers
    uint64_t head_bytes;
    uint64_t kv_bytes;      // fp16 K and V of those layers
    uint64_t scratch_bytes; // activations, attention slices, GEMM staging, logits
    uint64_t total_bytes;
} CudaMemoryPlan;

// Graphs of decode steps, keyed by their shape (the values live in device memory).
enum { CUDA_GRAPH_CACHE = 8 };
typedef struct CudaGraphEntry {
    uint32_t n_tokens, n_out;
    bool one_per_seq;
    cudaGraphExec_t exec;
    uint64_t last_use;
} CudaGraphEntry;

typedef struct CudaState {
    int device;
    char device_name[256];
    uint32_t n_sm;
    cudaStream_t stream;
    cublasHandle_t cublas;
    void *d_cublas_workspace;

    CudaMemoryPlan plan;
    uint32_t n_gpu_layers;
    bool head_on_gpu;
    uint32_t matvec_max_tokens; // steps with more tokens use the dequantize + GEMM path
    bool use_graphs;
    bool norm_fusion; // single-token products normalise their input (cuda_matvec_norm)
    uint32_t attention_heads_per_block; // of the fused decode attention (CudaDecodeAttentionArgs)

    // weights, all in one allocation
    void *d_weights;
    GpuLayer *layers; // [n_gpu_layers]
    float *output_norm;
    GpuWeight output;
    double *d_inv_freq; // [n_rot / 2]

    // KV cache, [n_gpu_layers][n_seq][n_head_kv][n_ctx][head_dim] fp16
    uint16_t *d_k_cache, *d_v_cache;
    uint64_t kv_layer_elems;

    // Step inputs: one pinned block and its device copy, uploaded with one memcpy.
    // Layout: seq[max_T] | pos[max_T] | out_rows[max_T] | x[max_T][n_embd]
    void *h_step, *d_step;
    int32_t *h_seq, *d_seq;
    uint32_t *h_pos, *d_pos, *h_rows, *d_rows;
    float *h_x, *d_x; // the embedding rows in; on the device, the residual stream
    uint64_t step_meta_bytes;

    // activations
    CudaAct act_in;       // normalised block input [max_T][n_embd]
    CudaAct act_mid;      // attention output, then the SwiGLU output [max_T][max(q_dim, n_ff)]
    float *d_qkv;         // [max_T][q_dim + 2 kv_dim]
    float *d_gate, *d_up; // [max_T][n_ff]
    float *d_part_acc, *d_part_ml;
    uint64_t part_slots;  // (token, head, slice) triples the buffers hold
    uint32_t *d_counters; // [max_T][n_head] slices finished (fused decode attention)
    uint32_t *seq_stamp;  // [n_seq] host: the last step that saw each sequence
    uint32_t seq_stamp_clock;
    uint16_t *d_dequant; // fp16 staging for the prefill GEMM
    uint64_t dequant_elems;
    float *d_logits, *h_logits; // [max_T][n_vocab], when the head is on the GPU
    float *h_x_out;             // [max_T][n_embd] residual stream for the CPU layers

    CudaGraphEntry graphs[CUDA_GRAPH_CACHE];
    uint64_t graph_clock;

    CpuLayers *cpu; // layers [n_gpu_layers, n_layer) and the head; NULL when all are on the GPU
} CudaState;

// Turns a CUDA/cuBLAS failure into a PonderError naming the call and the place.
PonderStatus cuda_error(PonderError *err, cudaError_t e, const char *what, const char *file,
                        int line);
PonderStatus cublas_error(PonderError *err, cublasStatus_t e, const char *what, const char *file,
                          int line);
#define CUDA_TRY(call)                                                                             \
    do {                                                                                           \
        cudaError_t cuda_try_status_ = (call);                                                     \
        if (cuda_try_status_ != cudaSuccess)                                                       \
            return cuda_error(err, cuda_try_status_, #call, __FILE__, __LINE__);                   \
    } while (0)

// cuda-plan.c
// Sizes of the per-step buffers; planning and allocation both use them.
typedef struct CudaScratchSizes {
    uint64_t max_tokens;
    uint64_t act_in_stride, act_mid_stride, qkv_stride;
    uint64_t part_slots;    // (token, head, slice) triples of attention partials
    uint64_t dequant_elems; // fp16 staging of the prefill GEMM
    uint64_t logits_floats;
    uint64_t cublas_workspace_bytes;
    uint64_t total_bytes;
} CudaScratchSizes;
void cuda_scratch_sizes(const PonderContext *ctx, uint32_t n_sm, bool head_on_gpu,
                        CudaScratchSizes *out);
// Decides how many layers go to the GPU: all when REQUESTED < 0 and everything fits in
// FREE_BYTES, else REQUESTED layers. An error with the numbers when that does not fit.
PonderStatus cuda_plan_memory(const PonderContext *ctx, int32_t requested, uint64_t free_bytes,
                              uint32_t n_sm, CudaMemoryPlan *plan, PonderError *err);
// Allocates the device weights of the planned layers and uploads them.
PonderStatus cuda_upload_weights(PonderContext *ctx, CudaState *s, PonderError *err);
// fp16 elements the prefill GEMM dequantizes into at once.
uint64_t cuda_dequant_staging_elems(const PonderModel *model);

// cuda-forward.c
PonderStatus cuda_forward(PonderContext *ctx, const StepBatch *step, PonderError *err);
void cuda_graphs_free(CudaState *s);
