// Export of a conversation as Markdown (the branch on screen, for reading and sharing) and as
// JSON (every message and field, for backups and other machines), and import of that JSON.
//
// The JSON is written by SQLite's own JSON functions: they embed the stored settings as they
// are and print numbers in their shortest form (json-glib writes 0.6 as 0.59999999999999998),
// so an export of an import of an export is the same text. json-glib reads it back, for its
// precise error messages.

#include "ponder-store-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "ponder-json-guard.h"

#define EXPORT_FORMAT "ponder-conversation"
#define EXPORT_VERSION 1

// Markdown

static void append_quoted(GString *out, const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++)
        g_string_append_printf(out, ">%s%s\n", lines[i][0] ? " " : "", lines[i]);
}

static void append_answer_stats(GString *out, const PonderMessage *message)
{
    g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
    if (message->prompt_tokens >= 0)
        g_ptr_array_add(
            parts, g_strdup_printf("%" G_GINT64_FORMAT " prompt tokens", message->prompt_tokens));
    if (message->completion_tokens >= 0)
        g_ptr_array_add(parts,
                        g_strdup_printf("%" G_GINT64_FORMAT " tokens", message->completion_tokens));
    // The file's words are English, not the locale's: so are its numbers ("12.5", never
    // "12,5"), and a conversation exports to the same text on every machine.
    char number[G_ASCII_DTOSTR_BUF_SIZE];
    if (message->tokens_per_second >= 0)
        g_ptr_array_add(
            parts, g_strdup_printf("%s tokens/s", g_ascii_formatd(number, sizeof number, "%.1f",
                                                                  message->tokens_per_second)));
    if (message->first_token_s >= 0)
        g_ptr_array_add(parts, g_strdup_printf("first token after %s s",
                                               g_ascii_formatd(number, sizeof number, "%.2f",
                                                               message->first_token_s)));
    if (message->total_s >= 0)
        g_ptr_array_add(parts,
                        g_strdup_printf("%s s in all", g_ascii_formatd(number, sizeof number,
                                                                       "%.1f", message->total_s)));
    static const char *const endings[] = {
        [PONDER_FINISH_NONE] = "incomplete",
        [PONDER_FINISH_STOP] = "finished",
        [PONDER_FINISH_LENGTH] = "cut off at the length limit",
        [PONDER_FINISH_CANCELLED] = "stopped",
        [PONDER_FINISH_ERROR] = "failed",
    };
    if (message->finish == PONDER_FINISH_ERROR && message->error)
        g_ptr_array_add(parts, g_strdup_printf("failed: %s", message->error));
    else
        g_ptr_array_add(parts, g_strdup(endings[message->finish]));
    g_ptr_array_add(parts, NULL);
    g_autofree char *line = g_strjoinv(" · ", (char **)parts->pdata);
    g_string_append_printf(out, "*%s*\n\n", line);
}

static void append_message_markdown(GString *out, const PonderMessage *message)
{
    switch (message->role) {
    case PONDER_MESSAGE_ROLE_SYSTEM: g_string_append(out, "## System\n\n"); break;
    case PONDER_MESSAGE_ROLE_USER: g_string_append(out, "## User\n\n"); break;
    case PONDER_MESSAGE_ROLE_ASSISTANT:
        if (message->model)
            g_string_append_printf(out, "## Assistant (%s)\n\n", message->model);
        else
            g_string_append(out, "## Assistant\n\n");
        break;
    }
    if (message->reasoning && message->reasoning[0])
        g_string_append_printf(out,
                               "<details>\n<summary>Reasoning</summary>\n\n%s\n\n</details>\n\n",
                               message->reasoning);
    g_string_append_printf(out, "%s\n\n", message->content);
    if (message->role == PONDER_MESSAGE_ROLE_ASSISTANT)
        append_answer_stats(out, message);
}

