// Preferences for the remote server: its URL (GSettings "remote-url") and API key (the
// keyring, ponder-secret-store.h), a Connect button that lists its models, and Forget.
// Connecting hands the provider to the engine, so its models appear in the model picker.
#pragma once

#include <adwaita.h>

#include "ponder-core.h"

G_BEGIN_DECLS

#define PONDER_TYPE_REMOTE_GROUP (ponder_remote_group_get_type())
G_DECLARE_FINAL_TYPE(PonderRemoteGroup, ponder_remote_group, PONDER, REMOTE_GROUP,
                     AdwPreferencesGroup)

GtkWidget *ponder_remote_group_new(PonderCore *core, GSettings *settings);

// At startup: the provider saved in SETTINGS, with its stored key, handed to CORE's engine
// and asked for its models. Does nothing when none is saved; failures are only logged
// (the picker then lists no remote models, and Preferences says why on Connect).
void ponder_remote_group_restore(PonderCore *core, GSettings *settings);

G_END_DECLS
