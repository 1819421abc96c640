// The list holds one PonderMessageItem per message of the selected branch; reloading keeps
// the items the new branch shares with the old one (usually all but the last few), so
// sending, regenerating or switching a branch touches only the tail of a long conversation.
// Sibling counts for the branch switcher are looked up when a row is bound, so only the
// messages on screen cost a query.
//
// One answer at a time is driven from here (self->reply). It keeps streaming into the store
// when another conversation is shown, and is picked up again when its conversation returns.
#include "ponder-chat-view.h"

#include <glib/gi18n.h>

#include "ponder-chat-resources.h"
#include <string.h>

#include "ponder-composer.h"
#include "ponder-message-item.h"
#include "ponder-message-row.h"
#include "ponder-remote-provider.h"
#include "ponder-reply.h"

struct _PonderChatView {
    GtkWidget parent_instance;

    // Template widgets.
    GtkWidget *box;
    GtkStack *content_stack;
    GtkScrolledWindow *scrolled_window;
    GtkListView *list_view;
    GtkProgressBar *prefill_bar;
    GtkWidget *context_box;
    GtkLevelBar *context_bar;
    GtkLabel *context_label;
    PonderComposer *composer;

    // Owned references.
    PonderCore *core;
    GListStore *messages;              // PonderMessageItem, the path to the selected leaf
    PonderReply *reply;                // the answer being generated, or NULL
    PonderMessageItem *streaming_item; // its item, while its conversation is shown

    gint64 conversation_id;
    gint64 reply_conversation_id;
    gboolean save_failure_reported;
    gboolean busy;
    gboolean show_thinking;
    gboolean stick_to_bottom;
    guint max_tokens;
    gboolean ignore_eos;
};

G_DEFINE_FINAL_TYPE(PonderChatView, ponder_chat_view, GTK_TYPE_WIDGET)

enum {
    PROP_0,
    PROP_CORE,
    PROP_BUSY,
    PROP_SHOW_THINKING,
    PROP_MAX_TOKENS,
    PROP_IGNORE_EOS,
    N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum {
    SIGNAL_PREPARE_CONVERSATION,
    SIGNAL_CONVERSATION_CREATED,
    SIGNAL_CONVERSATION_CHANGED,
    SIGNAL_SHOW_TOAST,
    N_SIGNALS
};
static guint signals[N_SIGNALS];

static void reload(PonderChatView *self);

static PonderStore *store_of(PonderChatView *self)
{
    return ponder_core_get_store(self->core);
}

static PonderEngine *engine_of(PonderChatView *self)
{
    return ponder_core_get_engine(self->core);
}

static void toast(PonderChatView *self, const char *message)
{
    g_signal_emit(self, signals[SIGNAL_SHOW_TOAST], 0, message);
}

static void toast_error(PonderChatView *self, const char *what, const GError *error)
{
    g_autofree char *message = g_strdup_printf("%s: %s", what, error->message);
    toast(self, message);
}

static void set_busy(PonderChatView *self, gboolean busy)
{
    if (self->busy == busy)
        return;
    self->busy = busy;
    ponder_composer_set_busy(self->composer, busy);
    GtkWidget *widget = GTK_WIDGET(self);
    gtk_widget_action_set_enabled(widget, "chat.stop", busy);
    gtk_widget_action_set_enabled(widget, "chat.regenerate", !busy);
    gtk_widget_action_set_enabled(widget, "chat.continue", !busy);
    gtk_widget_action_set_enabled(widget, "chat.edit", !busy);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_BUSY]);
}

// ---- what the list shows -------------------------------------------------------------

static guint context_length(PonderChatView *self)
{
    PonderEngineSettings settings;
    ponder_engine_get_settings(engine_of(self), &settings);
    const char *path = ponder_engine_get_model_path(engine_of(self));
    PonderModelEntry *entry =
        path ? ponder_model_library_find_by_path(ponder_core_get_library(self->core), path) : NULL;
    return ponder_context_length(settings.n_ctx,
                                 entry ? ponder_model_entry_get_context_length(entry) : 0);
}

