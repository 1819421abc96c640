// llama.cpp's per-tensor type rules (llama_tensor_get_type in src/llama-quant.cpp), reduced
// to the mixes Ponder writes and the tensors of dense llama / qwen2 models. Rules for other
// architectures (falcon, mixture-of-experts, fused qkv) are left out; the IQ mixes keep the
// rules for the output, token embedding, attn_v, attn_output and the first ffn_down layers
// (the IQ3_XS / IQ3_M per-layer refinements, and IQ3_XXS's attn_q / attn_k / ffn_down rules,
// are not reproduced).
#include "quant-mix.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

// llama.cpp's llama_ftype values (general.file_type).
enum {
    FTYPE_ALL_F32 = 0,
    FTYPE_MOSTLY_F16 = 1,
    FTYPE_MOSTLY_Q4_0 = 2,
    FTYPE_MOSTLY_Q4_1 = 3,
    FTYPE_MOSTLY_Q8_0 = 7,
    FTYPE_MOSTLY_Q5_0 = 8,
    FTYPE_MOSTLY_Q5_1 = 9,
    FTYPE_MOSTLY_Q2_K = 10,
    FTYPE_MOSTLY_Q3_K_M = 12,
    FTYPE_MOSTLY_Q4_K_M = 15,
    FTYPE_MOSTLY_Q5_K_M = 17,
    FTYPE_MOSTLY_Q6_K = 18,
    FTYPE_MOSTLY_IQ2_XXS = 19,
    FTYPE_MOSTLY_IQ2_XS = 20,
    FTYPE_MOSTLY_IQ3_XXS = 23,
    FTYPE_MOSTLY_IQ1_S = 24,
    FTYPE_MOSTLY_IQ4_NL = 25,
    FTYPE_MOSTLY_IQ3_S = 26,
    FTYPE_MOSTLY_IQ3_M = 27,
    FTYPE_MOSTLY_IQ2_S = 28,
    FTYPE_MOSTLY_IQ2_M = 29,
    FTYPE_MOSTLY_IQ4_XS = 30,
    FTYPE_MOSTLY_IQ1_M = 31,
    FTYPE_MOSTLY_BF16 = 32,
};

static const QuantMix mixes[] = {
    {"f32", FTYPE_ALL_F32, PONDER_TYPE_F32},
    {"f16", FTYPE_MOSTLY_F16, PONDER_TYPE_F16},
    {"bf16", FTYPE_MOSTLY_BF16, PONDER_TYPE_BF16},
    {"q4_0", FTYPE_MOSTLY_Q4_0, PONDER_TYPE_Q4_0},
    {"q4_1", FTYPE_MOSTLY_Q4_1, PONDER_TYPE_Q4_1},
    {"q5_0", FTYPE_MOSTLY_Q5_0, PONDER_TYPE_Q5_0},
    {"q5_1", FTYPE_MOSTLY_Q5_1, PONDER_TYPE_Q5_1},
    {"q8_0", FTYPE_MOSTLY_Q8_0, PONDER_TYPE_Q8_0},
    {"q2_k", FTYPE_MOSTLY_Q2_K, PONDER_TYPE_Q2_K},
    {"q3_k_m", FTYPE_MOSTLY_Q3_K_M, PONDER_TYPE_Q3_K},
    {"q4_k_m", FTYPE_MOSTLY_Q4_K_M, PONDER_TYPE_Q4_K},
    {"q5_k_m", FTYPE_MOSTLY_Q5_K_M, PONDER_TYPE_Q5_K},
    {"q6_k", FTYPE_MOSTLY_Q6_K, PONDER_TYPE_Q6_K},
    {"iq4_nl", FTYPE_MOSTLY_IQ4_NL, PONDER_TYPE_IQ4_NL},
    {"iq4_xs", FTYPE_MOSTLY_IQ4_XS, PONDER_TYPE_IQ4_XS},
    {"iq3_m", FTYPE_MOSTLY_IQ3_M, PONDER_TYPE_IQ3_S},
    {"iq3_s", FTYPE_MOSTLY_IQ3_S, PONDER_TYPE_IQ3_S},
    {"iq3_xxs", FTYPE_MOSTLY_IQ3_XXS, PONDER_TYPE_IQ3_XXS},
    {"iq2_m", FTYPE_MOSTLY_IQ2_M, PONDER_TYPE_IQ2_S},
    {"iq2_s", FTYPE_MOSTLY_IQ2_S, PONDER_TYPE_IQ2_S},
    {"iq2_xs", FTYPE_MOSTLY_IQ2_XS, PONDER_TYPE_IQ2_XS},
    {"iq2_xxs", FTYPE_MOSTLY_IQ2_XXS, PONDER_TYPE_IQ2_XXS},
    {"iq1_m", FTYPE_MOSTLY_IQ1_M, PONDER_TYPE_IQ1_M},
    {"iq1_s", FTYPE_MOSTLY_IQ1_S, PONDER_TYPE_IQ1_S},
};
enum { N_MIXES = sizeof mixes / sizeof mixes[0] };

