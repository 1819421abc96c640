// Reading importance matrices (see imatrix.h for the two layouts and what is checked).
//
// The file is read into memory whole (a few MB for the models Ponder runs), then parsed from
// that image: the legacy layout with a bounds-checked cursor, the GGUF one by the GGUF reader,
// which validates the container before this file looks at the tensors.
#include "imatrix.h"

#include "formats/gguf.h"
#include "quant/quant.h"
#include "runtime/error-text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { IMATRIX_MAX_NAME = 256 }; // the GGUF reader's limit on tensor names

void imatrix_free(Imatrix *imatrix)
{
    if (!imatrix)
        return;
    for (uint64_t i = 0; i < imatrix->n_entries; i++) {
        free(imatrix->entries[i].name);
        free(imatrix->entries[i].importance);
    }
    free(imatrix->entries);
    free(imatrix->dataset);
    free(imatrix);
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const ImatrixEntry *)a)->name, ((const ImatrixEntry *)b)->name);
}

const ImatrixEntry *imatrix_find(const Imatrix *imatrix, const char *name)
{
    if (!imatrix || !name || imatrix->n_entries == 0)
        return NULL;
    ImatrixEntry key = {.name = (char *)name};
    return bsearch(&key, imatrix->entries, imatrix->n_entries, sizeof key, compare_entries);
}

// A tensor name as an entry's name: 1 to 256 bytes, none of them control characters (a name
// ends up in messages and in metadata). Returns a malloc'd copy, or NULL with a message.
static char *copy_name(const char *src, uint64_t len, const char *path, const char *where,
                       char *err, size_t err_size)
{
    if (len < 1 || len > IMATRIX_MAX_NAME) {
        ponder_failf(err, err_size, "%s: %s: a name of %llu bytes (1 to %d expected)", path, where,
                     (unsigned long long)len, IMATRIX_MAX_NAME);
        return NULL;
    }
    for (uint64_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c < 0x20 || c == 0x7f) {
            ponder_failf(err, err_size, "%s: %s: the name has a control character (byte %llu)",
                         path, where, (unsigned long long)i);
            return NULL;
        }
    }
    char *name = malloc(len + 1);
    if (!name) {
        ponder_failf(err, err_size, "out of memory");
        return NULL;
    }
    memcpy(name, src, len);
    name[len] = '\0';
    return name;
}

// Sorts the entries (imatrix_find searches them) and refuses a name given twice.
static bool sort_entries(Imatrix *im, const char *path, char *err, size_t err_size)
{
    if (im->n_entries > 1)
        qsort(im->entries, im->n_entries, sizeof *im->entries, compare_entries);
    for (uint64_t i = 1; i < im->n_entries; i++)
        if (strcmp(im->entries[i - 1].name, im->entries[i].name) == 0)
            return ponder_failf(err, err_size, "%s: entry '%s' appears twice", path,
                                im->entries[i].name);
    return true;
}

static bool bad_sum(float v)
{
    return !(v >= 0) || !isfinite(v);
}

// ---- The legacy .dat layout --------------------------------------------------------------

typedef struct Cursor {
    const uint8_t *p;
    size_t left;
} Cursor;

static bool read_i32(Cursor *c, int32_t *out)
{
    if (c->left < 4)
        return false;
    uint32_t u = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 |
                 (uint32_t)c->p[3] << 24;
    memcpy(out, &u, sizeof u);
    c->p += 4;
    c->left -= 4;
    return true;
}

