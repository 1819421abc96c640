#version 450
// OUT[r] = X[row r] / rms(X[row r]) * WEIGHT for r < n_rows, one workgroup per row.
// With USE_ROWS the input row of output r is rows[r] (the output head normalises only
// the rows whose logits were asked for). X and OUT may be the same buffer (qwen3's
// per-head norms run in place): every element is read and written by one thread, after
// the sum is complete.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Weight { float weight[]; };
layout(std430, binding = 2) writeonly buffer Out { float out_rows[]; };
layout(std430, binding = 3) readonly buffer Rows { uint rows[]; };

layout(push_constant) uniform Push {
    uint n, n_rows, use_rows;
    float eps;
} pc;

#include "common.glsl"

#define THREADS 64u
shared float partial[THREADS];

void main()
{
    uint r = flat_group_id();
    if (r >= pc.n_rows)
        return;
    uint tid = gl_LocalInvocationID.x;
    uint src = (pc.use_rows != 0u ? rows[r] : r) * pc.n;
    float sum = 0.0;
    for (uint i = tid; i < pc.n; i += THREADS)
        sum += x[src + i] * x[src + i];
    partial[tid] = sum;
    barrier();
    for (uint stride = THREADS / 2u; stride > 0u; stride >>= 1) {
        if (tid < stride)
            partial[tid] += partial[tid + stride];
        barrier();
    }
    float scale = 1.0 / sqrt(partial[0] / float(pc.n) + pc.eps);
    for (uint i = tid; i < pc.n; i += THREADS)
        out_rows[r * pc.n + i] = x[src + i] * scale * weight[i];
}
