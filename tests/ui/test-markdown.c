// PonderMarkdownView: the widget tree built for Markdown (headings, lists, tables, quotes, code
// blocks, math, links, raw HTML), the code block's Copy button through the real clipboard, and
// streaming: the work per update stays flat as the answer grows, and the tree built piece by
// piece is the one a single parse builds. The Markdown fuzzer's seeds and findings
// (tests/fuzz/corpus-markdown, regress-markdown) go through its checks (fuzz-markdown.c is
// linked in): every markup string parses with Pango.
#include "markdown/ponder-code-block.h"
#include "markdown/ponder-markdown-blocks.h"
#include "markdown/ponder-markdown-view.h"

#include <gtksourceview/gtksource.h>
#include <string.h>

#define WIDGETS_CREATED_KEY "ponder-markdown-widgets-created"

static GtkWidget *build(const char *markdown)
{
    GtkWidget *view = g_object_ref_sink(ponder_markdown_view_new());
    ponder_markdown_view_set_text(PONDER_MARKDOWN_VIEW(view), markdown);
    g_assert_cmpstr(ponder_markdown_view_get_text(PONDER_MARKDOWN_VIEW(view)), ==, markdown);
    return view;
}

static guint widgets_created(GtkWidget *view)
{
    return GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(view), WIDGETS_CREATED_KEY));
}

static GPtrArray *children(GtkWidget *widget)
{
    GPtrArray *list = g_ptr_array_new();
    for (GtkWidget *c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c))
        g_ptr_array_add(list, c);
    return list;
}

static GtkWidget *child(GtkWidget *widget, guint index)
{
    g_autoptr(GPtrArray) list = children(widget);
    g_assert_cmpuint(index, <, list->len);
    return g_ptr_array_index(list, index);
}

static void collect(GtkWidget *widget, GType type, GPtrArray *found)
{
    for (GtkWidget *c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c)) {
        if (G_TYPE_CHECK_INSTANCE_TYPE(c, type))
            g_ptr_array_add(found, c);
        collect(c, type, found);
    }
}

static GtkWidget *find_one(GtkWidget *widget, GType type)
{
    g_autoptr(GPtrArray) found = g_ptr_array_new();
    collect(widget, type, found);
    g_assert_cmpuint(found->len, ==, 1);
    return g_ptr_array_index(found, 0);
}

static const char *markup_of(GtkWidget *widget)
{
    g_assert_true(GTK_IS_LABEL(widget));
    return gtk_label_get_label(GTK_LABEL(widget));
}

static const char *text_of(GtkWidget *widget)
{
    g_assert_true(GTK_IS_LABEL(widget));
    return gtk_label_get_text(GTK_LABEL(widget));
}

// A list item row: its marker's text and its content box.
static const char *marker_of(GtkWidget *item)
{
    return text_of(child(item, 0));
}

static GtkWidget *content_of(GtkWidget *item)
{
    return child(item, 1);
}

static void test_headings_and_emphasis(void)
{
    g_autoptr(GtkWidget) view =
        build("# Title\n\nSome *emphasis*, **strong**, ~~gone~~ and `a < b`.\n\n## Sub _title_\n");
    g_autoptr(GPtrArray) blocks = children(view);
    g_assert_cmpuint(blocks->len, ==, 3);
    GtkWidget *title = blocks->pdata[0], *paragraph = blocks->pdata[1], *sub = blocks->pdata[2];
    g_assert_true(gtk_widget_has_css_class(title, "ponder-heading-1"));
    g_assert_cmpstr(text_of(title), ==, "Title");
    g_assert_cmpstr(markup_of(paragraph), ==,
                    "Some <i>emphasis</i>, <b>strong</b>, <s>gone</s> and <tt>a &lt; b</tt>.");
    g_assert_true(gtk_label_get_wrap(GTK_LABEL(paragraph)));
    g_assert_true(gtk_label_get_selectable(GTK_LABEL(paragraph)));
    g_assert_true(gtk_widget_has_css_class(sub, "ponder-heading-2"));
    g_assert_cmpstr(markup_of(sub), ==, "Sub <i>title</i>");
}

