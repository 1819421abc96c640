#include "test-util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static const char *join_env(const char *var, const char *fallback, const char *relative,
                            char *buf, size_t size)
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
