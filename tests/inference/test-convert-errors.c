// convert on checkpoints written here: F32/F16 sources, head_dim unlike hidden/heads,
// the Q8_0 -> F16 fallback for rows that are not a multiple of 32, and every way a
// checkpoint folder can be broken, each of which must fail with a message naming the file,
// tensor or key at fault and leave no output file behind.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "model-tools/model-files.h"
#include "quant/quant.h"
#include "test-util.h"

static char tmp_dir[] = "/tmp/ponder-test-convert-errors-XXXXXX";

// Synthetic llama: hidden 48, 2 heads of 32 (so q has 64 rows), 1 KV head, FFN 64,
// 1 layer, tied embeddings, 1536 embedding rows (the fixture tokenizer has 1507 tokens).
enum { N_EMBD = 48, N_HEAD = 2, HEAD_DIM = 32, N_FF = 64, N_VOCAB = 1536 };

typedef struct SynTensor {
    const char *name;
    const char *dtype;   // "F32" or "F16" (the values are rounded to it)
    uint64_t rows, cols; // cols 0: a vector
    float *values;
} SynTensor;

typedef enum Corruption { INTACT, OVERLAP, INT8_DTYPE } Corruption;

static uint64_t rng = 88172645463325252ULL;

static float random_value(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / (double)(1ULL << 53) - 0.5);
}

static SynTensor syn_tensors[16];
static size_t n_syn;

static void add_syn(const char *name, const char *dtype, uint64_t rows, uint64_t cols)
{
    SynTensor *t = &syn_tensors[n_syn++];
    uint64_t n = rows * (cols ? cols : 1);
    t->name = name;
    t->dtype = dtype;
    t->rows = rows;
    t->cols = cols;
    t->values = malloc(n * sizeof *t->values);
    for (uint64_t i = 0; i < n; i++) {
        float v = random_value();
        if (strcmp(dtype, "F16") == 0)
            v = ponder_fp16_to_fp32(ponder_fp32_to_fp16(v));
        t->values[i] = v;
    }
}

static void make_syn_tensors(void)
{
    add_syn("model.embed_tokens.weight", "F16", N_VOCAB, N_EMBD);
    add_syn("model.norm.weight", "F32", N_EMBD, 0);
    add_syn("model.layers.0.input_layernorm.weight", "F32", N_EMBD, 0);
    add_syn("model.layers.0.self_attn.q_proj.weight", "F32", N_HEAD * HEAD_DIM, N_EMBD);
    add_syn("model.layers.0.self_attn.k_proj.weight", "F16", HEAD_DIM, N_EMBD);
    add_syn("model.layers.0.self_attn.v_proj.weight", "F32", HEAD_DIM, N_EMBD);
    add_syn("model.layers.0.self_attn.o_proj.weight", "F16", N_EMBD, N_HEAD * HEAD_DIM);
    add_syn("model.layers.0.post_attention_layernorm.weight", "F16", N_EMBD, 0);
    add_syn("model.layers.0.mlp.gate_proj.weight", "F32", N_FF, N_EMBD);
    add_syn("model.layers.0.mlp.up_proj.weight", "F16", N_FF, N_EMBD);
    add_syn("model.layers.0.mlp.down_proj.weight", "F32", N_EMBD, N_FF);
}

static bool write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f)
        ok &= fclose(f) == 0;
    return ok;
}

static bool copy_file(const char *from, const char *to)
{
    size_t len;
    char *data = test_read_file(from, &len);
    bool ok = data && write_file(to, data, len);
    free(data);
    return ok;
}

