// Weight types: bit layouts (against llama.cpp's own files), quantizer accuracy, and every
// dot / tile kernel level against the scalar reference.
#define _POSIX_C_SOURCE 200809L // setenv
#include "quant/quant-kernels.h"
#include "test-util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const PonderType weight_types[] = {
    PONDER_TYPE_F32,  PONDER_TYPE_F16,  PONDER_TYPE_BF16, PONDER_TYPE_Q4_0, PONDER_TYPE_Q4_1,
    PONDER_TYPE_Q5_0, PONDER_TYPE_Q5_1, PONDER_TYPE_Q8_0, PONDER_TYPE_Q2_K, PONDER_TYPE_Q3_K,
    PONDER_TYPE_Q4_K, PONDER_TYPE_Q5_K, PONDER_TYPE_Q6_K,
};
enum { N_WEIGHT_TYPES = sizeof weight_types / sizeof weight_types[0] };

// The IQ types (codebook quants): their layouts are checked against llama.cpp's files in
// ../shared/models2, their kernels with the others.
static const PonderType iq_types[] = {
    PONDER_TYPE_IQ4_NL, PONDER_TYPE_IQ4_XS,  PONDER_TYPE_IQ3_XXS,
    PONDER_TYPE_IQ3_S,  PONDER_TYPE_IQ2_XXS, PONDER_TYPE_IQ2_XS,
    PONDER_TYPE_IQ2_S,  PONDER_TYPE_IQ1_S,   PONDER_TYPE_IQ1_M,
};
enum { N_IQ_TYPES = sizeof iq_types / sizeof iq_types[0] };

// Every type with a dot product: weight_types, then iq_types.
static PonderType kernel_type(int i)
{
    return i < N_WEIGHT_TYPES ? weight_types[i] : iq_types[i - N_WEIGHT_TYPES];
}
enum { N_KERNEL_TYPES = N_WEIGHT_TYPES + N_IQ_TYPES };

static const char *level_name(PonderCpuLevel level)
{
    return level == PONDER_CPU_AVX512 ? "avx512-vnni"
           : level == PONDER_CPU_AVX2 ? "avx2"
                                      : "scalar";
}

