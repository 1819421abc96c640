// The reference the engine tests compare with: greedy decoding through the inference
// library alone (no engine, no threads), on the tiny model app_test_greedy_set_model names;
// and the steps of driving an engine from a test.
#pragma once

#include "ponder-engine.h"
#include "ponder-generation.h"

void app_test_greedy_set_model(const char *path);
PonderModel *reference_model(void);
// Greedy ids after PROMPT, N of them, through the library alone.
GArray *reference_greedy(const gint32 *prompt, guint n_prompt, guint n);
// The same, one token per step as the engine feeds them, with FORCED's tokens in place of
// the greedy ones from position FORCE_AT on.
GArray *reference_greedy_forcing(const gint32 *prompt, guint n_prompt, guint n, guint force_at,
                                 const GArray *forced);
// Prompt ids as the engine builds them: plain text (BOS when the model wants it), a chat.
GArray *raw_prompt_ids(const char *text);
GArray *chat_prompt_ids(const ChatMessage *messages, gsize n);
// The decoded text of N greedy tokens after PROMPT.
char *reference_text(const GArray *prompt, guint n);

// A g_timeout source's callback that fails the test.
gboolean timed_out(gpointer data);
// Iterates the main context until every generation has finished (or fails the test).
void wait_finished(PonderGeneration **generations, guint n);
// Greedy requests that ignore end-of-sentence, so they run exactly MAX_TOKENS.
PonderGeneration *greedy_raw(const char *text, guint max_tokens);
PonderGeneration *greedy_chat(const ChatMessage *messages, gsize n, guint max_tokens);
void submit(PonderEngine *engine, PonderGeneration *g);
