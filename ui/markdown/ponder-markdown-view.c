// An answer streams in 60 times a second, so the text is cut into pieces that parse alone
// (ponder_markdown_piece_starts) and, while the text only grows, just the last piece is parsed
// again: the widgets of the pieces before it stay. Each piece becomes a tree of blocks with
// Pango markup (ponder-markdown-blocks.h, where Markdown and math are read), and the blocks
// become widgets here.
//
// The number of widgets made so far is kept on the view as object data under
// "ponder-markdown-widgets-created" (a guint in a pointer), so a test can measure what one
// update costs.
#include "ponder-markdown-view.h"

#include "ponder-code-block.h"
#include "ponder-markdown-blocks.h"
#include "ponder-markdown-resources.h"

#include <glib/gi18n.h>
#include <string.h>

#define WIDGETS_CREATED_KEY "ponder-markdown-widgets-created"
#define STYLE_KEY "ponder-markdown-style"

typedef struct {
    gsize offset;    // where the piece starts in the text
    guint n_widgets; // the top-level widgets it made
} Piece;

struct _PonderMarkdownView {
    GtkWidget parent_instance;

    GString *text;
    GArray *pieces; // of Piece, in the text's order
    guint widgets_created;
};

G_DEFINE_FINAL_TYPE(PonderMarkdownView, ponder_markdown_view, GTK_TYPE_WIDGET)

// --- widgets from blocks ----------------------------------------------------------------------

static GtkWidget *created(PonderMarkdownView *self, GtkWidget *widget)
{
    self->widgets_created++;
    return widget;
}

static gboolean on_activate_link(GtkLabel *label, const char *uri, gpointer data)
{
    GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(label));
    GtkWindow *window = GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL;
#if GTK_CHECK_VERSION(4, 10, 0)
    g_autoptr(GtkUriLauncher) launcher = gtk_uri_launcher_new(uri);
    gtk_uri_launcher_launch(launcher, window, NULL, NULL, NULL);
#else
    gtk_show_uri(window, uri, GDK_CURRENT_TIME);
#endif
    return TRUE;
}

static GtkWidget *new_label(PonderMarkdownView *self, const PonderMdBlock *text)
{
    GtkWidget *label = created(self, gtk_label_new(NULL));
    gtk_label_set_markup(GTK_LABEL(label), text->markup);
    gtk_label_set_wrap(GTK_LABEL(label), TRUE);
    gtk_label_set_wrap_mode(GTK_LABEL(label), PANGO_WRAP_WORD_CHAR);
    gtk_label_set_selectable(GTK_LABEL(label), TRUE);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    g_signal_connect(label, "activate-link", G_CALLBACK(on_activate_link), NULL);
    switch (text->style) {
    case PONDER_MD_STYLE_PLAIN: break;
    case PONDER_MD_STYLE_PARAGRAPH: gtk_widget_add_css_class(label, "ponder-paragraph"); break;
    case PONDER_MD_STYLE_HEADING: {
        char css_class[] = "ponder-heading-1";
        css_class[strlen(css_class) - 1] = (char)('0' + CLAMP(text->level, 1, 6));
        gtk_widget_add_css_class(label, css_class);
        break;
    }
    case PONDER_MD_STYLE_HEADER_CELL: gtk_widget_add_css_class(label, "ponder-table-header");
    /* fall through */
    case PONDER_MD_STYLE_CELL:
        gtk_widget_add_css_class(label, "ponder-table-cell");
        gtk_label_set_xalign(GTK_LABEL(label), text->xalign);
        break;
    case PONDER_MD_STYLE_MATH_DISPLAY:
    case PONDER_MD_STYLE_MATH_BOXED:
        gtk_widget_add_css_class(label, text->style == PONDER_MD_STYLE_MATH_BOXED
                                            ? "ponder-math-boxed"
                                            : "ponder-math-display");
        gtk_label_set_justify(GTK_LABEL(label), GTK_JUSTIFY_CENTER);
        gtk_label_set_xalign(GTK_LABEL(label), 0.5f);
        break;
    }
    return label;
}

