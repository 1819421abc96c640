#include "cpu-ops.h"

#include <math.h>
#include <stdatomic.h>

enum { MATMUL_ROWS_PER_CHUNK = 32 };

uint64_t cpu_matmul_scratch_bytes(uint64_t row_len, uint32_t n_tokens)
{
    // F32 (4 bytes per element) is the widest dot type; the quantized ones are ~1.1.
    return row_len * 4 * n_tokens + 64;
}

typedef struct MatmulTask {
    const Weight *w;
    const float *x;
    uint32_t n_tokens;
    float *y;
    uint8_t *xq;
    uint64_t xq_stride;
    PonderType dot_type;
    PonderVecDot vec_dot;
    PonderGemm gemm;
    atomic_uint next_chunk;
} MatmulTask;

static void quantize_activations(void *arg, int ith, int nth)
{
    MatmulTask *t = arg;
    for (uint32_t i = (uint32_t)ith; i < t->n_tokens; i += (uint32_t)nth)
        ponder_quantize_row(t->dot_type, t->x + i * t->w->row_len, t->xq + i * t->xq_stride,
                            (int64_t)t->w->row_len);
}

static void multiply_rows(void *arg, int ith, int nth)
{
    (void)ith;
    (void)nth;
    MatmulTask *t = arg;
    const Weight *w = t->w;
    uint32_t n_chunks = (uint32_t)((w->n_rows + MATMUL_ROWS_PER_CHUNK - 1) / MATMUL_ROWS_PER_CHUNK);
    // Chunks are taken dynamically so a thread that was descheduled does not hold up the rest.
    for (;;) {
        uint32_t chunk = atomic_fetch_add_explicit(&t->next_chunk, 1, memory_order_relaxed);
        if (chunk >= n_chunks)
            return;
        uint64_t r0 = (uint64_t)chunk * MATMUL_ROWS_PER_CHUNK;
        uint64_t r1 =
            r0 + MATMUL_ROWS_PER_CHUNK < w->n_rows ? r0 + MATMUL_ROWS_PER_CHUNK : w->n_rows;
        const uint8_t *rows = (const uint8_t *)w->data + r0 * w->row_bytes;
        if (t->n_tokens == 1) {
            for (uint64_t r = r0; r < r1; r++, rows += w->row_bytes)
                t->y[r] = t->vec_dot(rows, t->xq, (int64_t)w->row_len);
        } else {
            t->gemm(rows, w->row_bytes, (int)(r1 - r0), t->xq, t->xq_stride, (int)t->n_tokens,
                    (int64_t)w->row_len, t->y + r0, w->n_rows);
        }
    }
}

void cpu_matmul(ThreadPool *pool, const Weight *w, const float *x, uint32_t n_tokens, float *y,
                void *xq_scratch)
{
    MatmulTask task = {
        .w = w,
        .x = x,
        .n_tokens = n_tokens,
        .y = y,
        .xq = xq_scratch,
        .dot_type = ponder_type_traits(w->type)->dot_type,
        .vec_dot = ponder_vec_dot_for(w->type),
        .gemm = ponder_gemm_for(w->type),
    };
    ponder_row_bytes(task.dot_type, w->row_len, &task.xq_stride);
    atomic_init(&task.next_chunk, 0);
    if (n_tokens == 1)
        quantize_activations(&task, 0, 1); // too little work to share
    else
        threadpool_run(pool, quantize_activations, &task);
    threadpool_run(pool, multiply_rows, &task);
}

typedef struct RangeTask {
    RangeFn fn;
    void *arg;
    uint64_t n;
} RangeTask;

static void run_range(void *arg, int ith, int nth)
{
    RangeTask *t = arg;
    uint64_t begin = t->n * (uint64_t)ith / (uint64_t)nth;
    uint64_t end = t->n * (uint64_t)(ith + 1) / (uint64_t)nth;
    if (begin < end)
        t->fn(t->arg, begin, end);
}

