#version 450
// GATE = silu(GATE) * UP element-wise (the feed-forward's activation), as cpu_swiglu.
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer Gate { float gate[]; };
layout(std430, binding = 1) readonly buffer Up { float up[]; };

layout(push_constant) uniform Push {
    uint n;
} pc;

#include "common.glsl"

void main()
{
    uint i = flat_group_id() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n)
        return;
    float g = gate[i];
    gate[i] = g / (1.0 + exp(-g)) * up[i];
}
