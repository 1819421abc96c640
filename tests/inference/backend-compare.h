// Whole models on a GPU backend against the CPU backend (the reference): the helpers the
// CUDA and Vulkan tests share. Both contexts get the same inputs and steps; the GPU's
// logits must stay within a relative RMS bound of the CPU's.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "formats/json.h"
#include "ponder-infer.h"
#include "test-util.h"

// One model file open on the CPU backend and on the backend under test.
typedef struct BackendPair {
    PonderModel *model;
    PonderContext *cpu, *gpu;
    uint32_t n_vocab;
    const char *name;     // the model file, for messages
    const char *gpu_name; // "cuda", "vulkan": for messages
    // Also require the CPU's greedy choice, unless its two best logits nearly tie (random
    // weights make those common). Off unless the caller sets it after opening.
    bool check_greedy_choice;
} BackendPair;

// models/FILE from $PONDER_SHARED (FILE itself when it names a folder, as "models2/x.gguf");
// a failure is a test failure (NULL).
PonderModel *backend_test_load_model(const char *file);

// Loads models/FILE and makes a context from GPU_PARAMS (params->backend is the backend
// under test) and one with the same params on the CPU. A failed load or CPU context is a
// test failure; a failed GPU context leaves GPU_ERR set (status PONDER_OK when none was
// tried) for the caller to judge. False unless both contexts exist; close the pair anyway.
bool backend_pair_open(BackendPair *pair, const char *file, const PonderContextParams *gpu_params,
                       PonderError *gpu_err);
void backend_pair_close(BackendPair *pair);

// Runs the same N entries on both contexts, into CPU_LOGITS and GPU_LOGITS ([n][n_vocab]);
// the entries' logits pointers are overwritten.
bool backend_pair_decode(BackendPair *p, PonderBatchEntry *entries, size_t n, float *cpu_logits,
                         float *gpu_logits);
// Where each context keeps its KV cache (runtime/context.h's context_kv_bytes): the CPU
// context every layer's on the host; the GPU context the cache of its GPU_LAYERS layers (all
// when negative) in device memory and only the other layers' on the host, no layer's twice;
// ponder_context_kv_bytes the sum. Both must store the same element type (the tests' f16
// or f32 caches), so a layer takes as many bytes on either.
void backend_pair_check_kv_placement(const BackendPair *p, int32_t gpu_layers);
// The GPU's logits within BOUND of the CPU's (see check_greedy_choice); returns the rel RMS.
double backend_pair_check_logits(const BackendPair *p, const char *what, const float *gpu,
                                 const float *cpu, double bound);
// A new sequence on both: the prompt, then N_STEPS greedy decode steps (the CPU's choice fed
// to both). Returns the worst rel RMS; the GPU's prompt logits go to FIRST_GPU_LOGITS
// unless it is NULL.
double backend_pair_prompt_and_decode(BackendPair *p, const int32_t *prompt, uint32_t n_prompt,
                                      int n_steps, float *cpu_logits, float *gpu_logits,
                                      double bound, float *first_gpu_logits);
// N_SEQ sequences in one context: prompts of PROMPT_LENS[s] tokens (PROMPT's, shifted per
// sequence) prefilled together in one step, then N_STEPS decode steps of all of them, the
// last of only every LAST_STEP_STRIDE-th sequence (another step shape). The CPU's greedy
// choices are fed to both; returns the worst rel RMS.
double backend_pair_check_batched(BackendPair *p, const int32_t *prompt, uint32_t n_prompt,
                                  const uint32_t *prompt_lens, uint32_t n_seq, int n_steps,
                                  uint32_t last_step_stride, double bound);

// models/reference.json: its prompt ids, at most MAX of them, into PROMPT; returns how many.
uint32_t reference_prompt(const JsonValue *ref, int32_t *prompt, uint32_t max);
// LOGITS against llama.cpp's for one file of reference.json (FILE_REF, an entry of its
// "files"; models2's "logits" where there are no "llama_cpp_logits"): the rel RMS, or
// INFINITY when the entry has no N_VOCAB logits.
double reference_rel_rms(const JsonValue *file_ref, const float *logits, uint32_t n_vocab);
