// The 256-bit dot-product kernels, written once and compiled twice: by dot-avx2.c (AVX2,
// multiply-adds as vpmaddubsw/vpmaddwd + vpaddd) and by dot-avx512.c (the same kernels
// with the AVX-512 VNNI instructions vpdpbusd/vpdpwssd fusing multiply and accumulate).
// The includer defines:
//   DOT_U8S8(acc, u, s)   acc (8 x i32) += sums of 4 products of u8 U and s8 S
//   DOT_I16(acc, a, b)    acc (8 x i32) += sums of 2 products of i16 A and i16 B
//   PAIRS_I16(acc, p, b)  acc += vpmaddwd(P, B) where P holds i16 pair sums of u8 x s8
// All quants stay small enough that vpmaddubsw never saturates (|pair| <= 2 * 63 * 127), so
// both builds compute the same integers as the scalar kernels.
//
// Design: one weight block per iteration, integers inside the block (the sub-block scales
// applied with vpmaddwd / vpdpwssd), one float FMA per block for the block scales.
#include "quant-iq.h"
#include "quant-kernels.h"

#include <immintrin.h>

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

static inline int hsum_epi32_128(__m128i s)
{
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

static inline float fp16(uint16_t h)
{
    return _cvtsh_ss(h);
}

static inline __m256i load256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

// ---- Float weights ----

static float dot_f32(const void *w, const void *x, int64_t n)
{
    const float *a = w, *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static inline __m256 load_f16x8(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load_bf16x8(const uint16_t *p)
{
    __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

#define DEFINE_DOT_HALF(NAME, LOAD8, TO_FLOAT)                                                     \
    static float NAME(const void *w, const void *x, int64_t n)                                     \
    {                                                                                              \
        const uint16_t *a = w;                                                                     \
        const float *b = x;                                                                        \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                             \
        __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();                             \
        int64_t i = 0;                                                                             \
        for (; i + 32 <= n; i += 32) {                                                             \
            acc0 = _mm256_fmadd_ps(LOAD8(a + i), _mm256_loadu_ps(b + i), acc0);                    \
            acc1 = _mm256_fmadd_ps(LOAD8(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);            \
            acc2 = _mm256_fmadd_ps(LOAD8(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);          \
            acc3 = _mm256_fmadd_ps(LOAD8(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);          \
        }                                                                                          \
        for (; i + 8 <= n; i += 8)                                                                 \
            acc0 = _mm256_fmadd_ps(LOAD8(a + i), _mm256_loadu_ps(b + i), acc0);                    \
        float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));  \
        for (; i < n; i++)                                                                         \
            sum += TO_FLOAT(a[i]) * b[i];                                                          \
        return sum;                                                                                \
    }

DEFINE_DOT_HALF(dot_f16, load_f16x8, fp16)
DEFINE_DOT_HALF(dot_bf16, load_bf16x8, ponder_bf16_to_fp32)

// Tile kernels for the float weight types: FLOAT_TILE_ROWS weight rows x 4 activation
// columns, each weight vector converted once and used for 4 FMAs (the dot products alone
// convert it once per column), each activation vector used for every row. Accumulators run
// along k and are reduced at the end, so K needs no blocking. With AVX-512's 32 registers
// the tile is 4 rows high, else 2.
#ifdef __AVX512F__
#define FLOAT_TILE_ROWS 4
#else
#define FLOAT_TILE_ROWS 2
#endif

static inline __m256 load_f32x8(const float *p)
{
    return _mm256_loadu_ps(p);
}

static inline float to_float_f32(float v)
{
    return v;
}

#define DEFINE_GEMM_FLOAT(NAME, WTYPE, LOAD8, TO_FLOAT, DOT)                                       \
    static inline __attribute__((always_inline)) void NAME##_tile(                                 \
        const WTYPE *const *w, const float *const *x, int n_cols_const, int64_t n, float *out,     \
        size_t out_stride, int rows)                                                               \
    {                                                                                              \
        const int C = n_cols_const, R = FLOAT_TILE_ROWS;                                           \
        __m256 acc[FLOAT_TILE_ROWS][4];                                                            \
        for (int r = 0; r < R; r++)                                                                \
            for (int c = 0; c < 4; c++)                                                            \
                acc[r][c] = _mm256_setzero_ps();                                                   \
        int64_t i = 0;                                                                             \
        for (; i + 8 <= n; i += 8) {                                                               \
            __m256 a[FLOAT_TILE_ROWS];                                                             \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) a[r] = LOAD8(w[r] + i);            \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++)                                    \
            {                                                                                      \
                __m256 b = _mm256_loadu_ps(x[c] + i);                                              \
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) acc[r][c] =                    \
                    _mm256_fmadd_ps(a[r], b, acc[r][c]);                                           \
            }                                                                                      \
        }                                                                                          \
        for (int r = 0; r < rows; r++) {                                                           \
            for (int c = 0; c < C; c++) {                                                          \
                float tail = 0;                                                                    \
                for (int64_t j = i; j < n; j++)                                                    \
                    tail += TO_FLOAT(w[r][j]) * x[c][j];                                           \
                out[(size_t)c * out_stride + r] = hsum_ps(acc[r][c]) + tail;                       \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void NAME(const void *w, size_t w_stride, int n_rows, const void *x, size_t x_stride,   \
                     int n_cols, int64_t k, float *out, size_t out_stride)                         \
    {                                                                                              \
        if (n_cols < QUANT_TILE_MIN_COLS) {                                                        \
            quant_gemm_by_dot(DOT, w, w_stride, n_rows, x, x_stride, n_cols, k, out, out_stride);  \
            return;                                                                                \
        }                                                                                          \
        /* columns outer: their 4 activation rows stay in L1 while the weights stream */           \
        for (int c0 = 0; c0 < n_cols; c0 += 4) {                                                   \
            int cols = n_cols - c0 < 4 ? n_cols - c0 : 4;                                          \
            const float *xr[4];                                                                    \
            for (int c = 0; c < 4; c++)                                                            \
                xr[c] = (const float *)((const char *)x +                                          \
                                        (size_t)(c0 + (c < cols ? c : 0)) * x_stride);             \
            for (int r0 = 0; r0 < n_rows; r0 += FLOAT_TILE_ROWS) {                                 \
                int rows = n_rows - r0 < FLOAT_TILE_ROWS ? n_rows - r0 : FLOAT_TILE_ROWS;          \
                const WTYPE *wr[FLOAT_TILE_ROWS]; /* missing rows repeat the last */               \
                for (int r = 0; r < FLOAT_TILE_ROWS; r++)                                          \
                    wr[r] = (const WTYPE *)((const char *)w +                                      \
                                            (size_t)(r0 + (r < rows ? r : rows - 1)) * w_stride);  \
                float *o = out + (size_t)c0 * out_stride + r0;                                     \
                switch (cols) {                                                                    \
                case 1: NAME##_tile(wr, xr, 1, k, o, out_stride, rows); break;                     \
                case 2: NAME##_tile(wr, xr, 2, k, o, out_stride, rows); break;                     \
                case 3: NAME##_tile(wr, xr, 3, k, o, out_stride, rows); break;                     \
                default: NAME##_tile(wr, xr, 4, k, o, out_stride, rows); break;                    \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_GEMM_FLOAT(gemm_f32, float, load_f32x8, to_float_f32, dot_f32)
DEFINE_GEMM_FLOAT(gemm_f16, uint16_t, load_f16x8, fp16, dot_f16)
DEFINE_GEMM_FLOAT(gemm_bf16, uint16_t, load_bf16x8, ponder_bf16_to_fp32, dot_bf16)

// ---- Legacy quants ----

// 32 quants of a 4-bit legacy block in element order: low nibbles, then high nibbles.
static inline __m256i unpack_nibbles32(const uint8_t qs[16])
{
    __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
    __m128i mask = _mm_set1_epi8(0xf);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask),
                            _mm_and_si128(bytes, mask));
}

// Bit 4 of each of the 32 quants of a Q5 block (0x10 or 0): bit e of the u32 QH.
static inline __m256i unpack_q5_high(const uint8_t qh[4])
{
    // byte e takes byte e/8 of qh, then tests bit e%8 in it
    __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)load_u32_le(qh)),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Integer dot of 32 signed quants Q with 32 signed activations X, as 8 partial i32 sums.
static inline __m256i dot_s8s8(__m256i q, __m256i x)
{
    // vpmaddubsw wants one unsigned operand: move q's sign onto x (|q| <= 128, |x| <= 127)
    return DOT_U8S8(_mm256_setzero_si256(), _mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
}

// Two blocks per iteration into two accumulators: one FMA chain would wait on its latency.
#define DEFINE_DOT_SYMMETRIC(NAME, BLOCK, QUANTS)                                                  \
    static inline __m256 NAME##_block(const BLOCK *a, const BlockQ8_0 *b, __m256 acc)              \
    {                                                                                              \
        __m256i s = dot_s8s8(QUANTS(a), load256(b->qs));                                           \
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(fp16(a->d) * fp16(b->d)),     \
                               acc);                                                               \
    }                                                                                              \
    static float NAME(const void *w, const void *x, int64_t n)                                     \
    {                                                                                              \
        const BLOCK *a = w;                                                                        \
        const BlockQ8_0 *b = x;                                                                    \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                             \
        int64_t i = 0, blocks = n / QK_LEGACY;                                                     \
        for (; i + 2 <= blocks; i += 2) {                                                          \
            acc0 = NAME##_block(&a[i], &b[i], acc0);                                               \
            acc1 = NAME##_block(&a[i + 1], &b[i + 1], acc1);                                       \
        }                                                                                          \
        if (i < blocks)                                                                            \
            acc0 = NAME##_block(&a[i], &b[i], acc0);                                               \
        return hsum_ps(_mm256_add_ps(acc0, acc1));                                                 \
    }

static inline __m256i quants_q8_0(const BlockQ8_0 *b)
{
    return load256(b->qs);
}

static inline __m256i quants_q4_0(const BlockQ4_0 *b)
{
    return _mm256_sub_epi8(unpack_nibbles32(b->qs), _mm256_set1_epi8(8));
}

static inline __m256i quants_q5_0(const BlockQ5_0 *b)
{
    __m256i q = _mm256_or_si256(unpack_nibbles32(b->qs), unpack_q5_high(b->qh));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
}

DEFINE_DOT_SYMMETRIC(dot_q8_0, BlockQ8_0, quants_q8_0)
DEFINE_DOT_SYMMETRIC(dot_q4_0, BlockQ4_0, quants_q4_0)
DEFINE_DOT_SYMMETRIC(dot_q5_0, BlockQ5_0, quants_q5_0)

// The 16 IQ4 levels in both 128-bit lanes, for vpshufb lookups by nibble.
static inline __m256i iq4_levels(void)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kvalues_iq4nl));
}

static inline __m256i quants_iq4_nl(const BlockIQ4_NL *b)
{
    return _mm256_shuffle_epi8(iq4_levels(), unpack_nibbles32(b->qs));
}

DEFINE_DOT_SYMMETRIC(dot_iq4_nl, BlockIQ4_NL, quants_iq4_nl)

// Q4_1 / Q5_1: unsigned quants plus a min, whose product with the activations needs only
// their sum (stored in the Q8_1 block). The two parts of a block can be large and cancel,
// so each block is finished in scalar arithmetic from exact integer sums, like the scalar
// kernel, rather than in separately rounded vector lanes.
#define DEFINE_DOT_AFFINE(NAME, BLOCK, QUANTS)                                                     \
    static float NAME(const void *w, const void *x, int64_t n)                                     \
    {                                                                                              \
        const BLOCK *a = w;                                                                        \
        const BlockQ8_1 *b = x;                                                                    \
        float sum = 0;                                                                             \
        for (int64_t i = 0; i < n / QK_LEGACY; i++) {                                              \
            float dx = fp16(b[i].d);                                                               \
            __m256i s = DOT_U8S8(_mm256_setzero_si256(), QUANTS(&a[i]), load256(b[i].qs));         \
            sum += fp16(a[i].d) * dx * (float)hsum_epi32(s) + fp16(a[i].m) * dx * (float)b[i].sum; \
        }                                                                                          \
        return sum;                                                                                \
    }

static inline __m256i quants_q4_1(const BlockQ4_1 *b)
{
    return unpack_nibbles32(b->qs);
}

static inline __m256i quants_q5_1(const BlockQ5_1 *b)
{
    return _mm256_or_si256(unpack_nibbles32(b->qs), unpack_q5_high(b->qh));
}

DEFINE_DOT_AFFINE(dot_q4_1, BlockQ4_1, quants_q4_1)
DEFINE_DOT_AFFINE(dot_q5_1, BlockQ5_1, quants_q5_1)

// ---- K-quants with Q8_K activations ----

// The six-bit scales and mins of a Q4_K/Q5_K block as 8 bytes each (see k_scale_min).
static inline void unpack_k_scales(const uint8_t packed[12], uint64_t *scales, uint64_t *mins)
{
    uint32_t u0 = load_u32_le(packed), u1 = load_u32_le(packed + 4), u2 = load_u32_le(packed + 8);
    uint32_t sc_low = u0 & 0x3f3f3f3f, m_low = u1 & 0x3f3f3f3f;
    uint32_t sc_high = (u2 & 0x0f0f0f0f) | ((u0 >> 2) & 0x30303030);
    uint32_t m_high = ((u2 >> 4) & 0x0f0f0f0f) | ((u1 >> 2) & 0x30303030);
    *scales = sc_low | (uint64_t)sc_high << 32;
    *mins = m_low | (uint64_t)m_high << 32;
}

// Q4_K/Q5_K: sum over sub-blocks of min * (sum of the sub-block's 32 activations).
static inline __m128i k_min_products(uint64_t mins, const int16_t bsums[16])
{
    __m128i b_low = _mm_loadu_si128((const __m128i *)bsums);
    __m128i b_high = _mm_loadu_si128((const __m128i *)(bsums + 8));
    __m128i sums32 = _mm_hadd_epi16(b_low, b_high); // 8 sub-block sums, |sum| <= 32 * 127
    return _mm_madd_epi16(sums32, _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mins)));
}

