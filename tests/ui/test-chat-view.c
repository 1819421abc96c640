// The chat view under Xvfb: sending from the composer on a tiny synthetic model (the question
// and the answer land in the store and in the list, the thinking section goes from
// "Thinking…" to its end state), Shift+Enter, Esc, a failed send keeping its text, the
// thinking section's states, the rows' stats lines, branches, a 5,000-message conversation
// that creates only a screenful of rows, and at most one Markdown update per frame under a
// 1,000-deltas-per-second stream.
#include <locale.h>
#include <string.h>

#include <adwaita.h>

#include "app-test-engine.h"
#include "app-test-util.h"
#include "chat/ponder-chat-view.h"
#include "chat/ponder-composer.h"
#include "chat/ponder-message-row.h"
#include "chat/ponder-thinking-section.h"
#include "markdown/ponder-markdown-view.h"

static char *tmp_dir;
static char *model_path;      // NULL when ../shared's tokenizer is missing
static PonderCore *core;      // the tiny model chosen
static PonderCore *bare_core; // no model chosen (same store)

// ---- helpers -------------------------------------------------------------------------

static gboolean wake_up(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

// Iterates the main context until CONDITION holds or SECONDS pass; a 10 ms timer keeps the
// blocking iteration from sleeping through a condition that no event announces.
static gboolean wait_for(gboolean (*condition)(gpointer), gpointer data, double seconds)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
    guint timer = g_timeout_add(10, wake_up, NULL);
    gboolean ok;
    while (!(ok = condition(data)) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(timer);
    return ok;
}

typedef struct {
    GtkWidget *widget;
    guint frames;
} FrameWait;

static void count_frame(GdkFrameClock *clock, FrameWait *wait)
{
    // A still widget is painted once per queued draw: ask for the next frame, or a loaded
    // machine with nothing animating would paint only the first.
    if (++wait->frames < 3)
        gtk_widget_queue_draw(wait->widget);
}

static gboolean enough_frames(gpointer data)
{
    return ((FrameWait *)data)->frames >= 3;
}

// Lets the widget be laid out and painted a few times.
static void wait_frames(GtkWidget *widget)
{
    FrameWait wait = {widget, 0};
    if (!wait_for((gboolean(*)(gpointer))gtk_widget_get_mapped, widget, 10))
        g_error("the widget was never mapped");
    GdkFrameClock *clock = gtk_widget_get_frame_clock(widget);
    gulong handler = g_signal_connect(clock, "after-paint", G_CALLBACK(count_frame), &wait);
    gtk_widget_queue_draw(widget);
    g_assert_true(wait_for(enough_frames, &wait, 10));
    g_signal_handler_disconnect(clock, handler);
}

static GtkWidget *show_in_window(GtkWidget *child)
{
    GtkWidget *window = gtk_window_new();
    gtk_window_set_default_size(GTK_WINDOW(window), 600, 800);
    gtk_window_set_child(GTK_WINDOW(window), child);
    gtk_window_present(GTK_WINDOW(window));
    wait_frames(child);
    return window;
}

static void collect(GtkWidget *root, GType type, GPtrArray *out)
{
    if (G_TYPE_CHECK_INSTANCE_TYPE(root, type))
        g_ptr_array_add(out, root);
    for (GtkWidget *child = gtk_widget_get_first_child(root); child;
         child = gtk_widget_get_next_sibling(child))
        collect(child, type, out);
}

static gpointer find_first(GtkWidget *root, GType type)
{
    g_autoptr(GPtrArray) found = g_ptr_array_new();
    collect(root, type, found);
    return found->len ? found->pdata[0] : NULL;
}

// The rows that show a message now, in list order.
static GPtrArray *bound_rows(GtkWidget *view)
{
    g_autoptr(GPtrArray) rows = g_ptr_array_new();
    collect(view, PONDER_TYPE_MESSAGE_ROW, rows);
    GPtrArray *bound = g_ptr_array_new();
    for (guint i = 0; i < rows->len; i++)
        if (ponder_message_row_get_item(rows->pdata[i]))
            g_ptr_array_add(bound, rows->pdata[i]);
    return bound;
}

static PonderMessageRow *row_of_message(GtkWidget *view, gint64 message_id)
{
    g_autoptr(GPtrArray) rows = bound_rows(view);
    for (guint i = 0; i < rows->len; i++)
        if (ponder_message_item_get_id(ponder_message_row_get_item(rows->pdata[i])) == message_id)
            return rows->pdata[i];
    return NULL;
}

static GListModel *list_model(GtkWidget *view)
{
    GtkListView *list = find_first(view, GTK_TYPE_LIST_VIEW);
    g_assert_nonnull(list);
    return G_LIST_MODEL(gtk_list_view_get_model(list));
}

// Sends KEYVAL with STATE to the key controller of WIDGET, as a key press would.
static gboolean press_key(GtkWidget *widget, guint keyval, GdkModifierType state)
{
    g_autoptr(GListModel) controllers = gtk_widget_observe_controllers(widget);
    for (guint i = 0; i < g_list_model_get_n_items(controllers); i++) {
        g_autoptr(GObject) controller = g_list_model_get_item(controllers, i);
        if (!GTK_IS_EVENT_CONTROLLER_KEY(controller))
            continue;
        gboolean handled = FALSE;
        g_signal_emit_by_name(controller, "key-pressed", keyval, 0, state, &handled);
        if (handled)
            return TRUE;
    }
    return FALSE;
}

static char *buffer_text(GtkTextView *view)
{
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(view);
    GtkTextIter start, end;
    gtk_text_buffer_get_bounds(buffer, &start, &end);
    return gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
}

static void type_into_composer(PonderComposer *composer, const char *text)
{
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(ponder_composer_get_text_view(composer));
    gtk_text_buffer_set_text(buffer, text, -1);
    GtkTextIter end;
    gtk_text_buffer_get_end_iter(buffer, &end);
    gtk_text_buffer_place_cursor(buffer, &end);
}

// Types TEXT into VIEW's composer and presses Enter, for answers of exactly MAX_TOKENS tokens
// (end-of-sentence ignored, so the tiny model's length is known). Returns the text view.
static GtkTextView *send_from_composer(GtkWidget *view, const char *text, guint max_tokens)
{
    g_object_set(view, "max-tokens", max_tokens, "ignore-eos", TRUE, NULL);
    PonderComposer *composer = find_first(view, PONDER_TYPE_COMPOSER);
    GtkTextView *text_view = ponder_composer_get_text_view(composer);
    type_into_composer(composer, text);
    g_assert_true(press_key(GTK_WIDGET(text_view), GDK_KEY_Return, 0));
    return text_view;
}

static gboolean not_busy(gpointer view)
{
    return !ponder_chat_view_get_busy(view);
}

static PonderMessage *new_message(PonderMessageRole role, const char *content,
                                  const char *reasoning, PonderFinishReason finish)
{
    PonderMessage *m = g_new0(PonderMessage, 1);
    static gint64 next_id = 1000000;
    m->id = next_id++;
    m->conversation_id = 1;
    m->role = role;
    m->content = g_strdup(content);
    m->reasoning = g_strdup(reasoning);
    m->prompt_tokens = m->completion_tokens = -1;
    m->first_token_s = m->total_s = m->tokens_per_second = -1;
    m->finish = finish;
    return m;
}

typedef struct {
    GPtrArray *toasts;
    gint64 created;
    guint changed;
} Signals;

static void on_toast(PonderChatView *view, const char *message, Signals *s)
{
    g_ptr_array_add(s->toasts, g_strdup(message));
}

static void on_created(PonderChatView *view, gint64 id, Signals *s)
{
    s->created = id;
}

static void on_changed(PonderChatView *view, gint64 id, Signals *s)
{
    s->changed++;
}

static void watch(GtkWidget *view, Signals *s)
{
    s->toasts = g_ptr_array_new_with_free_func(g_free);
    g_signal_connect(view, "show-toast", G_CALLBACK(on_toast), s);
    g_signal_connect(view, "conversation-created", G_CALLBACK(on_created), s);
    g_signal_connect(view, "conversation-changed", G_CALLBACK(on_changed), s);
}

static gboolean need_model(void)
{
    if (model_path)
        return TRUE;
    g_test_skip("skipped: ../shared's R1 tokenizer is missing (no tiny model)");
    return FALSE;
}

// ---- the thinking section and the rows by themselves ---------------------------------

static void test_thinking_section_states(void)
{
    GtkWidget *widget = ponder_thinking_section_new();
    PonderThinkingSection *section = PONDER_THINKING_SECTION(widget);
    GtkWidget *window = show_in_window(widget);
    GtkRevealer *revealer = find_first(widget, GTK_TYPE_REVEALER);
    GtkSpinner *spinner = find_first(widget, GTK_TYPE_SPINNER);

    // Streaming: "Thinking…", a spinning spinner, the reasoning open and growing.
    ponder_thinking_section_set_streaming(section, TRUE);
    g_assert_cmpstr(ponder_thinking_section_get_title(section), ==, "Thinking…");
    g_assert_true(ponder_thinking_section_get_expanded(section));
    g_assert_true(gtk_revealer_get_reveal_child(revealer));
    g_assert_true(gtk_widget_get_visible(GTK_WIDGET(spinner)));
    g_assert_true(gtk_spinner_get_spinning(spinner));
    ponder_thinking_section_append(section, "Let me think", -1);
    ponder_thinking_section_append(section, " about it.XYZ", 10);
    g_autofree char *text = ponder_thinking_section_get_text(section);
    g_assert_cmpstr(text, ==, "Let me think about it.");

    // The answer starts: collapsed, with how long it took; the text is kept.
    ponder_thinking_section_set_seconds(section, 12.4);
    ponder_thinking_section_set_streaming(section, FALSE);
    g_assert_cmpstr(ponder_thinking_section_get_title(section), ==, "Thought for 12 seconds");
    g_assert_false(ponder_thinking_section_get_expanded(section));
    g_assert_false(gtk_revealer_get_reveal_child(revealer));
    g_assert_false(gtk_widget_get_visible(GTK_WIDGET(spinner)));
    g_autofree char *kept = ponder_thinking_section_get_text(section);
    g_assert_cmpstr(kept, ==, "Let me think about it.");
    ponder_thinking_section_set_seconds(section, 0.6);
    g_assert_cmpstr(ponder_thinking_section_get_title(section), ==, "Thought for 1 second");

    // Expanded later by clicking the title (the toggle button).
    GtkToggleButton *toggle = find_first(widget, GTK_TYPE_TOGGLE_BUTTON);
    g_signal_emit_by_name(toggle, "clicked");
    g_assert_true(ponder_thinking_section_get_expanded(section));
    g_assert_true(gtk_revealer_get_reveal_child(revealer));

    // Unknown duration (loaded from the store), then cut off by the length limit.
    ponder_thinking_section_set_seconds(section, -1);
    g_assert_cmpstr(ponder_thinking_section_get_title(section), ==, "Thoughts");
    ponder_thinking_section_set_interruption(section, "Stopped at the length limit");
    g_assert_cmpstr(ponder_thinking_section_get_title(section), ==, "Stopped at the length limit");
    gtk_window_destroy(GTK_WINDOW(window));
}

static void test_row_hides_thinking_and_shows_stats(void)
{
    GtkWidget *widget = ponder_message_row_new();
    PonderMessageRow *row = PONDER_MESSAGE_ROW(widget);
    GtkWidget *window = show_in_window(widget);
    PonderMessage *m = new_message(PONDER_MESSAGE_ROLE_ASSISTANT, "The answer.", "Some reasoning.",
                                   PONDER_FINISH_STOP);
    m->completion_tokens = 120;
    m->tokens_per_second = 35.25;
    m->first_token_s = 0.5;
    gint64 id = m->id;
    g_autoptr(PonderMessageItem) item = ponder_message_item_new(m);
    ponder_message_row_set_item(row, item);

    GtkWidget *section = GTK_WIDGET(ponder_message_row_get_thinking_section(row));
    g_assert_true(gtk_widget_get_visible(section));
    g_autofree char *reasoning =
        ponder_thinking_section_get_text(ponder_message_row_get_thinking_section(row));
    g_assert_cmpstr(reasoning, ==, "Some reasoning.");
    g_assert_cmpstr(ponder_markdown_view_get_text(
                        PONDER_MARKDOWN_VIEW(ponder_message_row_get_answer_view(row))),
                    ==, "The answer.");
    // Numbers for the user, in the user's locale: "35,2 tokens/s" under de_DE.
    const char *point = localeconv()->decimal_point;
    g_autofree char *status =
        g_strdup_printf("120 tokens · 35%s2 tokens/s · 0%s50 s to first token", point, point);
    g_assert_cmpstr(ponder_message_row_get_status_text(row), ==, status);
    g_assert_null(ponder_message_row_get_branch_text(row));

    // The show-thinking setting hides it, and brings it back.
    ponder_message_row_set_show_thinking(row, FALSE);
    g_assert_false(gtk_widget_get_visible(section));
    ponder_message_row_set_show_thinking(row, TRUE);
    g_assert_true(gtk_widget_get_visible(section));

    // Cut off by the length limit while still thinking: said in the stats and the section.
    PonderMessage *cut =
        new_message(PONDER_MESSAGE_ROLE_ASSISTANT, "", "Still thinking", PONDER_FINISH_LENGTH);
    cut->id = id;
    cut->completion_tokens = 1;
    ponder_message_item_set_message(item, cut);
    g_assert_nonnull(strstr(ponder_message_row_get_status_text(row), "1 token · "));
    g_assert_nonnull(
        strstr(ponder_message_row_get_status_text(row), "Stopped at the length limit — Continue"));
    g_assert_nonnull(
        strstr(ponder_thinking_section_get_title(ponder_message_row_get_thinking_section(row)),
               "length limit"));
    g_assert_false(gtk_widget_get_visible(ponder_message_row_get_answer_view(row)));

    // An error says what went wrong.
    PonderMessage *failed =
        new_message(PONDER_MESSAGE_ROLE_ASSISTANT, "", NULL, PONDER_FINISH_ERROR);
    failed->id = id;
    failed->error = g_strdup("the backend ran out of memory");
    ponder_message_item_set_message(item, failed);
    g_assert_cmpstr(ponder_message_row_get_status_text(row), ==,
                    "Failed: the backend ran out of memory");
    g_assert_false(gtk_widget_get_visible(section));

    // Siblings: the switcher says which version this is.
    ponder_message_item_set_siblings(item, 1, 3, 7, 9);
    g_assert_cmpstr(ponder_message_row_get_branch_text(row), ==, "2/3");
    gtk_window_destroy(GTK_WINDOW(window));
}

// ---- the composer's keys -------------------------------------------------------------

static GtkWidget *new_view(PonderCore *on, GtkWidget **window)
{
    GtkWidget *view = ponder_chat_view_new(on);
    *window = show_in_window(view);
    return view;
}

static void test_shift_enter_inserts_newline(void)
{
    GtkWidget *window;
    GtkWidget *view = new_view(bare_core, &window);
    Signals s = {0};
    watch(view, &s);
    PonderComposer *composer = find_first(view, PONDER_TYPE_COMPOSER);
    GtkTextView *text_view = ponder_composer_get_text_view(composer);
    type_into_composer(composer, "line one");
    g_assert_true(press_key(GTK_WIDGET(text_view), GDK_KEY_Return, GDK_SHIFT_MASK));
    g_autofree char *text = buffer_text(text_view);
    g_assert_cmpstr(text, ==, "line one\n");
    // Nothing was sent: no conversation, no toast, not busy.
    g_assert_cmpint(s.created, ==, 0);
    g_assert_cmpuint(s.toasts->len, ==, 0);
    g_assert_false(ponder_chat_view_get_busy(PONDER_CHAT_VIEW(view)));
    g_assert_cmpint(ponder_chat_view_get_conversation(PONDER_CHAT_VIEW(view)), ==, 0);
    g_ptr_array_unref(s.toasts);
    gtk_window_destroy(GTK_WINDOW(window));
}

static void test_failed_send_keeps_text(void)
{
    GtkWidget *window;
    GtkWidget *view = new_view(bare_core, &window);
    Signals s = {0};
    watch(view, &s);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) before =
        ponder_store_list_conversations(ponder_core_get_store(bare_core), &error);
    g_assert_no_error(error);

    PonderComposer *composer = find_first(view, PONDER_TYPE_COMPOSER);
    GtkTextView *text_view = ponder_composer_get_text_view(composer);
    type_into_composer(composer, "Is anyone there?");
    g_assert_true(press_key(GTK_WIDGET(text_view), GDK_KEY_Return, 0));

    // The engine has no model: a toast says so and the text is still there.
    g_assert_cmpuint(s.toasts->len, ==, 1);
    g_assert_nonnull(strstr(g_ptr_array_index(s.toasts, 0), "No model"));
    g_autofree char *text = buffer_text(text_view);
    g_assert_cmpstr(text, ==, "Is anyone there?");
    g_assert_cmpint(s.created, ==, 0);
    g_assert_false(ponder_chat_view_get_busy(PONDER_CHAT_VIEW(view)));
    g_autoptr(GPtrArray) after =
        ponder_store_list_conversations(ponder_core_get_store(bare_core), &error);
    g_assert_cmpuint(after->len, ==, before->len);
    g_ptr_array_unref(s.toasts);
    gtk_window_destroy(GTK_WINDOW(window));
}

