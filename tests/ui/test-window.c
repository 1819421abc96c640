// The window end to end, in-process under Xvfb: the real application (GSettings in memory,
// data in a temporary XDG tree) with the tiny synthetic model on the CPU. A first run
// without a model shows onboarding; with the model, a message typed into the composer is
// answered and stored, and a second application on the same folders shows it in the
// sidebar. Search, delete + Undo, purge on close and the preferences are checked on the
// widgets the user touches.
#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "app-test-util.h"
#include "chat/ponder-chat-view.h"
#include "markdown/ponder-markdown-view.h"
#include "ponder-catalog.h"
#include "ui-test-util.h"
#include "window/ponder-conversation-list.h"
#include "window/ponder-model-picker.h"
#include "window/ponder-onboarding-page.h"
#include "window/ponder-preferences-window.h"
#include "window/ponder-ui-application.h"
#include "window/ponder-window.h"

#define QUESTION "Why is the sky blue?"
#define MARKUP_FILE_NAME "R&D <draft>" // a model file with markup characters in its name
#define TIMEOUT_S 120

static char *tmp_dir, *models_dir, *db_path;

// ---- driving the main loop ------------------------------------------------------------

typedef gboolean (*Condition)(gpointer data);

static gboolean keep_awake(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

// Iterates the main context until CONDITION holds; fails the test after TIMEOUT_S.
static void wait_until(Condition condition, gpointer data, const char *what)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_S * G_USEC_PER_SEC;
    guint tick = g_timeout_add(10, keep_awake, NULL);
    while (!condition(data)) {
        if (g_get_monotonic_time() > deadline)
            g_error("timed out waiting until %s", what);
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(tick);
}

static gboolean after_a_few_frames(gpointer data)
{
    return --*(int *)data <= 0;
}

static void settle(void)
{
    int rounds = 20;
    wait_until(after_a_few_frames, &rounds, "the main context settled");
}

// ---- finding widgets ------------------------------------------------------------------

static gboolean is_editable_text_view(GtkWidget *widget, gconstpointer data)
{
    return GTK_IS_TEXT_VIEW(widget) && gtk_text_view_get_editable(GTK_TEXT_VIEW(widget));
}

static gboolean is_choose_model_button(GtkWidget *widget, gconstpointer data)
{
    return GTK_IS_BUTTON(widget) &&
           g_strcmp0(gtk_actionable_get_action_name(GTK_ACTIONABLE(widget)), "win.choose-model") ==
               0 &&
           gtk_widget_get_sensitive(widget);
}

static gboolean is_button_labelled(GtkWidget *widget, gconstpointer label)
{
    return GTK_IS_BUTTON(widget) && g_strcmp0(gtk_button_get_label(GTK_BUTTON(widget)), label) == 0;
}

static gboolean is_preferences_row_titled(GtkWidget *widget, gconstpointer title)
{
    return ADW_IS_PREFERENCES_ROW(widget) &&
           g_strcmp0(adw_preferences_row_get_title(ADW_PREFERENCES_ROW(widget)), title) == 0;
}

// A message shown anywhere in the chat view: a label, a Markdown view or a text view.
static gboolean shows_text(GtkWidget *widget, gconstpointer text)
{
    if (GTK_IS_LABEL(widget))
        return strstr(gtk_label_get_text(GTK_LABEL(widget)), text) != NULL;
    if (PONDER_IS_MARKDOWN_VIEW(widget)) {
        const char *shown = ponder_markdown_view_get_text(PONDER_MARKDOWN_VIEW(widget));
        return shown && strstr(shown, text) != NULL;
    }
    if (GTK_IS_TEXT_VIEW(widget)) {
        GtkTextBuffer *buffer = gtk_text_view_get_buffer(GTK_TEXT_VIEW(widget));
        GtkTextIter start, end;
        gtk_text_buffer_get_bounds(buffer, &start, &end);
        g_autofree char *shown = gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
        return !gtk_text_view_get_editable(GTK_TEXT_VIEW(widget)) && strstr(shown, text) != NULL;
    }
    return FALSE;
}

static GtkWidget *find_by_type(GtkWidget *root, const char *type_name)
{
    return ui_test_find_widget(root, ui_test_is_type_named, type_name);
}

static const char *visible_page(GtkWidget *window)
{
    GtkWidget *content = find_by_type(window, "PonderChatView");
    g_assert_nonnull(content);
    GtkWidget *stack = gtk_widget_get_parent(content);
    while (stack && !GTK_IS_STACK(stack))
        stack = gtk_widget_get_parent(stack);
    g_assert_nonnull(stack);
    GtkWidget *child = gtk_stack_get_visible_child(GTK_STACK(stack));
    return child ? G_OBJECT_TYPE_NAME(child) : "";
}

static GArray *shown_conversations(GtkWidget *window)
{
    GtkWidget *list = find_by_type(window, "PonderConversationList");
    g_assert_nonnull(list);
    return ponder_conversation_list_get_shown(PONDER_CONVERSATION_LIST(list));
}

static gboolean list_shows_exactly(GtkWidget *window, gint64 id)
{
    g_autoptr(GArray) shown = shown_conversations(window);
    return shown->len == 1 && g_array_index(shown, gint64, 0) == id;
}

static gboolean list_contains(GtkWidget *window, gint64 id)
{
    g_autoptr(GArray) shown = shown_conversations(window);
    for (guint i = 0; i < shown->len; i++)
        if (g_array_index(shown, gint64, i) == id)
            return TRUE;
    return FALSE;
}

// ---- running the application ----------------------------------------------------------

typedef void (*Scenario)(PonderUiApplication *app, GtkWidget *window);

typedef struct {
    PonderUiApplication *app;
    Scenario scenario;
    gboolean started, finished;
} Run;

static gboolean run_scenario(gpointer data)
{
    Run *run = data;
    GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(run->app));
    g_assert_true(PONDER_IS_WINDOW(window));
    run->scenario(run->app, GTK_WIDGET(window));
    run->finished = TRUE;
    // The app's own Quit (Ctrl+Q): closes the windows, then the application.
    g_action_group_activate_action(G_ACTION_GROUP(run->app), "quit", NULL);
    return G_SOURCE_REMOVE;
}

