// Type traits of the ggml weight types (block lengths and byte sizes are the GGUF
// format's, so third-party files load) and the half-precision conversions.
#include "quant.h"

#include <string.h>

static const PonderTypeTraits type_traits[PONDER_TYPE_COUNT] = {
    [PONDER_TYPE_F32] = {"f32", 1, 4, true, PONDER_TYPE_F32},
    [PONDER_TYPE_F16] = {"f16", 1, 2, true, PONDER_TYPE_F32},
    [PONDER_TYPE_BF16] = {"bf16", 1, 2, true, PONDER_TYPE_F32},
    [PONDER_TYPE_Q4_0] = {"q4_0", QK_LEGACY, 18, true, PONDER_TYPE_Q8_0},
    [PONDER_TYPE_Q4_1] = {"q4_1", QK_LEGACY, 20, true, PONDER_TYPE_Q8_1},
    [PONDER_TYPE_Q5_0] = {"q5_0", QK_LEGACY, 22, true, PONDER_TYPE_Q8_0},
    [PONDER_TYPE_Q5_1] = {"q5_1", QK_LEGACY, 24, true, PONDER_TYPE_Q8_1},
    [PONDER_TYPE_Q8_0] = {"q8_0", QK_LEGACY, 34, true, PONDER_TYPE_Q8_0},
    [PONDER_TYPE_Q8_1] = {"q8_1", QK_LEGACY, 36, false, PONDER_TYPE_Q8_1},
    [PONDER_TYPE_Q2_K] = {"q2_K", QK_K, 84, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_Q3_K] = {"q3_K", QK_K, 110, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_Q4_K] = {"q4_K", QK_K, 144, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_Q5_K] = {"q5_K", QK_K, 176, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_Q6_K] = {"q6_K", QK_K, 210, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_Q8_K] = {"q8_K", QK_K, 292, false, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_IQ2_XXS] = {"iq2_xxs", QK_K, 66, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_IQ2_XS] = {"iq2_xs", QK_K, 74, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_IQ2_S] = {"iq2_s", QK_K, 82, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_IQ3_XXS] = {"iq3_xxs", QK_K, 98, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_IQ3_S] = {"iq3_s", QK_K, 110, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_IQ1_S] = {"iq1_s", QK_K, 50, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_IQ1_M] = {"iq1_m", QK_K, 56, true, PONDER_TYPE_Q8_K},
    [PONDER_TYPE_IQ4_NL] = {"iq4_nl", QK_LEGACY, 18, true, PONDER_TYPE_Q8_0},
    [PONDER_TYPE_IQ4_XS] = {"iq4_xs", QK_K, 136, true, PONDER_TYPE_Q8_K},
};

const PonderTypeTraits *ponder_type_traits(uint32_t type)
{
    if (type >= PONDER_TYPE_COUNT || type_traits[type].name == NULL)
        return NULL;
    return &type_traits[type];
}

bool ponder_row_bytes(uint32_t type, uint64_t n, uint64_t *out_bytes)
{
    const PonderTypeTraits *t = ponder_type_traits(type);
    if (!t || n % t->block_len != 0)
        return false;
    uint64_t blocks = n / t->block_len;
    if (blocks > UINT64_MAX / t->block_bytes)
        return false;
    *out_bytes = blocks * t->block_bytes;
    return true;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float ponder_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    if (exponent == 0x1f) // inf / nan
        return bits_float(sign | 0x7f800000 | (mantissa << 13));
    if (exponent == 0) {
        // zero or subnormal: mantissa * 2^-24, exact in float
        float magnitude = (float)mantissa * 5.9604644775390625e-8f;
        return sign ? -magnitude : magnitude;
    }
    return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t ponder_fp32_to_fp16(float f)
{
    uint32_t u = float_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t abs_bits = u & 0x7fffffff;
    if (abs_bits >= 0x7f800000) // inf / nan (keep nan quiet)
        return sign | 0x7c00 | (abs_bits > 0x7f800000 ? 0x200 : 0);
    if (abs_bits >= 0x477ff000) // rounds to >= 65536: overflow to inf
        return sign | 0x7c00;
    if (abs_bits < 0x38800000) {
        // result is subnormal (or zero): round |f| / 2^-24 to nearest even
        float magnitude = bits_float(abs_bits) * 16777216.0f; // exact: power-of-two scale
        uint32_t q = (uint32_t)magnitude;
        float rest = magnitude - (float)q;
        if (rest > 0.5f || (rest == 0.5f && (q & 1)))
            q++;
        return sign | (uint16_t)q;
    }
    // normal: rebias the exponent and round the mantissa to 10 bits, nearest even
    uint32_t rounded = abs_bits + 0xfff + ((abs_bits >> 13) & 1);
    return sign | (uint16_t)((rounded - 0x38000000) >> 13);
}

float ponder_bf16_to_fp32(uint16_t h)
{
    return bits_float((uint32_t)h << 16);
}

uint16_t ponder_fp32_to_bf16(float f)
{
    uint32_t u = float_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) // nan: keep it nan
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}
