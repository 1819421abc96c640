// Loading qwen3 files that disagree with themselves: every variant of a small valid file
// (head size from key_length, per-head q/k norms, RoPE scaling keys) is refused with an
// error that names the problem, never a crash or a silently wrong model. The valid file
// itself loads and runs, and the YaRN rule matches its definition.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "runtime/model.h"
#include "ponder-infer.h"
#include "test-util.h"

enum { EMBD = 128, HEADS = 2, KV_HEADS = 1, HEAD = 64, FF = 128, VOCAB = 32, LAYERS = 1 };

// What to change in the valid file.
typedef struct Variant {
    const char *what;
    const char *expect;                // a piece of the error message; NULL: loads
    uint32_t key_length, value_length; // 0: not written
    uint32_t q_norm_len;               // 0: no attn_q_norm tensor
    const char *scaling_type;          // NULL: no rope.scaling keys
    float scaling_factor;
    uint32_t head_count;
} Variant;

static float zeros[EMBD * VOCAB * 4];
static char tmp_path[] = "/tmp/ponder-test-qwen3-XXXXXX";

static bool write_file(const Variant *v, const char *path)
{
    GgufWriter *w = gguf_writer_new();
    gguf_writer_set_string(w, "general.architecture", "qwen3");
    gguf_writer_set_u32(w, "qwen3.block_count", LAYERS);
    gguf_writer_set_u32(w, "qwen3.context_length", 4096);
    gguf_writer_set_u32(w, "qwen3.embedding_length", EMBD);
    gguf_writer_set_u32(w, "qwen3.feed_forward_length", FF);
    gguf_writer_set_u32(w, "qwen3.attention.head_count", v->head_count);
    gguf_writer_set_u32(w, "qwen3.attention.head_count_kv", KV_HEADS);
    gguf_writer_set_f32(w, "qwen3.rope.freq_base", 1e6f);
    gguf_writer_set_f32(w, "qwen3.attention.layer_norm_rms_epsilon", 1e-6f);
    if (v->key_length)
        gguf_writer_set_u32(w, "qwen3.attention.key_length", v->key_length);
    if (v->value_length)
        gguf_writer_set_u32(w, "qwen3.attention.value_length", v->value_length);
    if (v->scaling_type) {
        gguf_writer_set_string(w, "qwen3.rope.scaling.type", v->scaling_type);
        gguf_writer_set_f32(w, "qwen3.rope.scaling.factor", v->scaling_factor);
        gguf_writer_set_u32(w, "qwen3.rope.scaling.original_context_length", 1024);
    }
    // the tensors are shaped for heads of HEAD (the file's "true" shape)
    uint64_t q = (uint64_t)HEADS * HEAD, kv = (uint64_t)KV_HEADS * HEAD;
    gguf_writer_add_tensor(w, "token_embd.weight", PONDER_TYPE_F32, 2,
                           (const uint64_t[]){EMBD, VOCAB}, zeros);
    gguf_writer_add_tensor(w, "output_norm.weight", PONDER_TYPE_F32, 1, (const uint64_t[]){EMBD},
                           zeros);
    gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", PONDER_TYPE_F32, 1,
                           (const uint64_t[]){EMBD}, zeros);
    gguf_writer_add_tensor(w, "blk.0.attn_q.weight", PONDER_TYPE_F32, 2,
                           (const uint64_t[]){EMBD, q}, zeros);
    gguf_writer_add_tensor(w, "blk.0.attn_k.weight", PONDER_TYPE_F32, 2,
                           (const uint64_t[]){EMBD, kv}, zeros);
    gguf_writer_add_tensor(w, "blk.0.attn_v.weight", PONDER_TYPE_F32, 2,
                           (const uint64_t[]){EMBD, kv}, zeros);
    gguf_writer_add_tensor(w, "blk.0.attn_output.weight", PONDER_TYPE_F32, 2,
                           (const uint64_t[]){q, EMBD}, zeros);
    if (v->q_norm_len)
        gguf_writer_add_tensor(w, "blk.0.attn_q_norm.weight", PONDER_TYPE_F32, 1,
                               (const uint64_t[]){v->q_norm_len}, zeros);
    gguf_writer_add_tensor(w, "blk.0.attn_k_norm.weight", PONDER_TYPE_F32, 1,
                           (const uint64_t[]){HEAD}, zeros);
    gguf_writer_add_tensor(w, "blk.0.ffn_norm.weight", PONDER_TYPE_F32, 1, (const uint64_t[]){EMBD},
                           zeros);
    gguf_writer_add_tensor(w, "blk.0.ffn_gate.weight", PONDER_TYPE_F32, 2,
                           (const uint64_t[]){EMBD, FF}, zeros);
    gguf_writer_add_tensor(w, "blk.0.ffn_up.weight", PONDER_TYPE_F32, 2,
                           (const uint64_t[]){EMBD, FF}, zeros);
    gguf_writer_add_tensor(w, "blk.0.ffn_down.weight", PONDER_TYPE_F32, 2,
                           (const uint64_t[]){FF, EMBD}, zeros);
    char err[256];
    bool ok = gguf_writer_write(w, path, err, sizeof err);
    CHECKF(ok, "write %s: %s", path, err);
    gguf_writer_free(w);
    return ok;
}

