// Matrix-vector products for decode and small batches: Y[t] = W x[t] for a few tokens t,
// reading each weight byte once from device memory, straight from its quantized blocks.
//
// Design: a thread block computes R consecutive output rows. Its threads stride over the
// rows' 16-element chunks; for chunk c a thread decodes the R rows' chunks once
// (quant-decode.cuh), loads the 8-bit activations of each token in its register group once,
// and takes dp4a dot products of every (row, token) pair, so weights are read once per step
// however many tokens it has, and activations once per R rows (at 32 tokens those loads
// bound the kernel when R = 1). Tokens beyond the register group re-read the rows from
// L1/L2, not DRAM. The block reduces its partial sums in shared memory; epilogues fuse the
// residual add (ACCUMULATE) and, for the feed-forward, the gate and up rows with SwiGLU
// (GLU), so neither needs a pass of its own. For one token, R rows per block give each
// thread R independent weight loads in flight (a decode step is latency-bound).
//
// F32/F16/BF16 weights use the same shape with float activations, 8 elements per chunk.
#include "quant-decode.cuh"

enum { MV_THREADS = 128, MV_WARPS = MV_THREADS / 32, MV_MAX_GROUP = 8 };

struct MatvecParams {
    const uint8_t *w, *w_up; // w_up: GLU only
    uint64_t row_bytes;
    int n_rows;
    int n_chunks;
    CudaAct x;
    int n_tokens;
    float *y;
    uint32_t y_stride;
    bool accumulate;
};

// Sums ACC[R][NT] (and ACC_UP for GLU) over the block and writes rows row0 + r for tokens
// t0 + i.
template <int R, int NT, bool GLU>
static __device__ __forceinline__ void finish_rows(const MatvecParams &p, int row0, int t0,
                                                   const float (&acc)[R][NT],
                                                   const float (&acc_up)[R][NT])
{
    __shared__ float partial[GLU ? 2 : 1][MV_WARPS][R * NT];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
        for (int i = 0; i < NT; i++) {
            const float s = warp_sum(acc[r][i]);
            if (lane == 0)
                partial[0][warp][r * NT + i] = s;
            if constexpr (GLU) {
                const float u = warp_sum(acc_up[r][i]);
                if (lane == 0)
                    partial[GLU ? 1 : 0][warp][r * NT + i] = u;
            }
        }
    }
    __syncthreads();
    for (int k = threadIdx.x; k < R * NT; k += MV_THREADS) {
        const int r = k / NT, i = k % NT;
        if (row0 + r < p.n_rows && t0 + i < p.n_tokens) {
            float s = 0.0f, u = 0.0f;
#pragma unroll
            for (int w = 0; w < MV_WARPS; w++) {
                s += partial[0][w][k];
                if constexpr (GLU)
                    u += partial[GLU ? 1 : 0][w][k];
            }
            float *out = p.y + (size_t)(t0 + i) * p.y_stride + row0 + r;
            if constexpr (GLU)
                *out = silu(s) * u;
            else
                *out = p.accumulate ? *out + s : s;
        }
    }
    __syncthreads(); // PARTIAL is reused by the next token group
}

// The weight rows of the block (a short last block repeats its last row; it writes none).
template <int R, bool GLU>
static __device__ __forceinline__ void
block_rows(const MatvecParams &p, int row0, const uint8_t *(&rows)[R], const uint8_t *(&rows_up)[R])
{
#pragma unroll
    for (int r = 0; r < R; r++) {
        const int row = min(row0 + r, p.n_rows - 1);
        rows[r] = p.w + (size_t)row * p.row_bytes;
        rows_up[r] = GLU ? p.w_up + (size_t)row * p.row_bytes : nullptr;
    }
}

template <int R, int NT>
static __device__ __forceinline__ void zero_accumulators(float (&acc)[R][NT],
                                                         float (&acc_up)[R][NT])
{
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int i = 0; i < NT; i++)
            acc[r][i] = acc_up[r][i] = 0.0f;
}

