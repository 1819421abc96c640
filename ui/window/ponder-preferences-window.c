// Every control is bound to its GSettings key, so the window holds no state of its own:
// the application follows the keys (engine, API, library) and applies changes at once.
#include "ponder-preferences-window.h"

#include <glib/gi18n.h>

#include "ponder-remote-group.h"
#include "ponder-secret-store.h"
#include "ponder-window-resources.h"

struct _PonderPreferencesWindow {
    AdwPreferencesWindow parent_instance;

    // Template widgets.
    AdwComboRow *default_model_row;
    AdwComboRow *backend_row;
    GtkAdjustment *gpu_layers_adjustment;
    GtkAdjustment *context_adjustment;
    GtkAdjustment *temperature_adjustment;
    GtkAdjustment *top_p_adjustment;
    GtkAdjustment *port_adjustment;
    GtkSwitch *show_thinking_switch;
    AdwEntryRow *system_prompt_row;
    GtkSwitch *api_switch;
    GtkWidget *port_row;
    GtkWidget *api_key_row;
    GtkWidget *lan_row;
    GtkSwitch *lan_switch;
    GtkWidget *history_row;
    AdwActionRow *network_key_row;
    GtkWidget *no_auth_row;
    GtkSwitch *no_auth_switch;
    GtkSwitch *history_switch;
    AdwPreferencesGroup *folders_group;
    AdwPreferencesGroup *sources_group;

    // Owned references.
    PonderCore *core;
    GSettings *settings;
    GtkStringList *model_slugs; // "" (none) first, then every usable model's slug
    GPtrArray *folder_rows;     // the rows in folders_group, rebuilt on change
    GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE(PonderPreferencesWindow, ponder_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

// The default-model key holds a slug; the combo row an index into model_slugs.
static gboolean model_get_mapping(GValue *value, GVariant *variant, gpointer user_data)
{
    PonderPreferencesWindow *self = user_data;
    const char *slug = g_variant_get_string(variant, NULL);
    guint n = g_list_model_get_n_items(G_LIST_MODEL(self->model_slugs));
    for (guint i = 0; i < n; i++)
        if (g_str_equal(gtk_string_list_get_string(self->model_slugs, i), slug)) {
            g_value_set_uint(value, i);
            return TRUE;
        }
    g_value_set_uint(value, 0);
    return TRUE;
}

static GVariant *model_set_mapping(const GValue *value, const GVariantType *type,
                                   gpointer user_data)
{
    PonderPreferencesWindow *self = user_data;
    const char *slug = gtk_string_list_get_string(self->model_slugs, g_value_get_uint(value));
    return g_variant_new_string(slug ? slug : "");
}

// Backend: the enum's values are the combo row's positions (auto, cuda, vulkan, cpu).
static gboolean backend_get_mapping(GValue *value, GVariant *variant, gpointer user_data)
{
    static const char *const nicks[] = {"auto", "cuda", "vulkan", "cpu"};
    const char *nick = g_variant_get_string(variant, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(nicks); i++)
        if (g_str_equal(nick, nicks[i])) {
            g_value_set_uint(value, i);
            return TRUE;
        }
    return FALSE;
}

static GVariant *backend_set_mapping(const GValue *value, const GVariantType *type,
                                     gpointer user_data)
{
    static const char *const nicks[] = {"auto", "cuda", "vulkan", "cpu"};
    guint i = g_value_get_uint(value);
    return i < G_N_ELEMENTS(nicks) ? g_variant_new_string(nicks[i]) : NULL;
}

static void build_model_list(PonderPreferencesWindow *self)
{
    GtkExpression *expression = gtk_property_expression_new(GTK_TYPE_STRING_OBJECT, NULL, "string");
    self->model_slugs = gtk_string_list_new(NULL);
    GtkStringList *shown = gtk_string_list_new(NULL);
    gtk_string_list_append(self->model_slugs, "");
    gtk_string_list_append(shown, _("None (choose at start)"));
    GListModel *models = ponder_model_library_get_models(ponder_core_get_library(self->core));
    guint n = g_list_model_get_n_items(models);
    for (guint i = 0; i < n; i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(models, i);
        if (!ponder_model_entry_get_usable(entry))
            continue;
        gtk_string_list_append(self->model_slugs, ponder_model_entry_get_slug(entry));
        gtk_string_list_append(shown, ponder_model_entry_get_slug(entry));
    }
    adw_combo_row_set_expression(self->default_model_row, expression);
    adw_combo_row_set_model(self->default_model_row, G_LIST_MODEL(shown));
    g_object_unref(shown);
    gtk_expression_unref(expression);
}

static void on_remove_folder_clicked(GtkButton *button, PonderPreferencesWindow *self)
{
    const char *folder = g_object_get_data(G_OBJECT(button), "ponder-folder");
    g_auto(GStrv) folders = g_settings_get_strv(self->settings, "model-folders");
    g_autoptr(GStrvBuilder) kept = g_strv_builder_new();
    for (guint i = 0; folders[i]; i++)
        if (!g_str_equal(folders[i], folder))
            g_strv_builder_add(kept, folders[i]);
    g_auto(GStrv) result = g_strv_builder_end(kept);
    g_settings_set_strv(self->settings, "model-folders", (const char *const *)result);
}

static void rebuild_folders(PonderPreferencesWindow *self)
{
    for (guint i = 0; i < self->folder_rows->len; i++)
        adw_preferences_group_remove(self->folders_group, self->folder_rows->pdata[i]);
    g_ptr_array_set_size(self->folder_rows, 0);
    g_auto(GStrv) folders = g_settings_get_strv(self->settings, "model-folders");
    for (guint i = 0; folders[i]; i++) {
        GtkWidget *row = adw_action_row_new();
        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), folders[i]);
        GtkWidget *remove = gtk_button_new_from_icon_name("user-trash-symbolic");
        gtk_widget_set_valign(remove, GTK_ALIGN_CENTER);
        gtk_widget_add_css_class(remove, "flat");
        gtk_widget_set_tooltip_text(remove, _("Remove the Folder"));
        gtk_accessible_update_property(GTK_ACCESSIBLE(remove), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("Remove the Folder"), -1);
        g_object_set_data_full(G_OBJECT(remove), "ponder-folder", g_strdup(folders[i]), g_free);
        g_signal_connect(remove, "clicked", G_CALLBACK(on_remove_folder_clicked), self);
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), remove);
        adw_preferences_group_add(self->folders_group, row);
        g_ptr_array_add(self->folder_rows, row);
    }
}

