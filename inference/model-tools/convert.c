// `convert`: a Hugging Face checkpoint folder (config.json, safetensors, tokenizer.json)
// -> one GGUF file with llama.cpp's names and conventions, for the architectures of the R1
// distills (Qwen2ForCausalLM -> "qwen2", LlamaForCausalLM -> "llama", Qwen3ForCausalLM ->
// "qwen3": per-head q/k norms, its own head_dim, YaRN rope_scaling as rope.scaling.*).
//
// Two conventions differ from the checkpoint and are easy to get wrong:
// - llama GGUFs rotate adjacent pairs (0,1), (2,3)... of each head while Hugging Face
//   rotates the two halves (i, i + head_dim/2), so the rows of Llama's q/k projections
//   are reordered here exactly as llama.cpp's converter does; qwen2 keeps HF's layout.
// - Llama 3.1's frequency scaling becomes an F32 tensor `rope_freqs.weight` of head_dim/2
//   factors that divide the rotation frequencies.
// Tensors are converted row by row while the file is written, so memory stays at one
// tensor's output size however large the checkpoint.
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "convert-tokenizer.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "model-files.h"
#include "quant/quant.h"
#include "formats/safetensors.h"
#include "runtime/error-text.h"

enum {
    QUANTIZATION_VERSION = 2, // ggml's, written by llama.cpp's converter too
    MAX_LAYERS = 4096,
    GGUF_NAME_BYTES = 64,
};

// ---- config.json ------------------------------------------------------------------

typedef struct HfHparams {
    const char *arch; // "qwen2", "qwen3" or "llama"
    uint64_t n_embd, n_ff, n_layer, n_head, n_head_kv, head_dim, n_vocab, n_ctx;
    double rope_theta, rms_eps;
    bool tied;
    bool qkv_bias; // qwen2 always; qwen3 when attention_bias is set
    // YaRN (rope_scaling.rope_type "yarn", qwen3): written as llama.cpp's rope.scaling.*
    // keys; yarn_attn_factor is HF's attention_factor over the default 0.1 ln(factor) + 1
    // (1 when the config has none), as the loader multiplies the two.
    bool yarn;
    double yarn_factor, yarn_orig_ctx, yarn_attn_factor, yarn_beta_fast, yarn_beta_slow;
    // Llama 3.1 frequency scaling (rope_scaling.rope_type "llama3").
    bool llama3_rope;
    double rope_factor, low_freq_factor, high_freq_factor, original_ctx;
    int64_t bos_id, eos_id; // config.json's, the fallback when the tokenizer names none
} HfHparams;

// Positive integer KEY that fits 32 bits (GGUF stores these as uint32); FALLBACK 0 means
// required.
static bool config_u32(const char *path, const JsonValue *cfg, const char *key, uint64_t fallback,
                       uint64_t *out, char *err, size_t err_size)
{
    const JsonValue *v = json_get(cfg, key);
    if (!v || v->type == JSON_NULL) {
        if (!fallback)
            return ponder_failf(err, err_size, "%s: required key '%s' is missing", path, key);
        *out = fallback;
        return true;
    }
    if (v->type != JSON_NUMBER || !v->number_is_integer || v->integer <= 0 ||
        v->integer > UINT32_MAX)
        return ponder_failf(err, err_size, "%s: '%s' must be a positive integer below 2^32", path,
                            key);
    *out = (uint64_t)v->integer;
    return true;
}

static bool positive_number(const char *path, const JsonValue *obj, const char *key,
                            double fallback, double *out, char *err, size_t err_size)
{
    const JsonValue *v = obj ? json_get(obj, key) : NULL;
    if (!v || v->type == JSON_NULL) {
        if (fallback <= 0)
            return ponder_failf(err, err_size, "%s: required key '%s' is missing", path, key);
        *out = fallback;
        return true;
    }
    if (v->type != JSON_NUMBER || !isfinite(v->number) || v->number <= 0)
        return ponder_failf(err, err_size, "%s: '%s' must be a positive number", path, key);
    *out = v->number;
    return true;
}