static void on_activate(GApplication *app, Run *run)
{
    if (run->started)
        return;
    run->started = TRUE;
    g_idle_add(run_scenario, run);
}

static void run_app(Scenario scenario)
{
    PonderUiApplication *app = ponder_ui_application_new();
    // Never hand the command line to a Ponder that may run in this session.
    g_application_set_flags(G_APPLICATION(app),
                            g_application_get_flags(G_APPLICATION(app)) | G_APPLICATION_NON_UNIQUE);
    Run run = {.app = app, .scenario = scenario};
    g_signal_connect_after(app, "activate", G_CALLBACK(on_activate), &run);
    char *argv[] = {"ponder", NULL};
    int status = g_application_run(G_APPLICATION(app), 1, argv);
    g_assert_cmpint(status, ==, 0);
    g_assert_true(run.finished);
    g_assert_null(gtk_application_get_active_window(GTK_APPLICATION(app)));
    g_object_unref(app);
}

static PonderCore *core_of(PonderUiApplication *app)
{
    PonderCore *core = ponder_ui_application_get_core(app);
    g_assert_nonnull(core);
    return core;
}

// ---- onboarding -----------------------------------------------------------------------

static void onboarding_scenario(PonderUiApplication *app, GtkWidget *window)
{
    settle();
    g_assert_cmpstr(gtk_window_get_title(GTK_WINDOW(window)), ==, "Ponder");
    g_assert_cmpstr(visible_page(window), ==, "PonderOnboardingPage");
    GtkWidget *onboarding = find_by_type(window, "PonderOnboardingPage");
    g_assert_true(gtk_widget_get_mapped(onboarding));
    // No file to use, but every catalog model to download.
    g_assert_null(ui_test_find_widget(onboarding, is_choose_model_button, NULL));
    g_autoptr(GListModel) catalog = ponder_catalog_list();
    g_assert_cmpuint(g_list_model_get_n_items(catalog), >, 0);
    g_autoptr(PonderCatalogEntry) first = g_list_model_get_item(catalog, 0);
    g_assert_nonnull(ui_test_find_widget(onboarding, is_preferences_row_titled,
                                         ponder_catalog_entry_get_model_name(first)));
    g_assert_nonnull(ui_test_find_widget(onboarding, is_button_labelled, "_Open GGUF File…"));
    g_assert_nonnull(ui_test_find_widget(onboarding, ui_test_is_label_with_text, MARKUP_FILE_NAME));

    // The brief's accelerators, and the shortcuts window from the bundle.
    static const struct {
        const char *action, *accel;
    } accels[] = {{"app.new-chat", "<Control>n"},
                  {"app.search", "<Control>f"},
                  {"app.quit", "<Control>q"},
                  {"app.preferences", "<Control>comma"}};
    for (guint i = 0; i < G_N_ELEMENTS(accels); i++) {
        g_auto(GStrv) set =
            gtk_application_get_accels_for_action(GTK_APPLICATION(app), accels[i].action);
        g_assert_true(g_strv_contains((const char *const *)set, accels[i].accel));
    }
    g_assert_nonnull(gtk_application_window_get_help_overlay(GTK_APPLICATION_WINDOW(window)));
}

// A file the library cannot use, named with markup characters: its row shows the name as
// written (a row's title is Pango markup unless told otherwise).
static void test_onboarding_without_model(void)
{
    g_autofree char *broken = g_build_filename(models_dir, MARKUP_FILE_NAME ".gguf", NULL);
    g_assert_true(g_file_set_contents(broken, "not a GGUF file", -1, NULL));
    run_app(onboarding_scenario);
    g_assert_cmpint(g_unlink(broken), ==, 0);
}

// ---- a conversation end to end --------------------------------------------------------

static gint64 conversation_id;

static gboolean engine_ready(gpointer data)
{
    PonderEngine *engine = ponder_core_get_engine(data);
    g_assert_cmpint(ponder_engine_get_state(engine), !=, PONDER_ENGINE_FAILED);
    return ponder_engine_get_state(engine) == PONDER_ENGINE_READY;
}

typedef struct {
    PonderCore *core;
    GtkWidget *window;
} Context;

static gboolean answer_finished(gpointer data)
{
    Context *c = data;
    PonderStore *store = ponder_core_get_store(c->core);
    g_autoptr(GPtrArray) conversations = ponder_store_list_conversations(store, NULL);
    if (!conversations || conversations->len != 1)
        return FALSE;
    PonderConversation *conversation = conversations->pdata[0];
    if (!conversation->selected_leaf_id)
        return FALSE;
    g_autoptr(PonderMessage) leaf =
        ponder_store_get_message(store, conversation->selected_leaf_id, NULL);
    GtkWidget *view = find_by_type(c->window, "PonderChatView");
    return leaf && leaf->role == PONDER_MESSAGE_ROLE_ASSISTANT &&
           leaf->finish != PONDER_FINISH_NONE && !ponder_chat_view_get_busy(PONDER_CHAT_VIEW(view));
}

