// The local list is rebuilt from the library whenever it changes (a download finishing, a
// rescan); catalog rows are built once and keep their download object, so leaving and
// coming back to the page shows a running download's progress.
#include "ponder-onboarding-page.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "ponder-window-resources.h"

#include "ponder-catalog.h"
#include "ponder-download.h"
#include "ponder-ui-application.h"

// The context the memory notes assume: the default for a model trained on a long context
// (every R1 distill), as the engine applies it.
#define NOTE_CONTEXT_TOKENS ponder_context_length(0, G_MAXUINT32)

typedef struct {
    PonderOnboardingPage *page; // borrowed: the page outlives its rows
    PonderCatalogEntry *entry;  // owned
    PonderDownload *download;   // owned; NULL until started
    GCancellable *cancellable;  // owned; NULL when not running
    AdwActionRow *row;          // borrowed
    GtkProgressBar *progress;   // borrowed
    GtkButton *button;          // borrowed: Download / Cancel
    char *memory_note;
} CatalogItem;

struct _PonderOnboardingPage {
    GtkWidget parent_instance;

    // Template widgets.
    GtkBox *local_box;
    AdwPreferencesGroup *catalog_group;
    GtkButton *open_button;

    // Owned references.
    PonderCore *core;
    GPtrArray *catalog_items; // CatalogItem
    GtkFileChooserNative *chooser;
    char *pending_path; // a file opened from elsewhere, chosen once the rescan has it
};

G_DEFINE_FINAL_TYPE(PonderOnboardingPage, ponder_onboarding_page, GTK_TYPE_WIDGET)

enum { SIGNAL_SHOW_TOAST, N_SIGNALS };
static guint signals[N_SIGNALS];

static void toast(PonderOnboardingPage *self, const char *message)
{
    g_signal_emit(self, signals[SIGNAL_SHOW_TOAST], 0, message);
}

static void choose(PonderOnboardingPage *self, const char *name)
{
    gtk_widget_activate_action(GTK_WIDGET(self), "win.choose-model", "s", name);
}

guint64 ponder_onboarding_estimate_catalog_bytes(const char *size_label, const char *quant_type,
                                                 guint n_layer, guint n_kv_head, guint head_dim,
                                                 guint n_ctx)
{
    double bits = ponder_file_type_bits_per_weight(quant_type);
    if (!size_label || bits == 0)
        return 0;
    char *end = NULL;
    double count = g_ascii_strtod(size_label, &end);
    if (end == size_label || count <= 0)
        return 0;
    double scale = *end == 'B' || *end == 'b' ? 1e9 : *end == 'M' || *end == 'm' ? 1e6 : 0;
    if (scale == 0)
        return 0;
    // The published shapes stand in for a header; the weights from the mix's average bits.
    PonderModelProbe probe = {
        .n_layer = n_layer,
        .n_head_kv = n_kv_head,
        .head_dim = head_dim,
        .tensor_bytes = (guint64)(count * scale * bits / 8.0 + 0.5), // rounded, not truncated
    };
    PonderMemoryEstimate estimate;
    return ponder_estimate_memory(&probe, n_ctx, PONDER_KV_F16, &estimate, NULL) ? estimate.total
                                                                                 : 0;
}

static char *memory_note(guint64 bytes)
{
    g_autofree char *size = g_format_size(bytes);
    return g_strdup_printf(_("needs about %s of GPU memory for an %u-token context (it runs on "
                             "the CPU too, slower)"),
                           size, (guint)NOTE_CONTEXT_TOKENS);
}

// Local models.

