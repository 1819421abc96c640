// ponder-infer: the command-line face of the inference library. Its interface is a
// contract that scripts rely on (see `ponder-infer --help`).
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ponder-infer.h"

// Options shared by run, logits and bench.
typedef struct CommonOptions {
    const char *model_path;
    PonderBackend backend;
    int32_t gpu_layers;
    PonderKvType kv_type;
    uint32_t n_ctx;
    uint32_t n_threads;
    uint32_t prefill_chunk; // tokens per prefill step; 0: the backend's default
} CommonOptions;

typedef struct ArgCursor {
    int argc;
    char **argv;
    int i;
} ArgCursor;

// Consumes a common option at the cursor (advancing it); returns 1 if consumed, 0 if the
// argument is not a common option, -1 on a bad value (message printed).
int parse_common_option(ArgCursor *args, CommonOptions *opts);
// The value following option NAME; prints an error and returns NULL when missing.
const char *option_value(ArgCursor *args, const char *name);
bool parse_u32(const char *text, uint32_t *out);
bool parse_i32(const char *text, int32_t *out);
bool parse_u64(const char *text, uint64_t *out);
bool parse_float(const char *text, float *out);

// Loads the model and makes a context for N_SEQ sequences; prints errors.
bool open_model(const CommonOptions *opts, uint32_t n_seq, PonderModel **model,
                PonderContext **ctx);
double now_seconds(void);
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_synth(int argc, char **argv);