static void update_context(PonderChatView *self)
{
    guint n = g_list_model_get_n_items(G_LIST_MODEL(self->messages));
    for (guint i = n; i-- > 0;) {
        g_autoptr(PonderMessageItem) item = g_list_model_get_item(G_LIST_MODEL(self->messages), i);
        const PonderMessage *m = ponder_message_item_get_message(item);
        if (m->role != PONDER_MESSAGE_ROLE_ASSISTANT || m->prompt_tokens < 0)
            continue;
        guint n_ctx = context_length(self);
        gint64 used = m->prompt_tokens + MAX(m->completion_tokens, 0);
        gtk_level_bar_set_value(self->context_bar, MIN(1.0, (double)used / n_ctx));
        g_autofree char *text =
            g_strdup_printf(_("Context: %lld of %u tokens"), (long long)used, n_ctx);
        gtk_label_set_text(self->context_label, text);
        gtk_widget_set_visible(self->context_box, TRUE);
        return;
    }
    gtk_widget_set_visible(self->context_box, FALSE);
}

static void scroll_to_bottom(PonderChatView *self)
{
    guint n = g_list_model_get_n_items(G_LIST_MODEL(self->messages));
    self->stick_to_bottom = TRUE;
    if (n)
        gtk_widget_activate_action(GTK_WIDGET(self->list_view), "list.scroll-to-item", "u", n - 1);
}

// Keeps the newest text in sight while it streams, unless the user scrolled up to read.
static void on_adjustment_changed(GtkAdjustment *adjustment, GParamSpec *pspec,
                                  PonderChatView *self)
{
    double bottom = gtk_adjustment_get_upper(adjustment) - gtk_adjustment_get_page_size(adjustment);
    if (self->stick_to_bottom && gtk_adjustment_get_value(adjustment) < bottom)
        gtk_adjustment_set_value(adjustment, bottom);
}

static void on_adjustment_value_changed(GtkAdjustment *adjustment, PonderChatView *self)
{
    double bottom = gtk_adjustment_get_upper(adjustment) - gtk_adjustment_get_page_size(adjustment);
    self->stick_to_bottom = gtk_adjustment_get_value(adjustment) >= bottom - 24;
}

// Connects the item of the answer being generated, when it is in the list.
static void attach_streaming_item(PonderChatView *self)
{
    if (!self->reply || self->reply_conversation_id != self->conversation_id)
        return;
    gint64 answer_id = ponder_reply_get_answer_id(self->reply);
    guint n = g_list_model_get_n_items(G_LIST_MODEL(self->messages));
    for (guint i = n; i-- > 0;) {
        g_autoptr(PonderMessageItem) item = g_list_model_get_item(G_LIST_MODEL(self->messages), i);
        if (ponder_message_item_get_id(item) != answer_id)
            continue;
        if (item == self->streaming_item)
            return;
        g_set_object(&self->streaming_item, item);
        // The store is up to a second behind what streamed.
        ponder_message_item_set_texts(item, ponder_reply_get_answer(self->reply),
                                      ponder_reply_get_reasoning(self->reply));
        ponder_message_item_begin_streaming(item);
        return;
    }
}

static void show_messages(PonderChatView *self, GPtrArray *path)
{
    GListModel *model = G_LIST_MODEL(self->messages);
    guint n = g_list_model_get_n_items(model);
    guint common = 0;
    for (; common < n && common < path->len; common++) {
        g_autoptr(PonderMessageItem) item = g_list_model_get_item(model, common);
        PonderMessage *m = g_ptr_array_index(path, common);
        const PonderMessage *shown = ponder_message_item_get_message(item);
        if (shown->id != m->id)
            break;
        // An answer that finished (or was continued) since it was loaded.
        if (item != self->streaming_item && shown->updated_us != m->updated_us)
            ponder_message_item_set_message(item, g_steal_pointer(&path->pdata[common]));
    }
    guint added = path->len - common;
    g_autofree gpointer *items = g_new0(gpointer, added + 1);
    for (guint i = 0; i < added; i++) {
        PonderMessage *m = g_steal_pointer(&path->pdata[common + i]);
        items[i] = ponder_message_item_new(m);
    }
    g_list_store_splice(self->messages, common, n - common, items, added);
    for (guint i = 0; i < added; i++)
        g_object_unref(items[i]);
    gtk_stack_set_visible_child_name(self->content_stack, path->len ? "messages" : "empty");
    if (added)
        scroll_to_bottom(self);
}

