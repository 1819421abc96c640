// What the engine thread calls on a generation. Everything here is thread-safe: results are
// queued under the generation's lock and delivered on its main context by one coalescing
// source.
#pragma once

#include "ponder-generation.h"

G_BEGIN_DECLS

typedef enum {
    PONDER_GENERATION_CHAT,
    PONDER_GENERATION_RAW,
} PonderGenerationKind;

// The request as submitted (immutable once submitted; read by the engine thread).
typedef struct {
    PonderGenerationKind kind;
    ChatMessage *messages; // chat: owned copies
    gsize n_messages;
    gboolean has_partial;
    PonderPartialAnswer partial; // owned copies
    char *raw_text;              // raw
    PonderPriority priority;
    SamplerParams sampling;
    guint max_tokens;
    GStrv stop;
    gboolean ignore_eos;
    gint reasoning_budget; // -1: none
    PonderReasoningEffort reasoning_effort;
    gboolean loop_guard;
} PonderGenerationRequest;

const PonderGenerationRequest *ponder_generation_get_request(PonderGeneration *self);
// Called by ponder_engine_submit on the submitting thread: binds the main context.
void ponder_generation_mark_submitted(PonderGeneration *self);
gboolean ponder_generation_is_cancelled(PonderGeneration *self);
gboolean ponder_generation_answer_now_requested(PonderGeneration *self);

void ponder_generation_push_started(PonderGeneration *self, guint prompt_tokens,
                                    guint cached_tokens, guint dropped_messages, gint64 load_us);
void ponder_generation_push_progress(PonderGeneration *self, guint done, guint total);
void ponder_generation_push_text(PonderGeneration *self, gboolean reasoning, const char *text,
                                 gsize len);
// Counts a generated token (the first one ends the prefill time); REASONING: one of the
// reasoning's.
void ponder_generation_push_token(PonderGeneration *self, gboolean reasoning);
void ponder_generation_push_reasoning_end(PonderGeneration *self, PonderReasoningEnd end);
// Token counts a remote server reported (its "usage"), replacing what was counted here.
void ponder_generation_push_usage(PonderGeneration *self, guint prompt_tokens,
                                  guint completion_tokens);
// Takes ERROR (may be NULL) and the caller's reference: it is dropped on the main context
// after "finished" is emitted, so a generation is always finalized there (its main-context
// fields are never touched from the engine thread). Nothing may be pushed after this.
void ponder_generation_push_finished(PonderGeneration *self, PonderFinishReason reason,
                                     gboolean in_reasoning, GError *error);

G_END_DECLS
