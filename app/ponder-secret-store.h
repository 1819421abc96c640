// The API key of a remote provider (an OpenAI-compatible server the app sends requests to),
// kept by the desktop keyring, or in a private file on a system without one.
//
// Keys live in the Secret Service (gnome-keyring, KWallet, or the Secret portal inside
// Flatpak) under the schema "io.github.ponder_app.Ponder.RemoteProvider", one item per
// provider URL. Only when there is no Secret Service to talk to (no session bus, no
// service running) does a key go to $XDG_CONFIG_HOME/ponder/remote-keys instead: a key
// file with one group per URL, mode 0600 in a 0700 folder. A keyring that is there but
// says no (locked, prompt dismissed) is reported as an error, never worked around.
//
// The functions block on D-Bus (the keyring may show an unlock prompt): call them from
// a worker thread, or accept the wait where the user has just asked for it.
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    PONDER_SECRET_PLACE_KEYRING,
    PONDER_SECRET_PLACE_FILE,
} PonderSecretPlace;

// Stores KEY for the provider at URL, replacing any earlier one, and says in WHERE_OUT
// (may be NULL) where it went so the UI can tell the user. Saving to the keyring removes
// a copy left in the file from a time without one. An empty KEY is an error: clear instead.
gboolean ponder_secret_store_save(const char *url, const char *key, PonderSecretPlace *where_out,
                                  GError **error);

// The key stored for URL (free with g_free), from the keyring first, then the file; NULL
// without an error when none is stored. A file that other users can read is refused.
char *ponder_secret_store_lookup(const char *url, GError **error);

// Forgets the key of URL in both places; TRUE also when none was stored.
gboolean ponder_secret_store_clear(const char *url, GError **error);

// The local API's own key, kept in the same places under this name in place of a URL: the
// API needs one when it listens beyond loopback (ponder --serve --host, Preferences).
#define PONDER_SECRET_LOCAL_API "ponder:local-api"

// The local API's key: the stored one, else a new random one, saved before it is returned.
// *CREATED (may be NULL) says whether it is new, *WHERE_OUT (may be NULL) where it is.
char *ponder_secret_store_local_api_key(gboolean *created, PonderSecretPlace *where_out,
                                        GError **error);

// How a person reads the local API's key at WHERE without Ponder's window: a command
// (keyring) or a file path, as one sentence to print (never the key itself).
char *ponder_secret_store_local_api_key_hint(PonderSecretPlace where);

G_END_DECLS