// The i16 scale of sub-block J broadcast, from 8 i16 scales repeated in both lanes.
static inline __m256i broadcast_scale32(__m256i scales, int j)
{
    return _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)(0x0100 + 0x0202 * j)));
}

// Shared tail of Q4_K/Q5_K: quants of sub-blocks 2c (LOW[c]) and 2c+1 (HIGH[c]). The
// scaled quants and the mins can be large and cancel, so the block is finished from exact
// integer sums in scalar arithmetic, as in the scalar kernel.
static inline float k_affine_block(const __m256i low[4], const __m256i high[4], uint16_t d,
                                   uint16_t dmin, const uint8_t packed_scales[12],
                                   const BlockQ8_K *b)
{
    uint64_t scales, mins;
    unpack_k_scales(packed_scales, &scales, &mins);
    __m256i sc =
        _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)scales)));
    __m256i part[4]; // independent chains: a fused multiply-accumulate has latency
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m256i p_low = _mm256_maddubs_epi16(low[c], load256(b->qs + 64 * c));
        __m256i p_high = _mm256_maddubs_epi16(high[c], load256(b->qs + 64 * c + 32));
        part[c] = DOT_I16(_mm256_setzero_si256(), p_low, broadcast_scale32(sc, 2 * c));
        part[c] = DOT_I16(part[c], p_high, broadcast_scale32(sc, 2 * c + 1));
    }
    __m256i isum =
        _mm256_add_epi32(_mm256_add_epi32(part[0], part[1]), _mm256_add_epi32(part[2], part[3]));
    float scaled = (float)hsum_epi32(isum),
          min_sum = (float)hsum_epi32_128(k_min_products(mins, b->bsums));
    return b->d * (fp16(d) * scaled - fp16(dmin) * min_sum);
}

