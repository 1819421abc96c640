// The picker follows the engine ("notify::state") and the library ("items-changed"), so it
// is right however the model was chosen: here, on the onboarding page, by `--model`, or
// through the local API's requests.
#include "ponder-model-picker.h"

#include <glib/gi18n.h>

#include "ponder-remote-provider.h"
#include "ponder-window-resources.h"

enum { LABEL_MAX_CHARS = 32 };

struct _PonderModelPicker {
    GtkWidget parent_instance;

    // Template widgets.
    GtkMenuButton *menu_button;
    GtkPopover *popover;
    GtkSpinner *spinner;
    GtkLabel *label;
    GtkLabel *status_label;
    GtkListBox *list_box;
    GtkButton *eject_button;

    // Owned references.
    PonderCore *core;

    PonderEngineState last_state;
};

G_DEFINE_FINAL_TYPE(PonderModelPicker, ponder_model_picker, GTK_TYPE_WIDGET)

enum { SIGNAL_SHOW_TOAST, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char row_slug_key[] = "ponder-model-slug";
static const char row_remote_key[] = "ponder-remote-model-path"; // rows of remote models

char *ponder_model_picker_describe_error(const GError *error)
{
    if (error->domain == PONDER_ENGINE_ERROR) {
        switch ((PonderEngineError)error->code) {
        case PONDER_ENGINE_ERROR_NO_GPU_MEMORY:
            return g_strdup_printf(_("The model does not fit in GPU memory (%s). Choose a smaller "
                                     "model or quant, or lower the GPU layers or the context "
                                     "length in Preferences."),
                                   error->message);
        case PONDER_ENGINE_ERROR_BACKEND:
            return g_strdup_printf(_("The backend failed (%s). Choose Auto or CPU as the backend "
                                     "in Preferences."),
                                   error->message);
        case PONDER_ENGINE_ERROR_LOAD:
            return g_strdup_printf(_("The model could not be loaded (%s). The file may be "
                                     "incomplete or damaged: choose another model."),
                                   error->message);
        default: break;
        }
    }
    if (error->domain == PONDER_MODEL_LIBRARY_ERROR)
        return g_strdup_printf(_("That model is not available (%s). Choose one from the list."),
                               error->message);
    return g_strdup_printf(_("The model could not be used: %s"), error->message);
}

static char *format_size(guint64 bytes)
{
    return g_format_size_full(bytes, G_FORMAT_SIZE_DEFAULT);
}

// A row: the model's name over a line of details, and a check mark on the current one.
static GtkWidget *make_row(const char *title, const char *details, gboolean current)
{
    GtkWidget *row = gtk_list_box_row_new();
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    GtkWidget *texts = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
    gtk_widget_set_hexpand(texts, TRUE);
    GtkWidget *name = gtk_label_new(title);
    gtk_label_set_xalign(GTK_LABEL(name), 0);
    gtk_label_set_ellipsize(GTK_LABEL(name), PANGO_ELLIPSIZE_END);
    gtk_box_append(GTK_BOX(texts), name);
    GtkWidget *details_label = gtk_label_new(details);
    gtk_label_set_xalign(GTK_LABEL(details_label), 0);
    gtk_widget_add_css_class(details_label, "dim-label");
    gtk_widget_add_css_class(details_label, "caption");
    gtk_box_append(GTK_BOX(texts), details_label);
    gtk_box_append(GTK_BOX(box), texts);
    GtkWidget *check = gtk_image_new_from_icon_name("object-select-symbolic");
    gtk_widget_set_opacity(check, current ? 1.0 : 0.0);
    gtk_box_append(GTK_BOX(box), check);
    gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
    return row;
}

static GtkWidget *make_local_row(PonderModelEntry *entry, gboolean current)
{
    g_autofree char *size = format_size(ponder_model_entry_get_file_size(entry));
    const char *quant = ponder_model_entry_get_quant_type(entry);
    g_autofree char *details =
        g_strdup_printf("%s · %s · %s", quant ? quant : _("unknown type"), size,
                        ponder_model_source_get_name(ponder_model_entry_get_source(entry)));
    GtkWidget *row = make_row(ponder_model_entry_get_display_name(entry), details, current);
    g_object_set_data_full(G_OBJECT(row), row_slug_key,
                           g_strdup(ponder_model_entry_get_slug(entry)), g_free);
    return row;
}

static GtkWidget *make_remote_row(PonderRemoteProvider *provider, const char *model_id,
                                  const char *current)
{
    char *path = ponder_remote_model_path(model_id);
    g_autofree char *details =
        g_strdup_printf(_("Remote · %s"), ponder_remote_provider_get_base_url(provider));
    GtkWidget *row = make_row(model_id, details, g_strcmp0(current, path) == 0);
    g_object_set_data_full(G_OBJECT(row), row_remote_key, path, g_free);
    return row;
}

static void rebuild_list(PonderModelPicker *self)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->list_box))))
        gtk_list_box_remove(self->list_box, child);
    const char *current = ponder_engine_get_model_path(ponder_core_get_engine(self->core));
    GListModel *models = ponder_model_library_get_models(ponder_core_get_library(self->core));
    guint n = g_list_model_get_n_items(models);
    for (guint i = 0; i < n; i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(models, i);
        if (!ponder_model_entry_get_usable(entry))
            continue;
        gtk_list_box_append(
            self->list_box,
            make_local_row(entry, g_strcmp0(current, ponder_model_entry_get_path(entry)) == 0));
    }
    PonderRemoteProvider *remote =
        ponder_engine_get_remote_provider(ponder_core_get_engine(self->core));
    for (const char *const *id = remote ? ponder_remote_provider_get_models(remote) : NULL;
         id && *id; id++)
        gtk_list_box_append(self->list_box, make_remote_row(remote, *id, current));
}

