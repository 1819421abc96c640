// The codebooks of the IQ weight types, and the unpacking of an IQ super-block into small
// signed integers that every dot kernel shares.
//
// The grids are format constants (generated into iq-grids/*.inc by tools/gen-iq-grids.py):
// entry i of a uint64 grid holds 8 elements, byte j = element j; uint32 grids hold 4. The
// IQ2/IQ3 grids are unsigned magnitudes with separate sign bits; IQ1's are int8 -1/0/+1.
// Every index a block can hold is inside its grid (8/9/10/8/9/11-bit indices into tables of
// 256/512/1024/256/512/2048 entries), so no block, however hostile, reads outside a table.
#pragma once

#include "quant-blocks.h"

extern const uint64_t iq2xxs_grid[256];
extern const uint64_t iq2xs_grid[512];
extern const uint64_t iq2s_grid[1024];
extern const uint32_t iq3xxs_grid[256];
extern const uint32_t iq3s_grid[512];
extern const uint64_t iq1s_grid[2048];
// The 16 levels of IQ4_NL / IQ4_XS.
extern const int8_t kvalues_iq4nl[16];

// IQ1 grid values are -1/0/+1 shifted by this delta (sign per group) before scaling.
#define IQ1S_DELTA 0.125f

// Sign bits of 8 elements from the 7 stored ones: the eighth makes the number of set bits
// even (ggml's ksigns_iq2xs table, computed).
static inline uint8_t iq_signs8(uint32_t seven)
{
    seven &= 127;
    return (uint8_t)(seven | (uint32_t)__builtin_parity(seven) << 7);
}

