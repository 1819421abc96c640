// convert: the Hugging Face fixtures in tests/data/hf-tiny-* (made by transformers, see
// tools/make-hf-fixtures.py) -> GGUF in every output type, checked against the
// checkpoint as read here independently (config.json, safetensors headers and BF16 bits),
// against the conventions of llama.cpp-written files in ../shared/models, and against
// RoPE itself: Hugging Face's half-split rotation of the checkpoint's q/k must give the
// same attention scores as the adjacent-pair rotation of the converted llama weights.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "formats/json.h"
#include "model-tools/model-files.h"
#include "ponder-infer.h"
#include "quant/quant.h"
#include "test-util.h"

static char tmp_dir[] = "/tmp/ponder-test-convert-XXXXXX";

// ---- the checkpoint, read without the library's safetensors code ------------------

enum { MAX_REF_TENSORS = 256, MAX_REF_FILES = 4 };

typedef struct RefTensor {
    const char *name; // in the header JSON
    const char *dtype;
    uint32_t n_dims;
    uint64_t rows, cols; // cols = 1 for vectors
    const uint8_t *data;
} RefTensor;

typedef struct RefCheckpoint {
    char *bytes[MAX_REF_FILES];
    JsonValue *headers[MAX_REF_FILES];
    size_t n_files;
    RefTensor tensors[MAX_REF_TENSORS];
    size_t n_tensors;
} RefCheckpoint;

static void ref_add_file(RefCheckpoint *ref, const char *path)
{
    size_t len;
    char *bytes = test_read_file(path, &len);
    CHECKF(bytes && len > 8, "cannot read %s", path);
    if (!bytes || len <= 8 || ref->n_files == MAX_REF_FILES)
        return;
    uint64_t header_len = 0;
    memcpy(&header_len, bytes, 8); // little-endian host (x86-64, aarch64)
    char err[256];
    JsonValue *header = json_parse(bytes + 8, (size_t)header_len, err, sizeof err);
    CHECKF(header != NULL, "%s: %s", path, err);
    ref->bytes[ref->n_files] = bytes;
    ref->headers[ref->n_files++] = header;
    for (size_t i = 0; header && i < header->count; i++) {
        if (strcmp(header->keys[i], "__metadata__") == 0 || ref->n_tensors == MAX_REF_TENSORS)
            continue;
        const JsonValue *entry = &header->items[i];
        const JsonValue *shape = json_get(entry, "shape");
        RefTensor *t = &ref->tensors[ref->n_tensors++];
        t->name = header->keys[i];
        t->dtype = json_get_string(entry, "dtype", "");
        t->n_dims = (uint32_t)shape->count;
        t->rows = (uint64_t)json_at(shape, 0)->integer;
        t->cols = shape->count > 1 ? (uint64_t)json_at(shape, 1)->integer : 1;
        t->data = (const uint8_t *)bytes + 8 + header_len +
                  json_at(json_get(entry, "data_offsets"), 0)->integer;
    }
}

static void ref_load(RefCheckpoint *ref, const char *dir)
{
    memset(ref, 0, sizeof *ref);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    JsonValue *index = json_parse_file(path, NULL, 0);
    if (!index) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        ref_add_file(ref, path);
        return;
    }
    const JsonValue *map = json_get(index, "weight_map");
    for (size_t i = 0; i < map->count; i++) {
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(map->items[j].string, map->items[i].string) == 0;
        if (!seen) {
            snprintf(path, sizeof path, "%s/%s", dir, map->items[i].string);
            ref_add_file(ref, path);
        }
    }
    json_free(index);
}

static void ref_free(RefCheckpoint *ref)
{
    for (size_t i = 0; i < ref->n_files; i++) {
        json_free(ref->headers[i]);
        free(ref->bytes[i]);
    }
}

static const RefTensor *ref_find(const RefCheckpoint *ref, const char *name)
{
    for (size_t i = 0; i < ref->n_tensors; i++)
        if (strcmp(ref->tensors[i].name, name) == 0)
            return &ref->tensors[i];
    return NULL;
}

static uint16_t ref_bf16_bits(const RefTensor *t, uint64_t index)
{
    return (uint16_t)(t->data[2 * index] | t->data[2 * index + 1] << 8);
}

// BF16 is the top half of an IEEE single: widening is a shift, exact by construction.
static float bf16_bits_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// ---- config.json, read here --------------------------------------------------------

typedef struct RefConfig {
    bool llama, qwen3, tied;
    int64_t n_embd, n_ff, n_layer, n_head, n_head_kv, head_dim, n_vocab, n_ctx;
    double rope_theta, rms_eps;
} RefConfig;

