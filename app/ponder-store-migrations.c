// The schema, as steps from one PRAGMA user_version to the next. A step never changes once it
// has shipped, since databases out there were written by it: a change is a new step.

#include "ponder-store-private.h"

// 0 -> 1: conversations and their message trees. Times are Unix microseconds.
static const char migrate_to_1[] =
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  system_prompt TEXT," // NULL: none
    "  settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  selected_leaf_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
    "  deleted_at INTEGER" // NULL: not in the trash
    ");"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    // No cascade here: messages go only with their whole conversation, in one statement, and
    // a cascade down a long chain would recurse once per message.
    "  parent_id INTEGER REFERENCES messages(id),"
    "  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
    "  content TEXT NOT NULL DEFAULT '',"
    "  reasoning TEXT,"
    "  model TEXT,"
    "  sampling TEXT CHECK (sampling IS NULL OR json_valid(sampling)),"
    "  prompt_tokens INTEGER,"
    "  completion_tokens INTEGER,"
    "  first_token_seconds REAL,"
    "  total_seconds REAL,"
    "  tokens_per_second REAL,"
    "  finish TEXT NOT NULL DEFAULT 'none'"
    "    CHECK (finish IN ('none', 'stop', 'length', 'cancelled', 'error')),"
    "  error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    // The foreign keys look rows up from the child side: each needs its index.
    "CREATE INDEX messages_by_conversation ON messages(conversation_id);"
    "CREATE INDEX messages_by_parent ON messages(parent_id);"
    "CREATE INDEX conversations_by_leaf ON conversations(selected_leaf_id);"
    "CREATE INDEX conversations_by_activity ON conversations(updated_at);";

// 1 -> 2: full-text search. External-content FTS5 tables read the text from the tables above
// (no second copy); the triggers hand them the exact old text on every change, which such an
// index needs to remove it again.
static const char migrate_to_2[] =
    "CREATE VIRTUAL TABLE conversations_fts USING fts5(title, content='conversations',"
    "  content_rowid='id', tokenize='unicode61 remove_diacritics 2');"
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages',"
    "  content_rowid='id', tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN"
    "  INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);"
    "END;"
    "CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN"
    "  INSERT INTO conversations_fts(conversations_fts, rowid, title)"
    "    VALUES ('delete', old.id, old.title);"
    "END;"
    "CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations"
    "  WHEN old.title IS NOT new.title BEGIN"
    "  INSERT INTO conversations_fts(conversations_fts, rowid, title)"
    "    VALUES ('delete', old.id, old.title);"
    "  INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);"
    "END;"
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);"
    "END;"
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content)"
    "    VALUES ('delete', old.id, old.content);"
    "END;"
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages"
    "  WHEN old.content IS NOT new.content BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content)"
    "    VALUES ('delete', old.id, old.content);"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);"
    "END;"
    // What version 1 wrote becomes searchable too.
    "INSERT INTO conversations_fts(conversations_fts) VALUES ('rebuild');"
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');";

// 2 -> 3: conversations saved from the local API. origin says where a conversation started;
// thread_key, set on the answers the API saved, is the digest of the conversation up to that
// answer as a client sends it back, so the next turn of the same chat finds where it goes.
static const char migrate_to_3[] =
    "ALTER TABLE conversations ADD COLUMN origin TEXT NOT NULL DEFAULT 'window'"
    "  CHECK (origin IN ('window', 'api'));"
    "ALTER TABLE messages ADD COLUMN thread_key TEXT;"
    "CREATE INDEX messages_by_thread_key ON messages(thread_key) WHERE thread_key IS NOT NULL;";

// migration_steps[N] takes a database from version N to N + 1.
static const char *const migration_steps[] = {migrate_to_1, migrate_to_2, migrate_to_3};
G_STATIC_ASSERT(G_N_ELEMENTS(migration_steps) == PONDER_STORE_SCHEMA_VERSION);

gboolean ponder_store_read_schema_version(PonderStore *self, int *version, GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(self, "PRAGMA user_version", error);
    if (!stmt)
        return FALSE;
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        ponder_store_set_error(self, rc, "read the schema version", error);
        sqlite3_reset(stmt);
        return FALSE;
    }
    *version = sqlite3_column_int(stmt, 0);
    sqlite3_reset(stmt);
    return TRUE;
}

static gboolean run_step(PonderStore *self, int from, GError **error)
{
    g_autofree char *what = g_strdup_printf("upgrade the database to version %d", from + 1);
    if (!ponder_store_begin(self, what, error))
        return FALSE;

    // Another process may have run this step while we waited for the lock.
    int version = 0;
    if (!ponder_store_read_schema_version(self, &version, error)) {
        ponder_store_rollback(self);
        return FALSE;
    }
    if (version > from) {
        ponder_store_rollback(self);
        return TRUE;
    }

    sqlite3 *db = ponder_store_get_db(self);
    g_autofree char *set_version = g_strdup_printf("PRAGMA user_version = %d", from + 1);
    int rc = sqlite3_exec(db, migration_steps[from], NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, set_version, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ponder_store_set_error(self, rc, what, error);
        ponder_store_rollback(self);
        return FALSE;
    }
    return ponder_store_commit(self, what, error);
}

gboolean ponder_store_migrate(PonderStore *self, int version, GError **error)
{
    g_return_val_if_fail(version >= 0 && version <= PONDER_STORE_SCHEMA_VERSION, FALSE);
    for (int from = version; from < PONDER_STORE_SCHEMA_VERSION; from++) {
        if (!run_step(self, from, error))
            return FALSE;
    }
    return TRUE;
}