static inline uint16_t load_u16_le(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

// fp16 d of an IQ1_M block: the top nibbles of its four 16-bit scale words.
static inline uint16_t iq1m_d_bits(const BlockIQ1_M *b)
{
    uint16_t s0 = load_u16_le(b->scales), s1 = load_u16_le(b->scales + 2),
             s2 = load_u16_le(b->scales + 4), s3 = load_u16_le(b->scales + 6);
    return (uint16_t)((s0 >> 12) | ((s1 >> 8) & 0x00f0) | ((s2 >> 4) & 0x0f00) | (s3 & 0xf000));
}

// A super-block as integers: element e is factor * sc[e / 16] * q[e] with fp16-exact
// FACTOR_BITS (an fp16 scale of the block) times FACTOR_SCALE (a power of two).
typedef struct IqUnpacked {
    int8_t q[QK_K];
    int16_t sc[QK_K / 16];
    uint16_t factor_bits; // fp16
    float factor_scale;   // 1, 1/4 or 1/8
} IqUnpacked;

static inline void iq_put8(int8_t *q, uint64_t grid, uint8_t signs)
{
    for (int j = 0; j < 8; j++) {
        int v = (int)((grid >> (8 * j)) & 0xff);
        q[j] = (int8_t)((signs >> j) & 1 ? -v : v);
    }
}

static inline void iq_put4(int8_t *q, uint32_t grid, uint8_t signs)
{
    for (int j = 0; j < 4; j++) {
        int v = (int)((grid >> (8 * j)) & 0xff);
        q[j] = (int8_t)((signs >> j) & 1 ? -v : v);
    }
}

// IQ1 groups: 8 * grid value (-1/0/+1) plus the delta's sign, so values are -9..9.
static inline void iq1_put8(int8_t *q, uint64_t grid, bool negative_delta)
{
    for (int j = 0; j < 8; j++)
        q[j] = (int8_t)(8 * (int8_t)(grid >> (8 * j)) + (negative_delta ? -1 : 1));
}

// Unpacks one block of a 256-element IQ type; false for other types.
static inline bool iq_unpack(PonderType type, const void *block, IqUnpacked *u)
{
    u->factor_bits = 0, u->factor_scale = 0;
    switch (type) {
    case PONDER_TYPE_IQ2_XXS: {
        const BlockIQ2_XXS *b = block;
        const uint8_t *qs = (const uint8_t *)b->qs;
        u->factor_bits = b->d, u->factor_scale = 0.125f;
        for (int ib = 0; ib < 8; ib++) {
            uint32_t index = load_u32_le(qs + 8 * ib), meta = load_u32_le(qs + 8 * ib + 4);
            u->sc[2 * ib] = u->sc[2 * ib + 1] = (int16_t)(2 * (meta >> 28) + 1);
            for (int l = 0; l < 4; l++)
                iq_put8(u->q + 32 * ib + 8 * l, iq2xxs_grid[(index >> (8 * l)) & 0xff],
                        iq_signs8(meta >> (7 * l)));
        }
        return true;
    }
    case PONDER_TYPE_IQ2_XS: {
        const BlockIQ2_XS *b = block;
        u->factor_bits = b->d, u->factor_scale = 0.125f;
        for (int ib = 0; ib < 8; ib++) {
            u->sc[2 * ib] = (int16_t)(2 * (b->scales[ib] & 0xf) + 1);
            u->sc[2 * ib + 1] = (int16_t)(2 * (b->scales[ib] >> 4) + 1);
            for (int l = 0; l < 4; l++) {
                uint16_t v = load_u16_le((const uint8_t *)&b->qs[4 * ib + l]);
                iq_put8(u->q + 32 * ib + 8 * l, iq2xs_grid[v & 511], iq_signs8(v >> 9));
            }
        }
        return true;
    }
    case PONDER_TYPE_IQ2_S: {
        const BlockIQ2_S *b = block;
        u->factor_bits = b->d, u->factor_scale = 0.125f;
        for (int ib = 0; ib < 8; ib++) {
            u->sc[2 * ib] = (int16_t)(2 * (b->scales[ib] & 0xf) + 1);
            u->sc[2 * ib + 1] = (int16_t)(2 * (b->scales[ib] >> 4) + 1);
            for (int l = 0; l < 4; l++) {
                int index = b->qs[4 * ib + l] | ((b->qh[ib] >> (2 * l)) & 3) << 8;
                iq_put8(u->q + 32 * ib + 8 * l, iq2s_grid[index], b->qs[32 + 4 * ib + l]);
            }
        }
        return true;
    }
    case PONDER_TYPE_IQ3_XXS: {
        const BlockIQ3_XXS *b = block;
        u->factor_bits = b->d, u->factor_scale = 0.25f;
        for (int ib = 0; ib < 8; ib++) {
            uint32_t meta = load_u32_le(b->qs + 64 + 4 * ib);
            u->sc[2 * ib] = u->sc[2 * ib + 1] = (int16_t)(2 * (meta >> 28) + 1);
            for (int l = 0; l < 4; l++) {
                uint8_t signs = iq_signs8(meta >> (7 * l));
                int8_t *q = u->q + 32 * ib + 8 * l;
                iq_put4(q, iq3xxs_grid[b->qs[8 * ib + 2 * l]], signs);
                iq_put4(q + 4, iq3xxs_grid[b->qs[8 * ib + 2 * l + 1]], (uint8_t)(signs >> 4));
            }
        }
        return true;
    }
    case PONDER_TYPE_IQ3_S: {
        const BlockIQ3_S *b = block;
        u->factor_bits = b->d, u->factor_scale = 1.0f;
        for (int ib = 0; ib < 8; ib++) {
            int nibble = (b->scales[ib / 2] >> (4 * (ib & 1))) & 0xf;
            u->sc[2 * ib] = u->sc[2 * ib + 1] = (int16_t)(2 * nibble + 1);
            for (int k = 0; k < 8; k++) {
                int index = b->qs[8 * ib + k] | ((b->qh[ib] >> k) & 1) << 8;
                uint8_t signs = b->signs[4 * ib + k / 2];
                iq_put4(u->q + 32 * ib + 4 * k, iq3s_grid[index],
                        (uint8_t)(signs >> (4 * (k & 1))));
            }
        }
        return true;
    }
    case PONDER_TYPE_IQ1_S: {
        const BlockIQ1_S *b = block;
        u->factor_bits = b->d, u->factor_scale = 0.125f;
        for (int ib = 0; ib < 8; ib++) {
            uint16_t h = load_u16_le((const uint8_t *)&b->qh[ib]);
            u->sc[2 * ib] = u->sc[2 * ib + 1] = (int16_t)(2 * ((h >> 12) & 7) + 1);
            for (int l = 0; l < 4; l++) {
                int index = b->qs[4 * ib + l] | ((h >> (3 * l)) & 7) << 8;
                iq1_put8(u->q + 32 * ib + 8 * l, iq1s_grid[index], h & 0x8000);
            }
        }
        return true;
    }
    case PONDER_TYPE_IQ1_M: {
        const BlockIQ1_M *b = block;
        u->factor_bits = iq1m_d_bits(b), u->factor_scale = 0.125f;
        for (int ib = 0; ib < 8; ib++) {
            uint16_t sw = load_u16_le(b->scales + 2 * (ib / 2));
            int shift = 6 * (ib % 2);
            u->sc[2 * ib] = (int16_t)(2 * ((sw >> shift) & 7) + 1);
            u->sc[2 * ib + 1] = (int16_t)(2 * ((sw >> (shift + 3)) & 7) + 1);
            for (int l = 0; l < 4; l++) {
                uint8_t h = (uint8_t)(b->qh[2 * ib + l / 2] >> (4 * (l & 1)));
                int index = b->qs[4 * ib + l] | (h & 7) << 8;
                iq1_put8(u->q + 32 * ib + 8 * l, iq1s_grid[index], h & 8);
            }
        }
        return true;
    }
    case PONDER_TYPE_IQ4_XS: {
        const BlockIQ4_XS *b = block;
        u->factor_bits = b->d, u->factor_scale = 1.0f;
        for (int ib = 0; ib < 8; ib++) {
            int ls = ((b->scales_l[ib / 2] >> (4 * (ib & 1))) & 0xf) |
                     ((b->scales_h >> (2 * ib)) & 3) << 4;
            u->sc[2 * ib] = u->sc[2 * ib + 1] = (int16_t)(ls - 32);
            for (int j = 0; j < 16; j++) {
                u->q[32 * ib + j] = kvalues_iq4nl[b->qs[16 * ib + j] & 0xf];
                u->q[32 * ib + 16 + j] = kvalues_iq4nl[b->qs[16 * ib + j] >> 4];
            }
        }
        return true;
    }
    default: return false;
    }
}