static RefConfig ref_config(const JsonValue *cfg)
{
    RefConfig c = {0};
    const char *arch = json_at(json_get(cfg, "architectures"), 0)->string;
    c.llama = strcmp(arch, "LlamaForCausalLM") == 0;
    c.qwen3 = strcmp(arch, "Qwen3ForCausalLM") == 0;
    c.tied = json_get_bool(cfg, "tie_word_embeddings", false);
    c.n_embd = json_get_int(cfg, "hidden_size", 0);
    c.n_ff = json_get_int(cfg, "intermediate_size", 0);
    c.n_layer = json_get_int(cfg, "num_hidden_layers", 0);
    c.n_head = json_get_int(cfg, "num_attention_heads", 0);
    c.n_head_kv = json_get_int(cfg, "num_key_value_heads", 0);
    c.head_dim = json_get_int(cfg, "head_dim", c.n_embd / c.n_head);
    c.n_vocab = json_get_int(cfg, "vocab_size", 0);
    c.n_ctx = json_get_int(cfg, "max_position_embeddings", 0);
    c.rope_theta = json_get_number(cfg, "rope_theta", 0);
    c.rms_eps = json_get_number(cfg, "rms_norm_eps", 0);
    return c;
}

// ---- metadata ----------------------------------------------------------------------

static void check_u32(const GgufFile *g, const char *arch, const char *suffix, int64_t want)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t got = 0;
    CHECKF(gguf_get_u32(g, key, &got) && got == want, "%s = %u, want %lld", key, got,
           (long long)want);
}

static void check_f32(const GgufFile *g, const char *arch, const char *suffix, double want)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    float got = 0;
    CHECKF(gguf_get_f32(g, key, &got) && got == (float)want, "%s = %g, want %g", key, got, want);
}

static void check_hparams(const GgufFile *g, const RefConfig *c, uint32_t file_type)
{
    const char *arch = c->llama ? "llama" : c->qwen3 ? "qwen3" : "qwen2";
    GgufString s;
    CHECK(gguf_get_string(g, "general.architecture", &s) && gguf_string_equals(s, arch));
    CHECK(gguf_get_string(g, "general.name", &s) && s.len > 0);
    uint32_t ft = 99;
    CHECKF(gguf_get_u32(g, "general.file_type", &ft) && ft == file_type, "file_type %u", ft);
    check_u32(g, arch, "block_count", c->n_layer);
    check_u32(g, arch, "context_length", c->n_ctx);
    check_u32(g, arch, "embedding_length", c->n_embd);
    check_u32(g, arch, "feed_forward_length", c->n_ff);
    check_u32(g, arch, "attention.head_count", c->n_head);
    check_u32(g, arch, "attention.head_count_kv", c->n_head_kv);
    check_u32(g, arch, "vocab_size", c->n_vocab);
    check_u32(g, arch, "rope.dimension_count", c->head_dim);
    check_f32(g, arch, "rope.freq_base", c->rope_theta);
    check_f32(g, arch, "attention.layer_norm_rms_epsilon", c->rms_eps);
    if (c->qwen3) { // hf-tiny-qwen3: head 128 with a 128-wide embedding, YaRN x4 over 1024
        check_u32(g, arch, "attention.key_length", c->head_dim);
        check_u32(g, arch, "attention.value_length", c->head_dim);
        CHECK(gguf_get_string(g, "qwen3.rope.scaling.type", &s) && gguf_string_equals(s, "yarn"));
        check_f32(g, arch, "rope.scaling.factor", 4.0);
        check_u32(g, arch, "rope.scaling.original_context_length", 1024);
        CHECK(!gguf_find_kv(g, "qwen3.rope.scaling.attn_factor"));
    }
}

// Every key that llama.cpp wrote into the shared file of the same architecture must be
// in ours with the same type (values differ: other model, other vocabulary).
static void check_keys_like_shared(const GgufFile *g, const char *shared_name)
{
    char err[256];
    GgufFile *shared = gguf_open(test_shared_path(shared_name), err, sizeof err);
    CHECKF(shared != NULL, "%s", err);
    for (uint64_t i = 0; shared && i < shared->n_kv; i++) {
        const GgufKv *want = &shared->kv[i];
        char key[128];
        gguf_string_copy(want->key, key, sizeof key);
        const GgufKv *got = gguf_find_kv(g, key);
        CHECKF(got && got->type == want->type &&
                   (want->type != GGUF_VALUE_ARRAY || got->array_type == want->array_type),
               "key %s missing or of another type than in %s", key, shared_name);
    }
    gguf_close(shared);
}

// ---- tensors -----------------------------------------------------------------------

typedef struct Expected {
    char gguf[64];
    char hf[128];
    uint64_t rows, cols; // HF shape; cols 1 for vectors
    uint32_t rope_heads; // llama q/k: rows permuted for adjacent-pair RoPE
} Expected;

