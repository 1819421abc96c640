// Preferences, bound to GSettings: the default model, backend and GPU layers, context
// length, sampling (R1's 0.6 / 0.95 with a reset), the default system prompt, showing the
// thinking, the local API (off by default; port, key, LAN access with a warning), and the
// folders searched for models.
#pragma once

#include <adwaita.h>

#include "ponder-core.h"

G_BEGIN_DECLS

#define PONDER_TYPE_PREFERENCES_WINDOW (ponder_preferences_window_get_type())
G_DECLARE_FINAL_TYPE(PonderPreferencesWindow, ponder_preferences_window, PONDER, PREFERENCES_WINDOW,
                     AdwPreferencesWindow)

GtkWidget *ponder_preferences_window_new(GtkWindow *parent, PonderCore *core, GSettings *settings);

G_END_DECLS
