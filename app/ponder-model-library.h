// Every GGUF file on this machine that Ponder can show: its own folder, Ollama's store,
// LM Studio's and the Hugging Face cache's folders, and folders the user adds.
//
// The list is a GListModel of PonderModelEntry, sorted by display name, then quant type
// (then path). Files that are not valid GGUF, or that Ponder cannot run, are listed too,
// marked unusable with the reason, so a user sees why a file they know of is not offered;
// what is left out (broken Ollama manifests, unreadable folders) is reported in
// ponder_model_library_get_warnings(). One physical file reachable from several places
// (a symlink to an Ollama blob in a user folder) is listed once, from the first source in
// PonderModelSource order (and, within a source, path order: of two Ollama tags of one
// blob, the first names the entry).
//
// A rescan keeps the entries whose file did not change (the same objects, so a list view
// does not flicker), adds new files and removes vanished ones. The library belongs to the
// thread of the main context it was used from: call everything there; the scan itself runs
// in a worker thread (ponder_model_library_scan_async).
#pragma once

#include <gio/gio.h>

#include "ponder-model-entry.h"
#include "ponder-types.h"

G_BEGIN_DECLS

#define PONDER_MODEL_LIBRARY_ERROR (ponder_model_library_error_quark())
GQuark ponder_model_library_error_quark(void);

typedef enum {
    PONDER_MODEL_LIBRARY_ERROR_NOT_FOUND, // no entry has that slug, path or slug prefix
    PONDER_MODEL_LIBRARY_ERROR_AMBIGUOUS, // a slug prefix that several entries start with
    PONDER_MODEL_LIBRARY_ERROR_FOLDER,    // a folder to add is not a folder
} PonderModelLibraryError;

// How deep folders are searched below their root. Directory symlinks below a root are not
// followed (file symlinks are), so a loop cannot multiply the work.
enum { PONDER_MODEL_LIBRARY_MAX_DEPTH = 6 };

#define PONDER_TYPE_MODEL_LIBRARY (ponder_model_library_get_type())
G_DECLARE_FINAL_TYPE(PonderModelLibrary, ponder_model_library, PONDER, MODEL_LIBRARY, GObject)

// Every source enabled, no user folders, an empty list until the first scan.
PonderModelLibrary *ponder_model_library_new(void);

// The entries (a GListStore of PonderModelEntry); transfer none.
GListModel *ponder_model_library_get_models(PonderModelLibrary *self);

gboolean ponder_model_library_get_source_enabled(PonderModelLibrary *self,
                                                 PonderModelSource source);
// Takes effect at the next scan.
void ponder_model_library_set_source_enabled(PonderModelLibrary *self, PonderModelSource source,
                                             gboolean enabled);
// The folders SOURCE searches now (NULL-terminated, transfer full), whether or not they
// exist, for the preferences page:
//   own:          g_get_user_data_dir()/ponder/models (created by a scan when missing)
//   Ollama:       $OLLAMA_MODELS, else ~/.ollama/models and /usr/share/ollama/.ollama/models
//   LM Studio:    ~/.lmstudio/models and ~/.cache/lm-studio/models
//   Hugging Face: $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub
//                 (~/.cache when XDG_CACHE_HOME is unset), as huggingface_hub resolves it
//   folders:      the user's folders
char **ponder_model_library_get_source_folders(PonderModelLibrary *self, PonderModelSource source);

// The user's folders (NULL-terminated; owned by the library).
const char *const *ponder_model_library_get_folders(PonderModelLibrary *self);
// Replaces the list (e.g. from GSettings); paths are kept as given.
void ponder_model_library_set_folders(PonderModelLibrary *self, const char *const *folders);
// Adds PATH (made absolute and canonical); fails when it is not a directory. Adding a
// folder twice is not an error. Takes effect at the next scan.
gboolean ponder_model_library_add_folder(PonderModelLibrary *self, const char *path,
                                         GError **error);
// FALSE when PATH was not one of the folders.
gboolean ponder_model_library_remove_folder(PonderModelLibrary *self, const char *path);

// Scans every enabled source in the calling thread and updates the list. Fails only when
// cancelled; unreadable places become warnings.
gboolean ponder_model_library_scan_sync(PonderModelLibrary *self, GCancellable *cancellable,
                                        GError **error);
// The same in a worker thread; the list is updated on the calling thread's main context
// just before CALLBACK runs. When scans overlap, a scan that started before the one last
// applied is dropped.
void ponder_model_library_scan_async(PonderModelLibrary *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
gboolean ponder_model_library_scan_finish(PonderModelLibrary *self, GAsyncResult *result,
                                          GError **error);
// TRUE while a scan_async is running ("scanning" property).
gboolean ponder_model_library_get_scanning(PonderModelLibrary *self);

// What the last applied scan left out or could not read, one message each (NULL-terminated,
// owned by the library).
const char *const *ponder_model_library_get_warnings(PonderModelLibrary *self);

// Exact matches; NULL when none. Transfer none.
PonderModelEntry *ponder_model_library_find_by_slug(PonderModelLibrary *self, const char *slug);
// The entry of the same physical file as PATH (symlinks followed), else of that exact path.
PonderModelEntry *ponder_model_library_find_by_path(PonderModelLibrary *self, const char *path);
// What `--model NAME` and the local API resolve: an exact slug (case-insensitive), a file
// path (anything with a '/'), or a prefix of exactly one slug. An ambiguous prefix fails
// with PONDER_MODEL_LIBRARY_ERROR_AMBIGUOUS and a message listing the candidates.
PonderModelEntry *ponder_model_library_lookup(PonderModelLibrary *self, const char *name,
                                              GError **error);

G_END_DECLS
