// Every CUDA op against the CPU backend's op on fresh random inputs: the mat-vec for every
// weight type (plain, residual-accumulating, and gate/up with SwiGLU) against cpu_matmul
// and an exact float64 product, the fp16 dequantizer against ponder_dequantize_row,
// RMSNorm/SwiGLU activations against cpu_rms_norm/cpu_swiglu, RoPE + KV store against
// cpu_rope, and attention against a float64 softmax. Outputs are poisoned with NaN first.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu-ops.h"
#include "cuda-test.h"

static const PonderType weight_types[] = {
    PONDER_TYPE_Q4_0,  PONDER_TYPE_Q4_1,    PONDER_TYPE_Q5_0,   PONDER_TYPE_Q5_1,
    PONDER_TYPE_Q8_0,  PONDER_TYPE_Q2_K,    PONDER_TYPE_Q3_K,   PONDER_TYPE_Q4_K,
    PONDER_TYPE_Q5_K,  PONDER_TYPE_Q6_K,    PONDER_TYPE_F16,    PONDER_TYPE_BF16,
    PONDER_TYPE_F32,   PONDER_TYPE_IQ4_NL,  PONDER_TYPE_IQ4_XS, PONDER_TYPE_IQ3_XXS,
    PONDER_TYPE_IQ3_S, PONDER_TYPE_IQ2_XXS, PONDER_TYPE_IQ2_XS, PONDER_TYPE_IQ2_S,
    PONDER_TYPE_IQ1_S, PONDER_TYPE_IQ1_M,
};

static bool all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

static float half_to_float(uint16_t h)
{
    return ponder_fp16_to_fp32(h);
}

typedef struct HostMatrix {
    Weight w;    // host blocks
    GpuWeight g; // the same bytes on the device
    float *deq;  // dequantized rows (the exact reference)
} HostMatrix;

static HostMatrix make_matrix(PonderType type, uint32_t row_len, uint32_t n_rows)
{
    HostMatrix m = {0};
    uint64_t row_bytes = 0;
    ponder_row_bytes(type, row_len, &row_bytes);
    float *values = malloc((size_t)n_rows * row_len * sizeof(float));
    uint8_t *blocks = malloc((size_t)n_rows * row_bytes);
    m.deq = malloc((size_t)n_rows * row_len * sizeof(float));
    test_fill(values, (size_t)n_rows * row_len, 0.05f);
    for (uint32_t r = 0; r < n_rows; r++) {
        // (random valid blocks for the IQ types without a quantizer)
        ponder_synth_row(type, values + (size_t)r * row_len, blocks + r * row_bytes, row_len,
                         (uint64_t)r + 1);
        ponder_dequantize_row(type, blocks + r * row_bytes, m.deq + (size_t)r * row_len, row_len);
    }
    free(values);
    m.w = (Weight){
        .type = type, .data = blocks, .row_len = row_len, .n_rows = n_rows, .row_bytes = row_bytes};
    m.g = (GpuWeight){.type = type,
                      .data = dev_upload(blocks, (size_t)n_rows * row_bytes),
                      .row_len = row_len,
                      .n_rows = n_rows,
                      .row_bytes = row_bytes};
    return m;
}

static void free_matrix(HostMatrix *m)
{
    free((void *)m->w.data);
    free(m->deq);
    cudaFree((void *)m->g.data);
}

// Y[t][r] = deq row r . x[t] in float64.
static void exact_product(const HostMatrix *m, const float *x, uint32_t n_tokens, float *y)
{
    for (uint32_t t = 0; t < n_tokens; t++)
        for (uint64_t r = 0; r < m->w.n_rows; r++) {
            double s = 0;
            for (uint64_t i = 0; i < m->w.row_len; i++)
                s += (double)m->deq[r * m->w.row_len + i] * x[(size_t)t * m->w.row_len + i];
            y[(size_t)t * m->w.n_rows + r] = (float)s;
        }
}

