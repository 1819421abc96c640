// A loaded model: hyperparameters (from metadata only), weights (pointers into the
// mapped GGUF file), and the tokenizer. Run state lives in the context (context.h).
#pragma once

#include "formats/gguf.h"
#include "ponder-infer.h"
#include "quant/quant.h"

typedef enum ModelArch { MODEL_ARCH_QWEN2, MODEL_ARCH_LLAMA, MODEL_ARCH_QWEN3 } ModelArch;

// Which elements of a head RoPE rotates together: qwen2 files rotate (i, i + dim/2)
// ("NeoX"), llama files were permuted by the converter to rotate (2i, 2i + 1).
typedef enum RopeStyle { ROPE_STYLE_HALVES, ROPE_STYLE_ADJACENT } RopeStyle;

// How positions beyond the training context are reached (`<arch>.rope.scaling.type`).
typedef enum RopeScaling { ROPE_SCALING_NONE, ROPE_SCALING_LINEAR, ROPE_SCALING_YARN } RopeScaling;

typedef struct ModelHparams {
    ModelArch arch;
    RopeStyle rope_style;
    uint32_t n_layer;
    uint32_t n_embd;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;
    uint32_t n_rot; // rotated dimensions per head (<= head_dim)
    uint32_t n_ff;
    uint32_t n_vocab; // embedding rows
    uint32_t n_ctx_train;
    float rope_theta;
    float rms_eps;
    // RoPE scaling as llama.cpp's GGUF keys declare it: LINEAR divides every frequency by
    // rope_factor; YARN interpolates only the low frequencies (a ramp between the pairs
    // that turn yarn_beta_fast and yarn_beta_slow times over n_ctx_orig tokens) and scales
    // the attention logits (model_attention_scale).
    RopeScaling rope_scaling;
    float rope_factor;      // context extension factor (1: none)
    uint32_t n_ctx_orig;    // the unscaled training context (YaRN)
    float rope_attn_factor; // `rope.scaling.attn_factor`, 1 when absent
    float yarn_beta_fast, yarn_beta_slow;
} ModelHparams;

// A 2-D weight matrix in its file type: n_rows rows of row_len elements.
typedef struct Weight {
    PonderType type;
    const void *data;
    uint64_t row_len;
    uint64_t n_rows;
    uint64_t row_bytes;
} Weight;

typedef struct LayerWeights {
    float *attn_norm; // [n_embd]
    Weight wq, wk, wv, wo;
    float *bq, *bk, *bv; // qwen2 only: [n_head * head_dim], [n_head_kv * head_dim] ×2; else NULL
    float *q_norm, *k_norm; // qwen3 only: [head_dim] each, RMSNorm of every head before RoPE
    float *ffn_norm;        // [n_embd]
    Weight w_gate, w_up, w_down;
} LayerWeights;

struct PonderModel {
    ModelHparams hp;
    PonderModelInfo info;
    GgufFile *file;
    Tokenizer *tokenizer;

    Weight token_embd;        // [n_vocab][n_embd]
    float *output_norm;       // [n_embd]
    Weight output;            // [n_vocab][n_embd]; == token_embd when tied
    float *rope_freq_factors; // [n_rot / 2], Llama 3.1 scaling; NULL when absent
    LayerWeights *layers;     // [n_layer]

    char arch_name[16];
    char name[256];
    char file_type[32];
    char *chat_template;
};

// ponder_model_load from an in-memory GGUF image (borrowed: it must outlive the model), for
// tests and fuzzing. NAME stands in for the file name.
PonderModel *ponder_model_load_memory(const void *data, size_t size, const char *name,
                                      PonderError *err);

// The hyperparameters of M->file into M->hp and M->arch_name, every key checked as the
// loader checks it (ponder_model_probe gives the same verdict without loading weights).
bool model_read_hparams(PonderModel *m, PonderError *err);

// general.file_type's name ("Q4_K_M"), else the type holding most of the matrix bytes.
void model_file_type_name(const GgufFile *file, char *out, size_t size);
// The element type a KV cache of KV_TYPE stores.
PonderType ponder_kv_element_type(PonderKvType kv_type);

// Sets ERR (when not NULL) to STATUS and a formatted message; returns STATUS.
PonderStatus ponder_set_error(PonderError *err, PonderStatus status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// The angular frequency of each rotated pair [n_rot / 2] with the file's base, Llama 3.1
// factors and linear/YaRN scaling folded in: the angle at position p is p * OUT[i].
void model_rope_inv_freq(const PonderModel *m, double *out);
// The factor of q·k in attention: 1/sqrt(head_dim), times YaRN's magnitude correction
// squared (llama.cpp multiplies both q's and k's cos/sin by it; the product is the same).
float model_attention_scale(const ModelHparams *hp);

// Dequantizes row ROW of W into OUT[row_len].
void weight_row_to_float(const Weight *w, uint64_t row, float *out);