static int64_t optional_token_id(const JsonValue *cfg, const char *key)
{
    const JsonValue *v = json_get(cfg, key);
    if (v && v->type == JSON_ARRAY) // eos_token_id may list several; the first is the EOS
        v = v->count ? &v->items[0] : NULL;
    if (!v || v->type != JSON_NUMBER || !v->number_is_integer || v->integer < 0 ||
        v->integer > UINT32_MAX)
        return -1;
    return v->integer;
}

// rope_theta and rope_scaling, in the classic spelling or transformers 5's
// rope_parameters {rope_type, rope_theta, ...}.
static bool read_rope(const char *path, const JsonValue *cfg, HfHparams *hp, char *err,
                      size_t err_size)
{
    const JsonValue *params = json_get(cfg, "rope_parameters");
    if (params && params->type != JSON_OBJECT)
        params = NULL;
    const JsonValue *theta_owner = json_get(cfg, "rope_theta") ? cfg : params;
    if (!positive_number(path, theta_owner, "rope_theta", 10000.0, &hp->rope_theta, err, err_size))
        return false;
    const JsonValue *scaling = json_get(cfg, "rope_scaling");
    if ((!scaling || scaling->type == JSON_NULL) && params)
        scaling = params;
    if (!scaling || scaling->type == JSON_NULL)
        return true;
    if (scaling->type != JSON_OBJECT)
        return ponder_failf(err, err_size, "%s: 'rope_scaling' is not an object", path);
    const char *type = json_get_string(scaling, "rope_type", NULL);
    if (!type)
        type = json_get_string(scaling, "type", "default");
    if (strcmp(type, "default") == 0)
        return true;
    if (strcmp(type, "yarn") == 0 && strcmp(hp->arch, "qwen3") == 0) {
        const JsonValue *ctx_owner =
            json_get(scaling, "original_max_position_embeddings") ? scaling : cfg;
        double attention_factor = 0;
        if (!positive_number(path, scaling, "factor", 0, &hp->yarn_factor, err, err_size) ||
            !positive_number(path, ctx_owner, "original_max_position_embeddings", 0,
                             &hp->yarn_orig_ctx, err, err_size) ||
            !positive_number(path, scaling, "beta_fast", 32.0, &hp->yarn_beta_fast, err,
                             err_size) ||
            !positive_number(path, scaling, "beta_slow", 1.0, &hp->yarn_beta_slow, err, err_size) ||
            (json_get(scaling, "attention_factor") &&
             !positive_number(path, scaling, "attention_factor", 0, &attention_factor, err,
                              err_size)))
            return false;
        if (hp->yarn_factor < 1.0)
            return ponder_failf(err, err_size, "%s: rope_scaling factor %g is below 1", path,
                                hp->yarn_factor);
        hp->yarn = true;
        hp->yarn_attn_factor =
            attention_factor > 0 ? attention_factor / (0.1 * log(hp->yarn_factor) + 1.0) : 1.0;
        return true;
    }
    if (strcmp(type, "llama3") != 0 || strcmp(hp->arch, "llama") != 0)
        return ponder_failf(err, err_size, "%s: rope_scaling type '%s' is not supported for %s",
                            path, type, hp->arch);
    hp->llama3_rope = true;
    // HF reads original_max_position_embeddings inside rope_scaling; llama.cpp's
    // converter looks for it at the top level; both default to Llama 3's 8192.
    const JsonValue *ctx_owner =
        json_get(scaling, "original_max_position_embeddings") ? scaling : cfg;
    if (!positive_number(path, scaling, "factor", 8.0, &hp->rope_factor, err, err_size) ||
        !positive_number(path, scaling, "low_freq_factor", 1.0, &hp->low_freq_factor, err,
                         err_size) ||
        !positive_number(path, scaling, "high_freq_factor", 4.0, &hp->high_freq_factor, err,
                         err_size) ||
        !positive_number(path, ctx_owner, "original_max_position_embeddings", 8192.0,
                         &hp->original_ctx, err, err_size))
        return false;
    if (hp->high_freq_factor == hp->low_freq_factor)
        return ponder_failf(err, err_size,
                            "%s: rope_scaling high_freq_factor equals low_freq_factor", path);
    return true;
}

