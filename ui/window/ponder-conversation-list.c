// Rows are rebuilt from the store on every refresh: the store is the truth (the chat view
// writes to it too), and a sidebar of a few hundred rows costs nothing to rebuild. A
// search shows the store's snippet under each title so the user sees why it matched.
#include "ponder-conversation-list.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "ponder-window-resources.h"

enum { SEARCH_LIMIT = 200 };

struct _PonderConversationList {
    GtkWidget parent_instance;

    // Template widgets.
    GtkSearchEntry *search_entry;
    GtkListBox *list_box;

    // Owned references.
    PonderStore *store;

    gint64 selected_id;
};

G_DEFINE_FINAL_TYPE(PonderConversationList, ponder_conversation_list, GTK_TYPE_WIDGET)

enum { SIGNAL_ACTIVATED, SIGNAL_DELETED, SIGNAL_SHOW_TOAST, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char row_id_key[] = "ponder-conversation-id";

static gint64 row_get_id(GtkListBoxRow *row)
{
    gint64 *id = g_object_get_data(G_OBJECT(row), row_id_key);
    return id ? *id : 0;
}

static void report(PonderConversationList *self, const char *what, const GError *error)
{
    g_autofree char *message = g_strdup_printf("%s: %s", what, error->message);
    g_signal_emit(self, signals[SIGNAL_SHOW_TOAST], 0, message);
}

// FROM_API: saved from an editor plugin's chat through the local API (marked by an icon).
static GtkWidget *make_row(gint64 id, const char *title, const char *snippet, gboolean from_api)
{
    GtkWidget *row = gtk_list_box_row_new();
    g_object_set_data_full(G_OBJECT(row), row_id_key, g_memdup2(&id, sizeof id), g_free);

    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    if (from_api) {
        GtkWidget *icon = gtk_image_new_from_icon_name("network-server-symbolic");
        gtk_widget_set_tooltip_text(icon, _("Saved from the local API"));
        gtk_accessible_update_property(GTK_ACCESSIBLE(icon), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("Saved from the local API"), -1);
        gtk_widget_add_css_class(icon, "dim-label");
        gtk_box_append(GTK_BOX(box), icon);
    }
    GtkWidget *texts = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
    gtk_widget_set_hexpand(texts, TRUE);
    gtk_widget_set_valign(texts, GTK_ALIGN_CENTER);
    const char *shown = title && *title ? title : _("Untitled conversation");
    GtkWidget *title_label = gtk_label_new(shown);
    gtk_label_set_xalign(GTK_LABEL(title_label), 0);
    gtk_label_set_ellipsize(GTK_LABEL(title_label), PANGO_ELLIPSIZE_END);
    gtk_box_append(GTK_BOX(texts), title_label);
    if (snippet && *snippet && g_strcmp0(snippet, title) != 0) {
        GtkWidget *snippet_label = gtk_label_new(snippet);
        gtk_label_set_xalign(GTK_LABEL(snippet_label), 0);
        gtk_label_set_ellipsize(GTK_LABEL(snippet_label), PANGO_ELLIPSIZE_END);
        gtk_widget_add_css_class(snippet_label, "dim-label");
        gtk_widget_add_css_class(snippet_label, "caption");
        gtk_box_append(GTK_BOX(texts), snippet_label);
    }
    gtk_box_append(GTK_BOX(box), texts);

    g_autoptr(GMenu) menu = g_menu_new();
    g_autoptr(GMenuItem) rename = g_menu_item_new(_("_Rename…"), NULL);
    g_menu_item_set_action_and_target_value(rename, "list.rename", g_variant_new_int64(id));
    g_menu_append_item(menu, rename);
    g_autoptr(GMenuItem) delete = g_menu_item_new(_("_Delete"), NULL);
    g_menu_item_set_action_and_target_value(delete, "list.delete", g_variant_new_int64(id));
    g_menu_append_item(menu, delete);
    GtkWidget *menu_button = gtk_menu_button_new();
    gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(menu_button), "view-more-symbolic");
    gtk_menu_button_set_menu_model(GTK_MENU_BUTTON(menu_button), G_MENU_MODEL(menu));
    gtk_widget_add_css_class(menu_button, "flat");
    gtk_widget_set_valign(menu_button, GTK_ALIGN_CENTER);
    gtk_widget_set_tooltip_text(menu_button, _("Conversation Menu"));
    gtk_accessible_update_property(GTK_ACCESSIBLE(menu_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   _("Conversation Menu"), -1);
    gtk_box_append(GTK_BOX(box), menu_button);

    gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
    return row;
}

static void select_row_of(PonderConversationList *self, gint64 id)
{
    GtkListBoxRow *row = NULL;
    for (int i = 0; id && (row = gtk_list_box_get_row_at_index(self->list_box, i)); i++)
        if (row_get_id(row) == id)
            break;
    if (row)
        gtk_list_box_select_row(self->list_box, row);
    else
        gtk_list_box_unselect_all(self->list_box);
}

void ponder_conversation_list_refresh(PonderConversationList *self)
{
    g_return_if_fail(PONDER_IS_CONVERSATION_LIST(self));
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->list_box))))
        gtk_list_box_remove(self->list_box, child);

    g_autoptr(GError) error = NULL;
    const char *query = gtk_editable_get_text(GTK_EDITABLE(self->search_entry));
    if (query && *query) {
        g_autoptr(GPtrArray) hits = ponder_store_search(self->store, query, SEARCH_LIMIT, &error);
        if (!hits) {
            report(self, _("The search failed"), error);
            return;
        }
        for (guint i = 0; i < hits->len; i++) {
            PonderSearchHit *hit = hits->pdata[i];
            gtk_list_box_append(self->list_box,
                                make_row(hit->conversation_id, hit->title, hit->snippet, FALSE));
        }
    } else {
        g_autoptr(GPtrArray) conversations = ponder_store_list_conversations(self->store, &error);
        if (!conversations) {
            report(self, _("The conversations could not be read"), error);
            return;
        }
        for (guint i = 0; i < conversations->len; i++) {
            PonderConversation *c = conversations->pdata[i];
            gtk_list_box_append(self->list_box, make_row(c->id, c->title, NULL, c->from_api));
        }
    }
    select_row_of(self, self->selected_id);
}

