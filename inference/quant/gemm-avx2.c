// AVX2 tile kernels for prompt processing (Q4_K, Q5_K, Q6_K, Q8_0, Q4_0, Q5_0): the design of
// gemm-avx512.c on 256-bit registers without VNNI.
//
// A ymm register holds one value for each of 8 weight rows; the weights of 8 rows are
// decoded once per call into a panel where dword s of lane r holds quants 4s..4s+3 of
// row r. Per step, vpmaddubsw multiplies those by 4 activations broadcast from the
// caller's Q8 row, and vpmaddwd adds the pairs, scaled by the row's sub-block scale as an
// i16 pair (sc, sc) - so K-quant sums stay exact integers up to the block's float scales.
// Q8_0 weights are signed: their sign moves onto the activations (vpsignb) first. AVX2 has
// only 16 vector registers, so the register tile is 8 rows x 4 columns.
#include "quant-blocks.h"
#include "quant-kernels.h"

#include <immintrin.h>

enum {
    ROWS = 8,           // rows per panel (ymm lanes)
    COLS = 4,           // columns per register tile
    K_CHUNK_BLOCKS = 4, // super-blocks decoded per pass
    Q8_CHUNK_BLOCKS = 32,
};

static inline uint32_t load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

// In-place transpose of 8 rows of 8 dwords.
static inline void transpose8(__m256i r[8])
{
    __m256i t[8], u[8];
    for (int k = 0; k < 4; k++) {
        t[2 * k] = _mm256_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
    }
    // u[4h + m], 128-bit lane L = column 4L + m of rows 4h..4h+3
    for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
        u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
    }
    for (int m = 0; m < 4; m++) {
        r[m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x20);
        r[4 + m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x31);
    }
}

static inline __m128i load_row16(const uint8_t *block0, size_t w_stride, int n_rows, int row,
                                 size_t offset)
{
    if (row >= n_rows)
        return _mm_setzero_si128();
    return _mm_loadu_si128((const __m128i *)(block0 + (size_t)row * w_stride + offset));
}

// The 16 bytes at OFFSET in the blocks of 8 rows as four vectors: out[m] lane r = dword m
// of row r's bytes. Rows >= N_ROWS read as zero.
static inline void load_dwords8(const uint8_t *block0, size_t w_stride, int n_rows, size_t offset,
                                __m256i out[4])
{
    __m256i z[4];
    for (int r = 0; r < 4; r++) // lane L of z[r] = row r + 4L
        z[r] = _mm256_set_m128i(load_row16(block0, w_stride, n_rows, r + 4, offset),
                                load_row16(block0, w_stride, n_rows, r, offset));
    __m256i t0 = _mm256_unpacklo_epi32(z[0], z[1]), t1 = _mm256_unpackhi_epi32(z[0], z[1]);
    __m256i t2 = _mm256_unpacklo_epi32(z[2], z[3]), t3 = _mm256_unpackhi_epi32(z[2], z[3]);
    out[0] = _mm256_unpacklo_epi64(t0, t2);
    out[1] = _mm256_unpackhi_epi64(t0, t2);
    out[2] = _mm256_unpacklo_epi64(t1, t3);
    out[3] = _mm256_unpackhi_epi64(t1, t3);
}

static inline __m256i byte_of(__m256i v, int i)
{
    return _mm256_and_si256(_mm256_srli_epi32(v, 8 * i), _mm256_set1_epi32(0xff));
}

static inline __m256i signed_byte_of(__m256i v, int i)
{
    return _mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * i), 24);
}

static inline __m256 half_of(__m256i v, int high)
{
    __m256i h = high ? _mm256_srli_epi32(v, 16) : _mm256_and_si256(v, _mm256_set1_epi32(0xffff));
    // fp16 -> fp32 through F16C, on the 8 values packed into 16 bytes
    __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    return _mm256_cvtph_ps(packed);
}

// An i32 lane holding the i16 pair (v, v), for V in [-32768, 32767].
static inline __m256i i16_pair(__m256i v)
{
    return _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)),
                           _mm256_slli_epi32(v, 16));
}

// ---- K-quant panels ----

typedef struct KPanel {
    __m256i q[QK_K / 4];    // dword s of lane r: unsigned quants 4s..4s+3 of row r
    __m256i scale_pair[16]; // per sub-block: the i16 pair (scale, scale)
    __m256 d;
    __m256i offset_pair[8]; // i16 pairs multiplying activation sums (bsums 2p, 2p+1)
    __m256 offset_scale;    // what the offset_pair products are scaled by
} KPanel;

