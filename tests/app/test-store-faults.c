// PonderStore under faults: a process killed (SIGKILL) while it streams an answer into the
// store, again and again, and a disk that fills up (a wrapping SQLite VFS whose writes fail
// with SQLITE_FULL once a byte budget is spent). Nothing committed may be lost, the database
// must pass its integrity check, and a full disk must say so.

#include "ponder-store.h"
#include "app-test-util.h"

#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->dir = g_dir_make_tmp("ponder-faults-XXXXXX", &error);
    g_assert_no_error(error);
    f->path = g_build_filename(f->dir, "ponder.db", NULL);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    app_test_remove_tree(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

// PRAGMA integrity_check on a connection of the test's own.
static void assert_integrity_ok(const char *path)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL), ==,
                    SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    g_assert_cmpstr((const char *)sqlite3_column_text(stmt, 0), ==, "ok");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static gint64 count_rows(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
    g_autofree char *sql = g_strdup_printf("SELECT count(*) FROM %s", table);
    sqlite3_stmt *stmt = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
    gint64 count = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

// The crash loop

// The child streams tokens like the engine does, at a tenth of the app's pace: a token every
// 12 ms, the partial answer saved every 10 tokens (120 ms). The first tokens are reasoning.
enum {
    TOKEN_INTERVAL_US = 12000,
    TOKENS_PER_SAVE = 10,
    REASONING_TOKENS = 25,
    CHILD_MAX_TOKENS = 1000, // a child nobody kills stops after 12 s
    CRASH_ROUNDS = 15,
};

static char *question_text(int round)
{
    return g_strdup_printf("Question of round %d: why is the sky blue?", round);
}

static const char *const words[] = {"light",  "scatters ",   "more ", "at ",
                                    "short ", "wavelengths", ", ",    "so ",
                                    "blue ",  "dominates",   ". ",    "Rayleigh "};

// Token I of round ROUND: the stream is the same whenever it is rebuilt.
static const char *token_text(int round, int i)
{
    return words[(i * 5 + round) % G_N_ELEMENTS(words)];
}

// The reasoning and answer texts after the first TOKENS tokens.
static void expected_texts(int round, int tokens, GString *reasoning, GString *content)
{
    g_string_truncate(reasoning, 0);
    g_string_truncate(content, 0);
    for (int i = 0; i < tokens; i++)
        g_string_append(i < REASONING_TOKENS ? reasoning : content, token_text(round, i));
}

static void report(const char *format, ...) G_GNUC_PRINTF(1, 2);

// One line on stdout (the pipe to the parent), written in one piece before going on.
static void report(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *line = g_strdup_vprintf(format, args);
    va_end(args);
    gsize done = 0, length = strlen(line);
    while (done < length) {
        ssize_t n = write(STDOUT_FILENO, line + done, length - done);
        if (n <= 0)
            _exit(3);
        done += (gsize)n;
    }
}

static int child_fail(const char *what, GError *error)
{
    g_printerr("crash child: %s: %s\n", what, error ? error->message : "?");
    return 2;
}

// The child's side: the same calls the window and the engine make.
static int run_crash_child(const char *path, int round)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(path, &error);
    if (!store)
        return child_fail("open", error);
    g_autofree char *title = g_strdup_printf("Round %d", round);
    gint64 conversation = ponder_store_create_conversation(store, title, &error);
    g_autofree char *question_str = question_text(round);
    gint64 question =
        conversation ? ponder_store_add_user_message(store, conversation, 0, question_str, &error)
                     : 0;
    if (!question)
        return child_fail("add the question", error);
    report("question %" G_GINT64_FORMAT "\n", question);
    gint64 answer =
        ponder_store_begin_answer(store, question, "r1-1.5b", "{\"temperature\":0.6}", &error);
    if (!answer)
        return child_fail("begin the answer", error);
    report("answer %" G_GINT64_FORMAT "\n", answer);

    g_autoptr(GString) reasoning = g_string_new(NULL);
    g_autoptr(GString) content = g_string_new(NULL);
    for (int i = 0; i < CHILD_MAX_TOKENS; i++) {
        g_string_append(i < REASONING_TOKENS ? reasoning : content, token_text(round, i));
        report("generated %d\n", i + 1);
        g_usleep(TOKEN_INTERVAL_US);
        if ((i + 1) % TOKENS_PER_SAVE == 0) {
            if (!ponder_store_save_partial_answer(store, answer, content->str, reasoning->str,
                                                  &error))
                return child_fail("save the answer", error);
            report("saved %d\n", i + 1);
        }
    }
    return 0;
}

