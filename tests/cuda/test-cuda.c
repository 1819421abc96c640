// The CUDA backend against the CPU backend: every op (cuda-test-ops.c), then whole models
// in every weight type, batched decode, the prefill GEMM path, decode graphs and partial
// offload (cuda-test-models.c). Skips (exit 77) on machines without a usable GPU.
//
//   test-cuda            everything
//   test-cuda --quick    a short run (for compute-sanitizer)
//   test-cuda --ops | --models   one half
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda-test.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

float test_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

void test_fill(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) {
        float v = (test_random() + test_random() + test_random()) * scale;
        if ((i * 2654435761u) % 97 == 0)
            v *= 6.0f; // outliers stretch the 8-bit scales as real activations do
        x[i] = v;
    }
}

bool cuda_ok(cudaError_t e, const char *what)
{
    CHECKF(e == cudaSuccess, "%s: %s", what, cudaGetErrorString(e));
    return e == cudaSuccess;
}

void *dev_alloc(size_t bytes)
{
    void *p = NULL;
    if (!cuda_ok(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc"))
        return NULL;
    cuda_ok(cudaMemset(p, 0xff, bytes), "cudaMemset"); // poison: unwritten outputs show as NaN
    return p;
}

void *dev_upload(const void *host, size_t bytes)
{
    void *p = dev_alloc(bytes);
    if (p)
        cuda_ok(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
    return p;
}

void dev_download(void *host, const void *dev, size_t bytes)
{
    cuda_ok(cudaDeviceSynchronize(), "kernel run");
    cuda_ok(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
}

CudaAct dev_act(uint32_t n_tokens, uint32_t stride)
{
    size_t n = (size_t)n_tokens * stride;
    return (CudaAct){
        .f = dev_alloc(n * sizeof(float)),
        .h = dev_alloc(n * sizeof(uint16_t)),
        .q = dev_alloc(n),
        .d = dev_alloc(n / 32 * sizeof(float)),
        .stride = stride,
    };
}

void dev_act_free(CudaAct *a)
{
    cudaFree(a->f);
    cudaFree(a->h);
    cudaFree(a->q);
    cudaFree(a->d);
}

int main(int argc, char **argv)
{
    bool quick = false, ops = true, models = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--ops") == 0)
            models = false;
        else if (strcmp(argv[i], "--models") == 0)
            ops = false;
    }
    int n_devices = 0;
    cudaError_t e = cudaGetDeviceCount(&n_devices);
    if (e != cudaSuccess || n_devices == 0)
        return test_skip(e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device");
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
        printf("device: %s, compute capability %d.%d, %d multiprocessors\n", prop.name, prop.major,
               prop.minor, prop.multiProcessorCount);
    if (ops)
        run_op_tests(quick);
    if (models)
        run_model_tests(quick);
    return test_finish();
}
