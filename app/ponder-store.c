// PonderStore: opening the database, conversations, the message tree, and search.
// The schema is in ponder-store-migrations.c, export and import in ponder-store-export.c.

#include "ponder-store-private.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "ponder-json-guard.h"

struct _PonderStore {
    GObject parent_instance;

    // owned
    sqlite3 *db;
    char *path;
    GHashTable *statements; // SQL string literal (by address) -> sqlite3_stmt *
    GRecMutex lock;
};

G_DEFINE_TYPE(PonderStore, ponder_store, G_TYPE_OBJECT)

enum { SIGNAL_API_EXCHANGE_SAVED, N_STORE_SIGNALS };
static guint store_signals[N_STORE_SIGNALS];

GQuark ponder_store_error_quark(void)
{
    return g_quark_from_static_string("ponder-store-error-quark");
}

#define LOCK_STORE(self) g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&(self)->lock)

// Row types

void ponder_conversation_free(PonderConversation *conversation)
{
    if (!conversation)
        return;
    g_free(conversation->title);
    g_free(conversation->system_prompt);
    g_free(conversation->settings_json);
    g_free(conversation);
}

void ponder_message_free(PonderMessage *message)
{
    if (!message)
        return;
    g_free(message->content);
    g_free(message->reasoning);
    g_free(message->model);
    g_free(message->sampling_json);
    g_free(message->error);
    g_free(message);
}

void ponder_search_hit_free(PonderSearchHit *hit)
{
    if (!hit)
        return;
    g_free(hit->title);
    g_free(hit->snippet);
    g_free(hit);
}

static const char *const role_names[] = {
    [PONDER_MESSAGE_ROLE_SYSTEM] = "system",
    [PONDER_MESSAGE_ROLE_USER] = "user",
    [PONDER_MESSAGE_ROLE_ASSISTANT] = "assistant",
};

static const char *const finish_names[] = {
    [PONDER_FINISH_NONE] = "none",     [PONDER_FINISH_STOP] = "stop",
    [PONDER_FINISH_LENGTH] = "length", [PONDER_FINISH_CANCELLED] = "cancelled",
    [PONDER_FINISH_ERROR] = "error",
};

const char *ponder_message_role_to_string(PonderMessageRole role)
{
    g_return_val_if_fail((guint)role < G_N_ELEMENTS(role_names), NULL);
    return role_names[role];
}

const char *ponder_finish_reason_to_string(PonderFinishReason finish)
{
    g_return_val_if_fail((guint)finish < G_N_ELEMENTS(finish_names), NULL);
    return finish_names[finish];
}

gboolean ponder_message_role_from_string(const char *text, PonderMessageRole *role)
{
    for (guint i = 0; text && i < G_N_ELEMENTS(role_names); i++) {
        if (g_str_equal(text, role_names[i])) {
            *role = (PonderMessageRole)i;
            return TRUE;
        }
    }
    return FALSE;
}

gboolean ponder_finish_reason_from_string(const char *text, PonderFinishReason *finish)
{
    for (guint i = 0; text && i < G_N_ELEMENTS(finish_names); i++) {
        if (g_str_equal(text, finish_names[i])) {
            *finish = (PonderFinishReason)i;
            return TRUE;
        }
    }
    return FALSE;
}

// Helpers shared with the other store files

sqlite3 *ponder_store_get_db(PonderStore *self)
{
    return self->db;
}

GRecMutex *ponder_store_get_lock(PonderStore *self)
{
    return &self->lock;
}

void ponder_store_set_error(PonderStore *self, int rc, const char *what, GError **error)
{
    const char *why = self->db ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc);
    // Linux reports a full disk as ENOSPC, which SQLite turns into SQLITE_FULL; growing the
    // WAL index file fails as SHMSIZE for the same reason.
    if ((rc & 0xff) == SQLITE_FULL || rc == SQLITE_IOERR_SHMSIZE) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_DISK_FULL,
                    "The disk is full: could not %s (%s)", what, self->path);
        return;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_BUSY,
                    "Could not %s: another program kept %s locked for over %d seconds", what,
                    self->path, PONDER_STORE_BUSY_TIMEOUT_MS / 1000);
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_CORRUPT,
                    "Could not %s: %s is damaged or not a Ponder database (%s)", what, self->path,
                    why);
        break;
    default:
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_FAILED, "Could not %s (%s): %s",
                    what, self->path, why);
        break;
    }
}

sqlite3_stmt *ponder_store_statement(PonderStore *self, const char *sql, GError **error)
{
    sqlite3_stmt *stmt = g_hash_table_lookup(self->statements, sql);
    if (stmt) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        return stmt;
    }
    int rc = sqlite3_prepare_v3(self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK) {
        ponder_store_set_error(self, rc, "prepare a query", error);
        return NULL;
    }
    g_hash_table_insert(self->statements, (gpointer)sql, stmt);
    return stmt;
}

static gboolean exec_sql(PonderStore *self, const char *sql, const char *what, GError **error)
{
    int rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ponder_store_set_error(self, rc, what, error);
        return FALSE;
    }
    return TRUE;
}

gboolean ponder_store_begin(PonderStore *self, const char *what, GError **error)
{
    return exec_sql(self, "BEGIN IMMEDIATE", what, error);
}

void ponder_store_rollback(PonderStore *self)
{
    if (!sqlite3_get_autocommit(self->db))
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
}

gboolean ponder_store_commit(PonderStore *self, const char *what, GError **error)
{
    if (!exec_sql(self, "COMMIT", what, error)) {
        ponder_store_rollback(self);
        return FALSE;
    }
    return TRUE;
}

// Runs a statement that returns no rows and resets it.
static gboolean step_done(PonderStore *self, sqlite3_stmt *stmt, const char *what, GError **error)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        ponder_store_set_error(self, rc, what, error);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE;
}

