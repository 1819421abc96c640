// PonderStore: conversations, the message tree (edits and regenerations as branches), the path
// the chat view shows, ordering, full-text search, Markdown and JSON export, import and its
// rejections, and a second connection waiting for the lock instead of failing.

#include "ponder-store.h"
#include "app-test-util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>
#include <string.h>

typedef struct {
    char *dir;
    char *path;
    PonderStore *store;
} Fixture;

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->dir = g_dir_make_tmp("ponder-store-XXXXXX", &error);
    g_assert_no_error(error);
    // A folder that does not exist yet: the store creates it.
    f->path = g_build_filename(f->dir, "data", "ponder", "ponder.db", NULL);
    f->store = ponder_store_new(f->path, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->store);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    g_clear_object(&f->store);
    app_test_remove_tree(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

// One value from SQL on a connection of its own (what another process would see).
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

static char *query_text(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    char *value = g_strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static gint64 add_user(Fixture *f, gint64 conversation, gint64 parent, const char *text)
{
    g_autoptr(GError) error = NULL;
    gint64 id = ponder_store_add_user_message(f->store, conversation, parent, text, &error);
    g_assert_no_error(error);
    g_assert_cmpint(id, >, 0);
    return id;
}

static const PonderAnswerStats stop_stats = {
    .finish = PONDER_FINISH_STOP,
    .prompt_tokens = 10,
    .completion_tokens = 42,
    .first_token_s = 0.25,
    .total_s = 3.5,
    .tokens_per_second = 12.5,
};

// A whole answer: begun, streamed once, finished.
static gint64 add_answer(Fixture *f, gint64 question, const char *reasoning, const char *text)
{
    g_autoptr(GError) error = NULL;
    gint64 id = ponder_store_begin_answer(f->store, question, "r1-distill-qwen-1.5b-q4_k_m",
                                          "{\"temperature\": 0.6, \"top_p\": 0.95}", &error);
    g_assert_no_error(error);
    g_assert_cmpint(id, >, 0);
    g_assert_true(ponder_store_save_partial_answer(f->store, id, "", reasoning, &error));
    g_assert_no_error(error);
    g_assert_true(ponder_store_finish_answer(f->store, id, text, reasoning, &stop_stats, &error));
    g_assert_no_error(error);
    return id;
}

static void assert_ids(GPtrArray *messages, const gint64 *expected, guint count)
{
    g_assert_nonnull(messages);
    g_assert_cmpuint(messages->len, ==, count);
    for (guint i = 0; i < count; i++)
        g_assert_cmpint(((PonderMessage *)g_ptr_array_index(messages, i))->id, ==, expected[i]);
}

static void test_open(Fixture *f, gconstpointer data)
{
    g_assert_true(g_file_test(f->path, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpstr(ponder_store_get_filename(f->store), ==, f->path);
    g_autofree char *mode = query_text(f->path, "PRAGMA journal_mode");
    g_assert_cmpstr(mode, ==, "wal");
    g_assert_cmpint(query_int(f->path, "PRAGMA user_version"), ==, 3);

    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_store_check(f->store, &error));
    g_assert_no_error(error);

    // A file that is not a database is an error, not a crash, and is not overwritten.
    g_autofree char *junk = g_build_filename(f->dir, "junk.db", NULL);
    const char *text = "This is a text file, not SQLite, and it is long enough to have a header.";
    g_assert_true(g_file_set_contents(junk, text, -1, NULL));
    g_autoptr(PonderStore) store = ponder_store_new(junk, &error);
    g_assert_null(store);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_CORRUPT);
    g_assert_nonnull(strstr(error->message, junk));
    g_autofree char *after = NULL;
    g_assert_true(g_file_get_contents(junk, &after, NULL, NULL));
    g_assert_cmpstr(after, ==, text);
}

static void test_conversations(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gint64 first = ponder_store_create_conversation(f->store, "First", &error);
    g_assert_no_error(error);
    gint64 second = ponder_store_create_conversation(f->store, "Second", &error);
    gint64 third = ponder_store_create_conversation(f->store, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(first, >, 0);
    g_assert_cmpint(second, !=, first);

    // Newest first; then a message in the oldest brings it to the top.
    g_autoptr(GPtrArray) list = ponder_store_list_conversations(f->store, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(list->len, ==, 3);
    g_assert_cmpint(((PonderConversation *)list->pdata[0])->id, ==, third);
    g_assert_cmpint(((PonderConversation *)list->pdata[2])->id, ==, first);
    g_assert_cmpstr(((PonderConversation *)list->pdata[0])->title, ==, "");
    g_usleep(2000); // updated times are microseconds: make sure the clock moved
    add_user(f, first, 0, "hello");
    g_clear_pointer(&list, g_ptr_array_unref);
    list = ponder_store_list_conversations(f->store, &error);
    g_assert_cmpint(((PonderConversation *)list->pdata[0])->id, ==, first);
    g_assert_cmpint(((PonderConversation *)list->pdata[1])->id, ==, third);
    g_assert_cmpint(((PonderConversation *)list->pdata[2])->id, ==, second);

    g_assert_true(ponder_store_rename_conversation(f->store, second, "Renamed", &error));
    g_assert_true(ponder_store_set_system_prompt(f->store, second, "Be brief.", &error));
    g_assert_true(ponder_store_set_settings(
        f->store, second, "{ \"model\": \"r1-7b\",\n \"sampling\": {\"temperature\": 0.6} }",
        &error));
    g_assert_no_error(error);
    g_autoptr(PonderConversation) conversation =
        ponder_store_get_conversation(f->store, second, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(conversation->title, ==, "Renamed");
    g_assert_cmpstr(conversation->system_prompt, ==, "Be brief.");
    g_assert_cmpstr(conversation->settings_json, ==,
                    "{\"model\":\"r1-7b\",\"sampling\":{\"temperature\":0.6}}");
    g_assert_cmpint(conversation->selected_leaf_id, ==, 0);
    g_assert_cmpint(conversation->deleted_us, ==, 0);
    g_assert_cmpint(conversation->created_us, >, 1700000000LL * G_USEC_PER_SEC);

    // Back to no system prompt; bad settings are refused and the old ones kept.
    g_assert_true(ponder_store_set_system_prompt(f->store, second, NULL, &error));
    g_assert_false(ponder_store_set_settings(f->store, second, "{\"model\": ", &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_false(ponder_store_set_settings(f->store, second, "[0.6]", &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    g_clear_pointer(&conversation, ponder_conversation_free);
    conversation = ponder_store_get_conversation(f->store, second, &error);
    g_assert_null(conversation->system_prompt);
    g_assert_cmpstr(conversation->settings_json, ==,
                    "{\"model\":\"r1-7b\",\"sampling\":{\"temperature\":0.6}}");

    // Unknown ids.
    g_assert_null(ponder_store_get_conversation(f->store, 9999, &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, "9999"));
    g_clear_error(&error);
    g_assert_false(ponder_store_rename_conversation(f->store, 9999, "x", &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_cmpint(ponder_store_add_user_message(f->store, 9999, 0, "x", &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND);
}

static void test_delete_restore_purge(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gint64 kept = ponder_store_create_conversation(f->store, "Kept", &error);
    gint64 doomed = ponder_store_create_conversation(f->store, "Doomed", &error);
    gint64 question = add_user(f, doomed, 0, "What is the capital of Peru?");
    gint64 answer = add_answer(f, question, "Peru is in South America.", "Lima.");
    add_user(f, kept, 0, "Something else");

    g_assert_true(ponder_store_delete_conversation(f->store, doomed, &error));
    g_assert_no_error(error);
    g_autoptr(GPtrArray) list = ponder_store_list_conversations(f->store, &error);
    g_assert_cmpuint(list->len, ==, 1);
    g_assert_cmpint(((PonderConversation *)list->pdata[0])->id, ==, kept);
    g_autoptr(PonderConversation) trashed = ponder_store_get_conversation(f->store, doomed, &error);
    g_assert_cmpint(trashed->deleted_us, >, 0);
    // No new messages in the trash.
    g_assert_cmpint(ponder_store_add_user_message(f->store, doomed, answer, "more", &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);

    // Undo: everything is back.
    g_assert_true(ponder_store_restore_conversation(f->store, doomed, &error));
    g_clear_pointer(&list, g_ptr_array_unref);
    list = ponder_store_list_conversations(f->store, &error);
    g_assert_cmpuint(list->len, ==, 2);
    g_assert_cmpint(ponder_store_get_selected_leaf(f->store, doomed, &error), ==, answer);
    g_autoptr(PonderMessage) lima = ponder_store_get_message(f->store, answer, &error);
    g_assert_cmpstr(lima->content, ==, "Lima.");

    // Purge removes only what is in the trash, with its messages.
    g_assert_true(ponder_store_delete_conversation(f->store, doomed, &error));
    g_assert_true(ponder_store_purge_deleted(f->store, &error));
    g_assert_no_error(error);
    g_assert_null(ponder_store_get_conversation(f->store, doomed, &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_null(ponder_store_get_message(f->store, question, &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM messages"), ==, 1);
    g_autoptr(PonderConversation) survivor = ponder_store_get_conversation(f->store, kept, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(survivor->title, ==, "Kept");
    // The search index lost the purged rows too.
    g_assert_true(ponder_store_check(f->store, &error));
    g_assert_no_error(error);
}

static void test_branches(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gint64 c = ponder_store_create_conversation(f->store, "Branches", &error);
    gint64 other = ponder_store_create_conversation(f->store, "Other", &error);
    g_assert_cmpint(ponder_store_get_selected_leaf(f->store, c, &error), ==, 0);
    g_assert_no_error(error);

    gint64 u1 = add_user(f, c, 0, "u1");
    gint64 a1 = add_answer(f, u1, NULL, "a1");
    gint64 u2 = add_user(f, c, a1, "u2");
    gint64 a2 = add_answer(f, u2, NULL, "a2");
    g_assert_cmpint(ponder_store_get_selected_leaf(f->store, c, &error), ==, a2);

    // Edit u2: a second user message under the same parent, now selected.
    gint64 u2_edit = add_user(f, c, a1, "u2 edited");
    g_autoptr(GPtrArray) children = ponder_store_list_children(f->store, c, a1, &error);
    assert_ids(children, (gint64[]){u2, u2_edit}, 2);
    g_assert_cmpint(ponder_store_get_selected_leaf(f->store, c, &error), ==, u2_edit);
    g_autoptr(GPtrArray) path = ponder_store_get_path_to_leaf(f->store, u2_edit, &error);
    assert_ids(path, (gint64[]){u1, a1, u2_edit}, 3);
    g_assert_cmpstr(((PonderMessage *)path->pdata[2])->content, ==, "u2 edited");
    g_assert_cmpint(((PonderMessage *)path->pdata[2])->parent_id, ==, a1);
    g_assert_cmpint(((PonderMessage *)path->pdata[0])->parent_id, ==, 0);

    // Regenerate: two answers under the edited question.
    gint64 a3 = add_answer(f, u2_edit, NULL, "a3");
    gint64 a3_again = add_answer(f, u2_edit, NULL, "a3 again");
    g_clear_pointer(&children, g_ptr_array_unref);
    children = ponder_store_list_children(f->store, c, u2_edit, &error);
    assert_ids(children, (gint64[]){a3, a3_again}, 2);
    g_assert_cmpint(((PonderMessage *)children->pdata[0])->role, ==, PONDER_MESSAGE_ROLE_ASSISTANT);
    g_clear_pointer(&path, g_ptr_array_unref);
    path = ponder_store_get_path_to_leaf(f->store, a3, &error);
    assert_ids(path, (gint64[]){u1, a1, u2_edit, a3}, 4);

    // Back to the first branch: its newest leaf is selected.
    g_assert_cmpint(ponder_store_select_branch(f->store, u2, &error), ==, a2);
    g_assert_no_error(error);
    g_assert_cmpint(ponder_store_get_selected_leaf(f->store, c, &error), ==, a2);
    // From a message with two answers under its child, the newest one.
    g_assert_cmpint(ponder_store_select_branch(f->store, u2_edit, &error), ==, a3_again);
    g_clear_pointer(&path, g_ptr_array_unref);
    path = ponder_store_get_path_to_leaf(f->store, a2, &error);
    assert_ids(path, (gint64[]){u1, a1, u2, a2}, 4);

    // Editing the first question: a second root.
    gint64 u1_edit = add_user(f, c, 0, "u1 edited");
    g_clear_pointer(&children, g_ptr_array_unref);
    children = ponder_store_list_children(f->store, c, 0, &error);
    assert_ids(children, (gint64[]){u1, u1_edit}, 2);
    g_clear_pointer(&children, g_ptr_array_unref);
    children = ponder_store_list_children(f->store, c, a2, &error); // a leaf
    g_assert_no_error(error);
    g_assert_cmpuint(children->len, ==, 0);

    // What does not fit the tree is refused with a reason.
    g_assert_cmpint(ponder_store_begin_answer(f->store, a1, "m", NULL, &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_cmpint(ponder_store_add_user_message(f->store, other, a1, "x", &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_cmpint(ponder_store_add_user_message(f->store, c, 424242, "x", &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(ponder_store_save_partial_answer(f->store, a1, "late", NULL, &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "finished"));
    g_clear_error(&error);
    g_assert_false(ponder_store_save_partial_answer(f->store, u1, "late", NULL, &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_null(ponder_store_get_path_to_leaf(f->store, 424242, &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_autoptr(PonderMessage) unchanged = ponder_store_get_message(f->store, a1, &error);
    g_assert_cmpstr(unchanged->content, ==, "a1");
    g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM messages"), ==, 8);
}

static void test_answer_fields(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gint64 c = ponder_store_create_conversation(f->store, "Fields", &error);
    gint64 question = add_user(f, c, 0, "Why is the sky blue?");

    // The question is committed once the call returns: another connection sees it.
    g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM messages WHERE role = 'user'"), ==, 1);
    g_autoptr(PonderMessage) user = ponder_store_get_message(f->store, question, &error);
    g_assert_cmpint(user->role, ==, PONDER_MESSAGE_ROLE_USER);
    g_assert_cmpint(user->conversation_id, ==, c);
    g_assert_cmpint(user->finish, ==, PONDER_FINISH_STOP);
    g_assert_cmpint(user->prompt_tokens, ==, -1);
    g_assert_true(user->total_s < 0);
    g_assert_null(user->reasoning);
    g_assert_null(user->model);

    gint64 answer =
        ponder_store_begin_answer(f->store, question, "r1-14b", "{\"temperature\":0.6}", &error);
    g_assert_no_error(error);
    g_autoptr(PonderMessage) begun = ponder_store_get_message(f->store, answer, &error);
    g_assert_cmpint(begun->finish, ==, PONDER_FINISH_NONE);
    g_assert_cmpstr(begun->content, ==, "");
    g_assert_cmpint(begun->parent_id, ==, question);
    g_assert_cmpstr(begun->sampling_json, ==, "{\"temperature\":0.6}");
    g_assert_cmpint(ponder_store_begin_answer(f->store, question, "m", "{oops", &error), ==, 0);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);

    g_assert_true(
        ponder_store_save_partial_answer(f->store, answer, "Rayleigh", "Light...", &error));
    g_autoptr(PonderMessage) partial = ponder_store_get_message(f->store, answer, &error);
    g_assert_cmpstr(partial->content, ==, "Rayleigh");
    g_assert_cmpstr(partial->reasoning, ==, "Light...");
    g_assert_cmpint(partial->finish, ==, PONDER_FINISH_NONE);

    PonderAnswerStats stats = {
        .finish = PONDER_FINISH_ERROR,
        .prompt_tokens = 17,
        .completion_tokens = 3,
        .first_token_s = 0.5,
        .total_s = 1.25,
        .tokens_per_second = 4,
        .error = "The GPU ran out of memory",
    };
    PonderAnswerStats not_finished = stats;
    not_finished.finish = PONDER_FINISH_NONE;
    g_assert_false(ponder_store_finish_answer(f->store, answer, "x", NULL, &not_finished, &error));
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_true(ponder_store_finish_answer(f->store, answer, "Rayleigh scattering.",
                                             "Light scatters.", &stats, &error));
    g_assert_no_error(error);
    g_autoptr(PonderMessage) done = ponder_store_get_message(f->store, answer, &error);
    g_assert_cmpint(done->role, ==, PONDER_MESSAGE_ROLE_ASSISTANT);
    g_assert_cmpstr(done->content, ==, "Rayleigh scattering.");
    g_assert_cmpstr(done->reasoning, ==, "Light scatters.");
    g_assert_cmpstr(done->model, ==, "r1-14b");
    g_assert_cmpint(done->prompt_tokens, ==, 17);
    g_assert_cmpint(done->completion_tokens, ==, 3);
    g_assert_cmpfloat(done->first_token_s, ==, 0.5);
    g_assert_cmpfloat(done->total_s, ==, 1.25);
    g_assert_cmpfloat(done->tokens_per_second, ==, 4);
    g_assert_cmpint(done->finish, ==, PONDER_FINISH_ERROR);
    g_assert_cmpstr(done->error, ==, "The GPU ran out of memory");
    g_assert_cmpint(done->updated_us, >=, done->created_us);
    g_assert_cmpstr(ponder_finish_reason_to_string(done->finish), ==, "error");
    g_autofree char *finishes =
        query_text(f->path, "SELECT group_concat(finish) FROM messages ORDER BY id");
    g_assert_cmpstr(finishes, ==, "stop,error");
}

static guint count_hits(GPtrArray *hits, gint64 conversation)
{
    guint n = 0;
    for (guint i = 0; i < hits->len; i++)
        n += ((PonderSearchHit *)hits->pdata[i])->conversation_id == conversation;
    return n;
}

static GPtrArray *search(Fixture *f, const char *query)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *hits = ponder_store_search(f->store, query, 0, &error);
    g_assert_no_error(error);
    g_assert_nonnull(hits);
    return hits;
}

static void test_search(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gint64 rust = ponder_store_create_conversation(f->store, "Rust lifetimes", &error);
    gint64 q = add_user(f, rust, 0, "Why does this not compile?");
    add_answer(f, q, "The user has a dangling reference.", "The borrow checker rejects it.");
    g_usleep(2000);
    gint64 bread = ponder_store_create_conversation(f->store, "Bread", &error);
    q = add_user(f, bread, 0, "How do I feed a sourdough starter at the café?");
    add_answer(f, q, NULL, "Feed it flour and water; the borrow of time is worth it.");

    g_autoptr(GPtrArray) hits = search(f, "checker");
    g_assert_cmpuint(hits->len, ==, 1);
    PonderSearchHit *hit = hits->pdata[0];
    g_assert_cmpint(hit->conversation_id, ==, rust);
    g_assert_cmpstr(hit->title, ==, "Rust lifetimes");
    g_assert_nonnull(strstr(hit->snippet, "borrow checker"));

    // A title word; a prefix while typing; two words that must both match.
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "lifetimes");
    g_assert_cmpuint(hits->len, ==, 1);
    g_assert_cmpint(((PonderSearchHit *)hits->pdata[0])->conversation_id, ==, rust);
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "sourd");
    g_assert_cmpuint(hits->len, ==, 1);
    g_assert_cmpint(((PonderSearchHit *)hits->pdata[0])->conversation_id, ==, bread);
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "flour checker");
    g_assert_cmpuint(hits->len, ==, 0);
    // Accents do not matter; the reasoning is not searched.
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "CAFE");
    g_assert_cmpuint(hits->len, ==, 1);
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "dangling");
    g_assert_cmpuint(hits->len, ==, 0);

    // Both have "borrow": newest first, one hit per conversation.
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "borrow");
    g_assert_cmpuint(hits->len, ==, 2);
    g_assert_cmpint(((PonderSearchHit *)hits->pdata[0])->conversation_id, ==, bread);
    g_assert_cmpint(((PonderSearchHit *)hits->pdata[1])->conversation_id, ==, rust);
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = ponder_store_search(f->store, "borrow", 1, &error);
    g_assert_cmpuint(hits->len, ==, 1);

    // FTS5 syntax typed by the user is plain text, not an error.
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "\"borrow AND ( NEAR -");
    g_assert_cmpuint(hits->len, ==, 0);
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "  ");
    g_assert_cmpuint(hits->len, ==, 0);

    // Deleted conversations are not found; restored ones are again.
    g_assert_true(ponder_store_delete_conversation(f->store, bread, &error));
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "borrow");
    g_assert_cmpuint(hits->len, ==, 1);
    g_assert_cmpuint(count_hits(hits, bread), ==, 0);
    g_assert_true(ponder_store_restore_conversation(f->store, bread, &error));
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "sourdough");
    g_assert_cmpuint(count_hits(hits, bread), ==, 1);

    // Renames and streamed text are indexed as they happen.
    g_assert_true(ponder_store_rename_conversation(f->store, rust, "Ownership", &error));
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "lifetimes");
    g_assert_cmpuint(hits->len, ==, 0);
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "ownership");
    g_assert_cmpuint(count_hits(hits, rust), ==, 1);
    gint64 streaming = ponder_store_begin_answer(f->store, q, "m", NULL, &error);
    g_assert_true(ponder_store_save_partial_answer(f->store, streaming, "quinoa", NULL, &error));
    g_assert_true(ponder_store_save_partial_answer(f->store, streaming, "rye bread", NULL, &error));
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "quinoa");
    g_assert_cmpuint(hits->len, ==, 0);
    g_clear_pointer(&hits, g_ptr_array_unref);
    hits = search(f, "rye");
    g_assert_cmpuint(count_hits(hits, bread), ==, 1);
    g_assert_true(ponder_store_check(f->store, &error));
    g_assert_no_error(error);
}

static gsize position_of(const char *haystack, const char *needle)
{
    const char *found = strstr(haystack, needle);
    g_assert_nonnull(found);
    return (gsize)(found - haystack);
}

static void test_export_markdown(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gint64 c = ponder_store_create_conversation(f->store, "Primes", &error);
    g_assert_true(ponder_store_set_system_prompt(f->store, c, "Answer in one line.", &error));
    gint64 q1 = add_user(f, c, 0, "Is 91 prime?");
    gint64 a1 = add_answer(f, q1, "91 = 7 * 13.", "No: 91 is 7 times 13.");
    add_answer(f, q1, NULL, "UNSELECTED BRANCH");
    g_assert_cmpint(ponder_store_select_branch(f->store, a1, &error), ==, a1);
    gint64 q2 = add_user(f, c, a1, "And 97?");
    add_answer(f, q2, NULL, "Yes, 97 is prime.");

    g_autofree char *md = ponder_store_export_markdown(f->store, c, &error);
    g_assert_no_error(error);
    g_assert_true(g_str_has_prefix(md, "# Primes\n"));
    g_assert_nonnull(strstr(md, "Answer in one line."));
    gsize p_q1 = position_of(md, "Is 91 prime?");
    gsize p_reasoning = position_of(md, "91 = 7 * 13.");
    gsize p_a1 = position_of(md, "No: 91 is 7 times 13.");
    gsize p_q2 = position_of(md, "And 97?");
    gsize p_a2 = position_of(md, "Yes, 97 is prime.");
    g_assert_cmpuint(p_q1, <, p_reasoning);
    g_assert_cmpuint(p_reasoning, <, p_a1);
    g_assert_cmpuint(p_a1, <, p_q2);
    g_assert_cmpuint(p_q2, <, p_a2);
    g_assert_cmpuint(position_of(md, "## User"), <, p_q1);
    g_assert_cmpuint(position_of(md, "<details>"), <, p_reasoning);
    g_assert_cmpuint(position_of(md, "</details>"), <, p_a1);
    g_assert_nonnull(strstr(md, "## Assistant (r1-distill-qwen-1.5b-q4_k_m)"));
    g_assert_nonnull(strstr(md, "42 tokens"));
    g_assert_nonnull(strstr(md, "12.5 tokens/s"));
    g_assert_null(strstr(md, "UNSELECTED BRANCH"));

    // The file's words are English, and so are its numbers in a locale that writes "12,5".
    char *previous = app_test_use_comma_locale();
    if (previous) {
        g_autofree char *in_comma_locale = ponder_store_export_markdown(f->store, c, &error);
        app_test_restore_numeric_locale(previous);
        g_assert_cmpstr(in_comma_locale, ==, md);
    }

    // Four headings: two questions, two answers.
    guint headings = 0;
    for (const char *p = md; (p = strstr(p, "\n## ")); p++)
        headings++;
    g_assert_cmpuint(headings, ==, 4);
}

// The whole conversation from the API, each message as text, in id order: for comparing an
// import with its original without trusting the export.
static char *describe_conversation(Fixture *f, gint64 conversation)
{
    g_autoptr(GError) error = NULL;
    GString *out = g_string_new(NULL);
    g_autoptr(PonderConversation) c = ponder_store_get_conversation(f->store, conversation, &error);
    g_assert_no_error(error);
    g_string_append_printf(out, "%s|%s|%s|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "\n", c->title,
                           c->system_prompt ? c->system_prompt : "(null)", c->settings_json,
                           c->created_us, c->updated_us);
    // Ids differ between the two: name each message by its position in a walk of the tree.
    g_autoptr(GHashTable) position =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g_autoptr(GPtrArray) todo = ponder_store_list_children(f->store, conversation, 0, &error);
    for (guint i = 0; i < todo->len; i++) {
        PonderMessage *m = todo->pdata[i];
        g_hash_table_insert(position, g_memdup2(&m->id, sizeof m->id), GUINT_TO_POINTER(i + 1));
        gint64 *parent_key = &m->parent_id;
        guint parent = GPOINTER_TO_UINT(g_hash_table_lookup(position, parent_key));
        g_string_append_printf(
            out,
            "%u<%u %d [%s] [%s] %s %s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT
            " %g %g %g %d %s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "%s\n",
            i + 1, parent, m->role, m->content, m->reasoning ? m->reasoning : "(null)",
            m->model ? m->model : "(null)", m->sampling_json ? m->sampling_json : "(null)",
            m->prompt_tokens, m->completion_tokens, m->first_token_s, m->total_s,
            m->tokens_per_second, m->finish, m->error ? m->error : "(null)", m->created_us,
            m->updated_us, m->id == c->selected_leaf_id ? " selected" : "");
        g_autoptr(GPtrArray) children =
            ponder_store_list_children(f->store, conversation, m->id, &error);
        for (guint j = 0; j < children->len; j++)
            g_ptr_array_add(todo, g_steal_pointer(&children->pdata[j]));
        g_ptr_array_set_free_func(children, NULL);
    }
    return g_string_free(out, FALSE);
}

static void test_json_round_trip(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gint64 c = ponder_store_create_conversation(f->store, "Ünïcode \"quotes\" 🦙", &error);
    g_assert_true(ponder_store_set_settings(
        f->store, c, "{\"model\":\"r1-8b\",\"sampling\":{\"temperature\":0.6,\"top_p\":0.95}}",
        &error));
    gint64 q1 = add_user(f, c, 0, "Line one\nline two\ttab");
    gint64 a1 = add_answer(f, q1, "thinking <b>", "answer </details>");
    add_answer(f, q1, NULL, "second answer");
    gint64 q2 = add_user(f, c, a1, "follow-up");
    gint64 partial = ponder_store_begin_answer(f->store, q2, "r1-8b", NULL, &error);
    g_assert_true(
        ponder_store_save_partial_answer(f->store, partial, "cut by a crash", "hmm", &error));
    add_user(f, c, 0, "edited first question");
    g_assert_cmpint(ponder_store_select_branch(f->store, q2, &error), ==, partial);
    g_assert_no_error(error);

    g_autofree char *json = ponder_store_export_json(f->store, c, &error);
    g_assert_no_error(error);

    // Facts about the file from a JSON reader, not from the store.
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, json, -1, &error));
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(root, "format"), ==, "ponder-conversation");
    g_assert_cmpint(json_object_get_int_member(root, "version"), ==, 1);
    g_assert_cmpstr(json_object_get_string_member(root, "title"), ==, "Ünïcode \"quotes\" 🦙");
    g_assert_true(json_object_get_null_member(root, "system_prompt"));
    JsonObject *settings = json_object_get_object_member(root, "settings");
    g_assert_cmpfloat(json_object_get_double_member(
                          json_object_get_object_member(settings, "sampling"), "temperature"),
                      ==, 0.6);
    JsonArray *messages = json_object_get_array_member(root, "messages");
    g_assert_cmpuint(json_array_get_length(messages), ==, 6);
    JsonObject *first = json_array_get_object_element(messages, 0);
    g_assert_cmpint(json_object_get_int_member(first, "id"), ==, 1);
    g_assert_true(json_object_get_null_member(first, "parent"));
    g_assert_cmpstr(json_object_get_string_member(first, "content"), ==, "Line one\nline two\ttab");
    JsonObject *answer = json_array_get_object_element(messages, 1);
    g_assert_cmpint(json_object_get_int_member(answer, "parent"), ==, 1);
    g_assert_cmpstr(json_object_get_string_member(answer, "role"), ==, "assistant");
    g_assert_cmpstr(json_object_get_string_member(answer, "reasoning"), ==, "thinking <b>");
    g_assert_cmpint(json_object_get_int_member(answer, "completion_tokens"), ==, 42);
    g_assert_cmpfloat(json_object_get_double_member(answer, "tokens_per_second"), ==, 12.5);
    g_assert_cmpstr(json_object_get_string_member(answer, "finish"), ==, "stop");
    g_assert_true(g_str_has_suffix(json_object_get_string_member(answer, "created_at"), "Z"));
    JsonObject *cut = json_array_get_object_element(messages, 4);
    g_assert_cmpstr(json_object_get_string_member(cut, "finish"), ==, "none");
    g_assert_cmpint(json_object_get_int_member(root, "selected_leaf"), ==, 5);

    // Import: a new conversation equal to the first in every field.
    gint64 imported = ponder_store_import_json(f->store, json, -1, &error);
    g_assert_no_error(error);
    g_assert_cmpint(imported, >, c);
    g_autofree char *original_text = describe_conversation(f, c);
    g_autofree char *imported_text = describe_conversation(f, imported);
    g_assert_cmpstr(imported_text, ==, original_text);
    g_assert_nonnull(strstr(imported_text, "selected"));
    g_autofree char *again = ponder_store_export_json(f->store, imported, &error);
    g_assert_cmpstr(again, ==, json);
    g_autoptr(GPtrArray) hits = search(f, "follow");
    g_assert_cmpuint(count_hits(hits, imported), ==, 1);
    g_assert_true(ponder_store_check(f->store, &error));
    g_assert_no_error(error);
}

static void test_import_malformed(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gint64 c = ponder_store_create_conversation(f->store, "Existing", &error);
    add_answer(f, add_user(f, c, 0, "q"), NULL, "a");

#define HEAD "{\"format\":\"ponder-conversation\",\"version\":1,\"title\":\"t\","
#define GOOD_MESSAGE "{\"id\":1,\"role\":\"user\",\"content\":\"q\",\"finish\":\"stop\"}"
    static const struct {
        const char *json;
        const char *problem; // a word the message has to contain
    } cases[] = {
        {"{\"format\": \"ponder-conversation\", ", "not valid JSON"},
        {"[1, 2]", "not a JSON object"},
        {"{\"title\":\"t\",\"messages\":[]}", "format"},
        {"{\"format\":\"ponder-conversation\",\"version\":2,\"title\":\"t\",\"messages\":[]}",
         "version 2"},
        {HEAD "\"messages\":{}}", "\"messages\""},
        {HEAD "\"settings\":[1],\"messages\":[]}", "\"settings\""},
        {HEAD "\"messages\":[" GOOD_MESSAGE ",{\"id\":2,\"parent\":1,\"role\":\"bot\","
              "\"content\":\"a\",\"finish\":\"stop\"}]}",
         "message 2: \"role\""},
        {HEAD "\"messages\":[" GOOD_MESSAGE ",{\"id\":3,\"parent\":7,\"role\":\"assistant\","
              "\"content\":\"a\",\"finish\":\"stop\"},{\"id\":7,\"role\":\"user\","
              "\"content\":\"q\",\"finish\":\"stop\"}]}",
         "parent 7"},
        {HEAD "\"messages\":[" GOOD_MESSAGE "," GOOD_MESSAGE "]}", "used twice"},
        {HEAD "\"messages\":[" GOOD_MESSAGE ",{\"id\":2,\"parent\":1,\"role\":\"assistant\","
              "\"content\":5,\"finish\":\"stop\"}]}",
         "\"content\""},
        {HEAD "\"messages\":[" GOOD_MESSAGE ",{\"id\":2,\"parent\":1,\"role\":\"assistant\","
              "\"content\":\"a\",\"finish\":\"stop\",\"completion_tokens\":-4}]}",
         "\"completion_tokens\""},
        {HEAD "\"messages\":[" GOOD_MESSAGE ",{\"id\":2,\"parent\":1,\"role\":\"assistant\","
              "\"content\":\"a\",\"finish\":\"maybe\"}]}",
         "finish"},
        {HEAD "\"messages\":[" GOOD_MESSAGE ",{\"id\":2,\"parent\":1,\"role\":\"assistant\","
              "\"content\":\"a\",\"finish\":\"stop\",\"created_at\":\"yesterday\"}]}",
         "ISO 8601"},
        {HEAD "\"selected_leaf\":9,\"messages\":[" GOOD_MESSAGE "]}", "selected_leaf"},
    };
#undef HEAD
#undef GOOD_MESSAGE

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("case %u: %s", i, cases[i].json);
        gint64 id = ponder_store_import_json(f->store, cases[i].json, -1, &error);
        g_assert_cmpint(id, ==, 0);
        g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_IMPORT);
        if (!strstr(error->message, cases[i].problem))
            g_error("case %u: \"%s\" does not name \"%s\"", i, error->message, cases[i].problem);
        g_clear_error(&error);
        g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM conversations"), ==, 1);
        g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM messages"), ==, 2);
    }

    // The smallest file the import takes, to show the cases above fail for their one reason.
    const char *minimal = "{\"format\":\"ponder-conversation\",\"version\":1,\"title\":\"t\","
                          "\"messages\":[{\"id\":1,\"role\":\"user\",\"content\":\"q\","
                          "\"finish\":\"stop\"}]}";
    gint64 id = ponder_store_import_json(f->store, minimal, -1, &error);
    g_assert_no_error(error);
    g_assert_cmpint(ponder_store_get_selected_leaf(f->store, id, &error), >, 0);
    g_assert_cmpint(query_int(f->path, "SELECT count(*) FROM messages"), ==, 3);
}

typedef struct {
    const char *path;
    GMutex mutex;
    GCond cond;
    gboolean locked;
    int commit_rc;
} LockHolder;

// Another connection takes the write lock, holds it for 600 ms and commits.
static gpointer hold_write_lock(gpointer data)
{
    LockHolder *holder = data;
    sqlite3 *db = NULL;
    sqlite3_open_v2(holder->path, &db, SQLITE_OPEN_READWRITE, NULL);
    sqlite3_busy_timeout(db, 5000);
    int rc =
        sqlite3_exec(db, "BEGIN IMMEDIATE; UPDATE conversations SET title = 'held' WHERE id = 1",
                     NULL, NULL, NULL);
    g_mutex_lock(&holder->mutex);
    holder->locked = rc == SQLITE_OK;
    g_cond_signal(&holder->cond);
    g_mutex_unlock(&holder->mutex);
    g_usleep(600 * 1000);
    holder->commit_rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return NULL;
}

static void test_second_connection(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gint64 c = ponder_store_create_conversation(f->store, "Shared", &error);
    g_assert_cmpint(c, ==, 1);

    LockHolder holder = {.path = f->path};
    g_mutex_init(&holder.mutex);
    g_cond_init(&holder.cond);
    GThread *thread = g_thread_new("lock-holder", hold_write_lock, &holder);
    g_mutex_lock(&holder.mutex);
    while (!holder.locked)
        g_cond_wait(&holder.cond, &holder.mutex);
    g_mutex_unlock(&holder.mutex);

    // Opening while another connection writes works, and writing waits for it.
    g_autoptr(PonderStore) second = ponder_store_new(f->path, &error);
    g_assert_no_error(error);
    gint64 start = g_get_monotonic_time();
    gint64 id = ponder_store_add_user_message(second, c, 0, "waited", &error);
    gint64 waited_ms = (g_get_monotonic_time() - start) / 1000;
    g_assert_no_error(error);
    g_assert_cmpint(id, >, 0);
    g_assert_cmpint(waited_ms, >=, 300);
    g_thread_join(thread);
    g_assert_cmpint(holder.commit_rc, ==, SQLITE_OK);
    g_mutex_clear(&holder.mutex);
    g_cond_clear(&holder.cond);

    // Both writes are there, seen from the first store.
    g_autoptr(PonderConversation) conversation = ponder_store_get_conversation(f->store, c, &error);
    g_assert_cmpstr(conversation->title, ==, "held");
    g_autoptr(PonderMessage) message = ponder_store_get_message(f->store, id, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(message->content, ==, "waited");
    g_assert_cmpint(ponder_store_get_selected_leaf(f->store, c, &error), ==, id);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, func) g_test_add(name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
    ADD("/store/open", test_open);
    ADD("/store/conversations", test_conversations);
    ADD("/store/delete-restore-purge", test_delete_restore_purge);
    ADD("/store/branches", test_branches);
    ADD("/store/answer-fields", test_answer_fields);
    ADD("/store/search", test_search);
    ADD("/store/export-markdown", test_export_markdown);
    ADD("/store/json-round-trip", test_json_round_trip);
    ADD("/store/import-malformed", test_import_malformed);
    ADD("/store/second-connection", test_second_connection);
#undef ADD
    return g_test_run();
}