static size_t expected_tensors(const RefConfig *c, Expected *out)
{
    size_t n = 0;
    int64_t q = c->n_head * c->head_dim, kv = c->n_head_kv * c->head_dim;
#define ADD(G, H, R, C, P)                                                                         \
    do {                                                                                           \
        snprintf(out[n].gguf, sizeof out[n].gguf, "%s", G);                                        \
        snprintf(out[n].hf, sizeof out[n].hf, "%s", H);                                            \
        out[n].rows = (uint64_t)(R);                                                               \
        out[n].cols = (uint64_t)(C);                                                               \
        out[n].rope_heads = (uint32_t)(P);                                                         \
        n++;                                                                                       \
    } while (0)
    ADD("token_embd.weight", "model.embed_tokens.weight", c->n_vocab, c->n_embd, 0);
    ADD("output_norm.weight", "model.norm.weight", c->n_embd, 1, 0);
    if (!c->tied)
        ADD("output.weight", "lm_head.weight", c->n_vocab, c->n_embd, 0);
    for (int64_t il = 0; il < c->n_layer; il++) {
        char g[64], h[128];
        static const char *const parts[][2] = {
            {"attn_norm.weight", "input_layernorm.weight"},
            {"attn_q.weight", "self_attn.q_proj.weight"},
            {"attn_k.weight", "self_attn.k_proj.weight"},
            {"attn_v.weight", "self_attn.v_proj.weight"},
            {"attn_output.weight", "self_attn.o_proj.weight"},
            {"ffn_norm.weight", "post_attention_layernorm.weight"},
            {"ffn_gate.weight", "mlp.gate_proj.weight"},
            {"ffn_up.weight", "mlp.up_proj.weight"},
            {"ffn_down.weight", "mlp.down_proj.weight"},
            {"attn_q.bias", "self_attn.q_proj.bias"},
            {"attn_k.bias", "self_attn.k_proj.bias"},
            {"attn_v.bias", "self_attn.v_proj.bias"},
            {"attn_q_norm.weight", "self_attn.q_norm.weight"},
            {"attn_k_norm.weight", "self_attn.k_norm.weight"},
        };
        const int64_t shapes[][3] = {
            {c->n_embd, 1, 0},
            {q, c->n_embd, c->llama ? c->n_head : 0},
            {kv, c->n_embd, c->llama ? c->n_head_kv : 0},
            {kv, c->n_embd, 0},
            {c->n_embd, q, 0},
            {c->n_embd, 1, 0},
            {c->n_ff, c->n_embd, 0},
            {c->n_ff, c->n_embd, 0},
            {c->n_embd, c->n_ff, 0},
            {q, 1, 0},
            {kv, 1, 0},
            {kv, 1, 0},
            {c->head_dim, 1, 0},
            {c->head_dim, 1, 0},
        };
        // qwen2 has q/k/v biases, qwen3 per-head q/k norms (and no biases)
        for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
            bool bias = p >= 9 && p < 12, qk_norm = p >= 12;
            if ((bias && (c->llama || c->qwen3)) || (qk_norm && !c->qwen3))
                continue;
            snprintf(g, sizeof g, "blk.%lld.%s", (long long)il, parts[p][0]);
            snprintf(h, sizeof h, "model.layers.%lld.%s", (long long)il, parts[p][1]);
            ADD(g, h, shapes[p][0], shapes[p][1], shapes[p][2]);
        }
    }
#undef ADD
    return n;
}

// llama.cpp's reordering, spelled as its definition: view each head's rows as
// [2][head_dim/2] (HF's halves), swap to [head_dim/2][2]. Returns the HF row of GGUF row.
static uint64_t *gguf_to_hf_rows(uint64_t n_rows, uint32_t n_heads)
{
    uint64_t *map = malloc(n_rows * sizeof *map);
    uint64_t hd = n_rows / n_heads, half = hd / 2;
    for (uint64_t h = 0; h < n_heads; h++)
        for (uint64_t half_index = 0; half_index < 2; half_index++)
            for (uint64_t i = 0; i < half; i++)
                map[h * hd + i * 2 + half_index] = h * hd + half_index * half + i;
    return map;
}

// Row R of a GGUF tensor as floats, whatever its type.
static void gguf_row(const GgufTensor *t, uint64_t r, float *out)
{
    uint64_t n = t->ne[0], row_bytes = 0;
    ponder_row_bytes(t->type, n, &row_bytes);
    const uint8_t *src = (const uint8_t *)t->data + r * row_bytes;
    if (t->type == PONDER_TYPE_BF16) {
        for (uint64_t i = 0; i < n; i++)
            out[i] = bf16_bits_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    } else {
        ponder_dequantize_row((PonderType)t->type, src, out, (int64_t)n);
    }
}