static void set_not_found(GError **error, const char *kind, gint64 id)
{
    g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND,
                "There is no %s %" G_GINT64_FORMAT, kind, id);
}

// Steps a statement that looks up the KIND (a conversation, a message) with ID: TRUE with its
// row ready to read (reset the statement after), FALSE with NOT_FOUND or the SQLite error.
static gboolean step_to_row(PonderStore *self, sqlite3_stmt *stmt, const char *kind, gint64 id,
                            GError **error)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        return TRUE;
    if (rc == SQLITE_DONE) {
        set_not_found(error, kind, id);
    } else {
        g_autofree char *what = g_strdup_printf("read the %s", kind);
        ponder_store_set_error(self, rc, what, error);
    }
    sqlite3_reset(stmt);
    return FALSE;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, index);
}

// Ids, counts and times below zero are "unknown" in the API and NULL in the database.
static void bind_id_or_null(sqlite3_stmt *stmt, int index, gint64 value)
{
    if (value > 0)
        sqlite3_bind_int64(stmt, index, value);
    else
        sqlite3_bind_null(stmt, index);
}

static void bind_count_or_null(sqlite3_stmt *stmt, int index, gint64 value)
{
    if (value >= 0)
        sqlite3_bind_int64(stmt, index, value);
    else
        sqlite3_bind_null(stmt, index);
}

static void bind_seconds_or_null(sqlite3_stmt *stmt, int index, double value)
{
    if (value >= 0)
        sqlite3_bind_double(stmt, index, value);
    else
        sqlite3_bind_null(stmt, index);
}

static char *column_dup(sqlite3_stmt *stmt, int column)
{
    if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
        return NULL;
    return g_strdup((const char *)sqlite3_column_text(stmt, column));
}

static gint64 column_count(sqlite3_stmt *stmt, int column)
{
    if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
        return -1;
    return sqlite3_column_int64(stmt, column);
}

static double column_seconds(sqlite3_stmt *stmt, int column)
{
    if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
        return -1;
    return sqlite3_column_double(stmt, column);
}

// SETTINGS must be a JSON object: what the window and the engine read back expects one.
static gboolean check_json_object(const char *json, const char *what, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) parse_error = NULL;
    if (!ponder_json_parser_load_untrusted(parser, json, -1, &parse_error)) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "%s are not valid JSON: %s", what, parse_error->message);
        return FALSE;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "%s are not a JSON object", what);
        return FALSE;
    }
    return TRUE;
}

// Opening

static void ponder_store_finalize(GObject *object)
{
    PonderStore *self = PONDER_STORE(object);
    // Statements first: a connection with live statements does not close.
    g_hash_table_destroy(self->statements);
    if (self->db && sqlite3_close(self->db) != SQLITE_OK)
        g_warning("Could not close %s: %s", self->path, sqlite3_errmsg(self->db));
    g_free(self->path);
    g_rec_mutex_clear(&self->lock);
    G_OBJECT_CLASS(ponder_store_parent_class)->finalize(object);
}

static void ponder_store_class_init(PonderStoreClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = ponder_store_finalize;
    store_signals[SIGNAL_API_EXCHANGE_SAVED] =
        g_signal_new("api-exchange-saved", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
}

static void finalize_statement(gpointer stmt)
{
    sqlite3_finalize(stmt);
}

static void ponder_store_init(PonderStore *self)
{
    g_rec_mutex_init(&self->lock);
    self->statements =
        g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, finalize_statement);
}

PonderStore *ponder_store_new(const char *path, GError **error)
{
    return ponder_store_new_full(path, NULL, error);
}

PonderStore *ponder_store_new_full(const char *path, const char *vfs_name, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    g_autoptr(PonderStore) self = g_object_new(PONDER_TYPE_STORE, NULL);
    self->path = g_strdup(path);

    g_autofree char *folder = g_path_get_dirname(path);
    if (g_mkdir_with_parents(folder, 0700) != 0) {
        int saved_errno = errno;
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_FAILED,
                    "Could not create the folder %s: %s", folder, g_strerror(saved_errno));
        return NULL;
    }

    int rc = sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs_name);
    if (rc != SQLITE_OK) {
        ponder_store_set_error(self, rc, "open the database", error);
        return NULL;
    }
    sqlite3_extended_result_codes(self->db, 1);
    sqlite3_busy_timeout(self->db, PONDER_STORE_BUSY_TIMEOUT_MS);

    // Before anything writes (switching to WAL does): a newer app's file stays as it was.
    int version = 0;
    if (!ponder_store_read_schema_version(self, &version, error))
        return NULL;
    if (version > PONDER_STORE_SCHEMA_VERSION) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_TOO_NEW,
                    "%s was written by a newer version of Ponder (database version %d; this "
                    "version reads up to %d). It was left unchanged.",
                    path, version, PONDER_STORE_SCHEMA_VERSION);
        return NULL;
    }

    // WAL: a crash loses at most the transaction in flight, readers never block the writer,
    // and NORMAL sync is then safe against corruption (a power cut may drop the last commits).
    if (!exec_sql(self, "PRAGMA journal_mode = WAL", "switch the database to WAL mode", error) ||
        !exec_sql(self, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL",
                  "configure the database", error))
        return NULL;

    if (!ponder_store_migrate(self, version, error))
        return NULL;
    return g_steal_pointer(&self);
}

const char *ponder_store_get_filename(PonderStore *self)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), NULL);
    return self->path;
}

static gboolean check_fts_index(PonderStore *self, const char *sql, GError **error)
{
    int rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ponder_store_set_error(self, rc, "check the search index", error);
        return FALSE;
    }
    return TRUE;
}

