// A fenced code block of an answer: the code in a read-only GtkSourceView highlighted for its
// language, the language's name, and a Copy button that puts the code on the clipboard.
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PONDER_TYPE_CODE_BLOCK (ponder_code_block_get_type())
G_DECLARE_FINAL_TYPE(PonderCodeBlock, ponder_code_block, PONDER, CODE_BLOCK, GtkWidget)

// LANGUAGE is the fence's info word as written ("python", "c++"), or NULL/"" for none; common
// aliases (py, sh, js, c++…) find their GtkSourceView highlighting.
GtkWidget *ponder_code_block_new(const char *code, const char *language);
const char *ponder_code_block_get_code(PonderCodeBlock *self);
// The language as given ("" for none).
const char *ponder_code_block_get_language(PonderCodeBlock *self);

G_END_DECLS