// Z[r] = 32 quants of row r (elements 32t..32t+31) -> panel steps 8t..8t+7.
static inline void store_chunk(KPanel *p, int t, __m256i z[8])
{
    transpose8(z);
    for (int s = 0; s < 8; s++)
        p->q[8 * t + s] = z[s];
}

// Q4_K and Q5_K (FIVE_BITS): same header; Q5_K adds bit 4 of element 32j + l as bit j of qh[l].
static inline __attribute__((always_inline)) void
panel_k_affine(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows, bool five_bits)
{
    const __m256i mask = _mm256_set1_epi8(0xf), one = _mm256_set1_epi8(1);
    for (int c = 0; c < 4; c++) { // qs[32c..32c+31]: elements 64c + l (low), 64c + 32 + l (high)
        __m256i low[8], high[8];
        for (int r = 0; r < 8; r++) {
            const uint8_t *row = block0 + (size_t)r * w_stride;
            const uint8_t *qs =
                five_bits ? ((const BlockQ5_K *)row)->qs : ((const BlockQ4_K *)row)->qs;
            __m256i bytes =
                r < n_rows ? _mm256_loadu_si256((const __m256i *)qs + c) : _mm256_setzero_si256();
            low[r] = _mm256_and_si256(bytes, mask);
            high[r] = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask);
            if (five_bits && r < n_rows) {
                __m256i qh = _mm256_loadu_si256((const __m256i *)((const BlockQ5_K *)row)->qh);
                __m256i bit_low = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one);
                __m256i bit_high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one);
                low[r] = _mm256_or_si256(low[r], _mm256_slli_epi16(bit_low, 4));
                high[r] = _mm256_or_si256(high[r], _mm256_slli_epi16(bit_high, 4));
            }
        }
        store_chunk(p, 2 * c, low);
        store_chunk(p, 2 * c + 1, high);
    }
    __m256i h[4];
    load_dwords8(block0, w_stride, n_rows, 0, h);
    const __m256i m6 = _mm256_set1_epi32(0x3f3f3f3f), m4 = _mm256_set1_epi32(0x0f0f0f0f);
    const __m256i top2 = _mm256_set1_epi32(0x30303030);
    __m256i sc_low = _mm256_and_si256(h[1], m6), m_low = _mm256_and_si256(h[2], m6);
    __m256i sc_high = _mm256_or_si256(_mm256_and_si256(h[3], m4),
                                      _mm256_and_si256(_mm256_srli_epi32(h[1], 2), top2));
    __m256i m_high = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(h[3], 4), m4),
                                     _mm256_and_si256(_mm256_srli_epi32(h[2], 2), top2));
    for (int j = 0; j < 8; j++) {
        p->scale_pair[j] = i16_pair(byte_of(j < 4 ? sc_low : sc_high, j % 4));
        p->offset_pair[j] = i16_pair(byte_of(j < 4 ? m_low : m_high, j % 4)); // bsums 2j, 2j+1
    }
    p->d = half_of(h[0], 0);
    p->offset_scale = _mm256_sub_ps(_mm256_setzero_ps(), half_of(h[0], 1));
}

static void panel_q4_k(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows)
{
    panel_k_affine(p, block0, w_stride, n_rows, false);
}

static void panel_q5_k(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows)
{
    panel_k_affine(p, block0, w_stride, n_rows, true);
}

static void panel_q6_k(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows)
{
    const __m256i low4 = _mm256_set1_epi8(0xf), three = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        // elements 128h + 32s + l: nibble s/2 of ql[64h + 32(s%2) + l], bits 2s of qh[32h + l]
        __m256i q[4][8];
        for (int r = 0; r < 8; r++) {
            const BlockQ6_K *b = (const BlockQ6_K *)(block0 + (size_t)r * w_stride);
            bool in = r < n_rows;
            __m256i ql0 =
                in ? _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h)) : _mm256_setzero_si256();
            __m256i ql1 = in ? _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32))
                             : _mm256_setzero_si256();
            __m256i qh =
                in ? _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)) : _mm256_setzero_si256();
            for (int s = 0; s < 4; s++) {
                __m256i ql = s % 2 ? ql1 : ql0;
                __m256i low = _mm256_and_si256(s < 2 ? ql : _mm256_srli_epi16(ql, 4), low4);
                __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * s), three);
                q[s][r] = _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
            }
        }
        for (int s = 0; s < 4; s++)
            store_chunk(p, 4 * h + s, q[s]);
    }
    __m256i sc[4], tail[4];
    load_dwords8(block0, w_stride, n_rows, offsetof(BlockQ6_K, scales), sc);
    load_dwords8(block0, w_stride, n_rows, offsetof(BlockQ6_K, scales) + 2, tail); // ends at d
    for (int j = 0; j < 16; j++)
        p->scale_pair[j] = i16_pair(signed_byte_of(sc[j / 4], j % 4));
    for (int q = 0; q < 8; q++) {
        __m256i lo = signed_byte_of(sc[q / 2], 2 * (q % 2)),
                hi = signed_byte_of(sc[q / 2], 2 * (q % 2) + 1);
        p->offset_pair[q] = _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi32(0xffff)),
                                            _mm256_slli_epi32(hi, 16));
    }
    p->d = half_of(tail[3], 1);
    p->offset_scale = _mm256_mul_ps(p->d, _mm256_set1_ps(-32.0f)); // quants were stored + 32
}