static bool read_config(const char *path, HfHparams *hp, char *err, size_t err_size)
{
    JsonValue *cfg = json_parse_file(path, err, err_size); // its messages name the file
    if (!cfg)
        return false;
    bool ok = true;
    const JsonValue *archs = json_get(cfg, "architectures");
    const JsonValue *arch0 = archs && archs->type == JSON_ARRAY ? json_at(archs, 0) : NULL;
    memset(hp, 0, sizeof *hp);
    if (cfg->type != JSON_OBJECT)
        ok = ponder_failf(err, err_size, "%s: not a JSON object", path);
    else if (!arch0 || arch0->type != JSON_STRING)
        ok = ponder_failf(err, err_size, "%s: 'architectures' must list the model class", path);
    else if (strcmp(arch0->string, "Qwen2ForCausalLM") == 0)
        hp->arch = "qwen2";
    else if (strcmp(arch0->string, "Qwen3ForCausalLM") == 0)
        hp->arch = "qwen3";
    else if (strcmp(arch0->string, "LlamaForCausalLM") == 0)
        hp->arch = "llama";
    else
        ok = ponder_failf(err, err_size,
                          "%s: architectures[0] '%s' is not supported (Qwen2ForCausalLM, "
                          "Qwen3ForCausalLM, LlamaForCausalLM)",
                          path, arch0->string);
    ok = ok && config_u32(path, cfg, "hidden_size", 0, &hp->n_embd, err, err_size) &&
         config_u32(path, cfg, "intermediate_size", 0, &hp->n_ff, err, err_size) &&
         config_u32(path, cfg, "num_hidden_layers", 0, &hp->n_layer, err, err_size) &&
         config_u32(path, cfg, "num_attention_heads", 0, &hp->n_head, err, err_size) &&
         config_u32(path, cfg, "num_key_value_heads", hp->n_head, &hp->n_head_kv, err, err_size) &&
         config_u32(path, cfg, "head_dim", hp->n_embd / hp->n_head, &hp->head_dim, err, err_size) &&
         config_u32(path, cfg, "vocab_size", 0, &hp->n_vocab, err, err_size) &&
         config_u32(path, cfg, "max_position_embeddings", 0, &hp->n_ctx, err, err_size) &&
         positive_number(path, cfg, "rms_norm_eps", 0, &hp->rms_eps, err, err_size) &&
         read_rope(path, cfg, hp, err, err_size);
    if (ok && hp->n_layer > MAX_LAYERS)
        ok = ponder_failf(err, err_size, "%s: num_hidden_layers %llu is implausible", path,
                          (unsigned long long)hp->n_layer);
    if (ok && hp->n_head % hp->n_head_kv != 0)
        ok = ponder_failf(err, err_size,
                          "%s: num_attention_heads %llu is not a multiple of "
                          "num_key_value_heads %llu",
                          path, (unsigned long long)hp->n_head, (unsigned long long)hp->n_head_kv);
    if (ok && hp->head_dim % 2 != 0)
        ok = ponder_failf(err, err_size, "%s: head_dim %llu is odd (RoPE rotates pairs)", path,
                          (unsigned long long)hp->head_dim);
    if (ok && strcmp(hp->arch, "qwen3") == 0 && json_get_bool(cfg, "mlp_bias", false))
        ok = ponder_failf(err, err_size, "%s: mlp_bias is not supported for qwen3", path);
    if (ok && strcmp(hp->arch, "llama") == 0 &&
        (json_get_bool(cfg, "attention_bias", false) || json_get_bool(cfg, "mlp_bias", false)))
        ok = ponder_failf(err, err_size, "%s: attention_bias/mlp_bias are not supported for llama",
                          path);
    if (ok) {
        // Both classes default to separate output weights (unlike PretrainedConfig).
        hp->tied = json_get_bool(cfg, "tie_word_embeddings", false);
        hp->qkv_bias =
            strcmp(hp->arch, "qwen2") == 0 ||
            (strcmp(hp->arch, "qwen3") == 0 && json_get_bool(cfg, "attention_bias", false));
        hp->bos_id = optional_token_id(cfg, "bos_token_id");
        hp->eos_id = optional_token_id(cfg, "eos_token_id");
    }
    json_free(cfg);
    return ok;
}

