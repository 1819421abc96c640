// Reference dequantizers: block -> float. These are the readable definition of every
// layout in quant-blocks.h; the quantizers and all dot kernels must agree with them.
#include "quant-iq.h"

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

// ---- IQ types: element values are scale * (codebook entry with signs applied) ----

// Element J of a uint64 (8-element) or uint32 (4-element) grid entry.
static int grid_byte(uint64_t entry, int j)
{
    return (int)((entry >> (8 * j)) & 0xff);
}

static float signed_by(int bit, float v)
{
    return bit ? -v : v;
}

// IQ2_XXS: per 32 elements two u32 words: 4 grid indices (one byte each, 8 elements per
// index); then 4 x 7 sign bits and a 4-bit scale s in the top bits: d * (0.5 + s) / 4.
static void dequantize_iq2_xxs(const BlockIQ2_XXS *b, float *y)
{
    float d = half(b->d);
    const uint8_t *qs = (const uint8_t *)b->qs;
    for (int ib = 0; ib < 8; ib++) {
        uint32_t index = load_u32_le(qs + 8 * ib), meta = load_u32_le(qs + 8 * ib + 4);
        float db = d * (0.5f + (float)(meta >> 28)) * 0.25f;
        for (int l = 0; l < 4; l++) {
            uint64_t grid = iq2xxs_grid[(index >> (8 * l)) & 0xff];
            uint8_t signs = iq_signs8(meta >> (7 * l));
            for (int j = 0; j < 8; j++)
                y[32 * ib + 8 * l + j] =
                    signed_by((signs >> j) & 1, db * (float)grid_byte(grid, j));
        }
    }
}

// IQ2_XS: per 8 elements a u16 of 9-bit grid index and 7 sign bits; per 16 a 4-bit scale.
static void dequantize_iq2_xs(const BlockIQ2_XS *b, float *y)
{
    float d = half(b->d);
    for (int ib = 0; ib < 8; ib++) {
        float db[2] = {d * (0.5f + (float)(b->scales[ib] & 0xf)) * 0.25f,
                       d * (0.5f + (float)(b->scales[ib] >> 4)) * 0.25f};
        for (int l = 0; l < 4; l++) {
            uint16_t v = load_u16_le((const uint8_t *)&b->qs[4 * ib + l]);
            uint64_t grid = iq2xs_grid[v & 511];
            uint8_t signs = iq_signs8(v >> 9);
            for (int j = 0; j < 8; j++)
                y[32 * ib + 8 * l + j] =
                    signed_by((signs >> j) & 1, db[l / 2] * (float)grid_byte(grid, j));
        }
    }
}

// IQ2_S: 10-bit grid indices (low byte in qs[0..31], two high bits per index in qh), a full
// sign byte per 8 elements in qs[32..63], 4-bit scales per 16 as in IQ2_XS.
static void dequantize_iq2_s(const BlockIQ2_S *b, float *y)
{
    float d = half(b->d);
    for (int ib = 0; ib < 8; ib++) {
        float db[2] = {d * (0.5f + (float)(b->scales[ib] & 0xf)) * 0.25f,
                       d * (0.5f + (float)(b->scales[ib] >> 4)) * 0.25f};
        for (int l = 0; l < 4; l++) {
            uint64_t grid = iq2s_grid[b->qs[4 * ib + l] | ((b->qh[ib] << (8 - 2 * l)) & 0x300)];
            uint8_t signs = b->qs[32 + 4 * ib + l];
            for (int j = 0; j < 8; j++)
                y[32 * ib + 8 * l + j] =
                    signed_by((signs >> j) & 1, db[l / 2] * (float)grid_byte(grid, j));
        }
    }
}

// Eight values of the IQ3 types: the four grid bytes of GRID1 then GRID2, scaled by DB and
// negated where SIGNS has the element's bit.
static void write_signed_grid_pair(float *y, float db, uint32_t grid1, uint32_t grid2,
                                   uint8_t signs)
{
    for (int j = 0; j < 4; j++) {
        y[j] = signed_by((signs >> j) & 1, db * (float)grid_byte(grid1, j));
        y[4 + j] = signed_by((signs >> (j + 4)) & 1, db * (float)grid_byte(grid2, j));
    }
}

// IQ3_XXS: 64 one-byte indices into a grid of 4 elements; per 32 a u32 of 4 x 7 sign bits
// and a 4-bit scale: d * (0.5 + s) / 2.
static void dequantize_iq3_xxs(const BlockIQ3_XXS *b, float *y)
{
    float d = half(b->d);
    for (int ib = 0; ib < 8; ib++) {
        uint32_t meta = load_u32_le(b->qs + 64 + 4 * ib);
        float db = d * (0.5f + (float)(meta >> 28)) * 0.5f;
        for (int l = 0; l < 4; l++) {
            uint8_t signs = iq_signs8(meta >> (7 * l));
            uint32_t grid1 = iq3xxs_grid[b->qs[8 * ib + 2 * l]];
            uint32_t grid2 = iq3xxs_grid[b->qs[8 * ib + 2 * l + 1]];
            write_signed_grid_pair(y + 32 * ib + 8 * l, db, grid1, grid2, signs);
        }
    }
}