void ponder_conversation_list_select(PonderConversationList *self, gint64 conversation_id)
{
    g_return_if_fail(PONDER_IS_CONVERSATION_LIST(self));
    self->selected_id = conversation_id;
    select_row_of(self, conversation_id);
}

void ponder_conversation_list_set_search(PonderConversationList *self, const char *text)
{
    g_return_if_fail(PONDER_IS_CONVERSATION_LIST(self));
    gtk_editable_set_text(GTK_EDITABLE(self->search_entry), text ? text : "");
    // Search at once rather than after the entry's typing delay.
    ponder_conversation_list_refresh(self);
}

void ponder_conversation_list_focus_search(PonderConversationList *self)
{
    g_return_if_fail(PONDER_IS_CONVERSATION_LIST(self));
    gtk_widget_grab_focus(GTK_WIDGET(self->search_entry));
}

gboolean ponder_conversation_list_rename(PonderConversationList *self, gint64 conversation_id,
                                         const char *title, GError **error)
{
    g_return_val_if_fail(PONDER_IS_CONVERSATION_LIST(self), FALSE);
    if (!ponder_store_rename_conversation(self->store, conversation_id, title, error))
        return FALSE;
    ponder_conversation_list_refresh(self);
    return TRUE;
}

gboolean ponder_conversation_list_delete(PonderConversationList *self, gint64 conversation_id,
                                         GError **error)
{
    g_return_val_if_fail(PONDER_IS_CONVERSATION_LIST(self), FALSE);
    g_autoptr(PonderConversation) conversation =
        ponder_store_get_conversation(self->store, conversation_id, error);
    if (!conversation || !ponder_store_delete_conversation(self->store, conversation_id, error))
        return FALSE;
    if (self->selected_id == conversation_id)
        self->selected_id = 0;
    ponder_conversation_list_refresh(self);
    g_signal_emit(self, signals[SIGNAL_DELETED], 0, conversation_id, conversation->title);
    return TRUE;
}

