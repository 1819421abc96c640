// R1's reasoning above an answer: expanded with a spinner while the model thinks ("Thinking…"),
// collapsed to "Thought for 12 seconds" once the answer starts, expandable and copyable later.
// The text is appended, never re-set, while it streams, so a long reasoning costs the size of
// each delta, not of the whole text.
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PONDER_TYPE_THINKING_SECTION (ponder_thinking_section_get_type())
G_DECLARE_FINAL_TYPE(PonderThinkingSection, ponder_thinking_section, PONDER, THINKING_SECTION,
                     GtkWidget)

GtkWidget *ponder_thinking_section_new(void);

// Replaces the reasoning shown.
void ponder_thinking_section_set_text(PonderThinkingSection *self, const char *text);
// Appends LENGTH bytes of DELTA (-1: up to its NUL).
void ponder_thinking_section_append(PonderThinkingSection *self, const char *delta, gssize length);
// The reasoning shown, newly allocated.
char *ponder_thinking_section_get_text(PonderThinkingSection *self);

// TRUE while the model thinks: "Thinking…", a spinner, and expanded so it can be read live.
// Going from TRUE to FALSE collapses it ("streaming" property).
void ponder_thinking_section_set_streaming(PonderThinkingSection *self, gboolean streaming);
gboolean ponder_thinking_section_get_streaming(PonderThinkingSection *self);

// How long the reasoning took, for "Thought for N seconds"; < 0: unknown (an answer loaded
// from the store), then the title is just "Thoughts".
void ponder_thinking_section_set_seconds(PonderThinkingSection *self, double seconds);

// Why the reasoning ended before the answer began (the length limit, a stop, an error):
// shown as the title and under the text. NULL: it ended normally.
void ponder_thinking_section_set_interruption(PonderThinkingSection *self, const char *reason);

// Whether the reasoning is shown below the title ("expanded" property).
void ponder_thinking_section_set_expanded(PonderThinkingSection *self, gboolean expanded);
gboolean ponder_thinking_section_get_expanded(PonderThinkingSection *self);

// The title line as shown ("Thinking…", "Thought for 12 seconds", ...).
const char *ponder_thinking_section_get_title(PonderThinkingSection *self);

G_END_DECLS