static void check_tensor_values(const GgufTensor *t, const RefTensor *ref, const Expected *e,
                                const char *out_type)
{
    uint64_t n_rows = e->rows, n_cols = e->cols;
    if (e->cols == 1) { // vectors: one GGUF row
        n_cols = e->rows;
        n_rows = 1;
    }
    uint64_t *hf_rows = e->rope_heads ? gguf_to_hf_rows(n_rows, e->rope_heads) : NULL;
    float *row = malloc(n_cols * sizeof *row), *want = malloc(n_cols * sizeof *want);
    double err2 = 0, norm2 = 0;
    uint64_t mismatches = 0;
    bool exact = t->type == PONDER_TYPE_F32 || t->type == PONDER_TYPE_BF16;
    for (uint64_t r = 0; r < n_rows; r++) {
        uint64_t hf_r = hf_rows ? hf_rows[r] : r;
        gguf_row(t, r, row);
        for (uint64_t i = 0; i < n_cols; i++) {
            float w = bf16_bits_to_float(ref_bf16_bits(ref, hf_r * n_cols + i));
            want[i] = w;
            double d = (double)row[i] - w;
            err2 += d * d;
            norm2 += (double)w * w;
            if (exact ? row[i] != w
                      : t->type == PONDER_TYPE_F16 && fabs(d) > fabs(w) * 0x1p-11 + 0x1p-24)
                mismatches++;
        }
    }
    CHECKF(mismatches == 0, "%s (%s): %llu values differ from the checkpoint", e->gguf, out_type,
           (unsigned long long)mismatches);
    if (t->type == PONDER_TYPE_Q8_0)
        CHECKF(sqrt(err2 / norm2) < 0.01, "%s (q8_0): rel. RMS error %.4f", e->gguf,
               sqrt(err2 / norm2));
    free(row);
    free(want);
    free(hf_rows);
}

static void check_tensors(const GgufFile *g, const RefConfig *c, const RefCheckpoint *ref,
                          const char *out_type, PonderType matrix_type)
{
    Expected *expected = calloc(4 + 14 * (size_t)c->n_layer, sizeof *expected);
    size_t n = expected_tensors(c, expected);
    CHECKF(g->n_tensors == n + (c->llama ? 1 : 0), "%s: %llu tensors, want %zu", out_type,
           (unsigned long long)g->n_tensors, n + (c->llama ? 1 : 0));
    for (size_t i = 0; i < n; i++) {
        const Expected *e = &expected[i];
        const GgufTensor *t = gguf_find_tensor(g, e->gguf);
        const RefTensor *r = ref_find(ref, e->hf);
        CHECKF(t && r, "%s: tensor %s / %s missing", out_type, e->gguf, e->hf);
        if (!t || !r)
            continue;
        bool vector = e->cols == 1;
        CHECKF(t->n_dims == (vector ? 1u : 2u) && t->ne[0] == (vector ? e->rows : e->cols) &&
                   (vector || t->ne[1] == e->rows),
               "%s: %s has the wrong shape", out_type, e->gguf);
        CHECKF(r->rows == e->rows && r->cols == e->cols && strcmp(r->dtype, "BF16") == 0,
               "fixture tensor %s is not BF16 of the configured shape", e->hf);
        uint32_t want_type = vector ? PONDER_TYPE_F32 : (uint32_t)matrix_type;
        CHECKF(t->type == want_type, "%s: %s has type %u, want %u", out_type, e->gguf, t->type,
               want_type);
        if (t->type == want_type && t->n_dims == (vector ? 1u : 2u))
            check_tensor_values(t, r, e, out_type);
    }
    CHECK(c->tied == (gguf_find_tensor(g, "output.weight") == NULL));
    free(expected);
}

// llama.cpp's rope_freqs for the same Llama 3.1 scaling, theta and head size (the shared
// llama file uses them too).
static void check_rope_freqs(const GgufFile *g)
{
    char err[256];
    GgufFile *shared = gguf_open(test_shared_path("models/llama-f16.gguf"), err, sizeof err);
    CHECKF(shared != NULL, "%s", err);
    const GgufTensor *want = shared ? gguf_find_tensor(shared, "rope_freqs.weight") : NULL;
    const GgufTensor *got = gguf_find_tensor(g, "rope_freqs.weight");
    CHECK(want && got && got->type == PONDER_TYPE_F32 && got->n_dims == 1 &&
          got->ne[0] == want->ne[0]);
    if (want && got && got->ne[0] == want->ne[0]) {
        const float *a = got->data, *b = want->data;
        for (uint64_t i = 0; i < got->ne[0]; i++)
            CHECKF(fabsf(a[i] - b[i]) <= 1e-6f * b[i], "rope_freqs[%llu] %g vs llama.cpp %g",
                   (unsigned long long)i, a[i], b[i]);
    }
    gguf_close(shared);
}