static GtkWidget *make_local_row(PonderModelEntry *entry)
{
    GtkWidget *row = adw_action_row_new();
    // Plain text before the title is set: a file name with '&' or '<' is no Pango markup.
    adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row),
                                  ponder_model_entry_get_display_name(entry));
    g_autofree char *size = g_format_size(ponder_model_entry_get_file_size(entry));
    const char *quant = ponder_model_entry_get_quant_type(entry);
    g_autofree char *subtitle = NULL;
    if (!ponder_model_entry_get_usable(entry)) {
        subtitle =
            g_strdup_printf(_("Cannot be used: %s"), ponder_model_entry_get_unusable_reason(entry));
    } else {
        PonderMemoryEstimate estimate;
        g_autofree char *note = NULL;
        if (ponder_model_entry_estimate_memory(entry, NOTE_CONTEXT_TOKENS, PONDER_KV_F16, &estimate,
                                               NULL))
            note = memory_note(estimate.total);
        subtitle = g_strdup_printf("%s · %s%s%s", quant ? quant : _("unknown type"), size,
                                   note ? " · " : "", note ? note : "");
    }
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
    gtk_widget_set_tooltip_text(row, ponder_model_entry_get_path(entry));

    GtkWidget *button = gtk_button_new_with_mnemonic(_("_Use"));
    gtk_widget_set_valign(button, GTK_ALIGN_CENTER);
    // A button's action decides its sensitivity (an enabled action makes it sensitive
    // again): a file that cannot be used gets no action.
    if (ponder_model_entry_get_usable(entry)) {
        gtk_actionable_set_action_name(GTK_ACTIONABLE(button), "win.choose-model");
        gtk_actionable_set_action_target_value(
            GTK_ACTIONABLE(button), g_variant_new_string(ponder_model_entry_get_slug(entry)));
    } else {
        gtk_widget_set_sensitive(button, FALSE);
    }
    g_autofree char *label =
        g_strdup_printf(_("Use %s"), ponder_model_entry_get_display_name(entry));
    gtk_accessible_update_property(GTK_ACCESSIBLE(button), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                   -1);
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), button);
    adw_action_row_set_activatable_widget(ADW_ACTION_ROW(row), button);
    return row;
}

static void rebuild_local(PonderOnboardingPage *self)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->local_box))))
        gtk_box_remove(self->local_box, child);

    PonderModelLibrary *library = ponder_core_get_library(self->core);
    GListModel *models = ponder_model_library_get_models(library);
    guint n = g_list_model_get_n_items(models);
    AdwPreferencesGroup *groups[PONDER_MODEL_SOURCE_COUNT] = {NULL};
    for (guint i = 0; i < n; i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(models, i);
        PonderModelSource source = ponder_model_entry_get_source(entry);
        if (!groups[source]) {
            groups[source] = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
            // A group's title is Pango markup (libadwaita 1.2 has no switch for it).
            g_autofree char *title =
                g_markup_printf_escaped(_("Found in %s"), ponder_model_source_get_name(source));
            adw_preferences_group_set_title(groups[source], title);
        }
        adw_preferences_group_add(groups[source], make_local_row(entry));
    }
    gboolean any = FALSE;
    for (guint s = 0; s < PONDER_MODEL_SOURCE_COUNT; s++)
        if (groups[s]) {
            gtk_box_append(self->local_box, GTK_WIDGET(groups[s]));
            any = TRUE;
        }
    if (!any) {
        GtkWidget *none = gtk_label_new(_("No GGUF files were found on this computer (in "
                                          "Ponder’s folder, Ollama, LM Studio or the Hugging "
                                          "Face cache). Open one, or download one below."));
        gtk_label_set_wrap(GTK_LABEL(none), TRUE);
        gtk_widget_add_css_class(none, "dim-label");
        gtk_box_append(self->local_box, none);
    }
}

static void on_models_changed(GListModel *models, guint position, guint removed, guint added,
                              PonderOnboardingPage *self)
{
    rebuild_local(self);
    if (self->pending_path) {
        PonderModelEntry *entry = ponder_model_library_find_by_path(
            ponder_core_get_library(self->core), self->pending_path);
        if (entry) {
            g_clear_pointer(&self->pending_path, g_free);
            choose(self, ponder_model_entry_get_slug(entry));
        }
    }
}

// A file from elsewhere: its folder joins the model folders, a rescan finds it, and it is
// chosen (a file the library already lists is chosen at once).
static void on_rescanned(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(PonderOnboardingPage) self = user_data;
    if (!ponder_model_library_scan_finish(PONDER_MODEL_LIBRARY(source), result, NULL) ||
        !self->pending_path)
        return;
    PonderModelEntry *entry =
        ponder_model_library_find_by_path(PONDER_MODEL_LIBRARY(source), self->pending_path);
    g_autofree char *path = g_steal_pointer(&self->pending_path);
    if (entry)
        choose(self, ponder_model_entry_get_slug(entry));
    else {
        g_autofree char *message =
            g_strdup_printf(_("%s is not a GGUF file Ponder can read."), path);
        toast(self, message);
    }
}

static void open_model_file(PonderOnboardingPage *self, const char *path)
{
    PonderModelLibrary *library = ponder_core_get_library(self->core);
    PonderModelEntry *entry = ponder_model_library_find_by_path(library, path);
    if (entry) {
        choose(self, ponder_model_entry_get_slug(entry));
        return;
    }
    g_autofree char *folder = g_path_get_dirname(path);
    g_autoptr(GError) error = NULL;
    if (!ponder_model_library_add_folder(library, folder, &error)) {
        g_autofree char *message =
            g_strdup_printf(_("The file could not be opened: %s"), error->message);
        toast(self, message);
        return;
    }
    // Kept in the settings too, so the model is there at the next start.
    g_autoptr(GSettings) settings = ponder_ui_settings_new();
    if (settings)
        g_settings_set_strv(settings, "model-folders", ponder_model_library_get_folders(library));
    g_free(self->pending_path);
    self->pending_path = g_strdup(path);
    ponder_model_library_scan_async(library, NULL, on_rescanned, g_object_ref(self));
}

