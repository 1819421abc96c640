// Matrix-vector products for decode and small batches: Y[t] = W x[t] for a few tokens t,
// reading each weight byte once from device memory, straight from its quantized blocks.
//
// Design: one thread block per output row. Its threads stride over the row's 16-element
// chunks; each thread decodes a chunk once (quant-decode.cuh) and takes dp4a dot products
// with the 8-bit activations of every token in its register group, so the weights are
// read once per step however many tokens the step has (tokens beyond the register group
// re-read the row from L1/L2, not DRAM). The block then reduces its partial sums in
// shared memory. Epilogues fuse the residual add (ACCUMULATE) and, for the feed-forward,
// the gate and up rows with SwiGLU (GLU), so neither needs a pass of its own.
//
// F32/F16/BF16 weights use the same shape with float activations, 8 elements per chunk.
#include "quant-decode.cuh"

enum { MV_THREADS = 128, MV_WARPS = MV_THREADS / 32, MV_MAX_GROUP = 16 };

struct MatvecParams {
    const uint8_t *w, *w_up; // w_up: GLU only
    uint64_t row_bytes;
    int n_chunks;
    CudaAct x;
    int n_tokens;
    float *y;
    uint32_t y_stride;
    bool accumulate;
};

// Sums ACC[NT] (and ACC_UP[NT] for GLU) over the block and writes the row's outputs for
// tokens t0 + i.
template <int NT, bool GLU>
static __device__ __forceinline__ void finish_row(const MatvecParams &p, int t0, const float *acc,
                                                  const float *acc_up)
{
    __shared__ float partial[2][MV_WARPS][NT];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int i = 0; i < NT; i++) {
        float s = warp_sum(acc[i]);
        float u = GLU ? warp_sum(acc_up[i]) : 0.0f;
        if (lane == 0) {
            partial[0][warp][i] = s;
            if (GLU)
                partial[1][warp][i] = u;
        }
    }
    __syncthreads();
    if (threadIdx.x < NT && t0 + (int)threadIdx.x < p.n_tokens) {
        const int i = threadIdx.x;
        float s = 0.0f, u = 0.0f;
#pragma unroll
        for (int w = 0; w < MV_WARPS; w++) {
            s += partial[0][w][i];
            if (GLU)
                u += partial[1][w][i];
        }
        float *out = p.y + (size_t)(t0 + i) * p.y_stride + blockIdx.x;
        if (GLU)
            *out = silu(s) * u;
        else
            *out = p.accumulate ? *out + s : s;
    }
    __syncthreads(); // PARTIAL is reused by the next token group
}

template <int TYPE, int NT, bool GLU>
__global__ void __launch_bounds__(MV_THREADS) matvec_quant_kernel(MatvecParams p)
{
    const uint8_t *row = p.w + (size_t)blockIdx.x * p.row_bytes;
    const uint8_t *row_up = GLU ? p.w_up + (size_t)blockIdx.x * p.row_bytes : nullptr;
    for (int t0 = 0; t0 < p.n_tokens; t0 += NT) {
        float acc[NT], acc_up[NT];
#pragma unroll
        for (int i = 0; i < NT; i++)
            acc[i] = acc_up[i] = 0.0f;
        for (int c = threadIdx.x; c < p.n_chunks; c += MV_THREADS) {
            int q[4], qu[4];
            float a, b, au = 0.0f, bu = 0.0f;
            decode_chunk<TYPE>(row, c, q, a, b);
            if (GLU)
                decode_chunk<TYPE>(row_up, c, qu, au, bu);
#pragma unroll
            for (int i = 0; i < NT; i++) {
                if (t0 + i >= p.n_tokens)
                    break;
                const size_t at = (size_t)(t0 + i) * p.x.stride + (size_t)c * CHUNK;
                const int4 xv = *(const int4 *)(p.x.q + at);
                const float dx = p.x.d[at / CUDA_ACT_BLOCK];
                const int sum_x = __dp4a(xv.x, 0x01010101, __dp4a(xv.y, 0x01010101,
                                  __dp4a(xv.z, 0x01010101, __dp4a(xv.w, 0x01010101, 0))));
                const int sum_qx = __dp4a(q[0], xv.x, __dp4a(q[1], xv.y, __dp4a(q[2], xv.z, __dp4a(q[3], xv.w, 0))));
                acc[i] += dx * (a * (float)sum_qx + b * (float)sum_x);
                if (GLU) {
                    const int sum_ux = __dp4a(qu[0], xv.x, __dp4a(qu[1], xv.y,
                                       __dp4a(qu[2], xv.z, __dp4a(qu[3], xv.w, 0))));
                    acc_up[i] += dx * (au * (float)sum_ux + bu * (float)sum_x);
                }
            }
        }
        finish_row<NT, GLU>(p, t0, acc, acc_up);
    }
}

