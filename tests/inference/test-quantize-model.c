// `quantize` and `synth` against llama.cpp:
// - quantizing $PONDER_SHARED/models/{qwen2,llama}-f16.gguf into every type (that the data
//   set has) must give exactly the per-tensor types of llama.cpp's own quantizations of
//   those files (same directory), keep every metadata key, set general.file_type as
//   llama-quantize does, and land no further from the F16 weights than llama.cpp's
//   quantization does (bf16: bit-identical);
// - synth's plans of the published R1 distills must match the published Q4_K_M files' sizes
//   within 1% and llama.cpp's Q4_K_M mix, and the tiny presets must have the shapes, types
//   and hyperparameters of llama.cpp's tiny test files, reopen cleanly and match their plan.
// PONDER_TEST_SYNTH_BIG=1 also writes (then deletes) the 1.5B Q4_K_M file and times it.
#include "formats/gguf.h"
#include "model-tools/model-files.h"
#include "quant/quant.h"
#include "model-tools/synth.h"
#include "test-util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmp_dir[256];

static const char *tmp_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmp_dir, name);
    return buf;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *type_name(uint32_t type)
{
    const PonderTypeTraits *t = ponder_type_traits(type);
    return t ? t->name : "?";
}

static bool kv_values_equal(const GgufKv *a, const GgufKv *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == GGUF_VALUE_STRING)
        return a->value.str.len == b->value.str.len &&
               memcmp(a->value.str.data, b->value.str.data, a->value.str.len) == 0;
    if (a->type == GGUF_VALUE_ARRAY) {
        if (a->array_type != b->array_type || a->array_count != b->array_count)
            return false;
        if (a->array_type != GGUF_VALUE_STRING)
            return memcmp(a->array_data, b->array_data,
                          a->array_count * gguf_value_type_size(a->array_type)) == 0;
        GgufString x, y;
        for (uint64_t i = 0; gguf_array_string(a, i, &x); i++)
            if (!gguf_array_string(b, i, &y) || x.len != y.len || memcmp(x.data, y.data, x.len))
                return false;
        return true;
    }
    return a->value.u64 == b->value.u64;
}

// ---- quantize vs llama-quantize ----------------------------------------------------------

// The worst relative RMS error allowed over any matrix, whatever llama.cpp achieved.
static double error_ceiling(uint32_t type)
{
    switch (type) {
    case PONDER_TYPE_BF16: return 0.005;
    case PONDER_TYPE_Q8_0: return 0.01;
    case PONDER_TYPE_Q6_K: return 0.03;
    case PONDER_TYPE_Q5_0:
    case PONDER_TYPE_Q5_1:
    case PONDER_TYPE_Q5_K: return 0.06;
    case PONDER_TYPE_Q4_0:
    case PONDER_TYPE_Q4_1:
    case PONDER_TYPE_Q4_K: return 0.12;
    case PONDER_TYPE_Q3_K: return 0.22;
    case PONDER_TYPE_Q2_K: return 0.45;
    default: return 0.0;
    }
}