// Reads from FD into BUFFER until it holds NEEDLE, or EOF, or TIMEOUT_MS without data.
static gboolean read_until(int fd, GString *buffer, const char *needle, int timeout_ms)
{
    while (!needle || !strstr(buffer->str, needle)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return FALSE;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            return needle == NULL;
        g_string_append_len(buffer, chunk, n);
    }
    return TRUE;
}

typedef struct {
    gint64 question;
    gint64 answer;
    int last_generated; // tokens the child reported generating
    int last_saved;     // tokens the child reported saved (the save had returned)
} ChildReport;

static ChildReport parse_report(const char *text)
{
    ChildReport report = {0};
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        gint64 value = 0;
        if (sscanf(lines[i], "question %" G_GINT64_FORMAT, &value) == 1)
            report.question = value;
        else if (sscanf(lines[i], "answer %" G_GINT64_FORMAT, &value) == 1)
            report.answer = value;
        else if (sscanf(lines[i], "generated %" G_GINT64_FORMAT, &value) == 1)
            report.last_generated = (int)value;
        else if (sscanf(lines[i], "saved %" G_GINT64_FORMAT, &value) == 1)
            report.last_saved = (int)value;
    }
    return report;
}

// How many tokens the stored answer holds, if it is exactly the stream cut after a save;
// -1 if it is anything else.
static int saved_tokens(int round, const PonderMessage *answer, int max_tokens)
{
    g_autoptr(GString) reasoning = g_string_new(NULL);
    g_autoptr(GString) content = g_string_new(NULL);
    if (answer->reasoning == NULL && answer->content[0] == '\0')
        return 0; // never saved: the answer as begun
    for (int tokens = TOKENS_PER_SAVE; tokens <= max_tokens; tokens += TOKENS_PER_SAVE) {
        expected_texts(round, tokens, reasoning, content);
        if (g_strcmp0(answer->reasoning, reasoning->str) == 0 &&
            g_strcmp0(answer->content, content->str) == 0)
            return tokens;
    }
    return -1;
}

// After a kill: the question whole, the answer incomplete and a prefix of the stream that
// misses at most one save interval. Returns the tokens it holds.
static int check_round(PonderStore *store, int round, const ChildReport *report)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderMessage) question = ponder_store_get_message(store, report->question, &error);
    g_assert_no_error(error);
    g_autofree char *question_str = question_text(round);
    g_assert_cmpstr(question->content, ==, question_str);
    g_assert_cmpint(question->finish, ==, PONDER_FINISH_STOP);

    g_autoptr(PonderMessage) answer = ponder_store_get_message(store, report->answer, &error);
    g_assert_no_error(error);
    g_assert_cmpint(answer->parent_id, ==, report->question);
    g_assert_cmpint(answer->finish, ==, PONDER_FINISH_NONE);
    int tokens = saved_tokens(round, answer, report->last_generated);
    if (tokens < 0)
        g_error("round %d: the stored answer is not a saved prefix of the stream "
                "(reasoning \"%s\", content \"%s\")",
                round, answer->reasoning ? answer->reasoning : "(null)", answer->content);
    g_assert_cmpint(tokens, >=, report->last_saved);
    g_assert_cmpint(report->last_generated - tokens, <=, TOKENS_PER_SAVE);
    g_assert_cmpint(ponder_store_get_selected_leaf(store, question->conversation_id, &error), ==,
                    report->answer);
    return tokens;
}

