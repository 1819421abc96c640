// The window wires the parts together and owns nothing but them: the sidebar and the chat
// view talk through their signals, errors from every part land in one toast overlay, and
// the stack shows onboarding until a model is chosen. Deleted conversations stay in the
// trash (so Undo works) until the window closes.
#include "ponder-window.h"

#include <glib/gi18n.h>

#include "ponder-window-resources.h"

#include "chat/ponder-chat-view.h"
#include "ponder-conversation-list.h"
#include "ponder-model-picker.h"
#include "ponder-onboarding-page.h"
#include "ponder-sampling.h"
#include "ponder-ui-application.h"

struct _PonderWindow {
    AdwApplicationWindow parent_instance;

    // Template widgets.
    AdwToastOverlay *toast_overlay;
    AdwLeaflet *leaflet;
    GtkWidget *sidebar;
    GtkWidget *content;
    AdwBin *sidebar_bin;
    AdwBin *picker_bin;
    AdwWindowTitle *window_title;
    GtkStack *stack;

    // Children made in code (they need the core).
    PonderConversationList *conversation_list;
    PonderChatView *chat_view;
    GtkWidget *onboarding;

    // Owned references.
    PonderCore *core;
    GSettings *settings; // NULL when the schema is not installed
};

G_DEFINE_FINAL_TYPE(PonderWindow, ponder_window, ADW_TYPE_APPLICATION_WINDOW)

// An AdwToast's title is Pango markup (always, in libadwaita 1.2), and the texts shown here
// are plain: error messages, conversation titles, file names. Escaped, they show as written.
static AdwToast *new_toast(const char *message)
{
    g_autofree char *escaped = g_markup_escape_text(message, -1);
    return adw_toast_new(escaped);
}

static void show_toast(PonderWindow *self, const char *message)
{
    AdwToast *toast = new_toast(message);
    adw_toast_set_timeout(toast, 8);
    adw_toast_overlay_add_toast(self->toast_overlay, toast);
}

static void update_title(PonderWindow *self)
{
    gint64 id = ponder_chat_view_get_conversation(self->chat_view);
    g_autoptr(PonderConversation) conversation =
        id ? ponder_store_get_conversation(ponder_core_get_store(self->core), id, NULL) : NULL;
    if (conversation && conversation->title && *conversation->title) {
        adw_window_title_set_title(self->window_title, conversation->title);
        g_autofree char *title = g_strdup_printf(_("Ponder — %s"), conversation->title);
        gtk_window_set_title(GTK_WINDOW(self), title);
    } else {
        adw_window_title_set_title(self->window_title, _("Ponder"));
        gtk_window_set_title(GTK_WINDOW(self), _("Ponder"));
    }
}

// Onboarding until a model is chosen; the chat once one is.
static void update_page(PonderWindow *self)
{
    gboolean have_model = ponder_engine_get_model_path(ponder_core_get_engine(self->core)) != NULL;
    gtk_stack_set_visible_child_name(self->stack, have_model ? "chat" : "onboarding");
}

static void show_conversation(PonderWindow *self, gint64 conversation_id)
{
    ponder_chat_view_set_conversation(self->chat_view, conversation_id);
    ponder_conversation_list_select(self->conversation_list, conversation_id);
    adw_leaflet_set_visible_child(self->leaflet, self->content);
    update_title(self);
}

static void on_conversation_activated(PonderConversationList *list, gint64 id, PonderWindow *self)
{
    show_conversation(self, id);
}

static void on_conversation_deleted(PonderConversationList *list, gint64 id, const char *title,
                                    PonderWindow *self)
{
    if (ponder_chat_view_get_conversation(self->chat_view) == id) {
        ponder_chat_view_set_conversation(self->chat_view, 0);
        update_title(self);
    }
    g_autofree char *message = title && *title ? g_strdup_printf(_("“%s” deleted"), title)
                                               : g_strdup(_("Conversation deleted"));
    AdwToast *toast = new_toast(message);
    adw_toast_set_button_label(toast, _("_Undo"));
    adw_toast_set_action_name(toast, "win.restore-conversation");
    adw_toast_set_action_target_value(toast, g_variant_new_int64(id));
    adw_toast_overlay_add_toast(self->toast_overlay, toast);
}