// ---- Random data ----

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double rng_uniform(void) // [0, 1)
{
    return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

static float rng_gaussian(void)
{
    double u = rng_uniform() + 1e-300, v = rng_uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static void fill_gaussian(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rng_gaussian();
}

// Gaussian data whose magnitude jumps by up to 10^±3 every 32 values, with some blocks
// zero and some constant: the cases where scales and mins hit their extremes.
static void fill_extreme(float *x, size_t n)
{
    for (size_t b = 0; b < n; b += 32) {
        float scale = (float)pow(10.0, 6.0 * rng_uniform() - 3.0);
        int kind = (int)(rng_next() % 8);
        float constant = rng_gaussian() * scale;
        for (size_t i = b; i < b + 32 && i < n; i++) {
            if (kind == 0)
                x[i] = 0;
            else if (kind == 1)
                x[i] = constant;
            else if (kind == 2)
                x[i] = fabsf(rng_gaussian()) * scale + scale; // all positive: no min needed
            else
                x[i] = rng_gaussian() * scale;
        }
    }
}

static void *quantize_new(PonderType type, const float *x, int64_t n)
{
    uint64_t bytes;
    if (!ponder_row_bytes(type, (uint64_t)n, &bytes))
        return NULL;
    void *q = malloc(bytes ? bytes : 1);
    ponder_quantize_row(type, x, q, n);
    return q;
}

static double rel_rms_after_roundtrip(PonderType type, const float *x, int64_t n)
{
    void *q = quantize_new(type, x, n);
    float *y = malloc((size_t)n * sizeof *y);
    ponder_dequantize_row(type, q, y, n);
    double err = test_rel_rms(y, x, (size_t)n);
    free(y);
    free(q);
    return err;
}

// ---- Quantizer accuracy on Gaussian data ----

typedef struct TypeBound {
    PonderType type;
    double roundtrip_max; // relative RMS error on Gaussian data
    double file_max;      // llama.cpp's file vs the f16 file (a wrong layout gives ~1)
} TypeBound;

static const TypeBound bounds[] = {
    {PONDER_TYPE_F32, 1e-9, 1e-9},   {PONDER_TYPE_F16, 5e-4, 1e-9},
    {PONDER_TYPE_BF16, 4e-3, 4e-3},  {PONDER_TYPE_Q8_0, 0.006, 0.008},
    {PONDER_TYPE_Q6_K, 0.025, 0.03}, {PONDER_TYPE_Q5_0, 0.05, 0.06},
    {PONDER_TYPE_Q5_1, 0.045, 0.06}, {PONDER_TYPE_Q5_K, 0.04, 0.06},
    {PONDER_TYPE_Q4_0, 0.1, 0.12},   {PONDER_TYPE_Q4_1, 0.09, 0.12},
    {PONDER_TYPE_Q4_K, 0.085, 0.11}, {PONDER_TYPE_Q3_K, 0.19, 0.25},
    {PONDER_TYPE_Q2_K, 0.35, 0.45},
};

static const TypeBound *bound_for(PonderType type)
{
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
        if (bounds[i].type == type)
            return &bounds[i];
    return NULL;
}

static void test_roundtrip_accuracy(void)
{
    const int64_t n = 256 * 64;
    float *x = malloc((size_t)n * sizeof *x);
    fill_gaussian(x, (size_t)n);
    printf("quantize -> dequantize, relative RMS error on Gaussian data:\n");
    for (int t = 0; t < N_WEIGHT_TYPES; t++) {
        PonderType type = weight_types[t];
        double err = rel_rms_after_roundtrip(type, x, n);
        printf("  %-5s %.5f\n", ponder_type_traits(type)->name, err);
        CHECKF(err <= bound_for(type)->roundtrip_max, "%s: %g", ponder_type_traits(type)->name,
               err);
    }
    // Extreme data must not blow up (NaN, overflowing quants): the error stays that of the
    // type, measured per 256-value block so tiny blocks count as much as huge ones.
    fill_extreme(x, (size_t)n);
    for (int t = 0; t < N_WEIGHT_TYPES; t++) {
        PonderType type = weight_types[t];
        void *q = quantize_new(type, x, n);
        float *y = malloc((size_t)n * sizeof *y);
        ponder_dequantize_row(type, q, y, n);
        double worst = 0;
        for (int64_t b = 0; b < n; b += 256) {
            double err = test_rel_rms(y + b, x + b, 256);
            if (isfinite(err) || err != err)
                worst = err > worst || err != err ? err : worst;
        }
        CHECKF(worst <= 2.5 * bound_for(type)->roundtrip_max, "%s extreme data: %g",
               ponder_type_traits(type)->name, worst);
        free(y);
        free(q);
    }
    free(x);
}

// The SIMD activation quantizers write exactly the reference's bytes.
static void test_activation_quantizers(void)
{
    static const PonderType types[] = {PONDER_TYPE_Q8_0, PONDER_TYPE_Q8_1, PONDER_TYPE_Q8_K};
    const int64_t n = 256 * 12;
    float *x = malloc((size_t)n * sizeof *x);
    for (PonderCpuLevel level = PONDER_CPU_AVX2; level <= PONDER_CPU_AVX512; level++) {
        if (!ponder_vec_dot_at_level(PONDER_TYPE_F32, level))
            continue;
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            uint64_t bytes;
            ponder_row_bytes(types[t], (uint64_t)n, &bytes);
            uint8_t *want = malloc(bytes), *got = malloc(bytes);
            for (int trial = 0; trial < 4; trial++) {
                if (trial % 2)
                    fill_extreme(x, (size_t)n);
                else
                    fill_gaussian(x, (size_t)n);
                ponder_quantize_row_at_level(types[t], x, want, n, PONDER_CPU_SCALAR);
                ponder_quantize_row_at_level(types[t], x, got, n, level);
                CHECKF(memcmp(want, got, bytes) == 0,
                       "%s quantizer at level %s differs from scalar",
                       ponder_type_traits(types[t])->name, level_name(level));
            }
            free(want);
            free(got);
        }
    }
    free(x);
}

// ---- llama.cpp's files: dequantized tensors must match the f16 originals ----

// A tiny GGUF reader: just enough to list tensors (the library's reader is tested on its own).
typedef struct MiniTensor {
    char name[96];
    uint32_t type;
    uint64_t ne[4];
    uint64_t n_elements;
    const uint8_t *data;
} MiniTensor;

typedef struct MiniGguf {
    char *bytes;
    size_t size;
    uint64_t n_tensors;
    MiniTensor *tensors;
} MiniGguf;

typedef struct Cursor {
    const uint8_t *p, *end;
    bool bad;
} Cursor;

static uint64_t take(Cursor *c, size_t n)
{
    uint64_t v = 0;
    if ((size_t)(c->end - c->p) < n) {
        c->bad = true;
        c->p = c->end;
        return 0;
    }
    memcpy(&v, c->p, n);
    c->p += n;
    return v;
}

static void skip_bytes(Cursor *c, uint64_t n)
{
    if ((uint64_t)(c->end - c->p) < n) {
        c->bad = true;
        c->p = c->end;
    } else {
        c->p += n;
    }
}

static void skip_value(Cursor *c, uint32_t type)
{
    static const uint8_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
        skip_bytes(c, take(c, 8));
    } else if (type == 9) {
        uint32_t elem = (uint32_t)take(c, 4);
        uint64_t count = take(c, 8);
        for (uint64_t i = 0; i < count && !c->bad; i++)
            skip_value(c, elem);
    } else if (type < sizeof sizes && sizes[type]) {
        skip_bytes(c, sizes[type]);
    } else {
        c->bad = true;
    }
}