// ---- RoPE semantics ------------------------------------------------------------------

static uint64_t lcg_state = 12345;

static float lcg_uniform(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((lcg_state >> 40) / (double)(1ULL << 24)) - 0.5f;
}

// y = W x for a [rows][cols] matrix given row by row through GET_ROW.
static void project_hf(const RefTensor *w, const float *x, double *y)
{
    for (uint64_t r = 0; r < w->rows; r++) {
        double s = 0;
        for (uint64_t i = 0; i < w->cols; i++)
            s += (double)bf16_bits_to_float(ref_bf16_bits(w, r * w->cols + i)) * x[i];
        y[r] = s;
    }
}

static void project_gguf(const GgufTensor *w, const float *x, double *y)
{
    const float *data = w->data; // F32 file
    for (uint64_t r = 0; r < w->ne[1]; r++) {
        double s = 0;
        for (uint64_t i = 0; i < w->ne[0]; i++)
            s += (double)data[r * w->ne[0] + i] * x[i];
        y[r] = s;
    }
}

// Rotates every head of V (n_heads x hd) by position POS: pairs (i, i + hd/2) when HALVES,
// else (2i, 2i + 1); pair i turns by pos * theta^(-2i/hd) in both layouts.
static void rope(double *v, int64_t n_heads, int64_t hd, int pos, double theta, bool halves)
{
    for (int64_t h = 0; h < n_heads; h++) {
        double *x = v + h * hd;
        for (int64_t i = 0; i < hd / 2; i++) {
            double angle = pos * pow(theta, -2.0 * (double)i / (double)hd);
            int64_t a = halves ? i : 2 * i, b = halves ? i + hd / 2 : 2 * i + 1;
            double xa = x[a], xb = x[b];
            x[a] = xa * cos(angle) - xb * sin(angle);
            x[b] = xa * sin(angle) + xb * cos(angle);
        }
    }
}

// Attention scores of rotated q (position 9) against rotated k (position 4), per head:
// the converted llama weights with adjacent pairs must reproduce HF's half-split result.
static void check_rope_equivalence(const GgufFile *g, const RefConfig *c, const RefCheckpoint *ref)
{
    const RefTensor *wq = ref_find(ref, "model.layers.0.self_attn.q_proj.weight");
    const RefTensor *wk = ref_find(ref, "model.layers.0.self_attn.k_proj.weight");
    const GgufTensor *gq = gguf_find_tensor(g, "blk.0.attn_q.weight");
    const GgufTensor *gk = gguf_find_tensor(g, "blk.0.attn_k.weight");
    if (!wq || !wk || !gq || !gk || gq->type != PONDER_TYPE_F32) {
        CHECK(!"layer 0 q/k missing");
        return;
    }
    int64_t hd = c->head_dim, nq = c->n_head * hd, nk = c->n_head_kv * hd;
    float *xq = malloc((size_t)c->n_embd * sizeof *xq),
          *xk = malloc((size_t)c->n_embd * sizeof *xk);
    for (int64_t i = 0; i < c->n_embd; i++) {
        xq[i] = lcg_uniform();
        xk[i] = lcg_uniform();
    }
    double *q_hf = malloc((size_t)nq * sizeof *q_hf), *q_gg = malloc((size_t)nq * sizeof *q_gg);
    double *k_hf = malloc((size_t)nk * sizeof *k_hf), *k_gg = malloc((size_t)nk * sizeof *k_gg);
    project_hf(wq, xq, q_hf);
    project_hf(wk, xk, k_hf);
    project_gguf(gq, xq, q_gg);
    project_gguf(gk, xk, k_gg);
    bool halves_in_gguf = !c->llama; // qwen2 files keep HF's layout
    rope(q_hf, c->n_head, hd, 9, c->rope_theta, true);
    rope(k_hf, c->n_head_kv, hd, 4, c->rope_theta, true);
    rope(q_gg, c->n_head, hd, 9, c->rope_theta, halves_in_gguf);
    rope(k_gg, c->n_head_kv, hd, 4, c->rope_theta, halves_in_gguf);
    int64_t group = c->n_head / c->n_head_kv;
    for (int64_t h = 0; h < c->n_head; h++) {
        double s_hf = 0, s_gg = 0, scale = 0;
        for (int64_t i = 0; i < hd; i++) {
            s_hf += q_hf[h * hd + i] * k_hf[(h / group) * hd + i];
            s_gg += q_gg[h * hd + i] * k_gg[(h / group) * hd + i];
            scale += fabs(q_hf[h * hd + i] * k_hf[(h / group) * hd + i]);
        }
        CHECKF(fabs(s_hf - s_gg) <= 1e-9 * scale, "head %lld: score %.9g (HF) vs %.9g (GGUF)",
               (long long)h, s_hf, s_gg);
    }
    free(xq);
    free(xk);
    free(q_hf);
    free(q_gg);
    free(k_hf);
    free(k_gg);
}

