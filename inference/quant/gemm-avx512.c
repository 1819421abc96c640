// AVX-512 VNNI tile kernels for prompt processing (Q2_K..Q6_K, Q8_0, Q4_0, Q5_0).
//
// Design: a zmm register holds one value for each of 16 weight rows. The weights of 16
// rows are first decoded into a "panel" where dword s of lane r holds quants 4s..4s+3 of
// row r, so that one vpdpbusd multiplies 4 quants of 16 rows by the same 4 activations
// (broadcast straight from the caller's Q8 row) - 64 multiply-adds per instruction with no
// shuffling in the inner loop. Decoding (nibble unpacking and a 16x16 dword transpose) is
// paid once per call and reused across every activation column. A register tile of
// 2 row groups x 4 columns keeps 8 integer accumulators per sub-block and 16 float ones.
//
// Per K-quant sub-block the integer sums are converted to float and scaled by the row's
// sub-block scale (d * sc, a vector from the panel); offsets (mins, or the +32 / +4 that
// makes Q6_K / Q3_K quants unsigned) are applied through the Q8_K block's sums of 16
// activations with vpdpwssd. Q8_0 activations are made unsigned (x + 128, via xor) and the
// panel holds -128 * sum(w) per block to start the accumulator from.
#include "quant-blocks.h"
#include "quant-kernels.h"

#include <immintrin.h>

enum {
    ROW_GROUP = 16,                       // rows per panel (zmm lanes)
    MAX_ROW_GROUPS = 2,                   // row groups per pass (the register tile height)
    TILE_COLS = 4,                        // columns per register tile
    K_CHUNK_BLOCKS = 1,                   // super-blocks per pass: the panels stay in L1
    Q8_CHUNK_BLOCKS = 8 * K_CHUNK_BLOCKS, // Q8_0 blocks per pass (same 512 values)
};

static inline uint16_t load_u16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

// In-place transpose of 16 rows of 16 dwords.
static inline void transpose16(__m512i r[16])
{
    __m512i t[16];
    for (int k = 0; k < 8; k++) {
        t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
    }
    // u[4k + m], 128-bit lane L = column 4L + m of rows 4k..4k+3
    __m512i u[16];
    for (int k = 0; k < 4; k++) {
        u[4 * k + 0] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
        u[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
        u[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
        u[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
    }
    // then a 4x4 transpose of 128-bit lanes for each m
    for (int m = 0; m < 4; m++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0x88);
        __m512i v1 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0xdd);
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0x88);
        __m512i v3 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0xdd);
        r[m] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        r[8 + m] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        r[4 + m] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        r[12 + m] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

static inline __m128i load_row16(const uint8_t *block0, size_t w_stride, int n_rows, int row,
                                 size_t offset)
{
    if (row >= n_rows)
        return _mm_setzero_si128();
    return _mm_loadu_si128((const __m128i *)(block0 + (size_t)row * w_stride + offset));
}

// The 16 bytes at OFFSET in the blocks of 16 rows as four vectors: out[m] lane r = dword m
// of row r's bytes. Rows >= N_ROWS read as zero.
static inline void load_dwords16(const uint8_t *block0, size_t w_stride, int n_rows, size_t offset,
                                 __m512i out[4])
{
    __m512i z[4];
    for (int r = 0; r < 4; r++) { // 128-bit lane L of z[r] = row r + 4L
        __m512i v = _mm512_castsi128_si512(load_row16(block0, w_stride, n_rows, r, offset));
        v = _mm512_inserti32x4(v, load_row16(block0, w_stride, n_rows, r + 4, offset), 1);
        v = _mm512_inserti32x4(v, load_row16(block0, w_stride, n_rows, r + 8, offset), 2);
        z[r] = _mm512_inserti32x4(v, load_row16(block0, w_stride, n_rows, r + 12, offset), 3);
    }
    __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
    __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
    out[0] = _mm512_unpacklo_epi64(t0, t2);
    out[1] = _mm512_unpackhi_epi64(t0, t2);
    out[2] = _mm512_unpacklo_epi64(t1, t3);
    out[3] = _mm512_unpackhi_epi64(t1, t3);
}

// Byte I (0..3) of every dword, zero-extended.
static inline __m512i byte_of(__m512i v, int i)
{
    return _mm512_and_si512(_mm512_srli_epi32(v, 8 * i), _mm512_set1_epi32(0xff));
}

// Byte I (0..3) of every dword, sign-extended.
static inline __m512i signed_byte_of(__m512i v, int i)
{
    return _mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * i), 24);
}