static bool mini_gguf_open(MiniGguf *g, const char *path)
{
    memset(g, 0, sizeof *g);
    g->bytes = test_read_file(path, &g->size);
    if (!g->bytes)
        return false;
    Cursor c = {(const uint8_t *)g->bytes, (const uint8_t *)g->bytes + g->size, false};
    if (take(&c, 4) != 0x46554747u) // "GGUF"
        return false;
    take(&c, 4); // version
    g->n_tensors = take(&c, 8);
    uint64_t n_kv = take(&c, 8);
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv && !c.bad; i++) {
        uint64_t key_len = take(&c, 8);
        bool is_alignment = key_len == 17 && (uint64_t)(c.end - c.p) >= 17 &&
                            memcmp(c.p, "general.alignment", 17) == 0;
        skip_bytes(&c, key_len);
        uint32_t type = (uint32_t)take(&c, 4);
        if (is_alignment && type == 4)
            alignment = take(&c, 4);
        else
            skip_value(&c, type);
    }
    if (c.bad || g->n_tensors > 10000)
        return false;
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    uint64_t *offsets = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *offsets);
    for (uint64_t i = 0; i < g->n_tensors && !c.bad; i++) {
        MiniTensor *t = &g->tensors[i];
        uint64_t len = take(&c, 8);
        if (len >= sizeof t->name || (uint64_t)(c.end - c.p) < len) {
            c.bad = true;
            break;
        }
        memcpy(t->name, c.p, len);
        c.p += len;
        uint32_t n_dims = (uint32_t)take(&c, 4);
        t->n_elements = 1;
        for (uint32_t d = 0; d < 4; d++) {
            t->ne[d] = d < n_dims ? take(&c, 8) : 1;
            t->n_elements *= t->ne[d];
        }
        t->type = (uint32_t)take(&c, 4);
        offsets[i] = take(&c, 8);
    }
    size_t data_start =
        (size_t)((c.p - (const uint8_t *)g->bytes + alignment - 1) / alignment * alignment);
    bool ok = !c.bad;
    for (uint64_t i = 0; i < g->n_tensors && ok; i++) {
        uint64_t bytes;
        ok = ponder_row_bytes(g->tensors[i].type, g->tensors[i].n_elements, &bytes) &&
             data_start + offsets[i] + bytes <= g->size;
        g->tensors[i].data = (const uint8_t *)g->bytes + data_start + offsets[i];
    }
    free(offsets);
    return ok;
}

static void mini_gguf_close(MiniGguf *g)
{
    free(g->bytes);
    free(g->tensors);
}

static const MiniTensor *mini_gguf_find(const MiniGguf *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return &g->tensors[i];
    return NULL;
}

static float *dequantize_tensor(const MiniTensor *t)
{
    float *y = malloc(t->n_elements * sizeof *y);
    ponder_dequantize_row((PonderType)t->type, t->data, y, (int64_t)t->n_elements);
    return y;
}

static void test_llama_cpp_files(void)
{
    static const char *const archs[] = {"qwen2", "llama"};
    static const char *const variants[] = {"bf16",   "q8_0", "q6_k", "q5_k_m", "q5_0", "q5_1",
                                           "q4_k_m", "q4_0", "q4_1", "q3_k_m", "q2_k"};
    bool seen[PONDER_TYPE_COUNT] = {false};
    int files = 0;
    printf("llama.cpp files vs the f16 originals (relative RMS error; ours re-quantized):\n");
    for (size_t a = 0; a < 2; a++) {
        char path[256];
        snprintf(path, sizeof path, "models/%s-f16.gguf", archs[a]);
        MiniGguf f16;
        if (!mini_gguf_open(&f16, test_shared_path(path))) {
            mini_gguf_close(&f16);
            continue;
        }
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            snprintf(path, sizeof path, "models/%s-%s.gguf", archs[a], variants[v]);
            if (!test_model_available(path + strlen("models/")))
                continue;
            MiniGguf qf;
            bool opened = mini_gguf_open(&qf, test_shared_path(path));
            CHECKF(opened, "cannot read %s", path);
            if (!opened) {
                mini_gguf_close(&qf);
                continue;
            }
            files++;
            // worst error per type in this file, and ours on the same tensors
            double worst[PONDER_TYPE_COUNT] = {0}, ours[PONDER_TYPE_COUNT] = {0};
            for (uint64_t i = 0; i < qf.n_tensors; i++) {
                const MiniTensor *t = &qf.tensors[i];
                const MiniTensor *ref = mini_gguf_find(&f16, t->name);
                if (!ref || ref->n_elements != t->n_elements || t->type == ref->type)
                    continue;
                const TypeBound *bound = bound_for((PonderType)t->type);
                CHECKF(bound, "%s: %s has unexpected type %u", path, t->name, t->type);
                if (!bound)
                    continue;
                seen[t->type] = true;
                float *theirs = dequantize_tensor(t);
                float *orig = dequantize_tensor(ref);
                double err = test_rel_rms(theirs, orig, t->n_elements);
                CHECKF(err <= bound->file_max, "%s: %s (%s) error %g", path, t->name,
                       ponder_type_traits(t->type)->name, err);
                if (err > worst[t->type])
                    worst[t->type] = err;
                // our quantizer on the same rows (rows of ne[0] values)
                double mine = 0;
                uint64_t row_len = t->ne[0];
                if (row_len % ponder_type_traits(t->type)->block_len == 0) {
                    void *q = quantize_new((PonderType)t->type, orig, (int64_t)t->n_elements);
                    float *back = malloc(t->n_elements * sizeof *back);
                    ponder_dequantize_row((PonderType)t->type, q, back, (int64_t)t->n_elements);
                    mine = test_rel_rms(back, orig, t->n_elements);
                    free(back);
                    free(q);
                    // comparable with llama.cpp's quantizer (which sees no importance matrix here)
                    CHECKF(mine <= 1.1 * err + 1e-6,
                           "%s: %s our %s quantizer error %g vs llama.cpp %g", path, t->name,
                           ponder_type_traits(t->type)->name, mine, err);
                }
                if (mine > ours[t->type])
                    ours[t->type] = mine;
                free(theirs);
                free(orig);
            }
            printf("  %-22s", path + 7);
            for (int type = 0; type < PONDER_TYPE_COUNT; type++)
                if (worst[type] > 0)
                    printf(" %s %.4f (ours %.4f)", ponder_type_traits((uint32_t)type)->name,
                           worst[type], ours[type]);
            printf("\n");
            mini_gguf_close(&qf);
        }
        mini_gguf_close(&f16);
    }
    if (files == 0) {
        printf("  (no model files found under %s)\n", test_shared_path("models"));
        test_failures++;
        return;
    }
    for (int t = 0; t < N_WEIGHT_TYPES; t++)
        if (weight_types[t] != PONDER_TYPE_F32 && weight_types[t] != PONDER_TYPE_F16)
            CHECKF(seen[weight_types[t]], "no tensor of type %s in the llama.cpp files",
                   ponder_type_traits(weight_types[t])->name);
}

