// An answer streams in 60 times a second, so the text is cut into pieces that parse alone (see
// find_piece_starts) and, while the text only grows, just the last piece is parsed again: the
// widgets of the pieces before it stay. Within a piece, math is swapped for placeholders
// (ponder-math.h), md4c walks the Markdown, and the callbacks below build widgets: a stack of
// frames for quotes, lists and tables, and one Pango markup string for the paragraph, heading
// or table cell being read.
//
// The number of widgets made so far is kept on the view as object data under
// "ponder-markdown-widgets-created" (a guint in a pointer), so a test can measure what one
// update costs.
#include "ponder-markdown-view.h"

#include "ponder-code-block.h"
#include "ponder-markdown-resources.h"
#include "ponder-math.h"

#include <glib/gi18n.h>
#include <md4c.h>
#include <string.h>

#define WIDGETS_CREATED_KEY "ponder-markdown-widgets-created"
#define STYLE_KEY "ponder-markdown-style"
#define MARKDOWN_FLAGS (MD_DIALECT_GITHUB | MD_FLAG_NOHTML)

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

// --- building widgets from md4c's callbacks --------------------------------------------------

typedef enum {
    FRAME_DOCUMENT, // blocks go straight into the view
    FRAME_BOX,      // a quote or a list item's content
    FRAME_LIST,
    FRAME_TABLE,
} FrameKind;

typedef struct {
    FrameKind kind;
    GtkWidget *box;   // where the blocks inside go (NULL for the document and tables)
    guint list_depth; // lists around this frame: picks the bullet
    // lists
    gboolean ordered;
    unsigned next_number;
    char delimiter;
    // tables
    GtkGrid *grid;
    int row, column;
    gboolean in_head;
} Frame;

typedef enum {
    INLINE_NONE,
    INLINE_PARAGRAPH, // also the bare text of a tight list item
    INLINE_HEADING,
    INLINE_CELL,
} InlineKind;

typedef struct {
    char *open;
    char *close;
} Tag;

typedef struct {
    PonderMarkdownView *view;
    const PonderMathText *math;
    GArray *frames; // of Frame; [0] is the document
    guint n_top_level;

    // The paragraph, heading or cell being read.
    InlineKind inline_kind;
    unsigned heading_level;
    MD_ALIGN cell_align;
    GString *markup;
    GArray *open_tags; // of Tag: spans open here, closed and reopened around display math
    guint code_span_depth, link_depth;
    GtkWidget *last_formula; // the display formula just placed, while only punctuation followed

    // The code block being read.
    gboolean in_code_block;
    GString *code;
    char *code_language;
} Builder;

static GtkWidget *created(Builder *b, GtkWidget *widget)
{
    b->view->widgets_created++;
    return widget;
}

static Frame *top_frame(Builder *b)
{
    return &g_array_index(b->frames, Frame, b->frames->len - 1);
}

static Frame *push_frame(Builder *b, FrameKind kind, GtkWidget *box)
{
    Frame frame = {.kind = kind, .box = box};
    if (b->frames->len > 0)
        frame.list_depth = top_frame(b)->list_depth;
    g_array_append_val(b->frames, frame);
    return top_frame(b);
}

