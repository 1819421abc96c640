// Attention over the fp16 KV cache, split across the context (flash-decoding).
//
// Design: a block per (slice of the context, KV head, token) handles the whole GQA group of
// query heads that share the KV head, so each cached K/V row is read once per group
// (attention.cuh). Slices of a (token, head) are merged by their running max and sum.
//
// Two entry points:
//  - cuda_attention: any step (also prefill chunks, where tokens of one sequence see each
//    other's K/V): RoPE and the cache write ran before (rope-kv.cu); a second kernel merges.
//  - cuda_attention_decode: steps where each sequence has one token (decode, batched
//    decode). One kernel does it all: each block rotates its query heads itself, the block
//    whose slice holds the new position rotates and stores the token's K and V, and the
//    last block of a (token, KV head) to finish merges the slices (an atomic counter), so
//    a decode layer's attention is a single launch. A block may take only some of the
//    group's query heads (heads_per_block): at short contexts a step has too few blocks
//    (one per KV head) to hide their latency, and the K/V rows they read again hit L2.
//
// The grid is fixed by (tokens, heads, n_split) and each block reads its token's position
// from device memory, so a captured decode graph stays valid as the context grows.
#include "attention.cuh"

template <int HD>
__global__ void __launch_bounds__(ATT_THREADS) attention_split_kernel(CudaAttentionArgs a)
{
    __shared__ AttentionSmem<HD> sm;
    const int split = blockIdx.x, g = blockIdx.y, t = blockIdx.z;
    const int group = (int)(a.n_head / a.n_head_kv);
    const int n_pos = (int)a.d_pos[t] + 1;
    const int slice = attention_slice(n_pos, (int)a.n_split);
    const int p0 = split * slice, p1 = min(n_pos, p0 + slice);
    if (p0 >= p1)
        return; // past the last slice: the merge does not read it

    const float scale = a.scale;
    const float *q = a.q + (size_t)t * a.q_stride + (size_t)g * group * HD;
    for (int i = threadIdx.x; i < group * HD; i += ATT_THREADS)
        sm.q[i / HD][i % HD] = q[i] * scale;
    __syncthreads();

    const size_t head_row0 = ((size_t)a.d_seq[t] * a.n_head_kv + g) * a.n_ctx;
    attend_slice<HD>(sm, a.k_cache + head_row0 * HD, a.v_cache + head_row0 * HD, p0, p1, group);

    // partial (t, head g*group + h, split) lives at part0 + h * n_split
    const size_t part0 = ((size_t)t * a.n_head + (size_t)g * group) * a.n_split + split;
    for (int i = threadIdx.x; i < group * HD; i += ATT_THREADS) {
        const int h = i / HD, d = i % HD;
        const size_t part = part0 + (size_t)h * a.n_split;
        a.part_acc[part * HD + d] = sm.acc[0][h][d];
        if (d == 0) {
            a.part_ml[part * 2] = sm.M[h];
            a.part_ml[part * 2 + 1] = sm.L[h];
        }
    }
}

// Head HEAD of token T, dimension D: the slices' partials merged. __ldcg: the partials
// come from other blocks of the same launch in the fused kernel (never from L1).
template <int HD>
static __device__ __forceinline__ float merge_slices(const CudaAttentionArgs &a, int t, int head,
                                                     int d)
{
    const size_t base = ((size_t)t * a.n_head + head) * a.n_split;
    const int n_active = attention_active_slices((int)a.d_pos[t] + 1, (int)a.n_split);
    float M = -INFINITY;
#pragma unroll 8
    for (int s = 0; s < n_active; s++)
        M = fmaxf(M, __ldcg(&a.part_ml[(base + s) * 2]));
    float num = 0.0f, den = 0.0f;
#pragma unroll 8
    for (int s = 0; s < n_active; s++) {
        const float f = __expf(__ldcg(&a.part_ml[(base + s) * 2]) - M);
        num += __ldcg(&a.part_acc[(base + s) * HD + d]) * f;
        den += __ldcg(&a.part_ml[(base + s) * 2 + 1]) * f;
    }
    return num / den;
}

// One block per (head, token), one thread per dimension.
template <int HD> __global__ void __launch_bounds__(HD) attention_merge_kernel(CudaAttentionArgs a)
{
    const int head = blockIdx.x, t = blockIdx.y, d = threadIdx.x;
    act_store(a.out, t, (uint32_t)(head * HD + d), merge_slices<HD>(a, t, head, d));
}