// Single-token products that normalise their input row themselves (cuda_matvec_norm),
// plain and GLU, against RMSNorm + the product in float64 and against the two launches
// they replace (cuda_norm_to_act, then cuda_matvec).
static void test_matvec_norm(ThreadPool *pool, const HostMatrix *m, const HostMatrix *up,
                             const float *x, double bound_exact)
{
    const char *name = ponder_type_traits(m->w.type)->name;
    const uint32_t n = (uint32_t)m->w.row_len, n_rows = (uint32_t)m->w.n_rows;
    enum { ROWS = 3 };
    static const uint32_t row = 2; // the row of the residual stream the step normalises
    float *w = malloc(n * sizeof(float)), *normed = malloc((size_t)ROWS * n * sizeof(float));
    for (uint32_t i = 0; i < n; i++)
        w[i] = 1.0f + 0.3f * test_random();
    cpu_rms_norm(pool, x, w, 1e-6f, ROWS, n, normed);
    const float *xn = normed + (size_t)row * n;
    float *want = malloc(n_rows * sizeof(float)), *want_up = malloc(n_rows * sizeof(float));
    float *got = malloc(n_rows * sizeof(float)), *unfused = malloc(n_rows * sizeof(float));
    exact_product(m, xn, 1, want);
    exact_product(up, xn, 1, want_up);

    float *d_x = dev_upload(x, (size_t)ROWS * n * sizeof(float)),
          *d_w = dev_upload(w, n * sizeof(float));
    uint32_t *d_row = dev_upload(&row, sizeof row);
    float *d_y = dev_alloc(n_rows * sizeof(float));
    CudaAct act = dev_act(1, n);
    for (int glu = 0; glu < 2; glu++) {
        cudaMemset(d_y, 0xff, n_rows * sizeof(float));
        cuda_ok(cuda_matvec_norm(0, &m->g, glu ? &up->g : NULL, d_x, d_row, n, d_w, 1e-6f, d_y),
                "cuda_matvec_norm");
        dev_download(got, d_y, n_rows * sizeof(float));
        cuda_ok(cuda_norm_to_act(0, d_x, n, d_row, 1, n, d_w, 1e-6f, &act), "cuda_norm_to_act");
        cudaMemset(d_y, 0xff, n_rows * sizeof(float));
        cuda_ok(glu ? cuda_matvec_glu(0, &m->g, &up->g, &act, 1, d_y, n_rows)
                    : cuda_matvec(0, &m->g, &act, 1, d_y, n_rows, false),
                "unfused product");
        dev_download(unfused, d_y, n_rows * sizeof(float));
        float *exact = glu ? malloc(n_rows * sizeof(float)) : want;
        if (glu)
            for (uint32_t r = 0; r < n_rows; r++)
                exact[r] = want[r] / (1.0f + expf(-want[r])) * want_up[r];
        double rel_exact = test_rel_rms(got, exact, n_rows),
               rel_unfused = test_rel_rms(got, unfused, n_rows);
        // the same 8-bit activations but for the order of the sum of squares
        CHECKF(all_finite(got, n_rows) && rel_exact <= (glu ? 2 : 1) * bound_exact &&
                   rel_unfused <= 2e-3,
               "matvec+norm %s%s: rel vs float64 %.2e, vs norm then matvec %.2e", name,
               glu ? " GLU" : "", rel_exact, rel_unfused);
        if (glu)
            free(exact);
    }
    // a row longer than the kernels stage is refused, not overrun
    CHECK(cuda_matvec_norm(0, &m->g, NULL, d_x, d_row, CUDA_NORM_MATVEC_MAX + 32, d_w, 1e-6f,
                           d_y) == cudaErrorInvalidValue);
    dev_act_free(&act);
    cudaFree(d_x);
    cudaFree(d_w);
    cudaFree(d_row);
    cudaFree(d_y);
    free(w);
    free(normed);
    free(want);
    free(want_up);
    free(got);
    free(unfused);
}

