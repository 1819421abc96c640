// Portable dot products: the reference every SIMD kernel is tested against.
//
// Inside a block everything is integer arithmetic (quants times 8-bit activations, then
// times the integer sub-block scales), exactly as the SIMD kernels do it; the float
// scales are applied once per block. So SIMD and scalar results differ only by the order
// of the float additions across blocks.
#include "quant-iq.h"
#include "quant-kernels.h"

static float half(uint16_t h)
{
    return ponder_fp16_to_fp32(h);
}

static int dot_i8(const int8_t *a, const int8_t *b, int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

// ---- Float weights with float activations (double sums: this is the reference) ----

static float dot_f32(const void *w, const void *x, int64_t n)
{
    const float *a = w, *b = x;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)a[i] * b[i];
    return (float)sum;
}

static float dot_f16(const void *w, const void *x, int64_t n)
{
    const uint16_t *a = w;
    const float *b = x;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)half(a[i]) * b[i];
    return (float)sum;
}

static float dot_bf16(const void *w, const void *x, int64_t n)
{
    const uint16_t *a = w;
    const float *b = x;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)ponder_bf16_to_fp32(a[i]) * b[i];
    return (float)sum;
}

// ---- Legacy quants with Q8_0 / Q8_1 activations ----

// The 32 quants of a legacy 4-bit block, before any offset.
static void unpack_nibbles(const uint8_t qs[16], int8_t q[32])
{
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(qs[j] & 0xf);
        q[j + 16] = (int8_t)(qs[j] >> 4);
    }
}

static void unpack_q5(const uint8_t qh[4], const uint8_t qs[16], int8_t q[32])
{
    uint32_t high = load_u32_le(qh);
    unpack_nibbles(qs, q);
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)(q[j] | ((high >> j) & 1) << 4);
}

static float dot_q4_0(const void *w, const void *x, int64_t n)
{
    const BlockQ4_0 *a = w;
    const BlockQ8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8_t q[32];
        unpack_nibbles(a[i].qs, q);
        for (int j = 0; j < 32; j++)
            q[j] = (int8_t)(q[j] - 8);
        sum += half(a[i].d) * half(b[i].d) * (float)dot_i8(q, b[i].qs, 32);
    }
    return sum;
}

static float dot_q4_1(const void *w, const void *x, int64_t n)
{
    const BlockQ4_1 *a = w;
    const BlockQ8_1 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8_t q[32];
        unpack_nibbles(a[i].qs, q);
        float dx = half(b[i].d);
        sum += half(a[i].d) * dx * (float)dot_i8(q, b[i].qs, 32) + half(a[i].m) * dx * b[i].sum;
    }
    return sum;
}

static float dot_q5_0(const void *w, const void *x, int64_t n)
{
    const BlockQ5_0 *a = w;
    const BlockQ8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8_t q[32];
        unpack_q5(a[i].qh, a[i].qs, q);
        for (int j = 0; j < 32; j++)
            q[j] = (int8_t)(q[j] - 16);
        sum += half(a[i].d) * half(b[i].d) * (float)dot_i8(q, b[i].qs, 32);
    }
    return sum;
}

static float dot_q5_1(const void *w, const void *x, int64_t n)
{
    const BlockQ5_1 *a = w;
    const BlockQ8_1 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8_t q[32];
        unpack_q5(a[i].qh, a[i].qs, q);
        float dx = half(b[i].d);
        sum += half(a[i].d) * dx * (float)dot_i8(q, b[i].qs, 32) + half(a[i].m) * dx * b[i].sum;
    }
    return sum;
}

static float dot_q8_0(const void *w, const void *x, int64_t n)
{
    const BlockQ8_0 *a = w;
    const BlockQ8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_LEGACY; i++)
        sum += half(a[i].d) * half(b[i].d) * (float)dot_i8(a[i].qs, b[i].qs, 32);
    return sum;
}

// ---- K-quants with Q8_K activations ----

