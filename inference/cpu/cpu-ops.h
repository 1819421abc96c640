// The CPU backend's operations on float activations, parallelised over a thread pool.
// Matrix products quantize the activations once to the weight type's dot type and use
// the integer dot/GEMM kernels of quant.h.
#pragma once

#include "runtime/model.h"
#include "runtime/threadpool.h"

// Y[t][r] = dot(W row r, X[t]) for t < n_tokens, r < w->n_rows; X is [n_tokens][row_len].
// XQ_SCRATCH must hold n_tokens quantized rows (cpu_matmul_scratch_bytes).
void cpu_matmul(ThreadPool *pool, const Weight *w, const float *x, uint32_t n_tokens, float *y,
                void *xq_scratch);
uint64_t cpu_matmul_scratch_bytes(uint64_t row_len, uint32_t n_tokens);

// Runs FN(ARG, begin, end) over [0, N) split into one contiguous range per thread
// (serially when N is small, where waking the threads would cost more than the work).
typedef void (*RangeFn)(void *arg, uint64_t begin, uint64_t end);
void cpu_parallel_for(ThreadPool *pool, uint64_t n, uint64_t min_per_thread, RangeFn fn, void *arg);

// OUT[i] = X[i] / rms(X) * WEIGHT[i], for each of N_ROWS rows of length N.
void cpu_rms_norm(ThreadPool *pool, const float *x, const float *weight, float eps, uint32_t n_rows,
                  uint32_t n, float *out);

// In place and on the calling thread: each of N_HEADS heads of X[n_heads][head_dim]
// RMS-normalised and multiplied by WEIGHT[head_dim] (qwen3's q and k norms).
void cpu_head_norm(float *x, const float *weight, float eps, uint32_t n_heads, uint32_t head_dim);

// Rotates N_HEADS heads of HEAD_DIM in X (first n_rot dims of each) for position POS.
// INV_FREQ[n_rot/2] holds each pair's angular frequency.
void cpu_rope(float *x, uint32_t n_heads, uint32_t head_dim, uint32_t n_rot, RopeStyle style,
              const double *inv_freq, uint32_t pos);

// GATE[i] = silu(GATE[i]) * UP[i]
void cpu_swiglu(ThreadPool *pool, float *gate, const float *up, uint64_t n);
// DST[i] += SRC[i]
void cpu_add(ThreadPool *pool, float *dst, const float *src, uint64_t n);
