// A loaded model: hyperparameters (from metadata only), weights (pointers into the
// mapped GGUF file), and the tokenizer. Run state lives in the context (context.h).
#pragma once

#include "gguf.h"
#include "ponder-infer.h"
#include "quant.h"

typedef enum ModelArch { MODEL_ARCH_QWEN2, MODEL_ARCH_LLAMA } ModelArch;

// Which elements of a head RoPE rotates together: qwen2 files rotate (i, i + dim/2)
// ("NeoX"), llama files were permuted by the converter to rotate (2i, 2i + 1).
typedef enum RopeStyle { ROPE_STYLE_HALVES, ROPE_STYLE_ADJACENT } RopeStyle;

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
    float *ffn_norm;     // [n_embd]
    Weight w_gate, w_up, w_down;
} LayerWeights;

struct PonderModel {
    ModelHparams hp;
    PonderModelInfo info;
    GgufFile *file;
    Tokenizer *tokenizer;

    Weight token_embd; // [n_vocab][n_embd]
    float *output_norm; // [n_embd]
    Weight output;      // [n_vocab][n_embd]; == token_embd when tied
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

// Sets ERR (when not NULL) to STATUS and a formatted message; returns STATUS.
PonderStatus ponder_set_error(PonderError *err, PonderStatus status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Dequantizes row ROW of W into OUT[row_len].
void weight_row_to_float(const Weight *w, uint64_t row, float *out);