static gboolean on_chat_page(gpointer data)
{
    return g_str_equal(visible_page(data), "PonderChatView");
}

// Enter in the composer, through its own key controller.
static void press_enter(GtkWidget *text_view)
{
    gboolean handled = FALSE;
    g_autoptr(GListModel) controllers = gtk_widget_observe_controllers(text_view);
    for (guint i = 0; !handled && i < g_list_model_get_n_items(controllers); i++) {
        g_autoptr(GObject) controller = g_list_model_get_item(controllers, i);
        if (GTK_IS_EVENT_CONTROLLER_KEY(controller))
            g_signal_emit_by_name(controller, "key-pressed", GDK_KEY_Return, 0, 0, &handled);
    }
    g_assert_true(handled);
}

static void send_scenario(PonderUiApplication *app, GtkWidget *window)
{
    PonderCore *core = core_of(app);
    settle();
    g_assert_cmpstr(visible_page(window), ==, "PonderOnboardingPage");

    // Onboarding lists the tiny model found in Ponder's folder; "Use" chooses it.
    GtkWidget *onboarding = find_by_type(window, "PonderOnboardingPage");
    g_assert_nonnull(
        ui_test_find_widget(onboarding, ui_test_is_label_with_text, "Found in Ponder"));
    GtkWidget *use = ui_test_find_widget(onboarding, is_choose_model_button, NULL);
    g_assert_nonnull(use);
    g_signal_emit_by_name(use, "clicked");
    wait_until(on_chat_page, window, "the chat replaced onboarding");
    wait_until(engine_ready, core, "the tiny model loaded");
    // The header's model menu names the loaded model and lists it.
    PonderModelEntry *entry =
        g_list_model_get_item(ponder_model_library_get_models(ponder_core_get_library(core)), 0);
    GtkWidget *picker = find_by_type(window, "PonderModelPicker");
    g_assert_cmpstr(ponder_model_picker_get_label(PONDER_MODEL_PICKER(picker)), ==,
                    ponder_model_entry_get_display_name(entry));
    g_assert_nonnull(ui_test_find_widget(picker, ui_test_is_label_with_text,
                                         ponder_model_entry_get_display_name(entry)));
    g_object_unref(entry);

    // Type the question and press Enter in the composer.
    GtkWidget *view = find_by_type(window, "PonderChatView");
    GtkWidget *text_view = ui_test_find_widget(view, is_editable_text_view, NULL);
    g_assert_nonnull(text_view);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(GTK_TEXT_VIEW(text_view)), QUESTION, -1);
    press_enter(text_view);

    Context c = {core, window};
    wait_until(answer_finished, &c, "the answer finished");
    g_autoptr(GPtrArray) conversations =
        ponder_store_list_conversations(ponder_core_get_store(core), NULL);
    conversation_id = ((PonderConversation *)conversations->pdata[0])->id;
    g_assert_cmpint(ponder_chat_view_get_conversation(PONDER_CHAT_VIEW(view)), ==, conversation_id);
    // "conversation-created" put it in the sidebar, named after the question.
    g_assert_true(list_shows_exactly(window, conversation_id));
    GtkWidget *list = find_by_type(window, "PonderConversationList");
    g_assert_nonnull(ui_test_find_widget(list, ui_test_is_label_with_text, QUESTION));
    g_assert_cmpstr(gtk_window_get_title(GTK_WINDOW(window)), ==, "Ponder — " QUESTION);
    // The new conversation took R1's sampling from the preferences (the store minifies it).
    g_autoptr(PonderConversation) stored =
        ponder_store_get_conversation(ponder_core_get_store(core), conversation_id, NULL);
    g_autoptr(JsonNode) settings = json_from_string(stored->settings_json, NULL);
    g_assert_nonnull(settings);
    JsonObject *sampling = json_node_get_object(settings);
    g_assert_cmpfloat_with_epsilon(json_object_get_double_member(sampling, "temperature"), 0.6,
                                   1e-9);
    g_assert_cmpfloat_with_epsilon(json_object_get_double_member(sampling, "top_p"), 0.95, 1e-9);
}

static gboolean chat_shows_question(gpointer data)
{
    GtkWidget *view = find_by_type(data, "PonderChatView");
    return ui_test_find_widget(view, shows_text, QUESTION) != NULL;
}

