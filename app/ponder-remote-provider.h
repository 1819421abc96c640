// A remote provider: an OpenAI-compatible server (vLLM, SGLang, llama-server, Ollama, or
// another Ponder with `--serve`) that runs models larger than this machine holds. It takes
// the same PonderGeneration the local engine does and streams the reasoning and the answer
// back through it, so the window, the history and the local API treat both alike; the
// engine hands a generation over when the chosen model is a remote one
// (ponder_engine_set_remote_provider).
//
// Everything runs on the main context the provider was made on (libsoup's async API).
#pragma once

#include <gio/gio.h>

#include "ponder-generation.h"

G_BEGIN_DECLS

// The engine's model "path" of a remote model: this prefix, then the server's model id.
#define PONDER_REMOTE_MODEL_PREFIX "remote:"

// "remote:ID" for ID, and back (NULL when PATH is not a remote model); newly allocated.
char *ponder_remote_model_path(const char *model_id);
char *ponder_remote_model_id(const char *path);

#define PONDER_TYPE_REMOTE_PROVIDER (ponder_remote_provider_get_type())
G_DECLARE_FINAL_TYPE(PonderRemoteProvider, ponder_remote_provider, PONDER, REMOTE_PROVIDER, GObject)

// BASE_URL is the API root ("https://host/v1"); a URL with no path gets "/v1", as every
// OpenAI-compatible server puts it there. API_KEY may be NULL (sent as a bearer token).
// NULL with an error when BASE_URL is not an http(s) URL, or holds a user name or password.
PonderRemoteProvider *ponder_remote_provider_new(const char *base_url, const char *api_key,
                                                 GError **error);

// The normalized API root, e.g. "http://127.0.0.1:11434/v1".
const char *ponder_remote_provider_get_base_url(PonderRemoteProvider *self);

// Asks the server for its models (GET /models); "models" is notified when they change.
void ponder_remote_provider_refresh_async(PonderRemoteProvider *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
gboolean ponder_remote_provider_refresh_finish(PonderRemoteProvider *self, GAsyncResult *result,
                                               GError **error);
// The model ids of the last successful refresh (NULL-terminated, owned by the provider).
const char *const *ponder_remote_provider_get_models(PonderRemoteProvider *self);

// Sends GENERATION to model MODEL_ID (with no max_tokens when the generation sets none: the
// server's own limit applies). FALSE for a request a remote server cannot take (continuing a
// cut-off answer) or when too many are in flight. Otherwise the generation finishes as the
// engine's do: STOP/LENGTH from the server's finish_reason, CANCELLED when cancelled (the
// connection is closed, so the server stops too), ERROR with the server's message.
gboolean ponder_remote_provider_submit(PonderRemoteProvider *self, const char *model_id,
                                       PonderGeneration *generation, GError **error);
// Requests in flight (thread-safe).
guint ponder_remote_provider_get_running(PonderRemoteProvider *self);

G_END_DECLS