// The fp16 in the low (HIGH = 0) or high half of every dword, as float.
static inline __m512 half_of(__m512i v, int high)
{
    __m512i h = high ? _mm512_srli_epi32(v, 16) : v;
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h));
}

// ---- K-quant panels ----

// 16 rows of one super-block.
typedef struct KPanel {
    __m512i q[QK_K / 4]; // dword s of lane r: unsigned quants 4s..4s+3 of row r
    // Sub-block scales, as integers (applied exactly, to integer partial sums that fit 16
    // bits) or as floats d * scale (Q6_K, whose partial sums do not fit).
    union {
        __m512i int_scale[16];
        __m512 scale[16];
    };
    __m512 d;               // for the integer scales
    __m512i offset_pair[8]; // i16 pairs multiplying activation sums (bsums 2p, 2p+1)
    __m512 offset_scale;    // what the offset_pair products are scaled by
} KPanel;

// Transposes 64 unpacked quants per row (Z[r] = row r, elements 64c..64c+63) into
// panel steps 16c..16c+15.
static inline void store_chunk(KPanel *p, int c, __m512i z[16])
{
    transpose16(z);
    for (int s = 0; s < 16; s++)
        p->q[16 * c + s] = z[s];
}

// Element 64c + l of a Q4_K/Q5_K row: low nibble of qs[32c + l] for l < 32, else the high
// nibble of qs[32c + l - 32]. Gives the 64 low-nibble values in element order.
static inline __m512i k_nibbles64(const uint8_t *qs32)
{
    __m512i both = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qs32));
    __m512i shifted = _mm512_srlv_epi64(both, _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0));
    return _mm512_and_si512(shifted, _mm512_set1_epi8(0xf));
}

// Bit 4 for elements 64c..64c+63 of a Q5_K row (element 32j + l: bit j of qh[l]).
static inline __m512i q5_k_high64(const uint8_t *qh, int c)
{
    __m512i both = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh));
    __m512i shifted =
        _mm512_srlv_epi64(both, _mm512_set_epi64(2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c,
                                                 2 * c, 2 * c, 2 * c));
    return _mm512_slli_epi64(_mm512_and_si512(shifted, _mm512_set1_epi8(1)), 4);
}

// Scales and mins of Q4_K/Q5_K, whose block header (d, dmin, 12 scale bytes) is the first
// 16 bytes of the block.
static void k_affine_scales(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows)
{
    __m512i h[4];
    load_dwords16(block0, w_stride, n_rows, 0, h);
    __m512 d = half_of(h[0], 0), dmin = half_of(h[0], 1);
    const __m512i m6 = _mm512_set1_epi32(0x3f3f3f3f), m4 = _mm512_set1_epi32(0x0f0f0f0f);
    const __m512i top2 = _mm512_set1_epi32(0x30303030);
    __m512i sc_low = _mm512_and_si512(h[1], m6), m_low = _mm512_and_si512(h[2], m6);
    __m512i sc_high = _mm512_or_si512(_mm512_and_si512(h[3], m4),
                                      _mm512_and_si512(_mm512_srli_epi32(h[1], 2), top2));
    __m512i m_high = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(h[3], 4), m4),
                                     _mm512_and_si512(_mm512_srli_epi32(h[2], 2), top2));
    for (int j = 0; j < 8; j++) {
        __m512i sc = byte_of(j < 4 ? sc_low : sc_high, j % 4);
        __m512i m = byte_of(j < 4 ? m_low : m_high, j % 4);
        p->int_scale[j] = sc; // as the i16 pair (sc, 0)
        // sub-block j spans bsums 2j and 2j+1: pair (m, m)
        p->offset_pair[j] = _mm512_or_si512(m, _mm512_slli_epi32(m, 16));
    }
    p->d = d;
    p->offset_scale = _mm512_sub_ps(_mm512_setzero_ps(), dmin);
}

static void panel_q4_k(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows)
{
    for (int c = 0; c < 4; c++) {
        __m512i z[16];
        for (int r = 0; r < 16; r++)
            z[r] =
                r < n_rows
                    ? k_nibbles64(((const BlockQ4_K *)(block0 + (size_t)r * w_stride))->qs + 32 * c)
                    : _mm512_setzero_si512();
        store_chunk(p, c, z);
    }
    k_affine_scales(p, block0, w_stride, n_rows);
}

