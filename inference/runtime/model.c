// Loading a model: hyperparameters from the GGUF metadata (no hard-coded sizes), every
// tensor looked up by name and checked for the shape the hyperparameters imply, so a
// file that disagrees with itself is an error naming the tensor, never a bad read.
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

PonderStatus ponder_set_error(PonderError *err, PonderStatus status, const char *fmt, ...)
{
    if (err) {
        err->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

void weight_row_to_float(const Weight *w, uint64_t row, float *out)
{
    const uint8_t *src = (const uint8_t *)w->data + row * w->row_bytes;
    ponder_dequantize_row(w->type, src, out, (int64_t)w->row_len);
}

typedef struct Loader {
    PonderModel *model;
    PonderError *err;
    char key[128];
} Loader;

static const char *arch_key(Loader *l, const char *suffix)
{
    snprintf(l->key, sizeof l->key, "%s.%s", l->model->arch_name, suffix);
    return l->key;
}

static bool read_u32(Loader *l, const char *suffix, uint32_t *out, bool required, uint32_t fallback)
{
    const char *key = arch_key(l, suffix);
    if (gguf_get_u32(l->model->file, key, out))
        return true;
    if (gguf_find_kv(l->model->file, key)) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT,
                         "metadata key '%s' is not an unsigned 32-bit count", key);
        return false;
    }
    if (required) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT, "metadata key '%s' is missing", key);
        return false;
    }
    *out = fallback;
    return true;
}

static bool read_f32(Loader *l, const char *suffix, float *out, float fallback)
{
    const char *key = arch_key(l, suffix);
    if (gguf_get_f32(l->model->file, key, out))
        return true;
    if (gguf_find_kv(l->model->file, key)) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT, "metadata key '%s' is not a number", key);
        return false;
    }
    *out = fallback;
    return true;
}

// `<arch>.rope.scaling.*` as llama.cpp writes it: type "none", "linear" or "yarn", the
// factor, the original context (YaRN) and an optional attention factor. A type we do not
// implement is an error: running it unscaled would put every position in the wrong place.
static bool load_rope_scaling(Loader *l)
{
    ModelHparams *hp = &l->model->hp;
    hp->rope_scaling = ROPE_SCALING_NONE;
    hp->rope_factor = 1.0f;
    hp->rope_attn_factor = 1.0f;
    hp->yarn_beta_fast = 32.0f;
    hp->yarn_beta_slow = 1.0f;
    hp->n_ctx_orig = hp->n_ctx_train;

    const char *key = arch_key(l, "rope.scaling.type");
    GgufString type;
    char name[32];
    if (gguf_find_kv(l->model->file, key)) {
        if (!gguf_get_string(l->model->file, key, &type)) {
            ponder_set_error(l->err, PONDER_ERR_FORMAT, "metadata key '%s' is not a string", key);
            return false;
        }
        if (gguf_string_equals(type, "yarn")) {
            hp->rope_scaling = ROPE_SCALING_YARN;
        } else if (gguf_string_equals(type, "linear")) {
            hp->rope_scaling = ROPE_SCALING_LINEAR;
        } else if (!gguf_string_equals(type, "none")) {
            ponder_set_error(l->err, PONDER_ERR_UNSUPPORTED,
                             "RoPE scaling '%s' is not supported (none, linear and yarn are)",
                             gguf_string_copy(type, name, sizeof name));
            return false;
        }
    }
    if (!read_f32(l, "rope.scaling.factor", &hp->rope_factor, 1.0f) ||
        !read_u32(l, "rope.scaling.original_context_length", &hp->n_ctx_orig, false,
                  hp->n_ctx_train) ||
        !read_f32(l, "rope.scaling.attn_factor", &hp->rope_attn_factor, 1.0f) ||
        !read_f32(l, "rope.scaling.yarn_beta_fast", &hp->yarn_beta_fast, 32.0f) ||
        !read_f32(l, "rope.scaling.yarn_beta_slow", &hp->yarn_beta_slow, 1.0f))
        return false;
    if (hp->rope_scaling == ROPE_SCALING_NONE) {
        hp->rope_factor = 1.0f;
        return true;
    }
    // A factor of 0 is how llama.cpp's converter writes "no scaling" with a type present.
    if (hp->rope_factor == 0.0f)
        hp->rope_factor = 1.0f;
    if (!(hp->rope_factor >= 1.0f && hp->rope_factor <= 1024.0f) ||
        !(hp->rope_attn_factor > 0.0f && hp->rope_attn_factor <= 16.0f) || hp->n_ctx_orig == 0 ||
        !(hp->yarn_beta_fast > 0.0f && hp->yarn_beta_fast < 1e4f) ||
        !(hp->yarn_beta_slow > 0.0f && hp->yarn_beta_slow < hp->yarn_beta_fast)) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT,
                         "implausible RoPE scaling: factor %g, original context %u, attention "
                         "factor %g, YaRN betas %g/%g",
                         hp->rope_factor, hp->n_ctx_orig, hp->rope_attn_factor, hp->yarn_beta_fast,
                         hp->yarn_beta_slow);
        return false;
    }
    return true;
}

