// The headless application: `ponder --serve` on a machine without a display, and the one
// process a second `ponder --serve` hands its command line to (single instance over the
// session bus; without one, each process runs on its own and says so).
#pragma once

#include <gio/gio.h>

#include "ponder-core.h"

G_BEGIN_DECLS

#define PONDER_APPLICATION_ID "io.github.ponder_app.Ponder"

#define PONDER_TYPE_APPLICATION (ponder_application_get_type())
G_DECLARE_FINAL_TYPE(PonderApplication, ponder_application, PONDER, APPLICATION, GApplication)

PonderApplication *ponder_application_new(void);

// For the GUI application, which takes the same command line:
// Adds `ponder`'s options (--serve, --host, --port, --model, --api-key-file, --save-history,
// --backend, --gpu-layers, --gpu, --ctx, --parallel, --version) to APPLICATION.
void ponder_application_add_options(GApplication *application);
// Overrides SETTINGS with the engine options in OPTIONS (--backend, --gpu-layers, --gpu,
// --ctx, --parallel); G_OPTION_ERROR_BAD_VALUE naming the option when one is out of range.
gboolean ponder_application_apply_engine_options(GVariantDict *options,
                                                 PonderEngineSettings *settings, GError **error);
// What --serve does on CORE: loads --model when given, starts the local API with --host,
// --port and --api-key-file (or keeps the running one), switches saving its chats in CORE's
// store on with --save-history, and prints where it listens. Returns the exit status (errors
// printed to CMDLINE); the caller holds the application while the API serves.
// Whether HOST (a --host value or the Preferences' choice) is this machine only: "localhost",
// 127.0.0.0/8 or ::1. Anything else is the network, where the API requires a key.
gboolean ponder_application_host_is_loopback(const char *host);
int ponder_application_serve_core(PonderCore *core, GApplicationCommandLine *cmdline,
                                  GVariantDict *options);

G_END_DECLS
