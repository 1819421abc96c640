// libFuzzer target for the Markdown + math renderer on arbitrary model output: the text goes
// through ponder_markdown_to_blocks as the Markdown view hands it over (cut at a NUL byte,
// invalid UTF-8 made valid, then whole and piece by piece), and every markup string produced
// must parse as GtkLabel parses it (its own <a href> links taken out, the rest handed to
// pango_parse_markup) and link only to http, https or mailto addresses, every plain string (list
// markers, code, its language) must be valid UTF-8, and every table cell must have a place. A
// model's text that breaks markup would show as an empty or raw label: that is the bug this finds.
//
// Build (needs the UI dependencies, so no -Dinference_only):
//   CC=clang meson setup build-fuzz-ui -Dfuzz=true -Db_lundef=false -Dcuda=disabled
//   -Dvulkan=disabled meson compile -C build-fuzz-ui tests/fuzz/fuzz-markdown
//   build-fuzz-ui/tests/fuzz/fuzz-markdown -max_total_time=60 -dict=tests/fuzz/markdown.dict
//       CORPUS tests/fuzz/corpus-markdown
// tests/ui/test-markdown.c runs the seeds and every past finding (tests/fuzz/regress-markdown)
// through fuzz_markdown_run.
#include "markdown/ponder-markdown-blocks.h"

#include <pango/pango.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_markdown_run(const uint8_t *data, size_t size);

static void broken(const char *what, const char *text, const char *detail)
{
    fprintf(stderr, "Markdown renderer invariant broken: %s: %s\n  in: %s\n", what,
            detail ? detail : "", text ? text : "(null)");
    abort();
}

// GtkLabel's markup is Pango's plus <a href="…">: GTK parses the whole string with GMarkup,
// takes the links out, and gives the rest to Pango (gtk_label_set_markup). The same here.
typedef struct {
    GString *pango;
    guint link_depth;
} LabelParse;

static void on_start(GMarkupParseContext *context, const char *element, const char **names,
                     const char **values, gpointer user, GError **error)
{
    LabelParse *parse = user;
    if (strcmp(element, "a") == 0) {
        const char *href = NULL;
        for (guint i = 0; names[i]; i++)
            if (strcmp(names[i], "href") == 0)
                href = values[i];
        if (!href || parse->link_depth > 0) {
            g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                        href ? "nested links" : "a link without href");
            return;
        }
        // A model's text links only to the web or a mail address, never file: or a made-up
        // scheme that some handler would open.
        if (g_ascii_strncasecmp(href, "http:", 5) != 0 &&
            g_ascii_strncasecmp(href, "https:", 6) != 0 &&
            g_ascii_strncasecmp(href, "mailto:", 7) != 0) {
            g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                        "a link to '%s', not http, https or mailto", href);
            return;
        }
        parse->link_depth++;
        return;
    }
    if (strcmp(element, "markup") == 0)
        return;
    g_string_append_printf(parse->pango, "<%s", element);
    for (guint i = 0; names[i]; i++) {
        g_autofree char *value = g_markup_escape_text(values[i], -1);
        g_string_append_printf(parse->pango, " %s=\"%s\"", names[i], value);
    }
    g_string_append_c(parse->pango, '>');
}

static void on_end(GMarkupParseContext *context, const char *element, gpointer user, GError **error)
{
    LabelParse *parse = user;
    if (strcmp(element, "a") == 0)
        parse->link_depth--;
    else if (strcmp(element, "markup") != 0)
        g_string_append_printf(parse->pango, "</%s>", element);
}

static void on_text(GMarkupParseContext *context, const char *text, gsize length, gpointer user,
                    GError **error)
{
    g_autofree char *escaped = g_markup_escape_text(text, (gssize)length);
    g_string_append(((LabelParse *)user)->pango, escaped);
}

