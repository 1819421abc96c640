#version 450
// Rotates each token's q (in place) and k by its position, and appends k and v to the
// token's sequence in the layer's KV cache: one workgroup per token.
//
// Angles come from a table the host fills in double precision exactly as the CPU backend
// computes them ([n_ctx][n_rot / 2] pairs of cos, sin), so both backends rotate by the
// same floats. Q pairs are rotated by the thread that owns both elements; K is written
// straight to the cache a pair of neighbours at a time (one fp16 word), each thread
// reading the unrotated inputs it needs, so no thread reads what another writes.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 64) in;

layout(std430, binding = 0) buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
#include "kv.glsl"
layout(std430, binding = 3) writeonly buffer KCache { KV_ELEM k_cache[]; };
layout(std430, binding = 4) writeonly buffer VCache { KV_ELEM v_cache[]; };
layout(std430, binding = 5) readonly buffer Meta { uint meta[]; }; // seq[cap], pos[cap]
layout(std430, binding = 6) readonly buffer Rope { vec2 cos_sin[]; };

layout(push_constant) uniform Push {
    uint n_head, n_head_kv, head_dim, n_rot;
    uint halves, n_ctx, meta_cap;
} pc;

#define THREADS 64u

// Element E of a head (base at HEAD) after rotation; SRC is q or k.
#define ROTATED(src, head, e, pos_row)                                                     \
    rotated_value(src[(head) + (e)], src[(head) + partner(e)], e, pos_row)

uint partner(uint e)
{
    uint half_rot = pc.n_rot / 2u;
    if (e >= pc.n_rot)
        return e;
    if (pc.halves != 0u)
        return e < half_rot ? e + half_rot : e - half_rot;
    return e ^ 1u;
}

// SELF is element E, OTHER its partner: x0*cos - x1*sin for the first of the pair,
// x0*sin + x1*cos for the second, as cpu_rope.
float rotated_value(float self, float other, uint e, uint pos_row)
{
    if (e >= pc.n_rot)
        return self;
    uint half_rot = pc.n_rot / 2u;
    bool first = pc.halves != 0u ? e < half_rot : (e & 1u) == 0u;
    uint i = pc.halves != 0u ? e % half_rot : e / 2u;
    vec2 cs = cos_sin[pos_row + i];
    return first ? self * cs.x - other * cs.y : other * cs.y + self * cs.x;
}

void main()
{
    uint t = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
    uint seq = meta[t], pos = meta[pc.meta_cap + t];
    uint hd = pc.head_dim, half_rot = pc.n_rot / 2u;
    uint pos_row = pos * half_rot;

    // q: one thread per rotated pair, in place
    uint q_base = t * pc.n_head * hd;
    for (uint i = tid; i < pc.n_head * half_rot; i += THREADS) {
        uint head = q_base + (i / half_rot) * hd, p = i % half_rot;
        uint a = pc.halves != 0u ? p : 2u * p;
        uint b = pc.halves != 0u ? p + half_rot : 2u * p + 1u;
        float x0 = q[head + a], x1 = q[head + b];
        vec2 cs = cos_sin[pos_row + p];
        q[head + a] = x0 * cs.x - x1 * cs.y;
        q[head + b] = x0 * cs.y + x1 * cs.x;
    }

    // k (rotated) and v into the cache, two neighbouring elements per thread
    uint kv_dim = pc.n_head_kv * hd;
    uint src = t * kv_dim, dst = (seq * pc.n_ctx + pos) * kv_dim;
    for (uint i = 2u * tid; i < kv_dim; i += 2u * THREADS) {
        uint head = src + (i / hd) * hd, e = i % hd;
        float k0 = ROTATED(k, head, e, pos_row);
        float k1 = ROTATED(k, head, e + 1u, pos_row);
        STORE_K_PAIR(dst + i, k0, k1);
        STORE_V_PAIR(dst + i, v[src + i], v[src + i + 1u]);
    }
}