// YaRN's "correction dimension": the pair index whose wavelength fits N_TURNS times into
// the original context, i.e. n_rot * ln(n_ctx_orig / (n_turns * 2 pi)) / (2 ln base).
static double yarn_corr_dim(const ModelHparams *hp, double n_turns)
{
    return hp->n_rot * log(hp->n_ctx_orig / (n_turns * 2.0 * M_PI)) /
           (2.0 * log((double)hp->rope_theta));
}

void model_rope_inv_freq(const PonderModel *m, double *out)
{
    const ModelHparams *hp = &m->hp;
    uint32_t half = hp->n_rot / 2;
    double freq_scale = 1.0 / hp->rope_factor;
    // YaRN: pairs below LOW keep their frequency (they turn many times within the original
    // context), pairs above HIGH are interpolated by the factor, a linear ramp between.
    double low = 0, high = 0;
    if (hp->rope_scaling == ROPE_SCALING_YARN) {
        low = floor(yarn_corr_dim(hp, hp->yarn_beta_fast));
        high = ceil(yarn_corr_dim(hp, hp->yarn_beta_slow));
        low = low < 0 ? 0 : low;
        high = high > hp->n_rot - 1 ? hp->n_rot - 1 : high;
    }
    for (uint32_t i = 0; i < half; i++) {
        double freq = pow((double)hp->rope_theta, -2.0 * i / hp->n_rot);
        if (m->rope_freq_factors)
            freq /= m->rope_freq_factors[i]; // Llama 3.1 frequency scaling
        if (hp->rope_scaling == ROPE_SCALING_LINEAR) {
            freq *= freq_scale;
        } else if (hp->rope_scaling == ROPE_SCALING_YARN) {
            double span = high - low > 0.001 ? high - low : 0.001;
            double y = (i - low) / span;
            double keep = 1.0 - (y < 0 ? 0 : y > 1 ? 1 : y); // 1: extrapolate, 0: interpolate
            freq *= freq_scale * (1.0 - keep) + keep;
        }
        out[i] = freq;
    }
}

float model_attention_scale(const ModelHparams *hp)
{
    double mscale = hp->rope_attn_factor;
    if (hp->rope_scaling == ROPE_SCALING_YARN)
        mscale *= 1.0 + 0.1 * log(hp->rope_factor);
    return (float)(mscale * mscale / sqrt((double)hp->head_dim));
}