// Llama 3.1: each rotation frequency is divided by a factor that is 1 for short
// wavelengths, FACTOR for long ones, and interpolated smoothly in between.
static void llama3_rope_factors(const HfHparams *hp, float *factors)
{
    double low_wavelen = hp->original_ctx / hp->low_freq_factor;
    double high_wavelen = hp->original_ctx / hp->high_freq_factor;
    for (uint64_t i = 0; i < hp->head_dim / 2; i++) {
        double freq = 1.0 / pow(hp->rope_theta, (double)(2 * i) / (double)hp->head_dim);
        double wavelen = 2.0 * M_PI / freq;
        double factor;
        if (wavelen < high_wavelen) {
            factor = 1.0;
        } else if (wavelen > low_wavelen) {
            factor = hp->rope_factor;
        } else {
            double smooth = (hp->original_ctx / wavelen - hp->low_freq_factor) /
                            (hp->high_freq_factor - hp->low_freq_factor);
            factor = 1.0 / ((1.0 - smooth) / hp->rope_factor + smooth);
        }
        factors[i] = (float)factor;
    }
}

// ---- tensors ----------------------------------------------------------------------

typedef struct TensorJob {
    char name[GGUF_NAME_BYTES];
    const SafetensorsTensor *src;
    PonderType type;
    uint32_t n_dims;
    uint64_t ne[2];      // ne[0] = row length (HF's last dimension)
    uint32_t rope_heads; // > 0: rows reordered for adjacent-pair RoPE, this many heads
} TensorJob;

typedef struct Converter {
    const char *dir;
    HfHparams hp;
    PonderType out_type;
    SafetensorsCheckpoint *ckpt;
    TensorJob *jobs;
    size_t n_jobs;
    float *rope_factors; // [head_dim / 2], borrowed by the writer until it is done
} Converter;

// HF's row for GGUF row R of a q/k projection: within each head, HF keeps the first
// halves of the rotation pairs in rows [0, hd/2) and the second halves in [hd/2, hd);
// llama GGUFs interleave them so that pair i occupies rows 2i and 2i + 1.
static uint64_t hf_row_for(uint64_t r, uint64_t n_rows, uint32_t n_heads)
{
    uint64_t hd = n_rows / n_heads;
    uint64_t head = r / hd, within = r % hd;
    return head * hd + (within % 2) * (hd / 2) + within / 2;
}

static void encode_row(PonderType type, const float *src, uint8_t *dst, uint64_t n)
{
    switch (type) {
    case PONDER_TYPE_F32: memcpy(dst, src, n * sizeof *src); break;
    case PONDER_TYPE_F16:
    case PONDER_TYPE_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h =
                type == PONDER_TYPE_F16 ? ponder_fp32_to_fp16(src[i]) : ponder_fp32_to_bf16(src[i]);
            dst[2 * i] = (uint8_t)h;
            dst[2 * i + 1] = (uint8_t)(h >> 8);
        }
        break;
    default: ponder_quantize_row(type, src, dst, (int64_t)n); break;
    }
}

