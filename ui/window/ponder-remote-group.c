// The URL is saved and the key stored only once the server has answered with its models,
// so a typo never replaces a working setup.
#include "ponder-remote-group.h"

#include <glib/gi18n.h>

#include "ponder-remote-provider.h"
#include "ponder-secret-store.h"
#include "ponder-window-resources.h"

struct _PonderRemoteGroup {
    AdwPreferencesGroup parent_instance;

    // Template widgets.
    AdwEntryRow *url_row;
    AdwPasswordEntryRow *key_row;
    AdwActionRow *status_row;
    GtkSpinner *spinner;
    GtkButton *connect_button;
    GtkButton *forget_button;

    // Owned references.
    PonderCore *core;
    GSettings *settings;
    GCancellable *cancellable; // the Connect in progress
};

G_DEFINE_FINAL_TYPE(PonderRemoteGroup, ponder_remote_group, ADW_TYPE_PREFERENCES_GROUP)

static void set_status(PonderRemoteGroup *self, const char *title, const char *subtitle)
{
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(self->status_row), title);
    adw_action_row_set_subtitle(self->status_row, subtitle ? subtitle : "");
}

static void set_busy(PonderRemoteGroup *self, gboolean busy)
{
    gtk_widget_set_visible(GTK_WIDGET(self->spinner), busy);
    gtk_spinner_set_spinning(self->spinner, busy);
    gtk_widget_set_sensitive(GTK_WIDGET(self->connect_button), !busy);
}

// "3 models: a, b, c".
static char *describe_models(PonderRemoteProvider *provider)
{
    const char *const *models = ponder_remote_provider_get_models(provider);
    guint n = g_strv_length((char **)models);
    g_autofree char *list = g_strjoinv(", ", (char **)models);
    if (!n)
        return g_strdup(_("The server lists no models"));
    return g_strdup_printf(ngettext("%u model: %s", "%u models: %s", n), n, list);
}

static void show_connected(PonderRemoteGroup *self)
{
    PonderRemoteProvider *provider =
        ponder_engine_get_remote_provider(ponder_core_get_engine(self->core));
    gtk_widget_set_sensitive(GTK_WIDGET(self->forget_button), provider != NULL);
    if (!provider) {
        set_status(self, _("Not connected"), NULL);
        return;
    }
    g_autofree char *title =
        g_strdup_printf(_("Connected to %s"), ponder_remote_provider_get_base_url(provider));
    g_autofree char *models = describe_models(provider);
    set_status(self, title, models);
}

typedef struct {
    PonderRemoteGroup *group; // owned
    char *key;                // NULL: none
} Connect;

static void connected(GObject *source, GAsyncResult *result, gpointer data)
{
    Connect *c = data;
    PonderRemoteGroup *self = c->group;
    PonderRemoteProvider *provider = PONDER_REMOTE_PROVIDER(source);
    g_autoptr(GError) error = NULL;
    gboolean ok = ponder_remote_provider_refresh_finish(provider, result, &error);
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        set_busy(self, FALSE);
        if (!ok) {
            set_status(self, _("Could not connect"), error->message);
        } else {
            const char *url = ponder_remote_provider_get_base_url(provider);
            // The key of a server used before goes when another one replaces it.
            g_autofree char *previous = g_settings_get_string(self->settings, "remote-url");
            if (*previous && g_strcmp0(previous, url) != 0)
                ponder_secret_store_clear(previous, NULL);
            g_autoptr(GError) key_error = NULL;
            PonderSecretPlace place = PONDER_SECRET_PLACE_KEYRING;
            gboolean key_ok = c->key ? ponder_secret_store_save(url, c->key, &place, &key_error)
                                     : ponder_secret_store_clear(url, &key_error);
            g_settings_set_string(self->settings, "remote-url", url);
            ponder_engine_set_remote_provider(ponder_core_get_engine(self->core), provider);
            show_connected(self);
            // The key's place is said once, now: a file instead of the keyring is worth knowing.
            g_autofree char *models = describe_models(provider);
            g_autofree char *subtitle = NULL;
            if (!key_ok)
                subtitle = g_strdup_printf(_("%s. The key could not be stored (%s): enter it "
                                             "again after a restart."),
                                           models, key_error->message);
            else if (c->key && place == PONDER_SECRET_PLACE_FILE)
                subtitle = g_strdup_printf(_("%s. No keyring is running: the key is kept in a "
                                             "file only you can read."),
                                           models);
            if (subtitle)
                adw_action_row_set_subtitle(self->status_row, subtitle);
        }
    }
    g_object_unref(c->group);
    g_free(c->key);
    g_free(c);
}