static void reopen_scenario(PonderUiApplication *app, GtkWidget *window)
{
    PonderCore *core = core_of(app);
    settle();
    // The chosen model was remembered: straight to the chat.
    g_assert_cmpstr(visible_page(window), ==, "PonderChatView");
    g_assert_true(list_shows_exactly(window, conversation_id));

    // Choosing the row shows the stored messages.
    GtkWidget *list = find_by_type(window, "PonderConversationList");
    GtkWidget *title = ui_test_find_widget(list, ui_test_is_label_with_text, QUESTION);
    g_assert_nonnull(title);
    GtkWidget *row = gtk_widget_get_ancestor(title, GTK_TYPE_LIST_BOX_ROW);
    g_assert_nonnull(row);
    gtk_widget_activate(row);
    GtkWidget *view = find_by_type(window, "PonderChatView");
    g_assert_cmpint(ponder_chat_view_get_conversation(PONDER_CHAT_VIEW(view)), ==, conversation_id);
    wait_until(chat_shows_question, window, "the stored question is shown");
    gint64 leaf =
        ponder_store_get_selected_leaf(ponder_core_get_store(core), conversation_id, NULL);
    g_autoptr(GPtrArray) path =
        ponder_store_get_path_to_leaf(ponder_core_get_store(core), leaf, NULL);
    g_assert_cmpuint(path->len, ==, 2);
    g_assert_cmpstr(((PonderMessage *)path->pdata[0])->content, ==, QUESTION);

    // New chat (Ctrl+N) leaves the conversation: an empty view, the plain title.
    gtk_widget_activate_action(window, "win.new-chat", NULL);
    g_assert_cmpint(ponder_chat_view_get_conversation(PONDER_CHAT_VIEW(view)), ==, 0);
    g_assert_cmpstr(gtk_window_get_title(GTK_WINDOW(window)), ==, "Ponder");
}

static void test_send_and_reopen(void)
{
    g_autofree char *model = app_test_make_tiny_model(models_dir, 7);
    if (!model) {
        g_test_skip("skipped: the R1 tokenizer in ../shared is missing");
        return;
    }
    run_app(send_scenario);
    g_assert_cmpint(conversation_id, >, 0);
    run_app(reopen_scenario);
}

// ---- search, delete and Undo ----------------------------------------------------------

typedef struct {
    GtkWidget *window;
    gint64 id;
} Expectation;

static gboolean shows_only(gpointer data)
{
    Expectation *e = data;
    return list_shows_exactly(e->window, e->id);
}

static gboolean shows(gpointer data)
{
    Expectation *e = data;
    return list_contains(e->window, e->id);
}

static gboolean does_not_show(gpointer data)
{
    return !shows(data);
}

// A finished conversation written straight into the store, as another process would.
static gint64 add_conversation(PonderStore *store, const char *title, const char *question,
                               const char *answer)
{
    g_autoptr(GError) error = NULL;
    gint64 id = ponder_store_create_conversation(store, title, &error);
    g_assert_no_error(error);
    gint64 user = ponder_store_add_user_message(store, id, 0, question, &error);
    g_assert_no_error(error);
    gint64 reply = ponder_store_begin_answer(store, user, "tiny", NULL, &error);
    g_assert_no_error(error);
    PonderAnswerStats stats = {.finish = PONDER_FINISH_STOP,
                               .first_token_s = -1,
                               .total_s = -1,
                               .tokens_per_second = -1,
                               .prompt_tokens = -1,
                               .completion_tokens = -1};
    g_assert_true(ponder_store_finish_answer(store, reply, answer, NULL, &stats, &error));
    return id;
}

static gint64 kept_id, purged_id;

static void search_scenario(PonderUiApplication *app, GtkWidget *window)
{
    PonderStore *store = ponder_core_get_store(core_of(app));
    kept_id = add_conversation(store, "Birds", "Which bird dives fastest?",
                               "The peregrine falcon, above 300 km/h in a stoop.");
    purged_id = add_conversation(store, "Rivers", "Which river is longest?",
                                 "The Nile or the Amazon, depending on the source.");
    settle();

    // Type a word of an answer into the sidebar's search entry.
    GtkWidget *list = find_by_type(window, "PonderConversationList");
    GtkWidget *entry = ui_test_find_widget(list, ui_test_is_type_named, "GtkSearchEntry");
    g_assert_nonnull(entry);
    gtk_editable_set_text(GTK_EDITABLE(entry), "peregrine");
    Expectation birds = {window, kept_id};
    wait_until(shows_only, &birds, "the search found the falcon");
    gtk_editable_set_text(GTK_EDITABLE(entry), "Amaz");
    Expectation rivers = {window, purged_id};
    wait_until(shows_only, &rivers, "the prefix search found the river");
    gtk_editable_set_text(GTK_EDITABLE(entry), "");
    wait_until(shows, &birds, "the full list came back");

    // Delete through the row's menu action, then Undo on the toast.
    gtk_widget_activate_action(list, "list.delete", "x", kept_id);
    wait_until(does_not_show, &birds, "the deleted conversation left the list");
    g_autoptr(PonderConversation) trashed = ponder_store_get_conversation(store, kept_id, NULL);
    g_assert_cmpint(trashed->deleted_us, >, 0);
    GtkWidget *undo = ui_test_find_widget(window, is_button_labelled, "_Undo");
    g_assert_nonnull(undo);
    g_signal_emit_by_name(undo, "clicked");
    wait_until(shows, &birds, "Undo brought the conversation back");
    g_autoptr(PonderConversation) restored = ponder_store_get_conversation(store, kept_id, NULL);
    g_assert_cmpint(restored->deleted_us, ==, 0);

    // Rename through the row's menu action: the dialog asks for the new title.
    gtk_widget_activate_action(list, "list.rename", "x", kept_id);
    GtkWidget *dialog = NULL;
    g_autoptr(GList) toplevels = gtk_window_list_toplevels();
    for (GList *l = toplevels; l; l = l->next)
        if (ADW_IS_MESSAGE_DIALOG(l->data))
            dialog = l->data;
    g_assert_nonnull(dialog);
    GtkWidget *title_entry = ui_test_find_widget(dialog, ui_test_is_type_named, "GtkEntry");
    g_assert_nonnull(title_entry);
    g_assert_cmpstr(gtk_editable_get_text(GTK_EDITABLE(title_entry)), ==, "Birds");
    gtk_editable_set_text(GTK_EDITABLE(title_entry), "  Falcons ");
    adw_message_dialog_response(ADW_MESSAGE_DIALOG(dialog), "rename");
    g_autoptr(PonderConversation) renamed = ponder_store_get_conversation(store, kept_id, NULL);
    g_assert_cmpstr(renamed->title, ==, "Falcons");
    g_assert_nonnull(ui_test_find_widget(list, ui_test_is_label_with_text, "Falcons"));

    // This one stays deleted: closing the window removes it for good.
    gtk_widget_activate_action(list, "list.delete", "x", purged_id);
    wait_until(does_not_show, &rivers, "the second deletion left the list");
}