static bool fill_tensor(void *user, void *dst, uint64_t n_bytes, char *err, size_t err_size)
{
    const TensorJob *job = user;
    const SafetensorsTensor *src = job->src;
    uint64_t row_len = job->ne[0], n_rows = job->n_dims > 1 ? job->ne[1] : 1, row_bytes;
    if (!ponder_row_bytes(job->type, row_len, &row_bytes) || row_bytes * n_rows != n_bytes)
        return ponder_failf(err, err_size, "internal size mismatch converting '%s'", src->name);
    // BF16 -> BF16 copies the bits, so even NaN payloads survive unchanged.
    bool copy_bf16 = job->type == PONDER_TYPE_BF16 && src->dtype == SAFETENSORS_BF16;
    float *row = malloc(row_len * sizeof *row);
    if (!row)
        return ponder_failf(err, err_size, "out of memory converting '%s'", src->name);
    uint8_t *out = dst;
    for (uint64_t r = 0; r < n_rows; r++) {
        uint64_t hf_row = job->rope_heads ? hf_row_for(r, n_rows, job->rope_heads) : r;
        if (copy_bf16) {
            memcpy(out + r * row_bytes, src->data + hf_row * row_len * 2, row_bytes);
        } else {
            safetensors_read_f32(src, hf_row * row_len, row_len, row);
            encode_row(job->type, row, out + r * row_bytes, row_len);
        }
    }
    free(row);
    return true;
}