static void add_block(Builder *b, GtkWidget *widget)
{
    Frame *frame = top_frame(b);
    if (frame->kind == FRAME_DOCUMENT) {
        gtk_widget_insert_before(widget, GTK_WIDGET(b->view), NULL);
        b->n_top_level++;
    } else if (frame->box) {
        gtk_box_append(GTK_BOX(frame->box), widget);
    } else { // md4c puts no block inside a table; drop one rather than leak it
        g_object_unref(g_object_ref_sink(widget));
    }
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

static GtkWidget *new_label(Builder *b, const char *markup, const char *css_class)
{
    GtkWidget *label = created(b, gtk_label_new(NULL));
    gtk_label_set_markup(GTK_LABEL(label), markup);
    gtk_label_set_wrap(GTK_LABEL(label), TRUE);
    gtk_label_set_wrap_mode(GTK_LABEL(label), PANGO_WRAP_WORD_CHAR);
    gtk_label_set_selectable(GTK_LABEL(label), TRUE);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    if (css_class)
        gtk_widget_add_css_class(label, css_class);
    g_signal_connect(label, "activate-link", G_CALLBACK(on_activate_link), NULL);
    return label;
}

// What MARKUP shows, tags left out (entities kept: enough to tell blank from not).
static char *markup_text(const char *markup)
{
    GString *text = g_string_new(NULL);
    for (const char *p = markup; *p; p++) {
        if (*p == '<') {
            const char *close = strchr(p, '>');
            if (!close)
                break;
            p = close;
        } else {
            g_string_append_c(text, *p);
        }
    }
    return g_string_free(text, FALSE);
}

static gboolean is_punctuation_only(const char *text)
{
    for (const char *p = text; *p; p++)
        if (!strchr(".,;:!?) ", *p))
            return FALSE;
    return TRUE;
}

static void begin_inline(Builder *b, InlineKind kind)
{
    b->inline_kind = kind;
    b->last_formula = NULL;
    g_string_truncate(b->markup, 0);
}

// Places what was read since the last formula (or the block's start) as one label.
static void flush_run(Builder *b)
{
    g_autofree char *markup = g_strstrip(g_strdup(b->markup->str));
    g_string_truncate(b->markup, 0);
    g_autofree char *visible = g_strstrip(markup_text(markup));
    if (*visible == '\0')
        return;

    // "… \[ x = 1 \]." : the full stop stays beside the formula, not on a line of its own.
    if (b->last_formula && is_punctuation_only(visible)) {
        gtk_box_append(GTK_BOX(b->last_formula), new_label(b, markup, NULL));
        return;
    }
    b->last_formula = NULL;

    switch (b->inline_kind) {
    case INLINE_HEADING: {
        char css_class[] = "ponder-heading-1";
        css_class[strlen(css_class) - 1] = (char)('0' + CLAMP(b->heading_level, 1, 6));
        add_block(b, new_label(b, markup, css_class));
        break;
    }
    case INLINE_CELL: {
        Frame *table = top_frame(b);
        if (table->kind != FRAME_TABLE)
            break;
        g_autofree char *cell_markup =
            table->in_head ? g_strdup_printf("<b>%s</b>", markup) : g_strdup(markup);
        GtkWidget *cell = new_label(b, cell_markup, "ponder-table-cell");
        if (table->in_head)
            gtk_widget_add_css_class(cell, "ponder-table-header");
        float xalign = b->cell_align == MD_ALIGN_CENTER  ? 0.5f
                       : b->cell_align == MD_ALIGN_RIGHT ? 1.0f
                                                         : 0.0f;
        gtk_label_set_xalign(GTK_LABEL(cell), xalign);
        gtk_grid_attach(table->grid, cell, table->column, table->row, 1, 1);
        break;
    }
    case INLINE_PARAGRAPH:
    case INLINE_NONE: add_block(b, new_label(b, markup, "ponder-paragraph")); break;
    }
}

static void end_inline(Builder *b)
{
    flush_run(b);
    b->inline_kind = INLINE_NONE;
    b->last_formula = NULL;
}

static void append_escaped(GString *out, const char *text, gssize length)
{
    g_autofree char *escaped = g_markup_escape_text(text, length);
    g_string_append(out, escaped);
}

// A formula inside running text stays inline; a display one (or a boxed final answer) in a
// paragraph gets a centred line of its own, and the spans open around it are closed before it
// and reopened after it so each label's markup stays balanced.
static void append_math(Builder *b, const PonderMathSpan *span)
{
    gboolean boxed = FALSE;
    g_autofree char *markup = ponder_math_to_markup(span->tex, &boxed);
    gboolean own_line = (span->layout == PONDER_MATH_DISPLAY || boxed) &&
                        b->inline_kind == INLINE_PARAGRAPH && b->link_depth == 0;
    if (!own_line) {
        g_string_append_printf(b->markup,
                               "<span font_family=\"serif\" style=\"italic\"%s>%s</span>",
                               boxed ? " weight=\"bold\"" : "", markup);
        return;
    }

    for (guint i = b->open_tags->len; i-- > 0;)
        g_string_append(b->markup, g_array_index(b->open_tags, Tag, i).close);
    flush_run(b);

    GtkWidget *line = created(b, gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 0));
    gtk_widget_set_halign(line, GTK_ALIGN_CENTER);
    gtk_widget_add_css_class(line, "ponder-math-line");
    g_autofree char *formula = g_strdup_printf("<span font_family=\"serif\">%s</span>", markup);
    GtkWidget *label = new_label(b, formula, boxed ? "ponder-math-boxed" : "ponder-math-display");
    gtk_label_set_justify(GTK_LABEL(label), GTK_JUSTIFY_CENTER);
    gtk_label_set_xalign(GTK_LABEL(label), 0.5f);
    gtk_box_append(GTK_BOX(line), label);
    add_block(b, line);
    b->last_formula = line;

    for (guint i = 0; i < b->open_tags->len; i++)
        g_string_append(b->markup, g_array_index(b->open_tags, Tag, i).open);
}

