// The engine: one thread that owns the loaded model and its backend, and a scheduler that
// steps every admitted request together (continuous batching: requests join and leave
// between forward steps). The window and the local API share it; the main loop never
// blocks on it. Generations report back on their own main context (ponder-generation.h).
#pragma once

#include <gio/gio.h>

#include "ponder-generation.h"
#include "ponder-infer.h"
#include "ponder-types.h"

G_BEGIN_DECLS

#define PONDER_ENGINE_ERROR (ponder_engine_error_quark())
GQuark ponder_engine_error_quark(void);

typedef enum {
    PONDER_ENGINE_ERROR_NO_MODEL,      // no model chosen yet
    PONDER_ENGINE_ERROR_BUSY,          // the queue is full
    PONDER_ENGINE_ERROR_LOAD,          // the model file could not be loaded
    PONDER_ENGINE_ERROR_NO_GPU_MEMORY, // it does not fit: the message has the numbers
    PONDER_ENGINE_ERROR_BACKEND,       // the backend failed (or a forced one is unavailable)
    PONDER_ENGINE_ERROR_PROMPT_TOO_LONG,
    PONDER_ENGINE_ERROR_INVALID, // a request the engine cannot run
    PONDER_ENGINE_ERROR_EJECTED, // the model was ejected or the engine shut down
} PonderEngineError;

typedef enum {
    PONDER_ENGINE_UNLOADED,
    PONDER_ENGINE_LOADING,
    PONDER_ENGINE_READY,
    PONDER_ENGINE_FAILED, // the last load failed (ponder_engine_get_last_error says why)
} PonderEngineState;

typedef struct {
    PonderBackendChoice backend;
    gint gpu_layers;  // layers on the GPU; -1: all
    gint gpu_device;  // which GPU on machines with several; -1: the first
    guint n_ctx;      // tokens per sequence; 0: min(model maximum, 8192)
    guint n_parallel; // sequences stepped together, and conversations kept in the cache
    PonderKvType kv_type;
    guint n_threads;           // CPU threads; 0: one per core
    guint max_answer_tokens;   // default answer length limit (reasoning included)
    guint max_queued;          // requests waiting beyond the running ones; more is "busy"
    guint idle_unload_seconds; // unload after this long without requests; 0: never
    guint step_tokens;         // most prompt tokens computed in one step (bounds cancel latency)
} PonderEngineSettings;

// R1-friendly defaults: F16 KV cache, 16k-token answers (R1 thinks long), 4 sequences.
void ponder_engine_settings_init(PonderEngineSettings *settings);

#define PONDER_TYPE_ENGINE (ponder_engine_get_type())
G_DECLARE_FINAL_TYPE(PonderEngine, ponder_engine, PONDER, ENGINE, GObject)

// Signals and notifications are emitted on the thread-default main context of the caller.
PonderEngine *ponder_engine_new(const PonderEngineSettings *settings);

// Applies from the next load (a loaded model is reloaded on the next request).
void ponder_engine_set_settings(PonderEngine *self, const PonderEngineSettings *settings);
void ponder_engine_get_settings(PonderEngine *self, PonderEngineSettings *out);

// Chooses the model; it is loaded on the engine thread now (state LOADING → READY/FAILED,
// "notify::state"), and again on the next request after an eject or idle unload.
void ponder_engine_set_model(PonderEngine *self, const char *path);
// Unloads the model now (frees GPU memory); running requests end as cancelled.
void ponder_engine_eject(PonderEngine *self);

PonderEngineState ponder_engine_get_state(PonderEngine *self);
// The chosen model's path, or NULL.
const char *ponder_engine_get_model_path(PonderEngine *self);
// The backend the loaded model runs on ("cpu", "cuda", "vulkan"), or NULL; plus why a
// preferred backend was not used (Auto fell back), or NULL.
const char *ponder_engine_get_backend_name(PonderEngine *self);
const char *ponder_engine_get_backend_note(PonderEngine *self);
// Why the last load failed, or NULL.
const GError *ponder_engine_get_last_error(PonderEngine *self);
// Requests waiting (not yet admitted to a sequence).
guint ponder_engine_get_queue_depth(PonderEngine *self);
// Requests admitted and not yet finished (thread-safe).
guint ponder_engine_get_running(PonderEngine *self);

// The server that runs remote models (NULL: none). A model path "remote:ID"
// (ponder-remote-provider.h) chooses the provider's model ID: the local model is unloaded,
// the state is READY with backend "remote", and submitted generations go to the provider.
void ponder_engine_set_remote_provider(PonderEngine *self, PonderRemoteProvider *provider);
PonderRemoteProvider *ponder_engine_get_remote_provider(PonderEngine *self); // transfer none

// Queues GENERATION (the engine keeps a reference until it finishes). FALSE with
// PONDER_ENGINE_ERROR_BUSY when the queue is full, or NO_MODEL when none is chosen.
gboolean ponder_engine_submit(PonderEngine *self, PonderGeneration *generation, GError **error);

G_END_DECLS
