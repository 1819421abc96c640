// `synth` without writing: what synth_gguf (model-files.h) would write for a preset and
// type -- every tensor's name, shape and type, and the file's exact size -- so tests and
// benchmarks can check a preset against the published files without producing gigabytes.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct SynthTensorPlan {
    char name[48];
    uint32_t type; // a PonderType
    uint32_t n_dims;
    uint64_t ne[2];
    uint64_t n_bytes;
} SynthTensorPlan;

typedef struct SynthPlan {
    uint64_t n_tensors;
    SynthTensorPlan *tensors; // in file order
    uint64_t n_vocab_rows;    // rows of token_embd / output
    uint64_t n_tokens;        // length of tokenizer.ggml.tokens (0 without a tokenizer)
    uint64_t data_bytes;      // tensor data section, alignment padding included
    uint64_t file_bytes;      // the whole file synth_gguf writes
} SynthPlan;

// The preset names, space-separated.
const char *synth_preset_names(void);

// Plans what synth_gguf(PRESET, TYPE, TOKENIZER_JSON_PATH, ...) writes. TOKENIZER_JSON_PATH
// may be NULL (no tokenizer metadata; tiny presets then get 1,056 vocabulary rows).
bool synth_plan(const char *preset, const char *type, const char *tokenizer_json_path,
                SynthPlan *plan, char *err, size_t err_size);
void synth_plan_free(SynthPlan *plan);
