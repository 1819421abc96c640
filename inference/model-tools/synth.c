// `synth`: a GGUF file with exactly the tensors, shapes, types and metadata of a published
// R1 distill (as llama.cpp converts and quantizes it) but seeded random weights -- for
// benchmarks that need a real-sized model without downloading one.
//
// Nothing is held for the whole model: each tensor is generated and quantized inside the
// writer's fill callback, row by row on N threads. Every row draws from its own random
// stream (seed, tensor, row), so the file does not depend on the thread count.
#include "synth.h"

#include "convert-tokenizer.h"
#include "formats/gguf.h"
#include "model-files.h"
#include "quant-mix.h"
#include "synth-vocab.h"
#include "runtime/error-text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { GGML_QUANT_VERSION = 2, TINY_VOCAB_ROWS_WITHOUT_TOKENIZER = 1056 };

typedef struct SynthPreset {
    const char *name;
    const char *arch;
    const char *display_name; // general.name
    const char *basename;     // general.basename
    const char *size_label;   // general.size_label (NULL: none)
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff;
    uint64_t n_vocab; // embedding rows; 0: a small vocabulary cut from the tokenizer
    uint32_t n_ctx;
    float rope_theta, norm_eps;
    bool qkv_bias;                  // Qwen2 has q/k/v biases
    bool llama3_rope;               // Llama 3.1 frequency scaling, stored as rope_freqs.weight
    const struct SynthQwen3 *qwen3; // NULL for other architectures
} SynthPreset;

// What a qwen3 file adds: per-head q/k norms (always), a head size of its own, an output
// head tied to the embedding, and YaRN scaling (factor 0: none).
typedef struct SynthQwen3 {
    uint32_t head_dim;
    bool tied_output;
    float yarn_factor;
    uint32_t yarn_orig_ctx;
} SynthQwen3;

// DeepSeek-R1-0528-Qwen3-8B's config: head_dim 128, rope_scaling yarn, factor 4 over
// 32768 positions (131072 in all).
static const SynthQwen3 r1_0528_qwen3 = {128, false, 4.0f, 32768};
// The shapes a qwen3 reader must handle: head 128 while embedding / heads is 64 (q wider
// than the embedding), no output.weight, YaRN.
static const SynthQwen3 tiny_qwen3 = {128, true, 4.0f, 1024};

// Hyperparameters from the models' config.json on Hugging Face.
static const SynthPreset presets[] = {
    {"r1-distill-qwen-1.5b", "qwen2", "DeepSeek R1 Distill Qwen 1.5B (synthetic)",
     "DeepSeek-R1-Distill-Qwen", "1.5B", 1536, 28, 12, 2, 8960, 151936, 131072, 10000.0f, 1e-6f,
     true, false, NULL},
    {"r1-distill-qwen-7b", "qwen2", "DeepSeek R1 Distill Qwen 7B (synthetic)",
     "DeepSeek-R1-Distill-Qwen", "7B", 3584, 28, 28, 4, 18944, 152064, 131072, 10000.0f, 1e-6f,
     true, false, NULL},
    {"r1-distill-qwen-14b", "qwen2", "DeepSeek R1 Distill Qwen 14B (synthetic)",
     "DeepSeek-R1-Distill-Qwen", "14B", 5120, 48, 40, 8, 13824, 152064, 131072, 1000000.0f, 1e-5f,
     true, false, NULL},
    {"r1-distill-llama-8b", "llama", "DeepSeek R1 Distill Llama 8B (synthetic)",
     "DeepSeek-R1-Distill-Llama", "8B", 4096, 32, 32, 8, 14336, 128256, 131072, 500000.0f, 1e-5f,
     false, true, NULL},
    {"tiny-qwen2", "qwen2", "Tiny Qwen2 (synthetic)", "tiny-qwen2", NULL, 256, 2, 4, 2, 512, 0,
     4096, 10000.0f, 1e-6f, true, false, NULL},
    {"tiny-llama", "llama", "Tiny Llama (synthetic)", "tiny-llama", NULL, 256, 2, 4, 2, 512, 0,
     4096, 500000.0f, 1e-5f, false, true, NULL},
    {"r1-0528-qwen3-8b", "qwen3", "DeepSeek R1 0528 Qwen3 8B (synthetic)", "DeepSeek-R1-0528-Qwen3",
     "8B", 4096, 36, 32, 8, 12288, 151936, 131072, 1000000.0f, 1e-6f, false, false, &r1_0528_qwen3},
    {"tiny-qwen3", "qwen3", "Tiny Qwen3 (synthetic)", "tiny-qwen3", NULL, 256, 2, 4, 2, 512, 0,
     4096, 1000000.0f, 1e-6f, false, false, &tiny_qwen3},
};
enum { N_PRESETS = sizeof presets / sizeof presets[0] };