// Unsigned 2-bit quants of Q2_K/Q3_K: element h*128 + s*32 + l at bit 2*s of qs[h*32 + l].
static void unpack_two_bit(const uint8_t qs[64], int8_t q[QK_K])
{
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, s = (e % 128) / 32, l = e % 32;
        q[e] = (int8_t)((qs[h * 32 + l] >> (2 * s)) & 3);
    }
}

// Q4_K/Q5_K low nibbles: element 64c + l (l < 32) low nibble of qs[32c + l], 64c + 32 + l high.
static void unpack_k_nibbles(const uint8_t qs[128], int8_t q[QK_K])
{
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)(qs[32 * c + l] & 0xf);
            q[64 * c + 32 + l] = (int8_t)(qs[32 * c + l] >> 4);
        }
}

static float dot_q2_k(const void *w, const void *x, int64_t n)
{
    const BlockQ2_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K];
        unpack_two_bit(a[i].qs, q);
        int scaled = 0, mins = 0;
        for (int j = 0; j < 16; j++) {
            scaled += (a[i].scales[j] & 0xf) * dot_i8(q + 16 * j, b[i].qs + 16 * j, 16);
            mins += (a[i].scales[j] >> 4) * b[i].bsums[j];
        }
        sum += b[i].d * (half(a[i].d) * (float)scaled - half(a[i].dmin) * (float)mins);
    }
    return sum;
}

static float dot_q3_k(const void *w, const void *x, int64_t n)
{
    const BlockQ3_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K], scales[16];
        unpack_two_bit(a[i].qs, q);
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, s = (e % 128) / 32, l = e % 32;
            if (!((a[i].hmask[l] >> (h * 4 + s)) & 1))
                q[e] = (int8_t)(q[e] - 4);
        }
        q3_k_scales(a[i].scales, scales);
        int scaled = 0;
        for (int j = 0; j < 16; j++)
            scaled += scales[j] * dot_i8(q + 16 * j, b[i].qs + 16 * j, 16);
        sum += b[i].d * half(a[i].d) * (float)scaled;
    }
    return sum;
}

// Shared by Q4_K and Q5_K once the quants are unpacked.
static float k_affine_block_dot(const int8_t q[QK_K], const uint8_t packed_scales[12], uint16_t d,
                                uint16_t dmin, const BlockQ8_K *b)
{
    int scaled = 0, mins = 0;
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        k_scale_min(packed_scales, j, &sc, &m);
        scaled += sc * dot_i8(q + 32 * j, b->qs + 32 * j, 32);
        mins += m * (b->bsums[2 * j] + b->bsums[2 * j + 1]);
    }
    return b->d * (half(d) * (float)scaled - half(dmin) * (float)mins);
}

static float dot_q4_k(const void *w, const void *x, int64_t n)
{
    const BlockQ4_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K];
        unpack_k_nibbles(a[i].qs, q);
        sum += k_affine_block_dot(q, a[i].scales, a[i].d, a[i].dmin, &b[i]);
    }
    return sum;
}

static float dot_q5_k(const void *w, const void *x, int64_t n)
{
    const BlockQ5_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K];
        unpack_k_nibbles(a[i].qs, q);
        for (int e = 0; e < QK_K; e++)
            q[e] = (int8_t)(q[e] | ((a[i].qh[e % 32] >> (e / 32)) & 1) << 4);
        sum += k_affine_block_dot(q, a[i].scales, a[i].d, a[i].dmin, &b[i]);
    }
    return sum;
}

static float dot_q6_k(const void *w, const void *x, int64_t n)
{
    const BlockQ6_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K];
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, s = (e % 128) / 32, l = e % 32;
            uint8_t low_byte = a[i].ql[h * 64 + (s & 1) * 32 + l];
            int low = s < 2 ? low_byte & 0xf : low_byte >> 4;
            int high = (a[i].qh[h * 32 + l] >> (2 * s)) & 3;
            q[e] = (int8_t)((low | high << 4) - 32);
        }
        int scaled = 0;
        for (int j = 0; j < 16; j++)
            scaled += a[i].scales[j] * dot_i8(q + 16 * j, b[i].qs + 16 * j, 16);
        sum += b[i].d * half(a[i].d) * (float)scaled;
    }
    return sum;
}