static void build_sources(PonderPreferencesWindow *self)
{
    PonderModelLibrary *library = ponder_core_get_library(self->core);
    for (PonderModelSource source = PONDER_MODEL_SOURCE_OWN; source < PONDER_MODEL_SOURCE_FOLDER;
         source++) {
        g_auto(GStrv) folders = ponder_model_library_get_source_folders(library, source);
        g_autofree char *joined = g_strjoinv("\n", folders);
        GtkWidget *row = adw_action_row_new();
        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row),
                                      ponder_model_source_get_name(source));
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), joined);
        adw_preferences_group_add(self->sources_group, row);
    }
}

static void on_folders_changed(GSettings *settings, const char *key, PonderPreferencesWindow *self)
{
    rebuild_folders(self);
}

static void on_chooser_response(GtkNativeDialog *dialog, int response,
                                PonderPreferencesWindow *self)
{
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        g_autofree char *path = file ? g_file_get_path(file) : NULL;
        g_auto(GStrv) folders = g_settings_get_strv(self->settings, "model-folders");
        if (path && !g_strv_contains((const char *const *)folders, path)) {
            g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
            g_strv_builder_addv(builder, (const char **)folders);
            g_strv_builder_add(builder, path);
            g_auto(GStrv) result = g_strv_builder_end(builder);
            g_settings_set_strv(self->settings, "model-folders", (const char *const *)result);
        }
    }
    g_clear_object(&self->chooser);
}

static void on_add_folder_clicked(PonderPreferencesWindow *self)
{
    if (self->chooser)
        return;
    self->chooser =
        gtk_file_chooser_native_new(_("Add a Model Folder"), GTK_WINDOW(self),
                                    GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Add"), _("_Cancel"));
    g_signal_connect(self->chooser, "response", G_CALLBACK(on_chooser_response), self);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(self->chooser));
}

static void on_reset_clicked(PonderPreferencesWindow *self)
{
    g_settings_reset(self->settings, "temperature");
    g_settings_reset(self->settings, "top-p");
}

// Reachable from the network without a key of the user's: Ponder's own key is shown (made
// now if there is none yet, as the server will need it), and the choice to go without one.
static void update_network_key(PonderPreferencesWindow *self)
{
    g_autofree char *user_key = g_settings_get_string(self->settings, "api-key");
    gboolean network = g_settings_get_boolean(self->settings, "api-allow-lan") && !*user_key;
    gboolean no_auth = g_settings_get_boolean(self->settings, "api-network-no-auth");
    gtk_widget_set_visible(self->no_auth_row, network);
    gtk_widget_set_visible(GTK_WIDGET(self->network_key_row), network && !no_auth);
    if (!network || no_auth)
        return;
    g_autoptr(GError) error = NULL;
    g_autofree char *key = ponder_secret_store_local_api_key(NULL, NULL, &error);
    adw_action_row_set_subtitle(self->network_key_row, key ? key : error->message);
    g_object_set_data_full(G_OBJECT(self->network_key_row), "key", g_steal_pointer(&key), g_free);
}

static void on_api_setting_changed(GSettings *settings, const char *key,
                                   PonderPreferencesWindow *self)
{
    if (g_str_has_prefix(key, "api-"))
        update_network_key(self);
}

static void on_network_key_copy_clicked(GtkButton *button, PonderPreferencesWindow *self)
{
    const char *key = g_object_get_data(G_OBJECT(self->network_key_row), "key");
    if (key)
        gdk_clipboard_set_text(gtk_widget_get_clipboard(GTK_WIDGET(button)), key);
}