// The preferences' system prompt and sampling become the new conversation's own, before its
// first answer runs.
static void on_prepare_conversation(PonderChatView *view, gint64 id, PonderWindow *self)
{
    if (self->settings) {
        PonderStore *store = ponder_core_get_store(self->core);
        g_autofree char *prompt = g_settings_get_string(self->settings, "system-prompt");
        SamplerParams params = sampler_default_params();
        params.temperature = (float)g_settings_get_double(self->settings, "temperature");
        params.top_p = (float)g_settings_get_double(self->settings, "top-p");
        // no seed: every answer (and Regenerate) draws a new one
        g_autofree char *sampling = ponder_sampling_to_json(&params, FALSE, 0);
        g_autoptr(GError) error = NULL;
        if ((*prompt && !ponder_store_set_system_prompt(store, id, prompt, &error)) ||
            !ponder_store_set_settings(store, id, sampling, &error)) {
            g_autofree char *message = g_strdup_printf(
                _("The conversation’s settings could not be saved: %s"), error->message);
            show_toast(self, message);
        }
    }
}

static void on_conversation_created(PonderChatView *view, gint64 id, PonderWindow *self)
{
    ponder_conversation_list_refresh(self->conversation_list);
    ponder_conversation_list_select(self->conversation_list, id);
    update_title(self);
}

static void on_conversation_changed(PonderChatView *view, gint64 id, PonderWindow *self)
{
    ponder_conversation_list_refresh(self->conversation_list);
    ponder_conversation_list_select(self->conversation_list,
                                    ponder_chat_view_get_conversation(self->chat_view));
    update_title(self);
}

static void on_part_toast(GtkWidget *part, const char *message, PonderWindow *self)
{
    show_toast(self, message);
}

static void new_chat_action(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderWindow *self = PONDER_WINDOW(widget);
    show_conversation(self, 0);
    ponder_chat_view_focus_composer(self->chat_view);
}

static void search_action(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderWindow *self = PONDER_WINDOW(widget);
    adw_leaflet_set_visible_child(self->leaflet, self->sidebar);
    ponder_conversation_list_focus_search(self->conversation_list);
}

static void show_sidebar_action(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderWindow *self = PONDER_WINDOW(widget);
    adw_leaflet_set_visible_child(self->leaflet, self->sidebar);
}

static void stop_action(GtkWidget *widget, const char *name, GVariant *parameter)
{
    ponder_chat_view_stop(PONDER_WINDOW(widget)->chat_view);
}

static void restore_conversation_action(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderWindow *self = PONDER_WINDOW(widget);
    g_autoptr(GError) error = NULL;
    gint64 id = g_variant_get_int64(parameter);
    if (!ponder_conversation_list_restore(self->conversation_list, id, &error)) {
        g_autofree char *message =
            g_strdup_printf(_("The conversation could not be restored: %s"), error->message);
        show_toast(self, message);
    }
}

// Every way of choosing a model ends here (onboarding, the picker, a downloaded file).
static void choose_model_action(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderWindow *self = PONDER_WINDOW(widget);
    g_autoptr(GError) error = NULL;
    PonderModelEntry *entry =
        ponder_core_choose_model(self->core, g_variant_get_string(parameter, NULL), &error);
    if (!entry) {
        g_autofree char *message = ponder_model_picker_describe_error(error);
        show_toast(self, message);
        return;
    }
    if (self->settings)
        g_settings_set_string(self->settings, "default-model", ponder_model_entry_get_slug(entry));
    update_page(self);
    ponder_chat_view_focus_composer(self->chat_view);
}

static gboolean ponder_window_close_request(GtkWindow *window)
{
    PonderWindow *self = PONDER_WINDOW(window);
    if (self->settings) {
        int width, height;
        gtk_window_get_default_size(window, &width, &height);
        g_settings_set_int(self->settings, "window-width", width);
        g_settings_set_int(self->settings, "window-height", height);
        g_settings_set_boolean(self->settings, "window-maximized", gtk_window_is_maximized(window));
    }
    // Undo is offered while the window is open; closing it makes deletions final.
    g_autoptr(GError) error = NULL;
    if (!ponder_store_purge_deleted(ponder_core_get_store(self->core), &error))
        g_warning("deleted conversations could not be removed: %s", error->message);
    return GTK_WINDOW_CLASS(ponder_window_parent_class)->close_request(window);
}

static void ponder_window_dispose(GObject *object)
{
    PonderWindow *self = PONDER_WINDOW(object);
    if (self->core)
        g_signal_handlers_disconnect_by_data(ponder_core_get_engine(self->core), self);
    gtk_widget_dispose_template(GTK_WIDGET(self), PONDER_TYPE_WINDOW);
    G_OBJECT_CLASS(ponder_window_parent_class)->dispose(object);
}

static void ponder_window_finalize(GObject *object)
{
    PonderWindow *self = PONDER_WINDOW(object);
    g_clear_object(&self->core);
    g_clear_object(&self->settings);
    G_OBJECT_CLASS(ponder_window_parent_class)->finalize(object);
}

