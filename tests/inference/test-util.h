// A minimal test harness for the inference tests (no GLib: they also run on the GPU
// machine, which builds with -Dinference_only=true).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

extern int test_failures;

// Records a failure with its location; the test continues so one run shows them all.
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

// Exit code for meson: 0 pass, 1 fail, 77 skipped.
int test_finish(void);
// Prints "skipped: WHY" and returns 77 (use as `return test_skip("...")`).
int test_skip(const char *why);

// $PONDER_SHARED/RELATIVE (../shared beside the repository) in a static buffer.
const char *test_shared_path(const char *relative);
// Whether $PONDER_SHARED is the covering subset that tests/data carries (Meson sets
// PONDER_TEST_DATA=subset where ../shared is absent) rather than ../shared's full sets.
bool test_data_is_subset(void);
// Whether to check models/NAME ("llama-q4_0.gguf"): always with ../shared (a missing file is
// then a failure, as any), only where the subset carries it otherwise. Says when it skips.
bool test_model_available(const char *name);
// The model files NAMES ("ARCH-TYPE.gguf", from a directory or a reference.json) must be every
// architecture in every type, as ../shared/models has them; the subset, every type and every
// architecture at least once.
void test_check_model_set(char *const *names, size_t n);
// $PONDER_SOURCE_ROOT/RELATIVE in a static buffer.
const char *test_source_path(const char *relative);
// Reads a whole file (malloc'd, NUL-terminated); NULL on error. *len may be NULL.
char *test_read_file(const char *path, size_t *len);
// Relative RMS error ||a - ref|| / ||ref||.
double test_rel_rms(const float *a, const float *ref, size_t n);

struct GgufTensor;
// Tensor T of an open GGUF file as floats (malloc'd; NULL when its rows cannot be decoded).
float *test_dequantize_tensor(const struct GgufTensor *t);
// T's name, NUL-terminated in a static buffer.
const char *test_tensor_name(const struct GgufTensor *t);