static float dot_q4_k(const void *w, const void *x, int64_t n)
{
    const BlockQ4_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    const __m256i mask = _mm256_set1_epi8(0xf);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i low[4], high[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i bytes = load256(a[i].qs + 32 * c);
            low[c] = _mm256_and_si256(bytes, mask);
            high[c] = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask);
        }
        sum += k_affine_block(low, high, a[i].d, a[i].dmin, a[i].scales, &b[i]);
    }
    return sum;
}

// Moves bit FROM of every byte to bit TO (both < 8), other bits cleared.
static inline __m256i move_bit(__m256i v, int from, int to)
{
    __m256i bit = _mm256_and_si256(v, _mm256_set1_epi8((char)(1 << from)));
    // a masked single bit never crosses into the neighbouring byte by these shifts
    return from >= to ? _mm256_srli_epi16(bit, from - to) : _mm256_slli_epi16(bit, to - from);
}

static float dot_q5_k(const void *w, const void *x, int64_t n)
{
    const BlockQ5_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    const __m256i mask = _mm256_set1_epi8(0xf);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i low[4], high[4];
        __m256i qh = load256(a[i].qh);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i bytes = load256(a[i].qs + 32 * c);
            low[c] = _mm256_or_si256(_mm256_and_si256(bytes, mask), move_bit(qh, 2 * c, 4));
            high[c] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask),
                                      move_bit(qh, 2 * c + 1, 4));
        }
        sum += k_affine_block(low, high, a[i].d, a[i].dmin, a[i].scales, &b[i]);
    }
    return sum;
}

