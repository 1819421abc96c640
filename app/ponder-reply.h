// One answer being generated in a stored conversation. The question is committed before
// the engine sees it; the answer streams into the store, saved at most once per save
// interval (a second in the app) and marked incomplete until it ends, so a crash loses at
// most the last interval. When the disk is full the text stays in memory: the reply keeps
// streaming, says so ("save-failed"), and ponder_reply_retry_save() writes it later.
#pragma once

#include "ponder-engine.h"
#include "ponder-store.h"

G_BEGIN_DECLS

typedef struct {
    const char *model_name; // recorded with the answer (the model's slug)
    PonderPriority priority;
    guint max_tokens;              // 0: the engine's default
    guint save_interval_ms;        // 0: 1000
    gboolean ignore_eos;           // tests and benchmarks
    const SamplerParams *sampling; // NULL: from the conversation's settings, else R1's defaults
} PonderReplyOptions;

#define PONDER_TYPE_REPLY (ponder_reply_get_type())
G_DECLARE_FINAL_TYPE(PonderReply, ponder_reply, PONDER, REPLY, GObject)

// Adds TEXT as a user message under PARENT_ID (0: after the conversation's selected leaf;
// an earlier message's parent to edit it into a new branch) and answers it. NULL when the
// message could not be stored (the caller keeps TEXT to retry) or the engine refused it.
PonderReply *ponder_reply_send(PonderStore *store, PonderEngine *engine, gint64 conversation_id,
                               gint64 parent_id, const char *text,
                               const PonderReplyOptions *options, GError **error);
// A new answer to the user message USER_MESSAGE_ID, beside the earlier ones (a new branch).
PonderReply *ponder_reply_regenerate(PonderStore *store, PonderEngine *engine,
                                     gint64 user_message_id, const PonderReplyOptions *options,
                                     GError **error);
// Continues the answer ANSWER_ID that the length limit (or a crash) cut off: a new branch
// beside it starting with its text, so the cut version stays as it was.
PonderReply *ponder_reply_continue(PonderStore *store, PonderEngine *engine, gint64 answer_id,
                                   const PonderReplyOptions *options, GError **error);

// What the store records of a finished GENERATION's end (finish reason, token counts,
// timings, error); the error text stays owned by the generation. Shared with the API's
// history, so that both kinds of answers are stored alike.
void ponder_answer_stats_from_generation(PonderGeneration *generation, PonderAnswerStats *out);
void ponder_reply_stop(PonderReply *self);
PonderGeneration *ponder_reply_get_generation(PonderReply *self);
gint64 ponder_reply_get_user_message_id(PonderReply *self);
gint64 ponder_reply_get_answer_id(PonderReply *self);
const char *ponder_reply_get_reasoning(PonderReply *self);
const char *ponder_reply_get_answer(PonderReply *self);
// TRUE once the answer ended and its final text is in the store.
gboolean ponder_reply_is_saved(PonderReply *self);
// Writes what is still only in memory (after "save-failed"); FALSE with the store's error.
gboolean ponder_reply_retry_save(PonderReply *self, GError **error);

G_END_DECLS