// ---- a real answer on the tiny model -------------------------------------------------

typedef struct {
    GtkWidget *view;
    gboolean saw_thinking; // the answer row showed "Thinking…" with its spinner
} StreamWatch;

static gboolean finished_watching(gpointer data)
{
    StreamWatch *w = data;
    g_autoptr(GPtrArray) rows = bound_rows(w->view);
    for (guint i = 0; i < rows->len; i++) {
        PonderThinkingSection *section = ponder_message_row_get_thinking_section(rows->pdata[i]);
        if (ponder_thinking_section_get_streaming(section) &&
            gtk_widget_get_visible(GTK_WIDGET(section)) &&
            g_strcmp0(ponder_thinking_section_get_title(section), "Thinking…") == 0)
            w->saw_thinking = TRUE;
    }
    return !ponder_chat_view_get_busy(PONDER_CHAT_VIEW(w->view));
}

static void test_send_streams_answer(void)
{
    if (!need_model())
        return;
    GtkWidget *window;
    GtkWidget *view = new_view(core, &window);
    Signals s = {0};
    watch(view, &s);
    GtkTextView *text_view =
        send_from_composer(view, "Why is the sky blue? Explain it to a child, please.", 300);
    PonderComposer *composer = find_first(view, PONDER_TYPE_COMPOSER);
    g_assert_cmpuint(s.toasts->len, ==, 0);

    // Sent: a new conversation titled after the message, the composer empty, busy.
    g_assert_cmpint(s.created, >, 0);
    g_assert_cmpint(ponder_chat_view_get_conversation(PONDER_CHAT_VIEW(view)), ==, s.created);
    g_autofree char *left = buffer_text(text_view);
    g_assert_cmpstr(left, ==, "");
    g_assert_true(ponder_chat_view_get_busy(PONDER_CHAT_VIEW(view)));
    g_assert_true(ponder_composer_get_busy(composer));

    StreamWatch w = {view, FALSE};
    g_assert_true(wait_for(finished_watching, &w, 120));
    wait_frames(view);
    g_assert_true(w.saw_thinking);
    g_assert_false(ponder_composer_get_busy(composer));

    PonderStore *store = ponder_core_get_store(core);
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderConversation) conversation =
        ponder_store_get_conversation(store, s.created, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(conversation->title, ==, "Why is the sky blue? Explain it to a…");
    g_autoptr(GPtrArray) path =
        ponder_store_get_path_to_leaf(store, conversation->selected_leaf_id, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(path->len, ==, 2);
    const PonderMessage *question = path->pdata[0], *answer = path->pdata[1];
    g_assert_cmpint(question->role, ==, PONDER_MESSAGE_ROLE_USER);
    g_assert_cmpstr(question->content, ==, "Why is the sky blue? Explain it to a child, please.");
    g_assert_cmpint(answer->role, ==, PONDER_MESSAGE_ROLE_ASSISTANT);
    g_assert_cmpint(answer->finish, ==, PONDER_FINISH_LENGTH);
    g_assert_cmpint(answer->completion_tokens, ==, 300);
    // Recorded with the model's slug from the library, not its file name.
    PonderModelEntry *entry =
        ponder_model_library_find_by_path(ponder_core_get_library(core), model_path);
    g_assert_nonnull(entry);
    g_assert_cmpstr(answer->model, ==, ponder_model_entry_get_slug(entry));

    // The list shows the two messages, with the stored texts.
    g_assert_cmpuint(g_list_model_get_n_items(list_model(view)), ==, 2);
    g_autoptr(GPtrArray) rows = bound_rows(view);
    g_assert_cmpuint(rows->len, ==, 2);
    PonderMessageRow *answer_row = row_of_message(view, answer->id);
    g_assert_nonnull(answer_row);
    PonderThinkingSection *section = ponder_message_row_get_thinking_section(answer_row);
    g_autofree char *reasoning = ponder_thinking_section_get_text(section);
    g_assert_cmpstr(reasoning, ==, answer->reasoning ? answer->reasoning : "");
    g_assert_false(ponder_thinking_section_get_streaming(section));
    if (*answer->content) {
        // "</think>" came: the section collapsed to how long the thinking took.
        g_assert_true(g_str_has_prefix(ponder_thinking_section_get_title(section), "Thought for "));
        g_assert_cmpstr(ponder_markdown_view_get_text(
                            PONDER_MARKDOWN_VIEW(ponder_message_row_get_answer_view(answer_row))),
                        ==, answer->content);
    } else {
        // The tiny model never closed its thinking: the section says it was cut off.
        g_test_message("the tiny model did not close </think> in 300 tokens");
        g_assert_nonnull(strstr(ponder_thinking_section_get_title(section), "length limit"));
    }
    g_assert_nonnull(strstr(ponder_message_row_get_status_text(answer_row), "300 tokens"));
    g_assert_nonnull(strstr(ponder_message_row_get_status_text(answer_row), "length limit"));
    // The context used: the last answer's prompt and completion of the engine's 1,024.
    g_assert_cmpint(answer->prompt_tokens, >, 0);
    g_autofree char *context = g_strdup_printf("Context: %" G_GINT64_FORMAT " of 1024 tokens",
                                               answer->prompt_tokens + 300);
    g_autoptr(GPtrArray) labels = g_ptr_array_new();
    collect(view, GTK_TYPE_LABEL, labels);
    gboolean context_shown = FALSE;
    for (guint i = 0; i < labels->len; i++)
        if (g_strcmp0(gtk_label_get_text(labels->pdata[i]), context) == 0)
            context_shown = gtk_widget_is_visible(labels->pdata[i]);
    g_assert_true(context_shown);
    g_assert_cmpuint(s.changed, >=, 2);
    g_assert_cmpuint(s.toasts->len, ==, 0);
    g_ptr_array_unref(s.toasts);
    gtk_window_destroy(GTK_WINDOW(window));
}

static gboolean some_text_streamed(gpointer data)
{
    g_autoptr(GPtrArray) rows = bound_rows(data);
    for (guint i = 0; i < rows->len; i++) {
        PonderMessageItem *item = ponder_message_row_get_item(rows->pdata[i]);
        if (ponder_message_item_get_streaming(item) &&
            ponder_message_item_get_reasoning_length(item) +
                    ponder_message_item_get_content_length(item) >
                0)
            return TRUE;
    }
    return FALSE;
}

static void test_escape_stops_answer(void)
{
    if (!need_model())
        return;
    GtkWidget *window;
    GtkWidget *view = new_view(core, &window);
    Signals s = {0};
    watch(view, &s);
    // Far more than it can write before Esc: only the stop ends it early.
    GtkTextView *text_view = send_from_composer(view, "Write a very long story.", 900);
    g_assert_true(ponder_chat_view_get_busy(PONDER_CHAT_VIEW(view)));
    g_assert_true(wait_for(some_text_streamed, view, 60));

    g_assert_true(press_key(GTK_WIDGET(text_view), GDK_KEY_Escape, 0));
    g_assert_true(wait_for(not_busy, view, 60));
    wait_frames(view);

    PonderStore *store = ponder_core_get_store(core);
    g_autoptr(GError) error = NULL;
    gint64 leaf = ponder_store_get_selected_leaf(store, s.created, &error);
    g_autoptr(PonderMessage) answer = ponder_store_get_message(store, leaf, &error);
    g_assert_no_error(error);
    g_assert_cmpint(answer->finish, ==, PONDER_FINISH_CANCELLED);
    g_assert_cmpint(answer->completion_tokens, <, 900);
    PonderMessageRow *row = row_of_message(view, leaf);
    g_assert_nonnull(row);
    g_assert_nonnull(strstr(ponder_message_row_get_status_text(row), "Stopped"));
    // Esc with nothing running is left to the window.
    g_assert_false(press_key(GTK_WIDGET(text_view), GDK_KEY_Escape, 0));
    g_ptr_array_unref(s.toasts);
    gtk_window_destroy(GTK_WINDOW(window));
}

static void test_regenerate_edit_and_branches(void)
{
    if (!need_model())
        return;
    PonderStore *store = ponder_core_get_store(core);
    g_autoptr(GError) error = NULL;
    gint64 conversation = ponder_store_create_conversation(store, "Branches", &error);
    gint64 question = ponder_store_add_user_message(store, conversation, 0, "First", &error);
    gint64 first_answer = ponder_store_begin_answer(store, question, "tiny", NULL, &error);
    PonderAnswerStats stats = {.finish = PONDER_FINISH_STOP,
                               .prompt_tokens = 10,
                               .completion_tokens = 2,
                               .first_token_s = -1,
                               .total_s = 1,
                               .tokens_per_second = -1};
    ponder_store_finish_answer(store, first_answer, "One", NULL, &stats, &error);
    g_assert_no_error(error);

    GtkWidget *window;
    GtkWidget *view = new_view(core, &window);
    Signals s = {0};
    watch(view, &s);
    g_object_set(view, "max-tokens", 8, "ignore-eos", TRUE, NULL);
    ponder_chat_view_set_conversation(PONDER_CHAT_VIEW(view), conversation);
    wait_frames(view);
    g_assert_null(ponder_message_row_get_branch_text(row_of_message(view, first_answer)));

    // Regenerate: a second answer beside the first, and the switcher says 2/2.
    g_assert_true(gtk_widget_activate_action(view, "chat.regenerate", "x", first_answer));
    g_assert_true(ponder_chat_view_get_busy(PONDER_CHAT_VIEW(view)));
    g_assert_true(wait_for(not_busy, view, 60));
    wait_frames(view);
    gint64 second_answer = ponder_store_get_selected_leaf(store, conversation, &error);
    g_assert_cmpint(second_answer, !=, first_answer);
    g_autoptr(PonderMessage) regenerated = ponder_store_get_message(store, second_answer, &error);
    g_assert_cmpint(regenerated->parent_id, ==, question);
    g_assert_cmpuint(g_list_model_get_n_items(list_model(view)), ==, 2);
    PonderMessageRow *row = row_of_message(view, second_answer);
    g_assert_nonnull(row);
    g_assert_cmpstr(ponder_message_row_get_branch_text(row), ==, "2/2");

    // Back to the first version.
    g_assert_true(gtk_widget_activate_action(view, "chat.select-branch", "x", first_answer));
    wait_frames(view);
    g_assert_cmpint(ponder_store_get_selected_leaf(store, conversation, &error), ==, first_answer);
    row = row_of_message(view, first_answer);
    g_assert_nonnull(row);
    g_assert_cmpstr(ponder_message_row_get_branch_text(row), ==, "1/2");

    // Edit the question: a new first message beside it, answered.
    PonderMessageRow *question_row = row_of_message(view, question);
    g_assert_nonnull(question_row);
    ponder_message_row_begin_edit(question_row);
    ponder_message_row_save_edit(question_row, "First, edited");
    g_assert_true(wait_for(not_busy, view, 60));
    wait_frames(view);
    g_autoptr(GPtrArray) roots = ponder_store_list_children(store, conversation, 0, &error);
    g_assert_cmpuint(roots->len, ==, 2);
    const PonderMessage *edited = roots->pdata[1];
    g_assert_cmpstr(edited->content, ==, "First, edited");
    g_autoptr(GPtrArray) path = ponder_store_get_path_to_leaf(
        store, ponder_store_get_selected_leaf(store, conversation, &error), &error);
    g_assert_cmpuint(path->len, ==, 2);
    g_assert_cmpint(((PonderMessage *)path->pdata[0])->id, ==, edited->id);
    g_assert_cmpstr(ponder_message_row_get_branch_text(row_of_message(view, edited->id)), ==,
                    "2/2");
    g_assert_cmpuint(s.toasts->len, ==, 0);
    g_ptr_array_unref(s.toasts);
    gtk_window_destroy(GTK_WINDOW(window));
}

// ---- long conversations and fast streams ---------------------------------------------

static void count_setup(GtkSignalListItemFactory *factory, GtkListItem *item, guint *setups)
{
    (*setups)++;
}

static gboolean rows_bound(gpointer view)
{
    g_autoptr(GPtrArray) rows = bound_rows(view);
    return rows->len > 0;
}

static void test_five_thousand_messages(void)
{
    PonderStore *store = ponder_core_get_store(bare_core);
    g_autoptr(GError) error = NULL;
    gint64 conversation = ponder_store_create_conversation(store, "Long", &error);
    gint64 parent = 0;
    PonderAnswerStats stats = {.finish = PONDER_FINISH_STOP,
                               .prompt_tokens = -1,
                               .completion_tokens = -1,
                               .first_token_s = -1,
                               .total_s = -1,
                               .tokens_per_second = -1};
    for (int i = 0; i < 2500; i++) {
        g_autofree char *q = g_strdup_printf("Question %d", i);
        g_autofree char *a = g_strdup_printf("Answer %d", i);
        gint64 user = ponder_store_add_user_message(store, conversation, parent, q, &error);
        g_assert_no_error(error);
        parent = ponder_store_begin_answer(store, user, "tiny", NULL, &error);
        g_assert_no_error(error);
        ponder_store_finish_answer(store, parent, a, NULL, &stats, &error);
        g_assert_no_error(error);
    }

    GtkWidget *view = ponder_chat_view_new(bare_core);
    GtkListView *list = find_first(view, GTK_TYPE_LIST_VIEW);
    guint setups = 0;
    g_signal_connect(gtk_list_view_get_factory(list), "setup", G_CALLBACK(count_setup), &setups);
    GtkWidget *window = show_in_window(view);
    gint64 started = g_get_monotonic_time();
    ponder_chat_view_set_conversation(PONDER_CHAT_VIEW(view), conversation);
    g_assert_true(wait_for(rows_bound, view, 30));
    wait_frames(view);
    g_test_message("5,000 messages shown in %.0f ms with %u rows",
                   (g_get_monotonic_time() - started) / 1e3, setups);

    g_assert_cmpuint(g_list_model_get_n_items(list_model(view)), ==, 5000);
    g_autoptr(PonderMessageItem) last = g_list_model_get_item(list_model(view), 4999);
    g_assert_cmpstr(ponder_message_item_get_content(last), ==, "Answer 2499");
    // Rows for what is on screen and around it, never one per message: GTK 4.8's list view
    // keeps at most 200 rows around its anchor (GTK_LIST_VIEW_MAX_LIST_ITEMS) plus two
    // beside each tracker; newer GTKs size that to the screen.
    g_assert_cmpuint(setups, >, 0);
    g_assert_cmpuint(setups, <=, 200 + 2 * 2 * 4);
    g_autoptr(GPtrArray) rows = bound_rows(view);
    g_assert_cmpuint(rows->len, <=, setups);
    gtk_window_destroy(GTK_WINDOW(window));
}

typedef struct {
    PonderMessageItem *item;
    PonderMessageRow *row;
    GString *expected;
    gint64 start_us, end_us;
    guint appends;
    guint last_updates;
    guint max_updates_per_frame;
    guint frames;
    gboolean done;
} FastStream;

// Appends one token per millisecond since the stream began: a 1 ms timer cannot fire while
// a frame is being drawn, so each firing catches up with the tokens that came due meanwhile,
// one append (one "delta") per token.
static gboolean append_tokens(gpointer data)
{
    FastStream *f = data;
    gint64 now = g_get_monotonic_time();
    guint due = (guint)((MIN(now, f->end_us) - f->start_us) / 1000);
    while (f->appends < due) {
        g_autofree char *token = g_strdup_printf("word%u ", f->appends++);
        g_string_append(f->expected, token);
        ponder_message_item_append_answer(f->item, token);
    }
    if (now < f->end_us)
        return G_SOURCE_CONTINUE;
    f->done = TRUE;
    return G_SOURCE_REMOVE;
}

static void on_frame(GdkFrameClock *clock, FastStream *f)
{
    guint updates = ponder_message_row_get_answer_updates(f->row);
    f->max_updates_per_frame = MAX(f->max_updates_per_frame, updates - f->last_updates);
    f->last_updates = updates;
    f->frames++;
}

static gboolean stream_done(gpointer data)
{
    return ((FastStream *)data)->done;
}

static void test_one_update_per_frame(void)
{
    PonderStore *store = ponder_core_get_store(bare_core);
    g_autoptr(GError) error = NULL;
    gint64 conversation = ponder_store_create_conversation(store, "Fast", &error);
    gint64 question = ponder_store_add_user_message(store, conversation, 0, "Go fast", &error);
    gint64 answer = ponder_store_begin_answer(store, question, "tiny", NULL, &error);
    g_assert_no_error(error);

    GtkWidget *window;
    GtkWidget *view = new_view(bare_core, &window);
    ponder_chat_view_set_conversation(PONDER_CHAT_VIEW(view), conversation);
    g_assert_true(wait_for(rows_bound, view, 30));
    wait_frames(view);
    PonderMessageRow *row = row_of_message(view, answer);
    g_assert_nonnull(row);

    FastStream f = {
        .item = ponder_message_row_get_item(row), .row = row, .expected = g_string_new(NULL)};
    ponder_message_item_begin_streaming(f.item);
    f.last_updates = ponder_message_row_get_answer_updates(row);
    guint updates_before = f.last_updates;
    GdkFrameClock *clock = gtk_widget_get_frame_clock(GTK_WIDGET(row));
    gulong handler = g_signal_connect(clock, "after-paint", G_CALLBACK(on_frame), &f);
    f.start_us = g_get_monotonic_time();
    f.end_us = f.start_us + 500 * 1000;
    g_timeout_add(1, append_tokens, &f);
    g_assert_true(wait_for(stream_done, &f, 30));
    wait_frames(view);
    g_signal_handler_disconnect(clock, handler);

    guint updates = ponder_message_row_get_answer_updates(row) - updates_before;
    g_test_message("%u appends, %u Markdown updates, %u frames", f.appends, updates, f.frames);
    g_assert_cmpuint(f.appends, >=, 490);
    g_assert_cmpuint(f.frames, >=, 5);
    g_assert_cmpuint(f.max_updates_per_frame, <=, 1);
    g_assert_cmpuint(updates, >=, 2);
    g_assert_cmpuint(updates, <, f.appends);
    // Nothing was lost on the way: the view shows every appended word.
    g_assert_cmpstr(ponder_markdown_view_get_text(
                        PONDER_MARKDOWN_VIEW(ponder_message_row_get_answer_view(row))),
                    ==, f.expected->str);
    ponder_message_item_end_streaming(f.item, NULL);
    g_string_free(f.expected, TRUE);
    gtk_window_destroy(GTK_WINDOW(window));
}

// ---- setup ---------------------------------------------------------------------------

static PonderCore *new_core(void)
{
    PonderEngineSettings settings;
    app_test_cpu_engine_settings(&settings, 1024, 1);
    g_autoptr(GError) error = NULL;
    PonderCore *c = ponder_core_new(&settings, &error);
    g_assert_no_error(error);
    return c;
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8");
    g_test_init(&argc, &argv, NULL);
    // The data folder must be set before anything asks GLib for it (it caches the answer).
    tmp_dir = g_dir_make_tmp("ponder-chat-view-XXXXXX", NULL);
    g_assert_nonnull(tmp_dir);
    g_autofree char *data_dir = g_build_filename(tmp_dir, "data", NULL);
    g_autofree char *models_dir = g_build_filename(data_dir, "ponder", "models", NULL);
    g_setenv("HOME", tmp_dir, TRUE);
    g_setenv("XDG_DATA_HOME", data_dir, TRUE);
    g_setenv("XDG_CONFIG_HOME", tmp_dir, TRUE);
    g_setenv("XDG_CACHE_HOME", tmp_dir, TRUE);

    if (!gtk_init_check()) {
        g_print("skipped: no display\n");
        app_test_remove_tree(tmp_dir);
        return 77;
    }
    adw_init();
    g_mkdir_with_parents(models_dir, 0700);
    model_path = app_test_make_tiny_model(models_dir, 3);
    core = new_core();
    bare_core = new_core();
    if (model_path) {
        g_autoptr(GError) error = NULL;
        g_assert_nonnull(ponder_core_choose_model(core, model_path, &error));
        g_assert_no_error(error);
    }

    g_test_add_func("/chat-view/thinking-section/states", test_thinking_section_states);
    g_test_add_func("/chat-view/row/thinking-and-stats", test_row_hides_thinking_and_shows_stats);
    g_test_add_func("/chat-view/composer/shift-enter", test_shift_enter_inserts_newline);
    g_test_add_func("/chat-view/composer/failed-send-keeps-text", test_failed_send_keeps_text);
    g_test_add_func("/chat-view/send/streams-answer", test_send_streams_answer);
    g_test_add_func("/chat-view/send/escape-stops", test_escape_stops_answer);
    g_test_add_func("/chat-view/branches", test_regenerate_edit_and_branches);
    g_test_add_func("/chat-view/five-thousand-messages", test_five_thousand_messages);
    g_test_add_func("/chat-view/one-update-per-frame", test_one_update_per_frame);
    int status = g_test_run();

    g_clear_object(&core);
    g_clear_object(&bare_core);
    g_free(model_path);
    app_test_remove_tree(tmp_dir);
    g_free(tmp_dir);
    return status;
}
