// ponder: the entry point. With a display, the GUI application (which also takes --serve
// and the other options); without one, the headless application, so `ponder --serve` runs
// on a server. Everything else lives in the libraries.
#include <glib/gi18n.h>
#include <locale.h>

#include "ponder-application.h"
#include "ponder-ui-application.h"

int main(int argc, char **argv)
{
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
