// Producing activations: RMSNorm and SwiGLU fused with the conversion to every form the
// next matrix product reads (floats, fp16 for the prefill GEMM, 8-bit blocks for the
// quantized mat-vec), so a layer input is normalised and quantized in one pass. Also the
// fp16 dequantizer that feeds the prefill GEMM.
//
// Design: each warp owns whole 32-element blocks, so the scale of a block is one warp
// reduction and no second pass over the row is needed. RMSNorm takes one wide block per
// token row (the sum of squares spans the row); plain conversions spread a row over many
// blocks, since a decode step has one row per token and a single block would serialise it.
#include "quant-decode.cuh"

enum {
    ACT_THREADS = 256,
    ACT_WARPS = ACT_THREADS / 32,
    NORM_THREADS = 1024,
    NORM_WARPS = NORM_THREADS / 32
};

static __device__ float block_sum(float v)
{
    __shared__ float warp_sums[NORM_WARPS];
    __shared__ float total;
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0)
        warp_sums[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        float s = threadIdx.x < NORM_WARPS ? warp_sums[threadIdx.x] : 0.0f;
        s = warp_sum(s);
        if (threadIdx.x == 0)
            total = s;
    }
    __syncthreads();
    return total;
}

__global__ void __launch_bounds__(NORM_THREADS)
    norm_to_act_kernel(const float *x, uint32_t x_stride, const uint32_t *rows, uint32_t n,
                       const float *weight, float eps, CudaAct out)
{
    const uint32_t r = blockIdx.x;
    const float *xr = x + (size_t)(rows ? rows[r] : r) * x_stride;
    float sum = 0.0f;
    for (uint32_t i = threadIdx.x; i < n; i += NORM_THREADS)
        sum += xr[i] * xr[i];
    const float scale = rsqrtf(block_sum(sum) / (float)n + eps);
    const int lane = threadIdx.x % 32;
    for (uint32_t blk = threadIdx.x / 32; blk < n / 32; blk += NORM_WARPS) {
        const uint32_t i = blk * 32 + lane;
        act_store(out, r, i, xr[i] * scale * weight[i]);
    }
}

// qwen3's per-head norm, in place: one warp per (token, head), heads of up to a few
// hundred elements, so a warp reduction suffices and a block holds NORM_WARPS heads.
__global__ void __launch_bounds__(NORM_THREADS)
    head_norm_kernel(float *x, uint32_t stride, uint32_t n_tokens, uint32_t n_heads,
                     uint32_t head_dim, const float *weight, float eps)
{
    const uint32_t item = blockIdx.x * NORM_WARPS + threadIdx.x / 32;
    if (item >= n_tokens * n_heads)
        return;
    const int lane = threadIdx.x % 32;
    float *h = x + (size_t)(item / n_heads) * stride + (size_t)(item % n_heads) * head_dim;
    float sum = 0.0f;
    for (uint32_t i = lane; i < head_dim; i += 32)
        sum += h[i] * h[i];
    const float scale = rsqrtf(warp_sum(sum) / (float)head_dim + eps);
    for (uint32_t i = lane; i < head_dim; i += 32)
        h[i] = h[i] * scale * weight[i];
}

// Conversion only: blockIdx.y is the row, each warp one 32-element block.
__global__ void __launch_bounds__(ACT_THREADS)
    copy_to_act_kernel(const float *x, uint32_t x_stride, const uint32_t *rows, uint32_t n,
                       CudaAct out)
{
    const uint32_t r = blockIdx.y;
    const uint32_t i = blockIdx.x * ACT_THREADS + threadIdx.x;
    if (i - threadIdx.x % 32 >= n) // whole warps only (n is a multiple of 32)
        return;
    act_store(out, r, i, x[(size_t)(rows ? rows[r] : r) * x_stride + i]);
}

__global__ void __launch_bounds__(ACT_THREADS)
    swiglu_to_act_kernel(const float *gate, const float *up, uint32_t stride, uint32_t n,
                         CudaAct out)
{
    const uint32_t r = blockIdx.y;
    const uint32_t i = blockIdx.x * ACT_THREADS + threadIdx.x;
    if (i - threadIdx.x % 32 >= n)
        return;
    const size_t at = (size_t)r * stride + i;
    act_store(out, r, i, silu(gate[at]) * up[at]);
}

extern "C" cudaError_t cuda_norm_to_act(cudaStream_t stream, const float *x, uint32_t x_stride,
                                        const uint32_t *d_rows, uint32_t n_rows, uint32_t n,
                                        const float *weight, float eps, const CudaAct *out)
{
    if (n_rows == 0)
        return cudaSuccess;
    if (n % 32 != 0 || n > out->stride)
        return cudaErrorInvalidValue;
    if (weight)
        norm_to_act_kernel<<<n_rows, NORM_THREADS, 0, stream>>>(x, x_stride, d_rows, n, weight, eps,
                                                                *out);
    else
        copy_to_act_kernel<<<dim3((n + ACT_THREADS - 1) / ACT_THREADS, n_rows), ACT_THREADS, 0,
                             stream>>>(x, x_stride, d_rows, n, *out);
    return CUDA_LAUNCH_STATUS();
}