static void test_nested_lists(void)
{
    g_autoptr(GtkWidget) view = build("- one\n"
                                      "- two\n"
                                      "  - nested\n"
                                      "    1. deep\n"
                                      "- three\n"
                                      "\n"
                                      "Between.\n"
                                      "\n"
                                      "3. c\n"
                                      "4. d\n"
                                      "\n"
                                      "Tasks:\n"
                                      "\n"
                                      "- [ ] todo\n"
                                      "- [x] done\n");
    g_autoptr(GPtrArray) blocks = children(view);
    g_assert_cmpuint(blocks->len, ==, 5);

    GtkWidget *list = blocks->pdata[0];
    g_autoptr(GPtrArray) items = children(list);
    g_assert_cmpuint(items->len, ==, 3);
    g_assert_cmpstr(marker_of(items->pdata[0]), ==, "•");
    g_assert_cmpstr(text_of(child(content_of(items->pdata[0]), 0)), ==, "one");
    GtkWidget *two = content_of(items->pdata[1]);
    g_assert_cmpstr(text_of(child(two, 0)), ==, "two");
    GtkWidget *nested_item = child(child(two, 1), 0);
    g_assert_cmpstr(marker_of(nested_item), ==, "◦");
    g_assert_cmpstr(text_of(child(content_of(nested_item), 0)), ==, "nested");
    GtkWidget *deep_item = child(child(content_of(nested_item), 1), 0);
    g_assert_cmpstr(marker_of(deep_item), ==, "1.");
    g_assert_cmpstr(text_of(child(content_of(deep_item), 0)), ==, "deep");
    g_assert_cmpstr(marker_of(items->pdata[2]), ==, "•");

    g_assert_cmpstr(text_of(blocks->pdata[1]), ==, "Between.");
    // An ordered list keeps the number it starts at.
    GtkWidget *ordered = blocks->pdata[2];
    g_assert_cmpstr(marker_of(child(ordered, 0)), ==, "3.");
    g_assert_cmpstr(marker_of(child(ordered, 1)), ==, "4.");
    g_assert_cmpstr(text_of(child(content_of(child(ordered, 1)), 0)), ==, "d");

    GtkWidget *tasks = blocks->pdata[4];
    g_assert_cmpstr(marker_of(child(tasks, 0)), ==, "☐");
    g_assert_cmpstr(text_of(child(content_of(child(tasks, 0)), 0)), ==, "todo");
    g_assert_cmpstr(marker_of(child(tasks, 1)), ==, "☑");
}

static void test_table(void)
{
    g_autoptr(GtkWidget) view = build("| Name | Value |\n"
                                      "|:-----|------:|\n"
                                      "| a | 1 |\n"
                                      "| **b** | $x^2$ |\n");
    GtkWidget *grid = child(view, 0);
    g_assert_true(GTK_IS_GRID(grid));
    GtkGrid *g = GTK_GRID(grid);
    GtkWidget *name = gtk_grid_get_child_at(g, 0, 0);
    g_assert_cmpstr(text_of(name), ==, "Name");
    g_assert_true(gtk_widget_has_css_class(name, "ponder-table-header"));
    g_assert_cmpstr(text_of(gtk_grid_get_child_at(g, 1, 0)), ==, "Value");
    g_assert_cmpstr(text_of(gtk_grid_get_child_at(g, 0, 1)), ==, "a");
    GtkWidget *one = gtk_grid_get_child_at(g, 1, 1);
    g_assert_cmpstr(text_of(one), ==, "1");
    g_assert_cmpfloat(gtk_label_get_xalign(GTK_LABEL(one)), ==, 1.0); // "------:" aligns right
    g_assert_false(gtk_widget_has_css_class(one, "ponder-table-header"));
    g_assert_cmpstr(markup_of(gtk_grid_get_child_at(g, 0, 2)), ==, "<b>b</b>");
    g_assert_cmpstr(text_of(gtk_grid_get_child_at(g, 1, 2)), ==, "x²");
    g_assert_null(gtk_grid_get_child_at(g, 0, 3));
}

