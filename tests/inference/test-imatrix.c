// Importance matrices: llama.cpp's .dat and GGUF layouts as an independent writer
// (tools/make-imatrix-fixtures.py, run by Meson into the directory given as argument) makes
// them, read back value by value; hostile files refused with the message they were made for;
// every truncation and random corruption of a good file refused or read into sane values.
//   test-imatrix FIXTURE_DIR
#include "model-tools/imatrix.h"
#include "test-util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *fixture_dir;

static const char *fixture(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", fixture_dir, name);
    return buf;
}

// The next line of *CURSOR (NUL-terminated in place), or NULL at the end.
static char *next_line(char **cursor)
{
    char *line = *cursor;
    if (!line || !*line)
        return NULL;
    char *end = strchr(line, '\n');
    if (end)
        *end++ = '\0';
    *cursor = end;
    return line;
}

static bool same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

// EXPECTED (write_expected in the script): legacy, chunks, dataset, entries with their values.
static void check_good(const char *file, const char *expected_file)
{
    char err[512] = "";
    Imatrix *im = imatrix_load(fixture(file), err, sizeof err);
    CHECKF(im, "%s: %s", file, err);
    char *text = test_read_file(fixture(expected_file), NULL);
    CHECKF(text, "%s: cannot read", expected_file);
    if (!im || !text) {
        imatrix_free(im);
        free(text);
        return;
    }
    uint64_t n_entries = 0, values_checked = 0;
    const ImatrixEntry *e = NULL;
    uint64_t value_index = 0;
    bool dataset_seen = false;
    char *cursor = text;
    for (char *line; (line = next_line(&cursor));) {
        unsigned long long n = 0;
        char name[300];
        if (sscanf(line, "legacy %llu", &n) == 1) {
            CHECKF(im->legacy == (n != 0), "%s: legacy %d", file, im->legacy);
        } else if (sscanf(line, "chunks %llu", &n) == 1) {
            CHECKF(im->n_chunks == n, "%s: %u chunks, want %llu", file, im->n_chunks, n);
        } else if (strncmp(line, "dataset ", 8) == 0) {
            dataset_seen = true;
            CHECKF(im->dataset && strcmp(im->dataset, line + 8) == 0, "%s: dataset '%s'", file,
                   im->dataset ? im->dataset : "(none)");
        } else if (sscanf(line, "entry %299s %llu", name, &n) == 2) {
            // the entries come sorted in both
            CHECKF(n_entries < im->n_entries, "%s: only %llu entries", file,
                   (unsigned long long)im->n_entries);
            if (n_entries >= im->n_entries)
                break;
            e = &im->entries[n_entries++];
            value_index = 0;
            CHECKF(strcmp(e->name, name) == 0, "%s: entry '%s', want '%s'", file, e->name, name);
            CHECKF(e->n_values == n, "%s: %s has %llu values, want %llu", file, name,
                   (unsigned long long)e->n_values, n);
            CHECKF(imatrix_find(im, name) == e, "%s: imatrix_find('%s')", file, name);
        } else if (e) {
            float want = strtof(line, NULL);
            if (value_index < e->n_values) {
                CHECKF(same_bits(e->importance[value_index], want), "%s: %s[%llu] = %a, want %a",
                       file, e->name, (unsigned long long)value_index,
                       (double)e->importance[value_index], (double)want);
                values_checked++;
            }
            value_index++;
        }
    }
    CHECKF(n_entries == im->n_entries, "%s: %llu entries, want %llu", file,
           (unsigned long long)im->n_entries, (unsigned long long)n_entries);
    CHECKF(dataset_seen || !im->dataset, "%s: a dataset '%s' nobody wrote", file, im->dataset);
    CHECK(imatrix_find(im, "blk.99.nothing.weight") == NULL);
    printf("  %-16s %llu entries, %llu values as written\n", file, (unsigned long long)n_entries,
           (unsigned long long)values_checked);
    imatrix_free(im);
    free(text);
}

