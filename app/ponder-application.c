// Command lines are handled in the primary instance (G_APPLICATION_HANDLES_COMMAND_LINE),
// so `ponder --serve` run twice switches the endpoint on in the process that already owns
// the engine and the database instead of loading the model a second time.
#include "ponder-application.h"

#include <glib-unix.h>
#include <stdio.h>

#include "ponder-core.h"
#include "ponder-secret-store.h"

struct _PonderApplication {
    GApplication parent_instance;

    PonderCore *core; // owned; created by the first command line that needs it
    gboolean held;
};

G_DEFINE_FINAL_TYPE(PonderApplication, ponder_application, G_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
    {"serve", 0, 0, G_OPTION_ARG_NONE, NULL, "Run the local OpenAI/Ollama API without a window",
     NULL},
    {"host", 0, 0, G_OPTION_ARG_STRING, NULL,
     "Address to listen on (default: 127.0.0.1 and ::1 only)", "HOST"},
    {"port", 0, 0, G_OPTION_ARG_INT, NULL,
     "Port (default: 11434 when free, else the next free one)", "PORT"},
    {"model", 0, 0, G_OPTION_ARG_STRING, NULL,
     "Model to load: a name from the library, a prefix, or a GGUF path", "MODEL"},
    {"api-key-file", 0, 0, G_OPTION_ARG_FILENAME, NULL, "Require the bearer key stored in FILE",
     "FILE"},
    {"no-auth", 0, 0, G_OPTION_ARG_NONE, NULL,
     "With a --host beyond this machine: serve the network without an API key (anyone who "
     "reaches the port may use the model)",
     NULL},
    {"save-history", 0, 0, G_OPTION_ARG_NONE, NULL,
     "Save the chats made through the API in Ponder's conversation history", NULL},
    {"backend", 0, 0, G_OPTION_ARG_STRING, NULL, "auto, cuda, vulkan or cpu (default: auto)",
     "BACKEND"},
    {"gpu-layers", 0, 0, G_OPTION_ARG_INT, NULL, "Layers on the GPU (default: all)", "N"},
    {"gpu", 0, 0, G_OPTION_ARG_INT, NULL, "Which GPU, on machines with several (from 0)", "N"},
    {"ctx", 0, 0, G_OPTION_ARG_INT, NULL, "Context length in tokens", "N"},
    {"parallel", 0, 0, G_OPTION_ARG_INT, NULL, "Requests answered at once (default: 4)", "N"},
    {"version", 0, 0, G_OPTION_ARG_NONE, NULL, "Print the version", NULL},
    {NULL},
};

static gboolean parse_backend(const char *name, PonderBackendChoice *out)
{
    static const char *const names[] = {"auto", "cuda", "vulkan", "cpu"};
    for (guint i = 0; i < G_N_ELEMENTS(names); i++)
        if (g_ascii_strcasecmp(name, names[i]) == 0) {
            *out = (PonderBackendChoice)i;
            return TRUE;
        }
    return FALSE;
}

gboolean ponder_application_apply_engine_options(GVariantDict *options,
                                                 PonderEngineSettings *settings, GError **error)
{
    const char *backend = NULL;
    gint32 value;
    if (g_variant_dict_lookup(options, "backend", "&s", &backend) &&
        !parse_backend(backend, &settings->backend)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--backend must be auto, cuda, vulkan or cpu, not \"%s\"", backend);
        return FALSE;
    }
    if (g_variant_dict_lookup(options, "gpu-layers", "i", &value))
        settings->gpu_layers = value;
    if (g_variant_dict_lookup(options, "gpu", "i", &value))
        settings->gpu_device = value;
    if (g_variant_dict_lookup(options, "ctx", "i", &value)) {
        if (value < 16) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--ctx must be at least 16 tokens");
            return FALSE;
        }
        settings->n_ctx = (guint)value;
    }
    if (g_variant_dict_lookup(options, "parallel", "i", &value)) {
        if (value < 1 || value > 256) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--parallel must be 1 to 256");
            return FALSE;
        }
        settings->n_parallel = (guint)value;
    }
    return TRUE;
}

