// The command line runs in the primary instance (as in the headless application), so a
// second `ponder` or `ponder --serve` reaches the process that already owns the engine and
// the database. Settings are read once into the core and then followed: a change in the
// preferences reaches the engine (from its next load), the API and the library at once.
#include "ponder-ui-application.h"

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "ponder-application.h"
#include "ponder-preferences-window.h"
#include "ponder-remote-group.h"
#include "ponder-secret-store.h"
#include "ponder-window.h"

struct _PonderUiApplication {
    AdwApplication parent_instance;

    // Owned references.
    GSettings *settings;
    PonderCore *core;

    gboolean serving_held; // held for --serve, so closing the last window keeps the API up
    guint sigint_source, sigterm_source;
};

G_DEFINE_FINAL_TYPE(PonderUiApplication, ponder_ui_application, ADW_TYPE_APPLICATION)

GSettings *ponder_ui_settings_new(void)
{
    GSettingsSchemaSource *source = g_settings_schema_source_get_default();
    g_autoptr(GSettingsSchema) schema =
        source ? g_settings_schema_source_lookup(source, PONDER_SETTINGS_SCHEMA_ID, TRUE) : NULL;
    return schema ? g_settings_new_full(schema, NULL, NULL) : NULL;
}

void ponder_ui_engine_settings_from_gsettings(GSettings *settings, PonderEngineSettings *out)
{
    ponder_engine_settings_init(out);
    out->backend = (PonderBackendChoice)g_settings_get_enum(settings, "backend");
    out->gpu_layers = g_settings_get_int(settings, "gpu-layers");
    out->gpu_device = g_settings_get_int(settings, "gpu-device");
    out->n_ctx = (guint)g_settings_get_int(settings, "context-length");
    out->n_parallel = (guint)g_settings_get_int(settings, "parallel");
    out->n_threads = (guint)g_settings_get_int(settings, "cpu-threads");
    out->max_answer_tokens = (guint)g_settings_get_int(settings, "max-answer-tokens");
    out->idle_unload_seconds = (guint)g_settings_get_int(settings, "idle-unload-seconds");
}

static void show_error(PonderUiApplication *self, const char *what, const GError *error)
{
    GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(self));
    GtkWidget *dialog = adw_message_dialog_new(window, what, error->message);
    adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(dialog), "close", _("_Close"));
    gtk_window_present(GTK_WINDOW(dialog));
}

// The API follows its settings: on with the port, key and LAN choice, off otherwise.
static void apply_api_settings(PonderUiApplication *self)
{
    ponder_core_stop_api(self->core);
    if (!g_settings_get_boolean(self->settings, "api-enabled"))
        return;
    g_autofree char *key = g_settings_get_string(self->settings, "api-key");
    gboolean allow_lan = g_settings_get_boolean(self->settings, "api-allow-lan");
    // The network without a key of the user's: Ponder's own (shown in Preferences), unless
    // the user chose to serve it without one.
    if (allow_lan && !*key && !g_settings_get_boolean(self->settings, "api-network-no-auth")) {
        g_autoptr(GError) key_error = NULL;
        g_autofree char *own = ponder_secret_store_local_api_key(NULL, NULL, &key_error);
        if (!own) {
            show_error(self, _("The local API needs a key on the network, and none could be kept"),
                       key_error);
            return;
        }
        g_free(key);
        key = g_steal_pointer(&own);
    }
    PonderApiServerOptions options = {
        .port = (guint)g_settings_get_int(self->settings, "api-port"),
        .allow_lan = allow_lan,
        .api_key = *key ? key : NULL,
        .history_store = ponder_core_get_store(self->core),
        .save_history = g_settings_get_boolean(self->settings, "api-save-history"),
    };
    g_autoptr(GError) error = NULL;
    if (!ponder_core_start_api(self->core, &options, &error))
        show_error(self, _("The local API could not start"), error);
}

static void on_scan_finished(GObject *source, GAsyncResult *result, gpointer user_data)
{
    ponder_model_library_scan_finish(PONDER_MODEL_LIBRARY(source), result, NULL);
}

static void on_settings_changed(GSettings *settings, const char *key, PonderUiApplication *self)
{
    if (!self->core)
        return;
    if (g_str_equal(key, "api-save-history")) {
        // Switched live: the server keeps running, and its clients their connections.
        PonderApiServer *api = ponder_core_get_api(self->core);
        if (api)
            ponder_api_server_set_save_history(api, g_settings_get_boolean(settings, key));
    } else if (g_str_has_prefix(key, "api-")) {
        apply_api_settings(self);
    } else if (g_str_equal(key, "model-folders")) {
        g_auto(GStrv) folders = g_settings_get_strv(settings, "model-folders");
        PonderModelLibrary *library = ponder_core_get_library(self->core);
        ponder_model_library_set_folders(library, (const char *const *)folders);
        ponder_model_library_scan_async(library, NULL, on_scan_finished, NULL);
    } else if (g_str_equal(key, "backend") || g_str_equal(key, "gpu-layers") ||
               g_str_equal(key, "gpu-device") || g_str_equal(key, "context-length") ||
               g_str_equal(key, "parallel") || g_str_equal(key, "cpu-threads") ||
               g_str_equal(key, "max-answer-tokens") || g_str_equal(key, "idle-unload-seconds")) {
        PonderEngineSettings engine_settings;
        ponder_ui_engine_settings_from_gsettings(settings, &engine_settings);
        ponder_engine_set_settings(ponder_core_get_engine(self->core), &engine_settings);
    }
}