// ---- Dot products ----

// Weight rows whose quant bits are random (every code, including the extreme scales of
// Q6_K/Q3_K), with sane fp16 scale fields, or quantized extreme data.
static void *random_weight_row(PonderType type, int64_t n, bool raw_bits)
{
    float *x = malloc((size_t)n * sizeof *x);
    fill_extreme(x, (size_t)n);
    void *row;
    if (ponder_can_quantize(type)) {
        row = quantize_new(type, x, n);
    } else { // random indices, signs and scales; d from the data's magnitude
        uint64_t bytes;
        ponder_row_bytes(type, (uint64_t)n, &bytes);
        row = malloc(bytes);
        ponder_synth_row(type, x, row, n, rng_next());
    }
    free(x);
    const PonderTypeTraits *t = ponder_type_traits(type);
    if (!raw_bits || t->block_len == 1 || !ponder_can_quantize(type))
        return row; // (synth rows are random bits already)
    uint8_t *p = row;
    for (int64_t b = 0; b < n / t->block_len; b++, p += t->block_bytes) {
        // keep the fp16 fields (where the quantizer put sane values), randomise the rest
        uint8_t keep[8];
        size_t at, len;
        switch (type) {
        case PONDER_TYPE_Q4_0:
        case PONDER_TYPE_Q5_0:
        case PONDER_TYPE_Q8_0:
            at = 0;
            len = 2;
            break;
        case PONDER_TYPE_IQ4_NL:
        case PONDER_TYPE_IQ4_XS:
            at = 0;
            len = 2;
            break;
        case PONDER_TYPE_Q4_1:
        case PONDER_TYPE_Q5_1:
        case PONDER_TYPE_Q4_K:
        case PONDER_TYPE_Q5_K:
            at = 0;
            len = 4;
            break;
        case PONDER_TYPE_Q2_K:
            at = 80;
            len = 4;
            break;
        case PONDER_TYPE_Q3_K:
            at = 108;
            len = 2;
            break;
        case PONDER_TYPE_Q6_K:
            at = 208;
            len = 2;
            break;
        default:
            at = 0;
            len = 0;
            break;
        }
        memcpy(keep, p + at, len);
        for (uint32_t i = 0; i < t->block_bytes; i++)
            p[i] = (uint8_t)rng_next();
        memcpy(p + at, keep, len);
    }
    return row;
}

static double ref_dot(const float *a, const float *b, int64_t n, double *abs_sum)
{
    double sum = 0, mag = 0;
    for (int64_t i = 0; i < n; i++) {
        sum += (double)a[i] * b[i];
        mag += fabs((double)a[i] * b[i]);
    }
    *abs_sum = mag;
    return sum;
}

// The scalar kernel computes exactly dot(dequantize(w), dequantize(quantize(x))).
static void test_scalar_dot_vs_dequantized(void)
{
    const int64_t n = 1024;
    float *x = malloc(n * sizeof *x), *wf = malloc(n * sizeof *wf), *xf = malloc(n * sizeof *xf);
    for (int t = 0; t < N_KERNEL_TYPES; t++) {
        PonderType type = kernel_type(t);
        PonderType dot_type = ponder_type_traits(type)->dot_type;
        for (int trial = 0; trial < 20; trial++) {
            void *w = random_weight_row(type, n, trial % 2 == 1);
            if (trial < 10)
                fill_gaussian(x, (size_t)n);
            else
                fill_extreme(x, (size_t)n);
            void *xq = quantize_new(dot_type, x, n);
            ponder_dequantize_row(type, w, wf, n);
            ponder_dequantize_row(dot_type, xq, xf, n);
            double mag, want = ref_dot(wf, xf, n, &mag);
            double got = ponder_vec_dot_scalar(type)(w, xq, n);
            CHECKF(fabs(got - want) <= 1e-5 * mag + 1e-30, "%s trial %d: %.9g vs %.9g",
                   ponder_type_traits(type)->name, trial, got, want);
            free(w);
            free(xq);
        }
    }
    free(x);
    free(wf);
    free(xf);
}