static void check_bad(const char *file, const char *fragment)
{
    char err[512] = "";
    Imatrix *im = imatrix_load(fixture(file), err, sizeof err);
    CHECKF(!im, "%s: read, but should have been refused (%s)", file, fragment);
    CHECKF(strstr(err, fragment) && strstr(err, file), "%s: message '%s', want '%s'", file, err,
           fragment);
    imatrix_free(im);
}

// A read that succeeds must hand out only names and sane importance.
static void check_sane(const Imatrix *im, const char *what)
{
    for (uint64_t i = 0; i < im->n_entries; i++) {
        const ImatrixEntry *e = &im->entries[i];
        CHECKF(e->name && e->name[0] && e->n_values > 0, "%s: entry %llu", what,
               (unsigned long long)i);
        for (uint64_t k = 0; k < e->n_values; k++)
            if (!(e->importance[k] >= 0) || !isfinite(e->importance[k])) {
                CHECKF(false, "%s: %s[%llu] = %g", what, e->name, (unsigned long long)k,
                       (double)e->importance[k]);
                break;
            }
    }
}

// Every prefix of a good file, and a few thousand copies with random bytes changed: refused
// with a message, or read into sane values (AddressSanitizer watches the reads).
static void check_mangled(const char *file)
{
    size_t size = 0;
    uint8_t *good = (uint8_t *)test_read_file(fixture(file), &size);
    CHECKF(good, "%s: cannot read", file);
    if (!good)
        return;
    uint8_t *copy = malloc(size);
    char err[512];
    int refused = 0, read = 0;
    for (size_t len = 0; len < size; len++) {
        memcpy(copy, good, len);
        err[0] = '\0';
        Imatrix *im = imatrix_load_memory(copy, len, file, err, sizeof err);
        if (im)
            check_sane(im, file);
        else
            CHECKF(err[0], "%s: prefix of %zu bytes refused without a message", file, len);
        im ? read++ : refused++;
        imatrix_free(im);
    }
    uint64_t state = 0x2545f4914f6cdd1dull;
    for (int round = 0; round < 3000; round++) {
        memcpy(copy, good, size);
        for (int k = 0; k < 1 + round % 4; k++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            copy[state % size] = (uint8_t)(state >> 32);
        }
        err[0] = '\0';
        Imatrix *im = imatrix_load_memory(copy, size, file, err, sizeof err);
        if (im)
            check_sane(im, file);
        else
            CHECKF(err[0], "%s: corrupted copy refused without a message", file);
        im ? read++ : refused++;
        imatrix_free(im);
    }
    printf("  %-16s mangled: %d refused, %d read with sane values\n", file, refused, read);
    free(copy);
    free((void *)good);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return test_skip("usage: test-imatrix FIXTURE_DIR");
    fixture_dir = argv[1];
    char *manifest = test_read_file(fixture("manifest.txt"), NULL);
    if (!manifest) {
        fprintf(stderr, "%s: cannot read (tools/make-imatrix-fixtures.py writes it)\n",
                fixture("manifest.txt"));
        return 1;
    }
    int n_good = 0, n_bad = 0;
    char *cursor = manifest;
    for (char *line; (line = next_line(&cursor));) {
        char kind[16], file[128];
        int used = 0;
        if (sscanf(line, "%15s %127s %n", kind, file, &used) < 2)
            continue;
        const char *rest = line + used;
        if (strcmp(kind, "good") == 0) {
            check_good(file, rest);
            n_good++;
        } else if (strcmp(kind, "bad") == 0) {
            check_bad(file, rest);
            n_bad++;
        }
    }
    free(manifest);
    CHECKF(n_good >= 4 && n_bad >= 20, "manifest: %d good and %d bad files", n_good, n_bad);
    printf("  %d hostile files refused with their messages\n", n_bad);

    char err[512] = "";
    CHECK(!imatrix_load(fixture("no-such-file.dat"), err, sizeof err));
    CHECKF(strstr(err, "no-such-file.dat"), "message: %s", err);
    CHECK(!imatrix_load(fixture_dir, err, sizeof err)); // a directory
    CHECKF(strstr(err, "not a regular file") || strstr(err, "directory"), "message: %s", err);

    check_mangled("good.dat");
    check_mangled("good.gguf");
    return test_finish();
}