static void reload(PonderChatView *self)
{
    if (self->streaming_item &&
        (!self->reply || self->reply_conversation_id != self->conversation_id))
        g_clear_object(&self->streaming_item);
    g_autoptr(GPtrArray) path = NULL;
    g_autoptr(GError) error = NULL;
    gint64 leaf =
        self->conversation_id
            ? ponder_store_get_selected_leaf(store_of(self), self->conversation_id, &error)
            : 0;
    if (leaf)
        path = ponder_store_get_path_to_leaf(store_of(self), leaf, &error);
    if (error) {
        toast_error(self, _("Could not show the conversation"), error);
        return;
    }
    // The path's messages move into the items; what is left is freed with the array.
    if (!path)
        path = g_ptr_array_new_with_free_func((GDestroyNotify)ponder_message_free);
    g_ptr_array_set_free_func(path, NULL);
    show_messages(self, path);
    for (guint i = 0; i < path->len; i++)
        if (path->pdata[i])
            ponder_message_free(path->pdata[i]);
    attach_streaming_item(self);
    update_context(self);
}

// ---- the list's factory --------------------------------------------------------------

// The branch switcher's numbers, looked up the first time the message is on screen.
static void ensure_siblings(PonderChatView *self, PonderMessageItem *item)
{
    if (ponder_message_item_has_siblings_info(item))
        return;
    const PonderMessage *m = ponder_message_item_get_message(item);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) siblings =
        ponder_store_list_children(store_of(self), m->conversation_id, m->parent_id, &error);
    if (!siblings) {
        g_warning("branches of message %" G_GINT64_FORMAT ": %s", m->id, error->message);
        return;
    }
    for (guint i = 0; i < siblings->len; i++) {
        const PonderMessage *sibling = g_ptr_array_index(siblings, i);
        if (sibling->id != m->id)
            continue;
        const PonderMessage *previous = i > 0 ? g_ptr_array_index(siblings, i - 1) : NULL;
        const PonderMessage *next =
            i + 1 < siblings->len ? g_ptr_array_index(siblings, i + 1) : NULL;
        ponder_message_item_set_siblings(item, i, siblings->len, previous ? previous->id : 0,
                                         next ? next->id : 0);
        return;
    }
}

static void on_setup_row(GtkSignalListItemFactory *factory, GtkListItem *list_item,
                         PonderChatView *self)
{
    GtkWidget *row = ponder_message_row_new();
    g_object_bind_property(self, "show-thinking", row, "show-thinking", G_BINDING_SYNC_CREATE);
    gtk_list_item_set_child(list_item, row);
    gtk_list_item_set_activatable(list_item, FALSE);
    gtk_list_item_set_selectable(list_item, FALSE);
}

static void on_bind_row(GtkSignalListItemFactory *factory, GtkListItem *list_item,
                        PonderChatView *self)
{
    PonderMessageItem *item = gtk_list_item_get_item(list_item);
    ensure_siblings(self, item);
    ponder_message_row_set_item(PONDER_MESSAGE_ROW(gtk_list_item_get_child(list_item)), item);
}

static void on_unbind_row(GtkSignalListItemFactory *factory, GtkListItem *list_item,
                          PonderChatView *self)
{
    ponder_message_row_set_item(PONDER_MESSAGE_ROW(gtk_list_item_get_child(list_item)), NULL);
}

