// The page shown while no model is chosen: the GGUF files found on this machine, grouped by
// where they were found (Ponder's folder, Ollama, LM Studio, Hugging Face, the user's
// folders), "Open GGUF File…" (a file chooser that works through the Flatpak portal), and
// the catalog of R1 distills to download, each with a progress bar and the memory it needs.
// Choosing a model activates "win.choose-model" with its slug. Errors are "show-toast"
// (const char *).
#pragma once

#include <gtk/gtk.h>

#include "ponder-core.h"

G_BEGIN_DECLS

#define PONDER_TYPE_ONBOARDING_PAGE (ponder_onboarding_page_get_type())
G_DECLARE_FINAL_TYPE(PonderOnboardingPage, ponder_onboarding_page, PONDER, ONBOARDING_PAGE,
                     GtkWidget)

GtkWidget *ponder_onboarding_page_new(PonderCore *core);

// Bytes of GPU memory a catalog model needs with N_CTX tokens of context
// (ponder_estimate_memory): the weights from its parameter count ("7B") and the mix's
// average bits, the f16 KV cache of its published shapes, and the fixed scratch allowance.
// 0 when the quant type or the size is not known.
guint64 ponder_onboarding_estimate_catalog_bytes(const char *size_label, const char *quant_type,
                                                 guint n_layer, guint n_kv_head, guint head_dim,
                                                 guint n_ctx);

G_END_DECLS