static float read_f32(Cursor *c) // the caller checked that 4 bytes are left
{
    int32_t bits = 0;
    read_i32(c, &bits);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

// Entry I (named NAME once known) of the legacy file into E.
static bool read_legacy_entry(Cursor *c, int32_t i, ImatrixEntry *e, const char *path, char *err,
                              size_t err_size)
{
    char where[64];
    snprintf(where, sizeof where, "entry %d", (int)i + 1);
    int32_t len, ncall, nval;
    if (!read_i32(c, &len))
        return ponder_failf(err, err_size, "%s: %s: the file ends before its name", path, where);
    if (len < 1 || len > IMATRIX_MAX_NAME)
        return ponder_failf(err, err_size, "%s: %s: a name of %d bytes (1 to %d expected)", path,
                            where, (int)len, IMATRIX_MAX_NAME);
    if ((size_t)len > c->left)
        return ponder_failf(err, err_size, "%s: %s: its %d-byte name runs past the end of the file",
                            path, where, (int)len);
    if (!(e->name = copy_name((const char *)c->p, (uint64_t)len, path, where, err, err_size)))
        return false;
    c->p += len;
    c->left -= (size_t)len;
    if (!read_i32(c, &ncall) || !read_i32(c, &nval))
        return ponder_failf(err, err_size, "%s: entry '%s': the file ends before its value count",
                            path, e->name);
    if (ncall < 0)
        return ponder_failf(err, err_size, "%s: entry '%s': ncall is %d (a call count)", path,
                            e->name, (int)ncall);
    if (nval < 1)
        return ponder_failf(err, err_size, "%s: entry '%s': %d values", path, e->name, (int)nval);
    if ((size_t)nval > c->left / 4)
        return ponder_failf(err, err_size,
                            "%s: entry '%s': %d values run past the end of the file (%zu bytes "
                            "left)",
                            path, e->name, (int)nval, c->left);
    e->n_values = (uint64_t)nval;
    if (!(e->importance = malloc((size_t)nval * sizeof *e->importance)))
        return ponder_failf(err, err_size, "out of memory");
    for (int32_t k = 0; k < nval; k++) {
        float v = read_f32(c);
        if (bad_sum(v))
            return ponder_failf(err, err_size,
                                "%s: entry '%s': value %d is %g (sums of squares are finite and "
                                ">= 0)",
                                path, e->name, (int)k, (double)v);
        e->importance[k] = ncall > 0 ? v / (float)ncall : v;
    }
    return true;
}

static bool read_legacy(Imatrix *im, const uint8_t *data, size_t size, const char *path, char *err,
                        size_t err_size)
{
    Cursor c = {data, size};
    int32_t n;
    if (!read_i32(&c, &n))
        return ponder_failf(err, err_size, "%s: %zu bytes: too short for an importance matrix",
                            path, size);
    // Each entry takes at least 17 bytes: a name length, one byte of name, ncall, nval and a
    // value.
    if (n < 1 || (size_t)n > c.left / 17)
        return ponder_failf(err, err_size,
                            "%s: %d entries in %zu bytes: not an importance matrix (neither the "
                            "GGUF nor the legacy .dat layout)",
                            path, (int)n, size);
    im->legacy = true;
    if (!(im->entries = calloc((size_t)n, sizeof *im->entries)))
        return ponder_failf(err, err_size, "out of memory");
    for (int32_t i = 0; i < n; i++) {
        im->n_entries = (uint64_t)i + 1; // so imatrix_free frees what this entry got
        if (!read_legacy_entry(&c, i, &im->entries[i], path, err, err_size))
            return false;
    }

    // Since 2024: the chunk count, then the calibration file's name.
    if (c.left > 0) {
        int32_t chunks, len;
        if (!read_i32(&c, &chunks) || !read_i32(&c, &len))
            return ponder_failf(err, err_size,
                                "%s: %zu stray bytes after the entries (a chunk count and a "
                                "dataset name, or nothing, expected)",
                                path, c.left);
        if (chunks < 0 || len < 0 || (size_t)len != c.left)
            return ponder_failf(err, err_size,
                                "%s: after the entries, a chunk count of %d and a %d-byte dataset "
                                "name in %zu bytes",
                                path, (int)chunks, (int)len, c.left);
        im->n_chunks = (uint32_t)chunks;
        if (len > 0) {
            if (memchr(c.p, '\0', (size_t)len))
                return ponder_failf(err, err_size, "%s: the dataset name has a NUL byte", path);
            if (!(im->dataset = malloc((size_t)len + 1)))
                return ponder_failf(err, err_size, "out of memory");
            memcpy(im->dataset, c.p, (size_t)len);
            im->dataset[len] = '\0';
        }
    }
    return true;
}

// ---- The GGUF layout ---------------------------------------------------------------------

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static float tensor_f32(const GgufTensor *t, uint64_t i)
{
    float v;
    memcpy(&v, (const uint8_t *)t->data + 4 * i, sizeof v);
    return v;
}

// The entry of BASE from BASE.in_sum2 (SUMS) and BASE.counts.
static bool read_gguf_entry(const GgufFile *f, const GgufTensor *sums, const char *base,
                            ImatrixEntry *e, const char *path, char *err, size_t err_size)
{
    char counts_name[IMATRIX_MAX_NAME + 16];
    snprintf(counts_name, sizeof counts_name, "%s.counts", base);
    const GgufTensor *counts = gguf_find_tensor(f, counts_name);
    if (!counts)
        return ponder_failf(err, err_size, "%s: '%s.in_sum2' has no '%s' beside it", path, base,
                            counts_name);
    if (sums->type != PONDER_TYPE_F32 || counts->type != PONDER_TYPE_F32)
        return ponder_failf(err, err_size, "%s: '%s': sums and counts must be F32", path, base);
    uint64_t n = sums->ne[0], n_mat = sums->n_elements / n;
    if (counts->n_elements != n_mat)
        return ponder_failf(err, err_size, "%s: '%s': %llu counts for %llu matrices of %llu sums",
                            path, base, (unsigned long long)counts->n_elements,
                            (unsigned long long)n_mat, (unsigned long long)n);
    e->n_values = sums->n_elements;
    if (!(e->importance = malloc(e->n_values * sizeof *e->importance)))
        return ponder_failf(err, err_size, "out of memory");
    for (uint64_t m = 0; m < n_mat; m++) {
        float count = tensor_f32(counts, m);
        if (bad_sum(count))
            return ponder_failf(err, err_size, "%s: '%s': count %llu is %g (finite and >= 0)", path,
                                base, (unsigned long long)m, (double)count);
        for (uint64_t k = 0; k < n; k++) {
            float sum = tensor_f32(sums, m * n + k);
            if (bad_sum(sum))
                return ponder_failf(err, err_size,
                                    "%s: '%s': sum %llu is %g (sums of squares are finite and >= "
                                    "0)",
                                    path, base, (unsigned long long)(m * n + k), (double)sum);
            // A matrix no activation reached gets 1 everywhere, as llama-quantize gives it.
            float importance = count > 0 ? sum / count : 1.0f;
            if (!isfinite(importance))
                return ponder_failf(err, err_size, "%s: '%s': sum %g / count %g overflows", path,
                                    base, (double)sum, (double)count);
            e->importance[m * n + k] = importance;
        }
    }
    return true;
}

static bool read_gguf(Imatrix *im, const GgufFile *f, const char *path, char *err, size_t err_size)
{
    const GgufKv *type = gguf_find_kv(f, "general.type");
    if (type &&
        (type->type != GGUF_VALUE_STRING || !gguf_string_equals(type->value.str, "imatrix"))) {
        char what[64] = "not a string";
        if (type->type == GGUF_VALUE_STRING)
            gguf_string_copy(type->value.str, what, sizeof what);
        return ponder_failf(err, err_size,
                            "%s: a GGUF file whose general.type is '%s', not an importance matrix "
                            "('imatrix')",
                            path, what);
    }
    char name[IMATRIX_MAX_NAME + 1];
    uint64_t n_sums = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_string_copy(f->tensors[i].name, name, sizeof name);
        if (ends_with(name, ".in_sum2"))
            n_sums++;
        // a count without its sums would be dropped silently: refuse it instead
        if (ends_with(name, ".counts")) {
            char sums_name[IMATRIX_MAX_NAME + 16];
            snprintf(sums_name, sizeof sums_name, "%.*s.in_sum2",
                     (int)(strlen(name) - strlen(".counts")), name);
            if (!gguf_find_tensor(f, sums_name))
                return ponder_failf(err, err_size, "%s: '%s' has no '%s' beside it", path, name,
                                    sums_name);
        }
    }
    if (n_sums == 0)
        return ponder_failf(err, err_size,
                            "%s: no importance data (no tensor named NAME.in_sum2): not an "
                            "importance matrix",
                            path);
    if (!(im->entries = calloc(n_sums, sizeof *im->entries)))
        return ponder_failf(err, err_size, "out of memory");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GgufTensor *t = &f->tensors[i];
        gguf_string_copy(t->name, name, sizeof name);
        if (!ends_with(name, ".in_sum2"))
            continue;
        ImatrixEntry *e = &im->entries[im->n_entries++];
        if (!(e->name =
                  copy_name(name, strlen(name) - strlen(".in_sum2"), path, name, err, err_size)) ||
            !read_gguf_entry(f, t, e->name, e, path, err, err_size))
            return false;
    }

    const GgufKv *datasets = gguf_find_kv(f, "imatrix.datasets");
    GgufString first;
    if (datasets && gguf_array_string(datasets, 0, &first) && first.len > 0) {
        if (memchr(first.data, '\0', first.len) || !(im->dataset = malloc(first.len + 1)))
            return ponder_failf(err, err_size, "%s: imatrix.datasets: unusable name", path);
        gguf_string_copy(first, im->dataset, first.len + 1);
    }
    uint32_t chunks;
    if (gguf_get_u32(f, "imatrix.chunk_count", &chunks))
        im->n_chunks = chunks;
    return true;
}