// Creates the core on first need: settings from GSettings, overridden by the command line.
static gboolean ensure_core(PonderUiApplication *self, GVariantDict *options, GError **error)
{
    if (self->core)
        return TRUE;
    PonderEngineSettings engine_settings;
    ponder_ui_engine_settings_from_gsettings(self->settings, &engine_settings);
    if (options && !ponder_application_apply_engine_options(options, &engine_settings, error))
        return FALSE;

    // The library must know the user's folders before the core's first scan.
    g_auto(GStrv) folders = g_settings_get_strv(self->settings, "model-folders");
    PonderCore *core = ponder_core_new(&engine_settings, error);
    if (!core)
        return FALSE;
    self->core = core;
    PonderModelLibrary *library = ponder_core_get_library(core);
    if (folders[0]) {
        ponder_model_library_set_folders(library, (const char *const *)folders);
        ponder_model_library_scan_sync(library, NULL, NULL);
    }
    // Conversations deleted while a window was open are gone once it closed; a crash may
    // have left some in the trash.
    ponder_store_purge_deleted(ponder_core_get_store(core), NULL);
    ponder_remote_group_restore(core, self->settings);

    g_autofree char *model = g_settings_get_string(self->settings, "default-model");
    if (*model) {
        g_autoptr(GError) model_error = NULL;
        if (!ponder_core_choose_model(core, model, &model_error))
            g_message("the default model is not available: %s", model_error->message);
    }
    apply_api_settings(self);
    return TRUE;
}

static void ponder_ui_application_activate(GApplication *app)
{
    PonderUiApplication *self = PONDER_UI_APPLICATION(app);
    g_autoptr(GError) error = NULL;
    if (!self->settings)
        return;
    if (!ensure_core(self, NULL, &error)) {
        g_printerr("ponder: %s\n", error->message);
        return;
    }
    GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(app));
    if (!window)
        window = GTK_WINDOW(ponder_window_new(ADW_APPLICATION(app), self->core));
    gtk_window_present(window);
}

static int ponder_ui_application_command_line(GApplication *app, GApplicationCommandLine *cmdline)
{
    PonderUiApplication *self = PONDER_UI_APPLICATION(app);
    GVariantDict *options = g_application_command_line_get_options_dict(cmdline);
    if (g_variant_dict_contains(options, "version")) {
        g_application_command_line_print(cmdline, "ponder %s\n", PONDER_VERSION);
        return 0;
    }
    if (!self->settings) {
        g_application_command_line_printerr(
            cmdline,
            "ponder: the settings schema %s is not installed (run glib-compile-schemas, "
            "or set GSETTINGS_SCHEMA_DIR)\n",
            PONDER_SETTINGS_SCHEMA_ID);
        return 1;
    }
    g_autoptr(GError) error = NULL;
    if (!ensure_core(self, options, &error)) {
        g_application_command_line_printerr(cmdline, "ponder: %s\n", error->message);
        return 1;
    }
    if (g_variant_dict_contains(options, "serve")) {
        int status = ponder_application_serve_core(self->core, cmdline, options);
        if (status == 0 && !self->serving_held) {
            self->serving_held = TRUE;
            g_application_hold(app);
        }
        return status;
    }
    const char *model = NULL;
    if (g_variant_dict_lookup(options, "model", "&s", &model) &&
        !ponder_core_choose_model(self->core, model, &error)) {
        g_application_command_line_printerr(cmdline, "ponder: %s\n", error->message);
        return 1;
    }
    g_application_activate(app);
    return 0;
}

static void new_chat_activated(GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
    GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(user_data));
    if (window)
        gtk_widget_activate_action(GTK_WIDGET(window), "win.new-chat", NULL);
    else
        g_application_activate(G_APPLICATION(user_data));
}

static void search_activated(GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
    GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(user_data));
    if (window)
        gtk_widget_activate_action(GTK_WIDGET(window), "win.search", NULL);
}

static void preferences_activated(GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
    PonderUiApplication *self = PONDER_UI_APPLICATION(user_data);
    if (!self->core)
        return;
    GtkWindow *parent = gtk_application_get_active_window(GTK_APPLICATION(self));
    GtkWidget *preferences = ponder_preferences_window_new(parent, self->core, self->settings);
    gtk_window_set_application(GTK_WINDOW(preferences), GTK_APPLICATION(self));
    gtk_window_present(GTK_WINDOW(preferences));
}