static void panel_q5_k(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows)
{
    for (int c = 0; c < 4; c++) {
        __m512i z[16];
        for (int r = 0; r < 16; r++) {
            const BlockQ5_K *b = (const BlockQ5_K *)(block0 + (size_t)r * w_stride);
            z[r] = r < n_rows ? _mm512_or_si512(k_nibbles64(b->qs + 32 * c), q5_k_high64(b->qh, c))
                              : _mm512_setzero_si512();
        }
        store_chunk(p, c, z);
    }
    k_affine_scales(p, block0, w_stride, n_rows);
}

// Q6_K: elements 128h + 64u + l (u = 0, 1; l < 64) are nibble u of ql[64h + l] with bits
// 2(2u + l/32) of qh[32h + l % 32] on top: quant + 32, unsigned.
static inline __m512i q6_k_quants64(const BlockQ6_K *b, int h, int u)
{
    __m512i ql = _mm512_loadu_si512(b->ql + 64 * h);
    __m512i low = _mm512_and_si512(u ? _mm512_srli_epi16(ql, 4) : ql, _mm512_set1_epi8(0xf));
    __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
    int lo_shift = 4 * u, hi_shift = 4 * u + 2;
    __m512i high = _mm512_srlv_epi64(qh, _mm512_set_epi64(hi_shift, hi_shift, hi_shift, hi_shift,
                                                          lo_shift, lo_shift, lo_shift, lo_shift));
    high = _mm512_slli_epi64(_mm512_and_si512(high, _mm512_set1_epi8(3)), 4);
    return _mm512_or_si512(low, high);
}

static void panel_q6_k(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows)
{
    for (int c = 0; c < 4; c++) {
        __m512i z[16];
        for (int r = 0; r < 16; r++)
            z[r] = r < n_rows ? q6_k_quants64((const BlockQ6_K *)(block0 + (size_t)r * w_stride),
                                              c / 2, c % 2)
                              : _mm512_setzero_si512();
        store_chunk(p, c, z);
    }
    __m512i sc[4], tail[4];
    load_dwords16(block0, w_stride, n_rows, offsetof(BlockQ6_K, scales), sc);
    load_dwords16(block0, w_stride, n_rows, offsetof(BlockQ6_K, scales) + 2, tail); // ends at d
    __m512 d = half_of(tail[3], 1);
    for (int j = 0; j < 16; j++)
        p->scale[j] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(signed_byte_of(sc[j / 4], j % 4)));
    for (int q = 0; q < 8; q++) { // pair (scale 2q, scale 2q+1) as i16
        __m512i lo = signed_byte_of(sc[q / 2], 2 * (q % 2));
        __m512i hi = signed_byte_of(sc[q / 2], 2 * (q % 2) + 1);
        p->offset_pair[q] = _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0xffff)),
                                            _mm512_slli_epi32(hi, 16));
    }
    p->offset_scale = _mm512_mul_ps(d, _mm512_set1_ps(-32.0f)); // quants were stored + 32
}

// Q2_K / Q3_K: element 128h + 64u + l (l < 64) keeps its two low bits at bit 2(2u + l/32)
// of qs[32h + l % 32]; Q3_K's third bit (set: +4 over the low bits - 4) is bit
// 4h + 2u + l/32 of hmask[l % 32].
static inline __m512i bits_of64(const uint8_t *bytes32, int shift_low, int shift_high, int mask)
{
    __m512i both = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)bytes32));
    __m512i shifted =
        _mm512_srlv_epi64(both, _mm512_set_epi64(shift_high, shift_high, shift_high, shift_high,
                                                 shift_low, shift_low, shift_low, shift_low));
    return _mm512_and_si512(shifted, _mm512_set1_epi8((char)mask));
}

static void panel_q2_k(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows)
{
    for (int c = 0; c < 4; c++) {
        int h = c / 2, u = c % 2;
        __m512i z[16];
        for (int r = 0; r < 16; r++)
            z[r] =
                r < n_rows
                    ? bits_of64(((const BlockQ2_K *)(block0 + (size_t)r * w_stride))->qs + 32 * h,
                                4 * u, 4 * u + 2, 3)
                    : _mm512_setzero_si512();
        store_chunk(p, c, z);
    }
    __m512i sc[4], tail[4];
    load_dwords16(block0, w_stride, n_rows, offsetof(BlockQ2_K, scales), sc);
    load_dwords16(block0, w_stride, n_rows, offsetof(BlockQ2_K, d) - 12, tail); // ends at dmin
    for (int j = 0; j < 16; j++)
        p->int_scale[j] = _mm512_and_si512(byte_of(sc[j / 4], j % 4), _mm512_set1_epi32(0xf));
    for (int q = 0; q < 8; q++) { // mins of sub-blocks 2q, 2q+1 as an i16 pair
        __m512i lo = _mm512_srli_epi32(byte_of(sc[q / 2], 2 * (q % 2)), 4);
        __m512i hi = _mm512_srli_epi32(byte_of(sc[q / 2], 2 * (q % 2) + 1), 4);
        p->offset_pair[q] = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
    }
    p->d = half_of(tail[3], 0);
    p->offset_scale = _mm512_sub_ps(_mm512_setzero_ps(), half_of(tail[3], 1));
}

