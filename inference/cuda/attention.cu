// Attention over the fp16 KV cache, split across the context (flash-decoding).
//
// Design: a block per (slice of the context, KV head, token) handles the whole GQA group of
// query heads that share the KV head, so each cached K/V row is read once per group. Its
// four warps take 32-position tiles in turn. For scores, lanes own positions (each lane a
// full q.k over head_dim, q broadcast from shared memory: no shuffles per position); for
// the weighted sum of V, lanes own dimensions (coalesced V rows). Each warp keeps an online
// softmax (running max and sum); the block merges its warps, and a second kernel merges the
// slices of a (token, head) and writes the output in the forms the output projection reads.
//
// The grid is fixed by (tokens, heads, n_split) and each block reads its token's position
// from device memory, so a captured decode graph stays valid as the context grows.
// Multi-token steps of one sequence (prefill chunks) work too: every token of the step has
// its K/V in the cache before this runs, and each attends up to its own position.
#include <math.h>

#include "cuda-common.cuh"

enum { ATT_THREADS = 128, ATT_WARPS = ATT_THREADS / 32, ATT_TILE = 32, ATT_MIN_SLICE = 64, ATT_MAX_SPLIT = 256 };
enum { G = CUDA_MAX_GROUP };

template <int HD>
__global__ void __launch_bounds__(ATT_THREADS) attention_split_kernel(CudaAttentionArgs a)
{
    constexpr int DPL = HD / 32; // dimensions per lane when summing V
    __shared__ float q_s[G][HD];
    __shared__ float p_s[ATT_WARPS][G][ATT_TILE];
    __shared__ float m_s[ATT_WARPS][G], l_s[ATT_WARPS][G];
    __shared__ float acc_s[ATT_WARPS][G][HD];

    const int split = blockIdx.x, g = blockIdx.y, t = blockIdx.z;
    const int group = (int)(a.n_head / a.n_head_kv);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int n_pos = (int)a.d_pos[t] + 1;
    const int slice = max((n_pos + (int)a.n_split - 1) / (int)a.n_split, (int)ATT_MIN_SLICE);
    const int p0 = split * slice, p1 = min(n_pos, p0 + slice);
    // partial (t, head g*group + h, split) lives at part0 + h * n_split
    const size_t part0 = ((size_t)t * a.n_head + (size_t)g * group) * a.n_split + split;
    if (p0 >= p1) { // nothing left for this slice: mark it empty for the merge
        if (threadIdx.x < (unsigned)group) {
            a.part_ml[(part0 + threadIdx.x * a.n_split) * 2] = -INFINITY;
            a.part_ml[(part0 + threadIdx.x * a.n_split) * 2 + 1] = 0.0f;
        }
        return;
    }

    const float scale = rsqrtf((float)HD);
    const float *q = a.q + (size_t)t * a.q_stride + (size_t)g * group * HD;
    for (int i = threadIdx.x; i < group * HD; i += ATT_THREADS)
        q_s[i / HD][i % HD] = q[i] * scale;
    __syncthreads();

    const size_t head_row0 = ((size_t)a.d_seq[t] * a.n_head_kv + g) * a.n_ctx;
    const uint16_t *K = a.k_cache + head_row0 * HD;
    const uint16_t *V = a.v_cache + head_row0 * HD;
    float m[G], l[G], acc[G][DPL];
#pragma unroll
    for (int h = 0; h < G; h++) {
        m[h] = -INFINITY;
        l[h] = 0.0f;
#pragma unroll
        for (int d = 0; d < DPL; d++)
            acc[h][d] = 0.0f;
    }

    for (int tile = p0 + warp * ATT_TILE; tile < p1; tile += ATT_WARPS * ATT_TILE) {
        const int p = tile + lane;
        const bool valid = p < p1;
        float s[G];
#pragma unroll
        for (int h = 0; h < G; h++)
            s[h] = 0.0f;
        if (valid) {
            const uint4 *krow = (const uint4 *)(K + (size_t)p * HD);
#pragma unroll 4
            for (int c = 0; c < HD / 8; c++) {
                const uint4 raw = krow[c];
                const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
                float kf[8];
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    const float2 f = __half22float2(*(const __half2 *)&words[i]);
                    kf[2 * i] = f.x;
                    kf[2 * i + 1] = f.y;
                }
#pragma unroll
                for (int h = 0; h < G; h++) {
                    if (h < group) {
                        const float4 q0 = *(const float4 *)&q_s[h][c * 8];
                        const float4 q1 = *(const float4 *)&q_s[h][c * 8 + 4];
                        s[h] += q0.x * kf[0] + q0.y * kf[1] + q0.z * kf[2] + q0.w * kf[3] +
                                q1.x * kf[4] + q1.y * kf[5] + q1.z * kf[6] + q1.w * kf[7];
                    }
                }
            }
        }
        // online softmax over the tile; lane 0 is always valid, so the new max is finite
#pragma unroll
        for (int h = 0; h < G; h++) {
            if (h < group) {
                const float sh = valid ? s[h] : -INFINITY;
                const float m_new = fmaxf(m[h], warp_max(sh));
                const float corr = __expf(m[h] - m_new);
                const float pv = valid ? __expf(sh - m_new) : 0.0f;
                l[h] = l[h] * corr + warp_sum(pv);
#pragma unroll
                for (int d = 0; d < DPL; d++)
                    acc[h][d] *= corr;
                m[h] = m_new;
                p_s[warp][h][lane] = pv;
            }
        }
        __syncwarp();
        const int n_tile = min((int)ATT_TILE, p1 - tile);
        for (int j = 0; j < n_tile; j++) {
            const uint16_t *vrow = V + (size_t)(tile + j) * HD + lane * DPL;
            float vf[DPL];
            if constexpr (DPL == 4) {
                const uint2 raw = *(const uint2 *)vrow;
                const float2 lo = __half22float2(*(const __half2 *)&raw.x);
                const float2 hi = __half22float2(*(const __half2 *)&raw.y);
                vf[0] = lo.x, vf[1] = lo.y, vf[2] = hi.x, vf[3] = hi.y;
            } else {
                const float2 f = __half22float2(*(const __half2 *)vrow);
                vf[0] = f.x, vf[1] = f.y;
            }
#pragma unroll
            for (int h = 0; h < G; h++) {
                if (h < group) {
                    const float pj = p_s[warp][h][j];
#pragma unroll
                    for (int d = 0; d < DPL; d++)
                        acc[h][d] = fmaf(pj, vf[d], acc[h][d]);
                }
            }
        }
        __syncwarp();
    }

    // merge the warps (a warp that got no tile has m = -inf and contributes nothing)
