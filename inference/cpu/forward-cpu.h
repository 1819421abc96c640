// The CPU forward pass on a range of layers: the CPU backend runs every layer through it,
// and the GPU modules (cuda/, vulkan/) the layers that do not fit on the GPU, and the
// output head, when they offload only part of a model.
#pragma once

#include "runtime/context.h"

// The CPU's share of a model in a context: layers [first, last), their KV cache (of
// ctx->kv_type, for every sequence of the context), and the run state of a step through
// them (activations for max_step_tokens tokens, per-thread scratch).
typedef struct CpuLayers CpuLayers;

// Allocates all of that for layers [FIRST, LAST) of CTX's model (FIRST <= LAST <= n_layer).
// CTX is borrowed: its model, threads and sizes, and its cancellation, checked between
// layers. *OUT is set even on failure (free it).
PonderStatus cpu_layers_new(PonderContext *ctx, uint32_t first, uint32_t last, CpuLayers **out,
                            PonderError *err);
void cpu_layers_free(CpuLayers *layers);
// Bytes of the KV cache LAYERS allocated (K and V); 0 for NULL.
uint64_t cpu_layers_kv_bytes(const CpuLayers *layers);

// The step's token embeddings into X ([n_tokens][n_embd]): where the residual stream starts.
void cpu_embed_tokens(const PonderModel *model, const StepBatch *step, float *x);

// Runs STEP through the layers on the residual stream X ([n_tokens][n_embd], token t of the
// step in row t), in place; with HEAD, then the output head for step->out_rows into
// step->logits.
PonderStatus cpu_layers_forward(CpuLayers *layers, const StepBatch *step, float *x, bool head,
                                PonderError *err);