const QuantMix *quant_mix_find(const char *name)
{
    for (int i = 0; name && i < N_MIXES; i++)
        if (strcasecmp(name, mixes[i].name) == 0)
            return &mixes[i];
    return NULL;
}

const char *quant_mix_names(void)
{
    return "f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k_m q4_k_m q5_k_m q6_k iq4_nl iq4_xs "
           "iq3_m iq3_s iq3_xxs iq2_m iq2_s iq2_xs iq2_xxs iq1_m iq1_s";
}

const char *quant_mix_quantizable_names(void)
{
    return "f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k_m q4_k_m q5_k_m q6_k iq4_nl iq4_xs";
}

// A mix whose base Ponder writes picks only types it writes (quant_mix_tensor_type: K-quants,
// Q8_0, the IQ4_NL / Q4_0 / F16 fallbacks); the IQ mixes below 4 bits have bases it does not
// write. So the base decides.
bool quant_mix_can_quantize(const QuantMix *mix)
{
    return ponder_can_quantize(mix->base);
}

bool quant_mix_needs_imatrix(const QuantMix *mix)
{
    switch (mix->base) {
    case PONDER_TYPE_IQ1_S:
    case PONDER_TYPE_IQ1_M:
    case PONDER_TYPE_IQ2_XXS:
    case PONDER_TYPE_IQ2_XS:
    case PONDER_TYPE_IQ2_S:
    case PONDER_TYPE_IQ3_XXS: return true;
    default: return false;
    }
}

// The IQ mixes below 3 bits (llama.cpp's "very low bit" group).
static bool is_low_iq(uint32_t ftype)
{
    return ftype == FTYPE_MOSTLY_IQ2_XXS || ftype == FTYPE_MOSTLY_IQ2_XS ||
           ftype == FTYPE_MOSTLY_IQ2_S || ftype == FTYPE_MOSTLY_IQ2_M ||
           ftype == FTYPE_MOSTLY_IQ1_S || ftype == FTYPE_MOSTLY_IQ1_M;
}

typedef enum TensorRole {
    ROLE_OTHER,
    ROLE_TOKEN_EMBD,
    ROLE_OUTPUT,
    ROLE_ATTN_V,
    ROLE_ATTN_OUTPUT,
    ROLE_FFN_DOWN,
} TensorRole;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static TensorRole tensor_role(const char *name)
{
    if (strcmp(name, "output.weight") == 0)
        return ROLE_OUTPUT;
    if (strcmp(name, "token_embd.weight") == 0)
        return ROLE_TOKEN_EMBD;
    if (strstr(name, "attn_v.weight"))
        return ROLE_ATTN_V;
    if (strstr(name, "attn_output.weight"))
        return ROLE_ATTN_OUTPUT;
    if (strstr(name, "ffn_down"))
        return ROLE_FFN_DOWN;
    return ROLE_OTHER;
}