// Writes the safetensors file by hand (header JSON + little-endian data), skipping the
// tensor named SKIP and adding EXTRA (a copy of the first tensor under another name).
static void write_checkpoint(const char *path, const char *skip, const char *extra,
                             Corruption corruption)
{
    size_t cap = 1 << 16, used = 0;
    char *header = malloc(cap);
    uint8_t *data = NULL;
    size_t data_len = 0;
    used += (size_t)snprintf(header + used, cap - used, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i <= n_syn; i++) {
        const SynTensor *t = i < n_syn ? &syn_tensors[i] : extra ? &syn_tensors[0] : NULL;
        if (!t || (skip && strcmp(t->name, skip) == 0))
            continue;
        bool f16 = strcmp(t->dtype, "F16") == 0;
        uint64_t n = t->rows * (t->cols ? t->cols : 1), bytes = n * (f16 ? 2 : 4);
        uint64_t begin = corruption == OVERLAP && i == 1 ? 0 : data_len;
        const char *dtype = corruption == INT8_DTYPE && i == 3 ? "I8" : t->dtype;
        if (corruption == INT8_DTYPE && i == 3)
            bytes = n;
        char shape[64];
        if (t->cols)
            snprintf(shape, sizeof shape, "[%llu,%llu]", (unsigned long long)t->rows,
                     (unsigned long long)t->cols);
        else
            snprintf(shape, sizeof shape, "[%llu]", (unsigned long long)t->rows);
        used +=
            (size_t)snprintf(header + used, cap - used,
                             ",\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%llu,%llu]}",
                             i < n_syn ? t->name : extra, dtype, shape, (unsigned long long)begin,
                             (unsigned long long)(begin + bytes));
        data = realloc(data, data_len + bytes);
        for (uint64_t e = 0; e < n && bytes >= n * 2; e++) {
            if (f16) {
                uint16_t h = ponder_fp32_to_fp16(t->values[e]);
                data[data_len + 2 * e] = (uint8_t)h;
                data[data_len + 2 * e + 1] = (uint8_t)(h >> 8);
            } else {
                memcpy(data + data_len + 4 * e, &t->values[e], 4); // little-endian host
            }
        }
        if (bytes < n * 2)
            memset(data + data_len, 0, bytes);
        data_len += bytes;
    }
    used += (size_t)snprintf(header + used, cap - used, "}");
    while (used % 8) // writers pad the header with spaces so that data starts aligned
        header[used++] = ' ';
    FILE *f = fopen(path, "wb");
    uint64_t header_len = used;
    CHECK(f && fwrite(&header_len, 8, 1, f) == 1 && fwrite(header, 1, used, f) == used &&
          fwrite(data, 1, data_len, f) == data_len);
    if (f)
        fclose(f);
    free(header);
    free(data);
}

static const char *syn_config =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 48, \"intermediate_size\": 64,"
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
    " \"head_dim\": 32, \"vocab_size\": 1536, \"max_position_embeddings\": 2048,"
    " \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": true, \"bos_token_id\": 1503}";

// transformers 5 writes rope_theta and the scaling together as rope_parameters.
static const char *syn_config_v5 =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 48, \"intermediate_size\": 64,"
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
    " \"head_dim\": 32, \"vocab_size\": 1536, \"max_position_embeddings\": 2048,"
    " \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": true, \"rope_parameters\": {"
    "\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, \"factor\": 8.0,"
    " \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
    " \"original_max_position_embeddings\": 8192}}";

// A folder DIR with the synthetic checkpoint and the fixture tokenizer.
static void make_syn_dir(const char *dir, const char *config, const char *skip, const char *extra,
                         Corruption corruption)
{
    char path[4096];
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK(write_file(path, config, strlen(config)));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_checkpoint(path, skip, extra, corruption);
    static const char *const tokenizer_files[] = {"tokenizer.json", "tokenizer_config.json"};
    for (size_t i = 0; i < 2; i++) {
        char from[4096];
        snprintf(from, sizeof from, "%s/%s", test_source_path("tests/data/hf-tiny-qwen2"),
                 tokenizer_files[i]);
        snprintf(path, sizeof path, "%s/%s", dir, tokenizer_files[i]);
        CHECKF(copy_file(from, path), "copy %s", from);
    }
}