static void check_quantized(const char *arch, const char *type)
{
    char src_path[512], ref_path[512], out_name[64];
    snprintf(out_name, sizeof out_name, "%s-%s.gguf", arch, type);
    if (!test_model_available(out_name))
        return;
    snprintf(src_path, sizeof src_path, "%smodels/%s-f16.gguf", test_shared_path(""), arch);
    snprintf(ref_path, sizeof ref_path, "%smodels/%s", test_shared_path(""), out_name);
    const char *out_path = tmp_path(out_name);
    char err[512] = "";
    bool ok = quantize_gguf(src_path, out_path, type, NULL, 3, err, sizeof err);
    CHECKF(ok, "quantize %s %s: %s", arch, type, err);
    if (!ok)
        return;
    GgufFile *src = gguf_open(src_path, err, sizeof err);
    GgufFile *ref = gguf_open(ref_path, err, sizeof err);
    GgufFile *ours = gguf_open(out_path, err, sizeof err);
    CHECKF(src && ref && ours, "%s %s: reopening: %s", arch, type, err);
    if (!src || !ref || !ours) {
        gguf_close(src);
        gguf_close(ref);
        gguf_close(ours);
        return;
    }

    // Per-tensor types and shapes: exactly llama.cpp's.
    CHECKF(ours->n_tensors == ref->n_tensors, "%s %s: %llu tensors, llama.cpp %llu", arch, type,
           (unsigned long long)ours->n_tensors, (unsigned long long)ref->n_tensors);
    double ours_sq = 0, ref_sq = 0, norm_sq = 0;
    for (uint64_t i = 0; i < ref->n_tensors; i++) {
        const GgufTensor *r = &ref->tensors[i];
        const char *name = test_tensor_name(r);
        const GgufTensor *o = gguf_find_tensor(ours, name);
        const GgufTensor *s = gguf_find_tensor(src, name);
        CHECKF(o && s, "%s %s: tensor %s missing", arch, type, name);
        if (!o || !s)
            continue;
        CHECKF(o->type == r->type, "%s %s: %s is %s, llama.cpp %s", arch, type, name,
               type_name(o->type), type_name(r->type));
        CHECKF(o->n_dims == r->n_dims && memcmp(o->ne, r->ne, sizeof o->ne) == 0,
               "%s %s: %s shape differs", arch, type, name);
        if (o->type != r->type)
            continue;
        if (o->type == s->type || o->type == PONDER_TYPE_BF16) {
            // Copied tensors, and F16 -> BF16 (a rounding with one right answer).
            CHECKF(o->n_bytes == r->n_bytes && memcmp(o->data, r->data, o->n_bytes) == 0,
                   "%s %s: %s bytes differ from llama.cpp's", arch, type, name);
        }
        if (o->n_dims < 2)
            continue;
        float *x_src = test_dequantize_tensor(s), *x_ours = test_dequantize_tensor(o),
              *x_ref = test_dequantize_tensor(r);
        if (x_src && x_ours && x_ref) {
            double e_ours = test_rel_rms(x_ours, x_src, s->n_elements);
            double e_ref = test_rel_rms(x_ref, x_src, s->n_elements);
            CHECKF(e_ours <= error_ceiling(o->type) && e_ours <= e_ref * 1.1 + 1e-4,
                   "%s %s: %s (%s) error %.5f, llama.cpp %.5f", arch, type, name,
                   type_name(o->type), e_ours, e_ref);
            double n2 = 0;
            for (uint64_t k = 0; k < s->n_elements; k++)
                n2 += (double)x_src[k] * x_src[k];
            ours_sq += e_ours * e_ours * n2;
            ref_sq += e_ref * e_ref * n2;
            norm_sq += n2;
        }
        free(x_src);
        free(x_ours);
        free(x_ref);
    }

    // Metadata: every source key kept; file_type and quantization_version as llama.cpp's.
    for (uint64_t i = 0; i < src->n_kv; i++) {
        char key[256];
        gguf_string_copy(src->kv[i].key, key, sizeof key);
        const GgufKv *o = gguf_find_kv(ours, key);
        CHECKF(o, "%s %s: key %s lost", arch, type, key);
        if (o && strcmp(key, "general.file_type") != 0)
            CHECKF(kv_values_equal(o, &src->kv[i]), "%s %s: key %s changed", arch, type, key);
    }
    uint32_t ft_ours = 0, ft_ref = 1, qv_ours = 0, qv_ref = 1;
    CHECK(gguf_get_u32(ours, "general.file_type", &ft_ours) &&
          gguf_get_u32(ref, "general.file_type", &ft_ref));
    CHECKF(ft_ours == ft_ref, "%s %s: file_type %u, llama.cpp %u", arch, type, ft_ours, ft_ref);
    CHECK(gguf_get_u32(ours, "general.quantization_version", &qv_ours) &&
          gguf_get_u32(ref, "general.quantization_version", &qv_ref) && qv_ours == qv_ref);
    printf("  %-6s %-7s matrices' rel. RMS error: ours %.5f, llama.cpp %.5f\n", arch, type,
           sqrt(ours_sq / norm_sq), sqrt(ref_sq / norm_sq));
    gguf_close(src);
    gguf_close(ref);
    gguf_close(ours);
    unlink(out_path);
}