static void format_shape(char *buf, size_t size, const uint64_t *shape, uint32_t n_dims)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (uint32_t d = 0; d < n_dims && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", d ? ", " : "",
                                 (unsigned long long)shape[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

// Plans one tensor: HF_NAME must exist with HF shape [ROWS, COLS] (COLS 0: a vector of
// ROWS) and a floating dtype.
static bool plan(Converter *c, const char *hf_name, const char *gguf_name, uint64_t rows,
                 uint64_t cols, uint32_t rope_heads, char *err, size_t err_size)
{
    const SafetensorsTensor *t = safetensors_checkpoint_find(c->ckpt, hf_name);
    if (!t)
        return ponder_failf(err, err_size, "%s: tensor '%s' (for %s) is in no safetensors file",
                            c->dir, hf_name, gguf_name);
    if (t->dtype == SAFETENSORS_OTHER)
        return ponder_failf(err, err_size,
                            "%s: tensor '%s' has dtype %s (F32, F16 or BF16 expected)",
                            t->file->path, hf_name, t->dtype_name);
    uint64_t want[2] = {rows, cols};
    uint32_t want_dims = cols ? 2 : 1;
    if (t->n_dims != want_dims || t->shape[0] != rows || (cols && t->shape[1] != cols)) {
        char got_s[128], want_s[64];
        format_shape(got_s, sizeof got_s, t->shape, t->n_dims);
        format_shape(want_s, sizeof want_s, want, want_dims);
        return ponder_failf(err, err_size,
                            "%s: tensor '%s' has shape %s but config.json implies %s",
                            t->file->path, hf_name, got_s, want_s);
    }
    TensorJob *job = &c->jobs[c->n_jobs++];
    snprintf(job->name, sizeof job->name, "%s", gguf_name);
    job->src = t;
    job->n_dims = want_dims;
    job->ne[0] = cols ? cols : rows;
    job->ne[1] = cols ? rows : 1;
    job->rope_heads = rope_heads;
    job->type = PONDER_TYPE_F32; // vectors (norms, biases) stay F32, as llama.cpp keeps them
    if (cols) {
        job->type = c->out_type;
        // Q8_0 blocks are 32 wide; llama.cpp falls back to F16 for other rows too.
        if (c->out_type == PONDER_TYPE_Q8_0 && cols % QK_LEGACY != 0)
            job->type = PONDER_TYPE_F16;
    }
    return true;
}

static bool plan_layer(Converter *c, uint64_t il, char *err, size_t err_size)
{
    const HfHparams *hp = &c->hp;
    bool llama = strcmp(hp->arch, "llama") == 0, qwen3 = strcmp(hp->arch, "qwen3") == 0;
    uint64_t q_rows = hp->n_head * hp->head_dim, kv_rows = hp->n_head_kv * hp->head_dim;
    struct {
        const char *hf, *gguf;
        uint64_t rows, cols;
        uint32_t rope_heads;
        bool bias, qwen3_only;
    } parts[] = {
        {"input_layernorm.weight", "attn_norm.weight", hp->n_embd, 0, 0, false, false},
        {"self_attn.q_proj.weight", "attn_q.weight", q_rows, hp->n_embd,
         llama ? (uint32_t)hp->n_head : 0, false, false},
        {"self_attn.k_proj.weight", "attn_k.weight", kv_rows, hp->n_embd,
         llama ? (uint32_t)hp->n_head_kv : 0, false, false},
        {"self_attn.v_proj.weight", "attn_v.weight", kv_rows, hp->n_embd, 0, false, false},
        {"self_attn.q_proj.bias", "attn_q.bias", q_rows, 0, 0, true, false},
        {"self_attn.k_proj.bias", "attn_k.bias", kv_rows, 0, 0, true, false},
        {"self_attn.v_proj.bias", "attn_v.bias", kv_rows, 0, 0, true, false},
        {"self_attn.q_norm.weight", "attn_q_norm.weight", hp->head_dim, 0, 0, false, true},
        {"self_attn.k_norm.weight", "attn_k_norm.weight", hp->head_dim, 0, 0, false, true},
        {"self_attn.o_proj.weight", "attn_output.weight", hp->n_embd, q_rows, 0, false, false},
        {"post_attention_layernorm.weight", "ffn_norm.weight", hp->n_embd, 0, 0, false, false},
        {"mlp.gate_proj.weight", "ffn_gate.weight", hp->n_ff, hp->n_embd, 0, false, false},
        {"mlp.up_proj.weight", "ffn_up.weight", hp->n_ff, hp->n_embd, 0, false, false},
        {"mlp.down_proj.weight", "ffn_down.weight", hp->n_embd, hp->n_ff, 0, false, false},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if ((parts[i].bias && !hp->qkv_bias) || (parts[i].qwen3_only && !qwen3))
            continue;
        char hf[160], gguf[GGUF_NAME_BYTES];
        snprintf(hf, sizeof hf, "model.layers.%llu.%s", (unsigned long long)il, parts[i].hf);
        snprintf(gguf, sizeof gguf, "blk.%llu.%s", (unsigned long long)il, parts[i].gguf);
        if (!plan(c, hf, gguf, parts[i].rows, parts[i].cols, parts[i].rope_heads, err, err_size))
            return false;
    }
    return true;
}

static bool is_planned(const Converter *c, const SafetensorsTensor *t)
{
    for (size_t i = 0; i < c->n_jobs; i++)
        if (c->jobs[i].src == t)
            return true;
    return false;
}

// A checkpoint tensor that maps to nothing would be silently lost: refuse instead.
static bool check_all_used(const Converter *c, char *err, size_t err_size)
{
    for (size_t f = 0; f < c->ckpt->n_files; f++) {
        const SafetensorsFile *file = c->ckpt->files[f];
        for (size_t i = 0; i < file->n_tensors; i++) {
            const SafetensorsTensor *t = &file->tensors[i];
            const char *name = t->name;
            size_t len = strlen(name);
            bool skippable = (len >= 20 && strcmp(name + len - 20, ".rotary_emb.inv_freq") == 0) ||
                             (c->hp.tied && strcmp(name, "lm_head.weight") == 0);
            if (!skippable && !is_planned(c, t))
                return ponder_failf(err, err_size, "%s: tensor '%s' has no GGUF counterpart",
                                    file->path, name);
        }
    }
    return true;
}

static bool plan_all(Converter *c, char *err, size_t err_size)
{
    const HfHparams *hp = &c->hp;
    c->jobs = calloc(3 + hp->n_layer * 12, sizeof *c->jobs);
    if (!c->jobs)
        return ponder_failf(err, err_size, "out of memory");
    if (!plan(c, "model.embed_tokens.weight", "token_embd.weight", hp->n_vocab, hp->n_embd, 0, err,
              err_size) ||
        !plan(c, "model.norm.weight", "output_norm.weight", hp->n_embd, 0, 0, err, err_size))
        return false;
    // Tied models reuse token_embd for the output (llama.cpp falls back to it).
    if (!hp->tied &&
        !plan(c, "lm_head.weight", "output.weight", hp->n_vocab, hp->n_embd, 0, err, err_size))
        return false;
    for (uint64_t il = 0; il < hp->n_layer; il++)
        if (!plan_layer(c, il, err, err_size))
            return false;
    return check_all_used(c, err, err_size);
}

// ---- metadata ---------------------------------------------------------------------

static bool parse_out_type(const char *name, PonderType *type, uint32_t *file_type)
{
    static const struct {
        const char *name;
        PonderType type;
        uint32_t file_type; // llama.cpp's LLAMA_FTYPE_*
    } types[] = {
        {"f32", PONDER_TYPE_F32, 0},
        {"f16", PONDER_TYPE_F16, 1},
        {"q8_0", PONDER_TYPE_Q8_0, 7},
        {"bf16", PONDER_TYPE_BF16, 32},
    };
    for (size_t i = 0; name && i < sizeof types / sizeof types[0]; i++) {
        if (strcasecmp(name, types[i].name) == 0) {
            *type = types[i].type;
            *file_type = types[i].file_type;
            return true;
        }
    }
    return false;
}

static void set_arch_u32(GgufWriter *w, const char *arch, const char *suffix, uint64_t value)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    gguf_writer_set_u32(w, key, (uint32_t)value);
}

static void set_arch_f32(GgufWriter *w, const char *arch, const char *suffix, double value)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    gguf_writer_set_f32(w, key, (float)value);
}