static bool load_hparams(Loader *l)
{
    PonderModel *m = l->model;
    ModelHparams *hp = &m->hp;
    GgufString arch;
    if (!gguf_get_string(m->file, "general.architecture", &arch)) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT,
                         "metadata key 'general.architecture' is missing");
        return false;
    }
    gguf_string_copy(arch, m->arch_name, sizeof m->arch_name);
    if (gguf_string_equals(arch, "qwen2")) {
        hp->arch = MODEL_ARCH_QWEN2;
        hp->rope_style = ROPE_STYLE_HALVES;
    } else if (gguf_string_equals(arch, "qwen3")) {
        hp->arch = MODEL_ARCH_QWEN3;
        hp->rope_style = ROPE_STYLE_HALVES;
    } else if (gguf_string_equals(arch, "llama")) {
        hp->arch = MODEL_ARCH_LLAMA;
        hp->rope_style = ROPE_STYLE_ADJACENT;
    } else {
        ponder_set_error(l->err, PONDER_ERR_UNSUPPORTED,
                         "architecture '%s' is not supported (qwen2, qwen3 and llama are)",
                         m->arch_name);
        return false;
    }

    if (!read_u32(l, "block_count", &hp->n_layer, true, 0) ||
        !read_u32(l, "embedding_length", &hp->n_embd, true, 0) ||
        !read_u32(l, "attention.head_count", &hp->n_head, true, 0) ||
        !read_u32(l, "attention.head_count_kv", &hp->n_head_kv, false, hp->n_head) ||
        !read_u32(l, "feed_forward_length", &hp->n_ff, true, 0) ||
        !read_u32(l, "context_length", &hp->n_ctx_train, false, 4096) ||
        !read_f32(l, "rope.freq_base", &hp->rope_theta, 10000.0f) ||
        !read_f32(l, "attention.layer_norm_rms_epsilon", &hp->rms_eps, 1e-6f))
        return false;

    // Each limit named on its own, so a file that breaks one says which.
    const struct {
        const char *key;
        uint32_t value, max;
    } counts[] = {
        {"block_count", hp->n_layer, 4096},
        {"embedding_length", hp->n_embd, 1u << 17},
        {"attention.head_count", hp->n_head, 4096},
        {"attention.head_count_kv", hp->n_head_kv, 4096},
        {"feed_forward_length", hp->n_ff, 1u << 20},
        {"context_length", hp->n_ctx_train, UINT32_MAX},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        if (counts[i].value == 0 || counts[i].value > counts[i].max) {
            ponder_set_error(l->err, PONDER_ERR_FORMAT,
                             "implausible hyperparameter: %s.%s is %u (1 to %u allowed)",
                             m->arch_name, counts[i].key, counts[i].value, counts[i].max);
            return false;
        }
    }
    if (hp->n_head % hp->n_head_kv != 0) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT,
                         "implausible hyperparameters: %u KV heads do not divide %u heads",
                         hp->n_head_kv, hp->n_head);
        return false;
    }
    // The head size is the file's key_length when it has one: qwen3 files may have heads
    // wider than embedding / heads (Q wider than the embedding, attn_output maps it back).
    bool has_key_length = gguf_find_kv(m->file, arch_key(l, "attention.key_length")) != NULL;
    if (!has_key_length && hp->n_embd % hp->n_head != 0) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT,
                         "embedding %u is not a multiple of the %u heads and the file has no "
                         "'%s.attention.key_length'",
                         hp->n_embd, hp->n_head, m->arch_name);
        return false;
    }
    uint32_t value_length;
    if (!read_u32(l, "attention.key_length", &hp->head_dim, false, hp->n_embd / hp->n_head) ||
        !read_u32(l, "attention.value_length", &value_length, false, hp->head_dim) ||
        !read_u32(l, "rope.dimension_count", &hp->n_rot, false, hp->head_dim))
        return false;
    if (value_length != hp->head_dim) {
        ponder_set_error(l->err, PONDER_ERR_UNSUPPORTED,
                         "key length %u differs from value length %u (heads of one size are "
                         "supported)",
                         hp->head_dim, value_length);
        return false;
    }
    if (hp->head_dim == 0 || hp->head_dim % 2 || hp->head_dim > 1024 || hp->n_rot % 2 ||
        hp->n_rot > hp->head_dim) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT,
                         "implausible head size %u (rotated %u): an even size up to 1024 expected, "
                         "rotating an even part of it",
                         hp->head_dim, hp->n_rot);
        return false;
    }
    if (!(hp->rms_eps > 0 && hp->rms_eps < 1)) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT,
                         "implausible RMS epsilon %g (%s.attention.layer_norm_rms_epsilon; "
                         "between 0 and 1 expected)",
                         hp->rms_eps, m->arch_name);
        return false;
    }
    if (!(hp->rope_theta > 1 && isfinite(hp->rope_theta))) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT,
                         "implausible RoPE base %g (%s.rope.freq_base; a finite number above 1 "
                         "expected)",
                         hp->rope_theta, m->arch_name);
        return false;
    }
    return load_rope_scaling(l);
}