extern "C" cudaError_t cuda_head_norm(cudaStream_t stream, float *x, uint32_t stride,
                                      uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim,
                                      const float *weight, float eps)
{
    const uint32_t n_items = n_tokens * n_heads;
    if (n_items == 0)
        return cudaSuccess;
    head_norm_kernel<<<(n_items + NORM_WARPS - 1) / NORM_WARPS, NORM_THREADS, 0, stream>>>(
        x, stride, n_tokens, n_heads, head_dim, weight, eps);
    return CUDA_LAUNCH_STATUS();
}

extern "C" cudaError_t cuda_swiglu_to_act(cudaStream_t stream, const float *gate, const float *up,
                                          uint32_t stride, uint32_t n_rows, uint32_t n,
                                          const CudaAct *out)
{
    if (n_rows == 0)
        return cudaSuccess;
    if (n % 32 != 0 || n > out->stride)
        return cudaErrorInvalidValue;
    swiglu_to_act_kernel<<<dim3((n + ACT_THREADS - 1) / ACT_THREADS, n_rows), ACT_THREADS, 0,
                           stream>>>(gate, up, stride, n, *out);
    return CUDA_LAUNCH_STATUS();
}

// One thread per 16-element chunk (8 for the float types): decode, write fp16.
template <int TYPE>
__global__ void dequantize_quant_kernel(const uint8_t *w, uint64_t row_bytes, uint32_t row_len,
                                        uint64_t n_chunks, uint16_t *out)
{
    const uint64_t idx = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n_chunks)
        return;
    const uint32_t per_row = row_len / CHUNK;
    const uint64_t r = idx / per_row;
    const int c = (int)(idx % per_row);
    int q[4];
    float a, b;
    decode_chunk<TYPE>(w + r * row_bytes, c, q, a, b);
    uint32_t packed[8];
#pragma unroll
    for (int e = 0; e < CHUNK; e += 2) {
        const int q0 = (int8_t)(q[e / 4] >> (8 * (e % 4)));
        const int q1 = (int8_t)(q[e / 4] >> (8 * (e % 4 + 1)));
        packed[e / 2] = (uint32_t)float_to_half_bits(a * q0 + b) |
                        ((uint32_t)float_to_half_bits(a * q1 + b) << 16);
    }
    uint4 *dst = (uint4 *)(out + r * row_len + (uint64_t)c * CHUNK);
    dst[0] = make_uint4(packed[0], packed[1], packed[2], packed[3]);
    dst[1] = make_uint4(packed[4], packed[5], packed[6], packed[7]);
}

template <int TYPE>
__global__ void dequantize_float_kernel(const uint8_t *w, uint64_t row_bytes, uint32_t row_len,
                                        uint64_t n_chunks, uint16_t *out)
{
    const uint64_t idx = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n_chunks)
        return;
    const uint32_t per_row = row_len / FLOAT_CHUNK;
    const uint64_t r = idx / per_row;
    const int c = (int)(idx % per_row);
    float v[FLOAT_CHUNK];
    load_float_chunk<TYPE>(w + r * row_bytes, c, v);
    uint32_t packed[4];
#pragma unroll
    for (int e = 0; e < FLOAT_CHUNK; e += 2)
        packed[e / 2] =
            (uint32_t)float_to_half_bits(v[e]) | ((uint32_t)float_to_half_bits(v[e + 1]) << 16);
    *(uint4 *)(out + r * row_len + (uint64_t)c * FLOAT_CHUNK) =
        make_uint4(packed[0], packed[1], packed[2], packed[3]);
}

extern "C" cudaError_t cuda_dequantize_f16(cudaStream_t stream, const GpuWeight *w, uint64_t row0,
                                           uint64_t n_rows, uint16_t *out)
{
    if (n_rows == 0)
        return cudaSuccess;
    if (!cuda_row_len_supported(w->type, w->row_len) || row0 + n_rows > w->n_rows)
        return cudaErrorInvalidValue;
    const uint8_t *rows = (const uint8_t *)w->data + row0 * w->row_bytes;
    const uint32_t row_len = (uint32_t)w->row_len;
    const unsigned threads = 256;
    bool known;
    if (cuda_weight_reads_float(w->type)) {
        const uint64_t n_chunks = n_rows * (row_len / FLOAT_CHUNK);
        const unsigned blocks = (unsigned)((n_chunks + threads - 1) / threads);
        known = dispatch_float_type(w->type, [&]<int TYPE>() {
            dequantize_float_kernel<TYPE>
                <<<blocks, threads, 0, stream>>>(rows, w->row_bytes, row_len, n_chunks, out);
        });
    } else {
        const uint64_t n_chunks = n_rows * (row_len / CHUNK);
        const unsigned blocks = (unsigned)((n_chunks + threads - 1) / threads);
        known = dispatch_quant_type(w->type, [&]<int TYPE>() {
            dequantize_quant_kernel<TYPE>
                <<<blocks, threads, 0, stream>>>(rows, w->row_bytes, row_len, n_chunks, out);
        });
    }
    return known ? CUDA_LAUNCH_STATUS() : cudaErrorInvalidValue;
}