char *ponder_store_export_markdown(PonderStore *self, gint64 conversation_id, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), NULL);
    g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(ponder_store_get_lock(self));

    g_autoptr(PonderConversation) conversation =
        ponder_store_get_conversation(self, conversation_id, error);
    if (!conversation)
        return NULL;
    g_autoptr(GError) leaf_error = NULL;
    gint64 leaf = ponder_store_get_selected_leaf(self, conversation_id, &leaf_error);
    if (leaf_error) {
        g_propagate_error(error, g_steal_pointer(&leaf_error));
        return NULL;
    }
    g_autoptr(GPtrArray) path = NULL;
    if (leaf > 0 && !(path = ponder_store_get_path_to_leaf(self, leaf, error)))
        return NULL;

    GString *out = g_string_new(NULL);
    g_string_append_printf(out, "# %s\n\n",
                           conversation->title[0] ? conversation->title : "Untitled conversation");
    if (conversation->system_prompt) {
        g_string_append(out, "> **System prompt**\n>\n");
        append_quoted(out, conversation->system_prompt);
        g_string_append_c(out, '\n');
    }
    for (guint i = 0; path && i < path->len; i++)
        append_message_markdown(out, g_ptr_array_index(path, i));
    return g_string_free(out, FALSE);
}

// JSON export

// Unix microseconds as ISO 8601 UTC with all six digits, so the import gets the same value.
#define ISO8601(column)                                                                            \
    "strftime('%Y-%m-%dT%H:%M:%S', " column " / 1000000, 'unixepoch')"                             \
    " || printf('.%06dZ', " column " % 1000000)"
#define MESSAGE_CREATED_AT ISO8601("m.created_at")
#define MESSAGE_UPDATED_AT ISO8601("m.updated_at")
#define CONVERSATION_CREATED_AT ISO8601("c.created_at")
#define CONVERSATION_UPDATED_AT ISO8601("c.updated_at")

// File-local ids: 1, 2, ... in creation order (a parent is always older than its children).
#define NUMBERED_MESSAGES                                                                          \
    "WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n"                            \
    " FROM messages WHERE conversation_id = ?1) "

static char *export_messages_array(PonderStore *self, gint64 conversation_id, GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        NUMBERED_MESSAGES
        "SELECT json_object('id', me.n, 'parent', parent.n, 'role', m.role,"
        " 'content', m.content, 'reasoning', m.reasoning, 'model', m.model,"
        " 'sampling', json(m.sampling), 'prompt_tokens', m.prompt_tokens,"
        " 'completion_tokens', m.completion_tokens,"
        " 'first_token_seconds', m.first_token_seconds, 'total_seconds', m.total_seconds,"
        " 'tokens_per_second', m.tokens_per_second, 'finish', m.finish, 'error', m.error,"
        " 'created_at', " MESSAGE_CREATED_AT ", 'updated_at', " MESSAGE_UPDATED_AT ")"
        " FROM messages m JOIN numbered me ON me.id = m.id"
        " LEFT JOIN numbered parent ON parent.id = m.parent_id ORDER BY m.id",
        error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, conversation_id);
    g_autoptr(GString) array = g_string_new("[");
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (array->len > 1)
            g_string_append_c(array, ',');
        g_string_append(array, (const char *)sqlite3_column_text(stmt, 0));
    }
    if (rc != SQLITE_DONE) {
        ponder_store_set_error(self, rc, "export the messages", error);
        sqlite3_reset(stmt);
        return NULL;
    }
    sqlite3_reset(stmt);
    g_string_append_c(array, ']');
    return g_string_free(g_steal_pointer(&array), FALSE);
}

char *ponder_store_export_json(PonderStore *self, gint64 conversation_id, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), NULL);
    g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(ponder_store_get_lock(self));

    // Both queries read one snapshot, so a message saved in between cannot half appear.
    int rc = sqlite3_exec(ponder_store_get_db(self), "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ponder_store_set_error(self, rc, "export the conversation", error);
        return NULL;
    }
    char *json = NULL;
    g_autofree char *messages = export_messages_array(self, conversation_id, error);
    sqlite3_stmt *stmt = NULL;
    if (messages)
        stmt = ponder_store_statement(
            self,
            NUMBERED_MESSAGES
            "SELECT json_object('format', '" EXPORT_FORMAT "', 'version', ?2,"
            " 'title', c.title, 'system_prompt', c.system_prompt, 'settings', json(c.settings),"
            " 'created_at', " CONVERSATION_CREATED_AT ","
            " 'updated_at', " CONVERSATION_UPDATED_AT ","
            " 'selected_leaf', (SELECT n FROM numbered WHERE id = c.selected_leaf_id),"
            " 'messages', json(?3))"
            " FROM conversations c WHERE c.id = ?1",
            error);
    if (stmt) {
        sqlite3_bind_int64(stmt, 1, conversation_id);
        sqlite3_bind_int(stmt, 2, EXPORT_VERSION);
        sqlite3_bind_text(stmt, 3, messages, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
            json = g_strconcat((const char *)sqlite3_column_text(stmt, 0), "\n", NULL);
        else if (rc == SQLITE_DONE)
            g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND,
                        "There is no conversation %" G_GINT64_FORMAT, conversation_id);
        else
            ponder_store_set_error(self, rc, "export the conversation", error);
        sqlite3_reset(stmt);
    }
    ponder_store_rollback(self); // nothing was written
    return json;
}