static void test_quote_and_rule(void)
{
    g_autoptr(GtkWidget) view = build("> quoted *text*\n\n---\n\nafter");
    g_autoptr(GPtrArray) blocks = children(view);
    g_assert_cmpuint(blocks->len, ==, 3);
    g_assert_true(gtk_widget_has_css_class(blocks->pdata[0], "ponder-blockquote"));
    g_assert_cmpstr(markup_of(child(blocks->pdata[0], 0)), ==, "quoted <i>text</i>");
    g_assert_true(GTK_IS_SEPARATOR(blocks->pdata[1]));
    g_assert_cmpstr(text_of(blocks->pdata[2]), ==, "after");
}

static char *buffer_text(GtkWidget *code_block)
{
    GtkWidget *source_view = find_one(code_block, GTK_SOURCE_TYPE_VIEW);
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(GTK_TEXT_VIEW(source_view));
    GtkTextIter start, end;
    gtk_text_buffer_get_bounds(buffer, &start, &end);
    return gtk_text_buffer_get_text(buffer, &start, &end, TRUE);
}

static void on_clipboard_text(GObject *source, GAsyncResult *result, gpointer data)
{
    char **text = data;
    GError *error = NULL;
    *text = gdk_clipboard_read_text_finish(GDK_CLIPBOARD(source), result, &error);
    g_assert_no_error(error);
}