gboolean ponder_store_check(PonderStore *self, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), FALSE);
    LOCK_STORE(self);

    sqlite3_stmt *stmt = ponder_store_statement(self, "PRAGMA integrity_check", error);
    if (!stmt)
        return FALSE;
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        ponder_store_set_error(self, rc, "check the database", error);
        sqlite3_reset(stmt);
        return FALSE;
    }
    g_autofree char *first_problem = column_dup(stmt, 0);
    sqlite3_reset(stmt);
    if (g_strcmp0(first_problem, "ok") != 0) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_CORRUPT, "%s is damaged: %s",
                    self->path, first_problem);
        return FALSE;
    }
    // rank 1: also compare the index with the tables it indexes, not only with itself.
    return check_fts_index(self,
                           "INSERT INTO conversations_fts(conversations_fts, rank)"
                           " VALUES ('integrity-check', 1)",
                           error) &&
           check_fts_index(self,
                           "INSERT INTO messages_fts(messages_fts, rank)"
                           " VALUES ('integrity-check', 1)",
                           error);
}

// Conversations

gint64 ponder_store_create_conversation(PonderStore *self, const char *title, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), 0);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = ponder_store_statement(
        self, "INSERT INTO conversations (title, created_at, updated_at) VALUES (?1, ?2, ?2)",
        error);
    if (!stmt)
        return 0;
    sqlite3_bind_text(stmt, 1, title ? title : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, g_get_real_time());
    if (!step_done(self, stmt, "create a conversation", error))
        return 0;
    return sqlite3_last_insert_rowid(self->db);
}

// Prepares an UPDATE of one conversation, ?1 bound to its id; the caller binds the rest.
static sqlite3_stmt *conversation_update(PonderStore *self, const char *sql, gint64 conversation_id,
                                         GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(self, sql, error);
    if (stmt)
        sqlite3_bind_int64(stmt, 1, conversation_id);
    return stmt;
}

// Runs it: the conversation has to be there.
static gboolean run_conversation_update(PonderStore *self, sqlite3_stmt *stmt,
                                        gint64 conversation_id, const char *what, GError **error)
{
    if (!stmt || !step_done(self, stmt, what, error))
        return FALSE;
    if (sqlite3_changes(self->db) == 0) {
        set_not_found(error, "conversation", conversation_id);
        return FALSE;
    }
    return TRUE;
}

gboolean ponder_store_rename_conversation(PonderStore *self, gint64 conversation_id,
                                          const char *title, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), FALSE);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = conversation_update(
        self, "UPDATE conversations SET title = ?2 WHERE id = ?1", conversation_id, error);
    if (stmt)
        sqlite3_bind_text(stmt, 2, title ? title : "", -1, SQLITE_TRANSIENT);
    return run_conversation_update(self, stmt, conversation_id, "rename the conversation", error);
}

gboolean ponder_store_set_system_prompt(PonderStore *self, gint64 conversation_id,
                                        const char *prompt, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), FALSE);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = conversation_update(
        self, "UPDATE conversations SET system_prompt = ?2 WHERE id = ?1", conversation_id, error);
    if (stmt)
        bind_text_or_null(stmt, 2, prompt);
    return run_conversation_update(self, stmt, conversation_id, "save the system prompt", error);
}

gboolean ponder_store_set_settings(PonderStore *self, gint64 conversation_id,
                                   const char *settings_json, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), FALSE);
    g_return_val_if_fail(settings_json != NULL, FALSE);
    g_autofree char *what =
        g_strdup_printf("The settings for conversation %" G_GINT64_FORMAT, conversation_id);
    if (!check_json_object(settings_json, what, error))
        return FALSE;
    LOCK_STORE(self);
    sqlite3_stmt *stmt = conversation_update(
        self, "UPDATE conversations SET settings = json(?2) WHERE id = ?1", conversation_id, error);
    if (stmt)
        sqlite3_bind_text(stmt, 2, settings_json, -1, SQLITE_TRANSIENT);
    return run_conversation_update(self, stmt, conversation_id, "save the settings", error);
}

gboolean ponder_store_delete_conversation(PonderStore *self, gint64 conversation_id, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), FALSE);
    LOCK_STORE(self);
    // Deleting twice keeps the first time.
    sqlite3_stmt *stmt = conversation_update(
        self, "UPDATE conversations SET deleted_at = coalesce(deleted_at, ?2) WHERE id = ?1",
        conversation_id, error);
    if (stmt)
        sqlite3_bind_int64(stmt, 2, g_get_real_time());
    return run_conversation_update(self, stmt, conversation_id, "delete the conversation", error);
}

gboolean ponder_store_restore_conversation(PonderStore *self, gint64 conversation_id,
                                           GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), FALSE);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = conversation_update(
        self, "UPDATE conversations SET deleted_at = NULL WHERE id = ?1", conversation_id, error);
    return run_conversation_update(self, stmt, conversation_id, "restore the conversation", error);
}

gboolean ponder_store_purge_deleted(PonderStore *self, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), FALSE);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = ponder_store_statement(
        self, "DELETE FROM conversations WHERE deleted_at IS NOT NULL", error);
    return stmt && step_done(self, stmt, "empty the trash", error);
}

#define CONVERSATION_COLUMNS                                                                       \
    "id, title, system_prompt, settings, created_at, updated_at, selected_leaf_id, deleted_at,"    \
    " origin"