static void on_chooser_response(GtkNativeDialog *dialog, int response, PonderOnboardingPage *self)
{
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        g_autofree char *path = file ? g_file_get_path(file) : NULL;
        if (path)
            open_model_file(self, path);
    }
    g_clear_object(&self->chooser);
}

static void on_open_clicked(PonderOnboardingPage *self)
{
    if (self->chooser)
        return;
    GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(self));
    self->chooser = gtk_file_chooser_native_new(
        _("Open GGUF File"), GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
    g_autoptr(GtkFileFilter) filter = gtk_file_filter_new();
    gtk_file_filter_set_name(filter, _("GGUF models"));
    gtk_file_filter_add_pattern(filter, "*.gguf");
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(self->chooser), filter);
    g_signal_connect(self->chooser, "response", G_CALLBACK(on_chooser_response), self);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(self->chooser));
}

// The catalog.

static void catalog_item_free(gpointer data)
{
    CatalogItem *item = data;
    if (item->cancellable)
        g_cancellable_cancel(item->cancellable);
    if (item->download)
        g_signal_handlers_disconnect_by_data(item->download, item);
    g_clear_object(&item->cancellable);
    g_clear_object(&item->download);
    g_clear_object(&item->entry);
    g_free(item->memory_note);
    g_free(item);
}

static void update_catalog_row(CatalogItem *item)
{
    gboolean running = item->cancellable != NULL;
    gtk_widget_set_visible(GTK_WIDGET(item->progress), running);
    gtk_button_set_label(item->button, running ? _("_Cancel") : _("_Download"));
    g_autofree char *subtitle = NULL;
    const char *quant = ponder_catalog_entry_get_quant_type(item->entry);
    if (running && item->download) {
        guint64 done = ponder_download_get_bytes_done(item->download);
        guint64 total = ponder_download_get_bytes_total(item->download);
        g_autofree char *done_text = g_format_size(done);
        if (total) {
            g_autofree char *total_text = g_format_size(total);
            gtk_progress_bar_set_fraction(item->progress, (double)done / (double)total);
            subtitle = g_strdup_printf(_("%s · %s of %s"), quant, done_text, total_text);
        } else {
            gtk_progress_bar_pulse(item->progress);
            subtitle = g_strdup_printf(_("%s · starting…"), quant);
        }
    } else {
        subtitle = g_strdup_printf("%s%s%s", quant, item->memory_note ? " · " : "",
                                   item->memory_note ? item->memory_note : "");
    }
    adw_action_row_set_subtitle(item->row, subtitle);
}

static void on_download_progress(PonderDownload *download, GParamSpec *pspec, CatalogItem *item)
{
    update_catalog_row(item);
}

static void on_download_finished(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(PonderOnboardingPage) self = user_data;
    g_autoptr(GError) error = NULL;
    gboolean done = ponder_download_start_finish(PONDER_DOWNLOAD(source), result, &error);
    // The page may have been disposed while the download ran: its items are gone then.
    CatalogItem *item = NULL;
    for (guint i = 0; self->catalog_items && i < self->catalog_items->len; i++)
        if (((CatalogItem *)self->catalog_items->pdata[i])->download == (gpointer)source)
            item = self->catalog_items->pdata[i];
    if (!item)
        return;
    g_clear_object(&item->cancellable);
    update_catalog_row(item);
    if (done || g_error_matches(error, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_EXISTS)) {
        open_model_file(self, ponder_download_get_dest_path(item->download));
    } else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_autofree char *message = g_strdup_printf(
            _("The download of %s failed: %s. Check the connection and the free disk space, "
              "then try again: it resumes where it stopped."),
            ponder_catalog_entry_get_model_name(item->entry), error->message);
        toast(self, message);
    }
}

static void on_download_clicked(GtkButton *button, CatalogItem *item)
{
    if (item->cancellable) {
        g_cancellable_cancel(item->cancellable);
        return;
    }
    if (!item->download) {
        item->download = ponder_download_new(ponder_catalog_entry_get_repo(item->entry),
                                             ponder_catalog_entry_get_file(item->entry), NULL);
        g_signal_connect(item->download, "notify::bytes-done", G_CALLBACK(on_download_progress),
                         item);
        g_signal_connect(item->download, "notify::bytes-total", G_CALLBACK(on_download_progress),
                         item);
    }
    item->cancellable = g_cancellable_new();
    ponder_download_start_async(item->download, item->cancellable, on_download_finished,
                                g_object_ref(item->page));
    update_catalog_row(item);
}