// Every SIMD level against the scalar kernel, and every tile kernel against its own
// level's vec_dot.
static void test_kernel_levels(void)
{
    // columns 6 and 7 leave 2 and 3 for the last register tile of 4
    static const int row_counts[] = {1, 3, 5, 17, 33};
    static const int col_counts[] = {1, 3, 5, 6, 7, 17, 33};
    const int64_t k_values[] = {256, 1024, 2816};
    int levels_run = 0;
    for (PonderCpuLevel level = PONDER_CPU_SCALAR; level <= PONDER_CPU_AVX512; level++) {
        if (!ponder_vec_dot_at_level(PONDER_TYPE_F32, level)) {
            printf("  level %s: not supported by this CPU\n", level_name(level));
            continue;
        }
        levels_run++;
        for (int t = 0; t < N_KERNEL_TYPES; t++) {
            PonderType type = kernel_type(t);
            PonderType dot_type = ponder_type_traits(type)->dot_type;
            PonderVecDot dot = ponder_vec_dot_at_level(type, level);
            PonderGemm gemm = ponder_gemm_at_level(type, level);
            CHECK(dot && gemm);
            if (!dot || !gemm)
                continue;
            for (size_t ki = 0; ki < sizeof k_values / sizeof k_values[0]; ki++) {
                int64_t k = k_values[ki];
                uint64_t w_bytes, x_bytes;
                ponder_row_bytes(type, (uint64_t)k, &w_bytes);
                ponder_row_bytes(dot_type, (uint64_t)k, &x_bytes);
                const int max_rows = 33, max_cols = 33;
                // odd strides: rows are not packed back to back in the tile tests
                size_t w_stride = (size_t)w_bytes + 64, x_stride = (size_t)x_bytes + 32;
                // the last row ends exactly at the end of its buffer, so AddressSanitizer sees
                // over-reads
                uint8_t *w = malloc(w_stride * (max_rows - 1) + w_bytes);
                uint8_t *xq = malloc(x_stride * (max_cols - 1) + x_bytes);
                float *x = malloc((size_t)k * sizeof *x);
                for (int r = 0; r < max_rows; r++) {
                    void *row = random_weight_row(type, k, r % 3 == 2);
                    memcpy(w + r * w_stride, row, w_bytes);
                    free(row);
                }
                for (int c = 0; c < max_cols; c++) {
                    if (c % 2)
                        fill_gaussian(x, (size_t)k);
                    else
                        fill_extreme(x, (size_t)k);
                    ponder_quantize_row(dot_type, x, xq + c * x_stride, k);
                }
                // vec_dot vs scalar, tolerance relative to the sum of |terms|
                float *wf = malloc((size_t)k * sizeof *wf), *xf = malloc((size_t)k * sizeof *xf);
                for (int r = 0; r < max_rows; r++) {
                    int c = (r * 7) % max_cols;
                    ponder_dequantize_row(type, w + r * w_stride, wf, k);
                    ponder_dequantize_row(dot_type, xq + c * x_stride, xf, k);
                    double mag;
                    ref_dot(wf, xf, k, &mag);
                    float want =
                        ponder_vec_dot_scalar(type)(w + r * w_stride, xq + c * x_stride, k);
                    float got = dot(w + r * w_stride, xq + c * x_stride, k);
                    CHECKF(fabs((double)got - want) <= 1e-5 * mag + 1e-30,
                           "%s %s k=%lld row %d col %d: %.9g vs scalar %.9g", level_name(level),
                           ponder_type_traits(type)->name, (long long)k, r, c, got, want);
                }
                free(wf);
                free(xf);
                // gemm tiles vs vec_dot of the same level; tolerance relative to sum |terms|
                float *want = malloc(sizeof(float) * max_rows * max_cols);
                double *mag = malloc(sizeof(double) * max_rows * max_cols);
                float *wfs = malloc(sizeof(float) * (size_t)k * max_rows);
                float *xfs = malloc(sizeof(float) * (size_t)k * max_cols);
                for (int r = 0; r < max_rows; r++)
                    ponder_dequantize_row(type, w + r * w_stride, wfs + r * k, k);
                for (int c = 0; c < max_cols; c++)
                    ponder_dequantize_row(dot_type, xq + c * x_stride, xfs + c * k, k);
                for (int r = 0; r < max_rows; r++)
                    for (int c = 0; c < max_cols; c++) {
                        want[r * max_cols + c] = dot(w + r * w_stride, xq + c * x_stride, k);
                        ref_dot(wfs + r * k, xfs + c * k, k, &mag[r * max_cols + c]);
                    }
                size_t out_stride = max_rows + 3;
                float *out = malloc(out_stride * max_cols * sizeof *out);
                for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
                    for (size_t ci = 0; ci < sizeof col_counts / sizeof col_counts[0]; ci++) {
                        int n_rows = row_counts[ri], n_cols = col_counts[ci];
                        for (size_t i = 0; i < out_stride * max_cols; i++)
                            out[i] = -12345.0f;
                        gemm(w, w_stride, n_rows, xq, x_stride, n_cols, k, out, out_stride);
                        int bad = 0;
                        for (int c = 0; c < max_cols; c++) {
                            for (int r = 0; r < (int)out_stride; r++) {
                                float o = out[c * out_stride + r];
                                if (r >= n_rows || c >= n_cols) {
                                    bad += o != -12345.0f; // untouched outside the tile
                                    continue;
                                }
                                float expect = want[r * max_cols + c];
                                if (!(fabs((double)o - expect) <=
                                      1e-5 * mag[r * max_cols + c] + 1e-30)) {
                                    if (bad == 0)
                                        fprintf(stderr,
                                                "  row %d col %d: %.9g vs vec_dot %.9g (sum of abs "
                                                "terms %.9g, scalar %.9g)\n",
                                                r, c, o, expect, mag[r * max_cols + c],
                                                ponder_vec_dot_scalar(type)(w + r * w_stride,
                                                                            xq + c * x_stride, k));
                                    bad++;
                                }
                            }
                        }
                        CHECKF(bad == 0, "%s %s gemm %dx%d k=%lld: %d wrong", level_name(level),
                               ponder_type_traits(type)->name, n_rows, n_cols, (long long)k, bad);
                    }
                }
                free(want);
                free(mag);
                free(wfs);
                free(xfs);
                free(out);
                free(w);
                free(xq);
                free(x);
            }
        }
    }
    CHECK(levels_run >= 1);
}