gboolean ponder_conversation_list_restore(PonderConversationList *self, gint64 conversation_id,
                                          GError **error)
{
    g_return_val_if_fail(PONDER_IS_CONVERSATION_LIST(self), FALSE);
    if (!ponder_store_restore_conversation(self->store, conversation_id, error))
        return FALSE;
    ponder_conversation_list_refresh(self);
    return TRUE;
}

GArray *ponder_conversation_list_get_shown(PonderConversationList *self)
{
    g_return_val_if_fail(PONDER_IS_CONVERSATION_LIST(self), NULL);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    GtkListBoxRow *row;
    for (int i = 0; (row = gtk_list_box_get_row_at_index(self->list_box, i)); i++) {
        gint64 id = row_get_id(row);
        g_array_append_val(ids, id);
    }
    return ids;
}

static void on_search_changed(PonderConversationList *self)
{
    ponder_conversation_list_refresh(self);
}

static void on_stop_search(PonderConversationList *self)
{
    gtk_editable_set_text(GTK_EDITABLE(self->search_entry), "");
}

static void on_row_activated(PonderConversationList *self, GtkListBoxRow *row)
{
    self->selected_id = row_get_id(row);
    g_signal_emit(self, signals[SIGNAL_ACTIVATED], 0, self->selected_id);
}

static void delete_action(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderConversationList *self = PONDER_CONVERSATION_LIST(widget);
    g_autoptr(GError) error = NULL;
    if (!ponder_conversation_list_delete(self, g_variant_get_int64(parameter), &error))
        report(self, _("The conversation could not be deleted"), error);
}

typedef struct {
    PonderConversationList *list; // owned
    GtkEditable *entry;           // borrowed from the dialog
    gint64 id;
} RenameRequest;

static void rename_request_free(gpointer data, GClosure *closure)
{
    RenameRequest *request = data;
    g_object_unref(request->list);
    g_free(request);
}

static void on_rename_response(AdwMessageDialog *dialog, const char *response,
                               RenameRequest *request)
{
    if (!g_str_equal(response, "rename"))
        return;
    g_autofree char *title = g_strstrip(g_strdup(gtk_editable_get_text(request->entry)));
    g_autoptr(GError) error = NULL;
    if (*title && !ponder_conversation_list_rename(request->list, request->id, title, &error))
        report(request->list, _("The conversation could not be renamed"), error);
}

static void rename_action(GtkWidget *widget, const char *name, GVariant *parameter)
{
    PonderConversationList *self = PONDER_CONVERSATION_LIST(widget);
    gint64 id = g_variant_get_int64(parameter);
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderConversation) conversation =
        ponder_store_get_conversation(self->store, id, &error);
    if (!conversation) {
        report(self, _("The conversation could not be renamed"), error);
        return;
    }
    GtkRoot *root = gtk_widget_get_root(widget);
    GtkWidget *dialog = adw_message_dialog_new(GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
                                               _("Rename Conversation"), NULL);
    GtkWidget *entry = gtk_entry_new();
    gtk_editable_set_text(GTK_EDITABLE(entry), conversation->title ? conversation->title : "");
    gtk_entry_set_activates_default(GTK_ENTRY(entry), TRUE);
    adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(dialog), entry);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(dialog), "cancel", _("_Cancel"), "rename",
                                     _("_Rename"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(dialog), "rename",
                                               ADW_RESPONSE_SUGGESTED);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(dialog), "rename");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
    RenameRequest *request = g_new0(RenameRequest, 1);
    request->list = g_object_ref(self);
    request->entry = GTK_EDITABLE(entry);
    request->id = id;
    g_signal_connect_data(dialog, "response", G_CALLBACK(on_rename_response), request,
                          rename_request_free, 0);
    gtk_window_present(GTK_WINDOW(dialog));
}