static void panel_q3_k(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows)
{
    for (int c = 0; c < 4; c++) {
        int h = c / 2, u = c % 2;
        __m512i z[16];
        for (int r = 0; r < 16; r++) {
            const BlockQ3_K *b = (const BlockQ3_K *)(block0 + (size_t)r * w_stride);
            // quant + 4, in [0, 7]
            z[r] = r < n_rows ? _mm512_or_si512(bits_of64(b->qs + 32 * h, 4 * u, 4 * u + 2, 3),
                                                _mm512_slli_epi64(bits_of64(b->hmask, 4 * h + 2 * u,
                                                                            4 * h + 2 * u + 1, 1),
                                                                  2))
                              : _mm512_setzero_si512();
        }
        store_chunk(p, c, z);
    }
    __m512i h[4], tail[4];
    load_dwords16(block0, w_stride, n_rows, offsetof(BlockQ3_K, scales) - 4,
                  h); // h[1..3]: the scales
    load_dwords16(block0, w_stride, n_rows, offsetof(BlockQ3_K, d) - 14, tail); // ends at d
    // the 16 six-bit scales, four per dword (see q3_k_scales)
    const __m512i m4 = _mm512_set1_epi32(0x0f0f0f0f), m2 = _mm512_set1_epi32(0x03030303);
    __m512i a0 = h[1], a1 = h[2], high = h[3];
    __m512i packed[4] = {
        _mm512_or_si512(_mm512_and_si512(a0, m4), _mm512_slli_epi32(_mm512_and_si512(high, m2), 4)),
        _mm512_or_si512(_mm512_and_si512(a1, m4),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(high, 2), m2), 4)),
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(a0, 4), m4),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(high, 4), m2), 4)),
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(a1, 4), m4),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(high, 6), m2), 4)),
    };
    __m512i scale[16];
    for (int j = 0; j < 16; j++) {
        scale[j] = _mm512_sub_epi32(byte_of(packed[j / 4], j % 4), _mm512_set1_epi32(32));
        p->int_scale[j] = _mm512_and_si512(scale[j], _mm512_set1_epi32(0xffff)); // (scale, 0)
    }
    for (int q = 0; q < 8; q++)
        p->offset_pair[q] =
            _mm512_or_si512(p->int_scale[2 * q], _mm512_slli_epi32(scale[2 * q + 1], 16));
    p->d = half_of(tail[3], 1);
    p->offset_scale = _mm512_mul_ps(p->d, _mm512_set1_ps(-4.0f)); // quants were stored + 4
}

typedef void (*KPanelDecode)(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows);

// ---- The K-quant register tile ----