// ---- Entry points --------------------------------------------------------------------------

Imatrix *imatrix_load_memory(const void *data, size_t size, const char *name, char *err,
                             size_t err_size)
{
    Imatrix *im = calloc(1, sizeof *im);
    if (!im) {
        ponder_failf(err, err_size, "out of memory");
        return NULL;
    }
    bool ok;
    if (size >= 4 && memcmp(data, "GGUF", 4) == 0) {
        char reason[512];
        GgufFile *f = gguf_open_memory(data, size, reason, sizeof reason);
        ok = f ? read_gguf(im, f, name, err, err_size)
               : ponder_failf(err, err_size, "%s: %s", name, reason);
        gguf_close(f);
    } else {
        ok = read_legacy(im, data, size, name, err, err_size);
    }
    if (ok)
        ok = sort_entries(im, name, err, err_size);
    if (!ok) {
        imatrix_free(im);
        return NULL;
    }
    return im;
}

Imatrix *imatrix_load(const char *path, char *err, size_t err_size)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        ponder_failf(err, err_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    const char *problem = NULL;
    if (fstat(fileno(file), &st) != 0)
        problem = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        problem = "not a regular file";
    else if ((uint64_t)st.st_size > SIZE_MAX / 2)
        problem = "too large";
    uint8_t *data = NULL;
    size_t size = problem ? 0 : (size_t)st.st_size;
    if (!problem && !(data = malloc(size ? size : 1)))
        problem = "out of memory";
    if (!problem && fread(data, 1, size, file) != size)
        problem = ferror(file) ? strerror(errno) : "the file shrank while it was read";
    fclose(file);
    if (problem) {
        free(data);
        ponder_failf(err, err_size, "%s: %s", path, problem);
        return NULL;
    }
    Imatrix *im = imatrix_load_memory(data, size, path, err, err_size);
    free(data);
    return im;
}