static void remove_dir(const char *dir)
{
    static const char *const names[] = {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "generation_config.json",
        "expected.json",
        "expected-logits.f32",
    };
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

// ---- the synthetic model converts right ---------------------------------------------

static const SynTensor *syn_find(const char *name)
{
    for (size_t i = 0; i < n_syn; i++)
        if (strcmp(syn_tensors[i].name, name) == 0)
            return &syn_tensors[i];
    return NULL;
}

static void check_values(const GgufFile *g, const char *gguf_name, const char *hf_name,
                         uint32_t want_type, bool permuted)
{
    const GgufTensor *t = gguf_find_tensor(g, gguf_name);
    const SynTensor *s = syn_find(hf_name);
    CHECKF(t && s && t->type == want_type, "%s: type %u, want %u", gguf_name, t ? t->type : 99,
           want_type);
    if (!t || !s || t->type != want_type)
        return;
    uint64_t cols = s->cols ? s->cols : s->rows, rows = s->cols ? s->rows : 1, row_bytes = 0;
    CHECK(t->ne[0] == cols && (rows == 1 || t->ne[1] == rows));
    ponder_row_bytes(t->type, cols, &row_bytes);
    float *row = malloc(cols * sizeof *row);
    double err2 = 0, norm2 = 0, worst_rel = 0;
    for (uint64_t r = 0; r < rows; r++) {
        // llama q/k: GGUF row 2i + j of a head holds HF row j * head_dim/2 + i.
        uint64_t head = r / HEAD_DIM, within = r % HEAD_DIM;
        uint64_t hf_r = permuted ? head * HEAD_DIM + (within & 1) * (HEAD_DIM / 2) + within / 2 : r;
        ponder_dequantize_row((PonderType)t->type, (const uint8_t *)t->data + r * row_bytes, row,
                              (int64_t)cols);
        for (uint64_t i = 0; i < cols; i++) {
            double want = s->values[hf_r * cols + i], d = row[i] - want;
            err2 += d * d;
            norm2 += want * want;
            if (fabs(want) > 1e-3)
                worst_rel = fmax(worst_rel, fabs(d / want));
        }
    }
    double limit = want_type == PONDER_TYPE_F32 ? 0 : want_type == PONDER_TYPE_F16 ? 0x1p-11 : 1;
    CHECKF(worst_rel <= limit, "%s: worst relative error %g", gguf_name, worst_rel);
    if (want_type == PONDER_TYPE_Q8_0)
        CHECKF(sqrt(err2 / norm2) < 0.01, "%s: q8_0 rel. RMS %g", gguf_name, sqrt(err2 / norm2));
    free(row);
}

static void check_synthetic(void)
{
    char dir[1024], out[1100], err[512];
    snprintf(dir, sizeof dir, "%s/syn", tmp_dir);
    make_syn_dir(dir, syn_config, NULL, NULL, INTACT);
    snprintf(out, sizeof out, "%s/syn.gguf", tmp_dir);
    bool ok = convert_hf_to_gguf(dir, out, "q8_0", err, sizeof err);
    CHECKF(ok, "%s", err);
    GgufFile *g = ok ? gguf_open(out, err, sizeof err) : NULL;
    if (g) {
        uint32_t v = 0;
        CHECK(gguf_get_u32(g, "llama.attention.key_length", &v) && v == HEAD_DIM);
        CHECK(gguf_get_u32(g, "llama.rope.dimension_count", &v) && v == HEAD_DIM);
        CHECK(gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &v) && v == 1503);
        float theta = 0;
        CHECK(gguf_get_f32(g, "llama.rope.freq_base", &theta) && theta == 10000.0f);
        CHECK(gguf_find_tensor(g, "output.weight") == NULL);     // tied
        CHECK(gguf_find_tensor(g, "rope_freqs.weight") == NULL); // no rope_scaling
        CHECK(g->n_tensors == 11);
        // Rows of 48 cannot be Q8_0 blocks: F16, as llama.cpp falls back; rows of 64 can.
        check_values(g, "token_embd.weight", "model.embed_tokens.weight", PONDER_TYPE_F16, false);
        check_values(g, "output_norm.weight", "model.norm.weight", PONDER_TYPE_F32, false);
        check_values(g, "blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight",
                     PONDER_TYPE_F16, true);
        check_values(g, "blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight",
                     PONDER_TYPE_F16, true);
        check_values(g, "blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight",
                     PONDER_TYPE_F16, false);
        check_values(g, "blk.0.attn_output.weight", "model.layers.0.self_attn.o_proj.weight",
                     PONDER_TYPE_Q8_0, false);
        check_values(g, "blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight",
                     PONDER_TYPE_F32, false);
        check_values(g, "blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight",
                     PONDER_TYPE_Q8_0, false);
        gguf_close(g);
    }
    unlink(out);
    ok = convert_hf_to_gguf(dir, out, "f32", err, sizeof err);
    CHECKF(ok, "%s", err);
    g = ok ? gguf_open(out, err, sizeof err) : NULL;
    if (g) {
        check_values(g, "blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight",
                     PONDER_TYPE_F32, true);
        check_values(g, "blk.0.ffn_up.weight", "model.layers.0.mlp.up_proj.weight", PONDER_TYPE_F32,
                     false);
        gguf_close(g);
    }
    unlink(out);
    remove_dir(dir);

    make_syn_dir(dir, syn_config_v5, NULL, NULL, INTACT);
    ok = convert_hf_to_gguf(dir, out, "f32", err, sizeof err);
    CHECKF(ok, "rope_parameters: %s", err);
    g = ok ? gguf_open(out, err, sizeof err) : NULL;
    if (g) {
        float theta = 0;
        CHECK(gguf_get_f32(g, "llama.rope.freq_base", &theta) && theta == 500000.0f);
        // Short wavelengths keep their frequency, long ones are divided by the factor.
        const GgufTensor *freqs = gguf_find_tensor(g, "rope_freqs.weight");
        CHECK(freqs && freqs->type == PONDER_TYPE_F32 && freqs->ne[0] == HEAD_DIM / 2);
        if (freqs && freqs->ne[0] == HEAD_DIM / 2) {
            const float *f = freqs->data;
            CHECK(f[0] == 1.0f && f[HEAD_DIM / 2 - 1] == 8.0f);
            for (int i = 1; i < HEAD_DIM / 2; i++)
                CHECK(f[i] >= f[i - 1]);
        }
        gguf_close(g);
    }
    unlink(out);
    remove_dir(dir);
}