// JSON import: everything is checked before anything is written, and written in one
// transaction.

typedef struct {
    gint64 file_id;
    gint64 parent_file_id; // 0: a first message
    PonderMessageRole role;
    const char *content; // these point into the parsed document
    const char *reasoning;
    const char *model;
    char *sampling_json; // owned: the text as it is in the file (see the top of this file)
    gint64 prompt_tokens;
    gint64 completion_tokens;
    double first_token_s;
    double total_s;
    double tokens_per_second;
    PonderFinishReason finish;
    const char *error;
    gint64 created_us;
    gint64 updated_us;
} ImportedMessage;

static void imported_message_clear(gpointer data)
{
    g_free(((ImportedMessage *)data)->sampling_json);
}

static gboolean import_fail(GError **error, const char *where, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static gboolean import_fail(GError **error, const char *where, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *problem = g_strdup_vprintf(format, args);
    va_end(args);
    g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_IMPORT,
                "Cannot import the conversation: %s: %s", where, problem);
    return FALSE;
}

static gboolean node_is_null(JsonNode *node)
{
    return !node || JSON_NODE_HOLDS_NULL(node);
}

static gboolean node_holds(JsonNode *node, GType type)
{
    return node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == type;
}

static gboolean read_string(JsonObject *object, const char *key, gboolean nullable,
                            const char *where, const char **out, GError **error)
{
    JsonNode *node = json_object_get_member(object, key);
    *out = NULL;
    if (nullable && node_is_null(node))
        return TRUE;
    if (!node)
        return import_fail(error, where, "\"%s\" is missing", key);
    if (!node_holds(node, G_TYPE_STRING))
        return import_fail(error, where, "\"%s\" must be a string%s", key,
                           nullable ? " or null" : "");
    *out = json_node_get_string(node);
    return TRUE;
}

// A count, or null / missing for "unknown" (-1).
static gboolean read_count(JsonObject *object, const char *key, const char *where, gint64 *out,
                           GError **error)
{
    JsonNode *node = json_object_get_member(object, key);
    *out = -1;
    if (node_is_null(node))
        return TRUE;
    if (!node_holds(node, G_TYPE_INT64) || json_node_get_int(node) < 0)
        return import_fail(error, where, "\"%s\" must be a whole number >= 0 or null", key);
    *out = json_node_get_int(node);
    return TRUE;
}

static gboolean read_seconds(JsonObject *object, const char *key, const char *where, double *out,
                             GError **error)
{
    JsonNode *node = json_object_get_member(object, key);
    *out = -1;
    if (node_is_null(node))
        return TRUE;
    gboolean is_number = node_holds(node, G_TYPE_INT64) || node_holds(node, G_TYPE_DOUBLE);
    if (!is_number || json_node_get_double(node) < 0)
        return import_fail(error, where, "\"%s\" must be a number >= 0 or null", key);
    *out = json_node_get_double(node);
    return TRUE;
}

static gboolean read_object_or_null(JsonObject *object, const char *key, const char *where,
                                    GError **error)
{
    JsonNode *node = json_object_get_member(object, key);
    if (node_is_null(node) || JSON_NODE_HOLDS_OBJECT(node))
        return TRUE;
    return import_fail(error, where, "\"%s\" must be an object or null", key);
}

// An ISO 8601 time with a time zone; missing or null: now.
static gboolean read_time(JsonObject *object, const char *key, const char *where, gint64 *out,
                          GError **error)
{
    const char *text = NULL;
    if (!read_string(object, key, TRUE, where, &text, error))
        return FALSE;
    if (!text) {
        *out = g_get_real_time();
        return TRUE;
    }
    g_autoptr(GDateTime) time = g_date_time_new_from_iso8601(text, NULL);
    if (!time)
        return import_fail(error, where, "\"%s\" is not an ISO 8601 time with a time zone: %s", key,
                           text);
    *out = g_date_time_to_unix(time) * G_USEC_PER_SEC + g_date_time_get_microsecond(time);
    return TRUE;
}

