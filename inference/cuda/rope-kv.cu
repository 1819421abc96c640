// RoPE and the KV cache write in one pass: biases added, q rotated in place, k rotated and
// written with v to the fp16 cache at each token's (sequence, position).
//
// Design: one thread block per token. The block first computes the token's cos/sin table
// in double precision (angles reach tens of thousands of radians at long contexts, where
// float angles would drift from the CPU reference), then threads take rotation pairs.
#include "cuda-common.cuh"

enum { ROPE_THREADS = 256, ROPE_MAX_PAIRS = 512 };

static __device__ __forceinline__ void pair_index(const CudaRopeArgs &a, uint32_t i, uint32_t *x0,
                                                  uint32_t *x1)
{
    if (a.rope_halves) {
        *x0 = i;
        *x1 = i + a.n_rot / 2;
    } else {
        *x0 = 2 * i;
        *x1 = 2 * i + 1;
    }
}

// Q stays in place as floats; K goes to the cache as fp16.
static __device__ __forceinline__ void store_qk(const CudaRopeArgs &a, float *q, bool is_q,
                                                uint32_t h, uint32_t dim, size_t cache_row0,
                                                float value)
{
    if (is_q)
        q[(size_t)h * a.head_dim + dim] = value;
    else
        a.k_cache[(cache_row0 + (size_t)h * a.n_ctx) * a.head_dim + dim] =
            float_to_half_bits(value);
}

__global__ void __launch_bounds__(ROPE_THREADS) rope_store_kv_kernel(CudaRopeArgs a)
{
    __shared__ float2 cos_sin[ROPE_MAX_PAIRS];
    const uint32_t t = blockIdx.x;
    const uint32_t pos = a.d_pos[t];
    const uint32_t half_rot = a.n_rot / 2, hd = a.head_dim;
    for (uint32_t i = threadIdx.x; i < half_rot; i += ROPE_THREADS) {
        double s, c;
        sincos((double)pos * a.d_inv_freq[i], &s, &c);
        cos_sin[i] = make_float2((float)c, (float)s);
    }
    __syncthreads();

    // Q (heads 0..n_head-1) and K (heads n_head..): rotated pairs, then the unrotated tail.
    const uint32_t n_heads = a.n_head + a.n_head_kv;
    const uint32_t tail = hd - a.n_rot;
    const size_t cache_row0 = ((size_t)a.d_seq[t] * a.n_head_kv) * a.n_ctx + pos; // + head * n_ctx
    float *q = a.q + (size_t)t * a.qkv_stride;
    const float *k = a.k + (size_t)t * a.qkv_stride;
    for (uint32_t idx = threadIdx.x; idx < n_heads * (half_rot + tail); idx += ROPE_THREADS) {
        const uint32_t head = idx / (half_rot + tail), i = idx % (half_rot + tail);
        const bool is_q = head < a.n_head;
        const uint32_t h = is_q ? head : head - a.n_head;
        const float *src = (is_q ? q : k) + (size_t)h * hd;
        const float *bias = is_q ? a.bq : a.bk;
        if (i < half_rot) {
            uint32_t d0, d1;
            pair_index(a, i, &d0, &d1);
            float x0 = src[d0], x1 = src[d1];
            if (bias) {
                x0 += bias[h * hd + d0];
                x1 += bias[h * hd + d1];
            }
            const float2 cs = cos_sin[i];
            store_qk(a, q, is_q, h, d0, cache_row0, x0 * cs.x - x1 * cs.y);
            store_qk(a, q, is_q, h, d1, cache_row0, x0 * cs.y + x1 * cs.x);
        } else {
            const uint32_t d0 = a.n_rot + (i - half_rot);
            store_qk(a, q, is_q, h, d0, cache_row0, src[d0] + (bias ? bias[h * hd + d0] : 0.0f));
        }
    }
    const float *v = a.v + (size_t)t * a.qkv_stride;
    for (uint32_t e = threadIdx.x; e < a.n_head_kv * hd; e += ROPE_THREADS) {
        const uint32_t h = e / hd, i = e % hd;
        const float value = v[e] + (a.bv ? a.bv[e] : 0.0f);
        a.v_cache[(cache_row0 + (size_t)h * a.n_ctx) * hd + i] = float_to_half_bits(value);
    }
}

extern "C" cudaError_t cuda_rope_store_kv(cudaStream_t stream, const CudaRopeArgs *args)
{
    if (args->n_tokens == 0)
        return cudaSuccess;
    if (args->n_rot > args->head_dim || args->n_rot % 2 || args->n_rot / 2 > ROPE_MAX_PAIRS)
        return cudaErrorInvalidValue;
    rope_store_kv_kernel<<<args->n_tokens, ROPE_THREADS, 0, stream>>>(*args);
    return CUDA_LAUNCH_STATUS();
}