static void test_crash_loop(Fixture *f, gconstpointer data)
{
    g_autofree char *self_path = g_file_read_link("/proc/self/exe", NULL);
    if (!self_path) {
        g_test_skip("skipped: /proc/self/exe cannot be read, so the child cannot be started");
        return;
    }
    ChildReport reports[CRASH_ROUNDS];
    int kept_tokens[CRASH_ROUNDS];
    int rounds_with_text = 0;

    for (int round = 0; round < CRASH_ROUNDS; round++) {
        g_autofree char *round_str = g_strdup_printf("%d", round);
        char *argv[] = {self_path, "--crash-child", f->path, round_str, NULL};
        GPid pid = 0;
        int out_fd = -1;
        g_autoptr(GError) error = NULL;
        g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                               NULL, &pid, NULL, &out_fd, NULL, &error));
        g_assert_no_error(error);

        // Kill it at a different point of the stream each round: 0 to 580 ms in.
        g_autoptr(GString) output = g_string_new(NULL);
        gboolean started = read_until(out_fd, output, "\nanswer ", 20000);
        int delay_ms = (round * 137) % 600;
        if (started)
            g_usleep((gulong)delay_ms * 1000);
        kill(pid, SIGKILL);
        int status = 0;
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_spawn_close_pid(pid);
        read_until(out_fd, output, NULL, 5000);
        close(out_fd);
        if (!started)
            g_error("round %d: the child did not start its answer: %s", round, output->str);
        g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        reports[round] = parse_report(output->str);
        g_test_message("round %d: killed after %d ms, %d tokens generated, %d saved", round,
                       delay_ms, reports[round].last_generated, reports[round].last_saved);

        assert_integrity_ok(f->path);
        g_autoptr(PonderStore) store = ponder_store_new(f->path, &error);
        g_assert_no_error(error);
        g_assert_true(ponder_store_check(store, &error));
        g_assert_no_error(error);
        kept_tokens[round] = check_round(store, round, &reports[round]);
        rounds_with_text += kept_tokens[round] > 0;
        // The earlier rounds are untouched by this one.
        g_assert_cmpint(count_rows(f->path, "conversations"), ==, round + 1);
        for (int earlier = 0; earlier < round; earlier++)
            g_assert_cmpint(check_round(store, earlier, &reports[earlier]), ==,
                            kept_tokens[earlier]);
    }
    // The kills have to have landed mid-stream, not only before the first save.
    g_assert_cmpint(rounds_with_text, >=, CRASH_ROUNDS / 2);
}

// The full disk: a VFS that wraps the default one and refuses writes past a budget.

typedef struct {
    sqlite3_file base;
    sqlite3_file *real; // the default VFS's file, allocated right after this struct
} BudgetFile;

static sqlite3_vfs *default_vfs;
static sqlite3_vfs budget_vfs;
static gint64 write_budget = -1; // bytes that may still be written; < 0: no limit
static guint refused_writes;

static sqlite3_file *real_file(sqlite3_file *file)
{
    return ((BudgetFile *)file)->real;
}

static int budget_close(sqlite3_file *file)
{
    return real_file(file)->pMethods->xClose(real_file(file));
}

static int budget_read(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset)
{
    return real_file(file)->pMethods->xRead(real_file(file), buffer, amount, offset);
}

static int budget_write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset)
{
    if (write_budget >= 0) {
        if (amount > write_budget) {
            write_budget = 0; // once full, it stays full until the test lifts the budget
            refused_writes++;
            return SQLITE_FULL;
        }
        write_budget -= amount;
    }
    return real_file(file)->pMethods->xWrite(real_file(file), data, amount, offset);
}

static int budget_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    if (write_budget == 0) {
        refused_writes++;
        return SQLITE_FULL;
    }
    return real_file(file)->pMethods->xTruncate(real_file(file), size);
}

static int budget_sync(sqlite3_file *file, int flags)
{
    return real_file(file)->pMethods->xSync(real_file(file), flags);
}

static int budget_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    return real_file(file)->pMethods->xFileSize(real_file(file), size);
}

static int budget_lock(sqlite3_file *file, int level)
{
    return real_file(file)->pMethods->xLock(real_file(file), level);
}

static int budget_unlock(sqlite3_file *file, int level)
{
    return real_file(file)->pMethods->xUnlock(real_file(file), level);
}

static int budget_check_reserved_lock(sqlite3_file *file, int *out)
{
    return real_file(file)->pMethods->xCheckReservedLock(real_file(file), out);
}

static int budget_file_control(sqlite3_file *file, int op, void *arg)
{
    return real_file(file)->pMethods->xFileControl(real_file(file), op, arg);
}

static int budget_sector_size(sqlite3_file *file)
{
    return real_file(file)->pMethods->xSectorSize(real_file(file));
}

static int budget_device_characteristics(sqlite3_file *file)
{
    return real_file(file)->pMethods->xDeviceCharacteristics(real_file(file));
}

// WAL mode needs the shared-memory methods: handed through as they are.
static int budget_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **out)
{
    return real_file(file)->pMethods->xShmMap(real_file(file), region, size, extend, out);
}

static int budget_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    return real_file(file)->pMethods->xShmLock(real_file(file), offset, n, flags);
}

static void budget_shm_barrier(sqlite3_file *file)
{
    real_file(file)->pMethods->xShmBarrier(real_file(file));
}

static int budget_shm_unmap(sqlite3_file *file, int delete_flag)
{
    return real_file(file)->pMethods->xShmUnmap(real_file(file), delete_flag);
}

static int budget_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out)
{
    return real_file(file)->pMethods->xFetch(real_file(file), offset, amount, out);
}

