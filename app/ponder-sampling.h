// The one encoding of sampling settings as JSON text: what the store keeps with each answer
// and as a conversation's own settings, written by the window, the reply and the API's
// history, read back by the reply. Numbers have a '.' in every locale.
#pragma once

#include <glib.h>

#include "ponder-infer.h"

G_BEGIN_DECLS

// A JSON object of every field of SAMPLING; the seed written as a signed 64-bit number
// (JSON readers stop there), the same bits, and only with WITH_SEED (a conversation that
// does not fix its seed gets a new one for every answer); MAX_TOKENS left out when 0.
char *ponder_sampling_to_json(const SamplerParams *sampling, gboolean with_seed, guint max_tokens);

// Reads what ponder_sampling_to_json wrote (or any subset of it) over *OUT: members it has
// replace OUT's fields, others are kept. *HAS_SEED (may be NULL) tells whether the seed was
// there. Fails for text that is not a JSON object or a member of the wrong kind.
gboolean ponder_sampling_from_json(const char *json, SamplerParams *out, gboolean *has_seed,
                                   GError **error);

G_END_DECLS