// Delete and F2 act on the selected row, so the list works without the mouse.
static gboolean on_key_binding(GtkWidget *widget, GVariant *args, gpointer user_data)
{
    PonderConversationList *self = PONDER_CONVERSATION_LIST(widget);
    GtkListBoxRow *row = gtk_list_box_get_selected_row(self->list_box);
    if (!row || !gtk_widget_has_focus(GTK_WIDGET(row)))
        return FALSE;
    gtk_widget_activate_action(widget, g_variant_get_string(args, NULL), "x", row_get_id(row));
    return TRUE;
}

static void ponder_conversation_list_dispose(GObject *object)
{
    PonderConversationList *self = PONDER_CONVERSATION_LIST(object);
    gtk_widget_dispose_template(GTK_WIDGET(self), PONDER_TYPE_CONVERSATION_LIST);
    // Template children without an id are not unparented by dispose_template.
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self))))
        gtk_widget_unparent(child);
    if (self->store)
        g_signal_handlers_disconnect_by_data(self->store, self);
    g_clear_object(&self->store);
    G_OBJECT_CLASS(ponder_conversation_list_parent_class)->dispose(object);
}

static void ponder_conversation_list_class_init(PonderConversationListClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = ponder_conversation_list_dispose;
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BOX_LAYOUT);

    // Linking the bundle in (a static library drops unreferenced objects) registers it.
    ponder_window_get_resource();
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/window/ponder-conversation-list.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderConversationList, search_entry);
    gtk_widget_class_bind_template_child(widget_class, PonderConversationList, list_box);
    gtk_widget_class_bind_template_callback(widget_class, on_search_changed);
    gtk_widget_class_bind_template_callback(widget_class, on_stop_search);
    gtk_widget_class_bind_template_callback(widget_class, on_row_activated);

    gtk_widget_class_install_action(widget_class, "list.rename", "x", rename_action);
    gtk_widget_class_install_action(widget_class, "list.delete", "x", delete_action);
    gtk_widget_class_add_binding(widget_class, GDK_KEY_Delete, 0, on_key_binding, "s",
                                 "list.delete");
    gtk_widget_class_add_binding(widget_class, GDK_KEY_F2, 0, on_key_binding, "s", "list.rename");

    signals[SIGNAL_ACTIVATED] =
        g_signal_new("conversation-activated", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
    signals[SIGNAL_DELETED] =
        g_signal_new("conversation-deleted", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_STRING);
    signals[SIGNAL_SHOW_TOAST] =
        g_signal_new("show-toast", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void ponder_conversation_list_init(PonderConversationList *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    gtk_orientable_set_orientation(GTK_ORIENTABLE(gtk_widget_get_layout_manager(GTK_WIDGET(self))),
                                   GTK_ORIENTATION_VERTICAL);
    GtkWidget *placeholder = gtk_label_new(_("No conversations"));
    gtk_widget_add_css_class(placeholder, "dim-label");
    gtk_widget_set_margin_top(placeholder, 24);
    gtk_list_box_set_placeholder(self->list_box, placeholder);
}

GtkWidget *ponder_conversation_list_new(PonderStore *store)
{
    g_return_val_if_fail(PONDER_IS_STORE(store), NULL);
    PonderConversationList *self = g_object_new(PONDER_TYPE_CONVERSATION_LIST, NULL);
    self->store = g_object_ref(store);
    // Chats that editor plugins hold through the local API arrive without the window.
    g_signal_connect_swapped(store, "api-exchange-saved",
                             G_CALLBACK(ponder_conversation_list_refresh), self);
    ponder_conversation_list_refresh(self);
    return GTK_WIDGET(self);
}
