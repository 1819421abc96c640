// Token sampling: greedy, temperature, top-k, top-p, min-p, and repetition / presence /
// frequency penalties, with a seeded RNG (same seed and logits, same choices).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct SamplerParams {
    float temperature;        // <= 0 means greedy
    int32_t top_k;            // <= 0: off
    float top_p;              // >= 1: off
    float min_p;              // <= 0: off
    float repetition_penalty; // 1: off (CTRL-style: divide positive logits, multiply negative)
    float presence_penalty;   // 0: off
    float frequency_penalty;  // 0: off
    int32_t penalty_last_n;   // how many recent tokens the penalties look at (-1: all)
    uint64_t seed;
} SamplerParams;

// DeepSeek's recommendation for R1: temperature 0.6, top-p 0.95; no other filters.
SamplerParams sampler_default_params(void);

typedef struct Sampler Sampler;

Sampler *sampler_new(const SamplerParams *params, int32_t n_vocab);
void sampler_free(Sampler *s);
// Records a token (prompt or generated) for the penalties.
void sampler_accept(Sampler *s, int32_t token);
void sampler_reset(Sampler *s);
// Chooses the next token from LOGITS[0..n_vocab) (not modified).
int32_t sampler_sample(Sampler *s, const float *logits);

// Index of the largest logit (lowest index on ties).
int32_t sampler_argmax(const float *logits, int32_t n);