// ---- IQ types ----

static float dot_iq4_nl(const void *w, const void *x, int64_t n)
{
    const BlockIQ4_NL *a = w;
    const BlockQ8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8_t q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = kvalues_iq4nl[a[i].qs[j] & 0xf];
            q[j + 16] = kvalues_iq4nl[a[i].qs[j] >> 4];
        }
        sum += half(a[i].d) * half(b[i].d) * (float)dot_i8(q, b[i].qs, 32);
    }
    return sum;
}

// The 256-element IQ types, through the shared unpacking (quant-iq.h).
static inline float iq_dot(PonderType type, const void *w, size_t block_bytes, const BlockQ8_K *b,
                           int64_t n)
{
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        IqUnpacked u;
        iq_unpack(type, (const uint8_t *)w + (size_t)i * block_bytes, &u);
        int scaled = 0;
        for (int j = 0; j < 16; j++)
            scaled += u.sc[j] * dot_i8(u.q + 16 * j, b[i].qs + 16 * j, 16);
        sum += b[i].d * (half(u.factor_bits) * u.factor_scale) * (float)scaled;
    }
    return sum;
}

#define DEFINE_IQ_DOT(NAME, TYPE, BLOCK)                                                           \
    static float NAME(const void *w, const void *x, int64_t n)                                     \
    {                                                                                              \
        return iq_dot(TYPE, w, sizeof(BLOCK), x, n);                                               \
    }

DEFINE_IQ_DOT(dot_iq2_xxs, PONDER_TYPE_IQ2_XXS, BlockIQ2_XXS)
DEFINE_IQ_DOT(dot_iq2_xs, PONDER_TYPE_IQ2_XS, BlockIQ2_XS)
DEFINE_IQ_DOT(dot_iq2_s, PONDER_TYPE_IQ2_S, BlockIQ2_S)
DEFINE_IQ_DOT(dot_iq3_xxs, PONDER_TYPE_IQ3_XXS, BlockIQ3_XXS)
DEFINE_IQ_DOT(dot_iq3_s, PONDER_TYPE_IQ3_S, BlockIQ3_S)
DEFINE_IQ_DOT(dot_iq1_s, PONDER_TYPE_IQ1_S, BlockIQ1_S)
DEFINE_IQ_DOT(dot_iq1_m, PONDER_TYPE_IQ1_M, BlockIQ1_M)
DEFINE_IQ_DOT(dot_iq4_xs, PONDER_TYPE_IQ4_XS, BlockIQ4_XS)

PonderVecDot ponder_vec_dot_scalar(PonderType type)
{
    switch (type) {
    case PONDER_TYPE_F32: return dot_f32;
    case PONDER_TYPE_F16: return dot_f16;
    case PONDER_TYPE_BF16: return dot_bf16;
    case PONDER_TYPE_Q4_0: return dot_q4_0;
    case PONDER_TYPE_Q4_1: return dot_q4_1;
    case PONDER_TYPE_Q5_0: return dot_q5_0;
    case PONDER_TYPE_Q5_1: return dot_q5_1;
    case PONDER_TYPE_Q8_0: return dot_q8_0;
    case PONDER_TYPE_Q2_K: return dot_q2_k;
    case PONDER_TYPE_Q3_K: return dot_q3_k;
    case PONDER_TYPE_Q4_K: return dot_q4_k;
    case PONDER_TYPE_Q5_K: return dot_q5_k;
    case PONDER_TYPE_Q6_K: return dot_q6_k;
    case PONDER_TYPE_IQ2_XXS: return dot_iq2_xxs;
    case PONDER_TYPE_IQ2_XS: return dot_iq2_xs;
    case PONDER_TYPE_IQ2_S: return dot_iq2_s;
    case PONDER_TYPE_IQ3_XXS: return dot_iq3_xxs;
    case PONDER_TYPE_IQ3_S: return dot_iq3_s;
    case PONDER_TYPE_IQ1_S: return dot_iq1_s;
    case PONDER_TYPE_IQ1_M: return dot_iq1_m;
    case PONDER_TYPE_IQ4_NL: return dot_iq4_nl;
    case PONDER_TYPE_IQ4_XS: return dot_iq4_xs;
    default: return NULL;
    }
}