// Q2_K, Q3_K, Q6_K have a scale per 16 elements. Their quants come 32 at a time: elements
// 128h + 32s + l, which are sub-blocks 8h + 2s (lane 0) and 8h + 2s + 1 (lane 1).
// SCALES16 holds the 16 i16 scales; this gives the pair for (h, s), one per lane.
static inline __m256i scale_pair16(__m256i scales16, int h, int s)
{
    __m256i half = h == 0 ? _mm256_permute4x64_epi64(scales16, 0x44)
                          : _mm256_permute4x64_epi64(scales16, 0xee);
    __m256i pick = _mm256_set_m128i(_mm_set1_epi16((short)(0x0100 + 0x0202 * (2 * s + 1))),
                                    _mm_set1_epi16((short)(0x0100 + 0x0202 * (2 * s))));
    return _mm256_shuffle_epi8(half, pick);
}

// Sum over the 16 sub-blocks of SCALES16 * the sub-block sums of the activations.
static inline __m256i scaled_bsums(__m256i scales16, const BlockQ8_K *b)
{
    return _mm256_madd_epi16(scales16, load256(b->bsums));
}

static float dot_q2_k(const void *w, const void *x, int64_t n)
{
    const BlockQ2_K *a = w;
    const BlockQ8_K *b = x;
    float sum = 0;
    const __m256i three = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m128i packed = _mm_loadu_si128((const __m128i *)a[i].scales);
        __m256i sc = _mm256_cvtepu8_epi16(_mm_and_si128(packed, _mm_set1_epi8(0xf)));
        __m256i mins =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0xf)));
        // independent chains: a fused multiply-accumulate has latency
        __m256i part[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                           _mm256_setzero_si256()};