// The folder's own name, as llama.cpp names a model without a model card.
static void model_name(const char *dir, char *out, size_t size)
{
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    snprintf(out, size, "%.*s", (int)(end - start), dir + start);
}

static void write_hparams(GgufWriter *w, const Converter *c, uint32_t file_type)
{
    const HfHparams *hp = &c->hp;
    const char *a = hp->arch;
    char name[256];
    model_name(c->dir, name, sizeof name);
    gguf_writer_set_alignment(w, GGUF_DEFAULT_ALIGNMENT);
    gguf_writer_set_string(w, "general.architecture", a);
    gguf_writer_set_string(w, "general.name", name);
    gguf_writer_set_u32(w, "general.file_type", file_type);
    gguf_writer_set_u32(w, "general.quantization_version", QUANTIZATION_VERSION);
    set_arch_u32(w, a, "block_count", hp->n_layer);
    set_arch_u32(w, a, "context_length", hp->n_ctx);
    set_arch_u32(w, a, "embedding_length", hp->n_embd);
    set_arch_u32(w, a, "feed_forward_length", hp->n_ff);
    set_arch_u32(w, a, "attention.head_count", hp->n_head);
    set_arch_u32(w, a, "attention.head_count_kv", hp->n_head_kv);
    set_arch_f32(w, a, "rope.freq_base", hp->rope_theta);
    set_arch_f32(w, a, "attention.layer_norm_rms_epsilon", hp->rms_eps);
    set_arch_u32(w, a, "vocab_size", hp->n_vocab);
    set_arch_u32(w, a, "rope.dimension_count", hp->head_dim);
    // Only then does a reader need them; llama.cpp writes them for every qwen3 file.
    if (hp->head_dim != hp->n_embd / hp->n_head || strcmp(a, "qwen3") == 0) {
        set_arch_u32(w, a, "attention.key_length", hp->head_dim);
        set_arch_u32(w, a, "attention.value_length", hp->head_dim);
    }
    if (hp->yarn) {
        char key[96];
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        gguf_writer_set_string(w, key, "yarn");
        set_arch_f32(w, a, "rope.scaling.factor", hp->yarn_factor);
        set_arch_u32(w, a, "rope.scaling.original_context_length", (uint64_t)hp->yarn_orig_ctx);
        if (hp->yarn_attn_factor != 1.0)
            set_arch_f32(w, a, "rope.scaling.attn_factor", hp->yarn_attn_factor);
        if (hp->yarn_beta_fast != 32.0 || hp->yarn_beta_slow != 1.0) {
            set_arch_f32(w, a, "rope.scaling.yarn_beta_fast", hp->yarn_beta_fast);
            set_arch_f32(w, a, "rope.scaling.yarn_beta_slow", hp->yarn_beta_slow);
        }
    }
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool write_tokenizer(GgufWriter *w, const Converter *c, char *err, size_t err_size)
{
    char *tok_path = path_in(c->dir, "tokenizer.json");
    char *cfg_path = path_in(c->dir, "tokenizer_config.json");
    if (!tok_path || !cfg_path) {
        free(tok_path);
        free(cfg_path);
        return ponder_failf(err, err_size, "out of memory");
    }
    HfTokenizerSummary summary;
    bool ok = hf_tokenizer_write(w, tok_path, access(cfg_path, F_OK) == 0 ? cfg_path : NULL,
                                 c->hp.n_vocab, &summary, err, err_size);
    if (ok && summary.n_tokens > c->hp.n_vocab)
        ok = ponder_failf(err, err_size, "%s has %llu tokens but the embedding only %llu rows",
                          tok_path, (unsigned long long)summary.n_tokens,
                          (unsigned long long)c->hp.n_vocab);
    if (ok && summary.bos_id < 0 && c->hp.bos_id >= 0)
        gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)c->hp.bos_id);
    if (ok && summary.eos_id < 0 && c->hp.eos_id >= 0)
        gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)c->hp.eos_id);
    free(tok_path);
    free(cfg_path);
    return ok;
}