static gboolean read_message(JsonNode *node, const char *where, GHashTable *earlier_ids,
                             ImportedMessage *message, GError **error)
{
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return import_fail(error, where, "not an object");
    JsonObject *object = json_node_get_object(node);

    JsonNode *id = json_object_get_member(object, "id");
    if (!node_holds(id, G_TYPE_INT64) || json_node_get_int(id) <= 0)
        return import_fail(error, where, "\"id\" must be a whole number > 0");
    message->file_id = json_node_get_int(id);
    if (g_hash_table_contains(earlier_ids, &message->file_id))
        return import_fail(error, where, "id %" G_GINT64_FORMAT " is used twice", message->file_id);

    JsonNode *parent = json_object_get_member(object, "parent");
    if (!node_is_null(parent)) {
        if (!node_holds(parent, G_TYPE_INT64))
            return import_fail(error, where, "\"parent\" must be a message id or null");
        message->parent_file_id = json_node_get_int(parent);
        if (!g_hash_table_contains(earlier_ids, &message->parent_file_id))
            return import_fail(error, where,
                               "its parent %" G_GINT64_FORMAT " is not an earlier message",
                               message->parent_file_id);
    }

    const char *role = NULL, *finish = NULL;
    if (!read_string(object, "role", FALSE, where, &role, error))
        return FALSE;
    if (!ponder_message_role_from_string(role, &message->role))
        return import_fail(error, where,
                           "\"role\" must be \"user\", \"assistant\" or \"system\", not \"%s\"",
                           role);
    if (!read_string(object, "finish", FALSE, where, &finish, error))
        return FALSE;
    if (!ponder_finish_reason_from_string(finish, &message->finish))
        return import_fail(error, where, "\"finish\" is not a finish reason: \"%s\"", finish);

    return read_string(object, "content", FALSE, where, &message->content, error) &&
           read_string(object, "reasoning", TRUE, where, &message->reasoning, error) &&
           read_string(object, "model", TRUE, where, &message->model, error) &&
           read_object_or_null(object, "sampling", where, error) &&
           read_count(object, "prompt_tokens", where, &message->prompt_tokens, error) &&
           read_count(object, "completion_tokens", where, &message->completion_tokens, error) &&
           read_seconds(object, "first_token_seconds", where, &message->first_token_s, error) &&
           read_seconds(object, "total_seconds", where, &message->total_s, error) &&
           read_seconds(object, "tokens_per_second", where, &message->tokens_per_second, error) &&
           read_string(object, "error", TRUE, where, &message->error, error) &&
           read_time(object, "created_at", where, &message->created_us, error) &&
           read_time(object, "updated_at", where, &message->updated_us, error);
}

typedef struct {
    const char *title;
    const char *system_prompt;
    char *settings_json; // owned, as in the file
    gint64 created_us;
    gint64 updated_us;
    gint64 selected_leaf_file_id; // 0: none
    GArray *messages;             // ImportedMessage, in file order
} ImportedConversation;