static GtkWidget *new_box(PonderMarkdownView *self, GtkOrientation orientation, int spacing,
                          const char *css_class)
{
    GtkWidget *box = created(self, gtk_box_new(orientation, spacing));
    if (css_class)
        gtk_widget_add_css_class(box, css_class);
    return box;
}

static GtkWidget *new_widget(PonderMarkdownView *self, const PonderMdBlock *block);

static void append_children(PonderMarkdownView *self, GtkWidget *box, const PonderMdBlock *block)
{
    for (guint i = 0; i < block->children->len; i++)
        gtk_box_append(GTK_BOX(box), new_widget(self, g_ptr_array_index(block->children, i)));
}

static GtkWidget *new_widget(PonderMarkdownView *self, const PonderMdBlock *block)
{
    switch (block->kind) {
    case PONDER_MD_TEXT: break;
    case PONDER_MD_QUOTE: {
        GtkWidget *quote = new_box(self, GTK_ORIENTATION_VERTICAL, 6, "ponder-blockquote");
        append_children(self, quote, block);
        return quote;
    }
    case PONDER_MD_LIST: {
        GtkWidget *list = new_box(self, GTK_ORIENTATION_VERTICAL, 4, "ponder-list");
        append_children(self, list, block);
        return list;
    }
    case PONDER_MD_ITEM: {
        GtkWidget *item = new_box(self, GTK_ORIENTATION_HORIZONTAL, 6, NULL);
        GtkWidget *marker = created(self, gtk_label_new(block->text));
        gtk_widget_add_css_class(marker, "ponder-list-marker");
        gtk_widget_set_valign(marker, GTK_ALIGN_START);
        gtk_label_set_xalign(GTK_LABEL(marker), 1.0f);
        GtkWidget *content = new_box(self, GTK_ORIENTATION_VERTICAL, 4, NULL);
        gtk_widget_set_hexpand(content, TRUE);
        gtk_box_append(GTK_BOX(item), marker);
        gtk_box_append(GTK_BOX(item), content);
        append_children(self, content, block);
        return item;
    }
    case PONDER_MD_RULE: return created(self, gtk_separator_new(GTK_ORIENTATION_HORIZONTAL));
    case PONDER_MD_CODE: return created(self, ponder_code_block_new(block->text, block->language));
    case PONDER_MD_TABLE: {
        GtkWidget *grid = created(self, gtk_grid_new());
        gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
        gtk_grid_set_row_spacing(GTK_GRID(grid), 4);
        gtk_widget_add_css_class(grid, "ponder-table");
        gtk_widget_set_halign(grid, GTK_ALIGN_START);
        for (guint i = 0; i < block->children->len; i++) {
            const PonderMdBlock *cell = g_ptr_array_index(block->children, i);
            gtk_grid_attach(GTK_GRID(grid), new_label(self, cell), cell->column, cell->row, 1, 1);
        }
        return grid;
    }
    case PONDER_MD_MATH_LINE: {
        GtkWidget *line = new_box(self, GTK_ORIENTATION_HORIZONTAL, 0, "ponder-math-line");
        gtk_widget_set_halign(line, GTK_ALIGN_CENTER);
        append_children(self, line, block);
        return line;
    }
    }
    return new_label(self, block);
}

// Builds the widgets of TEXT[0, LENGTH) into the view; returns how many it placed at the top.
static guint render_piece(PonderMarkdownView *self, const char *text, gsize length)
{
    g_autoptr(GPtrArray) blocks = ponder_markdown_to_blocks(text, length);
    for (guint i = 0; i < blocks->len; i++)
        gtk_widget_insert_before(new_widget(self, g_ptr_array_index(blocks, i)), GTK_WIDGET(self),
                                 NULL);
    return blocks->len;
}

// --- pieces -----------------------------------------------------------------------------------