static void append_text_with_math(Builder *b, const char *text, gsize size)
{
    const char *p = text, *end = text + size;
    const char *token;
    gsize token_length;
    const PonderMathSpan *span;
    while ((token = ponder_math_text_find(b->math, p, end - p, &token_length, &span))) {
        append_escaped(b->markup, p, token - p);
        append_math(b, span);
        p = token + token_length;
    }
    append_escaped(b->markup, p, end - p);
}

// md4c hands entities over as written; Pango knows only XML's five, so decode them here.
static gboolean decode_entity(const char *text, gsize size, GString *out)
{
    static const struct {
        const char *name;
        const char *text;
    } named[] = {
        {"amp", "&"},       {"lt", "<"},     {"gt", ">"},       {"quot", "\""}, {"apos", "'"},
        {"nbsp", "\u00A0"}, {"copy", "©"},   {"reg", "®"},      {"trade", "™"}, {"mdash", "—"},
        {"ndash", "–"},     {"hellip", "…"}, {"laquo", "«"},    {"raquo", "»"}, {"ldquo", "“"},
        {"rdquo", "”"},     {"lsquo", "‘"},  {"rsquo", "’"},    {"times", "×"}, {"divide", "÷"},
        {"plusmn", "±"},    {"deg", "°"},    {"middot", "·"},   {"sect", "§"},  {"para", "¶"},
        {"euro", "€"},      {"pound", "£"},  {"yen", "¥"},      {"cent", "¢"},  {"larr", "←"},
        {"rarr", "→"},      {"harr", "↔"},   {"le", "≤"},       {"ge", "≥"},    {"ne", "≠"},
        {"infin", "∞"},     {"bull", "•"},   {"shy", "\u00AD"},
    };
    if (size < 3 || text[0] != '&' || text[size - 1] != ';')
        return FALSE;
    const char *body = text + 1;
    gsize body_length = size - 2;
    if (body[0] == '#') {
        gboolean hex = body_length > 1 && (body[1] == 'x' || body[1] == 'X');
        g_autofree char *digits = g_strndup(body + (hex ? 2 : 1), body_length - (hex ? 2 : 1));
        char *digits_end = NULL;
        guint64 code = g_ascii_strtoull(digits, &digits_end, hex ? 16 : 10);
        if (*digits == '\0' || *digits_end != '\0')
            return FALSE;
        // CommonMark: an invalid code point or NUL reads as the replacement character.
        gunichar c = code > 0 && code <= 0x10FFFF && g_unichar_validate((gunichar)code)
                         ? (gunichar)code
                         : 0xFFFD;
        g_string_append_unichar(out, c);
        return TRUE;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(named); i++) {
        if (strlen(named[i].name) == body_length && memcmp(named[i].name, body, body_length) == 0) {
            g_string_append(out, named[i].text);
            return TRUE;
        }
    }
    return FALSE;
}

// An md4c attribute (a link's address) as plain text, its math placeholders put back.
static char *attribute_text(const Builder *b, const MD_ATTRIBUTE *attribute)
{
    if (attribute->size == 0)
        return g_strdup("");
    GString *text = g_string_new(NULL);
    for (unsigned i = 0; attribute->substr_offsets[i] < attribute->size; i++) {
        const char *part = attribute->text + attribute->substr_offsets[i];
        gsize size = attribute->substr_offsets[i + 1] - attribute->substr_offsets[i];
        if (attribute->substr_types[i] == MD_TEXT_NULLCHAR)
            g_string_append(text, "\uFFFD");
        else if (attribute->substr_types[i] != MD_TEXT_ENTITY || !decode_entity(part, size, text))
            g_string_append_len(text, part, size);
    }
    char *restored = ponder_math_text_restore(b->math, text->str, text->len);
    g_string_free(text, TRUE);
    return restored;
}