static int budget_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page)
{
    return real_file(file)->pMethods->xUnfetch(real_file(file), offset, page);
}

static const sqlite3_io_methods budget_io_methods = {
    .iVersion = 3,
    .xClose = budget_close,
    .xRead = budget_read,
    .xWrite = budget_write,
    .xTruncate = budget_truncate,
    .xSync = budget_sync,
    .xFileSize = budget_file_size,
    .xLock = budget_lock,
    .xUnlock = budget_unlock,
    .xCheckReservedLock = budget_check_reserved_lock,
    .xFileControl = budget_file_control,
    .xSectorSize = budget_sector_size,
    .xDeviceCharacteristics = budget_device_characteristics,
    .xShmMap = budget_shm_map,
    .xShmLock = budget_shm_lock,
    .xShmBarrier = budget_shm_barrier,
    .xShmUnmap = budget_shm_unmap,
    .xFetch = budget_fetch,
    .xUnfetch = budget_unfetch,
};

static int budget_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                       int *out_flags)
{
    BudgetFile *budget_file = (BudgetFile *)file;
    budget_file->real = (sqlite3_file *)(budget_file + 1);
    int rc = default_vfs->xOpen(default_vfs, name, budget_file->real, flags, out_flags);
    // SQLite closes a file whose pMethods is set, even after a failed open.
    budget_file->base.pMethods = budget_file->real->pMethods ? &budget_io_methods : NULL;
    return rc;
}

static gboolean register_budget_vfs(void)
{
    if (default_vfs)
        return TRUE;
    default_vfs = sqlite3_vfs_find(NULL);
    // The forwarding above calls the version 3 methods (shared memory, memory mapping).
    if (!default_vfs || default_vfs->iVersion < 3)
        return FALSE;
    budget_vfs = *default_vfs;
    budget_vfs.szOsFile = (int)sizeof(BudgetFile) + default_vfs->szOsFile;
    budget_vfs.zName = "ponder-budget";
    budget_vfs.pNext = NULL;
    budget_vfs.xOpen = budget_open;
    return sqlite3_vfs_register(&budget_vfs, 0) == SQLITE_OK;
}

#define assert_disk_full(error)                                                                    \
    do {                                                                                           \
        g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_DISK_FULL);                   \
        g_assert_nonnull(strstr((error)->message, "disk is full"));                                \
        g_clear_error(&(error));                                                                   \
    } while (0)

typedef struct {
    gint64 id;
    char *content;
} SavedMessage;

static void saved_message_clear(gpointer data)
{
    g_free(((SavedMessage *)data)->content);
}