bool model_read_hparams(PonderModel *m, PonderError *err)
{
    Loader l = {.model = m, .err = err};
    return load_hparams(&l);
}

// Looks up tensor NAME with shape [ne0, ne1] (ne1 = 0: a 1-D tensor). Absent and
// OPTIONAL: returns true with *out NULL.
static bool find_tensor(Loader *l, const char *name, uint64_t ne0, uint64_t ne1, bool optional,
                        const GgufTensor **out)
{
    const GgufTensor *t = gguf_find_tensor(l->model->file, name);
    *out = t;
    if (!t) {
        if (optional)
            return true;
        ponder_set_error(l->err, PONDER_ERR_FORMAT, "tensor '%s' is missing", name);
        return false;
    }
    uint64_t want1 = ne1 ? ne1 : 1;
    bool shape_ok = t->ne[0] == ne0 && t->ne[1] == want1 && t->ne[2] == 1 && t->ne[3] == 1;
    if (!shape_ok) {
        ponder_set_error(l->err, PONDER_ERR_FORMAT,
                         "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%llu, %llu]",
                         name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                         (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                         (unsigned long long)ne0, (unsigned long long)want1);
        return false;
    }
    const PonderTypeTraits *traits = ponder_type_traits(t->type);
    if (!traits || !traits->is_weight_type || !ponder_vec_dot_for((PonderType)t->type)) {
        ponder_set_error(l->err, PONDER_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s (%u)",
                         name, traits ? traits->name : "unknown", t->type);
        return false;
    }
    return true;
}

static bool load_matrix(Loader *l, const char *name, uint64_t row_len, uint64_t n_rows,
                        bool optional, Weight *out)
{
    const GgufTensor *t;
    if (!find_tensor(l, name, row_len, n_rows, optional, &t))
        return false;
    memset(out, 0, sizeof *out);
    if (!t)
        return true;
    out->type = (PonderType)t->type;
    out->data = t->data;
    out->row_len = row_len;
    out->n_rows = n_rows;
    ponder_row_bytes(t->type, row_len, &out->row_bytes); // the reader checked it fits
    return true;
}

// 1-D tensors (norms, biases, RoPE factors) are small: keep them as floats.
static bool load_vector(Loader *l, const char *name, uint64_t n, bool optional, float **out)
{
    const GgufTensor *t;
    *out = NULL;
    if (!find_tensor(l, name, n, 0, optional, &t))
        return false;
    if (!t)
        return true;
    *out = malloc(n * sizeof(float));
    if (!*out) {
        ponder_set_error(l->err, PONDER_ERR_NO_MEMORY, "out of memory loading '%s'", name);
        return false;
    }
    ponder_dequantize_row((PonderType)t->type, t->data, *out, (int64_t)n);
    return true;
}

static bool load_layer(Loader *l, uint32_t i, LayerWeights *lw)
{
    const ModelHparams *hp = &l->model->hp;
    uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim;
    uint64_t kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim;
    // qwen3 normalises every head of q and k before RoPE: the norms are required there,
    // and applied wherever a file has them.
    bool qk_norm = hp->arch == MODEL_ARCH_QWEN3;
    char name[96];
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "blk.%u." suffix, i), name)
    return load_vector(l, LAYER_NAME("attn_norm.weight"), hp->n_embd, false, &lw->attn_norm) &&
           load_matrix(l, LAYER_NAME("attn_q.weight"), hp->n_embd, q_dim, false, &lw->wq) &&
           load_matrix(l, LAYER_NAME("attn_k.weight"), hp->n_embd, kv_dim, false, &lw->wk) &&
           load_matrix(l, LAYER_NAME("attn_v.weight"), hp->n_embd, kv_dim, false, &lw->wv) &&
           load_matrix(l, LAYER_NAME("attn_output.weight"), q_dim, hp->n_embd, false, &lw->wo) &&
           load_vector(l, LAYER_NAME("attn_q.bias"), q_dim, true, &lw->bq) &&
           load_vector(l, LAYER_NAME("attn_k.bias"), kv_dim, true, &lw->bk) &&
           load_vector(l, LAYER_NAME("attn_v.bias"), kv_dim, true, &lw->bv) &&
           load_vector(l, LAYER_NAME("attn_q_norm.weight"), hp->head_dim, !qk_norm, &lw->q_norm) &&
           load_vector(l, LAYER_NAME("attn_k_norm.weight"), hp->head_dim, !qk_norm, &lw->k_norm) &&
           load_vector(l, LAYER_NAME("ffn_norm.weight"), hp->n_embd, false, &lw->ffn_norm) &&
           load_matrix(l, LAYER_NAME("ffn_gate.weight"), hp->n_embd, hp->n_ff, false,
                       &lw->w_gate) &&
           load_matrix(l, LAYER_NAME("ffn_up.weight"), hp->n_embd, hp->n_ff, false, &lw->w_up) &&
           load_matrix(l, LAYER_NAME("ffn_down.weight"), hp->n_ff, hp->n_embd, false, &lw->w_down);
