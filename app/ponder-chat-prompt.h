// Prompts that fit the context: the R1 chat format (inference/chat/chat.h) around a
// conversation, leaving out the oldest turns when it has outgrown the context, and
// continuing an answer that was cut off.
#pragma once

#include <glib.h>

#include "ponder-infer.h"

G_BEGIN_DECLS

#define PONDER_CHAT_PROMPT_ERROR (ponder_chat_prompt_error_quark())
GQuark ponder_chat_prompt_error_quark(void);

typedef enum {
    PONDER_CHAT_PROMPT_ERROR_TOO_LONG, // even the system prompt and the last user message do not
                                       // fit
    PONDER_CHAT_PROMPT_ERROR_INVALID,  // no user message, or the tokenizer lacks R1's markers
} PonderChatPromptError;

// An answer to continue: what was generated before it was cut off. REASONING is the text
// after "<think>\n"; ANSWER is NULL while the answer was still in its reasoning, else the
// text after "</think>".
typedef struct {
    const char *reasoning;
    const char *answer;
} PonderPartialAnswer;

typedef struct {
    gint32 *ids; // [n_ids], g_free'd by ponder_chat_prompt_clear
    guint n_ids;
    guint n_dropped_messages; // oldest user/assistant messages left out to fit
} PonderChatPrompt;

// Builds the prompt for MESSAGES (system messages anywhere, then user/assistant turns; the
// last non-system message must be a user message) ending in the generation prompt, plus
// PARTIAL when not NULL. Assistant texts are answers without their reasoning (callers pass
// what chat_strip_reasoning gives). When the prompt exceeds MAX_TOKENS, whole turns (a user
// message and the answers after it) are left out oldest first; system messages and the last
// user message never are.
gboolean ponder_chat_prompt_build(const Tokenizer *tok, const ChatMessage *messages,
                                  gsize n_messages, const PonderPartialAnswer *partial,
                                  guint max_tokens, PonderChatPrompt *out, GError **error);
void ponder_chat_prompt_clear(PonderChatPrompt *prompt);

G_END_DECLS