// ---- tokenizer -----------------------------------------------------------------------

static bool array_string_is(const GgufKv *kv, uint64_t i, const char *text, size_t len)
{
    GgufString s;
    return gguf_array_string(kv, i, &s) && s.len == len && memcmp(s.data, text, len) == 0;
}

static int64_t array_int(const GgufKv *kv, uint64_t i)
{
    int64_t v = -1;
    gguf_array_i64(kv, i, &v);
    return v;
}

static void check_tokenizer(const GgufFile *g, const char *dir, const RefConfig *c,
                            const JsonValue *expected)
{
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    JsonValue *tok = json_parse_file(path, err, sizeof err);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    JsonValue *tok_cfg = json_parse_file(path, err, sizeof err);
    CHECK(tok && tok_cfg);
    if (!tok || !tok_cfg)
        goto done;
    GgufString s;
    CHECK(gguf_get_string(g, "tokenizer.ggml.model", &s) && gguf_string_equals(s, "gpt2"));
    const char *regex = json_get_string(
        json_get(json_at(json_get(json_get(tok, "pre_tokenizer"), "pretokenizers"), 0), "pattern"),
        "Regex", "");
    const char *want_pre = strstr(regex, "\\p{N}{1,3}") ? "llama-bpe" : "deepseek-r1-qwen";
    CHECK(gguf_get_string(g, "tokenizer.ggml.pre", &s) && gguf_string_equals(s, want_pre));

    const GgufKv *tokens = gguf_find_kv(g, "tokenizer.ggml.tokens");
    const GgufKv *types = gguf_find_kv(g, "tokenizer.ggml.token_type");
    CHECK(tokens && types && tokens->array_count == (uint64_t)c->n_vocab &&
          types->array_count == tokens->array_count);
    if (!tokens || !types || tokens->array_count != (uint64_t)c->n_vocab)
        goto done;
    bool *seen = calloc((size_t)c->n_vocab, 1);
    const JsonValue *vocab = json_get(json_get(tok, "model"), "vocab");
    for (size_t i = 0; i < vocab->count; i++) {
        int64_t id = vocab->items[i].integer;
        seen[id] = true;
        CHECKF(array_string_is(tokens, (uint64_t)id, vocab->keys[i], vocab->key_lens[i]) &&
                   array_int(types, (uint64_t)id) == 1,
               "token %lld", (long long)id);
    }
    const JsonValue *added = json_get(tok, "added_tokens");
    for (size_t i = 0; i < added->count; i++) {
        int64_t id = json_get_int(&added->items[i], "id", -1);
        const JsonValue *content = json_get(&added->items[i], "content");
        seen[id] = true;
        int64_t want_type = json_get_bool(&added->items[i], "special", false) ? 3 : 4;
        CHECKF(array_string_is(tokens, (uint64_t)id, content->string, content->string_len) &&
                   array_int(types, (uint64_t)id) == want_type,
               "added token %lld", (long long)id);
    }
    for (int64_t id = 0; id < c->n_vocab; id++) {
        if (seen[id])
            continue;
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%lld]", (long long)id);
        CHECKF(array_string_is(tokens, (uint64_t)id, pad, strlen(pad)) &&
                   array_int(types, (uint64_t)id) == 5,
               "padding token %lld", (long long)id);
    }
    free(seen);

    const JsonValue *merges = json_get(json_get(tok, "model"), "merges");
    const GgufKv *gm = gguf_find_kv(g, "tokenizer.ggml.merges");
    CHECK(gm && gm->array_count == merges->count);
    for (size_t i = 0; gm && gm->array_count == merges->count && i < merges->count; i++) {
        const JsonValue *m = &merges->items[i];
        char joined[512];
        if (m->type == JSON_STRING)
            snprintf(joined, sizeof joined, "%s", m->string);
        else
            snprintf(joined, sizeof joined, "%s %s", m->items[0].string, m->items[1].string);
        CHECKF(array_string_is(gm, i, joined, strlen(joined)), "merge %zu", i);
    }

    // BOS/EOS: the ids transformers used (expected.json), named by tokenizer_config.json.
    uint32_t bos = 0, eos = 0;
    bool add_bos = false;
    CHECK(gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos) &&
          bos == json_get_int(expected, "bos_id", -1));
    CHECK(gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &eos) &&
          eos == json_get_int(expected, "eos_id", -1));
    CHECK(gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos) &&
          add_bos == json_get_bool(tok_cfg, "add_bos_token", false));
    const JsonValue *bos_v = json_get(tok_cfg, "bos_token");
    const char *bos_text =
        bos_v->type == JSON_STRING ? bos_v->string : json_get_string(bos_v, "content", "");
    CHECK(array_string_is(tokens, bos, bos_text, strlen(bos_text)));
    const JsonValue *tmpl = json_get(tok_cfg, "chat_template");
    CHECK(gguf_get_string(g, "tokenizer.chat_template", &s) && s.len == tmpl->string_len &&
          memcmp(s.data, tmpl->string, s.len) == 0);
