// The conversation store: conversations and their messages in one SQLite database.
//
// Messages form a tree per conversation: every message has a parent (NULL for the first), so
// editing a question adds a second user message under the same parent and regenerating an
// answer adds a second assistant message under the same question. The chat view shows the
// path from the root to the conversation's selected leaf; the prompt is built from it too.
//
// Durability: every write commits before it returns (a user message is on disk before the
// answer starts), the database is in WAL mode, so a killed process loses at most the
// partial-answer save in flight. A second process opening the same file waits up to five
// seconds for the lock (busy_timeout) instead of failing. A full disk gives
// PONDER_STORE_ERROR_DISK_FULL and leaves everything committed before as it was.
//
// Deleting a conversation moves it to the trash (it leaves the list and the search), so the
// window can offer Undo: ponder_store_restore_conversation() brings it back, and
// ponder_store_purge_deleted() removes trashed conversations for good.
//
// Times are Unix times in microseconds (g_get_real_time()). Ids are > 0; 0 means "none".
// A PonderStore may be called from any thread: each call holds the store's lock.
#pragma once

#include "ponder-types.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define PONDER_STORE_ERROR (ponder_store_error_quark())
GQuark ponder_store_error_quark(void);

typedef enum {
    PONDER_STORE_ERROR_FAILED,    // any other SQLite failure (the message says which)
    PONDER_STORE_ERROR_DISK_FULL, // nothing of this write was saved; earlier writes are intact
    PONDER_STORE_ERROR_BUSY,      // another process held the database past the busy timeout
    PONDER_STORE_ERROR_CORRUPT,   // not a database, or one that fails its integrity check
    PONDER_STORE_ERROR_TOO_NEW,   // written by a newer Ponder; left untouched
    PONDER_STORE_ERROR_NOT_FOUND, // no such conversation or message
    PONDER_STORE_ERROR_INVALID,   // an argument that does not fit (bad JSON, wrong parent, ...)
    PONDER_STORE_ERROR_IMPORT,    // an import file that is not a Ponder conversation
} PonderStoreError;

typedef enum {
    PONDER_MESSAGE_ROLE_SYSTEM,
    PONDER_MESSAGE_ROLE_USER,
    PONDER_MESSAGE_ROLE_ASSISTANT,
} PonderMessageRole;

typedef struct {
    gint64 id;
    char *title;
    char *system_prompt; // NULL: none (what R1 prefers)
    char *settings_json; // sampling and model, a JSON object; "{}" when never set
    gint64 created_us;
    gint64 updated_us;       // last message activity (renames and settings do not move it)
    gint64 selected_leaf_id; // the message the chat view shows the path to; 0: no messages
    gint64 deleted_us;       // when it went to the trash; 0: not deleted
    gboolean from_api;       // saved from the local API's chat requests (not made in the window)
} PonderConversation;

typedef struct {
    gint64 id;
    gint64 conversation_id;
    gint64 parent_id; // 0 for a first message
    PonderMessageRole role;
    char *content;             // the question, or the answer without its reasoning; never NULL
    char *reasoning;           // R1's <think> part; NULL when there is none
    char *model;               // assistant: the model that answered; NULL otherwise
    char *sampling_json;       // assistant: the sampling settings, a JSON object; NULL otherwise
    gint64 prompt_tokens;      // -1: unknown (user messages, unfinished answers)
    gint64 completion_tokens;  // -1: unknown
    double first_token_s;      // seconds to the first token; < 0: unknown
    double total_s;            // seconds for the whole answer; < 0: unknown
    double tokens_per_second;  // < 0: unknown
    PonderFinishReason finish; // NONE: an answer still streaming or cut by a crash;
                               // user and system messages are STOP
    char *error;               // with PONDER_FINISH_ERROR: what went wrong; NULL otherwise
    gint64 created_us;
    gint64 updated_us;
} PonderMessage;

typedef struct {
    gint64 conversation_id;
    char *title;
    char *snippet; // the matching words in context, from a message or else the title
    gint64 updated_us;
} PonderSearchHit;