// ---- broken folders -----------------------------------------------------------------

// Converting DIR must fail with a message containing NEEDLE and leave no output.
static void expect_failure(const char *what, const char *dir, const char *type, const char *needle)
{
    char out[4096], err[1024] = "";
    snprintf(out, sizeof out, "%s/broken.gguf", tmp_dir);
    bool ok = convert_hf_to_gguf(dir, out, type, err, sizeof err);
    CHECKF(!ok, "%s: converted anyway", what);
    CHECKF(!ok && strstr(err, needle), "%s: message \"%s\" does not name \"%s\"", what, err,
           needle);
    CHECKF(access(out, F_OK) != 0, "%s: left %s behind", what, out);
    unlink(out);
}

static void copy_fixture(const char *name, const char *dir)
{
    static const char *const names[] = {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    };
    mkdir(dir, 0700);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char from[4096], to[4096];
        snprintf(from, sizeof from, "%s/%s", test_source_path("tests/data"), name);
        strncat(from, "/", sizeof from - strlen(from) - 1);
        strncat(from, names[i], sizeof from - strlen(from) - 1);
        snprintf(to, sizeof to, "%s/%s", dir, names[i]);
        if (access(from, R_OK) == 0)
            CHECKF(copy_file(from, to), "copy %s", from);
    }
}

// Rewrites DIR/NAME with its first KEEP bytes, then with PATCH over bytes [0, patch_len).
static void damage(const char *dir, const char *name, size_t keep, const void *patch,
                   size_t patch_len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    char *data = test_read_file(path, &len);
    if (!data)
        return;
    if (keep < len)
        len = keep;
    if (patch)
        memcpy(data, patch, patch_len < len ? patch_len : len);
    CHECK(write_file(path, data, len));
    free(data);
}

static void replace_in_file(const char *dir, const char *name, const char *from, const char *to)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data = test_read_file(path, NULL);
    char *at = data ? strstr(data, from) : NULL;
    CHECKF(at, "%s has no \"%s\"", path, from);
    if (!at)
        return;
    size_t head = (size_t)(at - data), from_len = strlen(from), to_len = strlen(to);
    size_t tail = strlen(at + from_len);
    char *out = malloc(head + to_len + tail + 1);
    memcpy(out, data, head);
    memcpy(out + head, to, to_len);
    memcpy(out + head + to_len, at + from_len, tail + 1);
    CHECK(write_file(path, out, head + to_len + tail));
    free(out);
    free(data);
}