static void on_connect_clicked(PonderRemoteGroup *self)
{
    const char *url = gtk_editable_get_text(GTK_EDITABLE(self->url_row));
    const char *key = gtk_editable_get_text(GTK_EDITABLE(self->key_row));
    g_autoptr(GError) error = NULL;
    g_autoptr(PonderRemoteProvider) provider = ponder_remote_provider_new(url, key, &error);
    if (!provider) {
        set_status(self, _("Could not connect"), error->message);
        return;
    }
    g_cancellable_cancel(self->cancellable);
    g_clear_object(&self->cancellable);
    self->cancellable = g_cancellable_new();
    set_busy(self, TRUE);
    set_status(self, _("Connecting…"), ponder_remote_provider_get_base_url(provider));
    Connect *c = g_new0(Connect, 1);
    c->group = g_object_ref(self);
    c->key = *key ? g_strdup(key) : NULL;
    ponder_remote_provider_refresh_async(provider, self->cancellable, connected, c);
}

static void on_forget_clicked(PonderRemoteGroup *self)
{
    // A Connect still waiting for its answer must not bring the server back.
    g_cancellable_cancel(self->cancellable);
    set_busy(self, FALSE);
    PonderEngine *engine = ponder_core_get_engine(self->core);
    PonderRemoteProvider *provider = ponder_engine_get_remote_provider(engine);
    if (provider) {
        g_autoptr(GError) error = NULL;
        if (!ponder_secret_store_clear(ponder_remote_provider_get_base_url(provider), &error))
            g_warning("could not remove the remote server's key: %s", error->message);
    }
    // A remote model in use goes with its server.
    g_autofree char *remote_id = ponder_remote_model_id(ponder_engine_get_model_path(engine));
    if (remote_id)
        ponder_engine_set_model(engine, NULL);
    ponder_engine_set_remote_provider(engine, NULL);
    g_settings_set_string(self->settings, "remote-url", "");
    gtk_editable_set_text(GTK_EDITABLE(self->key_row), "");
    show_connected(self);
}

static void ponder_remote_group_dispose(GObject *object)
{
    PonderRemoteGroup *self = PONDER_REMOTE_GROUP(object);
    g_cancellable_cancel(self->cancellable);
    g_clear_object(&self->cancellable);
    gtk_widget_dispose_template(GTK_WIDGET(self), PONDER_TYPE_REMOTE_GROUP);
    g_clear_object(&self->core);
    g_clear_object(&self->settings);
    G_OBJECT_CLASS(ponder_remote_group_parent_class)->dispose(object);
}

static void ponder_remote_group_class_init(PonderRemoteGroupClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = ponder_remote_group_dispose;
    ponder_window_get_resource();
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/window/ponder-remote-group.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderRemoteGroup, url_row);
    gtk_widget_class_bind_template_child(widget_class, PonderRemoteGroup, key_row);
    gtk_widget_class_bind_template_child(widget_class, PonderRemoteGroup, status_row);
    gtk_widget_class_bind_template_child(widget_class, PonderRemoteGroup, spinner);
    gtk_widget_class_bind_template_child(widget_class, PonderRemoteGroup, connect_button);
    gtk_widget_class_bind_template_child(widget_class, PonderRemoteGroup, forget_button);
    gtk_widget_class_bind_template_callback(widget_class, on_connect_clicked);
    gtk_widget_class_bind_template_callback(widget_class, on_forget_clicked);
}

static void ponder_remote_group_init(PonderRemoteGroup *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
}

GtkWidget *ponder_remote_group_new(PonderCore *core, GSettings *settings)
{
    PonderRemoteGroup *self = g_object_new(PONDER_TYPE_REMOTE_GROUP, NULL);
    self->core = g_object_ref(core);
    self->settings = g_object_ref(settings);
    g_autofree char *url = g_settings_get_string(settings, "remote-url");
    gtk_editable_set_text(GTK_EDITABLE(self->url_row), url);
    if (*url) {
        g_autoptr(GError) error = NULL;
        g_autofree char *key = ponder_secret_store_lookup(url, &error);
        if (key)
            gtk_editable_set_text(GTK_EDITABLE(self->key_row), key);
        else if (error)
            g_warning("could not read the remote server's key: %s", error->message);
    }
    show_connected(self);
    return GTK_WIDGET(self);
}

static void restored(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    if (!ponder_remote_provider_refresh_finish(PONDER_REMOTE_PROVIDER(source), result, &error))
        g_message("the remote server does not answer now: %s", error->message);
}

void ponder_remote_group_restore(PonderCore *core, GSettings *settings)
{
    g_autofree char *url = g_settings_get_string(settings, "remote-url");
    if (!*url)
        return;
    g_autoptr(GError) error = NULL;
    g_autofree char *key = ponder_secret_store_lookup(url, &error);
    if (error)
        g_warning("could not read the remote server's key: %s", error->message);
    g_clear_error(&error);
    g_autoptr(PonderRemoteProvider) provider = ponder_remote_provider_new(url, key, &error);
    if (!provider) {
        g_warning("the saved remote server is not usable: %s", error->message);
        return;
    }
    ponder_engine_set_remote_provider(ponder_core_get_engine(core), provider);
    ponder_remote_provider_refresh_async(provider, NULL, restored, NULL);
}