void cpu_parallel_for(ThreadPool *pool, uint64_t n, uint64_t min_per_thread, RangeFn fn, void *arg)
{
    if (n < 2 * min_per_thread || threadpool_size(pool) == 1) {
        fn(arg, 0, n);
        return;
    }
    RangeTask task = {fn, arg, n};
    threadpool_run(pool, run_range, &task);
}

typedef struct RmsNormTask {
    const float *x, *weight;
    float eps;
    uint32_t n;
    float *out;
} RmsNormTask;

static void rms_norm_rows(void *arg, uint64_t begin, uint64_t end)
{
    const RmsNormTask *t = arg;
    const uint32_t n = t->n;
    for (uint64_t r = begin; r < end; r++) {
        const float *xr = t->x + r * n;
        float *o = t->out + r * n;
        double sum = 0;
        for (uint32_t i = 0; i < n; i++)
            sum += (double)xr[i] * xr[i];
        float scale = (float)(1.0 / sqrt(sum / n + t->eps));
        for (uint32_t i = 0; i < n; i++)
            o[i] = xr[i] * scale * t->weight[i];
    }
}

void cpu_rms_norm(ThreadPool *pool, const float *x, const float *weight, float eps, uint32_t n_rows,
                  uint32_t n, float *out)
{
    RmsNormTask task = {x, weight, eps, n, out};
    cpu_parallel_for(pool, n_rows, 8, rms_norm_rows, &task);
}

void cpu_head_norm(float *x, const float *weight, float eps, uint32_t n_heads, uint32_t head_dim)
{
    RmsNormTask task = {x, weight, eps, head_dim, x};
    rms_norm_rows(&task, 0, n_heads);
}

void cpu_rope(float *x, uint32_t n_heads, uint32_t head_dim, uint32_t n_rot, RopeStyle style,
              const double *inv_freq, uint32_t pos)
{
    uint32_t half = n_rot / 2;
    float cos_t[512], sin_t[512]; // half <= head_dim / 2 <= 512 (checked at load)
    for (uint32_t i = 0; i < half; i++) {
        double angle = (double)pos * inv_freq[i];
        cos_t[i] = (float)cos(angle);
        sin_t[i] = (float)sin(angle);
    }
    for (uint32_t h = 0; h < n_heads; h++) {
        float *head = x + (uint64_t)h * head_dim;
        for (uint32_t i = 0; i < half; i++) {
            uint32_t a = style == ROPE_STYLE_HALVES ? i : 2 * i;
            uint32_t b = style == ROPE_STYLE_HALVES ? i + half : 2 * i + 1;
            float x0 = head[a], x1 = head[b];
            head[a] = x0 * cos_t[i] - x1 * sin_t[i];
            head[b] = x0 * sin_t[i] + x1 * cos_t[i];
        }
    }
}

typedef struct BinaryTask {
    float *dst;
    const float *src;
} BinaryTask;

static void swiglu_range(void *arg, uint64_t begin, uint64_t end)
{
    BinaryTask *t = arg;
    for (uint64_t i = begin; i < end; i++)
        t->dst[i] = t->dst[i] / (1.0f + expf(-t->dst[i])) * t->src[i];
}

void cpu_swiglu(ThreadPool *pool, float *gate, const float *up, uint64_t n)
{
    BinaryTask task = {gate, up};
    cpu_parallel_for(pool, n, 4096, swiglu_range, &task);
}

static void add_range(void *arg, uint64_t begin, uint64_t end)
{
    BinaryTask *t = arg;
    for (uint64_t i = begin; i < end; i++)
        t->dst[i] += t->src[i];
}

void cpu_add(ThreadPool *pool, float *dst, const float *src, uint64_t n)
{
    BinaryTask task = {dst, src};
    cpu_parallel_for(pool, n, 16384, add_range, &task);
}
