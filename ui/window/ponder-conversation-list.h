// The sidebar: conversations, most recently active first; full-text search as you type
// (ponder_store_search) showing where the words matched; rename; delete into the store's
// trash (the window offers Undo, which restores it).
#pragma once

#include <gtk/gtk.h>

#include "ponder-store.h"

G_BEGIN_DECLS

#define PONDER_TYPE_CONVERSATION_LIST (ponder_conversation_list_get_type())
G_DECLARE_FINAL_TYPE(PonderConversationList, ponder_conversation_list, PONDER, CONVERSATION_LIST,
                     GtkWidget)

GtkWidget *ponder_conversation_list_new(PonderStore *store);

// Reads the list (or runs the search in the entry) again.
void ponder_conversation_list_refresh(PonderConversationList *self);
// Highlights CONVERSATION_ID's row (0: none) without emitting "conversation-activated".
void ponder_conversation_list_select(PonderConversationList *self, gint64 conversation_id);
// Sets the search text (searches at once; "" shows every conversation).
void ponder_conversation_list_set_search(PonderConversationList *self, const char *text);
void ponder_conversation_list_focus_search(PonderConversationList *self);

gboolean ponder_conversation_list_rename(PonderConversationList *self, gint64 conversation_id,
                                         const char *title, GError **error);
// Moves the conversation to the trash and emits "conversation-deleted".
gboolean ponder_conversation_list_delete(PonderConversationList *self, gint64 conversation_id,
                                         GError **error);
gboolean ponder_conversation_list_restore(PonderConversationList *self, gint64 conversation_id,
                                          GError **error);

// The ids of the rows shown, top to bottom (for the window and the tests); transfer full.
GArray *ponder_conversation_list_get_shown(PonderConversationList *self);

// Actions: "list.rename" (x: asks for the new title), "list.delete" (x).
// Signals:
//   "conversation-activated" (gint64 id)                 a row was chosen
//   "conversation-deleted"   (gint64 id, const char *title)   moved to the trash
//   "show-toast"             (const char *)              an error to show

G_END_DECLS