// Element DIM of head H (of the heads from BASE) after the bias and RoPE, given the
// position's table; x points at the head's raw values.
static __device__ __forceinline__ void rope_pair(const CudaRopeArgs &r, const float2 *cos_sin,
                                                 uint32_t i, const float *x, const float *bias,
                                                 uint32_t *d0, uint32_t *d1, float *v0, float *v1)
{
    const uint32_t half_rot = r.n_rot / 2;
    *d0 = r.rope_halves ? i : 2 * i;
    *d1 = r.rope_halves ? i + half_rot : 2 * i + 1;
    const float x0 = x[*d0] + (bias ? bias[*d0] : 0.0f), x1 = x[*d1] + (bias ? bias[*d1] : 0.0f);
    const float2 cs = cos_sin[i];
    *v0 = x0 * cs.x - x1 * cs.y;
    *v1 = x0 * cs.y + x1 * cs.x;
}

template <int HD>
__global__ void __launch_bounds__(ATT_THREADS) attention_decode_kernel(CudaDecodeAttentionArgs args)
{
    __shared__ AttentionSmem<HD> sm;
    const CudaAttentionArgs &a = args.att;
    const CudaRopeArgs &r = args.rope;
    // blockIdx.y: KV head g, and which HPB of its group's query heads this block takes
    const int group = (int)(a.n_head / a.n_head_kv), hpb = (int)args.heads_per_block;
    const int split = blockIdx.x, g = blockIdx.y / (group / hpb), t = blockIdx.z;
    const int pos = (int)a.d_pos[t], n_pos = pos + 1;
    const int slice = attention_slice(n_pos, (int)a.n_split);
    const int n_active = attention_active_slices(n_pos, (int)a.n_split);
    if (split >= n_active)
        return;
    const int p0 = split * slice, p1 = min(n_pos, p0 + slice);
    const uint32_t half_rot = r.n_rot / 2, tail = HD - r.n_rot;

    // this position's rotation table, then the group's query heads: bias, RoPE, scale
    for (uint32_t i = threadIdx.x; i < half_rot; i += ATT_THREADS) {
        double s, c;
        sincos((double)pos * r.d_inv_freq[i], &s, &c);
        sm.cos_sin[i] = make_float2((float)c, (float)s);
    }
    __syncthreads();
    const float scale = a.scale;
    const uint32_t h0 = (uint32_t)g * group + (uint32_t)(blockIdx.y % (group / hpb)) * hpb;
    for (uint32_t idx = threadIdx.x; idx < hpb * (half_rot + tail); idx += ATT_THREADS) {
        const uint32_t h = idx / (half_rot + tail), i = idx % (half_rot + tail);
        const float *x = r.q + (size_t)t * r.qkv_stride + (size_t)(h0 + h) * HD;
        const float *bias = r.bq ? r.bq + (size_t)(h0 + h) * HD : nullptr;
        if (i < half_rot) {
            uint32_t d0, d1;
            float v0, v1;
            rope_pair(r, sm.cos_sin, i, x, bias, &d0, &d1, &v0, &v1);
            sm.q[h][d0] = v0 * scale;
            sm.q[h][d1] = v1 * scale;
        } else {
            const uint32_t d = r.n_rot + (i - half_rot);
            sm.q[h][d] = (x[d] + (bias ? bias[d] : 0.0f)) * scale;
        }
    }
    // the slice holding the new position stores the token's K and V (this KV head's; the
    // blocks of a group's other query heads store the same values: each reads them back)
    const size_t head_row0 = ((size_t)a.d_seq[t] * a.n_head_kv + g) * a.n_ctx;
    uint16_t *K = r.k_cache + head_row0 * HD, *V = r.v_cache + head_row0 * HD;
    if (p1 == n_pos) {
        const float *k = r.k + (size_t)t * r.qkv_stride + (size_t)g * HD;
        const float *v = r.v + (size_t)t * r.qkv_stride + (size_t)g * HD;
        const float *bk = r.bk ? r.bk + (size_t)g * HD : nullptr,
                    *bv = r.bv ? r.bv + (size_t)g * HD : nullptr;
        uint16_t *k_row = K + (size_t)pos * HD, *v_row = V + (size_t)pos * HD;
        for (uint32_t i = threadIdx.x; i < half_rot + tail; i += ATT_THREADS) {
            if (i < half_rot) {
                uint32_t d0, d1;
                float v0, v1;
                rope_pair(r, sm.cos_sin, i, k, bk, &d0, &d1, &v0, &v1);
                k_row[d0] = float_to_half_bits(v0);
                k_row[d1] = float_to_half_bits(v1);
            } else {
                const uint32_t d = r.n_rot + (i - half_rot);
                k_row[d] = float_to_half_bits(k[d] + (bk ? bk[d] : 0.0f));
            }
        }
        for (uint32_t d = threadIdx.x; d < HD; d += ATT_THREADS)
            v_row[d] = float_to_half_bits(v[d] + (bv ? bv[d] : 0.0f));
    }
    __syncthreads(); // the block's own cache writes are visible to it after the barrier

    attend_slice<HD>(sm, K, V, p0, p1, hpb);

    if (n_active == 1) { // short context: the block's result is the output
        for (int i = threadIdx.x; i < hpb * HD; i += ATT_THREADS) {
            const int h = i / HD, d = i % HD;
            act_store(a.out, t, (h0 + h) * HD + d, sm.acc[0][h][d] / sm.L[h]);
        }
        return;
    }
    const size_t part0 = ((size_t)t * a.n_head + h0) * a.n_split + split;
    for (int i = threadIdx.x; i < hpb * HD; i += ATT_THREADS) {
        const int h = i / HD, d = i % HD;
        const size_t part = part0 + (size_t)h * a.n_split;
        a.part_acc[part * HD + d] = sm.acc[0][h][d];
        if (d == 0) {
            a.part_ml[part * 2] = sm.M[h];
            a.part_ml[part * 2 + 1] = sm.L[h];
        }
    }
    // the last block of this (token, heads) to finish merges every slice
    __threadfence();
    __syncthreads();
    uint32_t *counter = args.d_counters + (size_t)t * gridDim.y + blockIdx.y;
    if (threadIdx.x == 0)
        sm.is_last = atomicAdd(counter, 1u) == (uint32_t)n_active - 1;
    __syncthreads();
    if (!sm.is_last)
        return;
    __threadfence();
    for (int i = threadIdx.x; i < hpb * HD; i += ATT_THREADS) {
        const int h = i / HD, d = i % HD;
        act_store(a.out, t, (h0 + h) * HD + d, merge_slices<HD>(a, t, (int)(h0 + h), d));
    }
    if (threadIdx.x == 0)
        *counter = 0; // ready for the next step (or graph replay)
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

extern "C" uint32_t cuda_attention_decode_splits(uint32_t n_tokens, uint32_t n_head_kv,
                                                 uint32_t n_sm)
{
    // one block merges all slices of its (token, KV head): keep them few
    const uint32_t n = cuda_attention_splits(n_tokens, n_head_kv, n_sm);
    return n > (uint32_t)ATT_MAX_DECODE_SPLIT ? (uint32_t)ATT_MAX_DECODE_SPLIT : n;
}

static bool attention_args_ok(const CudaAttentionArgs *a)
{
    return a->n_head_kv != 0 && a->n_head % a->n_head_kv == 0 && a->n_head / a->n_head_kv <= G &&
           a->n_split != 0 && cuda_attention_head_dim_supported(a->head_dim);
}

extern "C" cudaError_t cuda_attention(cudaStream_t stream, const CudaAttentionArgs *args)
{
    if (args->n_tokens == 0)
        return cudaSuccess;
    if (!attention_args_ok(args))
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

extern "C" cudaError_t cuda_attention_decode(cudaStream_t stream,
                                             const CudaDecodeAttentionArgs *args)
{
    const CudaAttentionArgs *a = &args->att;
    if (a->n_tokens == 0)
        return cudaSuccess;
    if (!attention_args_ok(a) || args->rope.n_rot > a->head_dim || args->rope.n_rot % 2)
        return cudaErrorInvalidValue;
    const uint32_t group = a->n_head / a->n_head_kv;
    CudaDecodeAttentionArgs run = *args;
    if (run.heads_per_block == 0 || run.heads_per_block > group || group % run.heads_per_block != 0)
        run.heads_per_block = group;
    const dim3 grid(a->n_split, a->n_head_kv * (group / run.heads_per_block), a->n_tokens);
    if (a->head_dim == 64)
        attention_decode_kernel<64><<<grid, ATT_THREADS, 0, stream>>>(run);
    else
        attention_decode_kernel<128><<<grid, ATT_THREADS, 0, stream>>>(run);
    return CUDA_LAUNCH_STATUS();
}
