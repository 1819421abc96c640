// One message of the chat view's list, as the list's item: the stored message and its live
// texts, which grow while the answer streams, and where it stands among its siblings (the
// branch switcher). It is the data of a PonderMessageRow, which draws it.
#pragma once

#include <glib-object.h>

#include "ponder-store.h"

G_BEGIN_DECLS

#define PONDER_TYPE_MESSAGE_ITEM (ponder_message_item_get_type())
G_DECLARE_FINAL_TYPE(PonderMessageItem, ponder_message_item, PONDER, MESSAGE_ITEM, GObject)

// Takes MESSAGE.
PonderMessageItem *ponder_message_item_new(PonderMessage *message);
// The stored message (its texts as stored when it was loaded; see get_content for the live text).
const PonderMessage *ponder_message_item_get_message(PonderMessageItem *self);
gint64 ponder_message_item_get_id(PonderMessageItem *self);
// Replaces the stored message (takes MESSAGE; same id), e.g. when an answer has finished.
void ponder_message_item_set_message(PonderMessageItem *self, PonderMessage *message);

// The text so far: the stored text plus what streamed in since.
const char *ponder_message_item_get_content(PonderMessageItem *self);
const char *ponder_message_item_get_reasoning(PonderMessageItem *self);
gsize ponder_message_item_get_content_length(PonderMessageItem *self);
gsize ponder_message_item_get_reasoning_length(PonderMessageItem *self);
// Changes each time the texts are replaced rather than appended to, so a view that has drawn
// a prefix of them can tell whether to add the rest or draw them anew.
guint ponder_message_item_get_text_generation(PonderMessageItem *self);
// Replaces the live texts (an answer that kept streaming while another conversation was shown
// is ahead of what the store has).
void ponder_message_item_set_texts(PonderMessageItem *self, const char *content,
                                   const char *reasoning);

// Streaming: the answer is being generated now. Appends cost the size of the delta and emit
// "text-changed"; the row redraws at most once per frame however often they come.
void ponder_message_item_begin_streaming(PonderMessageItem *self);
void ponder_message_item_append_reasoning(PonderMessageItem *self, const char *delta);
void ponder_message_item_append_answer(PonderMessageItem *self, const char *delta);
// The end: FINAL (taken; may be NULL to keep the message as it was) is the stored result.
void ponder_message_item_end_streaming(PonderMessageItem *self, PonderMessage *final);
gboolean ponder_message_item_get_streaming(PonderMessageItem *self);
// Seconds from the first reasoning to the first answer text, when this process saw both;
// < 0 otherwise.
double ponder_message_item_get_thinking_seconds(PonderMessageItem *self);

// The branch switcher: this message is number INDEX (from 0) of COUNT under its parent;
// PREVIOUS_ID / NEXT_ID are its neighbours (0: none).
void ponder_message_item_set_siblings(PonderMessageItem *self, guint index, guint count,
                                      gint64 previous_id, gint64 next_id);
gboolean ponder_message_item_has_siblings_info(PonderMessageItem *self);
// What set_siblings set (all 0 before it is called).
void ponder_message_item_get_siblings(PonderMessageItem *self, guint *index, guint *count,
                                      gint64 *previous_id, gint64 *next_id);

G_END_DECLS
