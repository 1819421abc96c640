// What one Ponder process owns, with or without a window: the conversation store, the
// model library, the engine, and the local API when it is switched on. The window and
// `ponder --serve` both build on one PonderCore, so the engine runs once per user.
#pragma once

#include "ponder-api-server.h"
#include "ponder-engine.h"
#include "ponder-model-library.h"
#include "ponder-store.h"

G_BEGIN_DECLS

#define PONDER_TYPE_CORE (ponder_core_get_type())
G_DECLARE_FINAL_TYPE(PonderCore, ponder_core, PONDER, CORE, GObject)

// Opens the store ($XDG_DATA_HOME/ponder/ponder.db), scans the model library and starts the
// engine thread (no model loaded yet).
PonderCore *ponder_core_new(const PonderEngineSettings *settings, GError **error);

PonderStore *ponder_core_get_store(PonderCore *self);
PonderModelLibrary *ponder_core_get_library(PonderCore *self);
PonderEngine *ponder_core_get_engine(PonderCore *self);

// Resolves NAME as the API and `--model` do (slug, unique prefix or path) and loads it.
PonderModelEntry *ponder_core_choose_model(PonderCore *self, const char *name, GError **error);

// Starts the local API (or returns the running one, whose options then stay as they are).
PonderApiServer *ponder_core_start_api(PonderCore *self, const PonderApiServerOptions *options,
                                       GError **error);
// The running API server, or NULL.
PonderApiServer *ponder_core_get_api(PonderCore *self);
void ponder_core_stop_api(PonderCore *self);

G_END_DECLS