// What ponder_store_finish_answer() records beside the final text.
typedef struct {
    PonderFinishReason finish;
    gint64 prompt_tokens;
    gint64 completion_tokens;
    double first_token_s;
    double total_s;
    double tokens_per_second;
    const char *error; // with PONDER_FINISH_ERROR; may be NULL
} PonderAnswerStats;

// A message of an exchange saved from the local API (see PonderApiExchange).
typedef struct {
    PonderMessageRole role;
    const char *content;
    const char *thread_key; // assistant messages: see ponder_store_find_api_answer(); may be NULL
} PonderExchangeMessage;

// One chat request of the local API and its finished answer, saved whole.
typedef struct {
    gint64 after_answer_id;    // 0: a new conversation; else the answer the messages follow
    const char *title;         // a new conversation's
    const char *system_prompt; // a new conversation's; NULL: none
    // What the request added before the answer, in order; the last one a user message.
    // Assistant messages among them are earlier answers the client sent (finish STOP).
    const PonderExchangeMessage *messages;
    gsize n_messages;
    // The answer, as ponder_store_begin_answer() and ponder_store_finish_answer() take it.
    const char *model;
    const char *sampling_json; // a JSON object or NULL
    const char *content;
    const char *reasoning;
    const PonderAnswerStats *stats;
    const char *thread_key; // may be NULL
} PonderApiExchange;

void ponder_conversation_free(PonderConversation *conversation);
void ponder_message_free(PonderMessage *message);
void ponder_search_hit_free(PonderSearchHit *hit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PonderConversation, ponder_conversation_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PonderMessage, ponder_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PonderSearchHit, ponder_search_hit_free)

// "user", "assistant", "system" (what the database and the JSON export hold).
const char *ponder_message_role_to_string(PonderMessageRole role);
// "none", "stop", "length", "cancelled", "error".
const char *ponder_finish_reason_to_string(PonderFinishReason finish);

#define PONDER_TYPE_STORE (ponder_store_get_type())
G_DECLARE_FINAL_TYPE(PonderStore, ponder_store, PONDER, STORE, GObject)

// Opens or creates the database at PATH (creating its folder) and brings its schema up to
// date. The app passes $XDG_DATA_HOME/ponder/ponder.db.
PonderStore *ponder_store_new(const char *path, GError **error);
// The same on the SQLite VFS named VFS_NAME (NULL: the default), for fault-injection tests.
PonderStore *ponder_store_new_full(const char *path, const char *vfs_name, GError **error);
const char *ponder_store_get_filename(PonderStore *self);
// PRAGMA integrity_check, and the search index checked against the tables it indexes;
// CORRUPT with the first problem.
gboolean ponder_store_check(PonderStore *self, GError **error);

// Conversations. Functions returning an id return 0 on error.
gint64 ponder_store_create_conversation(PonderStore *self, const char *title, GError **error);
gboolean ponder_store_rename_conversation(PonderStore *self, gint64 conversation_id,
                                          const char *title, GError **error);
// PROMPT NULL: no system prompt.
gboolean ponder_store_set_system_prompt(PonderStore *self, gint64 conversation_id,
                                        const char *prompt, GError **error);
// SETTINGS_JSON must be a JSON object (INVALID otherwise); it is stored minified.
gboolean ponder_store_set_settings(PonderStore *self, gint64 conversation_id,
                                   const char *settings_json, GError **error);
// Moves the conversation to the trash; restore brings it back with everything in it.
gboolean ponder_store_delete_conversation(PonderStore *self, gint64 conversation_id,
                                          GError **error);
gboolean ponder_store_restore_conversation(PonderStore *self, gint64 conversation_id,
                                           GError **error);
// Removes every conversation in the trash, and its messages, for good.
gboolean ponder_store_purge_deleted(PonderStore *self, GError **error);
// Also finds conversations in the trash (deleted_us != 0).
PonderConversation *ponder_store_get_conversation(PonderStore *self, gint64 conversation_id,
                                                  GError **error);
// Conversations not in the trash, most recently active first. Element type PonderConversation.
GPtrArray *ponder_store_list_conversations(PonderStore *self, GError **error);