static void ensure_style(void)
{
    GdkDisplay *display = gdk_display_get_default();
    if (!display || g_object_get_data(G_OBJECT(display), STYLE_KEY))
        return;
    GtkCssProvider *provider = gtk_css_provider_new();
    gtk_css_provider_load_from_resource(
        provider, "/io/github/ponder_app/Ponder/markdown/ponder-markdown.css");
    gtk_style_context_add_provider_for_display(display, GTK_STYLE_PROVIDER(provider),
                                               GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    g_object_set_data_full(G_OBJECT(display), STYLE_KEY, provider, g_object_unref);
}

static void remove_last_children(PonderMarkdownView *self, guint n)
{
    GtkWidget *child;
    while (n-- > 0 && (child = gtk_widget_get_last_child(GTK_WIDGET(self))))
        gtk_widget_unparent(child);
}

static void ponder_markdown_view_dispose(GObject *object)
{
    PonderMarkdownView *self = PONDER_MARKDOWN_VIEW(object);
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(self))))
        gtk_widget_unparent(child);
    G_OBJECT_CLASS(ponder_markdown_view_parent_class)->dispose(object);
}

static void ponder_markdown_view_finalize(GObject *object)
{
    PonderMarkdownView *self = PONDER_MARKDOWN_VIEW(object);
    g_string_free(self->text, TRUE);
    g_array_unref(self->pieces);
    G_OBJECT_CLASS(ponder_markdown_view_parent_class)->finalize(object);
}

static void ponder_markdown_view_class_init(PonderMarkdownViewClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
    object_class->dispose = ponder_markdown_view_dispose;
    object_class->finalize = ponder_markdown_view_finalize;
    // The bundle registers itself from its own object file; naming it keeps that file in a
    // static link, where nothing else refers to it.
    ponder_markdown_get_resource();
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BOX_LAYOUT);
    gtk_widget_class_set_css_name(widget_class, "markdownview");
    gtk_widget_class_set_accessible_role(widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void ponder_markdown_view_init(PonderMarkdownView *self)
{
    self->text = g_string_new(NULL);
    self->pieces = g_array_new(FALSE, FALSE, sizeof(Piece));
    GtkLayoutManager *layout = gtk_widget_get_layout_manager(GTK_WIDGET(self));
    gtk_orientable_set_orientation(GTK_ORIENTABLE(layout), GTK_ORIENTATION_VERTICAL);
    gtk_box_layout_set_spacing(GTK_BOX_LAYOUT(layout), 8);
    gtk_widget_add_css_class(GTK_WIDGET(self), "ponder-markdown");
    ensure_style();
}

GtkWidget *ponder_markdown_view_new(void)
{
    return g_object_new(PONDER_TYPE_MARKDOWN_VIEW, NULL);
}

void ponder_markdown_view_set_text(PonderMarkdownView *self, const char *text)
{
    g_return_if_fail(PONDER_IS_MARKDOWN_VIEW(self));
    g_autofree char *valid = NULL;
    if (!text)
        text = "";
    if (!g_utf8_validate(text, -1, NULL))
        text = valid = g_utf8_make_valid(text, -1);
    gsize length = strlen(text);
    if (length == self->text->len && memcmp(text, self->text->str, length) == 0)
        return;

    // Growing text keeps every piece but the last, which may have been cut short.
    guint keep = 0;
    if (self->pieces->len > 0 && length > self->text->len &&
        memcmp(text, self->text->str, self->text->len) == 0)
        keep = self->pieces->len - 1;
    guint n_stale = 0;
    for (guint i = keep; i < self->pieces->len; i++)
        n_stale += g_array_index(self->pieces, Piece, i).n_widgets;
    remove_last_children(self, n_stale);
    gsize from = keep < self->pieces->len ? g_array_index(self->pieces, Piece, keep).offset : 0;
    g_array_set_size(self->pieces, keep);
    g_string_assign(self->text, text);

    g_autoptr(GArray) starts = ponder_markdown_piece_starts(text, length, from);
    for (guint i = 0; i < starts->len; i++) {
        gsize start = g_array_index(starts, gsize, i);
        gsize end = i + 1 < starts->len ? g_array_index(starts, gsize, i + 1) : length;
        Piece piece = {start, render_piece(self, text + start, end - start)};
        g_array_append_val(self->pieces, piece);
    }
    g_object_set_data(G_OBJECT(self), WIDGETS_CREATED_KEY, GUINT_TO_POINTER(self->widgets_created));
}

const char *ponder_markdown_view_get_text(PonderMarkdownView *self)
{
    g_return_val_if_fail(PONDER_IS_MARKDOWN_VIEW(self), NULL);
    return self->text->str;
}
