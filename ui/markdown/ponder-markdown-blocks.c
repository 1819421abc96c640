// md4c walks the Markdown (its math swapped for placeholders first, ponder-math.h) and the
// callbacks below build blocks: a stack of frames for quotes, lists and tables, and one Pango
// markup string for the paragraph, heading or table cell being read. Spans open in that string
// are kept on a stack, so a display formula that must stand on its own line can close them
// before it and reopen them after it: every label's markup stays balanced.
#include "ponder-markdown-blocks.h"

#include "ponder-math.h"

#include <md4c.h>
#include <string.h>

#define MARKDOWN_FLAGS (MD_DIALECT_GITHUB | MD_FLAG_NOHTML)

// Quotes and lists nested deeper are flattened (on_enter_block): a widget tree is measured and
// drawn recursively, and ">>>>…" or "- - - …" from a model would otherwise become as many
// nested boxes as it has characters.
enum { MAX_NESTING = PONDER_MD_MAX_NESTING };

typedef enum {
    FRAME_DOCUMENT, // blocks go to the top level
    FRAME_BOX,      // a quote or a list item's content
    FRAME_LIST,
    FRAME_TABLE,
} FrameKind;

typedef struct {
    FrameKind kind;
    PonderMdBlock *block; // where the blocks inside go (NULL for the document); the table
    guint list_depth;     // lists around this frame: picks the bullet
    guint depth;          // container blocks around the blocks of this frame
    // lists
    gboolean ordered;
    unsigned next_number;
    char delimiter;
    // tables
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
    MD_SPANTYPE type;
    char *open;
    char *close;
} Tag;

typedef struct {
    const PonderMathText *math;
    GPtrArray *blocks; // the top level
    GArray *frames;    // of Frame; [0] is the document

    // The paragraph, heading or cell being read.
    InlineKind inline_kind;
    unsigned heading_level;
    MD_ALIGN cell_align;
    GString *markup;
    GArray *open_tags; // of Tag: spans open here, closed and reopened around display math
    guint code_span_depth, link_depth;
    PonderMdBlock *last_formula; // the display formula just placed, while only punctuation followed

    // The code block being read.
    gboolean in_code_block;
    GString *code;
    char *code_language;
} Builder;

void ponder_md_block_free(PonderMdBlock *block)
{
    if (!block)
        return;
    g_free(block->markup);
    g_free(block->text);
    g_free(block->language);
    g_ptr_array_unref(block->children);
    g_free(block);
}

static PonderMdBlock *block_new(PonderMdKind kind)
{
    PonderMdBlock *block = g_new0(PonderMdBlock, 1);
    block->kind = kind;
    block->children = g_ptr_array_new_with_free_func((GDestroyNotify)ponder_md_block_free);
    return block;
}

static PonderMdBlock *text_block(const char *markup, PonderMdStyle style)
{
    PonderMdBlock *block = block_new(PONDER_MD_TEXT);
    block->markup = g_strdup(markup);
    block->style = style;
    return block;
}

static Frame *top_frame(Builder *b)
{
    return &g_array_index(b->frames, Frame, b->frames->len - 1);
}

static Frame *push_frame(Builder *b, FrameKind kind, PonderMdBlock *block)
{
    Frame frame = {.kind = kind, .block = block};
    if (b->frames->len > 0) {
        frame.list_depth = top_frame(b)->list_depth;
        frame.depth = top_frame(b)->depth + 1;
    }
    g_array_append_val(b->frames, frame);
    return top_frame(b);
}

// Places BLOCK in the innermost frame (and returns it, or NULL when it was dropped).
static PonderMdBlock *add_block(Builder *b, PonderMdBlock *block)
{
    Frame *frame = top_frame(b);
    if (frame->kind == FRAME_DOCUMENT) {
        g_ptr_array_add(b->blocks, block);
    } else if (frame->kind != FRAME_TABLE && frame->block) {
        g_ptr_array_add(frame->block->children, block);
    } else { // md4c puts no block inside a table; drop one rather than leak it
        ponder_md_block_free(block);
        return NULL;
    }
    return block;
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

static void push_tag(Builder *b, MD_SPANTYPE type, char *open, char *close)
{
    Tag tag = {type, open, close};
    g_string_append(b->markup, open);
    g_array_append_val(b->open_tags, tag);
    if (type == MD_SPAN_CODE)
        b->code_span_depth++;
    if (type == MD_SPAN_A || type == MD_SPAN_IMG)
        b->link_depth++;
}

static void pop_tag(Builder *b)
{
    Tag *tag = &g_array_index(b->open_tags, Tag, b->open_tags->len - 1);
    g_string_append(b->markup, tag->close);
    if (tag->type == MD_SPAN_CODE)
        b->code_span_depth--;
    if (tag->type == MD_SPAN_A || tag->type == MD_SPAN_IMG)
        b->link_depth--;
    g_array_set_size(b->open_tags, b->open_tags->len - 1);
}

static void tag_clear(gpointer data)
{
    Tag *tag = data;
    g_free(tag->open);
    g_free(tag->close);
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
        g_ptr_array_add(b->last_formula->children, text_block(markup, PONDER_MD_STYLE_PLAIN));
        return;
    }
    b->last_formula = NULL;

    switch (b->inline_kind) {
    case INLINE_HEADING: {
        PonderMdBlock *heading = text_block(markup, PONDER_MD_STYLE_HEADING);
        heading->level = CLAMP(b->heading_level, 1, 6);
        add_block(b, heading);
        break;
    }
    case INLINE_CELL: {
        Frame *table = top_frame(b);
        if (table->kind != FRAME_TABLE || !table->block)
            break;
        g_autofree char *cell_markup =
            table->in_head ? g_strdup_printf("<b>%s</b>", markup) : g_strdup(markup);
        PonderMdBlock *cell = text_block(cell_markup, table->in_head ? PONDER_MD_STYLE_HEADER_CELL
                                                                     : PONDER_MD_STYLE_CELL);
        cell->xalign = b->cell_align == MD_ALIGN_CENTER  ? 0.5f
                       : b->cell_align == MD_ALIGN_RIGHT ? 1.0f
                                                         : 0.0f;
        cell->row = table->row;
        cell->column = table->column;
        g_ptr_array_add(table->block->children, cell);
        break;
    }
    case INLINE_PARAGRAPH:
    case INLINE_NONE: add_block(b, text_block(markup, PONDER_MD_STYLE_PARAGRAPH)); break;
    }
}

