// The header-bar model menu: the usable models of the library with quant type and size,
// the backend the loaded one runs on, a spinner while it loads, and Eject (frees GPU
// memory). Choosing a model activates "win.choose-model" with its slug. Load failures are
// reported as "show-toast" (const char *) with what to do about them.
#pragma once

#include <gtk/gtk.h>

#include "ponder-core.h"

G_BEGIN_DECLS

#define PONDER_TYPE_MODEL_PICKER (ponder_model_picker_get_type())
G_DECLARE_FINAL_TYPE(PonderModelPicker, ponder_model_picker, PONDER, MODEL_PICKER, GtkWidget)

GtkWidget *ponder_model_picker_new(PonderCore *core);
// What the button shows: the chosen model's name, "Loading…", or "Choose a Model".
const char *ponder_model_picker_get_label(PonderModelPicker *self);

// A user-facing sentence for a failed load (what happened and what to do); newly allocated.
char *ponder_model_picker_describe_error(const GError *error);

G_END_DECLS