static PonderConversation *conversation_from_row(sqlite3_stmt *stmt)
{
    PonderConversation *conversation = g_new0(PonderConversation, 1);
    conversation->id = sqlite3_column_int64(stmt, 0);
    conversation->title = g_strdup((const char *)sqlite3_column_text(stmt, 1));
    conversation->system_prompt = column_dup(stmt, 2);
    conversation->settings_json = g_strdup((const char *)sqlite3_column_text(stmt, 3));
    conversation->created_us = sqlite3_column_int64(stmt, 4);
    conversation->updated_us = sqlite3_column_int64(stmt, 5);
    conversation->selected_leaf_id = sqlite3_column_int64(stmt, 6); // NULL reads as 0
    conversation->deleted_us = sqlite3_column_int64(stmt, 7);
    conversation->from_api = g_strcmp0((const char *)sqlite3_column_text(stmt, 8), "api") == 0;
    return conversation;
}

PonderConversation *ponder_store_get_conversation(PonderStore *self, gint64 conversation_id,
                                                  GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), NULL);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = ponder_store_statement(
        self, "SELECT " CONVERSATION_COLUMNS " FROM conversations WHERE id = ?1", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, conversation_id);
    if (!step_to_row(self, stmt, "conversation", conversation_id, error))
        return NULL;
    PonderConversation *conversation = conversation_from_row(stmt);
    sqlite3_reset(stmt);
    return conversation;
}

typedef gpointer (*RowReader)(sqlite3_stmt *stmt);

// Collects every row of STMT (already bound) through FROM_ROW; NULL on error.
static GPtrArray *collect_rows(PonderStore *self, sqlite3_stmt *stmt, RowReader from_row,
                               GDestroyNotify free_row, const char *what, GError **error)
{
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(free_row);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(rows, from_row(stmt));
    if (rc != SQLITE_DONE) {
        ponder_store_set_error(self, rc, what, error);
        sqlite3_reset(stmt);
        return NULL;
    }
    sqlite3_reset(stmt);
    return g_steal_pointer(&rows);
}

GPtrArray *ponder_store_list_conversations(PonderStore *self, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), NULL);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = ponder_store_statement(self,
                                                "SELECT " CONVERSATION_COLUMNS " FROM conversations"
                                                " WHERE deleted_at IS NULL"
                                                " ORDER BY updated_at DESC, id DESC",
                                                error);
    if (!stmt)
        return NULL;
    return collect_rows(self, stmt, (RowReader)conversation_from_row,
                        (GDestroyNotify)ponder_conversation_free, "list the conversations", error);
}

// Messages

#define MESSAGE_COLUMNS                                                                            \
    "m.id, m.conversation_id, m.parent_id, m.role, m.content, m.reasoning, m.model, m.sampling,"   \
    " m.prompt_tokens, m.completion_tokens, m.first_token_seconds, m.total_seconds,"               \
    " m.tokens_per_second, m.finish, m.error, m.created_at, m.updated_at"

static PonderMessage *message_from_row(sqlite3_stmt *stmt)
{
    PonderMessage *message = g_new0(PonderMessage, 1);
    message->id = sqlite3_column_int64(stmt, 0);
    message->conversation_id = sqlite3_column_int64(stmt, 1);
    message->parent_id = sqlite3_column_int64(stmt, 2);
    // The schema's CHECK constraints admit only the names these parse.
    message->role = PONDER_MESSAGE_ROLE_USER;
    ponder_message_role_from_string((const char *)sqlite3_column_text(stmt, 3), &message->role);
    message->content = g_strdup((const char *)sqlite3_column_text(stmt, 4));
    message->reasoning = column_dup(stmt, 5);
    message->model = column_dup(stmt, 6);
    message->sampling_json = column_dup(stmt, 7);
    message->prompt_tokens = column_count(stmt, 8);
    message->completion_tokens = column_count(stmt, 9);
    message->first_token_s = column_seconds(stmt, 10);
    message->total_s = column_seconds(stmt, 11);
    message->tokens_per_second = column_seconds(stmt, 12);
    message->finish = PONDER_FINISH_NONE;
    ponder_finish_reason_from_string((const char *)sqlite3_column_text(stmt, 13), &message->finish);
    message->error = column_dup(stmt, 14);
    message->created_us = sqlite3_column_int64(stmt, 15);
    message->updated_us = sqlite3_column_int64(stmt, 16);
    return message;
}