static void imported_conversation_clear(ImportedConversation *conversation)
{
    g_free(conversation->settings_json);
    g_clear_pointer(&conversation->messages, g_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ImportedConversation, imported_conversation_clear)

static gboolean read_conversation(JsonNode *root, ImportedConversation *conversation,
                                  GError **error)
{
    const char *where = "the conversation";
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return import_fail(error, "the file", "it is not a JSON object");
    JsonObject *object = json_node_get_object(root);

    const char *format = NULL;
    if (!read_string(object, "format", TRUE, where, &format, error))
        return FALSE;
    if (g_strcmp0(format, EXPORT_FORMAT) != 0)
        return import_fail(error, "the file",
                           "it is not a Ponder conversation (its \"format\" "
                           "is not \"" EXPORT_FORMAT "\")");
    JsonNode *version = json_object_get_member(object, "version");
    if (!node_holds(version, G_TYPE_INT64))
        return import_fail(error, where, "\"version\" must be a whole number");
    if (json_node_get_int(version) != EXPORT_VERSION)
        return import_fail(error, where,
                           "version %" G_GINT64_FORMAT " is not one this Ponder reads (%d)",
                           json_node_get_int(version), EXPORT_VERSION);

    if (!read_string(object, "title", FALSE, where, &conversation->title, error) ||
        !read_string(object, "system_prompt", TRUE, where, &conversation->system_prompt, error) ||
        !read_object_or_null(object, "settings", where, error) ||
        !read_time(object, "created_at", where, &conversation->created_us, error) ||
        !read_time(object, "updated_at", where, &conversation->updated_us, error))
        return FALSE;

    JsonNode *messages = json_object_get_member(object, "messages");
    if (!messages || !JSON_NODE_HOLDS_ARRAY(messages))
        return import_fail(error, where, "\"messages\" must be an array");
    JsonArray *array = json_node_get_array(messages);
    guint count = json_array_get_length(array);
    conversation->messages = g_array_sized_new(FALSE, TRUE, sizeof(ImportedMessage), count);
    g_array_set_clear_func(conversation->messages, imported_message_clear);
    g_autoptr(GHashTable) ids = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < count; i++) {
        g_array_set_size(conversation->messages, i + 1);
        ImportedMessage *message = &g_array_index(conversation->messages, ImportedMessage, i);
        g_autofree char *message_where = g_strdup_printf("message %u", i + 1);
        if (!read_message(json_array_get_element(array, i), message_where, ids, message, error))
            return FALSE;
        g_hash_table_add(ids, &message->file_id); // the array was sized up front: no moves
    }

    JsonNode *leaf = json_object_get_member(object, "selected_leaf");
    if (!node_is_null(leaf)) {
        if (!node_holds(leaf, G_TYPE_INT64))
            return import_fail(error, where, "\"selected_leaf\" must be a message id or null");
        conversation->selected_leaf_file_id = json_node_get_int(leaf);
        if (!g_hash_table_contains(ids, &conversation->selected_leaf_file_id))
            return import_fail(error, where,
                               "\"selected_leaf\" %" G_GINT64_FORMAT " is not a message",
                               conversation->selected_leaf_file_id);
    }
    return TRUE;
}

// The settings and sampling objects as text, the way SQLite reads them from the file.
static gboolean extract_json_objects(PonderStore *self, const char *json, gsize length,
                                     ImportedConversation *conversation, GError **error)
{
    sqlite3_stmt *stmt =
        ponder_store_statement(self,
                               "SELECT -1, json_extract(?1, '$.settings')"
                               " UNION ALL"
                               " SELECT CAST(key AS INTEGER), json_extract(value, '$.sampling')"
                               " FROM json_each(?1, '$.messages')",
                               error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, json, (int)length, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        gint64 index = sqlite3_column_int64(stmt, 0);
        const char *text = (const char *)sqlite3_column_text(stmt, 1);
        if (index < 0) {
            conversation->settings_json = g_strdup(text ? text : "{}");
        } else if ((guint64)index < conversation->messages->len) {
            ImportedMessage *message =
                &g_array_index(conversation->messages, ImportedMessage, index);
            message->sampling_json = g_strdup(text);
        }
    }
    if (rc != SQLITE_DONE) {
        g_set_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_IMPORT,
                    "Cannot import the conversation: SQLite cannot read the file: %s",
                    sqlite3_errmsg(ponder_store_get_db(self)));
        sqlite3_reset(stmt);
        return FALSE;
    }
    sqlite3_reset(stmt);
    return TRUE;
}

static gint64 insert_conversation(PonderStore *self, const ImportedConversation *conversation,
                                  const char *what, GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        "INSERT INTO conversations (title, system_prompt, settings, created_at, updated_at)"
        " VALUES (?1, ?2, json(?3), ?4, ?5)",
        error);
    if (!stmt)
        return 0;
    sqlite3_bind_text(stmt, 1, conversation->title, -1, SQLITE_STATIC);
    if (conversation->system_prompt)
        sqlite3_bind_text(stmt, 2, conversation->system_prompt, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, conversation->settings_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, conversation->created_us);
    sqlite3_bind_int64(stmt, 5, conversation->updated_us);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        ponder_store_set_error(self, rc, what, error);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(ponder_store_get_db(self)) : 0;
}