static void update_state(PonderModelPicker *self)
{
    PonderEngine *engine = ponder_core_get_engine(self->core);
    PonderEngineState state = ponder_engine_get_state(engine);
    const char *path = ponder_engine_get_model_path(engine);
    PonderModelEntry *entry =
        path ? ponder_model_library_find_by_path(ponder_core_get_library(self->core), path) : NULL;
    g_autofree char *remote_id = ponder_remote_model_id(path);
    g_autofree char *basename = path && !remote_id ? g_path_get_basename(path) : NULL;
    const char *name = entry       ? ponder_model_entry_get_display_name(entry)
                       : remote_id ? remote_id
                                   : basename;

    gboolean loading = state == PONDER_ENGINE_LOADING;
    gtk_widget_set_visible(GTK_WIDGET(self->spinner), loading);
    gtk_spinner_set_spinning(self->spinner, loading);
    // Shortened here rather than ellipsized: a header bar gives an ellipsizing label only its
    // minimum width.
    g_autofree char *shown = g_strdup(name ? name : _("Choose a Model"));
    if (g_utf8_strlen(shown, -1) > LABEL_MAX_CHARS) {
        g_autofree char *start = g_utf8_substring(shown, 0, LABEL_MAX_CHARS - 1);
        g_free(shown);
        shown = g_strconcat(start, "…", NULL);
    }
    gtk_label_set_label(self->label, shown);
    gtk_widget_set_tooltip_text(GTK_WIDGET(self->menu_button), name ? name : _("Choose the Model"));
    gtk_widget_set_sensitive(GTK_WIDGET(self->eject_button), state == PONDER_ENGINE_READY);

    g_autofree char *status = NULL;
    switch (state) {
    case PONDER_ENGINE_LOADING: status = g_strdup_printf(_("Loading %s…"), name); break;
    case PONDER_ENGINE_READY: {
        const char *backend = ponder_engine_get_backend_name(engine);
        const char *note = ponder_engine_get_backend_note(engine);
        status = note ? g_strdup_printf(_("Running on %s (%s)"), backend, note)
                      : g_strdup_printf(_("Running on %s"), backend);
        break;
    }
    case PONDER_ENGINE_FAILED: status = g_strdup(_("The model failed to load")); break;
    case PONDER_ENGINE_UNLOADED:
        status =
            g_strdup(name ? _("Not loaded: loads with the next message") : _("No model chosen"));
        break;
    }
    gtk_label_set_label(self->status_label, status);

    // A failure is reported once, when it happens.
    if (state == PONDER_ENGINE_FAILED && self->last_state != PONDER_ENGINE_FAILED) {
        const GError *error = ponder_engine_get_last_error(engine);
        if (error) {
            g_autofree char *message = ponder_model_picker_describe_error(error);
            g_signal_emit(self, signals[SIGNAL_SHOW_TOAST], 0, message);
        }
    }
    self->last_state = state;
    rebuild_list(self);
}

