#include "app-test-util.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <locale.h>

#include "model-tools/model-files.h"

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
    g_autofree char *tokenizer =
        app_test_shared_path("tokenizers/deepseek-r1-distill-qwen/tokenizer.json");
    if (!g_file_test(tokenizer, G_FILE_TEST_EXISTS))
        return NULL;
    char *path = g_build_filename(dir, "tiny-qwen2-q8_0.gguf", NULL);
    char err[512];
    if (!synth_gguf("tiny-qwen2", "q8_0", tokenizer, path, seed, 1, err, sizeof err))
        g_error("synth: %s", err);
    return path;
}

guint16 app_test_free_port(void)
{
    g_autoptr(GSocket) socket =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
    g_assert_true(g_socket_bind(socket, any, TRUE, NULL));
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(socket, NULL);
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

char *app_test_use_comma_locale(void)
{
    char *previous = g_strdup(setlocale(LC_NUMERIC, NULL));
    static const char *const comma_locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "ru_RU.UTF-8"};
    for (guint i = 0; i < G_N_ELEMENTS(comma_locales); i++) {
        if (setlocale(LC_NUMERIC, comma_locales[i])) {
            g_assert_cmpstr(localeconv()->decimal_point, ==, ",");
            return previous;
        }
    }
    g_free(previous);
    return NULL;
}

void app_test_restore_numeric_locale(char *previous)
{
    g_assert_nonnull(setlocale(LC_NUMERIC, previous));
    g_free(previous);
}