static void test_matvec_type(ThreadPool *pool, PonderType type, uint32_t row_len, uint32_t n_rows,
                             bool quick)
{
    const char *name = ponder_type_traits(type)->name;
    const bool float_type = cuda_weight_reads_float(type);
    // the CPU quantizes activations per 256 (K-quants) or 32, the GPU per 32: each lands
    // 0.4-2% from the float64 product (the CPU's Q8_K the farther), so from each other up to ~4%
    const double bound_cpu = float_type ? 1e-4 : 0.04, bound_exact = float_type ? 1e-5 : 0.02;
    enum { MAX_T = 40 };
    static const uint32_t counts[] = {1, 2, 3, 8, 16, 17, 40};
    const size_t n_counts = quick ? 2 : sizeof counts / sizeof counts[0];

    HostMatrix m = make_matrix(type, row_len, n_rows);
    float *x = malloc((size_t)MAX_T * row_len * sizeof(float));
    test_fill(x, (size_t)MAX_T * row_len, 1.0f);
    float *d_x = dev_upload(x, (size_t)MAX_T * row_len * sizeof(float));
    CudaAct act = dev_act(MAX_T, row_len);
    cuda_ok(cuda_norm_to_act(0, d_x, row_len, NULL, MAX_T, row_len, NULL, 0.0f, &act),
            "activations");

    size_t y_floats = (size_t)MAX_T * n_rows;
    float *y_cpu = malloc(y_floats * sizeof(float)), *y_gpu = malloc(y_floats * sizeof(float));
    float *y_exact = malloc(y_floats * sizeof(float)), *y0 = malloc(y_floats * sizeof(float));
    void *scratch = malloc(cpu_matmul_scratch_bytes(row_len, MAX_T));
    float *d_y = dev_alloc(y_floats * sizeof(float));
    exact_product(&m, x, MAX_T, y_exact);

    for (size_t c = 0; c < n_counts; c++) {
        uint32_t T = counts[c];
        size_t n = (size_t)T * n_rows;
        cpu_matmul(pool, &m.w, x, T, y_cpu, scratch);
        cudaMemset(d_y, 0xff, y_floats * sizeof(float));
        cuda_ok(cuda_matvec(0, &m.g, &act, T, d_y, n_rows, false), "cuda_matvec");
        dev_download(y_gpu, d_y, n * sizeof(float));
        double rel_cpu = test_rel_rms(y_gpu, y_cpu, n), rel_exact = test_rel_rms(y_gpu, y_exact, n);
        CHECKF(all_finite(y_gpu, n) && rel_cpu <= bound_cpu && rel_exact <= bound_exact,
               "matvec %s %ux%u T=%u: rel vs CPU %.2e (bound %.0e), vs exact %.2e", name, n_rows,
               row_len, T, rel_cpu, bound_cpu, rel_exact);
        if (c == 0)
            printf("  matvec %-5s %5ux%-5u rel vs CPU op %.2e, vs float64 %.2e (CPU op vs float64 "
                   "%.2e)\n",
                   name, n_rows, row_len, rel_cpu, rel_exact, test_rel_rms(y_cpu, y_exact, n));
    }

    // single-token steps with every rows-per-block choice (the default is 4)
    static const int decode_rows[] = {1, 2, 8};
    for (size_t k = 0; k < sizeof decode_rows / sizeof decode_rows[0]; k++) {
        cuda_matvec_set_decode_rows(decode_rows[k]);
        cudaMemset(d_y, 0xff, y_floats * sizeof(float));
        cuda_ok(cuda_matvec(0, &m.g, &act, 1, d_y, n_rows, false), "cuda_matvec");
        dev_download(y_gpu, d_y, n_rows * sizeof(float));
        double rel = test_rel_rms(y_gpu, y_exact, n_rows);
        CHECKF(all_finite(y_gpu, n_rows) && rel <= bound_exact,
               "matvec %s T=1, %d rows per block: rel %.2e", name, decode_rows[k], rel);
    }
    cuda_matvec_set_decode_rows(4);

    // residual accumulation: Y = Y0 + W X
    uint32_t T = quick ? 2 : 5;
    size_t n = (size_t)T * n_rows;
    test_fill(y0, n, 1.0f);
    cuda_ok(cudaMemcpy(d_y, y0, n * sizeof(float), cudaMemcpyHostToDevice), "upload y0");
    cuda_ok(cuda_matvec(0, &m.g, &act, T, d_y, n_rows, true), "cuda_matvec accumulate");
    dev_download(y_gpu, d_y, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        y_exact[i] += y0[i];
    double rel = test_rel_rms(y_gpu, y_exact, n);
    CHECKF(rel <= bound_exact, "matvec %s accumulate: rel %.2e", name, rel);
    exact_product(&m, x, MAX_T, y_exact);

    // gate and up with SwiGLU: H = silu(G x) * (U x)
    HostMatrix up = make_matrix(type, row_len, n_rows);
    float *u_exact = malloc(y_floats * sizeof(float));
    exact_product(&up, x, T, u_exact);
    for (size_t i = 0; i < n; i++)
        y_exact[i] = y_exact[i] / (1.0f + expf(-y_exact[i])) * u_exact[i];
    cudaMemset(d_y, 0xff, y_floats * sizeof(float));
    cuda_ok(cuda_matvec_glu(0, &m.g, &up.g, &act, T, d_y, n_rows), "cuda_matvec_glu");
    dev_download(y_gpu, d_y, n * sizeof(float));
    rel = test_rel_rms(y_gpu, y_exact, n);
    CHECKF(all_finite(y_gpu, n) && rel <= 2 * bound_exact, "matvec %s GLU: rel %.2e", name, rel);

    if (!float_type)
        test_matvec_norm(pool, &m, &up, x, bound_exact);

    // fp16 dequantization of rows [3, n_rows) for the prefill GEMM
    uint32_t r0 = 3, nr = n_rows - 3;
    uint16_t *d_h = dev_alloc((size_t)nr * row_len * sizeof(uint16_t));
    uint16_t *h = malloc((size_t)nr * row_len * sizeof(uint16_t));
    float *hf = malloc((size_t)nr * row_len * sizeof(float));
    cuda_ok(cuda_dequantize_f16(0, &m.g, r0, nr, d_h), "cuda_dequantize_f16");
    dev_download(h, d_h, (size_t)nr * row_len * sizeof(uint16_t));
    for (size_t i = 0; i < (size_t)nr * row_len; i++)
        hf[i] = half_to_float(h[i]);
    rel = test_rel_rms(hf, m.deq + (size_t)r0 * row_len, (size_t)nr * row_len);
    CHECKF(all_finite(hf, (size_t)nr * row_len) && rel <= 1e-3, "dequantize %s: rel %.2e", name,
           rel);

    free(h);
    free(hf);
    cudaFree(d_h);
    free(u_exact);
    free_matrix(&up);
    free(scratch);
    free(y_cpu);
    free(y_gpu);
    free(y_exact);
    free(y0);
    free(x);
    cudaFree(d_x);
    cudaFree(d_y);
    dev_act_free(&act);
    free_matrix(&m);
}

static void test_norm_and_swiglu(ThreadPool *pool)
{
    enum { T = 7, N = 1536, N_ROWS = 3 };
    static const uint32_t rows[N_ROWS] = {6, 0, 3};
    float *x = malloc(T * N * sizeof(float)), *w = malloc(N * sizeof(float));
    float *ref = malloc(T * N * sizeof(float)), *got = malloc(T * N * sizeof(float));
    int8_t *q = malloc(T * N);
    float *d = malloc(T * N / 32 * sizeof(float));
    uint16_t *h = malloc(T * N * sizeof(uint16_t));
    test_fill(x, T * N, 3.0f);
    for (int i = 0; i < N; i++)
        w[i] = 1.0f + 0.3f * test_random();
    cpu_rms_norm(pool, x, w, 1e-6f, T, N, ref);

    float *d_x = dev_upload(x, T * N * sizeof(float)), *d_w = dev_upload(w, N * sizeof(float));
    uint32_t *d_rows = dev_upload(rows, sizeof rows);
    CudaAct act = dev_act(T, N);
    cuda_ok(cuda_norm_to_act(0, d_x, N, d_rows, N_ROWS, N, d_w, 1e-6f, &act), "cuda_norm_to_act");
    dev_download(got, act.f, N_ROWS * N * sizeof(float));
    dev_download(q, act.q, N_ROWS * N);
    dev_download(d, act.d, N_ROWS * N / 32 * sizeof(float));
    dev_download(h, act.h, N_ROWS * N * sizeof(uint16_t));
    double worst = 0, worst_q = 0, worst_h = 0;
    float *deq = malloc(N * sizeof(float));
    for (int r = 0; r < N_ROWS; r++) {
        const float *want = ref + rows[r] * N, *f = got + r * N;
        worst = fmax(worst, test_rel_rms(f, want, N));
        for (int i = 0; i < N; i++)
            deq[i] = q[r * N + i] * d[(r * N + i) / 32];
        worst_q = fmax(worst_q, test_rel_rms(deq, want, N));
        for (int i = 0; i < N; i++)
            deq[i] = half_to_float(h[r * N + i]);
        worst_h = fmax(worst_h, test_rel_rms(deq, want, N));
    }
    printf("  rms_norm rel vs CPU op %.2e (8-bit form %.2e, fp16 form %.2e)\n", worst, worst_q,
           worst_h);
    CHECKF(worst <= 1e-5 && worst_q <= 0.01 && worst_h <= 1e-3, "rms_norm: rel %.2e / %.2e / %.2e",
           worst, worst_q, worst_h);

    // SwiGLU on rows of N, as floats and 8-bit
    float *gate = malloc(T * N * sizeof(float)), *up = malloc(T * N * sizeof(float));
    test_fill(gate, T * N, 2.0f);
    test_fill(up, T * N, 1.0f);
    float *d_gate = dev_upload(gate, T * N * sizeof(float)),
          *d_up = dev_upload(up, T * N * sizeof(float));
    cpu_swiglu(pool, gate, up, T * N);
    cuda_ok(cuda_swiglu_to_act(0, d_gate, d_up, N, T, N, &act), "cuda_swiglu_to_act");
    dev_download(got, act.f, T * N * sizeof(float));
    double rel = test_rel_rms(got, gate, T * N);
    printf("  swiglu rel vs CPU op %.2e\n", rel);
    CHECKF(rel <= 1e-6, "swiglu: rel %.2e", rel);

    free(deq);
    free(gate);
    free(up);
    cudaFree(d_gate);
    cudaFree(d_up);
    free(x);
    free(w);
    free(ref);
    free(got);
    free(q);
    free(d);
    free(h);
    cudaFree(d_x);
    cudaFree(d_w);
    cudaFree(d_rows);
    dev_act_free(&act);
}

static void test_rope(RopeStyle style, uint32_t n_rot)
{
    enum { T = 5, N_HEAD = 4, N_KV = 2, HD = 64, N_CTX = 512, N_SEQ = 3 };
    const uint32_t q_dim = N_HEAD * HD, kv_dim = N_KV * HD, stride = q_dim + 2 * kv_dim;
    static const int32_t seq[T] = {0, 1, 0, 2, 1};
    static const uint32_t pos[T] = {0, 7, 1, 300, 8};
    float *qkv = malloc(T * stride * sizeof(float)), *bias = malloc(stride * sizeof(float));
    test_fill(qkv, T * stride, 1.0f);
    test_fill(bias, stride, 0.5f);
    double inv_freq[HD / 2];
    for (uint32_t i = 0; i < n_rot / 2; i++)
        inv_freq[i] =
            pow(10000.0, -2.0 * i / n_rot) / (i % 3 == 0 ? 1.0 : 4.0); // uneven factors too

    float *d_qkv = dev_upload(qkv, T * stride * sizeof(float)),
          *d_bias = dev_upload(bias, stride * sizeof(float));
    double *d_freq = dev_upload(inv_freq, sizeof inv_freq);
    int32_t *d_seq = dev_upload(seq, sizeof seq);
    uint32_t *d_pos = dev_upload(pos, sizeof pos);
    size_t cache_elems = (size_t)N_SEQ * N_KV * N_CTX * HD;
    uint16_t *d_k = dev_alloc(cache_elems * 2), *d_v = dev_alloc(cache_elems * 2);
    CudaRopeArgs args = {
        .q = d_qkv,
        .k = d_qkv + q_dim,
        .v = d_qkv + q_dim + kv_dim,
        .qkv_stride = stride,
        .bq = d_bias,
        .bk = d_bias + q_dim,
        .bv = d_bias + q_dim + kv_dim,
        .n_tokens = T,
        .n_head = N_HEAD,
        .n_head_kv = N_KV,
        .head_dim = HD,
        .n_rot = n_rot,
        .rope_halves = style == ROPE_STYLE_HALVES,
        .d_inv_freq = d_freq,
        .d_seq = d_seq,
        .d_pos = d_pos,
        .k_cache = d_k,
        .v_cache = d_v,
        .n_ctx = N_CTX,
    };
    cuda_ok(cuda_rope_store_kv(0, &args), "cuda_rope_store_kv");
    float *got = malloc(T * stride * sizeof(float));
    uint16_t *k_cache = malloc(cache_elems * 2), *v_cache = malloc(cache_elems * 2);
    dev_download(got, d_qkv, T * stride * sizeof(float));
    dev_download(k_cache, d_k, cache_elems * 2);
    dev_download(v_cache, d_v, cache_elems * 2);

    double worst_q = 0, worst_kv = 0;
    float want[4 * HD], have[4 * HD];
    for (uint32_t t = 0; t < T; t++) {
        float *row = qkv + t * stride;
        for (uint32_t i = 0; i < stride; i++)
            row[i] += bias[i];
        cpu_rope(row, N_HEAD, HD, n_rot, style, inv_freq, pos[t]);
        cpu_rope(row + q_dim, N_KV, HD, n_rot, style, inv_freq, pos[t]);
        worst_q = fmax(worst_q, test_rel_rms(got + t * stride, row, q_dim));
        for (uint32_t h = 0; h < N_KV; h++) {
            size_t at = (((size_t)seq[t] * N_KV + h) * N_CTX + pos[t]) * HD;
            for (uint32_t i = 0; i < HD; i++) {
                want[i] = row[q_dim + h * HD + i];
                have[i] = half_to_float(k_cache[at + i]);
                want[HD + i] = row[q_dim + kv_dim + h * HD + i];
                have[HD + i] = half_to_float(v_cache[at + i]);
            }
            worst_kv = fmax(worst_kv, test_rel_rms(have, want, 2 * HD));
        }
    }
    printf("  rope %s n_rot=%u: q rel vs CPU op %.2e, cached k/v %.2e\n",
           style == ROPE_STYLE_HALVES ? "halves  " : "adjacent", n_rot, worst_q, worst_kv);
    CHECKF(worst_q <= 1e-5 && worst_kv <= 1e-3, "rope: q rel %.2e, k/v rel %.2e", worst_q,
           worst_kv);
    free(qkv);
    free(bias);
    free(got);
    free(k_cache);
    free(v_cache);
    cudaFree(d_qkv);
    cudaFree(d_bias);
    cudaFree(d_freq);
    cudaFree(d_seq);
    cudaFree(d_pos);
    cudaFree(d_k);
    cudaFree(d_v);
}

static void test_attention(uint32_t n_head, uint32_t n_kv, uint32_t hd, uint32_t forced_split,
                           int n_sm)
{
    enum { T = 5, N_SEQ = 3, N_CTX = 1100 };
    static const int32_t seq[T] = {0, 1, 2, 0, 2};
    static const uint32_t pos[T] = {0, 63, 1050, 200, 64};
    const uint32_t q_dim = n_head * hd, group = n_head / n_kv;
    size_t cache_elems = (size_t)N_SEQ * n_kv * N_CTX * hd;
    uint16_t *k = malloc(cache_elems * 2), *v = malloc(cache_elems * 2);
    float *kf = malloc(cache_elems * sizeof(float)), *vf = malloc(cache_elems * sizeof(float));
    test_fill(kf, cache_elems, 1.0f);
    test_fill(vf, cache_elems, 1.0f);
    for (size_t i = 0; i < cache_elems; i++) {
        k[i] = ponder_fp32_to_fp16(kf[i]);
        v[i] = ponder_fp32_to_fp16(vf[i]);
        kf[i] = half_to_float(k[i]);
        vf[i] = half_to_float(v[i]);
    }
    float *q = malloc(T * q_dim * sizeof(float));
    test_fill(q, T * q_dim, 1.0f);

    uint32_t n_split = forced_split ? forced_split : cuda_attention_splits(T, n_kv, (uint32_t)n_sm);
    CudaAttentionArgs a = {
        .q = dev_upload(q, T * q_dim * sizeof(float)),
        .q_stride = q_dim,
        .n_tokens = T,
        .n_head = n_head,
        .n_head_kv = n_kv,
        .head_dim = hd,
        .d_seq = dev_upload(seq, sizeof seq),
        .d_pos = dev_upload(pos, sizeof pos),
        .k_cache = dev_upload(k, cache_elems * 2),
        .v_cache = dev_upload(v, cache_elems * 2),
        .n_ctx = N_CTX,
        .n_split = n_split,
        .part_acc = dev_alloc((size_t)T * n_head * n_split * hd * sizeof(float)),
        .part_ml = dev_alloc((size_t)T * n_head * n_split * 2 * sizeof(float)),
        .scale = 1.0f / sqrtf((float)hd),
        .out = dev_act(T, q_dim),
    };
    cuda_ok(cuda_attention(0, &a), "cuda_attention");
    float *got = malloc(T * q_dim * sizeof(float)), *want = malloc(T * q_dim * sizeof(float));
    dev_download(got, a.out.f, T * q_dim * sizeof(float));

    double *scores = malloc(N_CTX * sizeof(double));
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t h = 0; h < n_head; h++) {
            size_t head0 = ((size_t)seq[t] * n_kv + h / group) * N_CTX;
            const float *qh = q + t * q_dim + h * hd;
            double max = -INFINITY, sum = 0;
            for (uint32_t p = 0; p <= pos[t]; p++) {
                double s = 0;
                for (uint32_t i = 0; i < hd; i++)
                    s += (double)qh[i] * kf[(head0 + p) * hd + i];
                scores[p] = s / sqrt((double)hd);
                max = fmax(max, scores[p]);
            }
            for (uint32_t p = 0; p <= pos[t]; p++)
                sum += scores[p] = exp(scores[p] - max);
            for (uint32_t i = 0; i < hd; i++) {
                double o = 0;
                for (uint32_t p = 0; p <= pos[t]; p++)
                    o += scores[p] * vf[(head0 + p) * hd + i];
                want[t * q_dim + h * hd + i] = (float)(o / sum);
            }
        }
    double rel = test_rel_rms(got, want, T * q_dim);
    printf("  attention heads %2u/%u, head_dim %3u, %3u slices: rel vs float64 %.2e\n", n_head,
           n_kv, hd, n_split, rel);
    CHECKF(all_finite(got, T * q_dim) && rel <= 1e-4, "attention %u/%u hd %u split %u: rel %.2e",
           n_head, n_kv, hd, n_split, rel);
    free(scores);
    free(got);
    free(want);
    free(q);
    free(k);
    free(v);
    free(kf);
    free(vf);
    cudaFree((void *)a.q);
    cudaFree((void *)a.d_seq);
    cudaFree((void *)a.d_pos);
    cudaFree((void *)a.k_cache);
    cudaFree((void *)a.v_cache);
    cudaFree(a.part_acc);
    cudaFree(a.part_ml);
    dev_act_free(&a.out);
}