// Adds the products of the R decoded row chunks (and the up rows' for GLU) with 16 8-bit
// activations XV of scale DX to token I's accumulators.
template <int R, int NT, bool GLU>
static __device__ __forceinline__ void
dot_chunk(const int (&q)[R][4], const float (&a)[R], const float (&b)[R], const int (&qu)[R][4],
          const float (&au)[R], const float (&bu)[R], int4 xv, float dx, int i, float (&acc)[R][NT],
          float (&acc_up)[R][NT])
{
    const float sum_x = (float)__dp4a(
        xv.x, 0x01010101,
        __dp4a(xv.y, 0x01010101, __dp4a(xv.z, 0x01010101, __dp4a(xv.w, 0x01010101, 0))));
#pragma unroll
    for (int r = 0; r < R; r++) {
        const int sum_qx = __dp4a(
            q[r][0], xv.x, __dp4a(q[r][1], xv.y, __dp4a(q[r][2], xv.z, __dp4a(q[r][3], xv.w, 0))));
        acc[r][i] += dx * (a[r] * (float)sum_qx + b[r] * sum_x);
        if constexpr (GLU) {
            const int sum_ux =
                __dp4a(qu[r][0], xv.x,
                       __dp4a(qu[r][1], xv.y, __dp4a(qu[r][2], xv.z, __dp4a(qu[r][3], xv.w, 0))));
            acc_up[r][i] += dx * (au[r] * (float)sum_ux + bu[r] * sum_x);
        }
    }
}

// Decodes chunk C of the R rows (and of the up rows for GLU).
template <int TYPE, int R, bool GLU>
static __device__ __forceinline__ void
decode_row_chunks(const uint8_t *const (&rows)[R], const uint8_t *const (&rows_up)[R], int c,
                  int (&q)[R][4], float (&a)[R], float (&b)[R], int (&qu)[R][4], float (&au)[R],
                  float (&bu)[R])
{
#pragma unroll
    for (int r = 0; r < R; r++) {
        decode_chunk<TYPE>(rows[r], c, q[r], a[r], b[r]);
        if constexpr (GLU)
            decode_chunk<TYPE>(rows_up[r], c, qu[r], au[r], bu[r]);
    }
}

template <int TYPE, int R, int NT, bool GLU>
__global__ void __launch_bounds__(MV_THREADS) matvec_quant_kernel(MatvecParams p)
{
    const int row0 = blockIdx.x * R;
    const uint8_t *rows[R], *rows_up[R];
    block_rows<R, GLU>(p, row0, rows, rows_up);
    for (int t0 = 0; t0 < p.n_tokens; t0 += NT) {
        float acc[R][NT], acc_up[R][NT];
        zero_accumulators<R, NT>(acc, acc_up);
        for (int c = threadIdx.x; c < p.n_chunks; c += MV_THREADS) {
            int q[R][4], qu[R][4];
            float a[R], b[R], au[R], bu[R];
            decode_row_chunks<TYPE, R, GLU>(rows, rows_up, c, q, a, b, qu, au, bu);
#pragma unroll
            for (int i = 0; i < NT; i++) {
                if (t0 + i >= p.n_tokens)
                    break;
                const size_t at = (size_t)(t0 + i) * p.x.stride + (size_t)c * CHUNK;
                dot_chunk<R, NT, GLU>(q, a, b, qu, au, bu, *(const int4 *)(p.x.q + at),
                                      p.x.d[at / CUDA_ACT_BLOCK], i, acc, acc_up);
            }
        }
        finish_rows<R, NT, GLU>(p, row0, t0, acc, acc_up);
    }
}

template <int TYPE, int R, int NT, bool GLU>
__global__ void __launch_bounds__(MV_THREADS) matvec_float_kernel(MatvecParams p)
{
    const int row0 = blockIdx.x * R;
    const uint8_t *rows[R], *rows_up[R];
    block_rows<R, GLU>(p, row0, rows, rows_up);
    for (int t0 = 0; t0 < p.n_tokens; t0 += NT) {
        float acc[R][NT], acc_up[R][NT];
        zero_accumulators<R, NT>(acc, acc_up);
        for (int c = threadIdx.x; c < p.n_chunks; c += MV_THREADS) {
            float w[R][FLOAT_CHUNK], wu[R][FLOAT_CHUNK];
#pragma unroll
            for (int r = 0; r < R; r++) {
                load_float_chunk<TYPE>(rows[r], c, w[r]);
                if constexpr (GLU)
                    load_float_chunk<TYPE>(rows_up[r], c, wu[r]);
            }
#pragma unroll
            for (int i = 0; i < NT; i++) {
                if (t0 + i >= p.n_tokens)
                    break;
                const float4 *xp = (const float4 *)(p.x.f + (size_t)(t0 + i) * p.x.stride +
                                                    (size_t)c * FLOAT_CHUNK);
                const float4 lo = xp[0], hi = xp[1];
                const float xv[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
                for (int r = 0; r < R; r++) {
#pragma unroll
                    for (int e = 0; e < FLOAT_CHUNK; e++) {
                        acc[r][i] = fmaf(w[r][e], xv[e], acc[r][i]);
                        if constexpr (GLU)
                            acc_up[r][i] = fmaf(wu[r][e], xv[e], acc_up[r][i]);
                    }
                }
            }
        }
        finish_rows<R, NT, GLU>(p, row0, t0, acc, acc_up);
    }
}

// Single-token steps whose input is a row of the residual stream: the block normalises
// and quantizes the row itself, into shared memory, instead of reading the 8-bit form a
// separate RMSNorm launch wrote. A decode step is a chain of small dependent launches, so
// one fewer per product saves more than every block redoing a few KB of L2 reads. The
// first weight chunks are loaded before the norm, so DRAM latency overlaps it.
struct NormInput {
    const float *x;        // the residual stream [.][n]
    const uint32_t *d_row; // which row of x (NULL: row 0)
    const float *weight;   // RMSNorm weight [n]
    float eps;
    int n;
};

static __device__ __forceinline__ void stage_normed_row(const NormInput &in, int8_t *xq, float *xd)
{
    __shared__ float warp_sums[MV_WARPS];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const float *x = in.x + (in.d_row ? (size_t)*in.d_row * (size_t)in.n : 0);
    float ss = 0.0f;
    for (int i = threadIdx.x; i < in.n; i += MV_THREADS)
        ss += x[i] * x[i];
    ss = warp_sum(ss);
    if (lane == 0)
        warp_sums[warp] = ss;
    __syncthreads();
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < MV_WARPS; w++)
        total += warp_sums[w];
    const float scale = rsqrtf(total / (float)in.n + in.eps);
    for (int blk = warp; blk < in.n / CUDA_ACT_BLOCK; blk += MV_WARPS) {
        const int i = blk * CUDA_ACT_BLOCK + lane;
        quantize_block_lane(x[i] * scale * in.weight[i], lane, xq + blk * CUDA_ACT_BLOCK, xd + blk);
    }
    __syncthreads();
}