template <int TYPE, int NT, bool GLU>
__global__ void __launch_bounds__(MV_THREADS) matvec_float_kernel(MatvecParams p)
{
    const uint8_t *row = p.w + (size_t)blockIdx.x * p.row_bytes;
    const uint8_t *row_up = GLU ? p.w_up + (size_t)blockIdx.x * p.row_bytes : nullptr;
    for (int t0 = 0; t0 < p.n_tokens; t0 += NT) {
        float acc[NT], acc_up[NT];
#pragma unroll
        for (int i = 0; i < NT; i++)
            acc[i] = acc_up[i] = 0.0f;
        for (int c = threadIdx.x; c < p.n_chunks; c += MV_THREADS) {
            float w[FLOAT_CHUNK], wu[FLOAT_CHUNK];
            load_float_chunk<TYPE>(row, c, w);
            if (GLU)
                load_float_chunk<TYPE>(row_up, c, wu);
#pragma unroll
            for (int i = 0; i < NT; i++) {
                if (t0 + i >= p.n_tokens)
                    break;
                const float4 *xp = (const float4 *)(p.x.f + (size_t)(t0 + i) * p.x.stride + (size_t)c * FLOAT_CHUNK);
                const float4 lo = xp[0], hi = xp[1];
                const float xv[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
                for (int e = 0; e < FLOAT_CHUNK; e++) {
                    acc[i] = fmaf(w[e], xv[e], acc[i]);
                    if (GLU)
                        acc_up[i] = fmaf(wu[e], xv[e], acc_up[i]);
                }
            }
        }
        finish_row<NT, GLU>(p, t0, acc, acc_up);
    }
}

// Picks the register group size for N_TOKENS and launches KERNEL<TYPE, NT, GLU>.
template <int TYPE, bool GLU, bool QUANT>
static void launch_matvec(cudaStream_t stream, const MatvecParams &p, uint64_t n_rows)
{
    const dim3 grid((unsigned)n_rows), block(MV_THREADS);
#define MV_LAUNCH(NT)                                                               \
    do {                                                                            \
        if constexpr (QUANT)                                                        \
            matvec_quant_kernel<TYPE, NT, GLU><<<grid, block, 0, stream>>>(p);      \
        else                                                                        \
            matvec_float_kernel<TYPE, NT, GLU><<<grid, block, 0, stream>>>(p);      \
    } while (0)
    if (p.n_tokens <= 1)
        MV_LAUNCH(1);
    else if (p.n_tokens <= 2)
        MV_LAUNCH(2);
    else if (p.n_tokens <= 4)
        MV_LAUNCH(4);
    else if (p.n_tokens <= 8)
        MV_LAUNCH(8);
    else
        MV_LAUNCH(MV_MAX_GROUP);
#undef MV_LAUNCH
}

static cudaError_t matvec_dispatch(cudaStream_t stream, const GpuWeight *w, const GpuWeight *up,
                                   const CudaAct *x, uint32_t n_tokens, float *y, uint32_t y_stride,
                                   bool accumulate)
{
    if (n_tokens == 0)
        return cudaSuccess;
    if (!cuda_row_len_supported(w->type, w->row_len) || w->n_rows == 0)
        return cudaErrorInvalidValue;
    const bool glu = up != nullptr;
    MatvecParams p = {};
    p.w = (const uint8_t *)w->data;
    p.w_up = glu ? (const uint8_t *)up->data : nullptr;
    p.row_bytes = w->row_bytes;
    p.x = *x;
    p.n_tokens = (int)n_tokens;
    p.y = y;
    p.y_stride = y_stride;
    p.accumulate = accumulate;
    bool known;
    if (cuda_weight_reads_float(w->type)) {
        p.n_chunks = (int)(w->row_len / FLOAT_CHUNK);
        known = dispatch_float_type(w->type, [&]<int TYPE>() {
            if (glu)
                launch_matvec<TYPE, true, false>(stream, p, w->n_rows);
            else
                launch_matvec<TYPE, false, false>(stream, p, w->n_rows);
        });
    } else {
        p.n_chunks = (int)(w->row_len / CHUNK);
        known = dispatch_quant_type(w->type, [&]<int TYPE>() {
            if (glu)
                launch_matvec<TYPE, true, true>(stream, p, w->n_rows);
            else
                launch_matvec<TYPE, false, true>(stream, p, w->n_rows);
        });
    }
    return known ? CUDA_LAUNCH_STATUS() : cudaErrorInvalidValue;
}

extern "C" cudaError_t cuda_matvec(cudaStream_t stream, const GpuWeight *w, const CudaAct *x,
                                   uint32_t n_tokens, float *y, uint32_t y_stride, bool accumulate)
{
    return matvec_dispatch(stream, w, nullptr, x, n_tokens, y, y_stride, accumulate);
}

extern "C" cudaError_t cuda_matvec_glu(cudaStream_t stream, const GpuWeight *gate, const GpuWeight *up,
                                       const CudaAct *x, uint32_t n_tokens, float *h, uint32_t h_stride)
{
    if (gate->type != up->type || gate->row_len != up->row_len || gate->n_rows != up->n_rows)
        return cudaErrorInvalidValue;
    return matvec_dispatch(stream, gate, up, x, n_tokens, h, h_stride, false);
}

extern "C" uint32_t cuda_matvec_group_tokens(void)
{
    return MV_MAX_GROUP;
}

extern "C" bool cuda_weight_reads_float(PonderType type)
{
    return type == PONDER_TYPE_F32 || type == PONDER_TYPE_F16 || type == PONDER_TYPE_BF16;
}

struct DoNothing {
    template <int TYPE> void operator()() {}
};

extern "C" bool cuda_weight_type_supported(PonderType type)
{
    return dispatch_quant_type(type, DoNothing{}) || dispatch_float_type(type, DoNothing{});
}

extern "C" bool cuda_row_len_supported(PonderType type, uint64_t row_len)
{
    if (!cuda_weight_type_supported(type) || row_len == 0 || row_len > (1u << 24))
        return false;
    const PonderTypeTraits *traits = ponder_type_traits(type);
    const uint64_t unit = cuda_weight_reads_float(type) ? (uint64_t)FLOAT_CHUNK : traits->block_len;
    // quantized activations come in blocks of 32 whatever the weight's block length
    return row_len % unit == 0 && row_len % CUDA_ACT_BLOCK == 0;
}
