#include "test-util.h"

#include "formats/gguf.h"
#include "quant/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int test_failures = 0;

int test_finish(void)
{
    if (test_failures) {
        fprintf(stderr, "%d check(s) failed\n", test_failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}

int test_skip(const char *why)
{
    printf("skipped: %s\n", why);
    return 77;
}

static const char *join_env(const char *var, const char *fallback, const char *relative, char *buf,
                            size_t size)
{
    const char *root = getenv(var);
    snprintf(buf, size, "%s/%s", root ? root : fallback, relative);
    return buf;
}

const char *test_shared_path(const char *relative)
{
    static char buf[4096];
    return join_env("PONDER_SHARED", "../shared", relative, buf, sizeof buf);
}

bool test_data_is_subset(void)
{
    const char *data = getenv("PONDER_TEST_DATA");
    return data && strcmp(data, "subset") == 0;
}

bool test_model_available(const char *name)
{
    char relative[256];
    snprintf(relative, sizeof relative, "models/%s", name);
    if (!test_data_is_subset() || access(test_shared_path(relative), R_OK) == 0)
        return true;
    printf("%s: not in the subset of tests/data, not checked\n", name);
    return false;
}

// ../shared/models: two architectures, each in every type.
static const char *const model_archs[] = {"qwen2", "llama"};
static const char *const model_types[] = {"f16",  "bf16",   "q8_0", "q6_k", "q5_k_m", "q5_0",
                                          "q5_1", "q4_k_m", "q4_0", "q4_1", "q3_k_m", "q2_k"};
#define N_MODEL_ARCHS (sizeof model_archs / sizeof model_archs[0])
#define N_MODEL_TYPES (sizeof model_types / sizeof model_types[0])

// Whether a name of NAMES starts with PREFIX and ends with SUFFIX.
static bool has_model(char *const *names, size_t n, const char *prefix, const char *suffix)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]), suffix_len = strlen(suffix);
        if (strncmp(names[i], prefix, strlen(prefix)) == 0 && len >= suffix_len &&
            strcmp(names[i] + len - suffix_len, suffix) == 0)
            return true;
    }
    return false;
}

void test_check_model_set(char *const *names, size_t n)
{
    char prefix[64], suffix[64];
    if (!test_data_is_subset()) {
        CHECKF(n >= N_MODEL_ARCHS * N_MODEL_TYPES,
               "expected the %zu files of ../shared/models, found %zu",
               N_MODEL_ARCHS * N_MODEL_TYPES, n);
        for (size_t a = 0; a < N_MODEL_ARCHS; a++)
            for (size_t t = 0; t < N_MODEL_TYPES; t++) {
                snprintf(prefix, sizeof prefix, "%s-%s.gguf", model_archs[a], model_types[t]);
                CHECKF(has_model(names, n, prefix, ""), "no %s", prefix);
            }
        return;
    }
    for (size_t a = 0; a < N_MODEL_ARCHS; a++) {
        snprintf(prefix, sizeof prefix, "%s-", model_archs[a]);
        CHECKF(has_model(names, n, prefix, ""), "the subset has no %s file", model_archs[a]);
    }
    for (size_t t = 0; t < N_MODEL_TYPES; t++) {
        snprintf(suffix, sizeof suffix, "-%s.gguf", model_types[t]);
        CHECKF(has_model(names, n, "", suffix), "the subset has no %s file", model_types[t]);
    }
}

const char *test_source_path(const char *relative)
{
    static char buf[4096];
    return join_env("PONDER_SOURCE_ROOT", ".", relative, buf, sizeof buf);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (cap - size < 65536) {
            cap = cap ? cap * 2 : 65536 * 2;
            char *grown = realloc(data, cap + 1);
            if (!grown) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = grown;
        }
        size_t got = fread(data + size, 1, cap - size, f);
        size += got;
        if (got == 0)
            break;
    }
    fclose(f);
    data[size] = '\0';
    if (len)
        *len = size;
    return data;
}

double test_rel_rms(const float *a, const float *ref, size_t n)
{
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        diff += d * d;
        norm += (double)ref[i] * ref[i];
    }
    return norm > 0 ? sqrt(diff / norm) : sqrt(diff);
}

float *test_dequantize_tensor(const GgufTensor *t)
{
    float *x = malloc(t->n_elements * sizeof *x);
    uint64_t row_bytes;
    if (!x || !ponder_row_bytes(t->type, t->ne[0], &row_bytes)) {
        free(x);
        return NULL;
    }
    for (uint64_t r = 0; r < t->n_elements / t->ne[0]; r++)
        ponder_dequantize_row(t->type, (const uint8_t *)t->data + r * row_bytes, x + r * t->ne[0],
                              (int64_t)t->ne[0]);
    return x;
}

const char *test_tensor_name(const GgufTensor *t)
{
    static char buf[300];
    return gguf_string_copy(t->name, buf, sizeof buf);
}