static gboolean engine_settings_from_options(GVariantDict *options, PonderEngineSettings *settings,
                                             GError **error)
{
    ponder_engine_settings_init(settings);
    return ponder_application_apply_engine_options(options, settings, error);
}

gboolean ponder_application_host_is_loopback(const char *host)
{
    if (g_ascii_strcasecmp(host, "localhost") == 0)
        return TRUE;
    g_autoptr(GInetAddress) address = g_inet_address_new_from_string(host);
    return address && g_inet_address_get_is_loopback(address);
}

static char *read_api_key(const char *path, GError **error)
{
    g_autofree char *contents = NULL;
    if (!g_file_get_contents(path, &contents, NULL, error))
        return NULL;
    g_strstrip(contents);
    if (!*contents) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the API key file %s is empty",
                    path);
        return NULL;
    }
    return g_steal_pointer(&contents);
}

static int serve(PonderApplication *self, GApplicationCommandLine *cmdline, GVariantDict *options)
{
    g_autoptr(GError) error = NULL;
    if (!self->core) {
        PonderEngineSettings settings;
        if (!engine_settings_from_options(options, &settings, &error) ||
            !(self->core = ponder_core_new(&settings, &error))) {
            g_application_command_line_printerr(cmdline, "ponder: %s\n", error->message);
            return 1;
        }
    }
    int status = ponder_application_serve_core(self->core, cmdline, options);
    if (status == 0 && !self->held) {
        self->held = TRUE;
        g_application_hold(G_APPLICATION(self));
    }
    return status;
}

int ponder_application_serve_core(PonderCore *core, GApplicationCommandLine *cmdline,
                                  GVariantDict *options)
{
    g_autoptr(GError) error = NULL;
    const char *model = NULL;
    if (g_variant_dict_lookup(options, "model", "&s", &model) &&
        !ponder_core_choose_model(core, model, &error)) {
        g_application_command_line_printerr(cmdline, "ponder: %s\n", error->message);
        return 1;
    }

    // The store goes along in any case, so that a later `--serve --save-history` (or the
    // window's Preferences) can switch saving on in this server.
    gboolean save_history = g_variant_dict_contains(options, "save-history");
    PonderApiServerOptions api_options = {
        .history_store = ponder_core_get_store(core),
        .save_history = save_history,
    };
    const char *host = NULL, *key_file = NULL;
    gint32 port = 0;
    g_autofree char *key = NULL;
    if (g_variant_dict_lookup(options, "host", "&s", &host)) {
        api_options.host = host;
        // Any address but loopback is the user's explicit choice to allow the LAN.
        api_options.allow_lan = !ponder_application_host_is_loopback(host);
    }
    if (g_variant_dict_lookup(options, "port", "i", &port)) {
        if (port < 1 || port > 65535) {
            g_application_command_line_printerr(cmdline, "ponder: --port must be 1 to 65535\n");
            return 1;
        }
        api_options.port = (guint)port;
    }
    if (g_variant_dict_lookup(options, "api-key-file", "^&ay", &key_file)) {
        if (!(key = read_api_key(key_file, &error))) {
            g_application_command_line_printerr(cmdline, "ponder: %s\n", error->message);
            return 1;
        }
        api_options.api_key = key;
    }
    gboolean no_auth = g_variant_dict_contains(options, "no-auth");
    gboolean running = ponder_core_get_api(core) != NULL;
    // Beyond loopback, a key unless --no-auth says otherwise: Ponder's own, made once.
    if (api_options.allow_lan && !api_options.api_key && !no_auth && !running) {
        gboolean created = FALSE;
        PonderSecretPlace where = PONDER_SECRET_PLACE_FILE;
        if (!(key = ponder_secret_store_local_api_key(&created, &where, &error))) {
            g_application_command_line_printerr(
                cmdline,
                "ponder: the API listens beyond this machine and needs a key, but none could be "
                "kept: %s (pass --api-key-file FILE, or --no-auth to serve without one)\n",
                error->message);
            return 1;
        }
        api_options.api_key = key;
        g_autofree char *hint = ponder_secret_store_local_api_key_hint(where);
        g_application_command_line_print(
            cmdline,
            "The API is reachable from the network, so requests need %s API key "
            "(\"Authorization: Bearer KEY\"); %s\n",
            created ? "a new" : "Ponder's", hint);
    }
    PonderApiServer *api = ponder_core_start_api(core, &api_options, &error);
    if (!api) {
        g_application_command_line_printerr(cmdline, "ponder: the local API could not start: %s\n",
                                            error->message);
        return 1;
    }
    // A running server keeps its options, but --save-history given to it switches saving
    // on (never off: the window's switch, or a restart, does that).
    if (save_history && !ponder_api_server_get_save_history(api))
        ponder_api_server_set_save_history(api, TRUE);
    g_application_command_line_print(
        cmdline, "Ponder %s the OpenAI and Ollama APIs on port %u%s\n",
        running ? "already serves" : "serves", ponder_api_server_get_port(api),
        api_options.allow_lan ? " (reachable from the network)" : " (this machine only)");
    if (api_options.allow_lan && !api_options.api_key && !running)
        g_application_command_line_print(cmdline,
                                         "Warning: --no-auth: anyone who can reach port %u of "
                                         "this machine may use the API without a key\n",
                                         ponder_api_server_get_port(api));
    if (ponder_api_server_get_save_history(api))
        g_application_command_line_print(
            cmdline, "Chats made through the API are saved in Ponder's conversation history\n");
    return 0;
}