// ---- the answer being generated ------------------------------------------------------

static void on_reasoning_delta(PonderGeneration *generation, const char *text, PonderChatView *self)
{
    gtk_widget_set_visible(GTK_WIDGET(self->prefill_bar), FALSE);
    if (self->streaming_item)
        ponder_message_item_append_reasoning(self->streaming_item, text);
}

static void on_answer_delta(PonderGeneration *generation, const char *text, PonderChatView *self)
{
    gtk_widget_set_visible(GTK_WIDGET(self->prefill_bar), FALSE);
    if (self->streaming_item)
        ponder_message_item_append_answer(self->streaming_item, text);
}

// A conversation longer than the context loses its oldest turns from the prompt (never the
// system prompt or the question): the user is told, since the model no longer sees them.
static void on_started(PonderGeneration *generation, PonderChatView *self)
{
    PonderGenerationStats stats;
    ponder_generation_get_stats(generation, &stats);
    if (stats.dropped_messages == 0)
        return;
    g_autofree char *text = g_strdup_printf(
        ngettext(
            "This conversation is longer than the context: its oldest message was left out",
            "This conversation is longer than the context: its %u oldest messages were left out",
            stats.dropped_messages),
        stats.dropped_messages);
    toast(self, text);
}

static void on_progress(PonderGeneration *generation, guint done, guint total, PonderChatView *self)
{
    gboolean shown =
        self->reply_conversation_id == self->conversation_id && total > 0 && done < total;
    gtk_widget_set_visible(GTK_WIDGET(self->prefill_bar), shown);
    if (!shown)
        return;
    gtk_progress_bar_set_fraction(self->prefill_bar, (double)done / total);
    g_autofree char *text = g_strdup_printf(_("Reading the prompt: %u of %u tokens"), done, total);
    gtk_progress_bar_set_text(self->prefill_bar, text);
}

static void on_save_failed(PonderReply *reply, GError *error, PonderChatView *self)
{
    if (self->save_failure_reported)
        return;
    self->save_failure_reported = TRUE;
    toast_error(self, _("The answer could not be saved yet; it is kept in memory"), error);
}

static void disconnect_reply(PonderChatView *self)
{
    if (!self->reply)
        return;
    g_signal_handlers_disconnect_by_data(ponder_reply_get_generation(self->reply), self);
    g_signal_handlers_disconnect_by_data(self->reply, self);
    g_clear_object(&self->reply);
}

static void on_reply_finished(PonderReply *reply, PonderChatView *self)
{
    gint64 conversation = self->reply_conversation_id;
    if (!ponder_reply_is_saved(reply))
        toast(self, _("The end of the answer could not be saved; it is kept in memory"));
    if (self->streaming_item) {
        g_autoptr(GError) error = NULL;
        PonderMessage *final =
            ponder_store_get_message(store_of(self), ponder_reply_get_answer_id(reply), &error);
        ponder_message_item_end_streaming(self->streaming_item, final);
        g_clear_object(&self->streaming_item);
    }
    disconnect_reply(self);
    self->reply_conversation_id = 0;
    gtk_widget_set_visible(GTK_WIDGET(self->prefill_bar), FALSE);
    set_busy(self, FALSE);
    update_context(self);
    g_signal_emit(self, signals[SIGNAL_CONVERSATION_CHANGED], 0, conversation);
}

// Takes REPLY, started in CONVERSATION, and shows it streaming.
static void follow_reply(PonderChatView *self, PonderReply *reply, gint64 conversation)
{
    self->reply = reply;
    self->reply_conversation_id = conversation;
    self->save_failure_reported = FALSE;
    PonderGeneration *generation = ponder_reply_get_generation(reply);
    g_signal_connect(generation, "reasoning-delta", G_CALLBACK(on_reasoning_delta), self);
    g_signal_connect(generation, "answer-delta", G_CALLBACK(on_answer_delta), self);
    g_signal_connect(generation, "started", G_CALLBACK(on_started), self);
    g_signal_connect(generation, "progress", G_CALLBACK(on_progress), self);
    g_signal_connect(reply, "finished", G_CALLBACK(on_reply_finished), self);
    g_signal_connect(reply, "save-failed", G_CALLBACK(on_save_failed), self);
    set_busy(self, TRUE);
    reload(self);
    scroll_to_bottom(self);
    g_signal_emit(self, signals[SIGNAL_CONVERSATION_CHANGED], 0, conversation);
}

