// Schema migrations: databases as each earlier version of Ponder wrote them (the SQL is here,
// by hand, with data) open with everything there and searchable at the latest version; a step
// that fails leaves the version before it; a database from a newer Ponder is refused untouched.

#include "ponder-store.h"
#include "app-test-util.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

// What this build writes (PONDER_STORE_SCHEMA_VERSION); written out so a bump is noticed here.
#define LATEST_VERSION 3

// Version 1, as Ponder 0.1 created it.
static const char schema_v1[] =
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  system_prompt TEXT,"
    "  settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  selected_leaf_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
    "  deleted_at INTEGER);"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  parent_id INTEGER REFERENCES messages(id),"
    "  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
    "  content TEXT NOT NULL DEFAULT '',"
    "  reasoning TEXT, model TEXT,"
    "  sampling TEXT CHECK (sampling IS NULL OR json_valid(sampling)),"
    "  prompt_tokens INTEGER, completion_tokens INTEGER,"
    "  first_token_seconds REAL, total_seconds REAL, tokens_per_second REAL,"
    "  finish TEXT NOT NULL DEFAULT 'none'"
    "    CHECK (finish IN ('none', 'stop', 'length', 'cancelled', 'error')),"
    "  error TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX messages_by_conversation ON messages(conversation_id);"
    "CREATE INDEX messages_by_parent ON messages(parent_id);"
    "CREATE INDEX conversations_by_leaf ON conversations(selected_leaf_id);"
    "CREATE INDEX conversations_by_activity ON conversations(updated_at);";

// What a user of version 1 had: two conversations (one with a regenerated answer, one cut
// short by a crash) and one in the trash.
static const char data_v1[] =
    "INSERT INTO conversations VALUES"
    "  (1, 'Volcanoes of Iceland', NULL, '{\"model\":\"r1-7b\"}', 1700000000000000,"
    "   1700000500000000, 3, NULL),"
    "  (2, 'Knitting', 'Be brief.', '{}', 1700001000000000, 1700001000000000, 5, NULL),"
    "  (3, 'Secret plans', NULL, '{}', 1700002000000000, 1700002000000000, NULL,"
    "   1700003000000000);"
    "INSERT INTO messages VALUES"
    "  (1, 1, NULL, 'user', 'Which volcano erupted in 2010?', NULL, NULL, NULL, NULL, NULL,"
    "   NULL, NULL, NULL, 'stop', NULL, 1700000000000001, 1700000000000001),"
    "  (2, 1, 1, 'assistant', 'Eyjafjallajokull stopped flights.', 'Recall 2010 ash cloud.',"
    "   'r1-7b', '{\"temperature\":0.6}', 20, 7, 0.5, 2.0, 3.5, 'stop', NULL,"
    "   1700000100000000, 1700000200000000),"
    "  (3, 1, 1, 'assistant', 'It was Eyjafjallajokull, in April.', NULL, 'r1-7b', NULL, 20,"
    "   8, 0.5, 2.5, 3.2, 'stop', NULL, 1700000300000000, 1700000500000000),"
    "  (4, 2, NULL, 'user', 'How do I cast on?', NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    "   NULL, 'stop', NULL, 1700001000000000, 1700001000000000),"
    "  (5, 2, 4, 'assistant', 'Make a slipknot, then', NULL, 'r1-7b', NULL, NULL, NULL, NULL,"
    "   NULL, NULL, 'none', NULL, 1700001000000001, 1700001000000002),"
    "  (6, 3, NULL, 'user', 'Plans for the surprise party', NULL, NULL, NULL, NULL, NULL,"
    "   NULL, NULL, NULL, 'stop', NULL, 1700002000000000, 1700002000000000);";

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->dir = g_dir_make_tmp("ponder-migrations-XXXXXX", &error);
    g_assert_no_error(error);
    f->path = g_build_filename(f->dir, "ponder.db", NULL);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    app_test_remove_tree(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

// Writes a database the way an older Ponder left it: default (rollback) journal, SQL as given.
static void write_database(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
    char *message = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
    if (rc != SQLITE_OK)
        g_error("test SQL failed: %s", message);
    g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
}

static gint64 query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    gint64 value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static guint search_count(PonderStore *store, const char *query, gint64 expected_first)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) hits = ponder_store_search(store, query, 0, &error);
    g_assert_no_error(error);
    if (hits->len > 0)
        g_assert_cmpint(((PonderSearchHit *)hits->pdata[0])->conversation_id, ==, expected_first);
    return hits->len;
}