// Llama 3.1's rope_scaling: factor 8, low_freq_factor 1, high_freq_factor 4,
// original_max_position_embeddings 8192.
static const float LLAMA3_FACTOR = 8.0f, LLAMA3_LOW = 1.0f, LLAMA3_HIGH = 4.0f,
                   LLAMA3_ORIGINAL_CTX = 8192.0f;

typedef enum WeightKind { KIND_MATRIX, KIND_NORM, KIND_BIAS, KIND_ROPE_FREQS } WeightKind;

typedef struct SynthTensor {
    SynthTensorPlan plan;
    WeightKind kind;
    uint32_t index; // picks the tensor's random streams
    // Set when writing:
    const SynthPreset *preset;
    uint64_t seed;
    int n_threads;
    uint64_t row_bytes;
    uint8_t *dst;
} SynthTensor;

typedef struct SynthModel {
    const SynthPreset *preset;
    const QuantMix *mix;
    uint64_t n_vocab_rows;
    uint64_t n_tokens;
    GgufWriter *writer; // metadata (and, for synth_gguf, tensors)
    SynthTensor *tensors;
    uint64_t n_tensors, cap_tensors;
    bool out_of_memory;
} SynthModel;

const char *synth_preset_names(void)
{
    return "r1-distill-qwen-1.5b r1-distill-qwen-7b r1-distill-qwen-14b r1-distill-llama-8b "
           "r1-0528-qwen3-8b tiny-qwen2 tiny-llama tiny-qwen3";
}

static const SynthPreset *find_preset(const char *name)
{
    for (int i = 0; name && i < N_PRESETS; i++)
        if (strcmp(name, presets[i].name) == 0)
            return &presets[i];
    return NULL;
}

// ---- Tensor list -----------------------------------------------------------------------

static void add_tensor(SynthModel *m, WeightKind kind, const char *name, uint64_t ne0, uint64_t ne1)
{
    if (m->n_tensors == m->cap_tensors) {
        uint64_t cap = m->cap_tensors ? m->cap_tensors * 2 : 64;
        SynthTensor *grown = realloc(m->tensors, cap * sizeof *grown);
        if (!grown) {
            m->out_of_memory = true;
            return;
        }
        m->tensors = grown;
        m->cap_tensors = cap;
    }
    SynthTensor *t = &m->tensors[m->n_tensors];
    *t = (SynthTensor){.kind = kind, .index = (uint32_t)m->n_tensors};
    snprintf(t->plan.name, sizeof t->plan.name, "%s", name);
    t->plan.n_dims = ne1 > 1 || kind == KIND_MATRIX ? 2 : 1;
    t->plan.ne[0] = ne0;
    t->plan.ne[1] = ne1;
    QuantMixModel facts = {
        .arch = m->preset->arch,
        .n_layer = m->preset->n_layer,
        .n_head = m->preset->n_head,
        .n_head_kv = m->preset->n_head_kv,
        .has_output = !(m->preset->qwen3 && m->preset->qwen3->tied_output),
    };
    t->plan.type = quant_mix_tensor_type(m->mix, &facts, t->plan.name, t->plan.n_dims, t->plan.ne,
                                         PONDER_TYPE_F32);
    uint64_t row_bytes = 0;
    ponder_row_bytes(t->plan.type, ne0, &row_bytes); // the mix only picks types that fit
    t->plan.n_bytes = row_bytes * ne1;
    m->n_tensors++;
}