static void test_code_block(void)
{
    const char *code = "def f(x):\n    return x * 2  # $not math$ \\[nor this\\]";
    g_autofree char *markdown = g_strdup_printf("Here:\n\n```python\n%s\n```\n\nAfter.", code);
    g_autoptr(GtkWidget) view = build(markdown);
    GtkWidget *block = find_one(view, PONDER_TYPE_CODE_BLOCK);
    g_assert_true(gtk_widget_get_parent(block) == view);
    g_assert_cmpstr(ponder_code_block_get_language(PONDER_CODE_BLOCK(block)), ==, "python");
    g_autofree char *shown = buffer_text(block);
    g_assert_cmpstr(shown, ==, code);
    // Highlighted as Python (GtkSourceView's id for Python 3).
    GtkWidget *source_view = find_one(block, GTK_SOURCE_TYPE_VIEW);
    GtkSourceBuffer *buffer =
        GTK_SOURCE_BUFFER(gtk_text_view_get_buffer(GTK_TEXT_VIEW(source_view)));
    g_assert_nonnull(gtk_source_buffer_get_language(buffer));
    g_assert_cmpstr(gtk_source_language_get_id(gtk_source_buffer_get_language(buffer)), ==,
                    "python3");
    g_assert_false(gtk_text_view_get_editable(GTK_TEXT_VIEW(source_view)));

    // The language's name is shown; the icon-only Copy button has a tooltip.
    g_autoptr(GPtrArray) labels = g_ptr_array_new();
    collect(block, GTK_TYPE_LABEL, labels);
    gboolean language_shown = FALSE;
    for (guint i = 0; i < labels->len; i++)
        language_shown |= g_strcmp0(text_of(labels->pdata[i]), "python") == 0;
    g_assert_true(language_shown);
    GtkWidget *button = find_one(block, GTK_TYPE_BUTTON);
    g_assert_cmpstr(gtk_widget_get_tooltip_text(button), ==, "Copy");
    g_assert_cmpstr(gtk_button_get_icon_name(GTK_BUTTON(button)), ==, "edit-copy-symbolic");

    // Clicking it puts the code, exactly, on the clipboard.
    GdkClipboard *clipboard = gtk_widget_get_clipboard(block);
    gdk_clipboard_set_text(clipboard, "something else");
    g_signal_emit_by_name(button, "clicked");
    char *copied = NULL;
    gdk_clipboard_read_text_async(clipboard, NULL, on_clipboard_text, &copied);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (!copied && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    g_assert_cmpstr(copied, ==, code);
    g_free(copied);

    g_assert_cmpstr(text_of(child(view, 0)), ==, "Here:");
    g_assert_cmpstr(text_of(child(view, 2)), ==, "After.");
}

static void test_indented_code_keeps_math_source(void)
{
    // md4c, not the math scanner, knows this is code: the formula goes back as written.
    g_autoptr(GtkWidget) view = build("Text.\n\n    a_1 = $x_1$ + \\(y\\)\n");
    GtkWidget *block = find_one(view, PONDER_TYPE_CODE_BLOCK);
    g_autofree char *shown = buffer_text(block);
    g_assert_cmpstr(shown, ==, "a_1 = $x_1$ + \\(y\\)");
    g_assert_cmpstr(ponder_code_block_get_language(PONDER_CODE_BLOCK(block)), ==, "");
}

static void test_math_in_paragraph(void)
{
    g_autoptr(GtkWidget) view =
        build("The area is $\\pi r^2$, and $a_1 + b_1$ with $c_2$ here, `$d_1$` too.");
    g_autoptr(GPtrArray) blocks = children(view);
    g_assert_cmpuint(blocks->len, ==, 1);
    const char *markup = markup_of(blocks->pdata[0]);
    g_assert_cmpstr(markup, ==,
                    "The area is <span font_family=\"serif\" style=\"italic\">π r²</span>, and "
                    "<span font_family=\"serif\" style=\"italic\">a₁ + b₁</span> with "
                    "<span font_family=\"serif\" style=\"italic\">c₂</span> here, "
                    "<tt>$d_1$</tt> too.");
    // md4c never saw the underscores: no emphasis anywhere.
    g_assert_null(strstr(markup, "<i>"));
}

static void test_display_math_and_boxed(void)
{
    g_autoptr(GtkWidget) view =
        build("We get\n\\[\n\\frac{a}{b}\n\\]\nso **done \\[x_1\\] now**.\n\n"
              "Final: \\boxed{42}.");
    g_autoptr(GPtrArray) blocks = children(view);
    g_assert_cmpuint(blocks->len, ==, 7);
    g_assert_cmpstr(text_of(blocks->pdata[0]), ==, "We get");
    GtkWidget *line = blocks->pdata[1];
    g_assert_cmpint(gtk_widget_get_halign(line), ==, GTK_ALIGN_CENTER);
    GtkWidget *formula = child(line, 0);
    g_assert_true(gtk_widget_has_css_class(formula, "ponder-math-display"));
    g_assert_cmpstr(text_of(formula), ==, "a/b");
    // Bold stays balanced around the formula that interrupts it.
    g_assert_cmpstr(markup_of(blocks->pdata[2]), ==, "so <b>done </b>");
    g_assert_cmpstr(text_of(child(blocks->pdata[3], 0)), ==, "x₁");
    g_assert_cmpstr(markup_of(blocks->pdata[4]), ==, "<b> now</b>.");

    g_assert_cmpstr(text_of(blocks->pdata[5]), ==, "Final:");
    GtkWidget *answer = child(blocks->pdata[6], 0);
    g_assert_true(gtk_widget_has_css_class(answer, "ponder-math-boxed"));
    g_assert_cmpstr(text_of(answer), ==, "42");
    // The full stop sits beside the box, outside it.
    g_assert_cmpstr(text_of(child(blocks->pdata[6], 1)), ==, ".");
}

static void test_links(void)
{
    g_autoptr(GtkWidget) view = build("See [the docs](https://example.org/a?b=1&c=2), "
                                      "[bad](javascript:alert(1)), <https://gnome.org> and "
                                      "[local](file:///etc/passwd).");
    const char *markup = markup_of(child(view, 0));
    g_assert_cmpstr(markup, ==,
                    "See <a href=\"https://example.org/a?b=1&amp;c=2\">the docs</a>, bad, "
                    "<a href=\"https://gnome.org\">https://gnome.org</a> and local.");
}

static void test_raw_html_is_text(void)
{
    g_autoptr(GtkWidget) view = build("<b>bold</b> &amp; <script>alert(1)</script>\n\n"
                                      "<div>block</div>\n\n&copy; &#x3b1; &bogus;");
    g_autoptr(GPtrArray) blocks = children(view);
    g_assert_cmpuint(blocks->len, ==, 3);
    g_assert_cmpstr(text_of(blocks->pdata[0]), ==, "<b>bold</b> & <script>alert(1)</script>");
    g_assert_cmpstr(text_of(blocks->pdata[1]), ==, "<div>block</div>");
    g_assert_cmpstr(text_of(blocks->pdata[2]), ==, "© α &bogus;");
}

// What a tree shows, as one string: types, label markup, code, in order.
static void describe(GtkWidget *widget, GString *out)
{
    g_string_append(out, G_OBJECT_TYPE_NAME(widget));
    if (GTK_IS_LABEL(widget))
        g_string_append_printf(out, "[%s]", gtk_label_get_label(GTK_LABEL(widget)));
    if (PONDER_IS_CODE_BLOCK(widget))
        g_string_append_printf(out, "[%s]", ponder_code_block_get_code(PONDER_CODE_BLOCK(widget)));
    g_string_append_c(out, '(');
    for (GtkWidget *c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c))
        describe(c, out);
    g_string_append_c(out, ')');
}