// Accumulates ACC[g][c] (lane r: row 16g + r, column c) over N_BLOCKS super-blocks of
// panels P[block][g], for the activation rows X[c] starting at super-block X_BLOCK0.
// SUB_STEPS: panel steps per sub-block (8 for sub-blocks of 32, 4 for 16).
// INT_STEPS > 0: integer scales, applied to partial sums of INT_STEPS steps (short enough
// to fit 16 bits); INT_STEPS == 0: float scales per sub-block.
static inline __attribute__((always_inline)) void
k_tile(const KPanel (*panels)[MAX_ROW_GROUPS], int n_blocks, int n_groups_const, int n_cols_const,
       int sub_steps, int int_steps, const BlockQ8_K *const *x, int64_t x_block0,
       __m512 acc[MAX_ROW_GROUPS][TILE_COLS])
{
    const int G = n_groups_const, C = n_cols_const;
    const int run = int_steps > 0 ? int_steps : sub_steps; // steps summed before scaling
    for (int b = 0; b < n_blocks; b++) {
        const BlockQ8_K *xb[TILE_COLS];
#pragma GCC unroll 16
        for (int c = 0; c < C; c++)
            xb[c] = x[c] + x_block0 + b;
        __m512i isum[MAX_ROW_GROUPS][TILE_COLS];
        __m512 fsum[MAX_ROW_GROUPS][TILE_COLS];
#pragma GCC unroll 16
        for (int g = 0; g < G; g++)
#pragma GCC unroll 16
            for (int c = 0; c < C; c++) {
                isum[g][c] = _mm512_setzero_si512();
                fsum[g][c] = _mm512_setzero_ps();
            }
        for (int s0 = 0; s0 < QK_K / 4; s0 += run) {
            __m512i t[MAX_ROW_GROUPS][TILE_COLS];
#pragma GCC unroll 16
            for (int g = 0; g < G; g++)
#pragma GCC unroll 16
                for (int c = 0; c < C; c++)
                    t[g][c] = _mm512_setzero_si512();
#pragma GCC unroll 16
            for (int s = s0; s < s0 + run; s++) {
#pragma GCC unroll 16
                for (int c = 0; c < C; c++) {
                    __m512i xv = _mm512_set1_epi32((int)load_u32(xb[c]->qs + 4 * s));
#pragma GCC unroll 16
                    for (int g = 0; g < G; g++)
                        t[g][c] = _mm512_dpbusd_epi32(t[g][c], panels[b][g].q[s], xv);
                }
            }
#pragma GCC unroll 16
            for (int g = 0; g < G; g++)
#pragma GCC unroll 16
                for (int c = 0; c < C; c++) {
                    if (int_steps > 0) // partial sums fit 16 bits: times (scale, 0) as i16 pairs
                        isum[g][c] = _mm512_dpwssd_epi32(isum[g][c], t[g][c],
                                                         panels[b][g].int_scale[s0 / sub_steps]);
                    else
                        fsum[g][c] =
                            _mm512_fmadd_ps(_mm512_cvtepi32_ps(t[g][c]),
                                            panels[b][g].scale[s0 / sub_steps], fsum[g][c]);
                }
        }
#pragma GCC unroll 16
        for (int c = 0; c < C; c++) {
            __m512 dx = _mm512_set1_ps(xb[c]->d);
#pragma GCC unroll 16
            for (int g = 0; g < G; g++) {
                __m512i m = _mm512_setzero_si512();
#pragma GCC unroll 16
                for (int q = 0; q < 8; q++)
                    m = _mm512_dpwssd_epi32(m, panels[b][g].offset_pair[q],
                                            _mm512_set1_epi32((int)load_u32(&xb[c]->bsums[2 * q])));
                __m512 offset = _mm512_mul_ps(_mm512_cvtepi32_ps(m), panels[b][g].offset_scale);
                __m512 total = int_steps > 0 ? _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[g][c]),
                                                               panels[b][g].d, offset)
                                             : _mm512_add_ps(fsum[g][c], offset);
                acc[g][c] = _mm512_fmadd_ps(total, dx, acc[g][c]);
            }
        }
    }
}

// ---- Panels of 32-element blocks with signed quants (Q8_0, Q4_0, Q5_0) and their tile ----

// 16 rows of one block.
typedef struct Q8Panel {
    __m512i q[QK_LEGACY / 4]; // dword s of lane r: signed quants 4s..4s+3 of row r
    __m512i start;            // -128 * sum of the row's quants (activations come as x + 128)
    __m512 d;
} Q8Panel;

// The 32 signed quants of block BLOCK of ROW (zero outside the matrix). Every type here
// starts its blocks with the fp16 scale.
static inline __attribute__((always_inline)) __m256i legacy_quants(PonderType type,
                                                                   const uint8_t *row0,
                                                                   size_t w_stride, int n_rows,
                                                                   int row, int64_t block)
{
    if (row >= n_rows || block < 0)
        return _mm256_setzero_si256();
    const uint8_t *row_bytes = row0 + (size_t)row * w_stride;
    if (type == PONDER_TYPE_Q8_0)
        return _mm256_loadu_si256((const __m256i *)((const BlockQ8_0 *)row_bytes)[block].qs);
    const uint8_t *qs = type == PONDER_TYPE_Q4_0 ? ((const BlockQ4_0 *)row_bytes)[block].qs
                                                 : ((const BlockQ5_0 *)row_bytes)[block].qs;
    __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
    __m128i mask = _mm_set1_epi8(0xf);
    __m256i q =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask));
    if (type == PONDER_TYPE_Q4_0)
        return _mm256_sub_epi8(q, _mm256_set1_epi8(8));
    // Q5_0: bit 4 of element e is bit e of qh
    __mmask32 high = load_u32(((const BlockQ5_0 *)row_bytes)[block].qh);
    q = _mm256_or_si256(q, _mm256_maskz_mov_epi8(high, _mm256_set1_epi8(0x10)));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
}

