// One request to the engine: a conversation to continue (or a raw prompt), its sampling
// settings, and — once submitted — the answer streaming back. Signals are emitted on the
// main context that was the thread default when the request was submitted, coalesced to
// at most one delta per frame however fast the model runs.
#pragma once

#include <gio/gio.h>

#include "ponder-infer.h"
#include "ponder-chat-prompt.h"
#include "ponder-types.h"

G_BEGIN_DECLS

#define PONDER_TYPE_GENERATION (ponder_generation_get_type())
G_DECLARE_FINAL_TYPE(PonderGeneration, ponder_generation, PONDER, GENERATION, GObject)

// MESSAGES are copied; assistant texts are answers only (their reasoning is never sent back).
// PARTIAL, when not NULL, is an answer cut off earlier, to be continued.
PonderGeneration *ponder_generation_new_chat(const ChatMessage *messages, gsize n_messages,
                                             const PonderPartialAnswer *partial);
// A raw completion: TEXT is tokenized as plain text (BOS added when the model wants it), and
// the output is not split into reasoning and answer.
PonderGeneration *ponder_generation_new_raw(const char *text);

// Settings; only before submitting.
void ponder_generation_set_priority(PonderGeneration *self, PonderPriority priority);
void ponder_generation_set_sampling(PonderGeneration *self, const SamplerParams *params);
// 0: the engine's default maximum answer length.
void ponder_generation_set_max_tokens(PonderGeneration *self, guint max_tokens);
// Generation stops before the first occurrence of any of STOP (NULL-terminated, copied) in
// the answer; the stop text itself is not part of the answer.
void ponder_generation_set_stop(PonderGeneration *self, const char *const *stop);
// Keeps generating through end-of-sentence (benchmarks and tests).
void ponder_generation_set_ignore_eos(PonderGeneration *self, gboolean ignore_eos);
// Reasoning tokens allowed before the engine closes the reasoning itself (a newline,
// "</think>" and the blank line of the template, as tokens) and the answer follows within
// the remaining max_tokens: -1 (the default) unlimited, 0 an empty reasoning block. A budget
// at or above max_tokens never triggers.
void ponder_generation_set_reasoning_budget(PonderGeneration *self, gint budget);
// A preset budget, capped so that at least PONDER_ANSWER_RESERVE tokens of the context stay
// for the answer (UNLIMITED is capped the same way). With a budget too, the smaller wins.
void ponder_generation_set_reasoning_effort(PonderGeneration *self, PonderReasoningEffort effort);
// Closes reasoning that repeats the same span of 16-64 tokens 4 times in a row.
void ponder_generation_set_loop_guard(PonderGeneration *self, gboolean loop_guard);
// Thread-safe: the engine closes the reasoning at its next step, and the answer follows the
// reasoning written so far. No effect once the answer has begun.
void ponder_generation_answer_now(PonderGeneration *self);

// Thread-safe. The engine frees the sequence within one forward step and finishes the
// generation with PONDER_FINISH_CANCELLED.
void ponder_generation_cancel(PonderGeneration *self);

// The budget an effort preset stands for with N_CTX tokens of context and N_PROMPT of
// prompt; -1 for DEFAULT.
gint ponder_reasoning_effort_budget(PonderReasoningEffort effort, guint n_ctx, guint n_prompt);
#define PONDER_ANSWER_RESERVE 1024

// Results so far, on the main context (what the signals have delivered).
gboolean ponder_generation_is_finished(PonderGeneration *self);
PonderFinishReason ponder_generation_get_finish_reason(PonderGeneration *self);
// The error of a PONDER_FINISH_ERROR (or a cancellation's reason), or NULL.
const GError *ponder_generation_get_error(PonderGeneration *self);
// True when the answer ended (cut off or stopped) while still inside its reasoning.
gboolean ponder_generation_ended_in_reasoning(PonderGeneration *self);
const char *ponder_generation_get_reasoning(PonderGeneration *self);
const char *ponder_generation_get_answer(PonderGeneration *self);

typedef struct {
    guint prompt_tokens;  // the whole prompt
    guint cached_tokens;  // of those, found in the prefix cache (not computed again)
    guint prefill_tokens; // of those, computed (prompt_tokens - cached_tokens)
    guint completion_tokens;
    guint reasoning_tokens; // of those, from the first reasoning token through "</think>"
    PonderReasoningEnd reasoning_end;
    guint dropped_messages; // oldest messages left out so the prompt fits the context
    gint64 queued_us;       // submitted -> started
    gint64 load_us;         // model load this request waited for
    gint64 prefill_us;      // started -> first token
    gint64 decode_us;       // first token -> end
    gint64 total_us;        // submitted -> end
    guint deltas_emitted;   // signal emissions with text (coalescing can be observed)
} PonderGenerationStats;

void ponder_generation_get_stats(PonderGeneration *self, PonderGenerationStats *out);

G_END_DECLS