static void test_from_version_0(Fixture *f, gconstpointer data)
{
    // Version 0: a database file with nothing in it (also what a brand new file is).
    write_database(f->path, "PRAGMA user_version = 0; PRAGMA application_id = 0");
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(f->path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(query_int(f->path, "PRAGMA user_version"), ==, LATEST_VERSION);
    gint64 c = ponder_store_create_conversation(store, "Fresh", &error);
    ponder_store_add_user_message(store, c, 0, "first words", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(search_count(store, "words", c), ==, 1);
}

static void test_from_version_1(Fixture *f, gconstpointer data)
{
    g_autofree char *sql = g_strconcat(schema_v1, data_v1, "PRAGMA user_version = 1;", NULL);
    write_database(f->path, sql);

    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(f->path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(query_int(f->path, "PRAGMA user_version"), ==, LATEST_VERSION);
    g_assert_true(ponder_store_check(store, &error));
    g_assert_no_error(error);

    // The list, the selected branch and every field of an answer are as version 1 wrote them.
    g_autoptr(GPtrArray) list = ponder_store_list_conversations(store, &error);
    g_assert_cmpuint(list->len, ==, 2);
    PonderConversation *knitting = list->pdata[0];
    PonderConversation *volcanoes = list->pdata[1];
    g_assert_cmpint(knitting->id, ==, 2);
    g_assert_cmpstr(knitting->system_prompt, ==, "Be brief.");
    // Version 3's origin: everything made before it was made in the window.
    g_assert_false(knitting->from_api);
    g_assert_cmpint(volcanoes->id, ==, 1);
    g_assert_cmpstr(volcanoes->title, ==, "Volcanoes of Iceland");
    g_assert_cmpstr(volcanoes->settings_json, ==, "{\"model\":\"r1-7b\"}");
    g_assert_cmpint(volcanoes->created_us, ==, 1700000000000000);
    g_assert_cmpint(ponder_store_get_selected_leaf(store, 1, &error), ==, 3);
    g_autoptr(GPtrArray) path = ponder_store_get_path_to_leaf(store, 3, &error);
    g_assert_cmpuint(path->len, ==, 2);
    g_assert_cmpstr(((PonderMessage *)path->pdata[0])->content, ==,
                    "Which volcano erupted in 2010?");
    g_autoptr(GPtrArray) answers = ponder_store_list_children(store, 1, 1, &error);
    g_assert_cmpuint(answers->len, ==, 2);
    PonderMessage *first = answers->pdata[0];
    g_assert_cmpstr(first->reasoning, ==, "Recall 2010 ash cloud.");
    g_assert_cmpstr(first->sampling_json, ==, "{\"temperature\":0.6}");
    g_assert_cmpint(first->prompt_tokens, ==, 20);
    g_assert_cmpint(first->completion_tokens, ==, 7);
    g_assert_cmpfloat(first->tokens_per_second, ==, 3.5);
    g_assert_cmpint(first->finish, ==, PONDER_FINISH_STOP);
    g_autoptr(PonderMessage) cut = ponder_store_get_message(store, 5, &error);
    g_assert_cmpint(cut->finish, ==, PONDER_FINISH_NONE);
    g_assert_cmpstr(cut->content, ==, "Make a slipknot, then");
    g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM messages"), ==, 6);

    // What version 1 wrote is searchable: message texts and titles, not the trash.
    g_assert_cmpuint(search_count(store, "eyjafjallajokull", 1), ==, 1);
    g_assert_cmpuint(search_count(store, "slipknot", 2), ==, 1);
    g_assert_cmpuint(search_count(store, "iceland", 1), ==, 1);
    g_assert_cmpuint(search_count(store, "surprise", 0), ==, 0);
    g_assert_true(ponder_store_restore_conversation(store, 3, &error));
    g_assert_cmpuint(search_count(store, "surprise", 3), ==, 1);

    // And the old answer can still be finished, then found with its new words.
    PonderAnswerStats stats = {.finish = PONDER_FINISH_STOP,
                               .prompt_tokens = -1,
                               .completion_tokens = -1,
                               .first_token_s = -1,
                               .total_s = -1,
                               .tokens_per_second = -1};
    g_assert_true(ponder_store_finish_answer(store, 5, "Make a slipknot, then loop the yarn.", NULL,
                                             &stats, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(search_count(store, "yarn", 2), ==, 1);

    // Opening again runs nothing twice.
    g_clear_object(&store);
    store = ponder_store_new(f->path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM messages"), ==, 6);
    g_assert_cmpuint(search_count(store, "yarn", 2), ==, 1);
    g_assert_true(ponder_store_check(store, &error));
    g_assert_no_error(error);
}

static void test_failed_step_keeps_version(Fixture *f, gconstpointer data)
{
    // A table in the way of step 2 (say, a user's own experiment) makes it fail halfway.
    g_autofree char *sql = g_strconcat(schema_v1, data_v1, "CREATE TABLE messages_fts (x);",
                                       "PRAGMA user_version = 1;", NULL);
    write_database(f->path, sql);

    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(f->path, &error);
    g_assert_null(store);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "version 2"));
    g_assert_nonnull(strstr(error->message, f->path));

    // Nothing of the step stayed: no triggers, no other search table, version 1, data there.
    g_assert_cmpint(query_int(f->path, "PRAGMA user_version"), ==, 1);
    g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"
                                       " OR name = 'conversations_fts'"),
                    ==, 0);
    g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM messages"), ==, 6);
    g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM conversations"), ==, 3);
}

static char *read_file(const char *path, gsize *length)
{
    char *contents = NULL;
    g_assert_true(g_file_get_contents(path, &contents, length, NULL));
    return contents;
}

static void test_newer_version_refused(Fixture *f, gconstpointer data)
{
    // A later Ponder's database: more tables, a higher version.
    g_autofree char *sql = g_strconcat(schema_v1, data_v1,
                                       "CREATE TABLE attachments (id INTEGER PRIMARY KEY, data);"
                                       "PRAGMA user_version = 4;",
                                       NULL);
    write_database(f->path, sql);
    gsize before_length = 0, after_length = 0;
    g_autofree char *before = read_file(f->path, &before_length);

    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(f->path, &error);
    g_assert_null(store);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_TOO_NEW);
    g_assert_nonnull(strstr(error->message, "newer version of Ponder"));
    g_assert_nonnull(strstr(error->message, "version 4"));
    g_assert_nonnull(strstr(error->message, f->path));

    // Byte for byte the same, and not switched to WAL (no -wal file beside it).
    g_autofree char *after = read_file(f->path, &after_length);
    g_assert_cmpuint(after_length, ==, before_length);
    g_assert_true(memcmp(before, after, before_length) == 0);
    g_autofree char *wal = g_strconcat(f->path, "-wal", NULL);
    g_assert_false(g_file_test(wal, G_FILE_TEST_EXISTS));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, func) g_test_add(name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
    ADD("/store-migrations/from-version-0", test_from_version_0);
    ADD("/store-migrations/from-version-1", test_from_version_1);
    ADD("/store-migrations/failed-step-keeps-version", test_failed_step_keeps_version);
    ADD("/store-migrations/newer-version-refused", test_newer_version_refused);
#undef ADD
    return g_test_run();
}