static void bind_optional_text(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

static gint64 insert_imported_message(PonderStore *self, gint64 conversation_id, gint64 parent_id,
                                      const ImportedMessage *message, const char *what,
                                      GError **error)
{
    sqlite3_stmt *stmt = ponder_store_statement(
        self,
        "INSERT INTO messages (conversation_id, parent_id, role, content, reasoning, model,"
        " sampling, prompt_tokens, completion_tokens, first_token_seconds, total_seconds,"
        " tokens_per_second, finish, error, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, json(?7), ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        error);
    if (!stmt)
        return 0;
    // Unbound parameters are NULL: the statement comes back with its bindings cleared.
    sqlite3_bind_int64(stmt, 1, conversation_id);
    if (parent_id > 0)
        sqlite3_bind_int64(stmt, 2, parent_id);
    sqlite3_bind_text(stmt, 3, ponder_message_role_to_string(message->role), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, message->content, -1, SQLITE_STATIC);
    bind_optional_text(stmt, 5, message->reasoning);
    bind_optional_text(stmt, 6, message->model);
    bind_optional_text(stmt, 7, message->sampling_json);
    if (message->prompt_tokens >= 0)
        sqlite3_bind_int64(stmt, 8, message->prompt_tokens);
    if (message->completion_tokens >= 0)
        sqlite3_bind_int64(stmt, 9, message->completion_tokens);
    if (message->first_token_s >= 0)
        sqlite3_bind_double(stmt, 10, message->first_token_s);
    if (message->total_s >= 0)
        sqlite3_bind_double(stmt, 11, message->total_s);
    if (message->tokens_per_second >= 0)
        sqlite3_bind_double(stmt, 12, message->tokens_per_second);
    sqlite3_bind_text(stmt, 13, ponder_finish_reason_to_string(message->finish), -1, SQLITE_STATIC);
    bind_optional_text(stmt, 14, message->error);
    sqlite3_bind_int64(stmt, 15, message->created_us);
    sqlite3_bind_int64(stmt, 16, message->updated_us);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        ponder_store_set_error(self, rc, what, error);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(ponder_store_get_db(self)) : 0;
}

static gint64 write_imported(PonderStore *self, const ImportedConversation *conversation,
                             GError **error)
{
    const char *what = "import the conversation";
    gint64 conversation_id = insert_conversation(self, conversation, what, error);
    if (conversation_id == 0)
        return 0;

    g_autoptr(GHashTable) new_ids =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    gint64 selected_leaf = 0;
    for (guint i = 0; i < conversation->messages->len; i++) {
        const ImportedMessage *message = &g_array_index(conversation->messages, ImportedMessage, i);
        gint64 *parent_id = g_hash_table_lookup(new_ids, &message->parent_file_id);
        gint64 id = insert_imported_message(self, conversation_id, parent_id ? *parent_id : 0,
                                            message, what, error);
        if (id == 0)
            return 0;
        g_hash_table_insert(new_ids, (gpointer)&message->file_id, g_memdup2(&id, sizeof id));
        if (message->file_id == conversation->selected_leaf_file_id)
            selected_leaf = id;
    }

    if (selected_leaf > 0) {
        sqlite3_stmt *stmt = ponder_store_statement(
            self, "UPDATE conversations SET selected_leaf_id = ?2 WHERE id = ?1", error);
        if (!stmt)
            return 0;
        sqlite3_bind_int64(stmt, 1, conversation_id);
        sqlite3_bind_int64(stmt, 2, selected_leaf);
        int rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE)
            ponder_store_set_error(self, rc, what, error);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE)
            return 0;
    }
    return conversation_id;
}

gint64 ponder_store_import_json(PonderStore *self, const char *json, gssize length, GError **error)
{
    g_return_val_if_fail(PONDER_IS_STORE(self), 0);
    g_return_val_if_fail(json != NULL, 0);
    gsize size = length < 0 ? strlen(json) : (gsize)length;
    if (size > G_MAXINT) {
        import_fail(error, "the file", "it is larger than 2 GiB");
        return 0;
    }

    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) parse_error = NULL;
    if (!ponder_json_parser_load_untrusted(parser, json, (gssize)size, &parse_error)) {
        if (g_error_matches(parse_error, PONDER_JSON_GUARD_ERROR, PONDER_JSON_GUARD_ERROR_TOO_DEEP))
            import_fail(error, "the file", "this file is nested too deeply (%s)",
                        parse_error->message);
        else
            import_fail(error, "the file", "it is not valid JSON: %s", parse_error->message);
        return 0;
    }
    g_auto(ImportedConversation) conversation = {0};
    if (!read_conversation(json_parser_get_root(parser), &conversation, error))
        return 0;

    g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(ponder_store_get_lock(self));
    const char *what = "import the conversation";
    if (!extract_json_objects(self, json, size, &conversation, error) ||
        !ponder_store_begin(self, what, error))
        return 0;
    gint64 conversation_id = write_imported(self, &conversation, error);
    if (conversation_id == 0 || !ponder_store_commit(self, what, error)) {
        ponder_store_rollback(self);
        return 0;
    }
    return conversation_id;
}
