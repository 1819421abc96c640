// Shows an R1 answer written in Markdown: headings, lists, tables, emphasis, links, inline
// code, fenced code blocks (GtkSourceView with highlighting and a Copy button), and math
// ($…$, $$…$$, \(…\), \[…\], \boxed{…}) protected from Markdown and shown readably.
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PONDER_TYPE_MARKDOWN_VIEW (ponder_markdown_view_get_type())
G_DECLARE_FINAL_TYPE(PonderMarkdownView, ponder_markdown_view, PONDER, MARKDOWN_VIEW, GtkWidget)

GtkWidget *ponder_markdown_view_new(void);
// Shows TEXT. When TEXT extends the text shown before (an answer streaming in), only the
// blocks from the last complete one on are rebuilt, so a long answer costs a constant
// amount per update.
void ponder_markdown_view_set_text(PonderMarkdownView *self, const char *text);
const char *ponder_markdown_view_get_text(PonderMarkdownView *self);

G_END_DECLS