// Messages. Each call commits before it returns and selects the new message as the leaf.
// PARENT_ID 0 starts the conversation (or, beside an existing first message, edits it).
gint64 ponder_store_add_user_message(PonderStore *self, gint64 conversation_id, gint64 parent_id,
                                     const char *text, GError **error);
// An empty answer (finish NONE) under the user message USER_MESSAGE_ID. SAMPLING_JSON: a JSON
// object or NULL.
gint64 ponder_store_begin_answer(PonderStore *self, gint64 user_message_id, const char *model,
                                 const char *sampling_json, GError **error);
// The text streamed so far (REASONING may be NULL). One small UPDATE: call it about once a
// second while streaming. INVALID when the answer is already finished.
gboolean ponder_store_save_partial_answer(PonderStore *self, gint64 answer_id, const char *content,
                                          const char *reasoning, GError **error);
// The final text and how it ended (STATS->finish must not be NONE).
gboolean ponder_store_finish_answer(PonderStore *self, gint64 answer_id, const char *content,
                                    const char *reasoning, const PonderAnswerStats *stats,
                                    GError **error);
PonderMessage *ponder_store_get_message(PonderStore *self, gint64 message_id, GError **error);
// The branches under PARENT_ID (0: the first messages of the conversation), oldest first;
// empty for a leaf.
// Element type PonderMessage.
GPtrArray *ponder_store_list_children(PonderStore *self, gint64 conversation_id, gint64 parent_id,
                                      GError **error);
// From the first message down to LEAF_ID, in order. Element type PonderMessage.
GPtrArray *ponder_store_get_path_to_leaf(PonderStore *self, gint64 leaf_id, GError **error);
// The leaf the chat view shows; 0 (and no error) for a conversation without messages.
gint64 ponder_store_get_selected_leaf(PonderStore *self, gint64 conversation_id, GError **error);
// Switches to the branch through MESSAGE_ID: selects the leaf reached by following the newest
// child down from it, and returns that leaf.
gint64 ponder_store_select_branch(PonderStore *self, gint64 message_id, GError **error);

// Conversations saved from the local API (see app/ponder-api-history.c).
// Saves EXCHANGE in one transaction: a new conversation (marked from_api) or the messages
// added under an earlier answer, then the answer, selected as the leaf. Returns the answer's
// id; 0 and nothing saved on error (INVALID for an EXCHANGE that does not fit). Emits
// "api-exchange-saved" (gint64 conversation id) after the commit, so a window shows it.
gint64 ponder_store_add_api_exchange(PonderStore *self, const PonderApiExchange *exchange,
                                     GError **error);
// The newest answer saved with THREAD_KEY in a conversation not in the trash; 0 (and no
// error) when there is none.
gint64 ponder_store_find_api_answer(PonderStore *self, const char *thread_key, GError **error);
// The title a conversation gets from its first message: the first line, cut at a word
// boundary near 40 characters ("…" then marks the cut).
char *ponder_conversation_title_from_text(const char *text);

// Full-text search over titles and message texts (not the reasoning) of the conversations not
// in the trash, most recently active first, one hit per conversation. QUERY is what the user
// typed (FTS5 syntax in it is plain text): all its words must occur in one message or in the
// title, the last word as a prefix (search as you type); accents and case do not matter. At
// most LIMIT hits (<= 0: no limit). Element type PonderSearchHit.
GPtrArray *ponder_store_search(PonderStore *self, const char *query, int limit, GError **error);

// Export and import (ponder-store-export.c).
// The selected branch as Markdown: a heading per turn, the reasoning in a <details> block, a
// stats line under each answer.
char *ponder_store_export_markdown(PonderStore *self, gint64 conversation_id, GError **error);
// Every message with every field, branches included ("format": "ponder-conversation",
// "version": 1; message ids numbered from 1 in the file). Times in ISO 8601 UTC.
char *ponder_store_export_json(PonderStore *self, gint64 conversation_id, GError **error);
// A conversation exported by ponder_store_export_json() as a new conversation (keeping its
// title and times); returns its id. On any problem, IMPORT naming it and nothing imported.
gint64 ponder_store_import_json(PonderStore *self, const char *json, gssize length, GError **error);

G_END_DECLS