// Panels for blocks FIRST and FIRST + 1 (if HAS_SECOND) of 16 rows.
static inline __attribute__((always_inline)) void
panel_legacy_pair(PonderType type, size_t block_bytes, Q8Panel p[2], const uint8_t *row0,
                  size_t w_stride, int n_rows, int64_t first, bool has_second)
{
    __m512i z[16];
    for (int r = 0; r < 16; r++)
        z[r] = _mm512_inserti64x4(
            _mm512_castsi256_si512(legacy_quants(type, row0, w_stride, n_rows, r, first)),
            legacy_quants(type, row0, w_stride, n_rows, r, has_second ? first + 1 : -1), 1);
    transpose16(z);
    for (int half = 0; half < (has_second ? 2 : 1); half++) {
        Q8Panel *panel = &p[half];
        __m512i sum = _mm512_setzero_si512();
        for (int s = 0; s < 8; s++) {
            panel->q[s] = z[8 * half + s];
            sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(1), panel->q[s]);
        }
        panel->start = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 7));
        uint16_t d[16];
        for (int r = 0; r < 16; r++)
            d[r] =
                r < n_rows
                    ? load_u16(row0 + (size_t)r * w_stride + (size_t)(first + half) * block_bytes)
                    : 0;
        panel->d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d));
    }
}

static inline __attribute__((always_inline)) void
q8_0_tile(const Q8Panel (*panels)[MAX_ROW_GROUPS], int n_blocks, int n_groups_const,
          int n_cols_const, const BlockQ8_0 *const *x, int64_t x_block0,
          __m512 acc[MAX_ROW_GROUPS][TILE_COLS])
{
    const int G = n_groups_const, C = n_cols_const;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int b = 0; b < n_blocks; b++) {
        __m512i t[MAX_ROW_GROUPS][TILE_COLS];
#pragma GCC unroll 16
        for (int g = 0; g < G; g++)
#pragma GCC unroll 16
            for (int c = 0; c < C; c++)
                t[g][c] = panels[b][g].start;
#pragma GCC unroll 16
        for (int s = 0; s < 8; s++) {
#pragma GCC unroll 16
            for (int c = 0; c < C; c++) {
                __m512i xv = _mm512_xor_si512(
                    _mm512_set1_epi32((int)load_u32(x[c][x_block0 + b].qs + 4 * s)), flip);
#pragma GCC unroll 16
                for (int g = 0; g < G; g++)
                    t[g][c] = _mm512_dpbusd_epi32(t[g][c], xv, panels[b][g].q[s]);
            }
        }
#pragma GCC unroll 16
        for (int c = 0; c < C; c++) {
            __m512 dx = _mm512_set1_ps(_cvtsh_ss(x[c][x_block0 + b].d));
#pragma GCC unroll 16
            for (int g = 0; g < G; g++)
                acc[g][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t[g][c]),
                                            _mm512_mul_ps(panels[b][g].d, dx), acc[g][c]);
        }
    }
}

// ---- Drivers ----

// Loads (or zeroes, on the first pass) and stores the tile accumulators in OUT.
static inline void tile_load(__m512 acc[MAX_ROW_GROUPS][TILE_COLS], bool first, const float *out,
                             size_t out_stride, int rows, int cols)
{
    for (int g = 0; g < MAX_ROW_GROUPS; g++) {
        int in_group = rows - ROW_GROUP * g;
        __mmask16 mask = in_group >= 16  ? 0xffff
                         : in_group <= 0 ? 0
                                         : (__mmask16)((1u << in_group) - 1);
        for (int c = 0; c < TILE_COLS; c++)
            acc[g][c] =
                first || c >= cols
                    ? _mm512_setzero_ps()
                    : _mm512_maskz_loadu_ps(mask, out + (size_t)c * out_stride + ROW_GROUP * g);
    }
}

static inline void tile_store(__m512 acc[MAX_ROW_GROUPS][TILE_COLS], float *out, size_t out_stride,
                              int rows, int cols)
{
    for (int g = 0; g < MAX_ROW_GROUPS; g++) {
        int in_group = rows - ROW_GROUP * g;
        if (in_group <= 0)
            break;
        __mmask16 mask = in_group >= 16 ? 0xffff : (__mmask16)((1u << in_group) - 1);
        for (int c = 0; c < cols; c++)
            _mm512_mask_storeu_ps(out + (size_t)c * out_stride + ROW_GROUP * g, mask, acc[g][c]);
    }
}