done:
    json_free(tok);
    json_free(tok_cfg);
}

// The shared llama.cpp-written files carry the same R1 vocabulary (first 1,024 tokens) and
// the same seven markers: token spellings and types must agree.
static void check_tokens_like_shared(const GgufFile *g, const char *shared_name,
                                     int64_t our_first_marker)
{
    char err[256];
    GgufFile *shared = gguf_open(test_shared_path(shared_name), err, sizeof err);
    CHECKF(shared != NULL, "%s", err);
    if (!shared)
        return;
    const GgufKv *a_tok = gguf_find_kv(g, "tokenizer.ggml.tokens");
    const GgufKv *b_tok = gguf_find_kv(shared, "tokenizer.ggml.tokens");
    const GgufKv *a_type = gguf_find_kv(g, "tokenizer.ggml.token_type");
    const GgufKv *b_type = gguf_find_kv(shared, "tokenizer.ggml.token_type");
    for (uint64_t i = 0; i < 1024 + 7; i++) {
        uint64_t ours = i < 1024 ? i : (uint64_t)our_first_marker + (i - 1024);
        GgufString sa, sb;
        CHECKF(gguf_array_string(a_tok, ours, &sa) && gguf_array_string(b_tok, i, &sb) &&
                   sa.len == sb.len && memcmp(sa.data, sb.data, sa.len) == 0 &&
                   array_int(a_type, ours) == array_int(b_type, i),
               "token %llu differs from %s", (unsigned long long)i, shared_name);
    }
    gguf_close(shared);
}

// ---- driver --------------------------------------------------------------------------

static void check_qwen3_runs(const char *path)
{
    PonderError err = {0};
    PonderModel *model = ponder_model_load(path, &err);
    CHECKF(model, "%s: %s", path, err.message);
    if (!model)
        return;
    const PonderModelInfo *info = ponder_model_info(model);
    CHECK(strcmp(info->architecture, "qwen3") == 0 && info->head_dim == 128 && info->tied_output);
    PonderContextParams params = ponder_context_default_params();
    params.n_ctx = 16;
    params.n_threads = 1;
    PonderContext *ctx = ponder_context_new(model, &params, &err);
    CHECKF(ctx, "%s: %s", path, err.message);
    float *logits = malloc(info->n_vocab * sizeof *logits);
    int32_t ids[] = {1503, 10, 200, 1501, 42};
    PonderBatchEntry e = {
        .seq = ctx ? ponder_seq_new(ctx) : -1, .tokens = ids, .n_tokens = 5, .logits = logits};
    bool ran = ctx && ponder_decode(ctx, &e, 1, &err) == PONDER_OK;
    CHECKF(ran, "%s: %s", path, err.message);
    bool finite = true;
    for (uint32_t i = 0; ran && i < info->n_vocab; i++)
        finite = finite && isfinite(logits[i]);
    CHECK(finite);
    free(logits);
    ponder_context_free(ctx);
    ponder_model_free(model);
}