typedef void (*KPanelDecode)(KPanel *p, const uint8_t *block0, size_t w_stride, int n_rows);

// Accumulates ACC[c] (lane r: row r, column c) over N_BLOCKS super-blocks of panels P, for
// activation rows X[c] from super-block X_BLOCK0. SUB_STEPS: panel steps per sub-block.
static inline __attribute__((always_inline)) void k_tile(const KPanel *panels, int n_blocks,
                                                         int n_cols_const, int sub_steps,
                                                         const BlockQ8_K *const *x,
                                                         int64_t x_block0, __m256 acc[COLS])
{
    const int C = n_cols_const;
    for (int b = 0; b < n_blocks; b++) {
        const KPanel *p = &panels[b];
        const BlockQ8_K *xb[COLS];
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            xb[c] = x[c] + x_block0 + b;
        __m256i isum[COLS];
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            isum[c] = _mm256_setzero_si256();
        for (int j = 0; j < QK_K / 4 / sub_steps; j++) {
            __m256i scale = p->scale_pair[j];
#pragma GCC unroll 8
            for (int s = j * sub_steps; s < (j + 1) * sub_steps; s++) {
                __m256i w = p->q[s];
#pragma GCC unroll 4
                for (int c = 0; c < C; c++) {
                    __m256i xv = _mm256_set1_epi32((int)load_u32(xb[c]->qs + 4 * s));
                    isum[c] = _mm256_add_epi32(
                        isum[c], _mm256_madd_epi16(_mm256_maddubs_epi16(w, xv), scale));
                }
            }
        }
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            __m256i m = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int q = 0; q < 8; q++)
                m = _mm256_add_epi32(
                    m, _mm256_madd_epi16(p->offset_pair[q],
                                         _mm256_set1_epi32((int)load_u32(&xb[c]->bsums[2 * q]))));
            __m256 total = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), p->d,
                                           _mm256_mul_ps(_mm256_cvtepi32_ps(m), p->offset_scale));
            acc[c] = _mm256_fmadd_ps(total, _mm256_set1_ps(xb[c]->d), acc[c]);
        }
    }
}

// ---- Panels of 32-element blocks with signed quants (Q8_0, Q4_0, Q5_0) and their tile ----

typedef struct Q8Panel {
    __m256i q[QK_LEGACY / 4]; // dword s of lane r: signed quants 4s..4s+3 of row r
    __m256i abs_q[QK_LEGACY / 4];
    __m256 d;
} Q8Panel;

// The 32 signed quants of block BLOCK of ROW, a block of TYPE.
static inline __attribute__((always_inline)) __m256i
legacy_quants(PonderType type, const uint8_t *row, int64_t block)
{
    if (type == PONDER_TYPE_Q8_0)
        return _mm256_loadu_si256((const __m256i *)((const BlockQ8_0 *)row)[block].qs);
    const uint8_t *qs = type == PONDER_TYPE_Q4_0 ? ((const BlockQ4_0 *)row)[block].qs
                                                 : ((const BlockQ5_0 *)row)[block].qs;
    __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
    __m128i mask = _mm_set1_epi8(0xf);
    __m256i q =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask));
    if (type == PONDER_TYPE_Q4_0)
        return _mm256_sub_epi8(q, _mm256_set1_epi8(8));
    // Q5_0: bit 4 of element e is bit e of qh; spread byte e/8 of qh to byte e, test bit e%8
    __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)load_u32(((const BlockQ5_0 *)row)[block].qh)),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    __m256i high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit),
                                    _mm256_set1_epi8(0x10));
    return _mm256_sub_epi8(_mm256_or_si256(q, high), _mm256_set1_epi8(16));
}