// Ends the paragraph, heading or cell: spans md4c left open are closed (see on_leave_span), so
// the label's markup is balanced and the next block starts with none.
static void end_inline(Builder *b)
{
    while (b->open_tags->len > 0)
        pop_tag(b);
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

    PonderMdBlock *line = block_new(PONDER_MD_MATH_LINE);
    g_autofree char *formula = g_strdup_printf("<span font_family=\"serif\">%s</span>", markup);
    g_ptr_array_add(line->children, text_block(formula, boxed ? PONDER_MD_STYLE_MATH_BOXED
                                                              : PONDER_MD_STYLE_MATH_DISPLAY));
    b->last_formula = add_block(b, line);

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

    gboolean container =
        type == MD_BLOCK_QUOTE || type == MD_BLOCK_UL || type == MD_BLOCK_OL || type == MD_BLOCK_LI;
    if (container && top_frame(b)->depth >= MAX_NESTING) {
        // Too deep: the blocks inside go where those around it go (see MAX_NESTING).
        Frame flat = *top_frame(b);
        g_array_append_val(b->frames, flat);
        return 0;
    }

    switch (type) {
    case MD_BLOCK_DOC: push_frame(b, FRAME_DOCUMENT, NULL); break;
    case MD_BLOCK_QUOTE: push_frame(b, FRAME_BOX, add_block(b, block_new(PONDER_MD_QUOTE))); break;
    case MD_BLOCK_UL:
    case MD_BLOCK_OL: {
        Frame *frame = push_frame(b, FRAME_LIST, add_block(b, block_new(PONDER_MD_LIST)));
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
        PonderMdBlock *item = block_new(PONDER_MD_ITEM);
        item->text = g_strdup(list_marker(list, detail, number));
        list->next_number++;
        push_frame(b, FRAME_BOX, add_block(b, item));
        break;
    }
    case MD_BLOCK_HR: add_block(b, block_new(PONDER_MD_RULE)); break;
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
        Frame *frame = push_frame(b, FRAME_TABLE, add_block(b, block_new(PONDER_MD_TABLE)));
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
        PonderMdBlock *code = block_new(PONDER_MD_CODE);
        code->text = g_strdup(b->code->str);
        code->language = g_steal_pointer(&b->code_language);
        add_block(b, code);
        b->in_code_block = FALSE;
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
    case MD_SPAN_EM: push_tag(b, type, g_strdup("<i>"), g_strdup("</i>")); break;
    case MD_SPAN_STRONG: push_tag(b, type, g_strdup("<b>"), g_strdup("</b>")); break;
    case MD_SPAN_DEL: push_tag(b, type, g_strdup("<s>"), g_strdup("</s>")); break;
    case MD_SPAN_CODE: push_tag(b, type, g_strdup("<tt>"), g_strdup("</tt>")); break;
    case MD_SPAN_A:
    case MD_SPAN_IMG: {
        // An image cannot be fetched from here: its alt text links to it instead.
        const MD_ATTRIBUTE *address = type == MD_SPAN_A ? &((MD_SPAN_A_DETAIL *)detail)->href
                                                        : &((MD_SPAN_IMG_DETAIL *)detail)->src;
        g_autofree char *href = attribute_text(b, address);
        g_autofree char *target = link_target(href);
        if (target && b->link_depth == 0) // Pango links do not nest
            push_tag(b, type, g_markup_printf_escaped("<a href=\"%s\">", target), g_strdup("</a>"));
        else
            push_tag(b, type, g_strdup(""), g_strdup(""));
        break;
    }
    default: push_tag(b, type, g_strdup(""), g_strdup("")); break;
    }
    return 0;
}

// md4c 0.4.8 does not always leave the spans it entered: in `*t[](*)` the emphasis is closed
// by the `*` inside the link's destination, and no leave comes. A leave that is not the
// innermost open span's is ignored; end_inline closes what is still open.
static int on_leave_span(MD_SPANTYPE type, void *detail, void *userdata)
{
    Builder *b = userdata;
    if (b->open_tags->len > 0 &&
        g_array_index(b->open_tags, Tag, b->open_tags->len - 1).type == type)
        pop_tag(b);
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

GPtrArray *ponder_markdown_to_blocks(const char *markdown, gsize length)
{
    g_autoptr(PonderMathText) math = ponder_math_protect(markdown, length);
    Builder b = {
        .math = math,
        .blocks = g_ptr_array_new_with_free_func((GDestroyNotify)ponder_md_block_free),
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
    return b.blocks;
}

// See the header for what a piece start is.
GArray *ponder_markdown_piece_starts(const char *text, gsize length, gsize from)
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