static void test_quantize_errors(void)
{
    char err[512] = "";
    char src[512];
    snprintf(src, sizeof src, "%smodels/qwen2-f16.gguf", test_shared_path(""));
    CHECK(!quantize_gguf(src, tmp_path("x.gguf"), "q4_k_s", NULL, 1, err, sizeof err));
    CHECKF(strstr(err, "q4_k_s") != NULL, "message: %s", err);
    err[0] = '\0';
    CHECK(!quantize_gguf(tmp_path("missing.gguf"), tmp_path("x.gguf"), "q8_0", NULL, 1, err,
                         sizeof err));
    CHECKF(strstr(err, "missing.gguf") != NULL, "message: %s", err);
    struct stat st;
    CHECK(stat(tmp_path("x.gguf"), &st) != 0);
}

// ---- synth ---------------------------------------------------------------------------------

static const char *qwen_tokenizer(void)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%stokenizers/deepseek-r1-distill-qwen/tokenizer.json",
             test_shared_path(""));
    return buf;
}

static const char *llama_tokenizer(void)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%stokenizers/llama-3.1/tokenizer.json", test_shared_path(""));
    return buf;
}

static const SynthTensorPlan *plan_tensor(const SynthPlan *plan, const char *name)
{
    for (uint64_t i = 0; i < plan->n_tensors; i++)
        if (strcmp(plan->tensors[i].name, name) == 0)
            return &plan->tensors[i];
    return NULL;
}

// Published sizes: R1-Distill-Qwen-1.5B Q4_K_M 1.04 GiB and 7B 4.36 GiB (the GGUFs on
// Hugging Face / Ollama: 7B 4,683,075,271 bytes, 14B 8,988,112,040), Llama-8B 4.92 GB.
static void test_published_sizes(void)
{
    static const struct {
        const char *preset;
        const char *tokenizer;
        double bytes;
    } published[] = {
        {"r1-distill-qwen-1.5b", "qwen", 1.04 * 1073741824.0},
        {"r1-distill-qwen-7b", "qwen", 4.36 * 1073741824.0},
        {"r1-distill-qwen-7b", "qwen", 4683075271.0},
        {"r1-distill-qwen-14b", "qwen", 8988112040.0},
        {"r1-distill-llama-8b", "llama", 4.92e9},
    };
    for (size_t i = 0; i < sizeof published / sizeof published[0]; i++) {
        SynthPlan plan;
        char err[512] = "";
        const char *tok = published[i].tokenizer[0] == 'q' ? qwen_tokenizer() : llama_tokenizer();
        bool ok = synth_plan(published[i].preset, "q4_k_m", tok, &plan, err, sizeof err);
        CHECKF(ok, "plan %s: %s", published[i].preset, err);
        if (!ok)
            continue;
        double ratio = (double)plan.file_bytes / published[i].bytes;
        printf("  %-20s q4_k_m plan: %llu bytes (%.3f GiB), published %.0f: ratio %.4f\n",
               published[i].preset, (unsigned long long)plan.file_bytes,
               plan.file_bytes / 1073741824.0, published[i].bytes, ratio);
        CHECKF(fabs(ratio - 1.0) < 0.01, "%s: planned %llu bytes vs published %.0f",
               published[i].preset, (unsigned long long)plan.file_bytes, published[i].bytes);
        synth_plan_free(&plan);
    }
}