#pragma GCC unroll 4
        for (int h = 0; h < 2; h++) {
            __m256i bits = load256(a[i].qs + 32 * h);
#pragma GCC unroll 4
            for (int s = 0; s < 4; s++) {
                __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), three);
                __m256i p = _mm256_maddubs_epi16(q, load256(b[i].qs + 128 * h + 32 * s));
                part[s] = DOT_I16(part[s], p, scale_pair16(sc, h, s));
            }
        }
        __m256i isum = _mm256_add_epi32(_mm256_add_epi32(part[0], part[1]),
                                        _mm256_add_epi32(part[2], part[3]));
        // finished in scalar from exact sums: the two parts can cancel (see k_affine_block)
        float scaled = (float)hsum_epi32(isum),
              min_sum = (float)hsum_epi32(scaled_bsums(mins, &b[i]));
        sum += b[i].d * (fp16(a[i].d) * scaled - fp16(a[i].dmin) * min_sum);
    }
    return sum;
}

// The 16 scales of a Q3_K block as signed bytes (see q3_k_scales).
static inline __m128i unpack_q3_k_scales(const uint8_t packed[12])
{
    uint32_t a0 = load_u32_le(packed), a1 = load_u32_le(packed + 4), high = load_u32_le(packed + 8);
    const uint32_t m4 = 0x0f0f0f0f, m2 = 0x03030303;
    __m128i v = _mm_set_epi32((int)(((a1 >> 4) & m4) | ((high >> 6) & m2) << 4),
                              (int)(((a0 >> 4) & m4) | ((high >> 4) & m2) << 4),
                              (int)((a1 & m4) | ((high >> 2) & m2) << 4),
                              (int)((a0 & m4) | (high & m2) << 4));
    return _mm_sub_epi8(v, _mm_set1_epi8(32));
}

