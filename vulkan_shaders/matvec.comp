#version 450
// Y[t][r] (+)= dot(W row r, X[t]) (+ bias[r]) for t < n_tokens: the matrix products of a
// step, reading the weights in their file type (never dequantized to memory) and the
// activations as floats.
//
// One workgroup per row. Its threads take the row's 32-element chunks in turn, decode
// each chunk once per group of TOKENS tokens and multiply it with those tokens'
// activations; a shared-memory tree adds the threads' sums (no subgroup operations, so
// every Vulkan 1.0 device runs it). ACCUMULATE adds to Y (the residual stream).
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Weights { uint w[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };

layout(push_constant) uniform Push {
    uint row_len, n_rows, n_tokens, row_bytes;
    uint x_stride, y_stride, accumulate, has_bias;
} pc;

#include "common.glsl"
#include "bytes.glsl"
#include "weights.glsl"

#define THREADS 64u
#define TOKENS 8u

shared float partial[TOKENS][THREADS];

void main()
{
    uint row = flat_group_id();
    if (row >= pc.n_rows)
        return; // the whole workgroup leaves together
    uint tid = gl_LocalInvocationID.x;
    uint row_start = row * pc.row_bytes;
    uint n_chunks = pc.row_len / CHUNK;
    float v[32];

    for (uint t0 = 0u; t0 < pc.n_tokens; t0 += TOKENS) {
        uint n_tok = min(TOKENS, pc.n_tokens - t0);
        float acc[TOKENS];
        for (uint j = 0u; j < TOKENS; j++)
            acc[j] = 0.0;
        for (uint c = tid; c < n_chunks; c += THREADS) {
            decode_chunk(row_start, c, v);
            for (uint j = 0u; j < n_tok; j++) {
                uint xi = (t0 + j) * pc.x_stride + c * CHUNK;
                float sum = 0.0;
                for (uint e = 0u; e < CHUNK; e++)
                    sum += v[e] * x[xi + e];
                acc[j] += sum;
            }
        }
        for (uint j = 0u; j < TOKENS; j++)
            partial[j][tid] = acc[j];
        barrier();
        for (uint stride = THREADS / 2u; stride > 0u; stride >>= 1) {
            if (tid < stride)
                for (uint j = 0u; j < TOKENS; j++)
                    partial[j][tid] += partial[j][tid + stride];
            barrier();
        }
        if (tid < n_tok) {
            float r = partial[tid][0];
            if (pc.has_bias != 0u)
                r += bias[row];
            uint yi = (t0 + tid) * pc.y_stride + row;
            y[yi] = pc.accumulate != 0u ? y[yi] + r : r;
        }
        barrier(); // partial is reused by the next group of tokens
    }
}
