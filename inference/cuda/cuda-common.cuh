// Device helpers shared by the kernel files: fp16/bf16 reads, byte loads at the alignment a
// block layout guarantees, warp reductions, and the 8-bit quantization of activations.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "cuda-ops.h"

#define CUDA_LAUNCH_STATUS() cudaGetLastError()

static __device__ __forceinline__ float half_bits_to_float(uint16_t bits)
{
    return __half2float(__ushort_as_half(bits));
}

static __device__ __forceinline__ float bf16_bits_to_float(uint16_t bits)
{
    return __uint_as_float((uint32_t)bits << 16);
}

static __device__ __forceinline__ uint16_t float_to_half_bits(float v)
{
    return __half_as_ushort(__float2half_rn(v));
}

// Reads an fp16 value at P (2-byte aligned).
static __device__ __forceinline__ float load_half(const uint8_t *p)
{
    return half_bits_to_float(*(const uint16_t *)p);
}

// 16 bytes at P as four little-endian ints, for each alignment a block layout guarantees.
// Narrow loads cost instructions, not memory traffic: the bytes of a warp's loads share
// cache sectors, so DRAM still sees each byte once.
template <int ALIGN> static __device__ __forceinline__ void load16(const uint8_t *p, int v[4])
{
    if constexpr (ALIGN >= 16) {
        const int4 x = *(const int4 *)p;
        v[0] = x.x;
        v[1] = x.y;
        v[2] = x.z;
        v[3] = x.w;
    } else if constexpr (ALIGN >= 4) {
        const int *w = (const int *)p;
#pragma unroll
        for (int i = 0; i < 4; i++)
            v[i] = w[i];
    } else {
        const uint16_t *h = (const uint16_t *)p;
#pragma unroll
        for (int i = 0; i < 4; i++)
            v[i] = (int)((uint32_t)h[2 * i] | ((uint32_t)h[2 * i + 1] << 16));
    }
}

static __device__ __forceinline__ uint32_t load_u32_a2(const uint8_t *p)
{
    const uint16_t *h = (const uint16_t *)p;
    return (uint32_t)h[0] | ((uint32_t)h[1] << 16);
}

static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

static __device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

static __device__ __forceinline__ float silu(float g)
{
    return g / (1.0f + expf(-g));
}

// Lane L of a warp holds element L of a 32-element block: writes its 8-bit quant and
// (lane 0) the block's scale, so that value ~= q * d with |q| <= 127.
static __device__ __forceinline__ void quantize_block_lane(float v, int lane, int8_t *q, float *d)
{
    float amax = warp_max(fabsf(v));
    float scale = amax / 127.0f;
    float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    q[lane] = (int8_t)__float2int_rn(v * inv);
    if (lane == 0)
        *d = scale;
}

// Writes value V of element I (lane I % 32 of a warp owning a whole 32-block) of token
// row T into every form OUT asks for. All 32 lanes must call it together.
static __device__ __forceinline__ void act_store(const CudaAct &out, uint32_t t, uint32_t i,
                                                 float v)
{
    const size_t at = (size_t)t * out.stride + i;
    if (out.f)
        out.f[at] = v;
    if (out.h)
        out.h[at] = float_to_half_bits(v);
    if (out.q)
        quantize_block_lane(v, (int)(i % 32), out.q + (at - i % 32), out.d + at / 32);
}
