// The inference fuzz targets without libFuzzer: their seed corpora and every finding kept as
// a regression input go through the same functions (tests/fuzz/fuzz-model.c and fuzz-chat.c
// are linked in), so a fixed crash stays fixed in the normal test suite and under the
// sanitizers.
// - tests/fuzz/corpus-model/: every seed (a tiny model of each weight type) loads and runs;
// - tests/fuzz/regress-model/: each finding is refused with the message fragment listed for it
//   in expected-errors.txt ("accepted" when it is a model that must load and run);
// - tests/data/model-hostile/ (made by tools/make-hostile-gguf.py): well-formed GGUF files whose
//   metadata and tensors disagree, each refused with the message listed for it, the same way;
// - tests/fuzz/corpus-chat/ and regress-chat/: each input passes the chat target's checks
//   (which abort on a wrong split or prompt).
// Every input is handed over in a buffer of its exact size, so a read past its end is an
// AddressSanitizer report.
#include "runtime/model.h"
#include "test-util.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

bool fuzz_model_run(const uint8_t *data, size_t size, PonderError *err);
void fuzz_chat_run(const uint8_t *data, size_t size);

typedef void (*ReplayFn)(const char *name, const uint8_t *data, size_t size, void *user);

// Calls FN on every file of DIR (sorted, expected-errors.txt aside); returns how many. A
// target without findings has no regress-* folder: OPTIONAL lets it be absent.
static int replay_dir(const char *relative, bool optional, ReplayFn fn, void *user)
{
    const char *dir = test_source_path(relative);
    struct dirent **entries;
    int n = scandir(dir, &entries, NULL, alphasort);
    CHECKF(n >= 0 || optional, "cannot read %s", dir);
    int n_files = 0;
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        if (name[0] != '.' && strcmp(name, "expected-errors.txt") != 0) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            size_t size;
            char *bytes = test_read_file(path, &size);
            CHECKF(bytes != NULL, "cannot read %s", path);
            uint8_t *exact = malloc(size ? size : 1);
            if (bytes && exact) {
                memcpy(exact, bytes, size);
                fn(name, exact, size, user);
                n_files++;
            }
            free(exact);
            free(bytes);
        }
        free(entries[i]);
    }
    free(n >= 0 ? entries : NULL);
    return n_files;
}

static void run_seed(const char *name, const uint8_t *data, size_t size, void *user)
{
    PonderError err;
    bool ok = fuzz_model_run(data, size, &err);
    CHECKF(ok, "seed %s: %s", name, err.message);
    printf("seed %-20s runs\n", name);
}

// The fragment expected-errors.txt lists for NAME, or NULL.
static const char *expected_fragment(char *manifest, const char *name)
{
    size_t name_len = strlen(name);
    for (char *line = manifest; line && *line;) {
        char *next = strchr(line, '\n');
        if (strncmp(line, name, name_len) == 0 && line[name_len] == '\t') {
            static char fragment[512];
            size_t len = next ? (size_t)(next - line) - name_len - 1 : strlen(line + name_len + 1);
            snprintf(fragment, sizeof fragment, "%.*s", (int)len, line + name_len + 1);
            return fragment;
        }
        line = next ? next + 1 : NULL;
    }
    return NULL;
}

static void run_model_finding(const char *name, const uint8_t *data, size_t size, void *user)
{
    const char *want = expected_fragment(user, name);
    CHECKF(want != NULL, "%s has no line in its folder's expected-errors.txt", name);
    PonderError err;
    bool ok = fuzz_model_run(data, size, &err);
    printf("%-40s %s\n", name, ok ? "accepted" : err.message);
    if (!want)
        return;
    if (strcmp(want, "accepted") == 0)
        CHECKF(ok, "%s: refused: %s", name, err.message);
    else
        CHECKF(!ok && strstr(err.message, want), "%s: '%s' lacks '%s'", name,
               ok ? "accepted" : err.message, want);
}

// Loads every file of DIR, expecting what its expected-errors.txt lists; returns how many.
static int replay_listed(const char *relative, bool optional)
{
    char manifest_path[4200];
    snprintf(manifest_path, sizeof manifest_path, "%s/expected-errors.txt",
             test_source_path(relative));
    char *manifest = test_read_file(manifest_path, NULL);
    CHECKF(manifest != NULL || optional, "cannot read %s", manifest_path);
    int n = manifest ? replay_dir(relative, false, run_model_finding, manifest) : 0;
    free(manifest);
    return n;
}

static void run_chat(const char *name, const uint8_t *data, size_t size, void *user)
{
    fuzz_chat_run(data, size); // aborts on a broken check
    (*(int *)user)++;
}

int main(void)
{
    int n_seeds = replay_dir("tests/fuzz/corpus-model", false, run_seed, NULL);
    CHECKF(n_seeds >= 13, "only %d model seeds (one per weight type expected)", n_seeds);

    replay_listed("tests/fuzz/regress-model", true);
    int n_hostile = replay_listed("tests/data/model-hostile", false);
    CHECKF(n_hostile >= 20, "only %d hostile models", n_hostile);

    int n_chat = 0;
    replay_dir("tests/fuzz/corpus-chat", false, run_chat, &n_chat);
    replay_dir("tests/fuzz/regress-chat", true, run_chat, &n_chat);
    CHECKF(n_chat >= 5, "only %d chat inputs", n_chat);
    printf("%d model seeds, %d hostile models, %d chat inputs\n", n_seeds, n_hostile, n_chat);
    return test_finish();
}