// R1-Distill-Qwen-1.5B-Q4_K_M as llama.cpp writes it: token_embd Q4_K, output Q6_K, and
// attn_v / ffn_down Q6_K in layers 0-2, 5, 8, ..., 23 and 24-27 (the first and last
// eighths and every third between), Q4_K elsewhere; norms and biases F32.
static void test_q4_k_m_mix_1_5b(void)
{
    static const int more_bits_layers[] = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27};
    SynthPlan plan;
    char err[512] = "";
    bool ok = synth_plan("r1-distill-qwen-1.5b", "q4_k_m", NULL, &plan, err, sizeof err);
    CHECKF(ok, "%s", err);
    if (!ok)
        return;
    CHECK(plan.n_tensors == 3 + 28 * 12);
    const SynthTensorPlan *embd = plan_tensor(&plan, "token_embd.weight");
    const SynthTensorPlan *out = plan_tensor(&plan, "output.weight");
    CHECK(embd && embd->type == PONDER_TYPE_Q4_K && embd->ne[0] == 1536 && embd->ne[1] == 151936);
    CHECK(out && out->type == PONDER_TYPE_Q6_K && out->ne[1] == 151936);
    for (int l = 0; l < 28; l++) {
        bool more = false;
        for (size_t k = 0; k < sizeof more_bits_layers / sizeof more_bits_layers[0]; k++)
            more |= more_bits_layers[k] == l;
        static const char *const matrices[] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                               "ffn_gate", "ffn_up", "ffn_down"};
        for (size_t k = 0; k < 7; k++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, matrices[k]);
            const SynthTensorPlan *t = plan_tensor(&plan, name);
            bool sharper = more && (k == 2 || k == 6);
            CHECKF(t && t->type == (sharper ? PONDER_TYPE_Q6_K : PONDER_TYPE_Q4_K), "%s is %s",
                   name, t ? type_name(t->type) : "missing");
        }
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_k.bias", l);
        const SynthTensorPlan *bias = plan_tensor(&plan, name);
        CHECK(bias && bias->type == PONDER_TYPE_F32 && bias->ne[0] == 256);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        const SynthTensorPlan *down = plan_tensor(&plan, name);
        CHECK(down && down->ne[0] == 8960 && down->ne[1] == 1536);
    }
    synth_plan_free(&plan);
}

// Keys whose values must equal those of llama.cpp's tiny files (same hyperparameters).
static bool same_value_expected(const char *key)
{
    return strstr(key, ".block_count") || strstr(key, ".context_length") ||
           strstr(key, ".embedding_length") || strstr(key, ".feed_forward_length") ||
           strstr(key, ".head_count") || strstr(key, ".freq_base") || strstr(key, "rms_epsilon") ||
           strstr(key, "rope.dimension_count") || strcmp(key, "general.architecture") == 0 ||
           strcmp(key, "tokenizer.ggml.model") == 0 ||
           strcmp(key, "tokenizer.ggml.add_bos_token") == 0 ||
           strcmp(key, "general.file_type") == 0 ||
           strcmp(key, "general.quantization_version") == 0;
}