// The tensors in the order of llama.cpp's own synthetic test files.
static void add_tensors(SynthModel *m)
{
    const SynthPreset *p = m->preset;
    const uint64_t n_embd = p->n_embd, n_ff = p->n_ff;
    const SynthQwen3 *q3 = p->qwen3;
    const uint64_t head_dim = q3 ? q3->head_dim : p->n_embd / p->n_head;
    const uint64_t n_q = p->n_head * head_dim, n_kv = p->n_head_kv * head_dim;
    add_tensor(m, KIND_MATRIX, "token_embd.weight", n_embd, m->n_vocab_rows);
    add_tensor(m, KIND_NORM, "output_norm.weight", n_embd, 1);
    if (!(q3 && q3->tied_output))
        add_tensor(m, KIND_MATRIX, "output.weight", n_embd, m->n_vocab_rows);
    if (p->llama3_rope)
        add_tensor(m, KIND_ROPE_FREQS, "rope_freqs.weight", head_dim / 2, 1);
    for (uint32_t l = 0; l < p->n_layer; l++) {
        char name[48];
#define LAYER_TENSOR(kind, suffix, ne0, ne1)                                                       \
    do {                                                                                           \
        snprintf(name, sizeof name, "blk.%u.%s", l, suffix);                                       \
        add_tensor(m, kind, name, ne0, ne1);                                                       \
    } while (0)
        LAYER_TENSOR(KIND_NORM, "attn_norm.weight", n_embd, 1);
        LAYER_TENSOR(KIND_MATRIX, "attn_q.weight", n_embd, n_q);
        LAYER_TENSOR(KIND_MATRIX, "attn_k.weight", n_embd, n_kv);
        LAYER_TENSOR(KIND_MATRIX, "attn_v.weight", n_embd, n_kv);
        LAYER_TENSOR(KIND_MATRIX, "attn_output.weight", n_q, n_embd);
        if (q3) {
            LAYER_TENSOR(KIND_NORM, "attn_q_norm.weight", head_dim, 1);
            LAYER_TENSOR(KIND_NORM, "attn_k_norm.weight", head_dim, 1);
        }
        LAYER_TENSOR(KIND_NORM, "ffn_norm.weight", n_embd, 1);
        LAYER_TENSOR(KIND_MATRIX, "ffn_gate.weight", n_embd, n_ff);
        LAYER_TENSOR(KIND_MATRIX, "ffn_up.weight", n_embd, n_ff);
        LAYER_TENSOR(KIND_MATRIX, "ffn_down.weight", n_ff, n_embd);
        if (p->qkv_bias) {
            LAYER_TENSOR(KIND_BIAS, "attn_q.bias", n_q, 1);
            LAYER_TENSOR(KIND_BIAS, "attn_k.bias", n_kv, 1);
            LAYER_TENSOR(KIND_BIAS, "attn_v.bias", n_kv, 1);
        }
#undef LAYER_TENSOR
    }
}

// ---- Random weights --------------------------------------------------------------------

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Two standard normal values from one 64-bit draw (Box-Muller on two 24-bit uniforms).
static void gaussian_pair(uint64_t *state, float *a, float *b)
{
    uint64_t r = splitmix64(state);
    float u1 = ((float)(r >> 40) + 0.5f) * (1.0f / 16777216.0f);
    float u2 = ((float)(r & 0xffffff) + 0.5f) * (1.0f / 16777216.0f);
    float radius = sqrtf(-2.0f * logf(u1));
    float angle = 6.2831853f * u2;
    *a = radius * cosf(angle);
    *b = radius * sinf(angle);
}

static void gaussian_row(uint64_t *state, float *x, uint64_t n, float scale, float offset)
{
    uint64_t i = 0;
    for (; i + 1 < n; i += 2) {
        gaussian_pair(state, &x[i], &x[i + 1]);
        x[i] = offset + scale * x[i];
        x[i + 1] = offset + scale * x[i + 1];
    }
    if (i < n) {
        float spare;
        gaussian_pair(state, &x[i], &spare);
        x[i] = offset + scale * x[i];
    }
}

// Llama 3.1's per-frequency divisors, as llama.cpp's converter computes them.
static void llama3_rope_factors(const SynthPreset *p, float *x, uint64_t n)
{
    const double head_dim = 2.0 * (double)n;
    const double low_wavelen = LLAMA3_ORIGINAL_CTX / LLAMA3_LOW;
    const double high_wavelen = LLAMA3_ORIGINAL_CTX / LLAMA3_HIGH;
    for (uint64_t i = 0; i < n; i++) {
        double freq = 1.0 / pow(p->rope_theta, (double)(2 * i) / head_dim);
        double wavelen = 2.0 * M_PI / freq;
        double factor;
        if (wavelen < high_wavelen)
            factor = 1.0;
        else if (wavelen > low_wavelen)
            factor = LLAMA3_FACTOR;
        else {
            double smooth =
                (LLAMA3_ORIGINAL_CTX / wavelen - LLAMA3_LOW) / (LLAMA3_HIGH - LLAMA3_LOW);
            factor = 1.0 / ((1.0 - smooth) / LLAMA3_FACTOR + smooth);
        }
        x[i] = (float)factor;
    }
}