// Only links a browser or mail client should open; anything else (file:, javascript:, a
// custom scheme a model made up) stays plain text.
static char *link_target(const char *href)
{
    const char *scheme = g_uri_peek_scheme(href); // lower-cased, interned
    if (scheme && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0 ||
                   strcmp(scheme, "mailto") == 0))
        return g_strdup(href);
    // md4c's permissive autolinks hand over "www.…" and bare addresses as written.
    if (!scheme && g_str_has_prefix(href, "www."))
        return g_strconcat("http://", href, NULL);
    if (!scheme && strchr(href, '@') && !strchr(href, '/'))
        return g_strconcat("mailto:", href, NULL);
    return NULL;
}

static void push_tag(Builder *b, char *open, char *close)
{
    Tag tag = {open, close};
    g_string_append(b->markup, open);
    g_array_append_val(b->open_tags, tag);
}

static void tag_clear(gpointer data)
{
    Tag *tag = data;
    g_free(tag->open);
    g_free(tag->close);
}

static const char *list_marker(Frame *list, const MD_BLOCK_LI_DETAIL *item, char *number)
{
    static const char *const bullets[] = {"•", "◦", "▪"};
    if (item->is_task)
        return item->task_mark == ' ' ? "☐" : "☑";
    if (list->ordered) {
        g_snprintf(number, 24, "%u%c", list->next_number, list->delimiter);
        return number;
    }
    return bullets[(MAX(list->list_depth, 1) - 1) % G_N_ELEMENTS(bullets)];
}

static int on_enter_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
    Builder *b = userdata;
    if (b->inline_kind != INLINE_NONE) // a tight list item's text, before a nested block
        end_inline(b);

    switch (type) {
    case MD_BLOCK_DOC: push_frame(b, FRAME_DOCUMENT, NULL); break;
    case MD_BLOCK_QUOTE: {
        GtkWidget *quote = created(b, gtk_box_new(GTK_ORIENTATION_VERTICAL, 6));
        gtk_widget_add_css_class(quote, "ponder-blockquote");
        add_block(b, quote);
        push_frame(b, FRAME_BOX, quote);
        break;
    }
    case MD_BLOCK_UL:
    case MD_BLOCK_OL: {
        GtkWidget *list = created(b, gtk_box_new(GTK_ORIENTATION_VERTICAL, 4));
        gtk_widget_add_css_class(list, "ponder-list");
        add_block(b, list);
        Frame *frame = push_frame(b, FRAME_LIST, list);
        frame->list_depth++;
        if (type == MD_BLOCK_OL) {
            const MD_BLOCK_OL_DETAIL *ordered = detail;
            frame->ordered = TRUE;
            frame->next_number = ordered->start;
            frame->delimiter = ordered->mark_delimiter;
        }
        break;
    }
    case MD_BLOCK_LI: {
        Frame *list = top_frame(b);
        char number[24];
        const char *marker = list_marker(list, detail, number);
        list->next_number++;
        GtkWidget *item = created(b, gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6));
        GtkWidget *marker_label = created(b, gtk_label_new(marker));
        gtk_widget_add_css_class(marker_label, "ponder-list-marker");
        gtk_widget_set_valign(marker_label, GTK_ALIGN_START);
        gtk_label_set_xalign(GTK_LABEL(marker_label), 1.0f);
        GtkWidget *content = created(b, gtk_box_new(GTK_ORIENTATION_VERTICAL, 4));
        gtk_widget_set_hexpand(content, TRUE);
        gtk_box_append(GTK_BOX(item), marker_label);
        gtk_box_append(GTK_BOX(item), content);
        add_block(b, item);
        push_frame(b, FRAME_BOX, content);
        break;
    }
    case MD_BLOCK_HR:
        add_block(b, created(b, gtk_separator_new(GTK_ORIENTATION_HORIZONTAL)));
        break;
    case MD_BLOCK_H:
        begin_inline(b, INLINE_HEADING);
        b->heading_level = ((const MD_BLOCK_H_DETAIL *)detail)->level;
        break;
    case MD_BLOCK_CODE: {
        const MD_BLOCK_CODE_DETAIL *code = detail;
        b->in_code_block = TRUE;
        g_string_truncate(b->code, 0);
        g_free(b->code_language);
        b->code_language = attribute_text(b, &code->lang);
        break;
    }
    case MD_BLOCK_P: begin_inline(b, INLINE_PARAGRAPH); break;
    case MD_BLOCK_TABLE: {
        GtkWidget *grid = created(b, gtk_grid_new());
        gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
        gtk_grid_set_row_spacing(GTK_GRID(grid), 4);
        gtk_widget_add_css_class(grid, "ponder-table");
        gtk_widget_set_halign(grid, GTK_ALIGN_START);
        add_block(b, grid);
        Frame *frame = push_frame(b, FRAME_TABLE, NULL);
        frame->grid = GTK_GRID(grid);
        frame->row = -1;
        break;
    }
    case MD_BLOCK_THEAD:
    case MD_BLOCK_TBODY:
        if (top_frame(b)->kind == FRAME_TABLE)
            top_frame(b)->in_head = type == MD_BLOCK_THEAD;
        break;
    case MD_BLOCK_TR:
        if (top_frame(b)->kind == FRAME_TABLE) {
            top_frame(b)->row++;
            top_frame(b)->column = 0;
        }
        break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD:
        begin_inline(b, INLINE_CELL);
        b->cell_align = ((const MD_BLOCK_TD_DETAIL *)detail)->align;
        break;
    case MD_BLOCK_HTML: // not produced: raw HTML is off
        break;
    }
    return 0;
}

