// Reference dequantizers: block -> float. These are the readable definition of every
// layout in quant-blocks.h; the quantizers and all dot kernels must agree with them.
#include "quant-blocks.h"

static float half(uint16_t h)
{
    return ponder_fp16_to_fp32(h);
}

static void dequantize_q4_0(const BlockQ4_0 *b, float *y)
{
    float d = half(b->d);
    for (int j = 0; j < 16; j++) {
        y[j] = ((b->qs[j] & 0xf) - 8) * d;
        y[j + 16] = ((b->qs[j] >> 4) - 8) * d;
    }
}

static void dequantize_q4_1(const BlockQ4_1 *b, float *y)
{
    float d = half(b->d), m = half(b->m);
    for (int j = 0; j < 16; j++) {
        y[j] = (b->qs[j] & 0xf) * d + m;
        y[j + 16] = (b->qs[j] >> 4) * d + m;
    }
}

// The 5-bit quant E (0..31) of a Q5 block.
static int q5_quant(const uint8_t qh[4], const uint8_t qs[16], int e)
{
    uint32_t high = load_u32_le(qh);
    int low = e < 16 ? qs[e] & 0xf : qs[e - 16] >> 4;
    return low | (int)(((high >> e) & 1) << 4);
}

static void dequantize_q5_0(const BlockQ5_0 *b, float *y)
{
    float d = half(b->d);
    for (int e = 0; e < QK_LEGACY; e++)
        y[e] = (q5_quant(b->qh, b->qs, e) - 16) * d;
}

static void dequantize_q5_1(const BlockQ5_1 *b, float *y)
{
    float d = half(b->d), m = half(b->m);
    for (int e = 0; e < QK_LEGACY; e++)
        y[e] = q5_quant(b->qh, b->qs, e) * d + m;
}

static void dequantize_q8_0(const BlockQ8_0 *b, float *y)
{
    float d = half(b->d);
    for (int e = 0; e < QK_LEGACY; e++)
        y[e] = b->qs[e] * d;
}

static void dequantize_q8_1(const BlockQ8_1 *b, float *y)
{
    float d = half(b->d);
    for (int e = 0; e < QK_LEGACY; e++)
        y[e] = b->qs[e] * d;
}

// Q2_K: each 128-element half takes 32 bytes of qs; bit pair 2*s of qs[h*32 + l] is element
// h*128 + s*32 + l. Sub-block (16 elements) i uses scales[i].
static void dequantize_q2_k(const BlockQ2_K *b, float *y)
{
    float d = half(b->d), dmin = half(b->dmin);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32;
        int q = (b->qs[h * 32 + l] >> (2 * s)) & 3;
        uint8_t sc = b->scales[e / 16];
        y[e] = d * (sc & 0xf) * q - dmin * (sc >> 4);
    }
}

// Q3_K: the 2 low bits are laid out as in Q2_K; bit 2 of element h*128 + s*32 + l is bit
// (h*4 + s) of hmask[l], and a clear bit subtracts 4.
static void dequantize_q3_k(const BlockQ3_K *b, float *y)
{
    float d = half(b->d);
    int8_t scales[16];
    q3_k_scales(b->scales, scales);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32;
        int q = (b->qs[h * 32 + l] >> (2 * s)) & 3;
        if (!((b->hmask[l] >> (h * 4 + s)) & 1))
            q -= 4;
        y[e] = d * scales[e / 16] * q;
    }
}

// Q4_K: each 64-element chunk c takes 32 bytes of qs: low nibbles are sub-block 2c,
// high nibbles sub-block 2c + 1.
static void dequantize_q4_k(const BlockQ4_K *b, float *y)
{
    float d = half(b->d), dmin = half(b->dmin);
    for (int e = 0; e < QK_K; e++) {
        int sub = e / 32, c = e / 64, l = e % 32;
        uint8_t byte = b->qs[c * 32 + l];
        int q = (sub & 1) ? byte >> 4 : byte & 0xf;
        uint8_t sc, m;
        k_scale_min(b->scales, sub, &sc, &m);
        y[e] = d * sc * q - dmin * m;
    }
}