// llama.cpp quantizes 2-D (and 3-D) "*weight" tensors except norms; everything else
// (biases, norms, rope_freqs) is copied in its current type.
static bool is_quantizable(const char *name, uint32_t n_dims)
{
    return n_dims >= 2 && ends_with(name, "weight") && !strstr(name, "_norm.weight");
}

static uint32_t layer_of(const char *name)
{
    unsigned layer = 0;
    if (sscanf(name, "blk.%u.", &layer) != 1)
        return 0;
    return layer;
}

// The layers that get more bits: the first and last eighth, and every third in between.
static bool use_more_bits(uint32_t layer, uint32_t n_layer)
{
    int i = (int)layer, n = (int)n_layer;
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static uint32_t block_len(PonderType type)
{
    const PonderTypeTraits *traits = ponder_type_traits(type);
    return traits ? traits->block_len : 1;
}

// A row that is not a whole number of blocks falls back as llama.cpp does (its Q2_K/Q3_K
// fallback, IQ4_NL in older versions, is Q4_0 now; Ponder has no IQ types either way).
static PonderType fit_row(PonderType type, uint64_t row_len)
{
    if (row_len % block_len(type) == 0)
        return type;
    PonderType fallback;
    switch (type) {
    case PONDER_TYPE_Q2_K:
    case PONDER_TYPE_Q3_K: fallback = PONDER_TYPE_Q4_0; break;
    case PONDER_TYPE_Q4_K: fallback = PONDER_TYPE_Q5_0; break;
    case PONDER_TYPE_Q5_K: fallback = PONDER_TYPE_Q5_1; break;
    case PONDER_TYPE_Q6_K: fallback = PONDER_TYPE_Q8_0; break;
    case PONDER_TYPE_IQ4_XS:
    case PONDER_TYPE_IQ3_XXS:
    case PONDER_TYPE_IQ3_S:
    case PONDER_TYPE_IQ2_XXS:
    case PONDER_TYPE_IQ2_XS:
    case PONDER_TYPE_IQ2_S:
    case PONDER_TYPE_IQ1_S:
    case PONDER_TYPE_IQ1_M: fallback = PONDER_TYPE_IQ4_NL; break;
    default: // legacy quants: llama.cpp refuses such rows; F16 always fits
        fallback = PONDER_TYPE_F16;
        break;
    }
    return row_len % block_len(fallback) == 0 ? fallback : PONDER_TYPE_F16;
}

PonderType quant_mix_tensor_type(const QuantMix *mix, const QuantMixModel *model, const char *name,
                                 uint32_t n_dims, const uint64_t *ne, PonderType current)
{
    if (!is_quantizable(name, n_dims))
        return current;
    PonderType type = mix->base;
    if (block_len(type) == 1) // f32 / f16 / bf16: no mix, every matrix in that type
        return type;

    const uint32_t ftype = mix->file_type;
    const uint32_t n_layer = model->n_layer;
    const uint32_t layer = layer_of(name);
    const uint32_t n_gqa = model->n_head_kv ? model->n_head / model->n_head_kv : 1;
    // Llama 2/3 70B: eight heads share each attn_v row, so it is cheap to keep it sharper.
    const bool is_70b = strcmp(model->arch ? model->arch : "", "llama") == 0 && n_layer == 80 &&
                        model->n_head != model->n_head_kv;

    switch (tensor_role(name)) {
    case ROLE_TOKEN_EMBD:
        if (model->has_output) { // tied embeddings are quantized as the output matrix (below)
            if (ftype == FTYPE_MOSTLY_IQ2_XXS || ftype == FTYPE_MOSTLY_IQ2_XS ||
                ftype == FTYPE_MOSTLY_IQ1_S || ftype == FTYPE_MOSTLY_IQ1_M)
                type = PONDER_TYPE_Q2_K;
            else if (ftype == FTYPE_MOSTLY_IQ2_S || ftype == FTYPE_MOSTLY_IQ2_M)
                type = PONDER_TYPE_IQ3_S;
            break;
        }
        // fall through
    case ROLE_OUTPUT:
        if (ne[0] % block_len(type) != 0)
            type = PONDER_TYPE_Q8_0;
        else if (is_low_iq(ftype) || ftype == FTYPE_MOSTLY_IQ3_XXS)
            type = PONDER_TYPE_Q5_K;
        else if (type != PONDER_TYPE_Q8_0)
            type = PONDER_TYPE_Q6_K;
        break;
    case ROLE_ATTN_V:
        if (is_low_iq(ftype))
            type = n_gqa >= 4                                                   ? PONDER_TYPE_Q4_K
                   : ftype == FTYPE_MOSTLY_IQ2_S || ftype == FTYPE_MOSTLY_IQ2_M ? PONDER_TYPE_IQ3_S
                                                                                : PONDER_TYPE_Q2_K;
        else if (ftype == FTYPE_MOSTLY_IQ3_XXS)
            type = n_gqa >= 4           ? PONDER_TYPE_Q4_K
                   : model->has_imatrix ? PONDER_TYPE_IQ3_XXS
                                        : PONDER_TYPE_IQ3_S;
        else if ((ftype == FTYPE_MOSTLY_IQ3_S && n_gqa >= 4) || ftype == FTYPE_MOSTLY_IQ3_M)
            type = PONDER_TYPE_Q4_K;
        else if ((ftype == FTYPE_MOSTLY_IQ4_NL || ftype == FTYPE_MOSTLY_IQ4_XS) && n_gqa >= 4)
            type = PONDER_TYPE_Q5_K;
        else if (ftype == FTYPE_MOSTLY_Q2_K)
            type = n_gqa >= 4 ? PONDER_TYPE_Q4_K : PONDER_TYPE_Q3_K;
        else if (ftype == FTYPE_MOSTLY_Q3_K_M)
            type = layer < 2 ? PONDER_TYPE_Q5_K : PONDER_TYPE_Q4_K;
        else if ((ftype == FTYPE_MOSTLY_Q4_K_M || ftype == FTYPE_MOSTLY_Q5_K_M) &&
                 use_more_bits(layer, n_layer))
            type = PONDER_TYPE_Q6_K;
        if (is_70b && (type == PONDER_TYPE_Q3_K || type == PONDER_TYPE_Q4_K))
            type = PONDER_TYPE_Q5_K;
        break;
    case ROLE_FFN_DOWN:
        if (is_low_iq(ftype) && layer < n_layer / 8)
            type = ftype == FTYPE_MOSTLY_IQ1_S || ftype == FTYPE_MOSTLY_IQ1_M ? PONDER_TYPE_IQ2_S
                                                                              : PONDER_TYPE_Q2_K;
        else if ((ftype == FTYPE_MOSTLY_IQ4_NL || ftype == FTYPE_MOSTLY_IQ4_XS) &&
                 layer < n_layer / 8 && !model->has_imatrix)
            type = PONDER_TYPE_Q5_K;
        // With an importance matrix, llama.cpp gives the first ffn_down layers of Q4_0 / Q5_0 a
        // min (Q4_1 / Q5_1); files made without one stay as they were.
        else if ((ftype == FTYPE_MOSTLY_Q4_0 || ftype == FTYPE_MOSTLY_Q5_0) &&
                 layer < n_layer / 8 && model->has_imatrix)
            type = ftype == FTYPE_MOSTLY_Q4_0 ? PONDER_TYPE_Q4_1 : PONDER_TYPE_Q5_1;
        else if (ftype == FTYPE_MOSTLY_Q2_K)
            type = PONDER_TYPE_Q3_K;
        else if (ftype == FTYPE_MOSTLY_Q3_K_M)
            type = layer < n_layer / 16 ? PONDER_TYPE_Q5_K : PONDER_TYPE_Q4_K;
        else if ((ftype == FTYPE_MOSTLY_Q4_K_M || ftype == FTYPE_MOSTLY_Q5_K_M) &&
                 use_more_bits(layer, n_layer))
            type = PONDER_TYPE_Q6_K;
        break;
    case ROLE_ATTN_OUTPUT:
        if (ftype == FTYPE_MOSTLY_IQ1_S || ftype == FTYPE_MOSTLY_IQ1_M)
            type = PONDER_TYPE_IQ2_XXS;
        else if (ftype == FTYPE_MOSTLY_IQ2_S || ftype == FTYPE_MOSTLY_IQ2_M)
            type = PONDER_TYPE_IQ3_S;
        else if (ftype == FTYPE_MOSTLY_Q2_K)
            type = PONDER_TYPE_Q3_K;
        else if (ftype == FTYPE_MOSTLY_Q3_K_M)
            type = PONDER_TYPE_Q4_K;
        break;
    case ROLE_OTHER: break;
    }
    return fit_row(type, ne[0]);
}

// ---- Row-parallel conversion ----------------------------------------------------------

typedef struct RowsJob {
    QuantRowsWork work;
    void *arg;
    uint64_t n_rows, chunk;
    atomic_uint_fast64_t next_row;
    float *scratch; // [n_threads][row_len]
    uint64_t row_len;
} RowsJob;

typedef struct RowsWorker {
    RowsJob *job;
    int index;
} RowsWorker;

static void *rows_worker(void *p)
{
    RowsWorker *w = p;
    RowsJob *job = w->job;
    float *scratch = job->scratch + (size_t)w->index * job->row_len;
    for (;;) {
        uint64_t first = atomic_fetch_add(&job->next_row, job->chunk);
        if (first >= job->n_rows)
            break;
        uint64_t n = job->n_rows - first < job->chunk ? job->n_rows - first : job->chunk;
        job->work(job->arg, first, n, scratch);
    }
    return NULL;
}

bool quant_rows_parallel(uint64_t n_rows, uint64_t row_len, int n_threads, QuantRowsWork work,
                         void *arg)
{
    if (n_threads < 1) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = cores > 0 && cores < 1024 ? (int)cores : 1;
    }
    if ((uint64_t)n_threads > n_rows)
        n_threads = n_rows ? (int)n_rows : 1;
    if (row_len == 0 || row_len > SIZE_MAX / sizeof(float) / (size_t)n_threads)
        return false;
    RowsJob job = {.work = work, .arg = arg, .n_rows = n_rows, .row_len = row_len};
    // Chunks of about 64K elements: small enough to balance, large enough to be cheap.
    job.chunk = row_len >= 65536 ? 1 : 65536 / row_len;
    atomic_init(&job.next_row, 0);
    job.scratch = malloc((size_t)n_threads * row_len * sizeof(float));
    RowsWorker *workers = malloc((size_t)n_threads * sizeof *workers);
    pthread_t *threads = malloc((size_t)n_threads * sizeof *threads);
    bool *started = calloc((size_t)n_threads, sizeof *started);
    if (!job.scratch || !workers || !threads || !started) {
        free(job.scratch);
        free(workers);
        free(threads);
        free(started);
        return false;
    }
    for (int i = 0; i < n_threads; i++)
        workers[i] = (RowsWorker){.job = &job, .index = i};
    for (int i = 1; i < n_threads; i++)
        started[i] = pthread_create(&threads[i], NULL, rows_worker, &workers[i]) == 0;
    rows_worker(&workers[0]);
    for (int i = 1; i < n_threads; i++)
        if (started[i])
            pthread_join(threads[i], NULL);
    free(job.scratch);
    free(workers);
    free(threads);
    free(started);
    return true;
}