static void check_tiny(const char *preset, const char *arch, const char *type,
                       const char *tokenizer, const char *pre)
{
    char name[64], ref_name[64], ref_path[512], err[512] = "";
    snprintf(ref_name, sizeof ref_name, "%s-%s.gguf", arch,
             strcmp(type, "f32") == 0 ? "f16" : type);
    if (!test_model_available(ref_name))
        return;
    snprintf(name, sizeof name, "%s-%s.gguf", preset, type);
    snprintf(ref_path, sizeof ref_path, "%smodels/%s", test_shared_path(""), ref_name);
    const char *path = tmp_path(name);
    bool ok = synth_gguf(preset, type, tokenizer, path, 42, 2, err, sizeof err);
    CHECKF(ok, "synth %s %s: %s", preset, type, err);
    SynthPlan plan;
    bool planned = synth_plan(preset, type, tokenizer, &plan, err, sizeof err);
    CHECKF(planned, "plan %s %s: %s", preset, type, err);
    GgufFile *ours = ok ? gguf_open(path, err, sizeof err) : NULL;
    GgufFile *ref = gguf_open(ref_path, err, sizeof err);
    CHECKF(ours && ref, "%s %s: reopening: %s", preset, type, err);
    if (!ours || !ref || !planned) {
        gguf_close(ours);
        gguf_close(ref);
        if (planned)
            synth_plan_free(&plan);
        return;
    }
    struct stat st;
    CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == plan.file_bytes);
    CHECK(plan.n_tensors == ours->n_tensors);

    // Same tensors, shapes and types as llama.cpp's file of the tiny model (f32: the F16
    // file's shapes, with every tensor F32).
    CHECKF(ours->n_tensors == ref->n_tensors, "%s %s: %llu tensors, llama.cpp's %llu", preset, type,
           (unsigned long long)ours->n_tensors, (unsigned long long)ref->n_tensors);
    for (uint64_t i = 0; i < ref->n_tensors; i++) {
        const GgufTensor *r = &ref->tensors[i];
        const char *tname = test_tensor_name(r);
        const GgufTensor *o = gguf_find_tensor(ours, tname);
        CHECKF(o, "%s %s: %s missing", preset, type, tname);
        if (!o)
            continue;
        uint32_t want = strcmp(type, "f32") == 0 ? PONDER_TYPE_F32 : r->type;
        CHECKF(o->type == want && o->n_dims == r->n_dims && memcmp(o->ne, r->ne, sizeof o->ne) == 0,
               "%s %s: %s is %s [%llu, %llu], llama.cpp's %s [%llu, %llu]", preset, type, tname,
               type_name(o->type), (unsigned long long)o->ne[0], (unsigned long long)o->ne[1],
               type_name(r->type), (unsigned long long)r->ne[0], (unsigned long long)r->ne[1]);
    }

    // Every key of llama.cpp's file, with the same hyperparameters and special tokens.
    for (uint64_t i = 0; i < ref->n_kv; i++) {
        char key[256];
        gguf_string_copy(ref->kv[i].key, key, sizeof key);
        if (strcmp(key, "general.alignment") == 0)
            continue; // llama.cpp's converter leaves it out; 32 is the default
        const GgufKv *o = gguf_find_kv(ours, key);
        CHECKF(o, "%s %s: key %s missing", preset, type, key);
        if (o && strcmp(type, "f32") != 0 && same_value_expected(key))
            CHECKF(kv_values_equal(o, &ref->kv[i]), "%s %s: key %s differs", preset, type, key);
    }
    GgufString s;
    CHECK(gguf_get_string(ours, "tokenizer.ggml.pre", &s) && gguf_string_equals(s, pre));
    const GgufKv *tokens = gguf_find_kv(ours, "tokenizer.ggml.tokens");
    CHECK(tokens && tokens->array_count == ours->tensors[0].ne[1] &&
          tokens->array_count == plan.n_vocab_rows);

    // Weights of realistic scale: matrices ~0.02, norms ~1; rope_freqs as llama.cpp's.
    const GgufTensor *q = gguf_find_tensor(ours, "blk.0.attn_q.weight");
    const GgufTensor *norm = gguf_find_tensor(ours, "blk.1.ffn_norm.weight");
    float *xq = q ? test_dequantize_tensor(q) : NULL;
    float *xn = norm ? test_dequantize_tensor(norm) : NULL;
    if (xq && xn) {
        double sq = 0, mean = 0;
        for (uint64_t k = 0; k < q->n_elements; k++)
            sq += (double)xq[k] * xq[k];
        for (uint64_t k = 0; k < norm->n_elements; k++)
            mean += xn[k];
        double rms = sqrt(sq / q->n_elements);
        mean /= norm->n_elements;
        CHECKF(rms > 0.015 && rms < 0.03, "%s %s: attn_q RMS %.4f", preset, type, rms);
        CHECKF(mean > 0.95 && mean < 1.05, "%s %s: norm mean %.4f", preset, type, mean);
    }
    free(xq);
    free(xn);
    const GgufTensor *rope = gguf_find_tensor(ours, "rope_freqs.weight");
    const GgufTensor *rope_ref = gguf_find_tensor(ref, "rope_freqs.weight");
    if (rope && rope_ref && rope->n_bytes == rope_ref->n_bytes) {
        const float *a = rope->data, *b = rope_ref->data;
        for (uint64_t k = 0; k < rope->n_elements; k++)
            CHECKF(fabsf(a[k] - b[k]) <= 1e-5f * b[k], "rope_freqs[%llu] %g, llama.cpp %g",
                   (unsigned long long)k, a[k], b[k]);
    }
    gguf_close(ours);
    gguf_close(ref);
    synth_plan_free(&plan);
}

