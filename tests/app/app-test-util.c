#include "app-test-util.h"

#include <glib/gstdio.h>

#include "model-files.h"

void app_test_remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir) {
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            app_test_remove_tree(child);
        }
        g_dir_close(dir);
    }
    g_remove(path);
}

char *app_test_shared_path(const char *relative)
{
    const char *shared = g_getenv("PONDER_SHARED") ? g_getenv("PONDER_SHARED") : "../shared";
    return g_build_filename(shared, relative, NULL);
}

char *app_test_make_tiny_model(const char *dir, guint64 seed)
{
    g_autofree char *tokenizer = app_test_shared_path("tokenizers/deepseek-r1-distill-qwen/tokenizer.json");
    if (!g_file_test(tokenizer, G_FILE_TEST_EXISTS))
        return NULL;
    char *path = g_build_filename(dir, "tiny-qwen2-q8_0.gguf", NULL);
    char err[512];
    if (!synth_gguf("tiny-qwen2", "q8_0", tokenizer, path, seed, 1, err, sizeof err))
        g_error("synth: %s", err);
    return path;
}