// Looks up what adding under a message needs: its conversation and role.
static gboolean lookup_message(PonderStore *self, gint64 message_id, gint64 *conversation_id,
                               PonderMessageRole *role, PonderFinishReason *finish, GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(
        self, "SELECT conversation_id, role, finish FROM messages WHERE id = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, message_id);
    if (!step_to_row(self, stmt, "message", message_id, error))
        return FALSE;
    *conversation_id = sqlite3_column_int64(stmt, 0);
    ponder_message_role_from_string((const char *)sqlite3_column_text(stmt, 1), role);
    ponder_finish_reason_from_string((const char *)sqlite3_column_text(stmt, 2), finish);
    sqlite3_reset(stmt);
    return TRUE;
}

// The conversation has to exist and not be in the trash to take new messages.
static gboolean check_conversation_open(PonderStore *self, gint64 conversation_id, GError **error)
{
    sqlite3_stmt *stmt =
        ponder_store_statement(self, "SELECT deleted_at FROM conversations WHERE id = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, conversation_id);
    if (!step_to_row(self, stmt, "conversation", conversation_id, error))
        return FALSE;
    gboolean deleted = sqlite3_column_type(stmt, 0) != SQLITE_NULL;
    sqlite3_reset(stmt);
    if (deleted)
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "Conversation %" G_GINT64_FORMAT " is in the trash", conversation_id);
    return !deleted;
}

// Inside a transaction: selects LEAF_ID and marks the conversation active at NOW.
static gboolean select_leaf(PonderStore *self, gint64 conversation_id, gint64 leaf_id, gint64 now,
                            const char *what, GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(
        self, "UPDATE conversations SET selected_leaf_id = ?2, updated_at = ?3 WHERE id = ?1",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, conversation_id);
    sqlite3_bind_int64(stmt, 2, leaf_id);
    sqlite3_bind_int64(stmt, 3, now);
    return step_done(self, stmt, what, error);
}

// Inserts a message and selects it, in a transaction the caller opened.
static gint64 insert_message(PonderStore *self, gint64 conversation_id, gint64 parent_id,
                             PonderMessageRole role, const char *content, const char *model,
                             const char *sampling_json, const char *what, GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        "INSERT INTO messages (conversation_id, parent_id, role, content, model, sampling,"
        " finish, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, json(?6), ?7, ?8, ?8)",
        error);
    if (!stmt)
        return 0;
    gint64 now = g_get_real_time();
    sqlite3_bind_int64(stmt, 1, conversation_id);
    bind_id_or_null(stmt, 2, parent_id);
    sqlite3_bind_text(stmt, 3, ponder_message_role_to_string(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, content ? content : "", -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 5, model);
    bind_text_or_null(stmt, 6, sampling_json);
    // A question is whole once written; an answer starts incomplete.
    PonderFinishReason finish =
        role == PONDER_MESSAGE_ROLE_ASSISTANT ? PONDER_FINISH_NONE : PONDER_FINISH_STOP;
    sqlite3_bind_text(stmt, 7, ponder_finish_reason_to_string(finish), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 8, now);
    if (!step_done(self, stmt, what, error))
        return 0;
    gint64 id = sqlite3_last_insert_rowid(self->db);
    if (!select_leaf(self, conversation_id, id, now, what, error))
        return 0;
    return id;
}

gint64 ponder_store_add_user_message(PonderStore *self, gint64 conversation_id, gint64 parent_id,
                                     const char *text, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), 0);
    g_return_val_if_fail(text != NULL, 0);
    LOCK_STORE(self);
    const char *what = "save the message";
    if (!ponder_store_begin(self, what, error))
        return 0;
    if (!check_conversation_open(self, conversation_id, error))
        goto fail;
    if (parent_id > 0) {
        gint64 parent_conversation = 0;
        PonderMessageRole parent_role = PONDER_MESSAGE_ROLE_USER;
        PonderFinishReason parent_finish = PONDER_FINISH_NONE;
        if (!lookup_message(self, parent_id, &parent_conversation, &parent_role, &parent_finish,
                            error))
            goto fail;
        if (parent_conversation != conversation_id) {
            g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                        "Message %" G_GINT64_FORMAT " is not in conversation %" G_GINT64_FORMAT,
                        parent_id, conversation_id);
            goto fail;
        }
    }
    gint64 id = insert_message(self, conversation_id, parent_id, PONDER_MESSAGE_ROLE_USER, text,
                               NULL, NULL, what, error);
    if (id == 0 || !ponder_store_commit(self, what, error))
        goto fail;
    return id;

fail:
    ponder_store_rollback(self);
    return 0;
}

gint64 ponder_store_begin_answer(PonderStore *self, gint64 user_message_id, const char *model,
                                 const char *sampling_json, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), 0);
    if (sampling_json && !check_json_object(sampling_json, "The sampling settings", error))
        return 0;
    LOCK_STORE(self);
    const char *what = "start the answer";
    if (!ponder_store_begin(self, what, error))
        return 0;
    gint64 conversation_id = 0;
    PonderMessageRole role = PONDER_MESSAGE_ROLE_USER;
    PonderFinishReason finish = PONDER_FINISH_NONE;
    if (!lookup_message(self, user_message_id, &conversation_id, &role, &finish, error) ||
        !check_conversation_open(self, conversation_id, error))
        goto fail;
    if (role != PONDER_MESSAGE_ROLE_USER) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "Message %" G_GINT64_FORMAT " is not a user message: answers go under one",
                    user_message_id);
        goto fail;
    }
    gint64 id =
        insert_message(self, conversation_id, user_message_id, PONDER_MESSAGE_ROLE_ASSISTANT, "",
                       model, sampling_json, what, error);
    if (id == 0 || !ponder_store_commit(self, what, error))
        goto fail;
    return id;

fail:
    ponder_store_rollback(self);
    return 0;
}

// After an UPDATE of an unfinished answer changed nothing: says why.
static void explain_unchanged_answer(PonderStore *self, gint64 answer_id, GError **error)
{
    gint64 conversation_id = 0;
    PonderMessageRole role = PONDER_MESSAGE_ROLE_USER;
    PonderFinishReason finish = PONDER_FINISH_NONE;
    if (!lookup_message(self, answer_id, &conversation_id, &role, &finish, error))
        return;
    if (role != PONDER_MESSAGE_ROLE_ASSISTANT)
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "Message %" G_GINT64_FORMAT " is not an answer", answer_id);
    else
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "Answer %" G_GINT64_FORMAT " is already finished (%s)", answer_id,
                    ponder_finish_reason_to_string(finish));
}

gboolean ponder_store_save_partial_answer(PonderStore *self, gint64 answer_id, const char *content,
                                          const char *reasoning, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), FALSE);
    LOCK_STORE(self);
    // One statement in autocommit mode: one small WAL append, no fsync (synchronous=NORMAL).
    sqlite3_stmt *stmt =
        ponder_store_statement(self,
                               "UPDATE messages SET content = ?2, reasoning = ?3, updated_at = ?4"
                               " WHERE id = ?1 AND role = 'assistant' AND finish = 'none'",
                               error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, answer_id);
    sqlite3_bind_text(stmt, 2, content ? content : "", -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 3, reasoning);
    sqlite3_bind_int64(stmt, 4, g_get_real_time());
    if (!step_done(self, stmt, "save the answer so far", error))
        return FALSE;
    if (sqlite3_changes(self->db) == 0) {
        explain_unchanged_answer(self, answer_id, error);
        return FALSE;
    }
    return TRUE;
}