// Expands BODY(G, C) for the compile-time tile shape matching the run-time GROUPS x COLS.
#define DISPATCH_TILE(groups, cols, BODY)                                                          \
    do {                                                                                           \
        switch ((groups)*8 + (cols)) {                                                             \
        case 8 + 1: BODY(1, 1); break;                                                             \
        case 8 + 2: BODY(1, 2); break;                                                             \
        case 8 + 3: BODY(1, 3); break;                                                             \
        case 8 + 4: BODY(1, 4); break;                                                             \
        case 16 + 1: BODY(2, 1); break;                                                            \
        case 16 + 2: BODY(2, 2); break;                                                            \
        case 16 + 3: BODY(2, 3); break;                                                            \
        default: BODY(2, 4); break;                                                                \
        }                                                                                          \
    } while (0)

static inline __attribute__((always_inline)) void gemm_k(PonderType type, KPanelDecode decode,
                                                         int sub_steps, int int_steps,
                                                         const void *w, size_t w_stride, int n_rows,
                                                         const void *x, size_t x_stride, int n_cols,
                                                         int64_t k, float *out, size_t out_stride)
{
    if (n_cols < QUANT_TILE_MIN_COLS) {
        quant_gemm_by_dot(quant_vec_dot_avx512(type), w, w_stride, n_rows, x, x_stride, n_cols, k,
                          out, out_stride);
        return;
    }
    const size_t block_bytes = ponder_type_traits(type)->block_bytes;
    const int64_t n_blocks = k / QK_K;
    KPanel panels[K_CHUNK_BLOCKS][MAX_ROW_GROUPS];
    for (int r0 = 0; r0 < n_rows; r0 += ROW_GROUP * MAX_ROW_GROUPS) {
        int rows =
            n_rows - r0 < ROW_GROUP * MAX_ROW_GROUPS ? n_rows - r0 : ROW_GROUP * MAX_ROW_GROUPS;
        int groups = (rows + ROW_GROUP - 1) / ROW_GROUP;
        for (int64_t kb = 0; kb < n_blocks; kb += K_CHUNK_BLOCKS) {
            int nb = n_blocks - kb < K_CHUNK_BLOCKS ? (int)(n_blocks - kb) : K_CHUNK_BLOCKS;
            for (int b = 0; b < nb; b++)
                for (int g = 0; g < groups; g++)
                    decode(&panels[b][g],
                           (const uint8_t *)w + (size_t)(r0 + ROW_GROUP * g) * w_stride +
                               (size_t)(kb + b) * block_bytes,
                           w_stride, rows - ROW_GROUP * g);
            for (int c0 = 0; c0 < n_cols; c0 += TILE_COLS) {
                int cols = n_cols - c0 < TILE_COLS ? n_cols - c0 : TILE_COLS;
                const BlockQ8_K *xr[TILE_COLS];
                for (int c = 0; c < TILE_COLS; c++)
                    xr[c] = (const BlockQ8_K *)((const uint8_t *)x +
                                                (size_t)(c0 + (c < cols ? c : 0)) * x_stride);
                float *o = out + (size_t)c0 * out_stride + r0;
                __m512 acc[MAX_ROW_GROUPS][TILE_COLS];
                tile_load(acc, kb == 0, o, out_stride, rows, cols);
#define K_TILE(G, C) k_tile(panels, nb, G, C, sub_steps, int_steps, xr, kb, acc)
                DISPATCH_TILE(groups, cols, K_TILE);
#undef K_TILE
                tile_store(acc, o, out_stride, rows, cols);
            }
        }
    }
}

#define DEFINE_GEMM_K(NAME, TYPE, DECODE, SUB_STEPS, INT_STEPS)                                    \
    static void NAME(const void *w, size_t w_stride, int n_rows, const void *x, size_t x_stride,   \
                     int n_cols, int64_t k, float *out, size_t out_stride)                         \
    {                                                                                              \
        gemm_k(TYPE, DECODE, SUB_STEPS, INT_STEPS, w, w_stride, n_rows, x, x_stride, n_cols, k,    \
               out, out_stride);                                                                   \
    }

// Q4_K: partial sums of 4 steps (16 quants <= 15) fit 16 bits; Q5_K (quants <= 31): 2 steps;
// Q6_K's do not (float scales); Q2_K, Q3_K: a 16-quant sub-block fits.
DEFINE_GEMM_K(gemm_q4_k, PONDER_TYPE_Q4_K, panel_q4_k, 8, 4)
DEFINE_GEMM_K(gemm_q5_k, PONDER_TYPE_Q5_K, panel_q5_k, 8, 2)
DEFINE_GEMM_K(gemm_q6_k, PONDER_TYPE_Q6_K, panel_q6_k, 4, 0)
DEFINE_GEMM_K(gemm_q2_k, PONDER_TYPE_Q2_K, panel_q2_k, 4, 4)
DEFINE_GEMM_K(gemm_q3_k, PONDER_TYPE_Q3_K, panel_q3_k, 4, 4)