static PonderReplyOptions reply_options(PonderChatView *self)
{
    const char *path = ponder_engine_get_model_path(engine_of(self));
    PonderModelEntry *entry =
        path ? ponder_model_library_find_by_path(ponder_core_get_library(self->core), path) : NULL;
    // A remote model is named by its server's id ("remote:ID" without the prefix).
    const char *remote_id = g_str_has_prefix(path ? path : "", PONDER_REMOTE_MODEL_PREFIX)
                                ? path + strlen(PONDER_REMOTE_MODEL_PREFIX)
                                : NULL;
    return (PonderReplyOptions){
        .model_name = entry ? ponder_model_entry_get_slug(entry) : remote_id,
        .priority = PONDER_PRIORITY_INTERACTIVE,
        .max_tokens = self->max_tokens,
        .ignore_eos = self->ignore_eos,
    };
}

// Refuses before anything is stored when no model is chosen, so a send that cannot be
// answered leaves no question without an answer behind.
static gboolean can_answer(PonderChatView *self, GError **error)
{
    if (self->busy) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_BUSY,
                    _("An answer is still being generated; stop it first"));
        return FALSE;
    }
    if (!ponder_engine_get_model_path(engine_of(self))) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_NO_MODEL,
                    _("No model is chosen; choose one first"));
        return FALSE;
    }
    return TRUE;
}

static void on_composer_send(PonderComposer *composer, const char *text, PonderChatView *self)
{
    g_autoptr(GError) error = NULL;
    if (!can_answer(self, &error)) {
        toast_error(self, _("Could not send the message"), error);
        return;
    }
    PonderStore *store = store_of(self);
    gint64 conversation = self->conversation_id;
    gboolean created = FALSE;
    if (!conversation) {
        g_autofree char *title = ponder_conversation_title_from_text(text);
        conversation = ponder_store_create_conversation(store, title, &error);
        if (!conversation) {
            toast_error(self, _("Could not start a conversation"), error);
            return;
        }
        created = TRUE;
        // Before the first answer, so that it runs with the settings the window gives it.
        g_signal_emit(self, signals[SIGNAL_PREPARE_CONVERSATION], 0, conversation);
    }
    PonderReplyOptions options = reply_options(self);
    PonderReply *reply =
        ponder_reply_send(store, engine_of(self), conversation, 0, text, &options, &error);
    gboolean stored = !created || ponder_store_get_selected_leaf(store, conversation, NULL) != 0;
    if (created && stored) {
        self->conversation_id = conversation;
        g_signal_emit(self, signals[SIGNAL_CONVERSATION_CREATED], 0, conversation);
    } else if (created) {
        // Nothing of the message was stored: no empty conversation stays behind.
        ponder_store_delete_conversation(store, conversation, NULL);
    }
    if (!reply) {
        // The text stays in the composer for another try.
        toast_error(self, _("Could not send the message"), error);
        reload(self);
        return;
    }
    ponder_composer_set_text(self->composer, "");
    follow_reply(self, reply, conversation);
}

static void on_composer_stop(PonderComposer *composer, PonderChatView *self)
{
    ponder_chat_view_stop(self);
}

static void after_action(PonderChatView *self, PonderReply *reply, const char *what, GError *error)
{
    if (reply)
        follow_reply(self, reply, self->conversation_id);
    else {
        toast_error(self, what, error);
        reload(self);
    }
}

static void action_stop(GtkWidget *widget, const char *name, GVariant *parameter)
{
    ponder_chat_view_stop(PONDER_CHAT_VIEW(widget));
}