static void check_fixture(const char *name)
{
    char dir[1024], path[4096], err[512];
    snprintf(dir, sizeof dir, "%s", test_source_path("tests/data/"));
    strncat(dir, name, sizeof dir - strlen(dir) - 1);
    snprintf(path, sizeof path, "%s/config.json", dir);
    JsonValue *cfg_json = json_parse_file(path, err, sizeof err);
    snprintf(path, sizeof path, "%s/expected.json", dir);
    // hf-tiny-qwen3 (tools/make-qwen3-fixture.py, no transformers run) has no expected.json
    JsonValue *expected = json_parse_file(path, err, sizeof err);
    bool qwen3 = strcmp(name, "hf-tiny-qwen3") == 0;
    CHECKF(cfg_json && (expected || qwen3), "%s: %s", name, err);
    if (!cfg_json || (!expected && !qwen3)) {
        json_free(cfg_json);
        return;
    }
    RefConfig c = ref_config(cfg_json);
    CHECKF(c.qwen3 == qwen3, "%s: architecture", name);
    RefCheckpoint ref;
    ref_load(&ref, dir);

    static const struct {
        const char *type;
        PonderType matrix_type;
        uint32_t file_type;
    } outs[] = {
        {"f32", PONDER_TYPE_F32, 0},
        {"f16", PONDER_TYPE_F16, 1},
        {"bf16", PONDER_TYPE_BF16, 32},
        {"q8_0", PONDER_TYPE_Q8_0, 7},
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        char out[4096];
        snprintf(out, sizeof out, "%s/%s-%s.gguf", tmp_dir, name, outs[i].type);
        bool ok = convert_hf_to_gguf(dir, out, outs[i].type, err, sizeof err);
        CHECKF(ok, "convert %s %s: %s", name, outs[i].type, err);
        GgufFile *g = ok ? gguf_open(out, err, sizeof err) : NULL;
        CHECKF(!ok || g, "reopen %s: %s", out, err);
        if (!g)
            continue;
        check_hparams(g, &c, outs[i].file_type);
        check_tensors(g, &c, &ref, outs[i].type, outs[i].matrix_type);
        if (c.llama)
            check_rope_freqs(g);
        if (outs[i].matrix_type == PONDER_TYPE_F32 && c.qwen3) {
            // no llama.cpp file or transformers logits beside it: the converted file must
            // load and run (its forward pass is checked against ../shared/models2)
            check_qwen3_runs(out);
        } else if (outs[i].matrix_type == PONDER_TYPE_F32) {
            const char *shared = c.llama ? "models/llama-f16.gguf" : "models/qwen2-f16.gguf";
            check_keys_like_shared(g, shared);
            check_tokenizer(g, dir, &c, expected);
            check_tokens_like_shared(g, shared, json_get_int(expected, "eos_id", 0));
            check_rope_equivalence(g, &c, &ref);
        }
        gguf_close(g);
        unlink(out);
    }
    ref_free(&ref);
    json_free(cfg_json);
    json_free(expected);
}

// hf_tokenizer_to_gguf on the full published tokenizers.
static void check_full_tokenizer(const char *name, uint64_t n_tokens, uint64_t n_merges,
                                 const char *pre, uint32_t bos, uint32_t eos)
{
    char tok[4096], cfg[4096], out[4096], err[512];
    snprintf(tok, sizeof tok, "%s/tokenizer.json", test_shared_path(name));
    snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", test_shared_path(name));
    snprintf(out, sizeof out, "%s/tokenizer-only.gguf", tmp_dir);
    GgufWriter *w = gguf_writer_new();
    bool ok = hf_tokenizer_to_gguf(w, tok, cfg, err, sizeof err);
    CHECKF(ok, "%s: %s", name, err);
    ok = ok && gguf_writer_write(w, out, err, sizeof err);
    gguf_writer_free(w);
    GgufFile *g = ok ? gguf_open(out, err, sizeof err) : NULL;
    CHECKF(g, "%s: %s", name, err);
    if (!g)
        return;
    const GgufKv *tokens = gguf_find_kv(g, "tokenizer.ggml.tokens");
    const GgufKv *merges = gguf_find_kv(g, "tokenizer.ggml.merges");
    GgufString s;
    uint32_t got_bos = 0, got_eos = 0;
    bool add_bos = false;
    CHECKF(tokens && tokens->array_count == n_tokens, "%s: token count", name);
    CHECKF(merges && merges->array_count == n_merges, "%s: merge count", name);
    CHECK(gguf_get_string(g, "tokenizer.ggml.pre", &s) && gguf_string_equals(s, pre));
    CHECK(gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &got_bos) && got_bos == bos);
    CHECK(gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &got_eos) && got_eos == eos);
    // Llama 3.1's config has no add_bos_token: its post-processor template adds BOS.
    CHECK(gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos) && add_bos);
    CHECK(gguf_get_string(g, "tokenizer.chat_template", &s) && s.len > 100);
    const GgufKv *types = gguf_find_kv(g, "tokenizer.ggml.token_type");
    CHECK(types && array_int(types, bos) == 3 && array_int(types, 0) == 1);
    gguf_close(g);
    unlink(out);
}

int main(void)
{
    if (access(test_shared_path("models/qwen2-f16.gguf"), R_OK) != 0)
        return test_skip("../shared/models is not there");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    check_fixture("hf-tiny-qwen2");
    check_fixture("hf-tiny-llama");
    check_fixture("hf-tiny-qwen2-tied");
    check_fixture("hf-tiny-qwen3");
    check_full_tokenizer("tokenizers/deepseek-r1-distill-qwen", 151665, 151387, "deepseek-r1-qwen",
                         151646, 151643);
    check_full_tokenizer("tokenizers/llama-3.1", 128256, 280147, "llama-bpe", 128000, 128009);
    rmdir(tmp_dir);
    return test_finish();
}
