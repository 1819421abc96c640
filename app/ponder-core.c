// PonderCore: a holder for the long-lived objects, created once at startup. The model
// library is scanned synchronously here: only headers are read, and a server that starts
// before it knows its models would answer /v1/models wrongly.
#include "ponder-core.h"

struct _PonderCore {
    GObject parent_instance;

    // Owned references.
    PonderStore *store;
    PonderModelLibrary *library;
    PonderEngine *engine;
    PonderApiServer *api;
};

G_DEFINE_FINAL_TYPE(PonderCore, ponder_core, G_TYPE_OBJECT)

static void ponder_core_dispose(GObject *object)
{
    PonderCore *self = PONDER_CORE(object);
    ponder_core_stop_api(self);
    g_clear_object(&self->engine);
    g_clear_object(&self->library);
    g_clear_object(&self->store);
    G_OBJECT_CLASS(ponder_core_parent_class)->dispose(object);
}

static void ponder_core_class_init(PonderCoreClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = ponder_core_dispose;
}

static void ponder_core_init(PonderCore *self) {}

PonderCore *ponder_core_new(const PonderEngineSettings *settings, GError **error)
{
    g_autofree char *db_path = g_build_filename(g_get_user_data_dir(), "ponder", "ponder.db", NULL);
    g_autoptr(PonderStore) store = ponder_store_new(db_path, error);
    if (!store)
        return NULL;
    g_autoptr(PonderModelLibrary) library = ponder_model_library_new();
    if (!ponder_model_library_scan_sync(library, NULL, error))
        return NULL;
    PonderCore *self = g_object_new(PONDER_TYPE_CORE, NULL);
    self->store = g_steal_pointer(&store);
    self->library = g_steal_pointer(&library);
    self->engine = ponder_engine_new(settings);
    return self;
}

PonderStore *ponder_core_get_store(PonderCore *self)
{
    return self->store;
}

PonderModelLibrary *ponder_core_get_library(PonderCore *self)
{
    return self->library;
}

PonderEngine *ponder_core_get_engine(PonderCore *self)
{
    return self->engine;
}

PonderModelEntry *ponder_core_choose_model(PonderCore *self, const char *name, GError **error)
{
    PonderModelEntry *entry = ponder_model_library_lookup(self->library, name, error);
    if (!entry)
        return NULL;
    if (!ponder_model_entry_get_usable(entry)) {
        g_set_error(error, PONDER_ENGINE_ERROR, PONDER_ENGINE_ERROR_LOAD, "%s cannot be run: %s",
                    ponder_model_entry_get_path(entry),
                    ponder_model_entry_get_unusable_reason(entry));
        return NULL;
    }
    ponder_engine_set_model(self->engine, ponder_model_entry_get_path(entry));
    return entry;
}

PonderApiServer *ponder_core_start_api(PonderCore *self, const PonderApiServerOptions *options,
                                       GError **error)
{
    if (self->api)
        return self->api;
    g_autoptr(PonderApiServer) api = ponder_api_server_new(self->engine, self->library, options);
    if (!ponder_api_server_start(api, error))
        return NULL;
    self->api = g_steal_pointer(&api);
    return self->api;
}

PonderApiServer *ponder_core_get_api(PonderCore *self)
{
    return self->api;
}

void ponder_core_stop_api(PonderCore *self)
{
    if (!self->api)
        return;
    ponder_api_server_stop(self->api);
    g_clear_object(&self->api);
}