// Q5_K: as Q4_K, plus bit 4 of sub-block i's element l in bit i of qh[l].
static void dequantize_q5_k(const BlockQ5_K *b, float *y)
{
    float d = half(b->d), dmin = half(b->dmin);
    for (int e = 0; e < QK_K; e++) {
        int sub = e / 32, c = e / 64, l = e % 32;
        uint8_t byte = b->qs[c * 32 + l];
        int q = (sub & 1) ? byte >> 4 : byte & 0xf;
        q |= ((b->qh[l] >> sub) & 1) << 4;
        uint8_t sc, m;
        k_scale_min(b->scales, sub, &sc, &m);
        y[e] = d * sc * q - dmin * m;
    }
}

// Q6_K: each 128-element half h takes 64 bytes of ql and 32 of qh. Element
// h*128 + s*32 + l (s = 0..3) has low bits in ql[h*64 + (s&1)*32 + l] (low nibble for
// s < 2, high nibble otherwise) and high bits at bit 2*s of qh[h*32 + l].
static void dequantize_q6_k(const BlockQ6_K *b, float *y)
{
    float d = half(b->d);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32;
        uint8_t low_byte = b->ql[h * 64 + (s & 1) * 32 + l];
        int low = s < 2 ? low_byte & 0xf : low_byte >> 4;
        int high = (b->qh[h * 32 + l] >> (2 * s)) & 3;
        y[e] = d * b->scales[e / 16] * ((low | (high << 4)) - 32);
    }
}

static void dequantize_q8_k(const BlockQ8_K *b, float *y)
{
    for (int e = 0; e < QK_K; e++)
        y[e] = b->d * b->qs[e];
}

void ponder_dequantize_row(PonderType type, const void *src, float *dst, int64_t n)
{
    const PonderTypeTraits *traits = ponder_type_traits(type);
    if (!traits)
        return;
    const uint8_t *p = src;
    if (type == PONDER_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    if (type == PONDER_TYPE_F16 || type == PONDER_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            dst[i] = type == PONDER_TYPE_F16 ? half(h) : ponder_bf16_to_fp32(h);
        }
        return;
    }
    int64_t blocks = n / traits->block_len;
    for (int64_t i = 0; i < blocks; i++, p += traits->block_bytes) {
        float *y = dst + i * traits->block_len;
        switch (type) {
        case PONDER_TYPE_Q4_0: dequantize_q4_0((const BlockQ4_0 *)p, y); break;
        case PONDER_TYPE_Q4_1: dequantize_q4_1((const BlockQ4_1 *)p, y); break;
        case PONDER_TYPE_Q5_0: dequantize_q5_0((const BlockQ5_0 *)p, y); break;
        case PONDER_TYPE_Q5_1: dequantize_q5_1((const BlockQ5_1 *)p, y); break;
        case PONDER_TYPE_Q8_0: dequantize_q8_0((const BlockQ8_0 *)p, y); break;
        case PONDER_TYPE_Q8_1: dequantize_q8_1((const BlockQ8_1 *)p, y); break;
        case PONDER_TYPE_Q2_K: dequantize_q2_k((const BlockQ2_K *)p, y); break;
        case PONDER_TYPE_Q3_K: dequantize_q3_k((const BlockQ3_K *)p, y); break;
        case PONDER_TYPE_Q4_K: dequantize_q4_k((const BlockQ4_K *)p, y); break;
        case PONDER_TYPE_Q5_K: dequantize_q5_k((const BlockQ5_K *)p, y); break;
        case PONDER_TYPE_Q6_K: dequantize_q6_k((const BlockQ6_K *)p, y); break;
        case PONDER_TYPE_Q8_K: dequantize_q8_k((const BlockQ8_K *)p, y); break;
        default: return;
        }
    }
}
