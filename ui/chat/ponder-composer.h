// Where the user writes: a multi-line text view (Enter sends, Shift+Enter is a new line) and
// a Send button that turns into Stop while an answer is being generated (Esc stops too).
// The composer never clears itself: the chat view clears it once the message is stored, so
// a failed send leaves the text where it was.
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PONDER_TYPE_COMPOSER (ponder_composer_get_type())
G_DECLARE_FINAL_TYPE(PonderComposer, ponder_composer, PONDER, COMPOSER, GtkWidget)

GtkWidget *ponder_composer_new(void);

// The text as typed, newly allocated.
char *ponder_composer_get_text(PonderComposer *self);
void ponder_composer_set_text(PonderComposer *self, const char *text);
GtkTextView *ponder_composer_get_text_view(PonderComposer *self);

// While TRUE the button is Stop and Enter does not send ("busy" property).
void ponder_composer_set_busy(PonderComposer *self, gboolean busy);
gboolean ponder_composer_get_busy(PonderComposer *self);

// What Enter and the Send button do: emits "send" with the text unless it is blank or the
// composer is busy. Returns whether it did.
gboolean ponder_composer_submit(PonderComposer *self);

// Signals:
//   "send" (const char *text)   the user sent TEXT
//   "stop"                      the user asked to stop the answer (Stop button, Esc)

G_END_DECLS