static void on_engine_state(PonderEngine *engine, GParamSpec *pspec, PonderModelPicker *self)
{
    update_state(self);
}

static void on_models_changed(GListModel *models, guint position, guint removed, guint added,
                              PonderModelPicker *self)
{
    rebuild_list(self);
}

static void on_row_activated(PonderModelPicker *self, GtkListBoxRow *row)
{
    const char *slug = g_object_get_data(G_OBJECT(row), row_slug_key);
    const char *remote_path = g_object_get_data(G_OBJECT(row), row_remote_key);
    gtk_popover_popdown(self->popover);
    if (remote_path)
        ponder_engine_set_model(ponder_core_get_engine(self->core), remote_path);
    else
        gtk_widget_activate_action(GTK_WIDGET(self), "win.choose-model", "s", slug);
    update_state(self);
}

static void on_eject_clicked(PonderModelPicker *self)
{
    ponder_engine_eject(ponder_core_get_engine(self->core));
    gtk_popover_popdown(self->popover);
}

const char *ponder_model_picker_get_label(PonderModelPicker *self)
{
    g_return_val_if_fail(PONDER_IS_MODEL_PICKER(self), NULL);
    return gtk_label_get_label(self->label);
}

static void ponder_model_picker_dispose(GObject *object)
{
    PonderModelPicker *self = PONDER_MODEL_PICKER(object);
    if (self->core) {
        g_signal_handlers_disconnect_by_data(ponder_core_get_engine(self->core), self);
        g_signal_handlers_disconnect_by_data(
            ponder_model_library_get_models(ponder_core_get_library(self->core)), self);
    }
    gtk_widget_dispose_template(GTK_WIDGET(self), PONDER_TYPE_MODEL_PICKER);
    // Template children without an id are not unparented by dispose_template.
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self))))
        gtk_widget_unparent(child);
    g_clear_object(&self->core);
    G_OBJECT_CLASS(ponder_model_picker_parent_class)->dispose(object);
}

static void ponder_model_picker_class_init(PonderModelPickerClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = ponder_model_picker_dispose;
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);

    // Linking the bundle in (a static library drops unreferenced objects) registers it.
    ponder_window_get_resource();
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/window/ponder-model-picker.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderModelPicker, menu_button);
    gtk_widget_class_bind_template_child(widget_class, PonderModelPicker, popover);
    gtk_widget_class_bind_template_child(widget_class, PonderModelPicker, spinner);
    gtk_widget_class_bind_template_child(widget_class, PonderModelPicker, label);
    gtk_widget_class_bind_template_child(widget_class, PonderModelPicker, status_label);
    gtk_widget_class_bind_template_child(widget_class, PonderModelPicker, list_box);
    gtk_widget_class_bind_template_child(widget_class, PonderModelPicker, eject_button);
    gtk_widget_class_bind_template_callback(widget_class, on_row_activated);
    gtk_widget_class_bind_template_callback(widget_class, on_eject_clicked);

    signals[SIGNAL_SHOW_TOAST] =
        g_signal_new("show-toast", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void ponder_model_picker_init(PonderModelPicker *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
}

GtkWidget *ponder_model_picker_new(PonderCore *core)
{
    g_return_val_if_fail(PONDER_IS_CORE(core), NULL);
    PonderModelPicker *self = g_object_new(PONDER_TYPE_MODEL_PICKER, NULL);
    self->core = g_object_ref(core);
    PonderEngine *engine = ponder_core_get_engine(core);
    self->last_state = ponder_engine_get_state(engine);
    g_signal_connect(engine, "notify::state", G_CALLBACK(on_engine_state), self);
    g_signal_connect(ponder_model_library_get_models(ponder_core_get_library(core)),
                     "items-changed", G_CALLBACK(on_models_changed), self);
    // The remote server's models can change without a signal here: refreshed on each show.
    g_signal_connect_swapped(self->popover, "show", G_CALLBACK(rebuild_list), self);
    update_state(self);
    return GTK_WIDGET(self);
}
