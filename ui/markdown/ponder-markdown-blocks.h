// An R1 answer in Markdown (with math) as a tree of blocks whose text is Pango markup: what
// the Markdown view shows, without its widgets. GLib, md4c and the math module only, so the
// conversion is tested and fuzzed without a display (tests/fuzz/fuzz-markdown.c). Model
// output is untrusted: every markup string is balanced and escaped, so it parses with
// pango_parse_markup whatever the text.
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    PONDER_MD_TEXT,      // a label: markup
    PONDER_MD_QUOTE,     // children
    PONDER_MD_LIST,      // children: ITEMs
    PONDER_MD_ITEM,      // text: the marker ("•", "3.", "☑"); children: its content
    PONDER_MD_RULE,      // a horizontal line
    PONDER_MD_CODE,      // text: the code; language (may be empty)
    PONDER_MD_TABLE,     // children: TEXT cells, placed by row and column
    PONDER_MD_MATH_LINE, // children: a display formula's TEXT, then punctuation that followed it
} PonderMdKind;

typedef enum {
    PONDER_MD_STYLE_PLAIN, // e.g. the full stop after a display formula
    PONDER_MD_STYLE_PARAGRAPH,
    PONDER_MD_STYLE_HEADING, // level 1–6
    PONDER_MD_STYLE_CELL,
    PONDER_MD_STYLE_HEADER_CELL,
    PONDER_MD_STYLE_MATH_DISPLAY,
    PONDER_MD_STYLE_MATH_BOXED, // a display formula holding \boxed{…}: the final answer
} PonderMdStyle;

// Quotes, lists and items nest at most this deep (a list level takes two: the list and its
// item); deeper ones are flattened into the innermost that is kept.
#define PONDER_MD_MAX_NESTING 32

typedef struct {
    PonderMdKind kind;
    PonderMdStyle style; // TEXT
    guint level;         // TEXT, heading: 1–6
    float xalign;        // TEXT, cell: 0, 0.5 or 1 (the column's alignment)
    int row, column;     // TEXT, cell
    char *markup;        // TEXT: Pango markup
    char *text;          // ITEM: marker; CODE: code (plain text, valid UTF-8)
    char *language;      // CODE
    GPtrArray *children; // of PonderMdBlock, owned; empty for TEXT, RULE and CODE
} PonderMdBlock;

// The top-level blocks of MARKDOWN[0, LENGTH) (valid UTF-8, no NUL byte), as a GPtrArray of
// PonderMdBlock that frees them.
GPtrArray *ponder_markdown_to_blocks(const char *markdown, gsize length);
void ponder_md_block_free(PonderMdBlock *block);

// Where pieces start in TEXT[from, length), FROM first (itself such a start, or 0): a line
// after a blank line, outside fenced code, beginning at the margin with something no open
// container continues with (not a list marker, not a digit, not indented). Such a line starts
// a new top-level block whatever came before, so a piece parses alone exactly as it does in
// the whole text (link reference definitions aside: R1 does not write them). Appending text
// never changes where the earlier starts are. A GArray of gsize.
GArray *ponder_markdown_piece_starts(const char *text, gsize length, gsize from);

G_END_DECLS