static gboolean check_answer_stats(gint64 answer_id, const PonderAnswerStats *stats, GError **error)
{
    if (stats->finish == PONDER_FINISH_NONE || (guint)stats->finish >= G_N_ELEMENTS(finish_names)) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "Answer %" G_GINT64_FORMAT " cannot finish with reason %d", answer_id,
                    (int)stats->finish);
        return FALSE;
    }
    return TRUE;
}

// Inside a transaction: the final text and stats of an unfinished answer, and the
// conversation's activity time.
static gboolean write_finished_answer(PonderStore *self, gint64 answer_id, const char *content,
                                      const char *reasoning, const PonderAnswerStats *stats,
                                      const char *what, GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        "UPDATE messages SET content = ?2, reasoning = ?3, prompt_tokens = ?4,"
        " completion_tokens = ?5, first_token_seconds = ?6, total_seconds = ?7,"
        " tokens_per_second = ?8, finish = ?9, error = ?10, updated_at = ?11"
        " WHERE id = ?1 AND role = 'assistant' AND finish = 'none'",
        error);
    if (!stmt)
        return FALSE;
    gint64 now = g_get_real_time();
    sqlite3_bind_int64(stmt, 1, answer_id);
    sqlite3_bind_text(stmt, 2, content ? content : "", -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 3, reasoning);
    bind_count_or_null(stmt, 4, stats->prompt_tokens);
    bind_count_or_null(stmt, 5, stats->completion_tokens);
    bind_seconds_or_null(stmt, 6, stats->first_token_s);
    bind_seconds_or_null(stmt, 7, stats->total_s);
    bind_seconds_or_null(stmt, 8, stats->tokens_per_second);
    sqlite3_bind_text(stmt, 9, ponder_finish_reason_to_string(stats->finish), -1, SQLITE_STATIC);
    bind_text_or_null(stmt, 10, stats->error);
    sqlite3_bind_int64(stmt, 11, now);
    if (!step_done(self, stmt, what, error))
        return FALSE;
    if (sqlite3_changes(self->db) == 0) {
        explain_unchanged_answer(self, answer_id, error);
        return FALSE;
    }
    stmt = ponder_store_statement(self,
                                  "UPDATE conversations SET updated_at = ?2 WHERE id ="
                                  " (SELECT conversation_id FROM messages WHERE id = ?1)",
                                  error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, answer_id);
    sqlite3_bind_int64(stmt, 2, now);
    return step_done(self, stmt, what, error);
}

gboolean ponder_store_finish_answer(PonderStore *self, gint64 answer_id, const char *content,
                                    const char *reasoning, const PonderAnswerStats *stats,
                                    GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), FALSE);
    g_return_val_if_fail(stats != NULL, FALSE);
    if (!check_answer_stats(answer_id, stats, error))
        return FALSE;
    LOCK_STORE(self);
    const char *what = "save the answer";
    if (!ponder_store_begin(self, what, error))
        return FALSE;
    if (!write_finished_answer(self, answer_id, content, reasoning, stats, what, error) ||
        !ponder_store_commit(self, what, error)) {
        ponder_store_rollback(self);
        return FALSE;
    }
    return TRUE;
}

PonderMessage *ponder_store_get_message(PonderStore *self, gint64 message_id, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), NULL);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = ponder_store_statement(
        self, "SELECT " MESSAGE_COLUMNS " FROM messages m WHERE m.id = ?1", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, message_id);
    if (!step_to_row(self, stmt, "message", message_id, error))
        return NULL;
    PonderMessage *message = message_from_row(stmt);
    sqlite3_reset(stmt);
    return message;
}

GPtrArray *ponder_store_list_children(PonderStore *self, gint64 conversation_id, gint64 parent_id,
                                      GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), NULL);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = ponder_store_statement(self,
                                                "SELECT " MESSAGE_COLUMNS " FROM messages m"
                                                " WHERE m.conversation_id = ?1"
                                                " AND m.parent_id IS ?2 ORDER BY m.id",
                                                error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, conversation_id);
    bind_id_or_null(stmt, 2, parent_id);
    return collect_rows(self, stmt, (RowReader)message_from_row,
                        (GDestroyNotify)ponder_message_free, "list the branches", error);
}

GPtrArray *ponder_store_get_path_to_leaf(PonderStore *self, gint64 leaf_id, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), NULL);
    LOCK_STORE(self);
    // Walks up the parents; the depth bound stops a loop in a hand-edited file.
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        "WITH RECURSIVE path(id, depth) AS ("
        "  SELECT ?1, 0"
        "  UNION ALL"
        "  SELECT m.parent_id, path.depth + 1 FROM messages m JOIN path ON m.id = path.id"
        "  WHERE m.parent_id IS NOT NULL AND path.depth < 1000000)"
        " SELECT " MESSAGE_COLUMNS " FROM path JOIN messages m ON m.id = path.id"
        " ORDER BY path.depth DESC",
        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, leaf_id);
    GPtrArray *path = collect_rows(self, stmt, (RowReader)message_from_row,
                                   (GDestroyNotify)ponder_message_free, "read the messages", error);
    if (path && path->len == 0) {
        g_ptr_array_unref(path);
        set_not_found(error, "message", leaf_id);
        return NULL;
    }
    return path;
}

gint64 ponder_store_get_selected_leaf(PonderStore *self, gint64 conversation_id, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), 0);
    LOCK_STORE(self);
    // Without a selection (an imported file may lack one), the newest leaf.
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        "SELECT coalesce(c.selected_leaf_id,"
        "  (SELECT m.id FROM messages m WHERE m.conversation_id = c.id AND NOT EXISTS"
        "    (SELECT 1 FROM messages child WHERE child.parent_id = m.id)"
        "   ORDER BY m.id DESC LIMIT 1), 0)"
        " FROM conversations c WHERE c.id = ?1",
        error);
    if (!stmt)
        return 0;
    sqlite3_bind_int64(stmt, 1, conversation_id);
    if (!step_to_row(self, stmt, "conversation", conversation_id, error))
        return 0;
    gint64 leaf = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return leaf;
}