static void test_search_delete_undo(void)
{
    run_app(search_scenario);
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderStore) store = ponder_store_new(db_path, &error);
    g_assert_no_error(error);
    g_autoptr(PonderConversation) kept = ponder_store_get_conversation(store, kept_id, &error);
    g_assert_no_error(error);
    g_assert_cmpint(kept->deleted_us, ==, 0);
    g_autoptr(PonderConversation) purged = ponder_store_get_conversation(store, purged_id, &error);
    g_assert_null(purged);
    g_assert_error(error, PONDER_STORE_ERROR, PONDER_STORE_ERROR_NOT_FOUND);
}

// ---- text with markup characters in toasts --------------------------------------------

// DATA: {the widget to look in, the text}.
static gboolean window_shows_label(gpointer data)
{
    const char *const *what = data;
    return ui_test_find_widget(GTK_WIDGET(what[0]), ui_test_is_label_with_text, what[1]) != NULL;
}

static gboolean is_toast_close_button(GtkWidget *widget, gconstpointer data)
{
    return GTK_IS_BUTTON(widget) &&
           g_strcmp0(gtk_button_get_icon_name(GTK_BUTTON(widget)), "window-close-symbolic") == 0 &&
           gtk_widget_get_ancestor(widget, g_type_from_name("AdwToastWidget")) != NULL;
}

// Error messages and titles are plain text: a toast shows their '<' and '&' as written, not
// as Pango markup (which failed to parse, and the toast came up empty).
static void toast_scenario(PonderUiApplication *app, GtkWidget *window)
{
    settle();
    static const char error[] = "Could not send the message: The sampling settings are not valid "
                                "JSON: <data>:1:16: unexpected character `,` & more";
    g_signal_emit_by_name(find_by_type(window, "PonderChatView"), "show-toast", error);
    const char *shows_error[] = {(const char *)window, error};
    wait_until(window_shows_label, shows_error, "the error toast is shown as written");
    GtkWidget *close = ui_test_find_widget(window, is_toast_close_button, NULL);
    g_assert_nonnull(close);
    g_signal_emit_by_name(close, "clicked");

    PonderStore *store = ponder_core_get_store(core_of(app));
    gint64 id = add_conversation(store, "Fish & Chips <3", "Which fish?", "Cod.");
    // The sidebar's search finds it (written behind the window's back), titled as written.
    GtkWidget *list = find_by_type(window, "PonderConversationList");
    GtkWidget *entry = ui_test_find_widget(list, ui_test_is_type_named, "GtkSearchEntry");
    gtk_editable_set_text(GTK_EDITABLE(entry), "Chips");
    const char *lists_title[] = {(const char *)list, "Fish & Chips <3"};
    wait_until(window_shows_label, lists_title, "the sidebar shows the title as written");
    gtk_widget_activate_action(list, "list.delete", "x", id);
    const char *shows_deleted[] = {(const char *)window, "“Fish & Chips <3” deleted"};
    wait_until(window_shows_label, shows_deleted, "the deletion toast names the title as written");
}

static void test_markup_in_toasts(void)
{
    run_app(toast_scenario);
}

// ---- preferences ----------------------------------------------------------------------

static gboolean is_spin_with_value(GtkWidget *widget, gconstpointer value)
{
    return GTK_IS_SPIN_BUTTON(widget) &&
           G_APPROX_VALUE(gtk_spin_button_get_value(GTK_SPIN_BUTTON(widget)),
                          *(const double *)value, 1e-9);
}

