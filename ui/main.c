// ponder: the entry point. With a display, the GUI application (which also takes --serve
// and the other options); without one, the headless application, so `ponder --serve` runs
// on a server. Everything else lives in the libraries.
#include <glib/gi18n.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include "ponder-application.h"
#include "window/ponder-ui-application.h"

// A `ponder` started from its build folder uses the settings schema compiled beside it
// (as `meson devenv` would arrange); an installed one never looks there.
static void use_build_tree_schema(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    g_autofree char *dir = g_path_get_dirname(exe);
    g_autofree char *compiled =
        g_build_filename(PONDER_BUILD_SCHEMA_DIR, "gschemas.compiled", NULL);
    if (strcmp(dir, PONDER_BUILD_DIR) != 0 || !g_file_test(compiled, G_FILE_TEST_EXISTS))
        return;
    const char *current = g_getenv("GSETTINGS_SCHEMA_DIR");
    g_autofree char *value =
        current && *current
            ? g_strconcat(PONDER_BUILD_SCHEMA_DIR, G_SEARCHPATH_SEPARATOR_S, current, NULL)
            : g_strdup(PONDER_BUILD_SCHEMA_DIR);
    g_setenv("GSETTINGS_SCHEMA_DIR", value, TRUE);
}

int main(int argc, char **argv)
{
    use_build_tree_schema();
    setlocale(LC_ALL, "");
    bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);

    if (!gtk_init_check()) {
        g_autoptr(PonderApplication) headless = ponder_application_new();
        return g_application_run(G_APPLICATION(headless), argc, argv);
    }
    g_autoptr(PonderUiApplication) app = ponder_ui_application_new();
    return g_application_run(G_APPLICATION(app), argc, argv);
}
