// One message of the shown branch in the chat view's list: a question as wrapping text (with
// an inline editor), or an answer as its thinking section above its Markdown, a stats line
// and the actions on it. Rows are recycled by the list's factory: a row shows whichever
// PonderMessageItem it is bound to.
//
// PonderMessageItem, the list's item, lives here too: it is the row's data and nothing else
// uses it, and keeping the pair together keeps the streaming contract (items collect text,
// rows draw it once per frame) in one place.
//
// The row activates the chat view's actions, so it works inside any widget that installs
// them: "chat.regenerate" (x: answer id), "chat.continue" (x: answer id), "chat.edit"
// ((xs): user message id, new text), "chat.select-branch" (x: message id).
#pragma once

#include <gtk/gtk.h>

#include "ponder-store.h"
#include "ponder-thinking-section.h"

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

#define PONDER_TYPE_MESSAGE_ROW (ponder_message_row_get_type())
G_DECLARE_FINAL_TYPE(PonderMessageRow, ponder_message_row, PONDER, MESSAGE_ROW, GtkWidget)

GtkWidget *ponder_message_row_new(void);
// Shows ITEM (NULL: nothing, when the list unbinds the row).
void ponder_message_row_set_item(PonderMessageRow *self, PonderMessageItem *item);
PonderMessageItem *ponder_message_row_get_item(PonderMessageRow *self);
// Whether answers show their reasoning ("show-thinking" property, default TRUE).
void ponder_message_row_set_show_thinking(PonderMessageRow *self, gboolean show_thinking);
gboolean ponder_message_row_get_show_thinking(PonderMessageRow *self);

// What the row shows, for tests and accessibility checks.
PonderThinkingSection *ponder_message_row_get_thinking_section(PonderMessageRow *self);
GtkWidget *ponder_message_row_get_answer_view(PonderMessageRow *self);
// The stats line under an answer ("120 tokens · 35.2 tokens/s · …", the cut-off or the error).
const char *ponder_message_row_get_status_text(PonderMessageRow *self);
// The branch switcher's "2/3", or NULL when the message has no siblings.
const char *ponder_message_row_get_branch_text(PonderMessageRow *self);
// How many times the answer's Markdown view was given new text (at most once per frame).
guint ponder_message_row_get_answer_updates(PonderMessageRow *self);

// The inline editor of a question: opens it with the question's text, or sends TEXT (NULL:
// the editor's text) as a new branch by activating "chat.edit"; the editor closes when the
// list shows the new branch in its place.
void ponder_message_row_begin_edit(PonderMessageRow *self);
void ponder_message_row_save_edit(PonderMessageRow *self, const char *text);

G_END_DECLS