// The fused decode attention (RoPE + KV store + attention + merge in one launch) against
// the separate kernels, which the tests above check against the CPU: same output, same cache.
static void test_attention_decode(uint32_t n_head, uint32_t n_kv, uint32_t hd, uint32_t n_rot,
                                  RopeStyle style, uint32_t n_split)
{
    enum { T = 5, N_SEQ = 5, N_CTX = 1100 };
    static const int32_t seq[T] = {3, 0, 1, 4, 2};
    static const uint32_t pos[T] = {0, 63, 1050, 200, 64};
    const uint32_t q_dim = n_head * hd, kv_dim = n_kv * hd, stride = q_dim + 2 * kv_dim;
    size_t cache_elems = (size_t)N_SEQ * n_kv * N_CTX * hd;
    uint16_t *cache = malloc(cache_elems * 2);
    float *tmp = malloc(cache_elems * sizeof(float));
    test_fill(tmp, cache_elems, 1.0f);
    for (size_t i = 0; i < cache_elems; i++)
        cache[i] = ponder_fp32_to_fp16(tmp[i]);
    float *qkv = malloc(T * stride * sizeof(float)), *bias = malloc(stride * sizeof(float));
    test_fill(qkv, T * stride, 1.0f);
    test_fill(bias, stride, 0.3f);
    double inv_freq[64];
    for (uint32_t i = 0; i < n_rot / 2; i++)
        inv_freq[i] = pow(1e6, -2.0 * i / n_rot);

    uint16_t *k_sep = dev_upload(cache, cache_elems * 2),
             *v_sep = dev_upload(cache, cache_elems * 2);
    uint16_t *k_fused = dev_upload(cache, cache_elems * 2),
             *v_fused = dev_upload(cache, cache_elems * 2);
    float *qkv_sep = dev_upload(qkv, T * stride * sizeof(float)),
          *qkv_fused = dev_upload(qkv, T * stride * sizeof(float));
    float *d_bias = dev_upload(bias, stride * sizeof(float));
    double *d_freq = dev_upload(inv_freq, sizeof inv_freq);
    int32_t *d_seq = dev_upload(seq, sizeof seq);
    uint32_t *d_pos = dev_upload(pos, sizeof pos);
    uint32_t *zeros = calloc((size_t)T * n_head, sizeof(uint32_t));
    uint32_t *d_counters = dev_upload(zeros, (size_t)T * n_head * sizeof(uint32_t));
    free(zeros);
    float *part_acc = dev_alloc((size_t)T * n_head * n_split * hd * sizeof(float));
    float *part_ml = dev_alloc((size_t)T * n_head * n_split * 2 * sizeof(float));
    CudaAct out_sep = dev_act(T, q_dim), out_fused = dev_act(T, q_dim);

    CudaRopeArgs rope = {
        .q = qkv_sep,
        .k = qkv_sep + q_dim,
        .v = qkv_sep + q_dim + kv_dim,
        .qkv_stride = stride,
        .bq = d_bias,
        .bk = d_bias + q_dim,
        .bv = d_bias + q_dim + kv_dim,
        .n_tokens = T,
        .n_head = n_head,
        .n_head_kv = n_kv,
        .head_dim = hd,
        .n_rot = n_rot,
        .rope_halves = style == ROPE_STYLE_HALVES,
        .d_inv_freq = d_freq,
        .d_seq = d_seq,
        .d_pos = d_pos,
        .k_cache = k_sep,
        .v_cache = v_sep,
        .n_ctx = N_CTX,
    };
    CudaAttentionArgs att = {
        .q = qkv_sep,
        .q_stride = stride,
        .n_tokens = T,
        .n_head = n_head,
        .n_head_kv = n_kv,
        .head_dim = hd,
        .d_seq = d_seq,
        .d_pos = d_pos,
        .k_cache = k_sep,
        .v_cache = v_sep,
        .n_ctx = N_CTX,
        .n_split = n_split,
        .part_acc = part_acc,
        .part_ml = part_ml,
        .scale = 1.0f / sqrtf((float)hd),
        .out = out_sep,
    };
    cuda_ok(cuda_rope_store_kv(0, &rope), "cuda_rope_store_kv");
    cuda_ok(cuda_attention(0, &att), "cuda_attention");

    CudaDecodeAttentionArgs fused = {.rope = rope, .att = att, .d_counters = d_counters};
    fused.rope.q = qkv_fused, fused.rope.k = qkv_fused + q_dim,
    fused.rope.v = qkv_fused + q_dim + kv_dim;
    fused.rope.k_cache = k_fused, fused.rope.v_cache = v_fused;
    fused.att.k_cache = k_fused, fused.att.v_cache = v_fused, fused.att.out = out_fused;
    float *want = malloc(T * q_dim * sizeof(float)), *got = malloc(T * q_dim * sizeof(float));
    uint16_t *c_sep = malloc(cache_elems * 2), *c_fused = malloc(cache_elems * 2);
    dev_download(want, out_sep.f, T * q_dim * sizeof(float));
    // each block taking the whole GQA group, one query head, or two; the second run of each
    // checks the counters were reset
    const uint32_t heads_per_block[] = {0, 1, 2};
    for (int run = 0; run < 6; run++) {
        fused.heads_per_block = heads_per_block[run / 2];
        cudaMemset(out_fused.f, 0xff, T * q_dim * sizeof(float));
        cuda_ok(cuda_attention_decode(0, &fused), "cuda_attention_decode");
        dev_download(got, out_fused.f, T * q_dim * sizeof(float));
        double rel = test_rel_rms(got, want, T * q_dim);
        if (run % 2 == 0)
            printf("  fused decode attention %2u/%u heads (%u per block), head_dim %3u, n_rot %3u, "
                   "%3u slices: rel "
                   "vs separate kernels %.2e\n",
                   n_head, n_kv, fused.heads_per_block, hd, n_rot, n_split, rel);
        CHECKF(all_finite(got, T * q_dim) && rel <= 1e-5,
               "fused decode attention run %d (%u heads per block): rel %.2e", run,
               fused.heads_per_block, rel);
    }
    dev_download(c_sep, k_sep, cache_elems * 2);
    dev_download(c_fused, k_fused, cache_elems * 2);
    CHECKF(memcmp(c_sep, c_fused, cache_elems * 2) == 0, "fused decode attention: K cache differs");
    dev_download(c_sep, v_sep, cache_elems * 2);
    dev_download(c_fused, v_fused, cache_elems * 2);
    CHECKF(memcmp(c_sep, c_fused, cache_elems * 2) == 0, "fused decode attention: V cache differs");

    free(want);
    free(got);
    free(c_sep);
    free(c_fused);
    free(cache);
    free(tmp);
    free(qkv);
    free(bias);
    void *bufs[] = {k_sep,  v_sep, k_fused, v_fused,    qkv_sep,  qkv_fused, d_bias,
                    d_freq, d_seq, d_pos,   d_counters, part_acc, part_ml};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        cudaFree(bufs[i]);
    dev_act_free(&out_sep);
    dev_act_free(&out_fused);
}