static char *description(GtkWidget *view)
{
    GString *out = g_string_new(NULL);
    describe(view, out);
    return g_string_free(out, FALSE);
}

static void test_streaming_cost_is_flat(void)
{
    enum { N_PARAGRAPHS = 2000 };
    g_autoptr(GtkWidget) view = build("");
    GString *text = g_string_new(NULL);
    guint most_per_update = 0, updates = 0;
    for (guint i = 0; i < N_PARAGRAPHS; i++) {
        // Each paragraph arrives in two pieces, the first ending inside a formula.
        g_string_append_printf(text, "Paragraph %u has $x_", i);
        for (int half = 0; half < 2; half++) {
            guint before = widgets_created(view);
            ponder_markdown_view_set_text(PONDER_MARKDOWN_VIEW(view), text->str);
            most_per_update = MAX(most_per_update, widgets_created(view) - before);
            updates++;
            if (half == 0)
                g_string_append_printf(text, "{%u}$ and **bold**.\n\n", i);
        }
    }
    g_assert_cmpuint(updates, ==, 2 * N_PARAGRAPHS);
    // The last paragraph and the one before it at most, however long the answer is.
    g_assert_cmpuint(most_per_update, <=, 2);
    g_assert_cmpuint(most_per_update, >=, 1);
    g_autoptr(GPtrArray) blocks = children(view);
    g_assert_cmpuint(blocks->len, ==, N_PARAGRAPHS);
    g_assert_cmpstr(markup_of(blocks->pdata[N_PARAGRAPHS - 1]), ==,
                    "Paragraph 1999 has <span font_family=\"serif\" style=\"italic\">x₁₉₉₉</span> "
                    "and <b>bold</b>.");

    // The same text parsed at once gives the same tree.
    g_autoptr(GtkWidget) whole = build(text->str);
    g_autofree char *streamed = description(view);
    g_autofree char *at_once = description(whole);
    g_assert_cmpstr(streamed, ==, at_once);

    // Text that does not extend what is shown is rebuilt from scratch.
    ponder_markdown_view_set_text(PONDER_MARKDOWN_VIEW(view), "Edited.\n\nParagraph 1");
    g_autoptr(GPtrArray) edited = children(view);
    g_assert_cmpuint(edited->len, ==, 2);
    g_assert_cmpstr(text_of(edited->pdata[0]), ==, "Edited.");
    g_string_free(text, TRUE);
}

static void test_streaming_matches_one_parse(void)
{
    // Every prefix of a mixed answer, streamed character by character, shows what parsing that
    // prefix at once shows: lists, a loose list, fenced code with blank lines, a quote, a table.
    const char *answer = "# Plan\n\n"
                         "1. First $a_1$\n\n"
                         "2. Second\n\n"
                         "   continued\n\n"
                         "Text after.\n\n"
                         "```c\nint x;\n\nNot a paragraph\n```\n\n"
                         "> quote\n\n"
                         "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                         "\\[\n\\frac{1}{2}\n\\]\n\n"
                         "- item\n\nEnd \\boxed{7}.";
    g_autoptr(GtkWidget) view = build("");
    gsize length = strlen(answer);
    for (gsize n = 1; n <= length; n++) {
        g_autofree char *prefix = g_strndup(answer, n);
        ponder_markdown_view_set_text(PONDER_MARKDOWN_VIEW(view), prefix);
        g_autoptr(GtkWidget) whole = build(prefix);
        g_autofree char *streamed = description(view);
        g_autofree char *at_once = description(whole);
        if (g_strcmp0(streamed, at_once) != 0)
            g_test_message("differs after %" G_GSIZE_FORMAT " bytes", n);
        g_assert_cmpstr(streamed, ==, at_once);
    }
}

