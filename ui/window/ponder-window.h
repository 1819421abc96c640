// The main window: sidebar of conversations (search, rename, delete with undo), the chat
// view, the header bar with the model picker and the primary menu, toasts, and the
// onboarding page when no model is chosen yet.
#pragma once

#include <adwaita.h>

#include "ponder-core.h"

G_BEGIN_DECLS

#define PONDER_TYPE_WINDOW (ponder_window_get_type())
G_DECLARE_FINAL_TYPE(PonderWindow, ponder_window, PONDER, WINDOW, AdwApplicationWindow)

PonderWindow *ponder_window_new(AdwApplication *app, PonderCore *core);

G_END_DECLS