gint64 ponder_store_select_branch(PonderStore *self, gint64 message_id, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), 0);
    LOCK_STORE(self);
    const char *what = "switch to the branch";
    if (!ponder_store_begin(self, what, error))
        return 0;
    gint64 conversation_id = 0;
    PonderMessageRole role = PONDER_MESSAGE_ROLE_USER;
    PonderFinishReason finish = PONDER_FINISH_NONE;
    if (!lookup_message(self, message_id, &conversation_id, &role, &finish, error))
        goto fail;

    sqlite3_stmt *stmt =
        ponder_store_statement(self, "SELECT max(id) FROM messages WHERE parent_id = ?1", error);
    if (!stmt)
        goto fail;
    gint64 leaf = message_id;
    for (;;) {
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 1, leaf);
        int rc = sqlite3_step(stmt);
        if (rc != SQLITE_ROW) {
            ponder_store_set_error(self, rc, what, error);
            sqlite3_reset(stmt);
            goto fail;
        }
        if (sqlite3_column_type(stmt, 0) == SQLITE_NULL)
            break;
        leaf = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_reset(stmt);

    // Switching branches is not activity: the conversation keeps its place in the list.
    stmt = ponder_store_statement(
        self, "UPDATE conversations SET selected_leaf_id = ?2 WHERE id = ?1", error);
    if (!stmt)
        goto fail;
    sqlite3_bind_int64(stmt, 1, conversation_id);
    sqlite3_bind_int64(stmt, 2, leaf);
    if (!step_done(self, stmt, what, error) || !ponder_store_commit(self, what, error))
        goto fail;
    return leaf;

fail:
    ponder_store_rollback(self);
    return 0;
}

// Conversations saved from the local API

#define TITLE_CHARS 40

char *ponder_conversation_title_from_text(const char *text)
{
    g_autofree char *line = g_strstrip(g_strdup(text ? text : ""));
    char *newline = strchr(line, '\n');
    if (newline)
        *newline = '\0';
    g_strstrip(line);
    if (g_utf8_strlen(line, -1) <= TITLE_CHARS)
        return g_steal_pointer(&line);
    g_autofree char *cut = g_utf8_substring(line, 0, TITLE_CHARS);
    char *space = strrchr(cut, ' ');
    // Cut at the last word boundary unless that would leave too little.
    if (space && g_utf8_strlen(cut, space - cut) >= TITLE_CHARS / 2)
        *space = '\0';
    return g_strdup_printf("%s…", g_strchomp(cut));
}

// Inside a transaction: the conversation of ANSWER_ID, an answer an exchange continues, which
// must not be in the trash; 0 with ERROR set otherwise.
static gint64 continued_conversation(PonderStore *self, gint64 answer_id, GError **error)
{
    gint64 conversation_id = 0;
    PonderMessageRole role = PONDER_MESSAGE_ROLE_USER;
    PonderFinishReason finish = PONDER_FINISH_NONE;
    if (!lookup_message(self, answer_id, &conversation_id, &role, &finish, error) ||
        !check_conversation_open(self, conversation_id, error))
        return 0;
    if (role != PONDER_MESSAGE_ROLE_ASSISTANT) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "Message %" G_GINT64_FORMAT " is not an answer", answer_id);
        return 0;
    }
    return conversation_id;
}

static gint64 insert_api_conversation(PonderStore *self, const char *title,
                                      const char *system_prompt, const char *what, GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        "INSERT INTO conversations (title, system_prompt, origin, created_at, updated_at)"
        " VALUES (?1, ?2, 'api', ?3, ?3)",
        error);
    if (!stmt)
        return 0;
    sqlite3_bind_text(stmt, 1, title ? title : "", -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 2, system_prompt);
    sqlite3_bind_int64(stmt, 3, g_get_real_time());
    if (!step_done(self, stmt, what, error))
        return 0;
    return sqlite3_last_insert_rowid(self->db);
}

// Inside a transaction: an answer with its final text, and its thread key when there is one.
static gint64 insert_finished_answer(PonderStore *self, gint64 conversation_id, gint64 parent_id,
                                     const char *model, const char *sampling_json,
                                     const char *content, const char *reasoning,
                                     const PonderAnswerStats *stats, const char *thread_key,
                                     const char *what, GError **error)
{
    gint64 id = insert_message(self, conversation_id, parent_id, PONDER_MESSAGE_ROLE_ASSISTANT, "",
                               model, sampling_json, what, error);
    if (!id || !write_finished_answer(self, id, content, reasoning, stats, what, error))
        return 0;
    if (!thread_key)
        return id;
    sqlite3_stmt *stmt =
        ponder_store_statement(self, "UPDATE messages SET thread_key = ?2 WHERE id = ?1", error);
    if (!stmt)
        return 0;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, thread_key, -1, SQLITE_TRANSIENT);
    return step_done(self, stmt, what, error) ? id : 0;
}

