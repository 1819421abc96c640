// The built-in catalog of DeepSeek-R1 distills that onboarding offers to download.
//
// The catalog is a static table compiled into the app; each row is handed out as a
// PonderCatalogEntry, an immutable final GObject (read-only properties), so that GTK list
// widgets can show it straight from the GListModel that ponder_catalog_list() returns.
// This file holds that one type; "catalog" names the table it is built from.
//
// An entry names what to fetch (Hugging Face repository and file, as the publisher spells
// them) and the model's published shape facts for a memory estimate. It deliberately has
// no size and no SHA-256: those change when a publisher re-uploads, so PonderDownload
// reads them from the hub at download time.
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PONDER_TYPE_CATALOG_ENTRY (ponder_catalog_entry_get_type())
G_DECLARE_FINAL_TYPE(PonderCatalogEntry, ponder_catalog_entry, PONDER, CATALOG_ENTRY, GObject)

// Every entry, in display order (smallest model first, then by quant from small to large).
// Returns a new reference to a GListModel of PonderCatalogEntry.
GListModel *ponder_catalog_list(void);

// The entry whose id is ID (e.g. "r1-distill-qwen-7b-q4_k_m"), or NULL. New reference.
PonderCatalogEntry *ponder_catalog_lookup(const char *id);

// Stable key, safe to store in settings: "r1-distill-{family}-{size}-{quant}", lower case.
const char *ponder_catalog_entry_get_id(PonderCatalogEntry *self);
// What the UI shows: "DeepSeek-R1-Distill-Qwen-7B".
const char *ponder_catalog_entry_get_model_name(PonderCatalogEntry *self);
// GGUF general.architecture of the file: "qwen2" or "llama".
const char *ponder_catalog_entry_get_architecture(PonderCatalogEntry *self);
// Parameter count as published: "1.5B", "7B", "70B".
const char *ponder_catalog_entry_get_size_label(PonderCatalogEntry *self);
// llama.cpp quant type name: "Q4_K_M", "Q8_0".
const char *ponder_catalog_entry_get_quant_type(PonderCatalogEntry *self);
// Hugging Face repository ("owner/name") and the file's path inside it.
const char *ponder_catalog_entry_get_repo(PonderCatalogEntry *self);
const char *ponder_catalog_entry_get_file(PonderCatalogEntry *self);

// Shape facts of the base model (config.json of the DeepSeek-R1 distill).
guint ponder_catalog_entry_get_n_layer(PonderCatalogEntry *self);
guint ponder_catalog_entry_get_n_head(PonderCatalogEntry *self);
guint ponder_catalog_entry_get_n_kv_head(PonderCatalogEntry *self);
guint ponder_catalog_entry_get_head_dim(PonderCatalogEntry *self);

G_END_DECLS