void run_op_tests(bool quick)
{
    ThreadPool *pool = threadpool_new(2);
    int n_sm = 0;
    cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, 0);
    printf("ops against the CPU backend:\n");
    for (size_t i = 0; i < sizeof weight_types / sizeof weight_types[0]; i++) {
        test_matvec_type(pool, weight_types[i], 512, quick ? 32 : 67, quick);
        if (!quick) {
            test_matvec_type(pool, weight_types[i], 3072, 19,
                             quick); // rows longer than a block's stride
        }
    }
    test_norm_and_swiglu(pool);
    test_rope(ROPE_STYLE_HALVES, 64);
    test_rope(ROPE_STYLE_ADJACENT, 64);
    test_rope(ROPE_STYLE_HALVES, 32);
    test_attention(4, 2, 64, 0, n_sm);
    if (!quick) {
        test_attention(4, 2, 64, 1, n_sm);
        test_attention(12, 2, 128, 0, n_sm);
        test_attention(28, 4, 128, 7, n_sm);
        test_attention(16, 2, 128, 0, n_sm);
        test_attention(6, 6, 64, 3, n_sm);
    }
    test_attention_decode(4, 2, 64, 64, ROPE_STYLE_ADJACENT, 3);
    if (!quick) {
        test_attention_decode(12, 2, 128, 128, ROPE_STYLE_HALVES,
                              cuda_attention_splits(5, 2, (uint32_t)n_sm));
        test_attention_decode(28, 4, 128, 128, ROPE_STYLE_HALVES, 7);
        test_attention_decode(16, 2, 128, 64, ROPE_STYLE_ADJACENT, 1);
    }
    threadpool_free(pool);
}