static float dot_q3_k(const void *w, const void *x, int64_t n)
{
    const BlockQ3_K *a = w;
    const BlockQ8_K *b = x;
    __m256 acc = _mm256_setzero_ps();
    const __m256i three = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sc = _mm256_cvtepi8_epi16(unpack_q3_k_scales(a[i].scales));
        __m256i hmask = load256(a[i].hmask);
        // independent chains: a fused multiply-accumulate has latency
        __m256i part[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                           _mm256_setzero_si256()};
#pragma GCC unroll 4
        for (int h = 0; h < 2; h++) {
            __m256i bits = load256(a[i].qs + 32 * h);
#pragma GCC unroll 4
            for (int s = 0; s < 4; s++) {
                // quant + 4 in [0, 7]: the 2 low bits, plus 4 where the hmask bit is set
                __m256i q = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), three),
                                            move_bit(hmask, 4 * h + s, 2));
                __m256i p = _mm256_maddubs_epi16(q, load256(b[i].qs + 128 * h + 32 * s));
                part[s] = DOT_I16(part[s], p, scale_pair16(sc, h, s));
            }
        }
        __m256i isum = _mm256_add_epi32(_mm256_add_epi32(part[0], part[1]),
                                        _mm256_add_epi32(part[2], part[3]));
        // undo the +4: subtract 4 * scale * (sum of the sub-block's activations)
        isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(scaled_bsums(sc, &b[i]), 2));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(b[i].d * fp16(a[i].d)), acc);
    }
    return hsum_ps(acc);
}

static float dot_q6_k(const void *w, const void *x, int64_t n)
{
    const BlockQ6_K *a = w;
    const BlockQ8_K *b = x;
    __m256 acc = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0xf);
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        // independent chains: a fused multiply-accumulate has latency
        __m256i part[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                           _mm256_setzero_si256()};
#pragma GCC unroll 4
        for (int h = 0; h < 2; h++) {
            __m256i ql0 = load256(a[i].ql + 64 * h), ql1 = load256(a[i].ql + 64 * h + 32);
            __m256i qh = load256(a[i].qh + 32 * h);
            // quant + 32 in [0, 63]
            __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(ql0, low4),
                                _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4)),
                _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0c)), 2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                _mm256_and_si256(qh, _mm256_set1_epi8(0x30))),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                    _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8((char)0xc0)), 2)),
            };
#pragma GCC unroll 4
            for (int s = 0; s < 4; s++) {
                __m256i p = _mm256_maddubs_epi16(q[s], load256(b[i].qs + 128 * h + 32 * s));
                part[s] = DOT_I16(part[s], p, scale_pair16(sc, h, s));
            }
        }
        __m256i isum = _mm256_add_epi32(_mm256_add_epi32(part[0], part[1]),
                                        _mm256_add_epi32(part[2], part[3]));
        // undo the +32
        isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(scaled_bsums(sc, &b[i]), 5));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(b[i].d * fp16(a[i].d)), acc);
    }
    return hsum_ps(acc);
}