static void check_broken_fixture_copies(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/broken", tmp_dir);
    const char *fixture = "hf-tiny-qwen2-tied";

    copy_fixture(fixture, dir);
    expect_failure("output type", dir, "q4_0", "q4_0");
    char path[2048];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    expect_failure("no config.json", dir, "f16", "config.json");
    copy_fixture(fixture, dir);
    damage(dir, "config.json", 40, NULL, 0);
    expect_failure("truncated config.json", dir, "f16", "config.json");
    copy_fixture(fixture, dir);
    replace_in_file(dir, "config.json", "Qwen2ForCausalLM", "MistralForCausalLM");
    expect_failure("unknown architecture", dir, "f16", "MistralForCausalLM");
    copy_fixture(fixture, dir);
    replace_in_file(dir, "config.json", "\"hidden_size\": 128", "\"hidden_size\": 64");
    expect_failure("shape against config", dir, "f16", "model.embed_tokens.weight");
    copy_fixture(fixture, dir);
    replace_in_file(dir, "config.json", "\"rms_norm_eps\": 1e-06,", "");
    expect_failure("missing key", dir, "f16", "rms_norm_eps");
    copy_fixture(fixture, dir);
    damage(dir, "model.safetensors", 600000, NULL, 0);
    expect_failure("truncated safetensors", dir, "f16", "model.safetensors");
    copy_fixture(fixture, dir);
    damage(dir, "model.safetensors", 4, NULL, 0);
    expect_failure("4-byte safetensors", dir, "f16", "model.safetensors");
    copy_fixture(fixture, dir);
    static const uint8_t huge_len[8] = {0, 0, 0, 0, 0, 0, 0, 0x40};
    damage(dir, "model.safetensors", SIZE_MAX, huge_len, sizeof huge_len);
    expect_failure("huge header length", dir, "f16", "model.safetensors");
    copy_fixture(fixture, dir);
    static const uint8_t small_len[8] = {16, 0, 0, 0, 0, 0, 0, 0};
    damage(dir, "model.safetensors", SIZE_MAX, small_len, sizeof small_len);
    expect_failure("header cut inside the JSON", dir, "f16", "model.safetensors");
    copy_fixture(fixture, dir);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    unlink(path);
    expect_failure("no tokenizer.json", dir, "f16", "tokenizer.json");
    copy_fixture(fixture, dir);
    replace_in_file(dir, "tokenizer_config.json", "\"bos_token\": \"<｜begin▁of▁sentence｜>\"",
                    "\"bos_token\": \"<nowhere>\"");
    expect_failure("unknown BOS", dir, "f16", "tokenizer_config.json");
    copy_fixture(fixture, dir);
    replace_in_file(dir, "tokenizer.json", "\\p{N}|", "\\p{N}{1,2}|");
    expect_failure("unknown pre-tokenizer", dir, "f16", "tokenizer.json");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    expect_failure("no weights", dir, "f16", "model.safetensors");
    remove_dir(dir);

    copy_fixture("hf-tiny-llama", dir);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    unlink(path);
    expect_failure("missing shard", dir, "f16", "model-00002-of-00002.safetensors");
    copy_fixture("hf-tiny-llama", dir);
    replace_in_file(dir, "model.safetensors.index.json",
                    "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
                    "\"model.norm.weight\": \"model-00001-of-00002.safetensors\"");
    expect_failure("index names the wrong shard", dir, "f16", "model.norm.weight");
    copy_fixture("hf-tiny-llama", dir);
    replace_in_file(dir, "model.safetensors.index.json", "\"model-00001-of-00002.safetensors\"",
                    "\"../model-00001-of-00002.safetensors\"");
    expect_failure("index escapes the folder", dir, "f16", "model.safetensors.index.json");
    copy_fixture("hf-tiny-llama", dir);
    replace_in_file(dir, "config.json", "\"rope_type\": \"llama3\"", "\"rope_type\": \"yarn\"");
    expect_failure("unsupported rope scaling", dir, "f16", "yarn");
    remove_dir(dir);
}

static void check_broken_synthetic(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/syn-broken", tmp_dir);
    make_syn_dir(dir, syn_config, "model.layers.0.mlp.up_proj.weight", NULL, INTACT);
    expect_failure("missing tensor", dir, "f16", "model.layers.0.mlp.up_proj.weight");
    make_syn_dir(dir, syn_config, NULL, "model.layers.0.mlp.extra.weight", INTACT);
    expect_failure("unknown tensor", dir, "f16", "model.layers.0.mlp.extra.weight");
    make_syn_dir(dir, syn_config, NULL, NULL, OVERLAP);
    expect_failure("overlapping data", dir, "f16", "overlap");
    make_syn_dir(dir, syn_config, NULL, NULL, INT8_DTYPE);
    expect_failure("integer weights", dir, "f16", "I8");
    remove_dir(dir);
}

int main(void)
{
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    make_syn_tensors();
    check_synthetic();
    check_broken_fixture_copies();
    check_broken_synthetic();
    for (size_t i = 0; i < n_syn; i++)
        free(syn_tensors[i].values);
    rmdir(tmp_dir);
    return test_finish();
}