static void test_disk_full(Fixture *f, gconstpointer data)
{
    if (!register_budget_vfs()) {
        g_test_skip("skipped: the default SQLite VFS lacks the version 3 methods to wrap");
        return;
    }
    write_budget = -1;
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new_full(f->path, "ponder-budget", &error);
    g_assert_no_error(error);
    g_autoptr(GArray) committed = g_array_new(FALSE, TRUE, sizeof(SavedMessage));
    g_array_set_clear_func(committed, saved_message_clear);

    // Before the disk fills: a finished exchange.
    gint64 c = ponder_store_create_conversation(store, "Before the disk filled", &error);
    gint64 question = ponder_store_add_user_message(store, c, 0, "A question", &error);
    gint64 answer = ponder_store_begin_answer(store, question, "r1", NULL, &error);
    PonderAnswerStats stats = {.finish = PONDER_FINISH_STOP,
                               .prompt_tokens = 3,
                               .completion_tokens = 2,
                               .first_token_s = 0.1,
                               .total_s = 0.2,
                               .tokens_per_second = 10};
    g_assert_true(ponder_store_finish_answer(store, answer, "An answer", NULL, &stats, &error));
    g_assert_no_error(error);
    g_array_append_val(committed, ((SavedMessage){question, g_strdup("A question")}));
    g_array_append_val(committed, ((SavedMessage){answer, g_strdup("An answer")}));

    // Write questions, answers and partial saves until the disk is full.
    write_budget = 512 * 1024;
    gint64 parent = answer, streaming = 0;
    gboolean full = FALSE;
    for (int i = 0; i < 2000 && !full; i++) {
        g_autoptr(GString) big = g_string_new(NULL);
        while (big->len < 3000)
            g_string_append_printf(big, "entry %d says words ", i);
        if (i % 3 == 0) {
            gint64 id = ponder_store_add_user_message(store, c, parent, big->str, &error);
            if (id) {
                g_array_append_val(committed, ((SavedMessage){id, g_strdup(big->str)}));
                parent = id;
            }
        } else if (i % 3 == 1) {
            streaming = ponder_store_begin_answer(store, parent, "r1", NULL, &error);
            if (streaming) {
                g_array_append_val(committed, ((SavedMessage){streaming, g_strdup("")}));
                parent = streaming;
            }
        } else if (ponder_store_save_partial_answer(store, streaming, big->str, NULL, &error)) {
            SavedMessage *last = &g_array_index(committed, SavedMessage, committed->len - 1);
            g_free(last->content);
            last->content = g_strdup(big->str);
        }
        full = error != NULL;
    }
    g_assert_true(full);
    g_assert_cmpuint(refused_writes, >, 0);
    g_test_message("disk full after %u messages", committed->len);
    g_assert_cmpuint(committed->len, >, 10); // the budget was spent on real writes
    assert_disk_full(error);

    // While it is full, every kind of write says so.
    g_assert_cmpint(ponder_store_create_conversation(store, "x", &error), ==, 0);
    assert_disk_full(error);
    g_assert_false(ponder_store_rename_conversation(store, c, "x", &error));
    assert_disk_full(error);
    g_assert_false(ponder_store_set_system_prompt(store, c, "x", &error));
    assert_disk_full(error);
    g_assert_false(ponder_store_set_settings(store, c, "{\"a\":1}", &error));
    assert_disk_full(error);
    g_assert_cmpint(ponder_store_add_user_message(store, c, parent, "x", &error), ==, 0);
    assert_disk_full(error);
    g_assert_cmpint(ponder_store_begin_answer(store, question, "r1", NULL, &error), ==, 0);
    assert_disk_full(error);
    g_assert_false(ponder_store_save_partial_answer(store, streaming, "x", NULL, &error));
    assert_disk_full(error);
    g_assert_false(ponder_store_finish_answer(store, streaming, "x", NULL, &stats, &error));
    assert_disk_full(error);
    g_assert_cmpint(ponder_store_select_branch(store, question, &error), ==, 0);
    assert_disk_full(error);
    g_assert_false(ponder_store_delete_conversation(store, c, &error));
    assert_disk_full(error);
    g_autofree char *json = ponder_store_export_json(store, c, &error); // reading still works
    g_assert_no_error(error);
    g_assert_cmpint(ponder_store_import_json(store, json, -1, &error), ==, 0);
    assert_disk_full(error);

    // A new database on a full disk fails to open, saying why.
    g_autofree char *other_path = g_build_filename(f->dir, "other.db", NULL);
    g_autoptr(PonderStore) other = ponder_store_new_full(other_path, "ponder-budget", &error);
    g_assert_null(other);
    assert_disk_full(error);

    // Space again: the same store goes on.
    write_budget = -1;
    gint64 after = ponder_store_add_user_message(store, c, parent, "after the disk", &error);
    g_assert_no_error(error);
    g_array_append_val(committed, ((SavedMessage){after, g_strdup("after the disk")}));
    g_clear_object(&store);

    // On the normal VFS: intact, and everything committed is there as it was.
    assert_integrity_ok(f->path);
    store = ponder_store_new(f->path, &error);
    g_assert_no_error(error);
    g_assert_true(ponder_store_check(store, &error));
    g_assert_no_error(error);
    g_assert_cmpint(count_rows(f->path, "messages"), ==, committed->len);
    g_assert_cmpint(count_rows(f->path, "conversations"), ==, 1);
    for (guint i = 0; i < committed->len; i++) {
        SavedMessage *saved = &g_array_index(committed, SavedMessage, i);
        g_autoptr(PonderMessage) message = ponder_store_get_message(store, saved->id, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(message->content, ==, saved->content);
    }
    g_autoptr(PonderConversation) conversation = ponder_store_get_conversation(store, c, &error);
    g_assert_cmpstr(conversation->title, ==, "Before the disk filled");
    g_assert_cmpint(conversation->selected_leaf_id, ==, after);
    g_autoptr(GPtrArray) hits = ponder_store_search(store, "says", 0, &error);
    g_assert_cmpuint(hits->len, ==, 1);
}

int main(int argc, char **argv)
{
    if (argc == 4 && g_str_equal(argv[1], "--crash-child"))
        return run_crash_child(argv[2], atoi(argv[3]));

    g_test_init(&argc, &argv, NULL);
#define ADD(name, func) g_test_add(name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
    ADD("/store-faults/crash-loop", test_crash_loop);
    ADD("/store-faults/disk-full", test_disk_full);
#undef ADD
    return g_test_run();
}