// ---- IQ types ----

// llama.cpp's IQ files hold the weights of models/qwen2-f16.gguf: every dequantized tensor
// must land near the original (a wrong layout or codebook gives ~1), and our IQ4 quantizers
// near llama.cpp's (which had an importance matrix of random values).
static void test_iq_files(void)
{
    static const char *const files[] = {"iq4_nl", "iq4_xs",  "iq3_s", "iq3_xxs", "iq3_m", "iq2_s",
                                        "iq2_xs", "iq2_xxs", "iq2_m", "iq1_m",   "iq1_s"};
    // worst relative RMS of a tensor per type: about 1.25 x what llama.cpp's files show
    // (0.076, 0.143, 0.193, 0.259, 0.319, 0.357, 0.474, 0.511); a wrong layout gives ~1
    static const struct {
        PonderType type;
        double max;
    } bounds_iq[] = {
        {PONDER_TYPE_IQ4_NL, 0.095}, {PONDER_TYPE_IQ4_XS, 0.095}, {PONDER_TYPE_IQ3_S, 0.18},
        {PONDER_TYPE_IQ3_XXS, 0.24}, {PONDER_TYPE_IQ2_S, 0.32},   {PONDER_TYPE_IQ2_XS, 0.40},
        {PONDER_TYPE_IQ2_XXS, 0.45}, {PONDER_TYPE_IQ1_M, 0.59},   {PONDER_TYPE_IQ1_S, 0.64},
    };
    MiniGguf f16;
    if (!mini_gguf_open(&f16, test_shared_path("models/qwen2-f16.gguf"))) {
        mini_gguf_close(&f16);
        CHECKF(false, "cannot read models/qwen2-f16.gguf");
        return;
    }
    bool seen[PONDER_TYPE_COUNT] = {false};
    printf("llama.cpp IQ files vs the f16 original (worst relative RMS per type):\n");
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[256];
        snprintf(path, sizeof path, "models2/qwen2-%s.gguf", files[f]);
        MiniGguf qf;
        bool opened = mini_gguf_open(&qf, test_shared_path(path));
        CHECKF(opened, "cannot read %s", path);
        double worst[PONDER_TYPE_COUNT] = {0}, ours[PONDER_TYPE_COUNT] = {0};
        for (uint64_t i = 0; opened && i < qf.n_tensors; i++) {
            const MiniTensor *t = &qf.tensors[i];
            const MiniTensor *ref = mini_gguf_find(&f16, t->name);
            if (!ref || ref->n_elements != t->n_elements || t->type == ref->type || t->type < 16 ||
                t->type == PONDER_TYPE_BF16)
                continue; // K-quants of the mixes are checked with models/
            double max = 0;
            for (size_t b = 0; b < sizeof bounds_iq / sizeof bounds_iq[0]; b++)
                if (bounds_iq[b].type == t->type)
                    max = bounds_iq[b].max;
            CHECKF(max > 0, "%s: %s has unexpected type %u", path, t->name, t->type);
            seen[t->type] = true;
            float *theirs = dequantize_tensor(t), *orig = dequantize_tensor(ref);
            double err = test_rel_rms(theirs, orig, t->n_elements);
            CHECKF(err <= max, "%s: %s (%s) error %g", path, t->name,
                   ponder_type_traits(t->type)->name, err);
            worst[t->type] = err > worst[t->type] ? err : worst[t->type];
            if (ponder_can_quantize((PonderType)t->type)) {
                void *q = quantize_new((PonderType)t->type, orig, (int64_t)t->n_elements);
                float *back = malloc(t->n_elements * sizeof *back);
                ponder_dequantize_row((PonderType)t->type, q, back, (int64_t)t->n_elements);
                double mine = test_rel_rms(back, orig, t->n_elements);
                CHECKF(mine <= 1.1 * err + 1e-6, "%s: %s our %s quantizer %g vs llama.cpp %g", path,
                       t->name, ponder_type_traits(t->type)->name, mine, err);
                ours[t->type] = mine > ours[t->type] ? mine : ours[t->type];
                free(back);
                free(q);
            }
            free(theirs);
            free(orig);
        }
        printf("  qwen2-%-9s", files[f]);
        for (int type = 0; type < PONDER_TYPE_COUNT; type++)
            if (worst[type] > 0) {
                printf(" %s %.4f", ponder_type_traits((uint32_t)type)->name, worst[type]);
                if (ours[type] > 0)
                    printf(" (ours %.4f)", ours[type]);
            }
        printf("\n");
        mini_gguf_close(&qf);
    }
    mini_gguf_close(&f16);
    for (int t = 0; t < N_IQ_TYPES; t++)
        CHECKF(seen[iq_types[t]], "no tensor of type %s in the IQ files",
               ponder_type_traits(iq_types[t])->name);
}

