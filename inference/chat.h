// The DeepSeek-R1 chat format, written in C (no template engine), and the streaming
// parser that splits R1's reasoning from its answer.
//
//   <｜begin▁of▁sentence｜>{system}<｜User｜>{user}<｜Assistant｜>{answer}<｜end▁of▁sentence｜>
//   ...<｜User｜>{last user}<｜Assistant｜><think>\n      (the generation prompt)
//
// Earlier assistant turns go back without their reasoning (only the text after the last
// "</think>"). Marker tokens are looked up by their text in the vocabulary, never by id,
// and user/system/assistant text is always tokenized as plain text.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

typedef enum ChatRole { CHAT_ROLE_SYSTEM, CHAT_ROLE_USER, CHAT_ROLE_ASSISTANT } ChatRole;

typedef struct ChatMessage {
    ChatRole role;
    const char *text; // NUL-terminated UTF-8
} ChatMessage;

typedef struct ChatMarkers {
    int32_t bos, eos, user, assistant, think, end_think;
} ChatMarkers;

// Finds the R1 markers in TOK's vocabulary. False (with a message) if one is missing.
bool chat_find_markers(const Tokenizer *tok, ChatMarkers *out, char *err, size_t err_size);

// Builds the prompt token ids for MESSAGES as the published template does: the LAST
// system message's text goes right after BOS (earlier ones are dropped: the template
// assigns, it does not concatenate), then each user/assistant message in order (an
// assistant message with NULL text is skipped, like content none). When
// ADD_GENERATION_PROMPT is set the prompt ends in "<｜Assistant｜><think>\n". Returns
// the count (ids malloc'd in *OUT), or -1 with a message.
int64_t chat_build_prompt(const Tokenizer *tok, const ChatMessage *messages, size_t n_messages,
                          bool add_generation_prompt, int32_t **out, char *err, size_t err_size);

// The text R1 sees of an earlier answer: everything after the last "</think>" (the whole
// text when there is none), as the template's split('</think>')[-1] gives it: leading
// whitespace is kept (trim it for display, not for the prompt). Returns a pointer into TEXT.
const char *chat_strip_reasoning(const char *text);

// Streaming splitter of generated text into reasoning and answer. Generation starts
// inside the reasoning (the prompt ends in "<think>\n"); "</think>" (which may arrive
// split across pushes, or as its own token) switches to the answer. A "<think>" at the
// very start is tolerated and dropped.
typedef enum ReasoningPhase { REASONING_PHASE_THINKING, REASONING_PHASE_ANSWER } ReasoningPhase;

typedef struct ReasoningParser {
    ReasoningPhase phase;
    char held[16]; // a possible partial tag, held back until it is resolved
    size_t n_held;
    bool seen_text;
} ReasoningParser;

typedef void (*ReasoningEmit)(void *user, ReasoningPhase phase, const char *text, size_t len);

void reasoning_parser_init(ReasoningParser *p);
// Feeds decoded text; calls EMIT zero or more times with text for each phase.
void reasoning_parser_push(ReasoningParser *p, const char *text, size_t len, ReasoningEmit emit,
                           void *user);
// End of generation: flushes held text. Returns true when the output ended while still
// inside the reasoning (an answer cut off in its thinking).
bool reasoning_parser_finish(ReasoningParser *p, ReasoningEmit emit, void *user);
