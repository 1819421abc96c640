// Shared pieces of the GPU test (test-cuda.c): random data, device buffers, and the two
// halves of the test — every op against the CPU backend's op (cuda-test-ops.c), and whole
// models against the CPU backend and llama.cpp (cuda-test-models.c).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "../inference/test-util.h"
#include "cuda-ops.h"

// A uniform float in [-1, 1) from a fixed-seed generator (runs are reproducible).
float test_random(void);
// Fills N floats with roughly normal values of the given scale, plus a few outliers.
void test_fill(float *x, size_t n, float scale);

// Device buffers; a failed CUDA call is a test failure naming the call.
bool cuda_ok(cudaError_t e, const char *what);
void *dev_alloc(size_t bytes);
void *dev_upload(const void *host, size_t bytes);
void dev_download(void *host, const void *dev, size_t bytes);
// An activation buffer with every form allocated.
CudaAct dev_act(uint32_t n_tokens, uint32_t stride);
void dev_act_free(CudaAct *a);

void run_op_tests(bool quick);
void run_model_tests(bool quick);