// IQ4 quantizers on Gaussian data, like the other types.
static void test_iq4_roundtrip(void)
{
    const int64_t n = 256 * 64;
    float *x = malloc((size_t)n * sizeof *x);
    fill_gaussian(x, (size_t)n);
    static const PonderType types[] = {PONDER_TYPE_IQ4_NL, PONDER_TYPE_IQ4_XS};
    for (size_t t = 0; t < 2; t++) {
        double err = rel_rms_after_roundtrip(types[t], x, n);
        printf("  %-6s %.5f\n", ponder_type_traits(types[t])->name, err);
        // Q4_0 (same bits as IQ4_NL) is bounded by 0.1; the non-uniform levels do better
        CHECKF(err <= 0.095, "%s: %g", ponder_type_traits(types[t])->name, err);
    }
    fill_extreme(x, (size_t)n);
    for (size_t t = 0; t < 2; t++) {
        void *q = quantize_new(types[t], x, n);
        float *y = malloc((size_t)n * sizeof *y);
        ponder_dequantize_row(types[t], q, y, n);
        double worst = 0;
        for (int64_t b = 0; b < n; b += 256) {
            double err = test_rel_rms(y + b, x + b, 256);
            worst = err > worst || err != err ? err : worst;
        }
        CHECKF(worst <= 0.25, "%s extreme data: %g", ponder_type_traits(types[t])->name, worst);
        free(y);
        free(q);
    }
    // the codebook types below 4 bits have no quantizer; IQ4 and the rest have one
    for (int t = 0; t < N_IQ_TYPES; t++)
        CHECK(ponder_can_quantize(iq_types[t]) ==
              (iq_types[t] == PONDER_TYPE_IQ4_NL || iq_types[t] == PONDER_TYPE_IQ4_XS));
    free(x);
}

// Hostile blocks: any bytes are a valid IQ block (every index is inside its codebook), and
// NaN / infinite scales must give NaN / infinite results, never a crash or a read outside
// a table (AddressSanitizer watches). Rows end exactly at the end of their buffer.
static void test_iq_hostile_blocks(void)
{
    const int64_t n = 512;
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    fill_gaussian(x, (size_t)n);
    static const uint16_t bad_d[] = {0x7e00, 0x7c00, 0xfc00}; // NaN, +inf, -inf
    for (int t = 0; t < N_IQ_TYPES; t++) {
        PonderType type = iq_types[t];
        const PonderTypeTraits *traits = ponder_type_traits(type);
        uint64_t w_bytes, x_bytes;
        ponder_row_bytes(type, (uint64_t)n, &w_bytes);
        ponder_row_bytes(traits->dot_type, (uint64_t)n, &x_bytes);
        uint8_t *w = malloc(w_bytes), *xq = malloc(x_bytes);
        ponder_quantize_row(traits->dot_type, x, xq, n);
        for (int pattern = 0; pattern < 5; pattern++) {
            for (uint64_t i = 0; i < w_bytes; i++)
                w[i] = pattern == 0 ? 0xff : pattern == 1 ? 0 : (uint8_t)rng_next();
            bool nan_expected = pattern != 1; // all-ones bytes make d a NaN too
            if (pattern >= 2) {               // every block's d non-finite
                uint16_t d = bad_d[pattern - 2];
                for (uint64_t b = 0; b < w_bytes; b += traits->block_bytes) {
                    if (type == PONDER_TYPE_IQ1_M)
                        for (int k = 0; k < 4; k++)
                            w[b + 32 + 16 + 2 * k + 1] = (uint8_t)((w[b + 48 + 2 * k + 1] & 0xf) |
                                                                   ((d >> (4 * k)) & 0xf) << 4);
                    else
                        memcpy(w + b, &d, 2);
                }
            }
            ponder_dequantize_row(type, w, y, n);
            for (PonderCpuLevel level = PONDER_CPU_SCALAR; level <= PONDER_CPU_AVX512; level++) {
                PonderVecDot dot = ponder_vec_dot_at_level(type, level);
                if (!dot)
                    continue;
                float r = dot(w, xq, n);
                CHECKF(nan_expected ? !isfinite(r) : isfinite(r), "%s %s pattern %d: %g",
                       traits->name, level_name(level), pattern, r);
            }
        }
        free(w);
        free(xq);
    }
    free(x);
    free(y);
}

// ---- Importance-weighted quantizers ----

// sum imp_i (y_i - x_i)^2 / sum imp_i x_i^2 (the error an importance matrix asks to lower).
static double weighted_rel_error(const float *y, const float *x, const float *imp, int64_t n)
{
    double e = 0, r = 0;
    for (int64_t i = 0; i < n; i++) {
        e += (double)imp[i] * (y[i] - x[i]) * (y[i] - x[i]);
        r += (double)imp[i] * x[i] * x[i];
    }
    return sqrt(e / r);
}

static bool same_bytes(PonderType type, const float *x, int64_t n, const float *imp)
{
    uint64_t bytes;
    ponder_row_bytes(type, (uint64_t)n, &bytes);
    uint8_t *a = malloc(bytes), *b = malloc(bytes);
    ponder_quantize_row(type, x, a, n);
    memset(b, 0xa5, bytes);
    ponder_quantize_row_weighted(type, x, b, n, imp);
    bool same = memcmp(a, b, bytes) == 0;
    free(a);
    free(b);
    return same;
}