static int on_leave_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
    Builder *b = userdata;
    if (b->inline_kind != INLINE_NONE)
        end_inline(b);

    switch (type) {
    case MD_BLOCK_CODE: {
        // Each line md4c hands over ends in '\n'; the block's own last one is not code.
        if (b->code->len > 0 && b->code->str[b->code->len - 1] == '\n')
            g_string_truncate(b->code, b->code->len - 1);
        add_block(b, created(b, ponder_code_block_new(b->code->str, b->code_language)));
        b->in_code_block = FALSE;
        g_clear_pointer(&b->code_language, g_free);
        break;
    }
    case MD_BLOCK_TH:
    case MD_BLOCK_TD:
        if (top_frame(b)->kind == FRAME_TABLE)
            top_frame(b)->column++;
        break;
    case MD_BLOCK_DOC:
    case MD_BLOCK_QUOTE:
    case MD_BLOCK_UL:
    case MD_BLOCK_OL:
    case MD_BLOCK_LI:
    case MD_BLOCK_TABLE:
        if (b->frames->len > 0)
            g_array_set_size(b->frames, b->frames->len - 1);
        break;
    default: break;
    }
    return 0;
}

static int on_enter_span(MD_SPANTYPE type, void *detail, void *userdata)
{
    Builder *b = userdata;
    if (b->inline_kind == INLINE_NONE)
        begin_inline(b, INLINE_PARAGRAPH);

    switch (type) {
    case MD_SPAN_EM: push_tag(b, g_strdup("<i>"), g_strdup("</i>")); break;
    case MD_SPAN_STRONG: push_tag(b, g_strdup("<b>"), g_strdup("</b>")); break;
    case MD_SPAN_DEL: push_tag(b, g_strdup("<s>"), g_strdup("</s>")); break;
    case MD_SPAN_CODE:
        b->code_span_depth++;
        push_tag(b, g_strdup("<tt>"), g_strdup("</tt>"));
        break;
    case MD_SPAN_A:
    case MD_SPAN_IMG: {
        // An image cannot be fetched from here: its alt text links to it instead.
        const MD_ATTRIBUTE *address = type == MD_SPAN_A ? &((MD_SPAN_A_DETAIL *)detail)->href
                                                        : &((MD_SPAN_IMG_DETAIL *)detail)->src;
        g_autofree char *href = attribute_text(b, address);
        g_autofree char *target = link_target(href);
        if (target && b->link_depth == 0) // Pango links do not nest
            push_tag(b, g_markup_printf_escaped("<a href=\"%s\">", target), g_strdup("</a>"));
        else
            push_tag(b, g_strdup(""), g_strdup(""));
        b->link_depth++;
        break;
    }
    default: push_tag(b, g_strdup(""), g_strdup("")); break;
    }
    return 0;
}