static guint widget_depth(GtkWidget *widget)
{
    guint deepest = 0;
    for (GtkWidget *c = gtk_widget_get_first_child(widget); c; c = gtk_widget_get_next_sibling(c)) {
        guint depth = widget_depth(c); // not inside MAX(), which would call it twice
        deepest = MAX(deepest, depth);
    }
    return deepest + 1;
}

// A model's ">>>>…" or "- - - …" stays a shallow widget tree (GTK measures and draws it
// recursively): nesting beyond PONDER_MD_MAX_NESTING is flattened.
static void test_deep_nesting(void)
{
    g_autofree char *quotes = g_strnfill(5000, '>');
    g_autofree char *quoted = g_strconcat(quotes, " deep", NULL);
    GString *list = g_string_new(NULL);
    for (int i = 0; i < 1000; i++)
        g_string_append(list, i % 2 ? "- " : "1. ");
    g_string_append(list, "deep");
    const char *texts[] = {quoted, list->str};
    for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
        g_autoptr(GtkWidget) view = build(texts[i]);
        g_assert_cmpuint(widget_depth(view), <=, 2 * PONDER_MD_MAX_NESTING + 4);
        g_assert_cmpuint(widget_depth(view), >=, PONDER_MD_MAX_NESTING / 2);
        g_autoptr(GPtrArray) labels = g_ptr_array_new();
        collect(view, GTK_TYPE_LABEL, labels);
        gboolean found = FALSE;
        for (guint j = 0; j < labels->len; j++)
            found = found || strcmp(gtk_label_get_text(g_ptr_array_index(labels, j)), "deep") == 0;
        g_assert_true(found);
    }
    g_string_free(list, TRUE);
}

void fuzz_markdown_run(const uint8_t *data, size_t size);

// Runs every file of tests/fuzz/DIR through the fuzz target's checks (which abort on markup
// Pango refuses); returns how many there were.
static guint replay_fuzz_inputs(const char *dir)
{
    g_autofree char *path =
        g_build_filename(g_getenv("PONDER_SOURCE_ROOT"), "tests", "fuzz", dir, NULL);
    g_autoptr(GDir) listing = g_dir_open(path, 0, NULL);
    guint n = 0;
    for (const char *name; listing && (name = g_dir_read_name(listing));) {
        g_autofree char *file = g_build_filename(path, name, NULL);
        g_autofree char *bytes = NULL;
        gsize size = 0;
        g_assert_true(g_file_get_contents(file, &bytes, &size, NULL));
        g_test_message("%s", file);
        g_autofree char *exact = g_memdup2(bytes, size); // a read past the end shows under ASan
        fuzz_markdown_run((const uint8_t *)exact, size);
        n++;
    }
    return n;
}

static void test_fuzz_inputs(void)
{
    g_assert_cmpuint(replay_fuzz_inputs("corpus-markdown"), >=, 5);
    replay_fuzz_inputs("regress-markdown");
}

int main(int argc, char **argv)
{
    if (!gtk_init_check()) {
        g_print("skipped: no display\n");
        return 77;
    }
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/markdown/headings-and-emphasis", test_headings_and_emphasis);
    g_test_add_func("/markdown/nested-lists", test_nested_lists);
    g_test_add_func("/markdown/table", test_table);
    g_test_add_func("/markdown/quote-and-rule", test_quote_and_rule);
    g_test_add_func("/markdown/code-block", test_code_block);
    g_test_add_func("/markdown/indented-code-keeps-math-source",
                    test_indented_code_keeps_math_source);
    g_test_add_func("/markdown/math-in-paragraph", test_math_in_paragraph);
    g_test_add_func("/markdown/display-math-and-boxed", test_display_math_and_boxed);
    g_test_add_func("/markdown/links", test_links);
    g_test_add_func("/markdown/raw-html-is-text", test_raw_html_is_text);
    g_test_add_func("/markdown/streaming-cost-is-flat", test_streaming_cost_is_flat);
    g_test_add_func("/markdown/streaming-matches-one-parse", test_streaming_matches_one_parse);
    g_test_add_func("/markdown/deep-nesting", test_deep_nesting);
    g_test_add_func("/markdown/fuzz-inputs", test_fuzz_inputs);
    return g_test_run();
}