// IQ3_S: 9-bit indices (bit 8 in qh) into a grid of 4 odd values, one sign bit per
// element, a 4-bit scale per 32: d * (1 + 2s).
static void dequantize_iq3_s(const BlockIQ3_S *b, float *y)
{
    float d = half(b->d);
    for (int ib = 0; ib < 8; ib++) {
        float db = d * (float)(1 + 2 * ((b->scales[ib / 2] >> (4 * (ib % 2))) & 0xf));
        for (int l = 0; l < 4; l++) {
            uint32_t grid1 = iq3s_grid[b->qs[8 * ib + 2 * l] | ((b->qh[ib] << (8 - 2 * l)) & 256)];
            uint32_t grid2 =
                iq3s_grid[b->qs[8 * ib + 2 * l + 1] | ((b->qh[ib] << (7 - 2 * l)) & 256)];
            uint8_t signs = b->signs[4 * ib + l];
            write_signed_grid_pair(y + 32 * ib + 8 * l, db, grid1, grid2, signs);
        }
    }
}

// IQ1_S: 11-bit indices into a grid of -1/0/+1 octets; per 32 a u16 with the 4 x 3 high
// index bits, a 3-bit scale (d * (2s + 1)) and the sign of a delta added to every value.
static void dequantize_iq1_s(const BlockIQ1_S *b, float *y)
{
    float d = half(b->d);
    for (int ib = 0; ib < 8; ib++) {
        uint16_t h = load_u16_le((const uint8_t *)&b->qh[ib]);
        float dl = d * (float)(2 * ((h >> 12) & 7) + 1);
        float delta = h & 0x8000 ? -IQ1S_DELTA : IQ1S_DELTA;
        for (int l = 0; l < 4; l++) {
            uint64_t grid = iq1s_grid[b->qs[4 * ib + l] | ((h >> (3 * l)) & 7) << 8];
            for (int j = 0; j < 8; j++)
                y[32 * ib + 8 * l + j] = dl * ((float)(int8_t)grid_byte(grid, j) + delta);
        }
    }
}

// IQ1_M: IQ1_S's grid; per 8 elements 3 high index bits and the delta's sign in a nibble
// of qh; 3-bit scales per 16 in the 4 u16 scale words, whose top nibbles hold fp16 d.
static void dequantize_iq1_m(const BlockIQ1_M *b, float *y)
{
    float d = half(iq1m_d_bits(b));
    for (int ib = 0; ib < 8; ib++) {
        uint16_t sw = load_u16_le(b->scales + 2 * (ib / 2));
        float dl[2] = {d * (float)(2 * ((sw >> (6 * (ib % 2))) & 7) + 1),
                       d * (float)(2 * ((sw >> (6 * (ib % 2) + 3)) & 7) + 1)};
        for (int l = 0; l < 4; l++) {
            int nibble = (b->qh[2 * ib + l / 2] >> (4 * (l % 2))) & 0xf;
            uint64_t grid = iq1s_grid[b->qs[4 * ib + l] | (nibble & 7) << 8];
            float delta = nibble & 8 ? -IQ1S_DELTA : IQ1S_DELTA;
            for (int j = 0; j < 8; j++)
                y[32 * ib + 8 * l + j] = dl[l / 2] * ((float)(int8_t)grid_byte(grid, j) + delta);
        }
    }
}

// IQ4_NL: Q4_0's nibble order, each nibble an index into the 16 non-uniform levels.
static void dequantize_iq4_nl(const BlockIQ4_NL *b, float *y)
{
    float d = half(b->d);
    for (int j = 0; j < 16; j++) {
        y[j] = d * kvalues_iq4nl[b->qs[j] & 0xf];
        y[j + 16] = d * kvalues_iq4nl[b->qs[j] >> 4];
    }
}

// IQ4_XS: 8 blocks of IQ4_NL sharing one fp16 d, each with a 6-bit scale (stored + 32).
static void dequantize_iq4_xs(const BlockIQ4_XS *b, float *y)
{
    float d = half(b->d);
    for (int ib = 0; ib < 8; ib++) {
        int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | ((b->scales_h >> (2 * ib)) & 3)
                                                                       << 4;
        float dl = d * (float)(ls - 32);
        for (int j = 0; j < 16; j++) {
            y[32 * ib + j] = dl * kvalues_iq4nl[b->qs[16 * ib + j] & 0xf];
            y[32 * ib + 16 + j] = dl * kvalues_iq4nl[b->qs[16 * ib + j] >> 4];
        }
    }
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
        case PONDER_TYPE_IQ2_XXS: dequantize_iq2_xxs((const BlockIQ2_XXS *)p, y); break;
        case PONDER_TYPE_IQ2_XS: dequantize_iq2_xs((const BlockIQ2_XS *)p, y); break;
        case PONDER_TYPE_IQ2_S: dequantize_iq2_s((const BlockIQ2_S *)p, y); break;
        case PONDER_TYPE_IQ3_XXS: dequantize_iq3_xxs((const BlockIQ3_XXS *)p, y); break;
        case PONDER_TYPE_IQ3_S: dequantize_iq3_s((const BlockIQ3_S *)p, y); break;
        case PONDER_TYPE_IQ1_S: dequantize_iq1_s((const BlockIQ1_S *)p, y); break;
        case PONDER_TYPE_IQ1_M: dequantize_iq1_m((const BlockIQ1_M *)p, y); break;
        case PONDER_TYPE_IQ4_NL: dequantize_iq4_nl((const BlockIQ4_NL *)p, y); break;
        case PONDER_TYPE_IQ4_XS: dequantize_iq4_xs((const BlockIQ4_XS *)p, y); break;
        default: return;
        }
    }
}
