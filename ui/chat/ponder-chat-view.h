// The conversation pane: the messages of the selected branch (a GtkListView, so thousands
// of messages cost nothing), R1's streaming thinking section, the answer in Markdown, the
// composer, and the actions on messages (stop, continue, regenerate, edit, switch branch,
// copy). It works on a PonderCore's store and engine, never on inference/ directly.
#pragma once

#include <gtk/gtk.h>

#include "ponder-core.h"

G_BEGIN_DECLS

#define PONDER_TYPE_CHAT_VIEW (ponder_chat_view_get_type())
G_DECLARE_FINAL_TYPE(PonderChatView, ponder_chat_view, PONDER, CHAT_VIEW, GtkWidget)

GtkWidget *ponder_chat_view_new(PonderCore *core);
// Shows CONVERSATION_ID (0: a new, empty chat; sending the first message creates it and
// emits "conversation-created" with the new id).
void ponder_chat_view_set_conversation(PonderChatView *self, gint64 conversation_id);
gint64 ponder_chat_view_get_conversation(PonderChatView *self);
void ponder_chat_view_focus_composer(PonderChatView *self);
// Stops the answer being generated, if any (Esc).
void ponder_chat_view_stop(PonderChatView *self);
// TRUE while an answer is being generated ("busy" property).
gboolean ponder_chat_view_get_busy(PonderChatView *self);

// Signals:
//   "prepare-conversation" (gint64 id)      a new chat's conversation exists, its first
//                                           message not yet sent: settings set now apply to it
//   "conversation-created" (gint64 id)      the first message of a new chat was stored
//   "conversation-changed" (gint64 id)      a message was added/finished (the sidebar re-sorts)
//   "show-toast"           (const char *)   an error or notice (plain text) for the toast overlay

G_END_DECLS