// The tiny vocabulary keeps the real first 1,024 tokens and renumbers the special ones to
// follow them, as in llama.cpp's tiny test files (EOS 1024, BOS 1027; every qwen2 file has
// the same vocabulary).
static void test_tiny_vocab(void)
{
    char ref_path[512], err[512] = "";
    snprintf(ref_path, sizeof ref_path, "%smodels/qwen2-f16.gguf", test_shared_path(""));
    GgufFile *ours = gguf_open(tmp_path("tiny-qwen2-f16.gguf"), err, sizeof err);
    GgufFile *ref = gguf_open(ref_path, err, sizeof err);
    CHECKF(ours && ref, "%s", err);
    if (ours && ref) {
        const GgufKv *a = gguf_find_kv(ours, "tokenizer.ggml.tokens");
        const GgufKv *b = gguf_find_kv(ref, "tokenizer.ggml.tokens");
        GgufString x, y;
        for (uint64_t i = 0; i < 1031; i++)
            CHECKF(gguf_array_string(a, i, &x) && gguf_array_string(b, i, &y) && x.len == y.len &&
                       memcmp(x.data, y.data, x.len) == 0,
                   "token %llu differs", (unsigned long long)i);
        uint32_t bos = 0, eos = 0;
        CHECK(gguf_get_u32(ours, "tokenizer.ggml.bos_token_id", &bos) && bos == 1027);
        CHECK(gguf_get_u32(ours, "tokenizer.ggml.eos_token_id", &eos) && eos == 1024);
        const GgufKv *merges = gguf_find_kv(ours, "tokenizer.ggml.merges");
        CHECK(merges && merges->array_count > 500);
    }
    gguf_close(ours);
    gguf_close(ref);
}