static void action_regenerate(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderChatView *self = PONDER_CHAT_VIEW(widget);
    g_autoptr(GError) error = NULL;
    if (!can_answer(self, &error)) {
        toast_error(self, _("Could not regenerate the answer"), error);
        return;
    }
    g_autoptr(PonderMessage) answer =
        ponder_store_get_message(store_of(self), g_variant_get_int64(parameter), &error);
    PonderReplyOptions options = reply_options(self);
    PonderReply *reply = answer ? ponder_reply_regenerate(store_of(self), engine_of(self),
                                                          answer->parent_id, &options, &error)
                                : NULL;
    after_action(self, reply, _("Could not regenerate the answer"), error);
}

static void action_continue(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderChatView *self = PONDER_CHAT_VIEW(widget);
    g_autoptr(GError) error = NULL;
    if (!can_answer(self, &error)) {
        toast_error(self, _("Could not continue the answer"), error);
        return;
    }
    PonderReplyOptions options = reply_options(self);
    PonderReply *reply = ponder_reply_continue(store_of(self), engine_of(self),
                                               g_variant_get_int64(parameter), &options, &error);
    after_action(self, reply, _("Could not continue the answer"), error);
}

static void action_edit(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderChatView *self = PONDER_CHAT_VIEW(widget);
    gint64 message_id;
    const char *text;
    g_variant_get(parameter, "(x&s)", &message_id, &text);
    g_autoptr(GError) error = NULL;
    if (!can_answer(self, &error)) {
        toast_error(self, _("Could not send the edited message"), error);
        return;
    }
    PonderStore *store = store_of(self);
    g_autoptr(PonderMessage) original = ponder_store_get_message(store, message_id, &error);
    PonderReplyOptions options = reply_options(self);
    PonderReply *reply = NULL;
    if (original && original->parent_id) {
        reply = ponder_reply_send(store, engine_of(self), original->conversation_id,
                                  original->parent_id, text, &options, &error);
    } else if (original) {
        // ponder_reply_send() reads parent 0 as "after the selected leaf"; a new first
        // message is stored beside the old one and then answered.
        gint64 question =
            ponder_store_add_user_message(store, original->conversation_id, 0, text, &error);
        if (question)
            reply = ponder_reply_regenerate(store, engine_of(self), question, &options, &error);
    }
    after_action(self, reply, _("Could not send the edited message"), error);
}

static void action_select_branch(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderChatView *self = PONDER_CHAT_VIEW(widget);
    g_autoptr(GError) error = NULL;
    if (!ponder_store_select_branch(store_of(self), g_variant_get_int64(parameter), &error))
        toast_error(self, _("Could not switch to that version"), error);
    reload(self);
}

// ---- the GObject ---------------------------------------------------------------------

