// One GGUF file on this machine, described from its header alone (the reader maps the file
// and validates it, but tensor data is never read), as the onboarding page, the model
// picker, the local API and `--model` show it.
//
// Every entry is immutable once made, except its slug: the library makes slugs unique
// across the files it found (and notifies "slug" when a new file changes that).
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "ponder-infer.h"
#include "ponder-types.h"

G_BEGIN_DECLS

// Where a file was found. The order is also the dedupe priority: when one physical file is
// reachable from several sources, the entry of the earliest source is kept.
typedef enum {
    PONDER_MODEL_SOURCE_OWN,          // g_get_user_data_dir()/ponder/models
    PONDER_MODEL_SOURCE_OLLAMA,       // Ollama's blob store, named by its manifests
    PONDER_MODEL_SOURCE_LM_STUDIO,    // ~/.lmstudio/models, ~/.cache/lm-studio/models
    PONDER_MODEL_SOURCE_HUGGING_FACE, // the Hugging Face hub cache
    PONDER_MODEL_SOURCE_FOLDER,       // folders the user added
} PonderModelSource;

enum { PONDER_MODEL_SOURCE_COUNT = PONDER_MODEL_SOURCE_FOLDER + 1 };

#define PONDER_TYPE_MODEL_SOURCE (ponder_model_source_get_type())
GType ponder_model_source_get_type(void);

// What users read: "Ponder", "Ollama", "LM Studio", "Hugging Face", "Folders".
const char *ponder_model_source_get_name(PonderModelSource source);

#define PONDER_TYPE_MODEL_ENTRY (ponder_model_entry_get_type())
G_DECLARE_FINAL_TYPE(PonderModelEntry, ponder_model_entry, PONDER, MODEL_ENTRY, GObject)

// Reads the header of the GGUF file at PATH. A file that is not a valid GGUF, or one Ponder
// cannot run, still gives an entry, marked unusable with the reason; only a file that
// cannot be stat'ed (gone, no permission) is an error. SOURCE_LABEL is the source's name
// for the file ("deepseek-r1:7b" for Ollama, "ORG/NAME" for Hugging Face, "publisher/repo"
// for LM Studio) or NULL; DIGEST is Ollama's "sha256:HEX" or NULL.
//
// A name of the form "*-00001-of-00003.gguf" is the first part of a split file: the
// entry stands for the set (its size is that of every part found) and is unusable, since
// the inference loader reads single files only.
PonderModelEntry *ponder_model_entry_new_from_file(const char *path, PonderModelSource source,
                                                   const char *source_label, const char *digest,
                                                   GError **error);

const char *ponder_model_entry_get_path(PonderModelEntry *self);
PonderModelSource ponder_model_entry_get_source(PonderModelEntry *self);
const char *ponder_model_entry_get_source_label(PonderModelEntry *self); // NULL if none
const char *ponder_model_entry_get_digest(PonderModelEntry *self);       // NULL if none

// general.name, else the file name without ".gguf" (and without the split suffix).
const char *ponder_model_entry_get_display_name(PonderModelEntry *self);
// The name used everywhere a model is named by text (picker, /v1/models, /api/tags,
// --model, the history): ponder_model_make_slug(display name, quant type), made unique.
const char *ponder_model_entry_get_slug(PonderModelEntry *self);
// The slug before the library made it unique.
const char *ponder_model_entry_get_base_slug(PonderModelEntry *self);
// For PonderModelLibrary, which makes slugs unique; notifies "slug" when it changes.
void ponder_model_entry_set_slug(PonderModelEntry *self, const char *slug);

gboolean ponder_model_entry_get_usable(PonderModelEntry *self);
// Why the entry cannot be loaded (the reader's message, "architecture 'X' is not
// supported", ...); NULL when usable.
const char *ponder_model_entry_get_unusable_reason(PonderModelEntry *self);

// NULL when the header could not be read.
const char *ponder_model_entry_get_architecture(PonderModelEntry *self);
// "Q4_K_M", "Q8_0", "F16"… from general.file_type, else the type holding most of the
// weight bytes ("Q4_K"); NULL when the header could not be read.
const char *ponder_model_entry_get_quant_type(PonderModelEntry *self);

guint64 ponder_model_entry_get_n_params(PonderModelEntry *self);       // sum of tensor elements
guint64 ponder_model_entry_get_tensor_bytes(PonderModelEntry *self);   // sum of tensor bytes
guint32 ponder_model_entry_get_context_length(PonderModelEntry *self); // <arch>.context_length
guint32 ponder_model_entry_get_n_layer(PonderModelEntry *self);
guint32 ponder_model_entry_get_n_embd(PonderModelEntry *self);
guint32 ponder_model_entry_get_n_ff(PonderModelEntry *self);
guint32 ponder_model_entry_get_n_head(PonderModelEntry *self);
guint32 ponder_model_entry_get_n_head_kv(PonderModelEntry *self);
guint32 ponder_model_entry_get_head_dim(PonderModelEntry *self);
guint32 ponder_model_entry_get_n_vocab(PonderModelEntry *self); // rows of token_embd.weight

// Bytes on disk (every part of a split set); 1 for a single file.
guint64 ponder_model_entry_get_file_size(PonderModelEntry *self);
guint ponder_model_entry_get_n_parts(PonderModelEntry *self);
GDateTime *ponder_model_entry_get_modified_time(PonderModelEntry *self); // transfer none

// True when PATH names the same physical file (same device and inode, as stat() follows
// symlinks) as this entry.
gboolean ponder_model_entry_is_same_file(PonderModelEntry *self, dev_t device, ino_t inode);
// Whether the file still is what the entry describes (same file, size and modification
// time), so a rescan can keep the entry.
gboolean ponder_model_entry_matches_stat(PonderModelEntry *self, dev_t device, ino_t inode,
                                         guint64 size, gint64 mtime_usec);

// ponder_estimate_memory for the entry's file (all parts of a split set); N_CTX 0 means the
// trained context length. Fails (with a message) for an entry whose
// header could not be read.
gboolean ponder_model_entry_estimate_memory(PonderModelEntry *self, guint32 n_ctx,
                                            PonderKvType kv_type, PonderMemoryEstimate *out,
                                            GError **error);

// Sort order of the list: display name (UTF-8 collation), then quant type, then path.
int ponder_model_entry_compare(PonderModelEntry *a, PonderModelEntry *b);

// "DeepSeek-R1-Distill-Qwen-7B", "Q4_K_M" -> "deepseek-r1-distill-qwen-7b:q4_k_m": ASCII
// letters lowercased, digits kept, every run of other bytes one '-', none at either end of
// the name; ':' and the lowercased quant type (omitted when QUANT_TYPE is NULL).
char *ponder_model_make_slug(const char *display_name, const char *quant_type);

// Parses a split-file name "PREFIX-00002-of-00003.gguf": TRUE with the part (from 1) and
// the count, and the length of PREFIX when PREFIX_LEN is not NULL.
gboolean ponder_model_parse_split_name(const char *basename, guint *part, guint *count,
                                       gsize *prefix_len);

G_END_DECLS