static void about_activated(GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
    static const char *const developers[] = {"The Ponder developers", NULL};
    GtkWindow *parent = gtk_application_get_active_window(GTK_APPLICATION(user_data));
    GtkWidget *about = adw_about_window_new();
    g_object_set(about, "transient-for", parent, "application-name", _("Ponder"),
                 "application-icon", PONDER_APPLICATION_ID, "developer-name",
                 _("The Ponder developers"), "developers", developers, "version", PONDER_VERSION,
                 "comments", _("Chat with DeepSeek-R1 models that run on this computer."),
                 "license-type", GTK_LICENSE_GPL_3_0, "translator-credits", _("translator-credits"),
                 NULL);
    gtk_window_present(GTK_WINDOW(about));
}

static void quit_activated(GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
    // Closing each window first lets it save its size and purge the trash.
    GList *windows = g_list_copy(gtk_application_get_windows(GTK_APPLICATION(user_data)));
    for (GList *l = windows; l; l = l->next)
        gtk_window_close(GTK_WINDOW(l->data));
    g_list_free(windows);
    g_application_quit(G_APPLICATION(user_data));
}

// Ctrl+C in the terminal or a session logout: quit as the menu does (windows closed, the
// engine thread joined, the database closed).
static gboolean on_terminate(gpointer user_data)
{
    g_action_group_activate_action(G_ACTION_GROUP(user_data), "quit", NULL);
    return G_SOURCE_CONTINUE;
}

static const GActionEntry app_actions[] = {
    {.name = "new-chat", .activate = new_chat_activated},
    {.name = "search", .activate = search_activated},
    {.name = "preferences", .activate = preferences_activated},
    {.name = "about", .activate = about_activated},
    {.name = "quit", .activate = quit_activated},
};

static void ponder_ui_application_startup(GApplication *app)
{
    PonderUiApplication *self = PONDER_UI_APPLICATION(app);
    G_APPLICATION_CLASS(ponder_ui_application_parent_class)->startup(app);

    g_action_map_add_action_entries(G_ACTION_MAP(app), app_actions, G_N_ELEMENTS(app_actions), app);
    static const struct {
        const char *action;
        const char *accels[2];
    } accels[] = {
        {"app.new-chat", {"<Control>n", NULL}},
        {"app.search", {"<Control>f", NULL}},
        {"app.quit", {"<Control>q", NULL}},
        {"app.preferences", {"<Control>comma", NULL}},
    };
    for (guint i = 0; i < G_N_ELEMENTS(accels); i++)
        gtk_application_set_accels_for_action(GTK_APPLICATION(app), accels[i].action,
                                              accels[i].accels);

    self->sigint_source = g_unix_signal_add(SIGINT, on_terminate, app);
    self->sigterm_source = g_unix_signal_add(SIGTERM, on_terminate, app);

    // Without the schema the app cannot keep settings; the command line says so and exits.
    self->settings = ponder_ui_settings_new();
    if (self->settings) {
        g_signal_connect(self->settings, "changed", G_CALLBACK(on_settings_changed), self);
    }
}

static void ponder_ui_application_shutdown(GApplication *app)
{
    PonderUiApplication *self = PONDER_UI_APPLICATION(app);
    if (self->core)
        ponder_store_purge_deleted(ponder_core_get_store(self->core), NULL);
    g_clear_handle_id(&self->sigint_source, g_source_remove);
    g_clear_handle_id(&self->sigterm_source, g_source_remove);
    G_APPLICATION_CLASS(ponder_ui_application_parent_class)->shutdown(app);
    g_clear_object(&self->core);
    if (self->settings)
        g_signal_handlers_disconnect_by_data(self->settings, self);
    g_clear_object(&self->settings);
}

static void ponder_ui_application_class_init(PonderUiApplicationClass *klass)
{
    GApplicationClass *app_class = G_APPLICATION_CLASS(klass);
    app_class->activate = ponder_ui_application_activate;
    app_class->command_line = ponder_ui_application_command_line;
    app_class->startup = ponder_ui_application_startup;
    app_class->shutdown = ponder_ui_application_shutdown;
}

static void ponder_ui_application_init(PonderUiApplication *self)
{
    ponder_application_add_options(G_APPLICATION(self));
}

PonderUiApplication *ponder_ui_application_new(void)
{
    GApplicationFlags flags = G_APPLICATION_HANDLES_COMMAND_LINE;
    g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, NULL);
    if (!bus)
        flags |= G_APPLICATION_NON_UNIQUE;
    // The bundle holds gtk/help-overlay.ui, which GtkApplication finds under this path.
    return g_object_new(PONDER_TYPE_UI_APPLICATION, "application-id", PONDER_APPLICATION_ID,
                        "flags", flags, "resource-base-path", "/io/github/ponder_app/Ponder/window",
                        NULL);
}

PonderCore *ponder_ui_application_get_core(PonderUiApplication *self)
{
    g_return_val_if_fail(PONDER_IS_UI_APPLICATION(self), NULL);
    return self->core;
}

GSettings *ponder_ui_application_get_settings(PonderUiApplication *self)
{
    g_return_val_if_fail(PONDER_IS_UI_APPLICATION(self), NULL);
    return self->settings;
}