// Row ROW of tensor T. Scales like a trained model's: matrices ~N(0, 0.02) with each row's
// spread varying by about 20%, norms near 1, small biases.
static void generate_row(const SynthTensor *t, uint64_t row, float *x)
{
    const uint64_t n = t->plan.ne[0];
    uint64_t state = t->seed ^ ((uint64_t)(t->index + 1) * 0xd1b54a32d192ed03ull) ^
                     (row * 0x8cb92ba72f3d8dd7ull);
    splitmix64(&state);
    switch (t->kind) {
    case KIND_MATRIX: {
        float g, unused;
        gaussian_pair(&state, &g, &unused);
        gaussian_row(&state, x, n, 0.02f * expf(0.2f * g), 0.0f);
        break;
    }
    case KIND_NORM: gaussian_row(&state, x, n, 0.1f, 1.0f); break;
    case KIND_BIAS: gaussian_row(&state, x, n, 0.05f, 0.0f); break;
    case KIND_ROPE_FREQS: llama3_rope_factors(t->preset, x, n); break;
    }
}

static void synth_rows(void *arg, uint64_t first_row, uint64_t n_rows, float *scratch)
{
    const SynthTensor *t = arg;
    for (uint64_t r = first_row; r < first_row + n_rows; r++) {
        generate_row(t, r, scratch);
        // (random valid blocks for the IQ types Ponder has no quantizer for)
        ponder_synth_row(t->plan.type, scratch, t->dst + r * t->row_bytes, (int64_t)t->plan.ne[0],
                         t->seed ^ ((uint64_t)(t->index + 1) << 32) ^ r);
    }
}

static bool fill_tensor(void *user, void *dst, uint64_t n_bytes, char *err, size_t err_size)
{
    SynthTensor *t = user;
    if (n_bytes != t->plan.n_bytes)
        return ponder_failf(err, err_size, "size mismatch (%llu bytes planned, %llu asked)",
                            (unsigned long long)t->plan.n_bytes, (unsigned long long)n_bytes);
    t->dst = dst;
    t->row_bytes = t->plan.n_bytes / t->plan.ne[1];
    if (!quant_rows_parallel(t->plan.ne[1], t->plan.ne[0], t->n_threads, synth_rows, t))
        return ponder_failf(err, err_size, "out of memory for row buffers");
    return true;
}

// ---- Metadata --------------------------------------------------------------------------

static void set_arch_u32(GgufWriter *w, const char *arch, const char *suffix, uint32_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    gguf_writer_set_u32(w, key, v);
}

static void set_arch_f32(GgufWriter *w, const char *arch, const char *suffix, float v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    gguf_writer_set_f32(w, key, v);
}

// The keys llama.cpp's convert_hf_to_gguf.py writes for these models (before the
// tokenizer's), in its order.
static void set_model_metadata(SynthModel *m)
{
    const SynthPreset *p = m->preset;
    GgufWriter *w = m->writer;
    gguf_writer_set_string(w, "general.architecture", p->arch);
    gguf_writer_set_string(w, "general.type", "model");
    gguf_writer_set_string(w, "general.name", p->display_name);
    gguf_writer_set_string(w, "general.basename", p->basename);
    if (p->size_label)
        gguf_writer_set_string(w, "general.size_label", p->size_label);
    set_arch_u32(w, p->arch, "block_count", p->n_layer);
    set_arch_u32(w, p->arch, "context_length", p->n_ctx);
    set_arch_u32(w, p->arch, "embedding_length", p->n_embd);
    set_arch_u32(w, p->arch, "feed_forward_length", p->n_ff);
    set_arch_u32(w, p->arch, "attention.head_count", p->n_head);
    set_arch_u32(w, p->arch, "attention.head_count_kv", p->n_head_kv);
    set_arch_f32(w, p->arch, "rope.freq_base", p->rope_theta);
    set_arch_f32(w, p->arch, "attention.layer_norm_rms_epsilon", p->norm_eps);
    gguf_writer_set_u32(w, "general.file_type", m->mix->file_type);
    if (strcmp(p->arch, "llama") == 0) {
        set_arch_u32(w, p->arch, "vocab_size", (uint32_t)m->n_vocab_rows);
        set_arch_u32(w, p->arch, "rope.dimension_count", p->n_embd / p->n_head);
    }
    const SynthQwen3 *q3 = p->qwen3;
    if (q3) {
        set_arch_u32(w, p->arch, "attention.key_length", q3->head_dim);
        set_arch_u32(w, p->arch, "attention.value_length", q3->head_dim);
    }
    if (q3 && q3->yarn_factor > 0) {
        char key[96];
        snprintf(key, sizeof key, "%s.rope.scaling.type", p->arch);
        gguf_writer_set_string(w, key, "yarn");
        set_arch_f32(w, p->arch, "rope.scaling.factor", q3->yarn_factor);
        set_arch_u32(w, p->arch, "rope.scaling.original_context_length", q3->yarn_orig_ctx);
    }
}