#pragma unroll
    for (int h = 0; h < G; h++) {
        if (h < group) {
            if (lane == 0) {
                m_s[warp][h] = m[h];
                l_s[warp][h] = l[h];
            }
#pragma unroll
            for (int d = 0; d < DPL; d++)
                acc_s[warp][h][lane * DPL + d] = acc[h][d];
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < group * HD; i += ATT_THREADS) {
        const int h = i / HD, d = i % HD;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < ATT_WARPS; w++)
            M = fmaxf(M, m_s[w][h]);
        float sum = 0.0f, L = 0.0f;
#pragma unroll
        for (int w = 0; w < ATT_WARPS; w++) {
            const float f = m_s[w][h] == -INFINITY ? 0.0f : __expf(m_s[w][h] - M);
            sum += acc_s[w][h][d] * f;
            L += l_s[w][h] * f;
        }
        const size_t part = part0 + (size_t)h * a.n_split;
        a.part_acc[part * HD + d] = sum;
        if (d == 0) {
            a.part_ml[part * 2] = M;
            a.part_ml[part * 2 + 1] = L;
        }
    }
}

// One block per (head, token), one thread per dimension: merges the slices.
template <int HD>
__global__ void __launch_bounds__(HD) attention_merge_kernel(CudaAttentionArgs a)
{
    const int head = blockIdx.x, t = blockIdx.y, d = threadIdx.x;
    const size_t base = ((size_t)t * a.n_head + head) * a.n_split;
    float M = -INFINITY;
    for (uint32_t s = 0; s < a.n_split; s++)
        if (a.part_ml[(base + s) * 2 + 1] > 0.0f)
            M = fmaxf(M, a.part_ml[(base + s) * 2]);
    float num = 0.0f, den = 0.0f;
    for (uint32_t s = 0; s < a.n_split; s++) {
        const float l = a.part_ml[(base + s) * 2 + 1];
        if (l > 0.0f) {
            const float f = __expf(a.part_ml[(base + s) * 2] - M);
            num += a.part_acc[(base + s) * HD + d] * f;
            den += l * f;
        }
    }
    act_store(a.out, t, (uint32_t)(head * HD + d), num / den);
}

extern "C" bool cuda_attention_head_dim_supported(uint32_t head_dim)
{
    return head_dim == 64 || head_dim == 128;
}

extern "C" uint32_t cuda_attention_splits(uint32_t n_tokens, uint32_t n_head_kv, uint32_t n_sm)
{
    const uint32_t per_split = n_tokens * n_head_kv;
    uint32_t n = (2 * n_sm + per_split - 1) / per_split;
    return n < 1 ? 1u : n > (uint32_t)ATT_MAX_SPLIT ? (uint32_t)ATT_MAX_SPLIT : n;
}

extern "C" cudaError_t cuda_attention(cudaStream_t stream, const CudaAttentionArgs *args)
{
    if (args->n_tokens == 0)
        return cudaSuccess;
    if (args->n_head_kv == 0 || args->n_head % args->n_head_kv || args->n_head / args->n_head_kv > G ||
        args->n_split == 0 || !cuda_attention_head_dim_supported(args->head_dim))
        return cudaErrorInvalidValue;
    const dim3 split_grid(args->n_split, args->n_head_kv, args->n_tokens);
    const dim3 merge_grid(args->n_head, args->n_tokens);
    if (args->head_dim == 64) {
        attention_split_kernel<64><<<split_grid, ATT_THREADS, 0, stream>>>(*args);
        attention_merge_kernel<64><<<merge_grid, 64, 0, stream>>>(*args);
    } else {
        attention_split_kernel<128><<<split_grid, ATT_THREADS, 0, stream>>>(*args);
        attention_merge_kernel<128><<<merge_grid, 128, 0, stream>>>(*args);
    }
    return CUDA_LAUNCH_STATUS();
}
