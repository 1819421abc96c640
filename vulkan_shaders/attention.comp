#version 450
// Causal attention of each token over its own sequence's cache: one workgroup per
// (query head, token), positions 0..pos[t] of seq[t].
//
// Positions are taken in tiles of THREADS: each thread scores one position of the tile,
// then the running softmax (max m, sum l) is rescaled and every thread adds the tile's
// weighted values to the output dimensions it owns. Nothing grows with the context, so
// any context length runs (no score buffer), and the result equals softmax(q·K/√d)·V up
// to float rounding.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
#include "kv.glsl"
layout(std430, binding = 1) readonly buffer KCache { KV_ELEM k_cache[]; };
layout(std430, binding = 2) readonly buffer VCache { KV_ELEM v_cache[]; };
layout(std430, binding = 3) writeonly buffer Out { float att[]; };
layout(std430, binding = 4) readonly buffer Meta { uint meta[]; }; // seq[cap], pos[cap]

layout(push_constant) uniform Push {
    uint n_head, n_head_kv, head_dim, n_ctx;
    uint meta_cap;
    float scale;
} pc;

#define THREADS 64u
#define MAX_HEAD_DIM 256u
#define DIMS_PER_THREAD (MAX_HEAD_DIM / THREADS)

shared float q_head[MAX_HEAD_DIM];
shared float scores[THREADS];

void main()
{
    uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    uint hd = pc.head_dim, kv_dim = pc.n_head_kv * hd;
    uint g = h / (pc.n_head / pc.n_head_kv);
    uint seq = meta[t], n_pos = meta[pc.meta_cap + t] + 1u;
    uint q_base = (t * pc.n_head + h) * hd;
    uint cache_base = seq * pc.n_ctx * kv_dim + g * hd;

    for (uint i = tid; i < hd; i += THREADS)
        q_head[i] = q[q_base + i];
    barrier();

    float m = -1e30, l = 0.0;
    float acc[DIMS_PER_THREAD];
    for (uint j = 0u; j < DIMS_PER_THREAD; j++)
        acc[j] = 0.0;

    for (uint p0 = 0u; p0 < n_pos; p0 += THREADS) {
        uint p = p0 + tid;
        float s = -1e30;
        if (p < n_pos) {
            uint row = cache_base + p * kv_dim;
            float dot_qk = 0.0;
            for (uint i = 0u; i < hd; i += 2u) {
                vec2 kk = K_PAIR(row + i);
                dot_qk += q_head[i] * kk.x + q_head[i + 1u] * kk.y;
            }
            s = dot_qk * pc.scale;
        }
        scores[tid] = s;
        barrier();

        uint tile = min(THREADS, n_pos - p0);
        float tile_max = scores[0];
        for (uint j = 1u; j < tile; j++)
            tile_max = max(tile_max, scores[j]);
        float new_m = max(m, tile_max);
        float correction = exp(m - new_m);
        l *= correction;
        for (uint j = 0u; j < DIMS_PER_THREAD; j++)
            acc[j] *= correction;
        for (uint j = 0u; j < tile; j++) {
            float weight = exp(scores[j] - new_m);
            l += weight;
            uint row = cache_base + (p0 + j) * kv_dim;
            for (uint d = 0u; d < DIMS_PER_THREAD; d++) {
                uint i = tid + d * THREADS;
                if (i < hd) {
                    vec2 vv = V_PAIR(row + (i & ~1u));
                    acc[d] += weight * ((i & 1u) != 0u ? vv.y : vv.x);
                }
            }
        }
        m = new_m;
        barrier(); // scores is rewritten by the next tile
    }

    for (uint d = 0u; d < DIMS_PER_THREAD; d++) {
        uint i = tid + d * THREADS;
        if (i < hd)
            att[q_base + i] = acc[d] / l;
    }
}