static void preferences_scenario(PonderUiApplication *app, GtkWidget *window)
{
    GSettings *settings = ponder_ui_application_get_settings(app);
    g_action_group_activate_action(G_ACTION_GROUP(app), "preferences", NULL);
    GtkWidget *preferences = NULL;
    for (GList *l = gtk_application_get_windows(GTK_APPLICATION(app)); l; l = l->next)
        if (PONDER_IS_PREFERENCES_WINDOW(l->data))
            preferences = l->data;
    g_assert_nonnull(preferences);
    settle();

    // R1's recommended sampling, shown and restored by Reset.
    static const double r1_temperature = 0.6, r1_top_p = 0.95, changed = 1.3;
    g_assert_nonnull(ui_test_find_widget(preferences, is_spin_with_value, &r1_temperature));
    g_assert_nonnull(ui_test_find_widget(preferences, is_spin_with_value, &r1_top_p));
    g_settings_set_double(settings, "temperature", changed);
    g_assert_nonnull(ui_test_find_widget(preferences, is_spin_with_value, &changed));
    GtkWidget *reset = ui_test_find_widget(preferences, is_button_labelled, "_Reset");
    g_assert_nonnull(reset);
    g_signal_emit_by_name(reset, "clicked");
    g_assert_cmpfloat_with_epsilon(g_settings_get_double(settings, "temperature"), 0.6, 1e-9);

    // A model folder named with markup characters is listed as written.
    g_autofree char *folder = g_build_filename(tmp_dir, "R&D <models>", NULL);
    g_assert_cmpint(g_mkdir_with_parents(folder, 0700), ==, 0);
    const char *folders[] = {folder, NULL};
    g_settings_set_strv(settings, "model-folders", folders);
    const char *lists_folder[] = {(const char *)preferences, folder};
    wait_until(window_shows_label, lists_folder, "Preferences list the folder as written");
    g_settings_reset(settings, "model-folders");

    // The API is off and loopback-only unless the user says otherwise.
    g_assert_false(g_settings_get_boolean(settings, "api-enabled"));
    g_assert_false(g_settings_get_boolean(settings, "api-allow-lan"));
    g_assert_null(ponder_core_get_api(core_of(app)));
    gtk_window_destroy(GTK_WINDOW(preferences));
}

static void test_preferences(void)
{
    run_app(preferences_scenario);
}

// ---- a remote server ------------------------------------------------------------------

#define REMOTE_REASONING "Blue light scatters most."
#define REMOTE_ANSWER "Rayleigh scattering."

static char *remote_request; // the last chat request's body

// An OpenAI-compatible server with one model, answering every chat with the same stream.
static void remote_route(SoupServer *server, SoupServerMessage *msg, const char *path,
                         GHashTable *query, gpointer data)
{
    // The second model's name has markup characters: the status row shows it as written.
    static const char models[] = "{\"object\":\"list\",\"data\":[{\"id\":\"big-r1\"},"
                                 "{\"id\":\"r1 <draft> & co\"}]}";
    static const char stream[] =
        "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"" REMOTE_REASONING "\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"" REMOTE_ANSWER "\"},"
        "\"finish_reason\":\"stop\"}]}\n\n"
        "data: [DONE]\n\n";
    gboolean chat = g_str_equal(path, "/v1/chat/completions");
    if (chat) {
        SoupMessageBody *request = soup_server_message_get_request_body(msg);
        g_free(remote_request);
        remote_request = g_strndup(request->data, request->length);
    }
    soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
    soup_server_message_set_response(msg, chat ? "text/event-stream" : "application/json",
                                     SOUP_MEMORY_STATIC, chat ? stream : models,
                                     strlen(chat ? stream : models));
}

static char *remote_root;

static gboolean remote_saved(gpointer data)
{
    g_autofree char *url = g_settings_get_string(data, "remote-url");
    return g_str_has_suffix(url, "/v1");
}

static gboolean picker_lists_remote_model(gpointer data)
{
    return ui_test_find_widget(data, ui_test_is_label_with_text, "big-r1") != NULL;
}

static gboolean remote_model_ready(gpointer data)
{
    PonderEngine *engine = ponder_core_get_engine(data);
    return g_strcmp0(ponder_engine_get_model_path(engine), "remote:big-r1") == 0 &&
           ponder_engine_get_state(engine) == PONDER_ENGINE_READY;
}

static gboolean remote_answer_saved(gpointer data)
{
    Context *c = data;
    GtkWidget *view = find_by_type(c->window, "PonderChatView");
    gint64 id = ponder_chat_view_get_conversation(PONDER_CHAT_VIEW(view));
    PonderStore *store = ponder_core_get_store(c->core);
    gint64 leaf = id ? ponder_store_get_selected_leaf(store, id, NULL) : 0;
    g_autoptr(PonderMessage) m = leaf ? ponder_store_get_message(store, leaf, NULL) : NULL;
    return m && m->role == PONDER_MESSAGE_ROLE_ASSISTANT && m->finish != PONDER_FINISH_NONE &&
           !ponder_chat_view_get_busy(PONDER_CHAT_VIEW(view));
}

static gboolean no_model_chosen(gpointer core)
{
    return ponder_engine_get_model_path(ponder_core_get_engine(core)) == NULL;
}

static gboolean chat_shows_remote_answer(gpointer view)
{
    return ui_test_find_widget(view, shows_text, REMOTE_ANSWER) != NULL;
}

static GtkWidget *open_preferences(PonderUiApplication *app)
{
    g_action_group_activate_action(G_ACTION_GROUP(app), "preferences", NULL);
    for (GList *l = gtk_application_get_windows(GTK_APPLICATION(app)); l; l = l->next)
        if (PONDER_IS_PREFERENCES_WINDOW(l->data))
            return l->data;
    g_assert_not_reached();
}

static gboolean has_tooltip(GtkWidget *widget, gconstpointer text)
{
    return g_strcmp0(gtk_widget_get_tooltip_text(widget), text) == 0;
}

