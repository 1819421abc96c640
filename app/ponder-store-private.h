// Shared by the three files of PonderStore: the schema version, the migrations, and the
// statement and error helpers the export code uses too.
#pragma once

#include "ponder-store.h"

#include <sqlite3.h>

G_BEGIN_DECLS

// PRAGMA user_version of a database this code wrote.
//   1: conversations and messages
//   2: FTS5 search index over titles and message texts, kept in sync by triggers
//   3: conversations saved from the local API (their origin, their answers' thread keys)
#define PONDER_STORE_SCHEMA_VERSION 3

// How long a write waits for another connection's lock before giving up.
#define PONDER_STORE_BUSY_TIMEOUT_MS 5000

// PRAGMA user_version of the open database, read without writing anything.
gboolean ponder_store_read_schema_version(PonderStore *self, int *version, GError **error);
// Brings the database from VERSION (at most PONDER_STORE_SCHEMA_VERSION) to the latest
// schema, one transaction per step, so a failed step leaves the version before it intact.
gboolean ponder_store_migrate(PonderStore *self, int version, GError **error);

sqlite3 *ponder_store_get_db(PonderStore *self);
// A prepared statement for SQL (a string literal: the pointer is the cache key), reset and
// unbound, owned by the store. Call sqlite3_reset() when done with it, so it holds no lock.
sqlite3_stmt *ponder_store_statement(PonderStore *self, const char *sql, GError **error);
// Sets ERROR from RC and the connection's message: "Could not WHAT (PATH): why".
void ponder_store_set_error(PonderStore *self, int rc, const char *what, GError **error);
// BEGIN IMMEDIATE, so a transaction that writes takes the lock (or waits) up front rather
// than failing on a stale snapshot halfway.
gboolean ponder_store_begin(PonderStore *self, const char *what, GError **error);
gboolean ponder_store_commit(PonderStore *self, const char *what, GError **error);
// Rolls back an open transaction, if any (SQLite ends some on its own after a full disk).
void ponder_store_rollback(PonderStore *self);
// Taken by every public function: a store is shared by the window and the engine thread.
GRecMutex *ponder_store_get_lock(PonderStore *self);

// FALSE for a string that names no role or finish reason.
gboolean ponder_message_role_from_string(const char *text, PonderMessageRole *role);
gboolean ponder_finish_reason_from_string(const char *text, PonderFinishReason *finish);

G_END_DECLS