#undef LAYER_NAME
}

// llama.cpp's general.file_type values (LLAMA_FTYPE_*).
const char *ponder_file_type_name(uint32_t file_type)
{
    // general.file_type values as llama.cpp writes them (llama_ftype), by the names users know.
    static const char *const names[] = {
        [0] = "F32",      [1] = "F16",      [2] = "Q4_0",    [3] = "Q4_1",    [7] = "Q8_0",
        [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",   [11] = "Q3_K_S", [12] = "Q3_K_M",
        [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M",
        [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS",
        [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL", [26] = "IQ3_S",  [27] = "IQ3_M",
        [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS", [31] = "IQ1_M",  [32] = "BF16",
        [36] = "TQ1_0",   [37] = "TQ2_0",
    };
    return file_type < sizeof names / sizeof names[0] ? names[file_type] : NULL;
}

static void describe(PonderModel *m, const char *path)
{
    const ModelHparams *hp = &m->hp;
    GgufString s;
    if (gguf_get_string(m->file, "general.name", &s)) {
        gguf_string_copy(s, m->name, sizeof m->name);
    } else {
        const char *base = strrchr(path, '/');
        snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : path);
    }
    model_file_type_name(m->file, m->file_type, sizeof m->file_type);
    if (gguf_get_string(m->file, "tokenizer.chat_template", &s)) {
        m->chat_template = malloc(s.len + 1);
        if (m->chat_template)
            gguf_string_copy(s, m->chat_template, s.len + 1);
    }

    PonderModelInfo *info = &m->info;
    info->architecture = m->arch_name;
    info->name = m->name;
    info->file_type = m->file_type;
    info->n_layer = hp->n_layer;
    info->n_embd = hp->n_embd;
    info->n_head = hp->n_head;
    info->n_head_kv = hp->n_head_kv;
    info->head_dim = hp->head_dim;
    info->n_ff = hp->n_ff;
    info->n_vocab = hp->n_vocab;
    info->n_ctx_train = hp->n_ctx_train;
    info->rope_theta = hp->rope_theta;
    info->rms_eps = hp->rms_eps;
    info->tied_output = m->output.data == m->token_embd.data;
    info->file_size = m->file->map_size;
    for (uint64_t i = 0; i < m->file->n_tensors; i++) {
        info->n_params += m->file->tensors[i].n_elements;
        info->tensor_bytes += m->file->tensors[i].n_bytes;
    }
}

// Everything after the GGUF reader: hyperparameters, weights and tokenizer of M->file.
// NAME (the file name) names the model when the metadata does not.
static bool load_model(PonderModel *m, const char *name, PonderError *err)
{
    char msg[512];
    Loader l = {.model = m, .err = err};
    if (!load_hparams(&l))
        return false;
    ModelHparams *hp = &m->hp;

    const GgufTensor *embd = gguf_find_tensor(m->file, "token_embd.weight");
    if (!embd || embd->ne[1] == 0 || embd->ne[1] > (1u << 24)) {
        ponder_set_error(err, PONDER_ERR_FORMAT, "tensor 'token_embd.weight' is missing or empty");
        return false;
    }
    hp->n_vocab = (uint32_t)embd->ne[1];
    if (!load_matrix(&l, "token_embd.weight", hp->n_embd, hp->n_vocab, false, &m->token_embd) ||
        !load_vector(&l, "output_norm.weight", hp->n_embd, false, &m->output_norm) ||
        !load_matrix(&l, "output.weight", hp->n_embd, hp->n_vocab, true, &m->output) ||
        !load_vector(&l, "rope_freqs.weight", hp->n_rot / 2, true, &m->rope_freq_factors))
        return false;
    if (!m->output.data)
        m->output = m->token_embd; // tied head (small models share the embedding)

    m->layers = calloc(hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
        return false;
    }
    for (uint32_t i = 0; i < hp->n_layer; i++)
        if (!load_layer(&l, i, &m->layers[i]))
            return false;

    if (gguf_find_kv(m->file, "tokenizer.ggml.model")) {
        m->tokenizer = tokenizer_from_gguf(m->file, msg, sizeof msg);
        if (!m->tokenizer) {
            ponder_set_error(err, PONDER_ERR_FORMAT, "tokenizer: %s", msg);
            return false;
        }
        if (tokenizer_vocab_size(m->tokenizer) > hp->n_vocab) {
            ponder_set_error(err, PONDER_ERR_FORMAT,
                             "the tokenizer has %u tokens but the embedding only %u rows",
                             tokenizer_vocab_size(m->tokenizer), hp->n_vocab);
            return false;
        }
    }
    describe(m, name);
    if (m->tokenizer) // the chat format, from the file: chat.c owns the rule
        tokenizer_set_generation_opens_think(
            m->tokenizer, chat_format_detect(m->arch_name, m->chat_template) == CHAT_FORMAT_R1);
    return true;
}

// The model of FILE, which gguf_open* gave (NULL: it failed with OPEN_ERROR).
static PonderModel *load_opened(GgufFile *file, const char *open_error, const char *name,
                                PonderError *err)
{
    if (!file) {
        ponder_set_error(err, PONDER_ERR_FORMAT, "%s", open_error);
        return NULL;
    }
    PonderModel *m = calloc(1, sizeof *m);
    if (!m) {
        gguf_close(file);
        ponder_set_error(err, PONDER_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    m->file = file;
    if (!load_model(m, name, err)) {
        ponder_model_free(m);
        return NULL;
    }
    return m;
}

PonderModel *ponder_model_load(const char *path, PonderError *err)
{
    char msg[512];
    GgufFile *file = gguf_open(path, msg, sizeof msg);
    return load_opened(file, msg, path, err);
}

PonderModel *ponder_model_load_memory(const void *data, size_t size, const char *name,
                                      PonderError *err)
{
    char msg[512];
    GgufFile *file = gguf_open_memory(data, size, msg, sizeof msg);
    return load_opened(file, msg, name, err);
}

void ponder_model_free(PonderModel *m)
{
    if (!m)
        return;
    if (m->layers) {
        for (uint32_t i = 0; i < m->hp.n_layer; i++) {
            LayerWeights *lw = &m->layers[i];
            free(lw->attn_norm);
            free(lw->ffn_norm);
            free(lw->bq);
            free(lw->bk);
            free(lw->bv);
            free(lw->q_norm);
            free(lw->k_norm);
        }
        free(m->layers);
    }
    free(m->output_norm);
    free(m->rope_freq_factors);
    free(m->chat_template);
    tokenizer_free(m->tokenizer);
    gguf_close(m->file);
    free(m);
}

const PonderModelInfo *ponder_model_info(const PonderModel *model)
{
    return &model->info;
}

const Tokenizer *ponder_model_tokenizer(const PonderModel *model)
{
    return model->tokenizer;
}

const char *ponder_model_chat_template(const PonderModel *model)
{
    return model->chat_template;
}
