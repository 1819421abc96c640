// The GGUF reader against malformed input:
// - every file in tests/data/gguf-hostile/ (made by tools/make-hostile-gguf.py) is rejected
//   by gguf_open and gguf_open_memory with the message fragment listed for it in
//   expected-errors.txt;
// - the fuzzer's seed files (tests/fuzz/corpus-gguf/), encoded by Python, open;
// - a small file made by the writer is truncated at every length and mutated a few
//   thousand times (fixed seed); each variant goes through the fuzz target's checks
//   (tests/fuzz/fuzz-gguf.c, linked in), which read everything an accepted file exposes.
// Buffers handed to gguf_open_memory are malloc'd at their exact size so AddressSanitizer
// catches any read past the end.
#include "formats/gguf.h"
#include "quant/quant.h"
#include "test-util.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Defined in tests/fuzz/fuzz-gguf.c: opens DATA and reads everything; aborts on a broken
// invariant or a rejection without a message.
bool fuzz_gguf_open_and_touch(const uint8_t *data, size_t size, char *err, size_t err_size);

typedef struct Expectation {
    char name[128];
    char fragment[256];
    bool seen;
} Expectation;

static int load_expectations(const char *path, Expectation *out, int max)
{
    size_t len;
    char *text = test_read_file(path, &len);
    CHECKF(text != NULL, "cannot read %s", path);
    if (!text)
        return 0;
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab)
            continue;
        *tab = '\0';
        snprintf(out[n].name, sizeof out[n].name, "%s", line);
        snprintf(out[n].fragment, sizeof out[n].fragment, "%s", tab + 1);
        out[n].seen = false;
        n++;
    }
    free(text);
    return n;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

// Exact-size heap copy, so a read one byte past the end is an ASan report.
static uint8_t *exact_copy(const void *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    if (size)
        memcpy(copy, data, size);
    return copy;
}

static void test_hostile_corpus(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_source_path("tests/data/gguf-hostile"));
    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/expected-errors.txt", dir);
    static Expectation expected[256];
    int n_expected = load_expectations(manifest, expected, 256);

    DIR *d = opendir(dir);
    CHECKF(d != NULL, "cannot open %s", dir);
    if (!d)
        return;
    int n_files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!has_suffix(e->d_name, ".gguf"))
            continue;
        n_files++;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        Expectation *want = NULL;
        for (int i = 0; i < n_expected; i++)
            if (strcmp(expected[i].name, e->d_name) == 0)
                want = &expected[i];
        CHECKF(want != NULL, "%s has no line in expected-errors.txt", e->d_name);

        char err[512] = "";
        GgufFile *f = gguf_open(path, err, sizeof err);
        CHECKF(f == NULL, "%s was accepted", e->d_name);
        gguf_close(f);
        CHECKF(err[0] != '\0', "%s: rejected without a message", e->d_name);
        if (want) {
            want->seen = true;
            CHECKF(strstr(err, want->fragment) != NULL, "%s: message '%s' lacks '%s'", e->d_name,
                   err, want->fragment);
        }
        printf("%-32s %s\n", e->d_name, err + strlen(dir) + 1);

        size_t size;
        char *bytes = test_read_file(path, &size);
        uint8_t *copy = exact_copy(bytes, size);
        CHECKF(!fuzz_gguf_open_and_touch(copy, size, err, sizeof err), "%s accepted from memory",
               e->d_name);
        free(copy);
        free(bytes);
    }
    closedir(d);
    for (int i = 0; i < n_expected; i++)
        CHECKF(expected[i].seen, "%s is listed but missing", expected[i].name);
    printf("%d hostile files rejected\n", n_files);
    CHECKF(n_files >= 30, "only %d hostile files", n_files);
}

// The seeds are valid files (except the 16 KiB prefix of a real one), encoded by Python
// independently of the writer.
static void test_seed_corpus(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_source_path("tests/fuzz/corpus-gguf"));
    DIR *d = opendir(dir);
    CHECKF(d != NULL, "cannot open %s", dir);
    if (!d)
        return;
    int n_valid = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!has_suffix(e->d_name, ".gguf"))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size;
        char *bytes = test_read_file(path, &size);
        uint8_t *copy = exact_copy(bytes, size);
        char err[512] = "";
        bool ok = fuzz_gguf_open_and_touch(copy, size, err, sizeof err);
        bool truncated_seed = strncmp(e->d_name, "real-prefix", 11) == 0;
        CHECKF(ok != truncated_seed, "seed %s: %s", e->d_name, ok ? "accepted" : err);
        n_valid += ok;
        free(copy);
        free(bytes);
    }
    closedir(d);
    CHECKF(n_valid >= 5, "only %d valid seeds", n_valid);
}