static void ponder_preferences_window_dispose(GObject *object)
{
    PonderPreferencesWindow *self = PONDER_PREFERENCES_WINDOW(object);
    if (self->settings)
        g_signal_handlers_disconnect_by_data(self->settings, self);
    if (self->chooser)
        gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(self->chooser));
    g_clear_object(&self->chooser);
    gtk_widget_dispose_template(GTK_WIDGET(self), PONDER_TYPE_PREFERENCES_WINDOW);
    g_clear_pointer(&self->folder_rows, g_ptr_array_unref);
    g_clear_object(&self->model_slugs);
    g_clear_object(&self->settings);
    g_clear_object(&self->core);
    G_OBJECT_CLASS(ponder_preferences_window_parent_class)->dispose(object);
}

static void ponder_preferences_window_class_init(PonderPreferencesWindowClass *klass)
{
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    G_OBJECT_CLASS(klass)->dispose = ponder_preferences_window_dispose;

    // Linking the bundle in (a static library drops unreferenced objects) registers it.
    ponder_window_get_resource();
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/window/ponder-preferences-window.ui");
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, PonderPreferencesWindow, name)
    BIND(default_model_row);
    BIND(backend_row);
    BIND(gpu_layers_adjustment);
    BIND(context_adjustment);
    BIND(temperature_adjustment);
    BIND(top_p_adjustment);
    BIND(port_adjustment);
    BIND(show_thinking_switch);
    BIND(system_prompt_row);
    BIND(api_switch);
    BIND(port_row);
    BIND(api_key_row);
    BIND(lan_row);
    BIND(lan_switch);
    BIND(history_row);
    BIND(network_key_row);
    BIND(no_auth_row);
    BIND(no_auth_switch);
    BIND(history_switch);
    BIND(folders_group);
    BIND(sources_group);
#undef BIND
    gtk_widget_class_bind_template_callback(widget_class, on_reset_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_network_key_copy_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_add_folder_clicked);
}

static void ponder_preferences_window_init(PonderPreferencesWindow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->folder_rows = g_ptr_array_new();
}

GtkWidget *ponder_preferences_window_new(GtkWindow *parent, PonderCore *core, GSettings *settings)
{
    g_return_val_if_fail(PONDER_IS_CORE(core), NULL);
    g_return_val_if_fail(G_IS_SETTINGS(settings), NULL);
    PonderPreferencesWindow *self =
        g_object_new(PONDER_TYPE_PREFERENCES_WINDOW, "transient-for", parent, NULL);
    self->core = g_object_ref(core);
    self->settings = g_object_ref(settings);

    build_model_list(self);
    g_settings_bind_with_mapping(settings, "default-model", self->default_model_row, "selected",
                                 G_SETTINGS_BIND_DEFAULT, model_get_mapping, model_set_mapping,
                                 self, NULL);
    g_settings_bind_with_mapping(settings, "backend", self->backend_row, "selected",
                                 G_SETTINGS_BIND_DEFAULT, backend_get_mapping, backend_set_mapping,
                                 NULL, NULL);
    g_settings_bind(settings, "gpu-layers", self->gpu_layers_adjustment, "value",
                    G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "context-length", self->context_adjustment, "value",
                    G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "temperature", self->temperature_adjustment, "value",
                    G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "top-p", self->top_p_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "show-thinking", self->show_thinking_switch, "active",
                    G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "system-prompt", self->system_prompt_row, "text",
                    G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "api-enabled", self->api_switch, "active", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "api-port", self->port_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "api-key", self->api_key_row, "text", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "api-allow-lan", self->lan_switch, "active", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "api-save-history", self->history_switch, "active",
                    G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(settings, "api-network-no-auth", self->no_auth_switch, "active",
                    G_SETTINGS_BIND_DEFAULT);
    g_signal_connect(settings, "changed", G_CALLBACK(on_api_setting_changed), self);
    update_network_key(self);
    g_object_bind_property(self->api_switch, "active", self->port_row, "sensitive",
                           G_BINDING_SYNC_CREATE);
    g_object_bind_property(self->api_switch, "active", self->api_key_row, "sensitive",
                           G_BINDING_SYNC_CREATE);
    g_object_bind_property(self->api_switch, "active", self->lan_row, "sensitive",
                           G_BINDING_SYNC_CREATE);
    g_object_bind_property(self->api_switch, "active", self->history_row, "sensitive",
                           G_BINDING_SYNC_CREATE);

    // The remote server has a page of its own: it is where models run, beside the local ones.
    AdwPreferencesPage *remote_page = ADW_PREFERENCES_PAGE(adw_preferences_page_new());
    adw_preferences_page_set_title(remote_page, _("Remote Server"));
    adw_preferences_page_set_icon_name(remote_page, "network-workgroup-symbolic");
    adw_preferences_page_add(remote_page,
                             ADW_PREFERENCES_GROUP(ponder_remote_group_new(core, settings)));
    adw_preferences_window_add(ADW_PREFERENCES_WINDOW(self), remote_page);

    rebuild_folders(self);
    build_sources(self);
    g_signal_connect(settings, "changed::model-folders", G_CALLBACK(on_folders_changed), self);
    return GTK_WIDGET(self);
}