// A chat the local API saves shows up in the sidebar at once, marked as the API's.
static void api_conversation_appears(PonderCore *core, GtkWidget *window)
{
    PonderExchangeMessage question = {PONDER_MESSAGE_ROLE_USER, "Which plugin asked?", NULL};
    PonderAnswerStats stats = {.finish = PONDER_FINISH_STOP,
                               .prompt_tokens = -1,
                               .completion_tokens = -1,
                               .first_token_s = -1,
                               .total_s = -1,
                               .tokens_per_second = -1};
    PonderApiExchange exchange = {.title = "Which plugin asked?",
                                  .messages = &question,
                                  .n_messages = 1,
                                  .model = "tiny",
                                  .content = "Continue.",
                                  .stats = &stats};
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(ponder_store_add_api_exchange(ponder_core_get_store(core), &exchange, &error),
                    >, 0);
    g_assert_no_error(error);
    GtkWidget *list = find_by_type(window, "PonderConversationList");
    GtkWidget *title = ui_test_find_widget(list, ui_test_is_label_with_text, "Which plugin asked?");
    g_assert_nonnull(title);
    GtkWidget *row = gtk_widget_get_ancestor(title, GTK_TYPE_LIST_BOX_ROW);
    g_assert_nonnull(ui_test_find_widget(row, has_tooltip, "Saved from the local API"));
    // The window's own conversations carry no such mark.
    GtkWidget *own = gtk_widget_get_ancestor(
        ui_test_find_widget(list, ui_test_is_label_with_text, QUESTION), GTK_TYPE_LIST_BOX_ROW);
    g_assert_null(ui_test_find_widget(own, has_tooltip, "Saved from the local API"));
}

static void remote_scenario(PonderUiApplication *app, GtkWidget *window)
{
    PonderCore *core = core_of(app);
    GSettings *settings = ponder_ui_application_get_settings(app);
    settle();
    api_conversation_appears(core, window);

    // Preferences → Remote Server: the URL (no path: /v1 is added), then Connect.
    GtkWidget *preferences = open_preferences(app);
    settle();
    GtkWidget *url_row = ui_test_find_widget(preferences, is_preferences_row_titled,
                                             "Server URL (e.g. http://gpu-box:8000/v1)");
    g_assert_nonnull(url_row);
    gtk_editable_set_text(GTK_EDITABLE(url_row), remote_root);
    GtkWidget *connect = ui_test_find_widget(preferences, is_button_labelled, "_Connect");
    g_assert_nonnull(connect);
    g_signal_emit_by_name(connect, "clicked");
    wait_until(remote_saved, settings, "the remote server answered and was saved");
    g_autofree char *url = g_settings_get_string(settings, "remote-url");
    g_autofree char *connected = g_strdup_printf("Connected to %s", url);
    g_assert_nonnull(ui_test_find_widget(preferences, is_preferences_row_titled, connected));
    g_assert_nonnull(ui_test_find_widget(preferences, ui_test_is_label_with_text,
                                         "2 models: big-r1, r1 <draft> & co"));
    gtk_window_destroy(GTK_WINDOW(preferences));

    // The picker lists the server's model beside the local one; choosing it needs no load.
    GtkWidget *picker = find_by_type(window, "PonderModelPicker");
    GtkWidget *menu_button = find_by_type(picker, "GtkMenuButton");
    gtk_menu_button_popup(GTK_MENU_BUTTON(menu_button));
    GtkWidget *popover = GTK_WIDGET(gtk_menu_button_get_popover(GTK_MENU_BUTTON(menu_button)));
    wait_until(picker_lists_remote_model, popover, "the picker listed the remote model");
    GtkWidget *row = gtk_widget_get_ancestor(
        ui_test_find_widget(popover, ui_test_is_label_with_text, "big-r1"), GTK_TYPE_LIST_BOX_ROW);
    gtk_widget_activate(row);
    wait_until(remote_model_ready, core, "the remote model was chosen");
    g_assert_cmpstr(ponder_model_picker_get_label(PONDER_MODEL_PICKER(picker)), ==, "big-r1");

    // A new chat answered by the server, shown and stored like a local answer; its first
    // answer already uses the temperature set in Preferences.
    g_settings_set_double(settings, "temperature", 0.25);
    gtk_widget_activate_action(window, "win.new-chat", NULL);
    GtkWidget *view = find_by_type(window, "PonderChatView");
    GtkWidget *text_view = ui_test_find_widget(view, is_editable_text_view, NULL);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(GTK_TEXT_VIEW(text_view)), QUESTION, -1);
    press_enter(text_view);
    Context c = {core, window};
    wait_until(remote_answer_saved, &c, "the remote answer was saved");
    PonderStore *store = ponder_core_get_store(core);
    gint64 id = ponder_chat_view_get_conversation(PONDER_CHAT_VIEW(view));
    g_autoptr(PonderMessage) answer =
        ponder_store_get_message(store, ponder_store_get_selected_leaf(store, id, NULL), NULL);
    g_assert_cmpstr(answer->content, ==, REMOTE_ANSWER);
    g_assert_cmpstr(answer->reasoning, ==, REMOTE_REASONING);
    g_assert_cmpstr(answer->model, ==, "big-r1");
    g_autoptr(JsonNode) sent = json_from_string(remote_request, NULL);
    g_assert_nonnull(sent);
    g_assert_cmpfloat_with_epsilon(
        json_object_get_double_member(json_node_get_object(sent), "temperature"), 0.25, 1e-6);
    g_settings_reset(settings, "temperature");
    wait_until(chat_shows_remote_answer, view, "the remote answer is shown");

    // Forget: no server, no remote model, nothing saved.
    preferences = open_preferences(app);
    settle();
    GtkWidget *forget = ui_test_find_widget(preferences, is_button_labelled, "_Forget");
    g_signal_emit_by_name(forget, "clicked");
    g_autofree char *after = g_settings_get_string(settings, "remote-url");
    g_assert_cmpstr(after, ==, "");
    g_assert_null(ponder_engine_get_remote_provider(ponder_core_get_engine(core)));
    wait_until(no_model_chosen, core, "the remote model went with its server");
    gtk_window_destroy(GTK_WINDOW(preferences));
}