// Without an importance (NULL, a uniform power of two, or unusable weights) the weighted
// quantizers are the plain ones bit for bit; with one that favours some columns, the error
// on those columns drops, for every type with a scale search.
static void test_weighted_quantizers(void)
{
    const int64_t n = 256 * 32;
    float *x = malloc((size_t)n * sizeof *x), *imp = malloc((size_t)n * sizeof *imp);
    float *y = malloc((size_t)n * sizeof *y);
    static const PonderType searched[] = {
        PONDER_TYPE_Q4_0, PONDER_TYPE_Q4_1,   PONDER_TYPE_Q5_0,   PONDER_TYPE_Q5_1,
        PONDER_TYPE_Q2_K, PONDER_TYPE_Q3_K,   PONDER_TYPE_Q4_K,   PONDER_TYPE_Q5_K,
        PONDER_TYPE_Q6_K, PONDER_TYPE_IQ4_NL, PONDER_TYPE_IQ4_XS,
    };
    static const PonderType plain[] = {PONDER_TYPE_F32, PONDER_TYPE_F16, PONDER_TYPE_BF16,
                                       PONDER_TYPE_Q8_0};
    enum { N_SEARCHED = sizeof searched / sizeof searched[0] };

    for (int data = 0; data < 2; data++) {
        if (data == 0)
            fill_gaussian(x, (size_t)n);
        else
            fill_extreme(x, (size_t)n);
        for (int t = 0; t < N_SEARCHED + 4; t++) {
            PonderType type = t < N_SEARCHED ? searched[t] : plain[t - N_SEARCHED];
            const char *name = ponder_type_traits(type)->name;
            CHECKF(same_bytes(type, x, n, NULL), "%s: NULL importance changed the result", name);
            for (int64_t i = 0; i < n; i++)
                imp[i] = 4.0f;
            CHECKF(same_bytes(type, x, n, imp), "%s: a uniform importance changed it", name);
            for (int64_t i = 0; i < n; i++)
                imp[i] = 0.0f;
            CHECKF(same_bytes(type, x, n, imp), "%s: an all-zero importance changed it", name);
            for (int64_t i = 0; i < n; i++)
                imp[i] = i % 7 == 3 ? -1.0f : i % 7 == 5 ? NAN : 1.0f + (float)(i % 3);
            CHECKF(same_bytes(type, x, n, imp), "%s: negative / NaN weights were used", name);
        }
    }

    // Every eighth column (and a random few more) a thousand times as important as the rest.
    fill_gaussian(x, (size_t)n);
    for (int64_t i = 0; i < n; i++)
        imp[i] = i % 8 == 0 || rng_next() % 16 == 0 ? 1000.0f : 1.0f;
    for (int t = 0; t < N_SEARCHED; t++) {
        PonderType type = searched[t];
        uint64_t bytes;
        ponder_row_bytes(type, (uint64_t)n, &bytes);
        uint8_t *q = malloc(bytes);
        ponder_quantize_row(type, x, q, n);
        ponder_dequantize_row(type, q, y, n);
        double plain_w = weighted_rel_error(y, x, imp, n);
        double plain_rms = test_rel_rms(y, x, (size_t)n);
        ponder_quantize_row_weighted(type, x, q, n, imp);
        ponder_dequantize_row(type, q, y, n);
        double weighted_w = weighted_rel_error(y, x, imp, n);
        double weighted_rms = test_rel_rms(y, x, (size_t)n);
        printf("  %-7s importance-weighted error %.5f -> %.5f (plain error %.5f -> %.5f)\n",
               ponder_type_traits(type)->name, plain_w, weighted_w, plain_rms, weighted_rms);
        CHECKF(weighted_w < 0.9 * plain_w, "%s: weighted error %g, without importance %g",
               ponder_type_traits(type)->name, weighted_w, plain_w);
        free(q);
    }
    free(x);
    free(imp);
    free(y);
}

// PONDER_CPU_KERNELS caps the level that ponder_vec_dot_for / ponder_gemm_for pick. The
// choice is made once per process, so this runs first and sets the variable itself.
static void test_level_cap(void)
{
    PonderCpuLevel supported = PONDER_CPU_SCALAR;
    while (supported < PONDER_CPU_AVX512 && ponder_vec_dot_at_level(PONDER_TYPE_F32, supported + 1))
        supported++;
    setenv("PONDER_CPU_KERNELS", "avx2", 1);
    PonderCpuLevel want = supported < PONDER_CPU_AVX2 ? supported : PONDER_CPU_AVX2;
    CHECK(ponder_cpu_level() == want);
    CHECK(strcmp(ponder_cpu_kernel_level(), level_name(want)) == 0);
    for (int t = 0; t < N_KERNEL_TYPES; t++) {
        CHECK(ponder_vec_dot_for(kernel_type(t)) == ponder_vec_dot_at_level(kernel_type(t), want));
        CHECK(ponder_gemm_for(kernel_type(t)) == ponder_gemm_at_level(kernel_type(t), want));
    }
    printf("CPU supports kernels up to %s; PONDER_CPU_KERNELS=avx2 gives %s\n",
           level_name(supported), ponder_cpu_kernel_level());
}

int main(void)
{
    test_level_cap();
    test_roundtrip_accuracy();
    test_activation_quantizers();
    test_llama_cpp_files();
    test_scalar_dot_vs_dequantized();
    test_kernel_levels();
    test_iq_files();
    test_iq4_roundtrip();
    test_iq_hostile_blocks();
    test_weighted_quantizers();
    return test_finish();
}