// Writes WRITER's metadata alone to a temporary file and maps it back, so its keys can be
// read (the writer has no getters). The file is unlinked at once; the mapping stays.
static GgufFile *reopen_metadata(GgufWriter *writer, char *err, size_t err_size)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/ponder-synth-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        ponder_failf(err, err_size, "cannot create a temporary file in %s",
                     dir && dir[0] ? dir : "/tmp");
        return NULL;
    }
    close(fd);
    GgufFile *file = NULL;
    if (gguf_writer_write(writer, path, err, err_size))
        file = gguf_open(path, err, err_size);
    unlink(path);
    return file;
}

// tokenizer_config.json beside tokenizer.json, when there is one.
static bool sibling_config(const char *tokenizer_json_path, char *out, size_t out_size)
{
    const char *slash = strrchr(tokenizer_json_path, '/');
    int dir_len = slash ? (int)(slash - tokenizer_json_path) : 1;
    snprintf(out, out_size, "%.*s/tokenizer_config.json", dir_len,
             slash ? tokenizer_json_path : ".");
    return access(out, R_OK) == 0;
}

// Adds the tokenizer's metadata: the whole vocabulary padded to the embedding's rows, or
// for the tiny presets a small vocabulary cut from it (and sets the row count from it).
static bool add_tokenizer(SynthModel *m, const char *tokenizer_json_path, char *err,
                          size_t err_size)
{
    char config[4096];
    bool has_config = sibling_config(tokenizer_json_path, config, sizeof config);
    GgufWriter *scratch = gguf_writer_new();
    if (!scratch)
        return ponder_failf(err, err_size, "out of memory");
    HfTokenizerSummary summary;
    bool ok = hf_tokenizer_write(scratch, tokenizer_json_path, has_config ? config : NULL,
                                 m->preset->n_vocab, &summary, err, err_size);
    GgufFile *tokenizer = ok ? reopen_metadata(scratch, err, err_size) : NULL;
    gguf_writer_free(scratch);
    if (!tokenizer)
        return false;
    if (m->preset->n_vocab) {
        if (summary.n_tokens > m->preset->n_vocab)
            ok = ponder_failf(err, err_size, "%s: %llu tokens do not fit the %llu rows of %s",
                              tokenizer_json_path, (unsigned long long)summary.n_tokens,
                              (unsigned long long)m->preset->n_vocab, m->preset->name);
        gguf_writer_copy_kv(m->writer, tokenizer);
        m->n_tokens = summary.n_tokens;
        m->n_vocab_rows = m->preset->n_vocab;
    } else {
        ok = synth_vocab_cut(m->writer, tokenizer, &m->n_tokens, err, err_size);
        m->n_vocab_rows = m->n_tokens;
    }
    gguf_close(tokenizer);
    return ok;
}

static void model_free(SynthModel *m)
{
    gguf_writer_free(m->writer);
    free(m->tensors);
}