// ---- IQ types with Q8_K activations ----

// Pair sums (i16) of 32 signed quants Q times 32 activations X: vpmaddubsw with Q's sign
// moved onto X. |q|, |x| <= 127, so a pair never saturates.
static inline __m256i pairs_s8s8(__m256i q, __m256i x)
{
    return _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
}

// i16 scale LO in the low 128-bit lane, HI in the high one.
static inline __m256i scale_lanes(int lo, int hi)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)hi), _mm_set1_epi16((short)lo));
}

// IQ4_XS: 32 bytes of qs are sub-blocks 2c (bytes 0-15) and 2c + 1 (16-31), low nibbles
// first. Looked up as they lie, the low nibbles are elements 64c + 0..15 | 64c + 32..47 and
// the high ones 64c + 16..31 | 64c + 48..63; the activations are permuted to match, so each
// vector has sub-block 2c in lane 0 and 2c + 1 in lane 1, one scale per lane.
static float dot_iq4_xs(const void *w, const void *x, int64_t n)
{
    const BlockIQ4_XS *a = w;
    const BlockQ8_K *b = x;
    const __m256i levels = iq4_levels(), mask = _mm256_set1_epi8(0xf);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        int ls[8];
        uint32_t low = load_u32_le(a[i].scales_l), high = a[i].scales_h;
        for (int ib = 0; ib < 8; ib++)
            ls[ib] = (int)(((low >> (4 * ib)) & 0xf) | ((high >> (2 * ib)) & 3) << 4) - 32;
        // independent chains: a fused multiply-accumulate has latency
        __m256i part[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i bytes = load256(a[i].qs + 32 * c);
            __m256i q_low = _mm256_shuffle_epi8(levels, _mm256_and_si256(bytes, mask));
            __m256i q_high =
                _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask));
            __m256i x0 = load256(b[i].qs + 64 * c), x1 = load256(b[i].qs + 64 * c + 32);
            __m256i x_low = _mm256_permute2x128_si256(x0, x1, 0x20);
            __m256i x_high = _mm256_permute2x128_si256(x0, x1, 0x31);
            __m256i sc = scale_lanes(ls[2 * c], ls[2 * c + 1]);
            part[c % 2] = DOT_I16(part[c % 2], pairs_s8s8(q_low, x_low), sc);
            part[c % 2] = DOT_I16(part[c % 2], pairs_s8s8(q_high, x_high), sc);
        }
        __m256i isum = _mm256_add_epi32(part[0], part[1]);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(b[i].d * fp16(a[i].d)), acc);
    }
    return hsum_ps(acc);
}

// The codebook types: unpacked to small ints by the shared scalar code (quant-iq.h), then
// the products in vectors. The unpacking dominates; these are correct, not yet fast.
static inline float iq_unpacked_dot(const IqUnpacked *u, const BlockQ8_K *b)
{
    __m256i part[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) {
        __m256i q = load256(u->q + 32 * v);
        __m256i p = pairs_s8s8(q, load256(b->qs + 32 * v));
        part[v % 2] = DOT_I16(part[v % 2], p, scale_lanes(u->sc[2 * v], u->sc[2 * v + 1]));
    }
    float scaled = (float)hsum_epi32(_mm256_add_epi32(part[0], part[1]));
    return b->d * (fp16(u->factor_bits) * u->factor_scale) * scaled;
}

#define DEFINE_DOT_IQ_UNPACKED(NAME, TYPE, BLOCK)                                                  \
    static float NAME(const void *w, const void *x, int64_t n)                                     \
    {                                                                                              \
        const BLOCK *a = w;                                                                        \
        const BlockQ8_K *b = x;                                                                    \
        float sum = 0;                                                                             \
        for (int64_t i = 0; i < n / QK_K; i++) {                                                   \
            IqUnpacked u;                                                                          \
            iq_unpack(TYPE, &a[i], &u);                                                            \
            sum += iq_unpacked_dot(&u, &b[i]);                                                     \
        }                                                                                          \
        return sum;                                                                                \
    }