template <int TYPE, int R, bool GLU>
__global__ void __launch_bounds__(MV_THREADS) matvec_norm_kernel(MatvecParams p, NormInput in)
{
    __shared__ __align__(16) int8_t xq[CUDA_NORM_MATVEC_MAX];
    __shared__ float xd[CUDA_NORM_MATVEC_MAX / CUDA_ACT_BLOCK];
    const int row0 = blockIdx.x * R;
    const uint8_t *rows[R], *rows_up[R];
    block_rows<R, GLU>(p, row0, rows, rows_up);
    int q[R][4], qu[R][4];
    float a[R], b[R], au[R], bu[R];
    int c = threadIdx.x;
    if (c < p.n_chunks)
        decode_row_chunks<TYPE, R, GLU>(rows, rows_up, c, q, a, b, qu, au, bu);
    stage_normed_row(in, xq, xd);

    float acc[R][1], acc_up[R][1];
    zero_accumulators<R, 1>(acc, acc_up);
    while (c < p.n_chunks) {
        dot_chunk<R, 1, GLU>(q, a, b, qu, au, bu, *(const int4 *)(xq + c * CHUNK),
                             xd[c * CHUNK / CUDA_ACT_BLOCK], 0, acc, acc_up);
        c += MV_THREADS;
        if (c < p.n_chunks)
            decode_row_chunks<TYPE, R, GLU>(rows, rows_up, c, q, a, b, qu, au, bu);
    }
    finish_rows<R, 1, GLU>(p, row0, 0, acc, acc_up);
}

// Rows per block and the register group of tokens for a step of N_TOKENS.
template <int TYPE, bool GLU, bool QUANT, int R, int NT>
static void launch_shape(cudaStream_t stream, const MatvecParams &p)
{
    const dim3 grid((unsigned)((p.n_rows + R - 1) / R)), block(MV_THREADS);
    if constexpr (QUANT)
        matvec_quant_kernel<TYPE, R, NT, GLU><<<grid, block, 0, stream>>>(p);
    else
        matvec_float_kernel<TYPE, R, NT, GLU><<<grid, block, 0, stream>>>(p);
}

// Rows per block for single-token steps (cuda_matvec_set_decode_rows): more rows give each
// thread more independent loads in flight, fewer give more blocks.
static int decode_rows = 4; // GLU takes half: it decodes two matrices per row

template <int TYPE, bool GLU, bool QUANT>
static void launch_matvec(cudaStream_t stream, const MatvecParams &p)
{
    // GLU decodes two matrices per row, so it takes half the rows
    constexpr int R_BATCH = GLU ? 4 : 8;
    if (p.n_tokens <= 1) {
        const int rows = GLU ? decode_rows / 2 : decode_rows;
        if (rows >= 8)
            launch_shape<TYPE, GLU, QUANT, 8, 1>(stream, p);
        else if (rows >= 4)
            launch_shape<TYPE, GLU, QUANT, 4, 1>(stream, p);
        else if (rows >= 2)
            launch_shape<TYPE, GLU, QUANT, 2, 1>(stream, p);
        else
            launch_shape<TYPE, GLU, QUANT, 1, 1>(stream, p);
    } else if (p.n_tokens <= 2) {
        launch_shape<TYPE, GLU, QUANT, R_BATCH / 2, 2>(stream, p);
    } else if (p.n_tokens <= 4) {
        launch_shape<TYPE, GLU, QUANT, R_BATCH, 4>(stream, p);
    } else {
        launch_shape<TYPE, GLU, QUANT, R_BATCH, MV_MAX_GROUP>(stream, p);
    }
}