static inline __attribute__((always_inline)) void panel_legacy(PonderType type, size_t block_bytes,
                                                               Q8Panel *p, const uint8_t *row0,
                                                               size_t w_stride, int n_rows,
                                                               int64_t block)
{
    __m256i z[8];
    uint16_t d[8];
    for (int r = 0; r < 8; r++) {
        const uint8_t *row = row0 + (size_t)r * w_stride;
        z[r] = r < n_rows ? legacy_quants(type, row, block) : _mm256_setzero_si256();
        d[r] =
            r < n_rows ? (uint16_t)load_u32(row + (size_t)block * block_bytes) : 0; // fp16 d first
    }
    transpose8(z);
    for (int s = 0; s < 8; s++) {
        p->q[s] = z[s];
        p->abs_q[s] = _mm256_sign_epi8(z[s], z[s]); // |q| <= 128 read as unsigned
    }
    p->d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
}

static inline __attribute__((always_inline)) void q8_0_tile(const Q8Panel *panels, int n_blocks,
                                                            int n_cols_const,
                                                            const BlockQ8_0 *const *x,
                                                            int64_t x_block0, __m256 acc[COLS])
{
    const int C = n_cols_const;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int b = 0; b < n_blocks; b++) {
        const Q8Panel *p = &panels[b];
        __m256i isum[COLS];
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            isum[c] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int s = 0; s < 8; s++) {
#pragma GCC unroll 4
            for (int c = 0; c < C; c++) {
                __m256i xv = _mm256_set1_epi32((int)load_u32(x[c][x_block0 + b].qs + 4 * s));
                __m256i prod = _mm256_maddubs_epi16(p->abs_q[s], _mm256_sign_epi8(xv, p->q[s]));
                isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(prod, ones));
            }
        }
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            acc[c] = _mm256_fmadd_ps(
                _mm256_cvtepi32_ps(isum[c]),
                _mm256_mul_ps(p->d, _mm256_set1_ps(_cvtsh_ss(x[c][x_block0 + b].d))), acc[c]);
    }
}

// ---- Drivers ----

static inline void tile_load(__m256 acc[COLS], bool first, const float *out, size_t out_stride,
                             int rows, int cols)
{
    __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int c = 0; c < COLS; c++)
        acc[c] = first || c >= cols ? _mm256_setzero_ps()
                                    : _mm256_maskload_ps(out + (size_t)c * out_stride, mask);
}

static inline void tile_store(__m256 acc[COLS], float *out, size_t out_stride, int rows, int cols)
{
    __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int c = 0; c < cols; c++)
        _mm256_maskstore_ps(out + (size_t)c * out_stride, mask, acc[c]);
}

#define DISPATCH_COLS(cols, BODY)                                                                  \
    do {                                                                                           \
        switch (cols) {                                                                            \
        case 1: BODY(1); break;                                                                    \
        case 2: BODY(2); break;                                                                    \
        case 3: BODY(3); break;                                                                    \
        default: BODY(4); break;                                                                   \
        }                                                                                          \
    } while (0)

static inline __attribute__((always_inline)) void gemm_k(PonderType type, KPanelDecode decode,
                                                         int sub_steps, const void *w,
                                                         size_t w_stride, int n_rows, const void *x,
                                                         size_t x_stride, int n_cols, int64_t k,
                                                         float *out, size_t out_stride)
{
    if (n_cols < QUANT_TILE_MIN_COLS) {
        quant_gemm_by_dot(quant_vec_dot_avx2(type), w, w_stride, n_rows, x, x_stride, n_cols, k,
                          out, out_stride);
        return;
    }
    const size_t block_bytes = ponder_type_traits(type)->block_bytes;
    const int64_t n_blocks = k / QK_K;
    KPanel panels[K_CHUNK_BLOCKS];
    for (int r0 = 0; r0 < n_rows; r0 += ROWS) {
        int rows = n_rows - r0 < ROWS ? n_rows - r0 : ROWS;
        const uint8_t *row0 = (const uint8_t *)w + (size_t)r0 * w_stride;
        for (int64_t kb = 0; kb < n_blocks; kb += K_CHUNK_BLOCKS) {
            int nb = n_blocks - kb < K_CHUNK_BLOCKS ? (int)(n_blocks - kb) : K_CHUNK_BLOCKS;
            for (int b = 0; b < nb; b++)
                decode(&panels[b], row0 + (size_t)(kb + b) * block_bytes, w_stride, rows);
            for (int c0 = 0; c0 < n_cols; c0 += COLS) {
                int cols = n_cols - c0 < COLS ? n_cols - c0 : COLS;
                const BlockQ8_K *xr[COLS];
                for (int c = 0; c < COLS; c++)
                    xr[c] = (const BlockQ8_K *)((const uint8_t *)x +
                                                (size_t)(c0 + (c < cols ? c : 0)) * x_stride);
                float *o = out + (size_t)c0 * out_stride + r0;
                __m256 acc[COLS];
                tile_load(acc, kb == 0, o, out_stride, rows, cols);
#define K_TILE(C) k_tile(panels, nb, C, sub_steps, xr, kb, acc)
                DISPATCH_COLS(cols, K_TILE);
#undef K_TILE
                tile_store(acc, o, out_stride, rows, cols);
            }
        }
    }
}

