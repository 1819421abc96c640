// Tools that write model files: `convert` (Hugging Face checkpoint -> GGUF), `quantize`
// (GGUF -> GGUF in another type or llama.cpp-style mix) and `synth` (a file with the exact
// shapes of a published R1 distill and random weights, for benchmarks).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct GgufWriter;

// Writes the tokenizer.ggml.* metadata (model "gpt2", pre, tokens, token types, merges,
// BOS/EOS, add_bos) and tokenizer.chat_template (when present) read from a Hugging Face
// tokenizer.json and optional tokenizer_config.json.
bool hf_tokenizer_to_gguf(struct GgufWriter *writer, const char *tokenizer_json_path,
                          const char *tokenizer_config_path, char *err, size_t err_size);

// HF_DIR holds config.json, *.safetensors (single file or sharded with an index) and
// tokenizer.json. OUT_TYPE: "f32", "f16", "bf16" or "q8_0".
bool convert_hf_to_gguf(const char *hf_dir, const char *out_path, const char *out_type, char *err,
                        size_t err_size);

// TYPE: one of quant_mix_quantizable_names() (quant-mix.h). IMATRIX_PATH: llama.cpp's
// importance matrix for the model (the .dat or the GGUF layout, see imatrix.h) to weigh the
// scale searches with, or NULL. N_THREADS below 1: one per online core.
bool quantize_gguf(const char *in_path, const char *out_path, const char *type,
                   const char *imatrix_path, int n_threads, char *err, size_t err_size);

// PRESET: r1-distill-qwen-1.5b r1-distill-qwen-7b r1-distill-qwen-14b r1-distill-llama-8b
// tiny-qwen2 tiny-llama. TYPE as for quantize_gguf (plus f32).
bool synth_gguf(const char *preset, const char *type, const char *tokenizer_json_path,
                const char *out_path, uint64_t seed, int n_threads, char *err, size_t err_size);