// Everything but the tensors' bytes: metadata and the planned tensors.
static bool model_build(SynthModel *m, const char *preset, const char *type,
                        const char *tokenizer_json_path, char *err, size_t err_size)
{
    memset(m, 0, sizeof *m);
    m->preset = find_preset(preset);
    if (!m->preset)
        return ponder_failf(err, err_size, "unknown preset '%s' (expected one of: %s)",
                            preset ? preset : "", synth_preset_names());
    m->mix = quant_mix_find(type);
    if (!m->mix)
        return ponder_failf(err, err_size, "unknown type '%s' (expected one of: %s)",
                            type ? type : "", quant_mix_names());
    m->writer = gguf_writer_new();
    if (!m->writer)
        return ponder_failf(err, err_size, "out of memory");
    m->n_vocab_rows = m->preset->n_vocab ? m->preset->n_vocab : TINY_VOCAB_ROWS_WITHOUT_TOKENIZER;
    // The vocabulary size (tiny presets) is known only after the tokenizer, but llama's
    // vocab_size key comes before it: set the model keys now and again (in place) after.
    set_model_metadata(m);
    if (tokenizer_json_path && !add_tokenizer(m, tokenizer_json_path, err, err_size)) {
        model_free(m);
        return false;
    }
    set_model_metadata(m);
    gguf_writer_set_u32(m->writer, "general.quantization_version", GGML_QUANT_VERSION);
    add_tensors(m);
    if (m->out_of_memory) {
        model_free(m);
        return ponder_failf(err, err_size, "out of memory");
    }
    return true;
}

// ---- Public ----------------------------------------------------------------------------

// Bytes of one key/value pair as stored in a GGUF file.
static uint64_t kv_file_bytes(const GgufKv *kv)
{
    uint64_t n = 8 + kv->key.len + 4;
    if (kv->type == GGUF_VALUE_STRING)
        return n + 8 + kv->value.str.len;
    if (kv->type != GGUF_VALUE_ARRAY)
        return n + gguf_value_type_size(kv->type);
    n += 4 + 8;
    if (kv->array_type != GGUF_VALUE_STRING)
        return n + kv->array_count * gguf_value_type_size(kv->array_type);
    GgufString s;
    for (uint64_t i = 0; gguf_array_string(kv, i, &s); i++)
        n += 8 + s.len;
    return n;
}

static uint64_t align_up(uint64_t v, uint64_t alignment)
{
    return (v + alignment - 1) / alignment * alignment;
}

bool synth_plan(const char *preset, const char *type, const char *tokenizer_json_path,
                SynthPlan *plan, char *err, size_t err_size)
{
    memset(plan, 0, sizeof *plan);
    SynthModel m;
    if (!model_build(&m, preset, type, tokenizer_json_path, err, err_size))
        return false;
    GgufFile *meta = reopen_metadata(m.writer, err, err_size);
    plan->tensors = malloc(m.n_tensors * sizeof *plan->tensors);
    if (!meta || !plan->tensors) {
        if (meta)
            ponder_failf(err, err_size, "out of memory");
        gguf_close(meta);
        model_free(&m);
        synth_plan_free(plan);
        return false;
    }
    uint64_t header = 4 + 4 + 8 + 8;
    for (uint64_t i = 0; i < meta->n_kv; i++)
        header += kv_file_bytes(&meta->kv[i]);
    const uint64_t alignment = meta->alignment;
    for (uint64_t i = 0; i < m.n_tensors; i++) {
        const SynthTensorPlan *t = &m.tensors[i].plan;
        plan->tensors[i] = *t;
        header += 8 + strlen(t->name) + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
        plan->data_bytes = align_up(plan->data_bytes, alignment) + t->n_bytes;
    }
    plan->n_tensors = m.n_tensors;
    plan->n_vocab_rows = m.n_vocab_rows;
    plan->n_tokens = m.n_tokens;
    plan->file_bytes = align_up(header, alignment) + plan->data_bytes;
    gguf_close(meta);
    model_free(&m);
    return true;
}

void synth_plan_free(SynthPlan *plan)
{
    free(plan->tensors);
    memset(plan, 0, sizeof *plan);
}

bool synth_gguf(const char *preset, const char *type, const char *tokenizer_json_path,
                const char *out_path, uint64_t seed, int n_threads, char *err, size_t err_size)
{
    SynthModel m;
    if (!model_build(&m, preset, type, tokenizer_json_path, err, err_size))
        return false;
    for (uint64_t i = 0; i < m.n_tensors; i++) {
        SynthTensor *t = &m.tensors[i];
        t->preset = m.preset;
        t->seed = seed;
        t->n_threads = n_threads;
        gguf_writer_add_tensor_fill(m.writer, t->plan.name, t->plan.type, t->plan.n_dims,
                                    t->plan.ne, fill_tensor, t);
    }
    bool ok = gguf_writer_write(m.writer, out_path, err, err_size);
    model_free(&m);
    return ok;
}
