// The highlighting follows the app's light or dark style: libadwaita's style manager when the
// app initialised libadwaita, else GTK's prefer-dark setting, with GtkSourceView's own Adwaita
// schemes.
#include "ponder-code-block.h"

#include "ponder-markdown-resources.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <gtksourceview/gtksource.h>
#include <string.h>

// How long the Copy button shows a check mark after copying.
#define COPIED_FEEDBACK_SECONDS 2

struct _PonderCodeBlock {
    GtkWidget parent_instance;

    // template widgets
    GtkLabel *language_label;
    GtkButton *copy_button;
    GtkSourceView *source_view;

    // owned
    char *code;
    char *language;
    guint copied_feedback_id;
};

G_DEFINE_FINAL_TYPE(PonderCodeBlock, ponder_code_block, GTK_TYPE_WIDGET)

// Info words that neither name a GtkSourceView language nor end a file name it knows.
// clang-format off
static const struct {
    const char *alias;
    const char *id;
} language_aliases[] = {
    {"python", "python3"}, {"py3", "python3"},    {"bash", "sh"},    {"shell", "sh"},
    {"zsh", "sh"},         {"console", "sh"},     {"javascript", "js"}, {"node", "js"},
    {"c++", "cpp"},        {"c#", "c-sharp"},     {"csharp", "c-sharp"}, {"golang", "go"},
    {"dockerfile", "docker"}, {"make", "makefile"}, {"tex", "latex"}, {"objective-c", "objc"},
    {"jsonc", "json"},     {"text", NULL},        {"plaintext", NULL}, {"txt", NULL},
};
// clang-format on

static GtkSourceLanguage *find_language(const char *language)
{
    if (!language || !*language)
        return NULL;
    GtkSourceLanguageManager *manager = gtk_source_language_manager_get_default();
    g_autofree char *lower = g_ascii_strdown(language, -1);
    for (gsize i = 0; i < G_N_ELEMENTS(language_aliases); i++)
        if (strcmp(lower, language_aliases[i].alias) == 0)
            return language_aliases[i].id
                       ? gtk_source_language_manager_get_language(manager, language_aliases[i].id)
                       : NULL;
    GtkSourceLanguage *found = gtk_source_language_manager_get_language(manager, lower);
    if (found)
        return found;
    // "rs", "ts", "yml", "kt"…: the language whose files end that way.
    g_autofree char *file_name = g_strconcat("code.", lower, NULL);
    return gtk_source_language_manager_guess_language(manager, file_name, NULL);
}

static void update_style_scheme(PonderCodeBlock *self)
{
    gboolean dark = FALSE;
    GtkSettings *settings = gtk_settings_get_default();
    if (adw_is_initialized())
        dark = adw_style_manager_get_dark(adw_style_manager_get_default());
    else if (settings)
        g_object_get(settings, "gtk-application-prefer-dark-theme", &dark, NULL);
    GtkSourceStyleScheme *scheme = gtk_source_style_scheme_manager_get_scheme(
        gtk_source_style_scheme_manager_get_default(), dark ? "Adwaita-dark" : "Adwaita");
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(GTK_TEXT_VIEW(self->source_view));
    if (scheme)
        gtk_source_buffer_set_style_scheme(GTK_SOURCE_BUFFER(buffer), scheme);
}

static gboolean restore_copy_button(gpointer data)
{
    PonderCodeBlock *self = data;
    self->copied_feedback_id = 0;
    gtk_button_set_icon_name(self->copy_button, "edit-copy-symbolic");
    return G_SOURCE_REMOVE;
}

static void copy_clicked(PonderCodeBlock *self)
{
    gdk_clipboard_set_text(gtk_widget_get_clipboard(GTK_WIDGET(self)), self->code);
    gtk_button_set_icon_name(self->copy_button, "object-select-symbolic");
    g_clear_handle_id(&self->copied_feedback_id, g_source_remove);
    self->copied_feedback_id =
        g_timeout_add_seconds(COPIED_FEEDBACK_SECONDS, restore_copy_button, self);
}

static void ponder_code_block_dispose(GObject *object)
{
    PonderCodeBlock *self = PONDER_CODE_BLOCK(object);
    g_clear_handle_id(&self->copied_feedback_id, g_source_remove);
    gtk_widget_dispose_template(GTK_WIDGET(self), PONDER_TYPE_CODE_BLOCK);
    // GTK 4.8 unparents only the bound children; the header and scroller are not.
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self))))
        gtk_widget_unparent(child);
    G_OBJECT_CLASS(ponder_code_block_parent_class)->dispose(object);
}

static void ponder_code_block_finalize(GObject *object)
{
    PonderCodeBlock *self = PONDER_CODE_BLOCK(object);
    g_free(self->code);
    g_free(self->language);
    G_OBJECT_CLASS(ponder_code_block_parent_class)->finalize(object);
}

static void ponder_code_block_class_init(PonderCodeBlockClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = ponder_code_block_dispose;
    object_class->finalize = ponder_code_block_finalize;

    // The bundle registers itself from its own object file; naming it keeps that file in a
    // static link, where nothing else refers to it.
    ponder_markdown_get_resource();
    gtk_source_init();
    g_type_ensure(GTK_SOURCE_TYPE_VIEW);
    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/ponder_app/Ponder/markdown/ponder-code-block.ui");
    gtk_widget_class_bind_template_child(widget_class, PonderCodeBlock, language_label);
    gtk_widget_class_bind_template_child(widget_class, PonderCodeBlock, copy_button);
    gtk_widget_class_bind_template_child(widget_class, PonderCodeBlock, source_view);
    gtk_widget_class_bind_template_callback(widget_class, copy_clicked);
    gtk_widget_class_set_css_name(widget_class, "codeblock");
}

static void ponder_code_block_init(PonderCodeBlock *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    update_style_scheme(self);
    if (adw_is_initialized())
        g_signal_connect_object(adw_style_manager_get_default(), "notify::dark",
                                G_CALLBACK(update_style_scheme), self, G_CONNECT_SWAPPED);
}

GtkWidget *ponder_code_block_new(const char *code, const char *language)
{
    PonderCodeBlock *self = g_object_new(PONDER_TYPE_CODE_BLOCK, NULL);
    self->code = g_strdup(code ? code : "");
    self->language = g_strdup(language ? language : "");

    GtkSourceBuffer *buffer =
        GTK_SOURCE_BUFFER(gtk_text_view_get_buffer(GTK_TEXT_VIEW(self->source_view)));
    gtk_text_buffer_set_text(GTK_TEXT_BUFFER(buffer), self->code, -1);
    gtk_source_buffer_set_language(buffer, find_language(self->language));
    gtk_source_buffer_set_highlight_syntax(buffer, TRUE);
    gtk_label_set_text(self->language_label, *self->language ? self->language : _("Code"));
    return GTK_WIDGET(self);
}

const char *ponder_code_block_get_code(PonderCodeBlock *self)
{
    g_return_val_if_fail(PONDER_IS_CODE_BLOCK(self), NULL);
    return self->code;
}

const char *ponder_code_block_get_language(PonderCodeBlock *self)
{
    g_return_val_if_fail(PONDER_IS_CODE_BLOCK(self), NULL);
    return self->language;
}
