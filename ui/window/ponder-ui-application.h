// The GUI application: one PonderCore per process (store, models, engine, local API), the
// windows on it, the app actions (new chat, search, preferences, shortcuts, about, quit)
// and the settings applied to the engine and the API as they change. It takes the same
// command line as the headless `ponder --serve` (ponder-application.h).
#pragma once

#include <adwaita.h>

#include "ponder-core.h"

G_BEGIN_DECLS

#define PONDER_SETTINGS_SCHEMA_ID "io.github.ponder_app.Ponder"

#define PONDER_TYPE_UI_APPLICATION (ponder_ui_application_get_type())
G_DECLARE_FINAL_TYPE(PonderUiApplication, ponder_ui_application, PONDER, UI_APPLICATION,
                     AdwApplication)

PonderUiApplication *ponder_ui_application_new(void);

// The core, created by the first command line or activation; NULL before (or when it could
// not be created: the error was shown).
PonderCore *ponder_ui_application_get_core(PonderUiApplication *self);
// The app's settings (schema PONDER_SETTINGS_SCHEMA_ID); transfer none.
GSettings *ponder_ui_application_get_settings(PonderUiApplication *self);

// A new GSettings on PONDER_SETTINGS_SCHEMA_ID, or NULL when the schema is not installed
// (g_settings_new() would abort the process).
GSettings *ponder_ui_settings_new(void);

// The engine settings the preferences hold (backend, GPU layers, context, threads, ...).
void ponder_ui_engine_settings_from_gsettings(GSettings *settings, PonderEngineSettings *out);

G_END_DECLS