DEFINE_DOT_IQ_UNPACKED(dot_iq2_xxs, PONDER_TYPE_IQ2_XXS, BlockIQ2_XXS)
DEFINE_DOT_IQ_UNPACKED(dot_iq2_xs, PONDER_TYPE_IQ2_XS, BlockIQ2_XS)
DEFINE_DOT_IQ_UNPACKED(dot_iq2_s, PONDER_TYPE_IQ2_S, BlockIQ2_S)
DEFINE_DOT_IQ_UNPACKED(dot_iq3_xxs, PONDER_TYPE_IQ3_XXS, BlockIQ3_XXS)
DEFINE_DOT_IQ_UNPACKED(dot_iq3_s, PONDER_TYPE_IQ3_S, BlockIQ3_S)
DEFINE_DOT_IQ_UNPACKED(dot_iq1_s, PONDER_TYPE_IQ1_S, BlockIQ1_S)
DEFINE_DOT_IQ_UNPACKED(dot_iq1_m, PONDER_TYPE_IQ1_M, BlockIQ1_M)

// The table of this build's vec_dot kernels, and tile kernels that are loops over them
// (the fallback for types without a specialised tile kernel).
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q4_0, dot_q4_0)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q4_1, dot_q4_1)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q5_0, dot_q5_0)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q5_1, dot_q5_1)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q8_0, dot_q8_0)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q2_k, dot_q2_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q3_k, dot_q3_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q4_k, dot_q4_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q5_k, dot_q5_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_q6_k, dot_q6_k)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_iq2_xxs, dot_iq2_xxs)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_iq2_xs, dot_iq2_xs)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_iq2_s, dot_iq2_s)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_iq3_xxs, dot_iq3_xxs)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_iq3_s, dot_iq3_s)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_iq1_s, dot_iq1_s)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_iq1_m, dot_iq1_m)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_iq4_nl, dot_iq4_nl)
QUANT_DEFINE_GEMM_FROM_DOT(gemm_dot_iq4_xs, dot_iq4_xs)

static PonderGemm x86_gemm_from_dot(PonderType type)
{
    switch (type) {
    case PONDER_TYPE_F32: return gemm_f32;
    case PONDER_TYPE_F16: return gemm_f16;
    case PONDER_TYPE_BF16: return gemm_bf16;
    case PONDER_TYPE_Q4_0: return gemm_dot_q4_0;
    case PONDER_TYPE_Q4_1: return gemm_dot_q4_1;
    case PONDER_TYPE_Q5_0: return gemm_dot_q5_0;
    case PONDER_TYPE_Q5_1: return gemm_dot_q5_1;
    case PONDER_TYPE_Q8_0: return gemm_dot_q8_0;
    case PONDER_TYPE_Q2_K: return gemm_dot_q2_k;
    case PONDER_TYPE_Q3_K: return gemm_dot_q3_k;
    case PONDER_TYPE_Q4_K: return gemm_dot_q4_k;
    case PONDER_TYPE_Q5_K: return gemm_dot_q5_k;
    case PONDER_TYPE_Q6_K: return gemm_dot_q6_k;
    case PONDER_TYPE_IQ2_XXS: return gemm_dot_iq2_xxs;
    case PONDER_TYPE_IQ2_XS: return gemm_dot_iq2_xs;
    case PONDER_TYPE_IQ2_S: return gemm_dot_iq2_s;
    case PONDER_TYPE_IQ3_XXS: return gemm_dot_iq3_xxs;
    case PONDER_TYPE_IQ3_S: return gemm_dot_iq3_s;
    case PONDER_TYPE_IQ1_S: return gemm_dot_iq1_s;
    case PONDER_TYPE_IQ1_M: return gemm_dot_iq1_m;
    case PONDER_TYPE_IQ4_NL: return gemm_dot_iq4_nl;
    case PONDER_TYPE_IQ4_XS: return gemm_dot_iq4_xs;
    default: return NULL;
    }
}

static PonderVecDot x86_vec_dot(PonderType type)
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