#define DEFINE_GEMM_K(NAME, TYPE, DECODE, SUB_STEPS)                                               \
    static void NAME(const void *w, size_t w_stride, int n_rows, const void *x, size_t x_stride,   \
                     int n_cols, int64_t k, float *out, size_t out_stride)                         \
    {                                                                                              \
        gemm_k(TYPE, DECODE, SUB_STEPS, w, w_stride, n_rows, x, x_stride, n_cols, k, out,          \
               out_stride);                                                                        \
    }

DEFINE_GEMM_K(gemm_q4_k, PONDER_TYPE_Q4_K, panel_q4_k, 8)
DEFINE_GEMM_K(gemm_q5_k, PONDER_TYPE_Q5_K, panel_q5_k, 8)
DEFINE_GEMM_K(gemm_q6_k, PONDER_TYPE_Q6_K, panel_q6_k, 4)

static inline __attribute__((always_inline)) void
gemm_legacy(PonderType type, const void *w, size_t w_stride, int n_rows, const void *x,
            size_t x_stride, int n_cols, int64_t k, float *out, size_t out_stride)
{
    if (n_cols < QUANT_TILE_MIN_COLS) {
        quant_gemm_by_dot(quant_vec_dot_avx2(type), w, w_stride, n_rows, x, x_stride, n_cols, k,
                          out, out_stride);
        return;
    }
    const size_t block_bytes = ponder_type_traits(type)->block_bytes;
    const int64_t n_blocks = k / QK_LEGACY;
    Q8Panel panels[Q8_CHUNK_BLOCKS];
    for (int r0 = 0; r0 < n_rows; r0 += ROWS) {
        int rows = n_rows - r0 < ROWS ? n_rows - r0 : ROWS;
        const uint8_t *row0 = (const uint8_t *)w + (size_t)r0 * w_stride;
        for (int64_t kb = 0; kb < n_blocks; kb += Q8_CHUNK_BLOCKS) {
            int nb = n_blocks - kb < Q8_CHUNK_BLOCKS ? (int)(n_blocks - kb) : Q8_CHUNK_BLOCKS;
            for (int b = 0; b < nb; b++)
                panel_legacy(type, block_bytes, &panels[b], row0, w_stride, rows, kb + b);
            for (int c0 = 0; c0 < n_cols; c0 += COLS) {
                int cols = n_cols - c0 < COLS ? n_cols - c0 : COLS;
                const BlockQ8_0 *xr[COLS];
                for (int c = 0; c < COLS; c++)
                    xr[c] = (const BlockQ8_0 *)((const uint8_t *)x +
                                                (size_t)(c0 + (c < cols ? c : 0)) * x_stride);
                float *o = out + (size_t)c0 * out_stride + r0;
                __m256 acc[COLS];
                tile_load(acc, kb == 0, o, out_stride, rows, cols);
#define Q8_TILE(C) q8_0_tile(panels, nb, C, xr, kb, acc)
                DISPATCH_COLS(cols, Q8_TILE);
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

PonderGemm quant_gemm_avx2_tiles(PonderType type)
{
    switch (type) {
    case PONDER_TYPE_Q4_K: return gemm_q4_k;
    case PONDER_TYPE_Q5_K: return gemm_q5_k;
    case PONDER_TYPE_Q6_K: return gemm_q6_k;
    case PONDER_TYPE_Q8_0: return gemm_q8_0;
    case PONDER_TYPE_Q4_0: return gemm_q4_0;
    case PONDER_TYPE_Q5_0: return gemm_q5_0;
    default: return NULL;
    }
}