// Rows are the outer loop so a weight row stays in L1 while every column passes over it.
void quant_gemm_by_dot(PonderVecDot dot, const void *w, size_t w_stride, int n_rows, const void *x,
                       size_t x_stride, int n_cols, int64_t k, float *out, size_t out_stride)
{
    for (int r = 0; r < n_rows; r++) {
        const char *w_row = (const char *)w + (size_t)r * w_stride;
        for (int c = 0; c < n_cols; c++)
            out[(size_t)c * out_stride + r] = dot(w_row, (const char *)x + (size_t)c * x_stride, k);
    }
}

QUANT_DEFINE_GEMM_FROM_DOT(gemm_f32, dot_f32)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_f16, dot_f16)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_bf16, dot_bf16)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q4_0, dot_q4_0)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q4_1, dot_q4_1)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q5_0, dot_q5_0)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q5_1, dot_q5_1)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q8_0, dot_q8_0)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q2_k, dot_q2_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q3_k, dot_q3_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q4_k, dot_q4_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q5_k, dot_q5_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_q6_k, dot_q6_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_iq2_xxs, dot_iq2_xxs)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_iq2_xs, dot_iq2_xs)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_iq2_s, dot_iq2_s)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_iq3_xxs, dot_iq3_xxs)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_iq3_s, dot_iq3_s)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_iq1_s, dot_iq1_s)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_iq1_m, dot_iq1_m)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_iq4_nl, dot_iq4_nl)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_iq4_xs, dot_iq4_xs)

PonderGemm quant_gemm_scalar(PonderType type)
{
    switch (type) {
    case PONDER_TYPE_F32: return gemm_f32;
    case PONDER_TYPE_F16: return gemm_f16;
    case PONDER_TYPE_BF16: return gemm_bf16;
    case PONDER_TYPE_Q4_0: return gemm_q4_0;
    case PONDER_TYPE_Q4_1: return gemm_q4_1;
    case PONDER_TYPE_Q5_0: return gemm_q5_0;
    case PONDER_TYPE_Q5_1: return gemm_q5_1;
    case PONDER_TYPE_Q8_0: return gemm_q8_0;
    case PONDER_TYPE_Q2_K: return gemm_q2_k;
    case PONDER_TYPE_Q3_K: return gemm_q3_k;
    case PONDER_TYPE_Q4_K: return gemm_q4_k;
    case PONDER_TYPE_Q5_K: return gemm_q5_k;
    case PONDER_TYPE_Q6_K: return gemm_q6_k;
    case PONDER_TYPE_IQ2_XXS: return gemm_iq2_xxs;
    case PONDER_TYPE_IQ2_XS: return gemm_iq2_xs;
    case PONDER_TYPE_IQ2_S: return gemm_iq2_s;
    case PONDER_TYPE_IQ3_XXS: return gemm_iq3_xxs;
    case PONDER_TYPE_IQ3_S: return gemm_iq3_s;
    case PONDER_TYPE_IQ1_S: return gemm_iq1_s;
    case PONDER_TYPE_IQ1_M: return gemm_iq1_m;
    case PONDER_TYPE_IQ4_NL: return gemm_iq4_nl;
    case PONDER_TYPE_IQ4_XS: return gemm_iq4_xs;
    default: return NULL;
    }
}