static void load_css_once(void)
{
    static gboolean loaded;
    GdkDisplay *display = gdk_display_get_default();
    if (loaded || !display)
        return;
    loaded = TRUE;
    GtkCssProvider *provider = gtk_css_provider_new();
    gtk_css_provider_load_from_resource(provider,
                                        "/io/github/ponder_app/Ponder/chat/ponder-chat.css");
    gtk_style_context_add_provider_for_display(display, GTK_STYLE_PROVIDER(provider),
                                               GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    g_object_unref(provider);
}

static void ponder_chat_view_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec)
{
    PonderChatView *self = PONDER_CHAT_VIEW(object);
    switch (prop_id) {
    case PROP_CORE: g_value_set_object(value, self->core); break;
    case PROP_BUSY: g_value_set_boolean(value, self->busy); break;
    case PROP_SHOW_THINKING: g_value_set_boolean(value, self->show_thinking); break;
    case PROP_MAX_TOKENS: g_value_set_uint(value, self->max_tokens); break;
    case PROP_IGNORE_EOS: g_value_set_boolean(value, self->ignore_eos); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_chat_view_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec)
{
    PonderChatView *self = PONDER_CHAT_VIEW(object);
    switch (prop_id) {
    case PROP_CORE: self->core = g_value_dup_object(value); break;
    case PROP_SHOW_THINKING:
        if (self->show_thinking != g_value_get_boolean(value)) {
            self->show_thinking = g_value_get_boolean(value);
            g_object_notify_by_pspec(object, pspec);
        }
        break;
    case PROP_MAX_TOKENS: self->max_tokens = g_value_get_uint(value); break;
    case PROP_IGNORE_EOS: self->ignore_eos = g_value_get_boolean(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void release_reply(PonderReply *reply, gpointer data)
{
    g_object_unref(reply);
}

static void ponder_chat_view_dispose(GObject *object)
{
    PonderChatView *self = PONDER_CHAT_VIEW(object);
    // The view is going (the window closes): an answer still running is stopped, and its
    // reply lives until the engine says so, so the store records how it ended.
    if (self->reply) {
        PonderReply *reply = g_object_ref(self->reply);
        disconnect_reply(self);
        g_signal_connect(reply, "finished", G_CALLBACK(release_reply), NULL);
        ponder_reply_stop(reply);
    }
    g_clear_object(&self->streaming_item);
    gtk_widget_dispose_template(GTK_WIDGET(self), PONDER_TYPE_CHAT_VIEW);
    g_clear_object(&self->messages);
    g_clear_object(&self->core);
    G_OBJECT_CLASS(ponder_chat_view_parent_class)->dispose(object);
}

static gboolean ponder_chat_view_grab_focus(GtkWidget *widget)
{
    return gtk_widget_grab_focus(GTK_WIDGET(PONDER_CHAT_VIEW(widget)->composer));
}

static void ponder_chat_view_class_init(PonderChatViewClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->get_property = ponder_chat_view_get_property;
    object_class->set_property = ponder_chat_view_set_property;
    object_class->dispose = ponder_chat_view_dispose;
    widget_class->grab_focus = ponder_chat_view_grab_focus;

    properties[PROP_CORE] =
        g_param_spec_object("core", NULL, NULL, PONDER_TYPE_CORE,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    properties[PROP_BUSY] =
        g_param_spec_boolean("busy", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    properties[PROP_SHOW_THINKING] =
        g_param_spec_boolean("show-thinking", NULL, NULL, TRUE,
                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
    // Answer length and end-of-sentence handling for benchmarks and tests; the window leaves
    // them to the engine's settings.
    properties[PROP_MAX_TOKENS] = g_param_spec_uint("max-tokens", NULL, NULL, 0, G_MAXUINT, 0,
                                                    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    properties[PROP_IGNORE_EOS] = g_param_spec_boolean("ignore-eos", NULL, NULL, FALSE,
                                                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, properties);

    signals[SIGNAL_PREPARE_CONVERSATION] =
        g_signal_new("prepare-conversation", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
    signals[SIGNAL_CONVERSATION_CREATED] =
        g_signal_new("conversation-created", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
    signals[SIGNAL_CONVERSATION_CHANGED] =
        g_signal_new("conversation-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
    signals[SIGNAL_SHOW_TOAST] =
        g_signal_new("show-toast", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 1, G_TYPE_STRING);

    gtk_widget_class_install_action(widget_class, "chat.stop", NULL, action_stop);
    gtk_widget_class_install_action(widget_class, "chat.regenerate", "x", action_regenerate);
    gtk_widget_class_install_action(widget_class, "chat.continue", "x", action_continue);
    gtk_widget_class_install_action(widget_class, "chat.edit", "(xs)", action_edit);
    gtk_widget_class_install_action(widget_class, "chat.select-branch", "x", action_select_branch);
    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "chat.stop", NULL);

    g_type_ensure(PONDER_TYPE_COMPOSER);
    g_type_ensure(PONDER_TYPE_MESSAGE_ROW);
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
    // The bundle registers itself from a constructor; naming it keeps the linker from
    // dropping it out of the static library.
    ponder_chat_get_resource();
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/chat/ponder-chat-view.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderChatView, box);
    gtk_widget_class_bind_template_child(widget_class, PonderChatView, content_stack);
    gtk_widget_class_bind_template_child(widget_class, PonderChatView, scrolled_window);
    gtk_widget_class_bind_template_child(widget_class, PonderChatView, list_view);
    gtk_widget_class_bind_template_child(widget_class, PonderChatView, prefill_bar);
    gtk_widget_class_bind_template_child(widget_class, PonderChatView, context_box);
    gtk_widget_class_bind_template_child(widget_class, PonderChatView, context_bar);
    gtk_widget_class_bind_template_child(widget_class, PonderChatView, context_label);
    gtk_widget_class_bind_template_child(widget_class, PonderChatView, composer);
    gtk_widget_class_bind_template_callback(widget_class, on_composer_send);
    gtk_widget_class_bind_template_callback(widget_class, on_composer_stop);
}

static void ponder_chat_view_init(PonderChatView *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    load_css_once();
    self->show_thinking = TRUE;
    self->stick_to_bottom = TRUE;
    self->messages = g_list_store_new(PONDER_TYPE_MESSAGE_ITEM);

    GtkListItemFactory *factory = gtk_signal_list_item_factory_new();
    g_signal_connect(factory, "setup", G_CALLBACK(on_setup_row), self);
    g_signal_connect(factory, "bind", G_CALLBACK(on_bind_row), self);
    g_signal_connect(factory, "unbind", G_CALLBACK(on_unbind_row), self);
    gtk_list_view_set_factory(self->list_view, factory);
    g_object_unref(factory);
    GtkNoSelection *selection = gtk_no_selection_new(G_LIST_MODEL(g_object_ref(self->messages)));
    gtk_list_view_set_model(self->list_view, GTK_SELECTION_MODEL(selection));
    g_object_unref(selection);

    GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment(self->scrolled_window);
    g_signal_connect(adjustment, "notify::upper", G_CALLBACK(on_adjustment_changed), self);
    g_signal_connect(adjustment, "value-changed", G_CALLBACK(on_adjustment_value_changed), self);

    gtk_widget_action_set_enabled(GTK_WIDGET(self), "chat.stop", FALSE);
    gtk_stack_set_visible_child_name(self->content_stack, "empty");
}

GtkWidget *ponder_chat_view_new(PonderCore *core)
{
    g_return_val_if_fail(PONDER_IS_CORE(core), NULL);
    return g_object_new(PONDER_TYPE_CHAT_VIEW, "core", core, NULL);
}

void ponder_chat_view_set_conversation(PonderChatView *self, gint64 conversation_id)
{
    g_return_if_fail(PONDER_IS_CHAT_VIEW(self));
    if (self->conversation_id != conversation_id) {
        // A different conversation shares nothing with the one shown.
        g_list_store_remove_all(self->messages);
        g_clear_object(&self->streaming_item);
        gtk_widget_set_visible(GTK_WIDGET(self->prefill_bar), FALSE);
    }
    self->conversation_id = conversation_id;
    reload(self);
    scroll_to_bottom(self);
}

gint64 ponder_chat_view_get_conversation(PonderChatView *self)
{
    g_return_val_if_fail(PONDER_IS_CHAT_VIEW(self), 0);
    return self->conversation_id;
}

void ponder_chat_view_focus_composer(PonderChatView *self)
{
    g_return_if_fail(PONDER_IS_CHAT_VIEW(self));
    gtk_widget_grab_focus(GTK_WIDGET(self->composer));
}

void ponder_chat_view_stop(PonderChatView *self)
{
    g_return_if_fail(PONDER_IS_CHAT_VIEW(self));
    if (self->reply)
        ponder_reply_stop(self->reply);
}

gboolean ponder_chat_view_get_busy(PonderChatView *self)
{
    g_return_val_if_fail(PONDER_IS_CHAT_VIEW(self), FALSE);
    return self->busy;
}
