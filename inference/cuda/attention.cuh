// Attention internals shared by the kernels of attention.cu: the shared-memory layout and
// the attention of a block's query heads over one slice of the context.
#pragma once

#include <math.h>

#include "cuda-common.cuh"

enum {
    ATT_THREADS = 128,
    ATT_WARPS = ATT_THREADS / 32,
    ATT_TILE = 32,
    ATT_MAX_SPLIT = 256,
    ATT_MAX_DECODE_SPLIT = 32
};
// A slice is at least one tile per warp: shorter slices would leave warps idle.
enum { ATT_MIN_SLICE = ATT_WARPS * ATT_TILE, ATT_V_BATCH = 8 };
enum { G = CUDA_MAX_GROUP };

// Positions per slice for a token that sees N_POS positions; slices past the last hold none.
static __device__ __forceinline__ int attention_slice(int n_pos, int n_split)
{
    return max((n_pos + n_split - 1) / n_split, (int)ATT_MIN_SLICE);
}

static __device__ __forceinline__ int attention_active_slices(int n_pos, int n_split)
{
    const int slice = attention_slice(n_pos, n_split);
    return (n_pos + slice - 1) / slice;
}

template <int HD> struct AttentionSmem {
    float q[G][HD]; // the group's query heads, scaled by 1/sqrt(head_dim)
    float p[ATT_WARPS][G][ATT_TILE];
    float m[ATT_WARPS][G], l[ATT_WARPS][G];
    float acc[ATT_WARPS][G][HD];
    float M[G], L[G];       // the block's result: max and sum per head; output in acc[0]
    float2 cos_sin[HD / 2]; // RoPE of the token's position (fused decode kernel)
    int is_last;
};

// The block's query heads (sm.q) attend over positions [p0, p1) of one KV head's K and V
// rows. Leaves each head's running max and sum in sm.M, sm.L and its output, not yet divided
// by the sum, in sm.acc[0]. Lanes own positions for the scores (a full q.k each, q broadcast
// from shared memory) and dimensions for the sum of V (coalesced rows).
template <int HD>
static __device__ void attend_slice(AttentionSmem<HD> &sm, const uint16_t *K, const uint16_t *V,
                                    int p0, int p1, int group)
{
    constexpr int DPL = HD / 32; // dimensions per lane when summing V
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
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
            uint4 kraw[HD / 8]; // the whole row in flight at once
#pragma unroll
            for (int c = 0; c < HD / 8; c++)
                kraw[c] = krow[c];
#pragma unroll
            for (int c = 0; c < HD / 8; c++) {
                const uint4 raw = kraw[c];
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
                        const float4 q0 = *(const float4 *)&sm.q[h][c * 8];
                        const float4 q1 = *(const float4 *)&sm.q[h][c * 8 + 4];
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
                sm.p[warp][h][lane] = pv;
            }
        }
        __syncwarp();
        // V rows in batches whose loads are all issued before the first use
        const int n_tile = min((int)ATT_TILE, p1 - tile);
        for (int j0 = 0; j0 < n_tile; j0 += ATT_V_BATCH) {
            float vf[ATT_V_BATCH][DPL];
#pragma unroll
            for (int jj = 0; jj < ATT_V_BATCH; jj++) {
                const uint16_t *vrow = V + (size_t)(tile + j0 + jj) * HD + lane * DPL;
                const bool in_tile = j0 + jj < n_tile;
                if constexpr (DPL == 4) {
                    const uint2 raw = in_tile ? *(const uint2 *)vrow : make_uint2(0, 0);
                    const float2 lo = __half22float2(*(const __half2 *)&raw.x);
                    const float2 hi = __half22float2(*(const __half2 *)&raw.y);
                    vf[jj][0] = lo.x, vf[jj][1] = lo.y, vf[jj][2] = hi.x, vf[jj][3] = hi.y;
                } else {
                    const uint32_t raw = in_tile ? *(const uint32_t *)vrow : 0u;
                    const float2 f = __half22float2(*(const __half2 *)&raw);
                    vf[jj][0] = f.x, vf[jj][1] = f.y;
                }
            }
#pragma unroll
            for (int jj = 0; jj < ATT_V_BATCH; jj++) {
#pragma unroll
                for (int h = 0; h < G; h++) {
                    if (h < group) {
                        // p is 0 past the tile's end, so the zero-filled rows add nothing
                        const float pj = sm.p[warp][h][j0 + jj];
#pragma unroll
                        for (int d = 0; d < DPL; d++)
                            acc[h][d] = fmaf(pj, vf[jj][d], acc[h][d]);
                    }
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
                sm.m[warp][h] = m[h];
                sm.l[warp][h] = l[h];
            }
#pragma unroll
            for (int d = 0; d < DPL; d++)
                sm.acc[warp][h][lane * DPL + d] = acc[h][d];
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < group * HD; i += ATT_THREADS) {
        const int h = i / HD, d = i % HD;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < ATT_WARPS; w++)
            M = fmaxf(M, sm.m[w][h]);
        float sum = 0.0f, L = 0.0f;
#pragma unroll
        for (int w = 0; w < ATT_WARPS; w++) {
            const float f = sm.m[w][h] == -INFINITY ? 0.0f : __expf(sm.m[w][h] - M);
            sum += sm.acc[w][h][d] * f;
            L += sm.l[w][h] * f;
        }
        sm.acc[0][h][d] = sum; // (h, d) belongs to this thread alone

        if (d == 0) {
            sm.M[h] = M;
            sm.L[h] = L;
        }
    }
    __syncthreads();
}