bool convert_hf_to_gguf(const char *hf_dir, const char *out_path, const char *out_type, char *err,
                        size_t err_size)
{
    Converter c = {.dir = hf_dir};
    uint32_t file_type;
    if (!parse_out_type(out_type, &c.out_type, &file_type))
        return ponder_failf(err, err_size, "output type '%s' is not one of f32, f16, bf16, q8_0",
                            out_type ? out_type : "(null)");
    char *config_path = path_in(hf_dir, "config.json");
    if (!config_path)
        return ponder_failf(err, err_size, "out of memory");
    bool ok = read_config(config_path, &c.hp, err, err_size);
    free(config_path);
    if (!ok)
        return false;

    GgufWriter *w = gguf_writer_new();
    if (!w)
        return ponder_failf(err, err_size, "out of memory");
    c.ckpt = safetensors_checkpoint_open(hf_dir, err, err_size);
    ok = c.ckpt && plan_all(&c, err, err_size);
    if (ok) {
        write_hparams(w, &c, file_type);
        ok = write_tokenizer(w, &c, err, err_size);
    }
    if (ok && c.hp.llama3_rope) {
        c.rope_factors = malloc(c.hp.head_dim / 2 * sizeof *c.rope_factors);
        ok = c.rope_factors != NULL || ponder_failf(err, err_size, "out of memory");
    }
    // llama.cpp's order: token_embd, output_norm, [output], [rope_freqs], then the blocks.
    size_t n_global = c.hp.tied ? 2 : 3;
    for (size_t i = 0; ok && i < c.n_jobs; i++) {
        const TensorJob *job = &c.jobs[i];
        gguf_writer_add_tensor_fill(w, job->name, job->type, job->n_dims, job->ne, fill_tensor,
                                    (void *)job);
        if (i + 1 == n_global && c.rope_factors) {
            llama3_rope_factors(&c.hp, c.rope_factors);
            uint64_t ne = c.hp.head_dim / 2;
            gguf_writer_add_tensor(w, "rope_freqs.weight", PONDER_TYPE_F32, 1, &ne, c.rope_factors);
        }
    }
    if (ok)
        ok = gguf_writer_write(w, out_path, err, err_size);
    gguf_writer_free(w);
    safetensors_checkpoint_close(c.ckpt);
    free(c.jobs);
    free(c.rope_factors);
    return ok;
}