static void check_variant(const Variant *v)
{
    if (!write_file(v, tmp_path))
        return;
    PonderError err = {0};
    PonderModel *m = ponder_model_load(tmp_path, &err);
    if (!v->expect) {
        CHECKF(m != NULL, "%s: %s", v->what, err.message);
    } else {
        CHECKF(m == NULL && err.status != PONDER_OK && strstr(err.message, v->expect),
               "%s: wanted an error with \"%s\", got \"%s\"", v->what, v->expect,
               m ? "(loaded)" : err.message);
        printf("  %-42s %s\n", v->what, err.message);
    }
    if (m && !v->expect) { // the valid file runs: a tied head, logits all zero
        PonderContextParams p = ponder_context_default_params();
        p.n_ctx = 8;
        p.n_threads = 1;
        PonderContext *ctx = ponder_context_new(m, &p, &err);
        CHECKF(ctx, "%s: %s", v->what, err.message);
        float logits[VOCAB];
        int32_t ids[] = {1, 2, 3};
        PonderBatchEntry e = {
            .seq = ctx ? ponder_seq_new(ctx) : -1, .tokens = ids, .n_tokens = 3, .logits = logits};
        CHECKF(ctx && ponder_decode(ctx, &e, 1, &err) == PONDER_OK, "%s: %s", v->what, err.message);
        CHECK(ponder_model_info(m)->tied_output && ponder_model_info(m)->head_dim == HEAD);
        ponder_context_free(ctx);
    }
    ponder_model_free(m);
}

// llama.cpp's YaRN for R1-0528-Qwen3-8B's numbers (head 128, base 1e6, factor 4 over
// 32768): the first pairs keep their frequency, the last are divided by 4, a ramp between,
// and q·k is scaled by (0.1 ln 4 + 1)^2 / sqrt(128).
static void check_yarn_rule(void)
{
    PonderModel m = {0};
    m.hp = (ModelHparams){.n_rot = 128,
                          .head_dim = 128,
                          .rope_theta = 1e6f,
                          .rope_scaling = ROPE_SCALING_YARN,
                          .rope_factor = 4.0f,
                          .n_ctx_orig = 32768,
                          .rope_attn_factor = 1.0f,
                          .yarn_beta_fast = 32.0f,
                          .yarn_beta_slow = 1.0f};
    double freq[64];
    model_rope_inv_freq(&m, freq);
    // corr dims: 128 ln(32768 / (b 2 pi)) / (2 ln 1e6) -> floor(23.6) = 23 for b = 32,
    // ceil(39.7) = 40 for b = 1
    double low = 23, high = 40;
    for (int i = 0; i < 64; i++) {
        double base = pow(1e6, -2.0 * i / 128);
        double y = (i - low) / (high - low);
        double keep = 1 - (y < 0 ? 0 : y > 1 ? 1 : y);
        double want = base * (0.25 * (1 - keep) + keep);
        CHECKF(fabs(freq[i] - want) <= 1e-12 * want, "YaRN pair %d: %g, want %g", i, freq[i], want);
    }
    CHECK(freq[0] == 1.0 && fabs(freq[63] - pow(1e6, -126.0 / 128) / 4) < 1e-15);
    double m_scale = 0.1 * log(4.0) + 1.0;
    float want_scale = (float)(m_scale * m_scale / sqrt(128.0));
    CHECKF(fabsf(model_attention_scale(&m.hp) - want_scale) < 1e-7f, "YaRN attention scale %g",
           model_attention_scale(&m.hp));
    m.hp.rope_scaling = ROPE_SCALING_NONE;
    CHECK(fabsf(model_attention_scale(&m.hp) - 1.0f / sqrtf(128.0f)) < 1e-7f);
}

int main(void)
{
    int fd = mkstemp(tmp_path);
    if (fd < 0)
        return 1;
    close(fd);
    const Variant variants[] = {
        {"valid (head 64 = embedding / heads)", NULL, HEAD, HEAD, HEAD, NULL, 0, HEADS},
        {"valid without key_length", NULL, 0, 0, HEAD, NULL, 0, HEADS},
        {"valid with YaRN x4", NULL, HEAD, HEAD, HEAD, "yarn", 4.0f, HEADS},
        {"key_length that disagrees with attn_q", "attn_q.weight", 32, 32, 32, NULL, 0, HEADS},
        {"odd key_length", "head size 63", 63, 63, 63, NULL, 0, HEADS},
        {"value_length unlike key_length", "value length", HEAD, 32, HEAD, NULL, 0, HEADS},
        {"heads not dividing, no key_length", "not a multiple", 0, 0, HEAD, NULL, 0, 3},
        {"missing attn_q_norm", "attn_q_norm.weight' is missing", HEAD, HEAD, 0, NULL, 0, HEADS},
        {"attn_q_norm of the wrong length", "attn_q_norm.weight' has shape", HEAD, HEAD, 32, NULL,
         0, HEADS},
        {"unknown RoPE scaling", "RoPE scaling 'longrope'", HEAD, HEAD, HEAD, "longrope", 4.0f,
         HEADS},
        {"YaRN factor below 1", "implausible RoPE scaling", HEAD, HEAD, HEAD, "yarn", 0.5f, HEADS},
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        check_variant(&variants[i]);
    check_yarn_rule();
    unlink(tmp_path);
    return test_finish();
}
