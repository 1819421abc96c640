// Partial offload for the GPU backends (cuda/, vulkan/): the layers that do not fit on the
// GPU, and the output head, run on the CPU through the CPU backend itself (the reference),
// not a copy of it. Both modules link it from the static library.
#pragma once

#include "runtime/context.h"

typedef struct CpuTail CpuTail;

// The CPU backend on layers [FIRST_LAYER, n_layer) and the head, reading the residual
// stream the GPU left in X_ROWS ([max_step_tokens][n_embd], token t of a step in row t).
// X_ROWS NULL (FIRST_LAYER 0): the tail is the whole model and reads the step's own
// tokens. *OUT is set even on failure (free it).
PonderStatus cpu_tail_new(PonderContext *ctx, uint32_t first_layer, float *x_rows, CpuTail **out,
                          PonderError *err);
// Runs STEP on the tail; a cancel of CTX reaches it.
PonderStatus cpu_tail_forward(CpuTail *tail, PonderContext *ctx, const StepBatch *step,
                              PonderError *err);
void cpu_tail_free(CpuTail *tail);
