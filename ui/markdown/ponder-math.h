// Math in R1 answers, in two steps. Before md4c parses an answer, ponder_math_protect() swaps
// every formula for a placeholder (md4c 0.4.8 would read `\[` as an escaped bracket and `_` as
// emphasis). While the widgets are built, each placeholder becomes readable text again:
// ponder_math_to_markup() writes TeX with Unicode letters, operators and scripts (x_1^2 → x₁²),
// with no layout engine. Pure functions: no widgets, no display.
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    PONDER_MATH_INLINE,  // $…$, \(…\), or a bare \boxed{…} in running text
    PONDER_MATH_DISPLAY, // $$…$$ or \[…\]: a line of its own
} PonderMathLayout;

typedef struct {
    PonderMathLayout layout;
    char *tex;    // between the delimiters; for a bare \boxed{…}, the whole command
    char *source; // as written, delimiters included: what code shows in its place
} PonderMathSpan;

typedef struct {
    char *text;        // the Markdown, each formula replaced by a placeholder
    gsize length;      // of text, in bytes
    GPtrArray *spans;  // of PonderMathSpan; placeholder i stands for spans[i]
    gunichar sentinel; // opens and closes every placeholder; never in the input
} PonderMathText;

// Finds $…$, $$…$$, \(…\), \[…\] and \boxed{…} in MARKDOWN (LENGTH bytes, or -1 when
// nul-terminated), outside code spans and fenced code, and replaces each with a placeholder
// md4c leaves alone: sentinel, decimal index, sentinel. `\$` and a price like `$5` are not
// math; a delimiter without its closer within the paragraph stays text (an unclosed `\[`
// keeps its backslash).
PonderMathText *ponder_math_protect(const char *markdown, gssize length);
void ponder_math_text_free(PonderMathText *math);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PonderMathText, ponder_math_text_free)

// The first placeholder in TEXT[0, LENGTH): where it starts (NULL when there is none), how many
// bytes it takes and the span it stands for.
const char *ponder_math_text_find(const PonderMathText *math, const char *text, gsize length,
                                  gsize *token_length, const PonderMathSpan **span);
// TEXT[0, LENGTH) with every placeholder put back as written (in code, math is not math).
char *ponder_math_text_restore(const PonderMathText *math, const char *text, gsize length);

// Markdown's code fences, which the math scanner and the view's block splitter must agree on.
// When LINE (LENGTH bytes, no newline) is a fence (up to three spaces, then three or more ` or
// ~), returns the length of the run and sets *FENCE_CHAR and *BARE (nothing but spaces after
// the run: the line can close a fence); otherwise returns 0.
gsize ponder_math_code_fence(const char *line, gsize length, char *fence_char, gboolean *bare);

// TeX without its delimiters as Pango markup (escaped; `<sub>`/`<sup>` only where Unicode has
// no script form). Greek and operators become their symbols, \frac{a}{b} a/b (a part of several
// terms in parentheses), \sqrt{x} √(x), \text{…} its text; whitespace collapses to one space.
// An unknown command stays as written, backslash included. *BOXED (may be NULL) is set when
// the formula holds a \boxed{…}: the final answer, which the view highlights.
char *ponder_math_to_markup(const char *tex, gboolean *boxed);

G_END_DECLS