gint64 ponder_store_add_api_exchange(PonderStore *self, const PonderApiExchange *exchange,
                                     GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), 0);
    g_return_val_if_fail(exchange != NULL && exchange->stats != NULL, 0);
    const PonderApiExchange *x = exchange;
    if (x->n_messages == 0 || x->messages[x->n_messages - 1].role != PONDER_MESSAGE_ROLE_USER) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "An exchange needs a user message right before its answer");
        return 0;
    }
    if (x->stats->finish == PONDER_FINISH_NONE ||
        (guint)x->stats->finish >= G_N_ELEMENTS(finish_names)) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID,
                    "An exchange's answer cannot end with reason %d", (int)x->stats->finish);
        return 0;
    }
    if (x->sampling_json && !check_json_object(x->sampling_json, "The sampling settings", error))
        return 0;
    LOCK_STORE(self);
    const char *what = "save the API conversation";
    if (!ponder_store_begin(self, what, error))
        return 0;
    gint64 parent_id = x->after_answer_id;
    gint64 conversation_id =
        parent_id ? continued_conversation(self, parent_id, error)
                  : insert_api_conversation(self, x->title, x->system_prompt, what, error);
    if (!conversation_id)
        goto fail;
    // Earlier answers the client sent along: complete as given, how they were made unknown.
    const PonderAnswerStats given = {.finish = PONDER_FINISH_STOP,
                                     .prompt_tokens = -1,
                                     .completion_tokens = -1,
                                     .first_token_s = -1,
                                     .total_s = -1,
                                     .tokens_per_second = -1};
    for (gsize i = 0; i < x->n_messages; i++) {
        const PonderExchangeMessage *m = &x->messages[i];
        parent_id =
            m->role == PONDER_MESSAGE_ROLE_ASSISTANT
                ? insert_finished_answer(self, conversation_id, parent_id, NULL, NULL, m->content,
                                         NULL, &given, m->thread_key, what, error)
                : insert_message(self, conversation_id, parent_id, m->role, m->content, NULL, NULL,
                                 what, error);
        if (!parent_id)
            goto fail;
    }
    gint64 answer_id =
        insert_finished_answer(self, conversation_id, parent_id, x->model, x->sampling_json,
                               x->content, x->reasoning, x->stats, x->thread_key, what, error);
    if (!answer_id || !ponder_store_commit(self, what, error))
        goto fail;
    g_signal_emit(self, store_signals[SIGNAL_API_EXCHANGE_SAVED], 0, conversation_id);
    return answer_id;

fail:
    ponder_store_rollback(self);
    return 0;
}

gint64 ponder_store_find_api_answer(PonderStore *self, const char *thread_key, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), 0);
    g_return_val_if_fail(thread_key != NULL, 0);
    LOCK_STORE(self);
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.thread_key = ?1 AND c.deleted_at IS NULL ORDER BY m.id DESC LIMIT 1",
        error);
    if (!stmt)
        return 0;
    sqlite3_bind_text(stmt, 1, thread_key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    gint64 id = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ponder_store_set_error(self, rc, "look up the API conversation", error);
    sqlite3_reset(stmt);
    return id;
}

// Search

static gboolean has_word_character(const char *word)
{
    for (const char *p = word; *p; p = g_utf8_next_char(p)) {
        if (g_unichar_isalnum(g_utf8_get_char(p)))
            return TRUE;
    }
    return FALSE;
}

// What the user typed as an FTS5 query: each word a quoted string (so punctuation and FTS
// operators are plain text), all required, the last one a prefix (search as you type).
// NULL when nothing searchable is left.
static char *fts_query_from_text(const char *text)
{
    g_auto(GStrv) words = g_strsplit_set(text, " \t\r\n", -1);
    g_autoptr(GString) query = g_string_new(NULL);
    for (guint i = 0; words[i]; i++) {
        if (!has_word_character(words[i]))
            continue;
        g_auto(GStrv) pieces = g_strsplit(words[i], "\"", -1);
        g_autofree char *escaped = g_strjoinv("\"\"", pieces);
        if (query->len)
            g_string_append_c(query, ' ');
        g_string_append_printf(query, "\"%s\"", escaped);
    }
    if (query->len == 0)
        return NULL;
    g_string_append_c(query, '*');
    return g_string_free(g_steal_pointer(&query), FALSE);
}

static PonderSearchHit *search_hit_from_row(sqlite3_stmt *stmt)
{
    PonderSearchHit *hit = g_new0(PonderSearchHit, 1);
    hit->conversation_id = sqlite3_column_int64(stmt, 0);
    hit->title = g_strdup((const char *)sqlite3_column_text(stmt, 1));
    hit->snippet = g_strdup((const char *)sqlite3_column_text(stmt, 2));
    hit->updated_us = sqlite3_column_int64(stmt, 3);
    return hit;
}

GPtrArray *ponder_store_search(PonderStore *self, const char *query, int limit, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), NULL);
    g_return_val_if_fail(query != NULL, NULL);
    g_autofree char *fts_query = fts_query_from_text(query);
    if (!fts_query)
        return g_ptr_array_new_with_free_func((GDestroyNotify)ponder_search_hit_free);
    LOCK_STORE(self);
    // One hit per conversation: its best message match, or else its title.
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        "WITH hits(conversation_id, snippet, kind, score) AS ("
        "  SELECT m.conversation_id, snippet(messages_fts, 0, '', '', '…', 16), 0,"
        "    messages_fts.rank"
        "  FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
        "  WHERE messages_fts MATCH ?1"
        "  UNION ALL"
        "  SELECT rowid, title, 1, rank FROM conversations_fts WHERE conversations_fts MATCH ?1),"
        " best AS (SELECT conversation_id, snippet, row_number() OVER"
        "  (PARTITION BY conversation_id ORDER BY kind, score) AS n FROM hits)"
        " SELECT c.id, c.title, best.snippet, c.updated_at"
        " FROM best JOIN conversations c ON c.id = best.conversation_id"
        " WHERE best.n = 1 AND c.deleted_at IS NULL"
        " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?2",
        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_text(stmt, 1, fts_query, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, limit > 0 ? limit : -1);
    return collect_rows(self, stmt, (RowReader)search_hit_from_row,
                        (GDestroyNotify)ponder_search_hit_free, "search the conversations", error);
}