static void build_catalog(PonderOnboardingPage *self)
{
    g_autoptr(GListModel) catalog = ponder_catalog_list();
    guint n = g_list_model_get_n_items(catalog);
    for (guint i = 0; i < n; i++) {
        CatalogItem *item = g_new0(CatalogItem, 1);
        item->page = self;
        item->entry = g_list_model_get_item(catalog, i);
        PonderCatalogEntry *e = item->entry;
        guint64 bytes = ponder_onboarding_estimate_catalog_bytes(
            ponder_catalog_entry_get_size_label(e), ponder_catalog_entry_get_quant_type(e),
            ponder_catalog_entry_get_n_layer(e), ponder_catalog_entry_get_n_kv_head(e),
            ponder_catalog_entry_get_head_dim(e), NOTE_CONTEXT_TOKENS);
        item->memory_note = bytes ? memory_note(bytes) : NULL;

        item->row = ADW_ACTION_ROW(adw_action_row_new());
        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(item->row), FALSE);
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(item->row),
                                      ponder_catalog_entry_get_model_name(item->entry));
        item->progress = GTK_PROGRESS_BAR(gtk_progress_bar_new());
        gtk_widget_set_valign(GTK_WIDGET(item->progress), GTK_ALIGN_CENTER);
        gtk_widget_set_size_request(GTK_WIDGET(item->progress), 120, -1);
        adw_action_row_add_suffix(item->row, GTK_WIDGET(item->progress));
        item->button = GTK_BUTTON(gtk_button_new_with_mnemonic(_("_Download")));
        gtk_widget_set_valign(GTK_WIDGET(item->button), GTK_ALIGN_CENTER);
        g_signal_connect(item->button, "clicked", G_CALLBACK(on_download_clicked), item);
        adw_action_row_add_suffix(item->row, GTK_WIDGET(item->button));
        adw_preferences_group_add(self->catalog_group, GTK_WIDGET(item->row));
        g_ptr_array_add(self->catalog_items, item);
        update_catalog_row(item);
    }
}

static void ponder_onboarding_page_dispose(GObject *object)
{
    PonderOnboardingPage *self = PONDER_ONBOARDING_PAGE(object);
    if (self->core)
        g_signal_handlers_disconnect_by_data(
            ponder_model_library_get_models(ponder_core_get_library(self->core)), self);
    if (self->chooser)
        gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(self->chooser));
    g_clear_object(&self->chooser);
    g_clear_pointer(&self->catalog_items, g_ptr_array_unref);
    gtk_widget_dispose_template(GTK_WIDGET(self), PONDER_TYPE_ONBOARDING_PAGE);
    // Template children without an id are not unparented by dispose_template.
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self))))
        gtk_widget_unparent(child);
    g_clear_object(&self->core);
    g_clear_pointer(&self->pending_path, g_free);
    G_OBJECT_CLASS(ponder_onboarding_page_parent_class)->dispose(object);
}

static void ponder_onboarding_page_class_init(PonderOnboardingPageClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = ponder_onboarding_page_dispose;
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);

    // Linking the bundle in (a static library drops unreferenced objects) registers it.
    ponder_window_get_resource();
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/window/ponder-onboarding-page.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderOnboardingPage, local_box);
    gtk_widget_class_bind_template_child(widget_class, PonderOnboardingPage, catalog_group);
    gtk_widget_class_bind_template_child(widget_class, PonderOnboardingPage, open_button);
    gtk_widget_class_bind_template_callback(widget_class, on_open_clicked);

    signals[SIGNAL_SHOW_TOAST] =
        g_signal_new("show-toast", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void ponder_onboarding_page_init(PonderOnboardingPage *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->catalog_items = g_ptr_array_new_with_free_func(catalog_item_free);
}

GtkWidget *ponder_onboarding_page_new(PonderCore *core)
{
    g_return_val_if_fail(PONDER_IS_CORE(core), NULL);
    PonderOnboardingPage *self = g_object_new(PONDER_TYPE_ONBOARDING_PAGE, NULL);
    self->core = g_object_ref(core);
    g_signal_connect(ponder_model_library_get_models(ponder_core_get_library(core)),
                     "items-changed", G_CALLBACK(on_models_changed), self);
    rebuild_local(self);
    build_catalog(self);
    return GTK_WIDGET(self);
}