static gboolean parse_label_markup(const char *markup, GError **error)
{
    static const GMarkupParser parser = {on_start, on_end, on_text, NULL, NULL};
    LabelParse parse = {g_string_new(NULL), 0};
    g_autofree char *wrapped = g_strconcat("<markup>", markup, "</markup>", NULL);
    GMarkupParseContext *context = g_markup_parse_context_new(&parser, 0, &parse, NULL);
    gboolean ok = g_markup_parse_context_parse(context, wrapped, -1, error) &&
                  g_markup_parse_context_end_parse(context, error) &&
                  pango_parse_markup(parse.pango->str, -1, 0, NULL, NULL, NULL, error);
    g_markup_parse_context_free(context);
    g_string_free(parse.pango, TRUE);
    return ok;
}

static void check_block(const PonderMdBlock *block, guint depth)
{
    // Containers up to the limit, then a formula line and its text.
    if (depth > PONDER_MD_MAX_NESTING + 2)
        broken("blocks nested deeper than PONDER_MD_MAX_NESTING", NULL, NULL);
    switch (block->kind) {
    case PONDER_MD_TEXT: {
        g_autoptr(GError) error = NULL;
        if (!block->markup || !parse_label_markup(block->markup, &error))
            broken("markup GtkLabel refuses", block->markup, error ? error->message : NULL);
        if (block->children->len != 0)
            broken("a text block with children", block->markup, NULL);
        break;
    }
    case PONDER_MD_ITEM:
    case PONDER_MD_CODE:
        if (!block->text || !g_utf8_validate(block->text, -1, NULL))
            broken("a marker or code that is not valid UTF-8", block->text, NULL);
        if (block->kind == PONDER_MD_CODE &&
            (!block->language || !g_utf8_validate(block->language, -1, NULL)))
            broken("a code language that is not valid UTF-8", block->language, NULL);
        break;
    case PONDER_MD_TABLE:
        for (guint i = 0; i < block->children->len; i++) {
            const PonderMdBlock *cell = g_ptr_array_index(block->children, i);
            if (cell->kind != PONDER_MD_TEXT || cell->row < 0 || cell->column < 0)
                broken("a table cell without a place", cell->markup, NULL);
        }
        break;
    case PONDER_MD_MATH_LINE:
        if (block->children->len == 0)
            broken("a formula line without its formula", NULL, NULL);
        break;
    default: break;
    }
    for (guint i = 0; i < block->children->len; i++)
        check_block(g_ptr_array_index(block->children, i), depth + 1);
}

static void check_blocks(const char *text, gsize length)
{
    g_autoptr(GPtrArray) blocks = ponder_markdown_to_blocks(text, length);
    for (guint i = 0; i < blocks->len; i++)
        check_block(g_ptr_array_index(blocks, i), 0);
}

void fuzz_markdown_run(const uint8_t *data, size_t size)
{
    // What ponder_markdown_view_set_text does with a model's text.
    g_autofree char *text = g_strndup((const char *)data, size);
    if (!g_utf8_validate(text, -1, NULL)) {
        char *valid = g_utf8_make_valid(text, -1);
        g_free(text);
        text = valid;
    }
    gsize length = strlen(text);
    check_blocks(text, length);

    g_autoptr(GArray) starts = ponder_markdown_piece_starts(text, length, 0);
    if (starts->len == 0 || g_array_index(starts, gsize, 0) != 0)
        broken("the first piece does not start at 0", text, NULL);
    for (guint i = 0; i < starts->len; i++) {
        gsize start = g_array_index(starts, gsize, i);
        gsize end = i + 1 < starts->len ? g_array_index(starts, gsize, i + 1) : length;
        if (end < start || end > length || (i > 0 && start == g_array_index(starts, gsize, i - 1)))
            broken("piece starts out of order", text, NULL);
        if (starts->len > 1)
            check_blocks(text + start, end - start);
    }
}

#ifndef PONDER_FUZZ_REPLAY // tests/ui/test-markdown.c links this file
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_markdown_run(data, size);
    return 0;
}
#endif