static inline __attribute__((always_inline)) void
gemm_legacy(PonderType type, const void *w, size_t w_stride, int n_rows, const void *x,
            size_t x_stride, int n_cols, int64_t k, float *out, size_t out_stride)
{
    if (n_cols < QUANT_TILE_MIN_COLS) {
        quant_gemm_by_dot(quant_vec_dot_avx512(type), w, w_stride, n_rows, x, x_stride, n_cols, k,
                          out, out_stride);
        return;
    }
    const size_t block_bytes = ponder_type_traits(type)->block_bytes;
    const int64_t n_blocks = k / QK_LEGACY;
    Q8Panel panels[Q8_CHUNK_BLOCKS][MAX_ROW_GROUPS];
    for (int r0 = 0; r0 < n_rows; r0 += ROW_GROUP * MAX_ROW_GROUPS) {
        int rows =
            n_rows - r0 < ROW_GROUP * MAX_ROW_GROUPS ? n_rows - r0 : ROW_GROUP * MAX_ROW_GROUPS;
        int groups = (rows + ROW_GROUP - 1) / ROW_GROUP;
        for (int64_t kb = 0; kb < n_blocks; kb += Q8_CHUNK_BLOCKS) {
            int nb = n_blocks - kb < Q8_CHUNK_BLOCKS ? (int)(n_blocks - kb) : Q8_CHUNK_BLOCKS;
            for (int g = 0; g < groups; g++) {
                const uint8_t *row0 = (const uint8_t *)w + (size_t)(r0 + ROW_GROUP * g) * w_stride;
                for (int b = 0; b < nb; b += 2) {
                    Q8Panel pair[2];
                    panel_legacy_pair(type, block_bytes, pair, row0, w_stride, rows - ROW_GROUP * g,
                                      kb + b, b + 1 < nb);
                    panels[b][g] = pair[0];
                    if (b + 1 < nb)
                        panels[b + 1][g] = pair[1];
                }
            }
            for (int c0 = 0; c0 < n_cols; c0 += TILE_COLS) {
                int cols = n_cols - c0 < TILE_COLS ? n_cols - c0 : TILE_COLS;
                const BlockQ8_0 *xr[TILE_COLS];
                for (int c = 0; c < TILE_COLS; c++)
                    xr[c] = (const BlockQ8_0 *)((const uint8_t *)x +
                                                (size_t)(c0 + (c < cols ? c : 0)) * x_stride);
                float *o = out + (size_t)c0 * out_stride + r0;
                __m512 acc[MAX_ROW_GROUPS][TILE_COLS];
                tile_load(acc, kb == 0, o, out_stride, rows, cols);
#define Q8_TILE(G, C) q8_0_tile(panels, nb, G, C, xr, kb, acc)
                DISPATCH_TILE(groups, cols, Q8_TILE);
#undef Q8_TILE
                tile_store(acc, o, out_stride, rows, cols);
            }
        }
    }
}

#define DEFINE_GEMM_LEGACY(NAME, TYPE)                                                             \
    static void NAME(const void *w, size_t w_stride, int n_rows, const void *x, size_t x_stride,   \
                     int n_cols, int64_t k, float *out, size_t out_stride)                         \
    {                                                                                              \
        gemm_legacy(TYPE, w, w_stride, n_rows, x, x_stride, n_cols, k, out, out_stride);           \
    }

DEFINE_GEMM_LEGACY(gemm_q8_0, PONDER_TYPE_Q8_0)
DEFINE_GEMM_LEGACY(gemm_q4_0, PONDER_TYPE_Q4_0)
DEFINE_GEMM_LEGACY(gemm_q5_0, PONDER_TYPE_Q5_0)

PonderGemm quant_gemm_avx512_tiles(PonderType type)
{
    switch (type) {
    case PONDER_TYPE_Q2_K: return gemm_q2_k;
    case PONDER_TYPE_Q3_K: return gemm_q3_k;
    case PONDER_TYPE_Q4_K: return gemm_q4_k;
    case PONDER_TYPE_Q5_K: return gemm_q5_k;
    case PONDER_TYPE_Q6_K: return gemm_q6_k;
    case PONDER_TYPE_Q8_0: return gemm_q8_0;
    case PONDER_TYPE_Q4_0: return gemm_q4_0;
    case PONDER_TYPE_Q5_0: return gemm_q5_0;
    default: return NULL;
    }
}
