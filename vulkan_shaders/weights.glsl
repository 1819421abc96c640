// Decoding of 32 consecutive weights of a row ("a chunk") for each weight type, chosen by
// one of the WEIGHT_* defines. A chunk is a whole legacy block (Q4_0…Q8_0), an eighth of
// a K-quant super-block (one sub-block, or two of 16 in Q2_K/Q3_K/Q6_K), or 32 plain values, so every type has the same loop in
// matvec.comp. Layouts: inference/quant/quant-blocks.h and quant-dequant.c.
//
// decode_chunk(row, c, v): v[e] = element 32 * c + e of the row starting at byte ROW.

#define CHUNK 32u

#if defined(WEIGHT_F32)
void decode_chunk(uint row, uint c, inout float v[32])
{
    uint word = (row >> 2) + c * 32u;
    for (uint e = 0u; e < 32u; e++)
        v[e] = uintBitsToFloat(w[word + e]);
}
#elif defined(WEIGHT_F16)
void decode_chunk(uint row, uint c, inout float v[32])
{
    uint word = (row >> 2) + c * 16u;
    for (uint e = 0u; e < 16u; e++) {
        vec2 pair = unpackHalf2x16(w[word + e]);
        v[2u * e] = pair.x;
        v[2u * e + 1u] = pair.y;
    }
}
#elif defined(WEIGHT_BF16)
void decode_chunk(uint row, uint c, inout float v[32])
{
    uint word = (row >> 2) + c * 16u;
    for (uint e = 0u; e < 16u; e++) {
        uint pair = w[word + e];
        v[2u * e] = uintBitsToFloat(pair << 16);
        v[2u * e + 1u] = uintBitsToFloat(pair & 0xffff0000u);
    }
}
#elif defined(WEIGHT_Q8_0)
void decode_chunk(uint row, uint c, inout float v[32])
{
    uint b = row + c * 34u;
    float d = rd_half(b);
    for (uint e = 0u; e < 32u; e++)
        v[e] = float(rd8s(b + 2u + e)) * d;
}
#elif defined(WEIGHT_Q4_0) || defined(WEIGHT_Q4_1) || defined(WEIGHT_Q5_0) || defined(WEIGHT_Q5_1)
// The legacy blocks of 32: fp16 d, then fp16 m (Q4_1, Q5_1), then the fifth bits as a
// u32 (Q5_0, Q5_1), then 16 bytes of nibbles (element e < 16: low nibble of byte e).
#if defined(WEIGHT_Q4_1) || defined(WEIGHT_Q5_1)
#define HAS_MIN 1
#define HEADER 4u
#else
#define HAS_MIN 0
#define HEADER 2u
#endif
#if defined(WEIGHT_Q5_0) || defined(WEIGHT_Q5_1)
#define HIGH_BYTES 4u
#define OFFSET 16.0
#else
#define HIGH_BYTES 0u
#define OFFSET 8.0
#endif
void decode_chunk(uint row, uint c, inout float v[32])
{
    uint b = row + c * (HEADER + HIGH_BYTES + 16u);
    float d = rd_half(b);
#if HAS_MIN
    float m = rd_half(b + 2u); // value = q * d + m
#else
    float m = -OFFSET * d; // value = (q - OFFSET) * d
#endif
    uint high = HIGH_BYTES != 0u ? rd32_even(b + HEADER) : 0u;
    uint qs = b + HEADER + HIGH_BYTES;
    for (uint j = 0u; j < 16u; j++) {
        uint q = rd8(qs + j);
        v[j] = float((q & 15u) | (((high >> j) & 1u) << 4)) * d + m;
        v[j + 16u] = float((q >> 4) | (((high >> (j + 16u)) & 1u) << 4)) * d + m;
    }
}
#elif defined(WEIGHT_Q2_K) || defined(WEIGHT_Q3_K)
// Both keep the 2 low bits of element h*128 + s*32 + l at bit pair 2*s of qs[h*32 + l],
// so chunk c is sub = c % 8 (h = sub / 4, s = sub % 4) of super-block c / 8, and its two
// 16-element halves have scales 2 * sub and 2 * sub + 1.
#if defined(WEIGHT_Q2_K)
// scales[16] qs[64] d dmin: scale byte i is (min << 4) | scale
void decode_chunk(uint row, uint c, inout float v[32])
{
    uint b = row + (c >> 3) * 84u, sub = c & 7u;
    uint qs = b + 16u + (sub >> 2) * 32u, shift = (sub & 3u) * 2u;
    float d = rd_half(b + 80u), dmin = rd_half(b + 82u);
    for (uint half_i = 0u; half_i < 2u; half_i++) {
        uint sc = rd8(b + 2u * sub + half_i);
        float scale = d * float(sc & 15u), mn = dmin * float(sc >> 4);
        for (uint l = 16u * half_i; l < 16u * half_i + 16u; l++)
            v[l] = scale * float((rd8(qs + l) >> shift) & 3u) - mn;
    }
}
#else
// hmask[32] qs[64] scales[12] d. Bit SUB of hmask[l] is bit 2 of the quant; a clear bit
// means -4. Scale i (stored + 32): low nibble in byte i % 8 (high nibble for i >= 8), top
// two bits at 2 * (i / 4) of byte 8 + i % 4 (q3_k_scales in quant-blocks.h).
float q3_k_scale(uint scales, uint i)
{
    uint low = (rd8(scales + (i & 7u)) >> ((i >> 3) * 4u)) & 15u;
    uint high = (rd8(scales + 8u + (i & 3u)) >> (2u * (i >> 2))) & 3u;
    return float(int(low | (high << 4)) - 32);
}
void decode_chunk(uint row, uint c, inout float v[32])
{
    uint b = row + (c >> 3) * 110u, sub = c & 7u;
    uint qs = b + 32u + (sub >> 2) * 32u, shift = (sub & 3u) * 2u;
    float d = rd_half(b + 108u);
    for (uint half_i = 0u; half_i < 2u; half_i++) {
        float scale = d * q3_k_scale(b + 96u, 2u * sub + half_i);
        for (uint l = 16u * half_i; l < 16u * half_i + 16u; l++) {
            int q = int((rd8(qs + l) >> shift) & 3u) - (((rd8(b + l) >> sub) & 1u) != 0u ? 0 : 4);
            v[l] = scale * float(q);
        }
    }
}
#endif
#elif defined(WEIGHT_Q4_K) || defined(WEIGHT_Q5_K)
#if defined(WEIGHT_Q4_K)
#define BLOCK_BYTES 144u
#define QS 16u
#else
#define BLOCK_BYTES 176u
#define QS 48u
#endif
// Six-bit scale and min of sub-block J (see k_scale_min in quant-blocks.h).
void k_scale_min(uint scales, uint j, out float sc, out float mn)
{
    if (j < 4u) {
        sc = float(rd8(scales + j) & 63u);
        mn = float(rd8(scales + j + 4u) & 63u);
    } else {
        uint packed = rd8(scales + j + 4u);
        sc = float((packed & 15u) | ((rd8(scales + j - 4u) >> 6) << 4));
        mn = float((packed >> 4) | ((rd8(scales + j) >> 6) << 4));
    }
}
void decode_chunk(uint row, uint c, inout float v[32])
{
    uint b = row + (c >> 3) * BLOCK_BYTES, sub = c & 7u;
    float sc, mn;
    k_scale_min(b + 4u, sub, sc, mn);
    float d = rd_half(b) * sc, m = rd_half(b + 2u) * mn;
    uint qs = b + QS + (sub >> 1) * 32u, shift = (sub & 1u) * 4u;
    for (uint l = 0u; l < 32u; l++) {
        uint q = (rd8(qs + l) >> shift) & 15u;
#if defined(WEIGHT_Q5_K)
        q |= ((rd8(b + 16u + l) >> sub) & 1u) << 4;
#endif
        v[l] = d * float(q) - m;
    }
}
#elif defined(WEIGHT_Q6_K)
void decode_chunk(uint row, uint c, inout float v[32])
{
    // ql[128] qh[64] scales[16] d: chunk c is s = c % 4 of half h = c / 4
    uint b = row + (c >> 3) * 210u, h = (c >> 2) & 1u, s = c & 3u;
    float d = rd_half(b + 208u);
    uint ql = b + h * 64u + (s & 1u) * 32u, qh = b + 128u + h * 32u;
    uint low_shift = (s >> 1) * 4u, high_shift = 2u * s;
    uint scales = b + 192u + h * 8u + s * 2u;
    float d0 = d * float(rd8s(scales)), d1 = d * float(rd8s(scales + 1u));
    for (uint l = 0u; l < 32u; l++) {
        uint q = ((rd8(ql + l) >> low_shift) & 15u) | (((rd8(qh + l) >> high_shift) & 3u) << 4);
        v[l] = (l < 16u ? d0 : d1) * float(int(q) - 32);
    }
}
#else
#error "define one WEIGHT_* type"
#endif