// A small file with string arrays, integer arrays and tensors of several types.
static uint8_t *make_valid_file(size_t *size)
{
    GgufWriter *w = gguf_writer_new();
    gguf_writer_set_string(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "llama.block_count", 2);
    gguf_writer_set_f32(w, "llama.rope.freq_base", 500000.0f);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    const char *tokens[] = {"a", "bb", "", "<think>", "\xc4\xa0the"};
    gguf_writer_set_array_strings(w, "tokenizer.ggml.tokens", tokens, NULL, 5);
    gguf_writer_set_array_i32(w, "tokenizer.ggml.token_type", (const int32_t[]){1, 1, 3, 4, 1}, 5);
    gguf_writer_set_array_f32(w, "scores", (const float[]){0.5f, -1.0f}, 2);
    static uint8_t data[2048];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    gguf_writer_add_tensor(w, "norm", PONDER_TYPE_F32, 1, (const uint64_t[]){8}, data);
    gguf_writer_add_tensor(w, "q4k", PONDER_TYPE_Q4_K, 2, (const uint64_t[]){256, 2}, data);
    gguf_writer_add_tensor(w, "q80", PONDER_TYPE_Q8_0, 3, (const uint64_t[]){32, 2, 2}, data);
    gguf_writer_add_tensor(w, "f16", PONDER_TYPE_F16, 2, (const uint64_t[]){5, 3}, data);

    char path[256];
    snprintf(path, sizeof path, "%s/ponder-gguf-hostile-%ld.gguf",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
    char err[512];
    bool ok = gguf_writer_write(w, path, err, sizeof err);
    gguf_writer_free(w);
    CHECKF(ok, "writer: %s", err);
    char *bytes = ok ? test_read_file(path, size) : NULL;
    unlink(path);
    if (!bytes)
        return NULL;
    uint8_t *copy = exact_copy(bytes, *size);
    free(bytes);
    return copy;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13; // xorshift64
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_mutations(void)
{
    size_t size;
    uint8_t *valid = make_valid_file(&size);
    if (!valid)
        return;
    char err[512];
    CHECKF(fuzz_gguf_open_and_touch(valid, size, err, sizeof err), "valid file: %s", err);

    // Every strict prefix is missing data the header promises, so each must be rejected.
    int accepted_prefixes = 0;
    for (size_t len = 0; len < size; len++) {
        uint8_t *prefix = exact_copy(valid, len);
        accepted_prefixes += fuzz_gguf_open_and_touch(prefix, len, err, sizeof err);
        free(prefix);
    }
    CHECKF(accepted_prefixes == 0, "%d truncated prefixes accepted", accepted_prefixes);

    // Random damage: byte flips, bit flips, and boundary values written over 8-byte fields.
    static const uint64_t boundary[] = {
        0, 1, 3, 0xff, 0xffffffffu, 0x100000000u, (uint64_t)1 << 62, (uint64_t)1 << 63, UINT64_MAX};
    int accepted = 0, rejected = 0;
    enum { N_MUTATIONS = 5000 };
    uint8_t *copy = exact_copy(valid, size);
    for (int m = 0; m < N_MUTATIONS; m++) {
        memcpy(copy, valid, size);
        int n_edits = 1 + (int)(next_random() % 4);
        for (int e = 0; e < n_edits; e++) {
            size_t at = (size_t)(next_random() % size);
            switch (next_random() % 3) {
            case 0: copy[at] = (uint8_t)next_random(); break;
            case 1: copy[at] ^= (uint8_t)(1u << (next_random() % 8)); break;
            default: {
                uint64_t v = boundary[next_random() % (sizeof boundary / sizeof boundary[0])];
                for (size_t i = 0; i < 8 && at + i < size; i++)
                    copy[at + i] = (uint8_t)(v >> (8 * i));
            }
            }
        }
        if (fuzz_gguf_open_and_touch(copy, size, err, sizeof err))
            accepted++;
        else
            rejected++;
    }
    free(copy);
    printf("%zu-byte file: %zu prefixes rejected; %d mutations: %d accepted, %d rejected\n", size,
           size, N_MUTATIONS, accepted, rejected);
    CHECK(rejected > 0 && accepted > 0); // the mutations reach past the first check
    free(valid);
}

int main(void)
{
    test_hostile_corpus();
    test_seed_corpus();
    test_mutations();
    return test_finish();
}