static int ponder_application_command_line(GApplication *app, GApplicationCommandLine *cmdline)
{
    PonderApplication *self = PONDER_APPLICATION(app);
    GVariantDict *options = g_application_command_line_get_options_dict(cmdline);
    if (g_variant_dict_contains(options, "version")) {
        g_application_command_line_print(cmdline, "ponder %s\n", PONDER_VERSION);
        return 0;
    }
    if (g_variant_dict_contains(options, "serve"))
        return serve(self, cmdline, options);
    g_application_command_line_printerr(cmdline,
                                        "ponder: no window can open here (no display); run "
                                        "`ponder --serve` for the local API\n");
    return 1;
}

static gboolean on_terminate(gpointer data)
{
    g_application_quit(G_APPLICATION(data));
    return G_SOURCE_CONTINUE;
}

static void ponder_application_startup(GApplication *app)
{
    G_APPLICATION_CLASS(ponder_application_parent_class)->startup(app);
    // Stop cleanly (the engine thread joined, the database closed) on Ctrl+C or a service stop.
    g_unix_signal_add(SIGINT, on_terminate, app);
    g_unix_signal_add(SIGTERM, on_terminate, app);
}

static void ponder_application_shutdown(GApplication *app)
{
    PonderApplication *self = PONDER_APPLICATION(app);
    g_clear_object(&self->core);
    G_APPLICATION_CLASS(ponder_application_parent_class)->shutdown(app);
}

static void ponder_application_class_init(PonderApplicationClass *klass)
{
    GApplicationClass *app_class = G_APPLICATION_CLASS(klass);
    app_class->command_line = ponder_application_command_line;
    app_class->startup = ponder_application_startup;
    app_class->shutdown = ponder_application_shutdown;
}

void ponder_application_add_options(GApplication *application)
{
    g_application_add_main_option_entries(application, option_entries);
}

static void ponder_application_init(PonderApplication *self)
{
    ponder_application_add_options(G_APPLICATION(self));
}

PonderApplication *ponder_application_new(void)
{
    GApplicationFlags flags = G_APPLICATION_HANDLES_COMMAND_LINE;
    // Without a session bus there is no one to hand over to: run as a separate instance.
    g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, NULL);
    if (!bus) {
        g_message("no session bus: this process runs on its own (a second one would load the model "
                  "again)");
        flags |= G_APPLICATION_NON_UNIQUE;
    }
    return g_object_new(PONDER_TYPE_APPLICATION, "application-id", PONDER_APPLICATION_ID, "flags",
                        flags, NULL);
}