static void test_remote_server(void)
{
    g_autoptr(SoupServer) server = soup_server_new(NULL, NULL);
    soup_server_add_handler(server, "/v1", remote_route, NULL, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(soup_server_listen_local(server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
    GSList *uris = soup_server_get_uris(server);
    remote_root = g_uri_to_string(uris->data);
    g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
    run_app(remote_scenario);
    g_clear_pointer(&remote_root, g_free);
    g_clear_pointer(&remote_request, g_free);
}

// ---- the catalog's memory note ---------------------------------------------------------

static void test_catalog_memory_estimate(void)
{
    // DeepSeek-R1-Distill-Qwen-7B: 28 layers, 4 KV heads of 128, f16 K and V:
    // 28 * 4 * 128 * 2 * 2 = 57344 bytes per token. Q4_K_M is about 4.85 bits per weight.
    guint64 weights = 4243750000;           // 7e9 * 4.85 / 8
    guint64 kv = 57344ull * 8192;           // 469762048
    guint64 scratch = 288ull * 1024 * 1024; // CUDA's reserve (no step buffers: no shapes for them)
    g_assert_cmpuint(ponder_onboarding_estimate_catalog_bytes("7B", "Q4_K_M", 28, 4, 128, 8192), ==,
                     weights + kv + scratch);
    // 1.5B at Q8_0 (8.5 bits): 1.59375e9 bytes of weights; 28 layers, 2 KV heads of 128:
    // 28672 bytes per token.
    g_assert_cmpuint(ponder_onboarding_estimate_catalog_bytes("1.5B", "q8_0", 28, 2, 128, 8192), ==,
                     1593750000ull + 28672ull * 8192 + scratch);
    // What the table does not know gives no note rather than a wrong one.
    g_assert_cmpuint(ponder_onboarding_estimate_catalog_bytes("7B", "TQ2_0", 28, 4, 128, 8192), ==,
                     0);
    g_assert_cmpuint(ponder_onboarding_estimate_catalog_bytes("seven", "Q8_0", 28, 4, 128, 8192),
                     ==, 0);
    g_assert_cmpuint(ponder_onboarding_estimate_catalog_bytes("7B", "Q8_0", 0, 4, 128, 8192), ==,
                     0);
}

int main(int argc, char **argv)
{
    // Before GTK or GLib reads any of them (g_get_user_data_dir() caches its answer).
    tmp_dir = g_dir_make_tmp("ponder-test-window-XXXXXX", NULL);
    g_assert_nonnull(tmp_dir);
    g_autofree char *data = g_build_filename(tmp_dir, "data", NULL);
    g_autofree char *config = g_build_filename(tmp_dir, "config", NULL);
    g_autofree char *cache = g_build_filename(tmp_dir, "cache", NULL);
    g_autofree char *home = g_build_filename(tmp_dir, "home", NULL);
    g_setenv("XDG_DATA_HOME", data, TRUE);
    g_setenv("XDG_CONFIG_HOME", config, TRUE);
    g_setenv("XDG_CACHE_HOME", cache, TRUE);
    g_setenv("HOME", home, TRUE);
    g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
    g_unsetenv("OLLAMA_MODELS");
    g_unsetenv("HF_HOME");
    g_unsetenv("HF_HUB_CACHE");
    models_dir = g_build_filename(data, "ponder", "models", NULL);
    db_path = g_build_filename(data, "ponder", "ponder.db", NULL);
    g_mkdir_with_parents(models_dir, 0700);
    g_mkdir_with_parents(home, 0700);

    g_test_init(&argc, &argv, NULL);
    int status;
    g_autoptr(GSettings) settings = ponder_ui_settings_new();
    if (!gtk_init_check()) {
        g_print("skipped: no display\n");
        status = 77;
    } else if (!settings) {
        g_print("skipped: the settings schema is not compiled (GSETTINGS_SCHEMA_DIR)\n");
        status = 77;
    } else {
        // Small and fast on one CPU thread; answers cut short so the test is quick.
        g_settings_set_enum(settings, "backend", PONDER_BACKEND_CHOICE_CPU);
        g_settings_set_int(settings, "cpu-threads", 1);
        g_settings_set_int(settings, "context-length", 512);
        g_settings_set_int(settings, "parallel", 1);
        g_settings_set_int(settings, "max-answer-tokens", 24);
        g_settings_set_int(settings, "idle-unload-seconds", 0);

        g_test_add_func("/window/catalog-memory-estimate", test_catalog_memory_estimate);
        g_test_add_func("/window/onboarding-without-model", test_onboarding_without_model);
        g_test_add_func("/window/send-and-reopen", test_send_and_reopen);
        g_test_add_func("/window/search-delete-undo", test_search_delete_undo);
        g_test_add_func("/window/markup-in-toasts", test_markup_in_toasts);
        g_test_add_func("/window/preferences", test_preferences);
        g_test_add_func("/window/remote-server", test_remote_server);
        status = g_test_run();
    }
    app_test_remove_tree(tmp_dir);
    g_free(tmp_dir);
    g_free(models_dir);
    g_free(db_path);
    return status;
}