static void ponder_window_class_init(PonderWindowClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = ponder_window_dispose;
    object_class->finalize = ponder_window_finalize;
    GTK_WINDOW_CLASS(klass)->close_request = ponder_window_close_request;

    // Linking the bundle in (a static library drops unreferenced objects) registers it.
    ponder_window_get_resource();
    gtk_widget_class_set_template_from_resource(widget_class, "/io/github/ponder_app/Ponder/window/"
                                                              "ponder-window.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderWindow, toast_overlay);
    gtk_widget_class_bind_template_child(widget_class, PonderWindow, leaflet);
    gtk_widget_class_bind_template_child(widget_class, PonderWindow, sidebar);
    gtk_widget_class_bind_template_child(widget_class, PonderWindow, content);
    gtk_widget_class_bind_template_child(widget_class, PonderWindow, sidebar_bin);
    gtk_widget_class_bind_template_child(widget_class, PonderWindow, picker_bin);
    gtk_widget_class_bind_template_child(widget_class, PonderWindow, window_title);
    gtk_widget_class_bind_template_child(widget_class, PonderWindow, stack);

    gtk_widget_class_install_action(widget_class, "win.new-chat", NULL, new_chat_action);
    gtk_widget_class_install_action(widget_class, "win.search", NULL, search_action);
    gtk_widget_class_install_action(widget_class, "win.show-sidebar", NULL, show_sidebar_action);
    gtk_widget_class_install_action(widget_class, "win.stop", NULL, stop_action);
    gtk_widget_class_install_action(widget_class, "win.restore-conversation", "x",
                                    restore_conversation_action);
    gtk_widget_class_install_action(widget_class, "win.choose-model", "s", choose_model_action);
}

static void ponder_window_init(PonderWindow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
}

static void on_engine_state(PonderEngine *engine, GParamSpec *pspec, PonderWindow *self)
{
    update_page(self);
}

PonderWindow *ponder_window_new(AdwApplication *app, PonderCore *core)
{
    g_return_val_if_fail(PONDER_IS_CORE(core), NULL);
    PonderWindow *self = g_object_new(PONDER_TYPE_WINDOW, "application", app, NULL);
    self->core = g_object_ref(core);
    self->settings = ponder_ui_settings_new();
    if (self->settings) {
        gtk_window_set_default_size(GTK_WINDOW(self),
                                    g_settings_get_int(self->settings, "window-width"),
                                    g_settings_get_int(self->settings, "window-height"));
        if (g_settings_get_boolean(self->settings, "window-maximized"))
            gtk_window_maximize(GTK_WINDOW(self));
    }

    self->conversation_list =
        PONDER_CONVERSATION_LIST(ponder_conversation_list_new(ponder_core_get_store(core)));
    adw_bin_set_child(self->sidebar_bin, GTK_WIDGET(self->conversation_list));
    g_signal_connect(self->conversation_list, "conversation-activated",
                     G_CALLBACK(on_conversation_activated), self);
    g_signal_connect(self->conversation_list, "conversation-deleted",
                     G_CALLBACK(on_conversation_deleted), self);
    g_signal_connect(self->conversation_list, "show-toast", G_CALLBACK(on_part_toast), self);

    self->chat_view = PONDER_CHAT_VIEW(ponder_chat_view_new(core));
    gtk_stack_add_named(self->stack, GTK_WIDGET(self->chat_view), "chat");
    g_signal_connect(self->chat_view, "prepare-conversation", G_CALLBACK(on_prepare_conversation),
                     self);
    g_signal_connect(self->chat_view, "conversation-created", G_CALLBACK(on_conversation_created),
                     self);
    g_signal_connect(self->chat_view, "conversation-changed", G_CALLBACK(on_conversation_changed),
                     self);
    g_signal_connect(self->chat_view, "show-toast", G_CALLBACK(on_part_toast), self);

    // The chat view's own property, when it has one, follows the preference.
    if (self->settings &&
        g_object_class_find_property(G_OBJECT_GET_CLASS(self->chat_view), "show-thinking"))
        g_settings_bind(self->settings, "show-thinking", self->chat_view, "show-thinking",
                        G_SETTINGS_BIND_GET);

    self->onboarding = ponder_onboarding_page_new(core);
    gtk_stack_add_named(self->stack, self->onboarding, "onboarding");
    g_signal_connect(self->onboarding, "show-toast", G_CALLBACK(on_part_toast), self);

    GtkWidget *picker = ponder_model_picker_new(core);
    adw_bin_set_child(self->picker_bin, picker);
    g_signal_connect(picker, "show-toast", G_CALLBACK(on_part_toast), self);

    g_signal_connect(ponder_core_get_engine(core), "notify::state", G_CALLBACK(on_engine_state),
                     self);
    update_page(self);
    update_title(self);
    return self;
}