extern "C" void cuda_matvec_set_decode_rows(int rows)
{
    decode_rows = rows < 1 ? 1 : rows;
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
    p.n_rows = (int)w->n_rows;
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
                launch_matvec<TYPE, true, false>(stream, p);
            else
                launch_matvec<TYPE, false, false>(stream, p);
        });
    } else {
        p.n_chunks = (int)(w->row_len / CHUNK);
        known = dispatch_quant_type(w->type, [&]<int TYPE>() {
            if (glu)
                launch_matvec<TYPE, true, true>(stream, p);
            else
                launch_matvec<TYPE, false, true>(stream, p);
        });
    }
    return known ? CUDA_LAUNCH_STATUS() : cudaErrorInvalidValue;
}

extern "C" cudaError_t cuda_matvec(cudaStream_t stream, const GpuWeight *w, const CudaAct *x,
                                   uint32_t n_tokens, float *y, uint32_t y_stride, bool accumulate)
{
    return matvec_dispatch(stream, w, nullptr, x, n_tokens, y, y_stride, accumulate);
}

extern "C" cudaError_t cuda_matvec_glu(cudaStream_t stream, const GpuWeight *gate,
                                       const GpuWeight *up, const CudaAct *x, uint32_t n_tokens,
                                       float *h, uint32_t h_stride)
{
    if (gate->type != up->type || gate->row_len != up->row_len || gate->n_rows != up->n_rows)
        return cudaErrorInvalidValue;
    return matvec_dispatch(stream, gate, up, x, n_tokens, h, h_stride, false);
}

extern "C" bool cuda_matvec_norm_supported(const GpuWeight *w, uint32_t n)
{
    return !cuda_weight_reads_float(w->type) && cuda_row_len_supported(w->type, w->row_len) &&
           w->row_len == n && n <= CUDA_NORM_MATVEC_MAX && n % CUDA_ACT_BLOCK == 0;
}

template <int TYPE, int R, bool GLU>
static void launch_norm_shape(cudaStream_t stream, const MatvecParams &p, const NormInput &in)
{
    matvec_norm_kernel<TYPE, R, GLU>
        <<<(unsigned)((p.n_rows + R - 1) / R), MV_THREADS, 0, stream>>>(p, in);
}

template <int TYPE, bool GLU>
static void launch_norm_matvec(cudaStream_t stream, const MatvecParams &p, const NormInput &in)
{
    const int rows = GLU ? decode_rows / 2 : decode_rows;
    if (rows >= 8)
        launch_norm_shape<TYPE, 8, GLU>(stream, p, in);
    else if (rows >= 4)
        launch_norm_shape<TYPE, 4, GLU>(stream, p, in);
    else if (rows >= 2)
        launch_norm_shape<TYPE, 2, GLU>(stream, p, in);
    else
        launch_norm_shape<TYPE, 1, GLU>(stream, p, in);
}

extern "C" cudaError_t cuda_matvec_norm(cudaStream_t stream, const GpuWeight *w,
                                        const GpuWeight *up, const float *x, const uint32_t *d_row,
                                        uint32_t n, const float *weight, float eps, float *y)
{
    if (!cuda_matvec_norm_supported(w, n) || w->n_rows == 0 ||
        (up && (up->type != w->type || up->row_len != w->row_len || up->n_rows != w->n_rows)))
        return cudaErrorInvalidValue;
    MatvecParams p = {};
    p.w = (const uint8_t *)w->data;
    p.w_up = up ? (const uint8_t *)up->data : nullptr;
    p.row_bytes = w->row_bytes;
    p.n_rows = (int)w->n_rows;
    p.n_chunks = (int)(n / CHUNK);
    p.n_tokens = 1;
    p.y = y;
    p.y_stride = (uint32_t)w->n_rows;
    const NormInput in = {x, d_row, weight, eps, (int)n};
    const bool known = dispatch_quant_type(w->type, [&]<int TYPE>() {
        if (up)
            launch_norm_matvec<TYPE, true>(stream, p, in);
        else
            launch_norm_matvec<TYPE, false>(stream, p, in);
    });
    return known ? CUDA_LAUNCH_STATUS() : cudaErrorInvalidValue;
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