static bool files_equal(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = test_read_file(a, &la), *y = test_read_file(b, &lb);
    bool same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static void test_synth_deterministic(void)
{
    char err[512] = "", a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s", tmp_path("det1.gguf"));
    snprintf(b, sizeof b, "%s", tmp_path("det3.gguf"));
    snprintf(c, sizeof c, "%s", tmp_path("det-other.gguf"));
    CHECK(synth_gguf("tiny-llama", "q4_k_m", NULL, a, 7, 1, err, sizeof err));
    CHECK(synth_gguf("tiny-llama", "q4_k_m", NULL, b, 7, 3, err, sizeof err));
    CHECK(synth_gguf("tiny-llama", "q4_k_m", NULL, c, 8, 2, err, sizeof err));
    CHECK(files_equal(a, b));  // the thread count does not matter
    CHECK(!files_equal(a, c)); // the seed does
    unlink(a);
    unlink(b);
    unlink(c);
}

static void test_synth_errors(void)
{
    char err[512] = "";
    CHECK(!synth_gguf("r1-distill-qwen-3b", "q4_k_m", NULL, tmp_path("x.gguf"), 1, 1, err,
                      sizeof err));
    CHECKF(strstr(err, "r1-distill-qwen-3b") != NULL, "message: %s", err);
    CHECK(!synth_gguf("tiny-qwen2", "q7_k", NULL, tmp_path("x.gguf"), 1, 1, err, sizeof err));
    CHECKF(strstr(err, "q7_k") != NULL, "message: %s", err);
    CHECK(!synth_gguf("tiny-qwen2", "q8_0", tmp_path("no-tokenizer.json"), tmp_path("x.gguf"), 1, 1,
                      err, sizeof err));
    CHECKF(strstr(err, "no-tokenizer.json") != NULL, "message: %s", err);
    struct stat st;
    CHECK(stat(tmp_path("x.gguf"), &st) != 0);
}

static void synth_big_timed(void)
{
    const char *path = tmp_path("r1-1.5b-q4_k_m.gguf");
    char err[512] = "";
    SynthPlan plan;
    CHECK(synth_plan("r1-distill-qwen-1.5b", "q4_k_m", qwen_tokenizer(), &plan, err, sizeof err));
    double t0 = now_seconds();
    bool ok =
        synth_gguf("r1-distill-qwen-1.5b", "q4_k_m", qwen_tokenizer(), path, 1, 2, err, sizeof err);
    double seconds = now_seconds() - t0;
    CHECKF(ok, "%s", err);
    struct stat st;
    CHECK(ok && stat(path, &st) == 0 && (uint64_t)st.st_size == plan.file_bytes);
    GgufFile *f = ok ? gguf_open(path, err, sizeof err) : NULL;
    CHECKF(f != NULL, "%s", err);
    gguf_close(f);
    printf("  synth r1-distill-qwen-1.5b q4_k_m, 2 threads: %.1f s, %llu bytes\n", seconds,
           (unsigned long long)plan.file_bytes);
    unlink(path);
    synth_plan_free(&plan);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "%s/ponder-test-quantize-XXXXXX",
             getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir))
        return test_skip("cannot create a temporary directory");
    char probe[512];
    snprintf(probe, sizeof probe, "%smodels/qwen2-f16.gguf", test_shared_path(""));
    if (access(probe, R_OK) != 0) {
        rmdir(tmp_dir);
        return test_skip("../shared/models not found");
    }

    static const char *const types[] = {"q4_0",   "q4_1",   "q5_0",   "q5_1", "q8_0", "q2_k",
                                        "q3_k_m", "q4_k_m", "q5_k_m", "q6_k", "bf16"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        check_quantized("qwen2", types[i]);
        check_quantized("llama", types[i]);
    }
    test_quantize_errors();

    test_published_sizes();
    test_q4_k_m_mix_1_5b();
    static const char *const tiny_types[] = {"f32",  "f16",    "q8_0",   "q4_0",
                                             "q2_k", "q3_k_m", "q4_k_m", "q6_k"};
    for (size_t i = 0; i < sizeof tiny_types / sizeof tiny_types[0]; i++) {
        check_tiny("tiny-qwen2", "qwen2", tiny_types[i], qwen_tokenizer(), "deepseek-r1-qwen");
        check_tiny("tiny-llama", "llama", tiny_types[i], llama_tokenizer(), "llama-bpe");
    }
    test_tiny_vocab();
    test_synth_deterministic();
    test_synth_errors();
    if (getenv("PONDER_TEST_SYNTH_BIG"))
        synth_big_timed();

    for (size_t i = 0; i < sizeof tiny_types / sizeof tiny_types[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "tiny-qwen2-%s.gguf", tiny_types[i]);
        unlink(tmp_path(name));
        snprintf(name, sizeof name, "tiny-llama-%s.gguf", tiny_types[i]);
        unlink(tmp_path(name));
    }
    rmdir(tmp_dir);
    return test_finish();
}