static int on_leave_span(MD_SPANTYPE type, void *detail, void *userdata)
{
    Builder *b = userdata;
    if (b->open_tags->len == 0)
        return 0;
    Tag *tag = &g_array_index(b->open_tags, Tag, b->open_tags->len - 1);
    g_string_append(b->markup, tag->close);
    g_array_set_size(b->open_tags, b->open_tags->len - 1);
    if (type == MD_SPAN_CODE && b->code_span_depth > 0)
        b->code_span_depth--;
    if ((type == MD_SPAN_A || type == MD_SPAN_IMG) && b->link_depth > 0)
        b->link_depth--;
    return 0;
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *userdata)
{
    Builder *b = userdata;
    if (b->in_code_block) {
        g_autofree char *code = ponder_math_text_restore(b->math, text, size);
        g_string_append(b->code, code);
        return 0;
    }
    if (b->inline_kind == INLINE_NONE)
        begin_inline(b, INLINE_PARAGRAPH);

    switch (type) {
    case MD_TEXT_NULLCHAR: g_string_append(b->markup, "\uFFFD"); break;
    case MD_TEXT_BR: g_string_append_c(b->markup, '\n'); break;
    case MD_TEXT_SOFTBR: g_string_append_c(b->markup, ' '); break;
    case MD_TEXT_ENTITY: {
        g_autoptr(GString) decoded = g_string_new(NULL);
        if (decode_entity(text, size, decoded))
            append_escaped(b->markup, decoded->str, decoded->len);
        else
            append_escaped(b->markup, text, size);
        break;
    }
    case MD_TEXT_CODE:
        if (b->code_span_depth > 0) { // in code, math is not math
            g_autofree char *code = ponder_math_text_restore(b->math, text, size);
            append_escaped(b->markup, code, -1);
            break;
        }
        append_text_with_math(b, text, size);
        break;
    default: // normal text, and raw HTML (shown as the text it is)
        append_text_with_math(b, text, size);
        break;
    }
    return 0;
}

// Builds the widgets of TEXT[0, LENGTH) into the view; returns how many it placed at the top.
static guint render_piece(PonderMarkdownView *self, const char *text, gsize length)
{
    g_autoptr(PonderMathText) math = ponder_math_protect(text, length);
    Builder b = {
        .view = self,
        .math = math,
        .frames = g_array_new(FALSE, TRUE, sizeof(Frame)),
        .markup = g_string_new(NULL),
        .open_tags = g_array_new(FALSE, TRUE, sizeof(Tag)),
        .code = g_string_new(NULL),
    };
    g_array_set_clear_func(b.open_tags, tag_clear);
    const MD_PARSER parser = {
        .flags = MARKDOWN_FLAGS,
        .enter_block = on_enter_block,
        .leave_block = on_leave_block,
        .enter_span = on_enter_span,
        .leave_span = on_leave_span,
        .text = on_text,
    };
    md_parse(math->text, (MD_SIZE)math->length, &parser, &b);

    g_array_unref(b.frames);
    g_string_free(b.markup, TRUE);
    g_array_unref(b.open_tags);
    g_string_free(b.code, TRUE);
    g_free(b.code_language);
    return b.n_top_level;
}

// --- pieces -----------------------------------------------------------------------------------

// Where pieces start in TEXT[from, length), FROM first (itself such a start, or 0): a line
// after a blank line, outside fenced code, beginning at the margin with something no open
// container continues with (not a list marker, not a digit, not indented). Such a line starts
// a new top-level block whatever came before, so a piece parses alone exactly as it does in
// the whole text (link reference definitions aside: R1 does not write them). Appending text
// never changes where the earlier starts are.
static GArray *find_piece_starts(const char *text, gsize length, gsize from)
{
    GArray *starts = g_array_new(FALSE, FALSE, sizeof(gsize));
    g_array_append_val(starts, from);
    gboolean previous_blank = FALSE;
    gsize fence_length = 0;
    char fence_char = 0;
    for (gsize pos = from; pos < length;) {
        const char *newline = memchr(text + pos, '\n', length - pos);
        gsize line_length = newline ? (gsize)(newline - (text + pos)) : length - pos;
        gboolean blank = TRUE;
        for (gsize i = 0; i < line_length && blank; i++)
            blank = text[pos + i] == ' ' || text[pos + i] == '\t' || text[pos + i] == '\r';

        char first = text[pos];
        if (fence_length == 0 && previous_blank && !blank && pos > from &&
            !strchr(" \t-+*", first) && !g_ascii_isdigit(first))
            g_array_append_val(starts, pos);

        char c = 0;
        gboolean bare = FALSE;
        gsize run = ponder_math_code_fence(text + pos, line_length, &c, &bare);
        if (fence_length == 0 && run > 0) {
            fence_length = run;
            fence_char = c;
        } else if (fence_length > 0 && run >= fence_length && c == fence_char && bare) {
            fence_length = 0;
        }
        previous_blank = blank && fence_length == 0;
        if (!newline)
            break;
        pos += line_length + 1;
    }
    return starts;
}

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

    g_autoptr(GArray) starts = find_piece_starts(text, length, from);
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
