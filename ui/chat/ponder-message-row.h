// One message of the shown branch in the chat view's list: a question as wrapping text (with
// an inline editor), or an answer as its thinking section above its Markdown, a stats line
// and the actions on it. Rows are recycled by the list's factory: a row shows whichever
// PonderMessageItem it is bound to.
//
// The row activates the chat view's actions, so it works inside any widget that installs
// them: "chat.regenerate" (x: answer id), "chat.continue" (x: answer id), "chat.edit"
// ((xs): user message id, new text), "chat.select-branch" (x: message id).
#pragma once

#include <gtk/gtk.h>

#include "ponder-message-item.h"
#include "ponder-thinking-section.h"

G_BEGIN_DECLS

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
