// The DeepSeek-R1 chat format, written in C (no template engine), and the streaming
// parser that splits R1's reasoning from its answer.
//
//   <｜begin▁of▁sentence｜>{system}<｜User｜>{user}<｜Assistant｜>{answer}<｜end▁of▁sentence｜>
//   ...<｜User｜>{last user}<｜Assistant｜><think>\n      (the generation prompt)
//
// Two variants, chosen per file (chat_format_detect): the R1 distills (Qwen2.5/Llama based)
// force the reasoning open with "<think>\n"; R1-0528 (DeepSeek-R1-0528-Qwen3-8B) ends the
// generation prompt at "<｜Assistant｜>" and the model writes its own "<think>".
//
// Earlier assistant turns go back without their reasoning (only the text after the last
// "</think>"). Marker tokens are looked up by their text in the vocabulary, never by id,
// and user/system/assistant text is always tokenized as plain text.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokenizer.h"

typedef enum ChatRole { CHAT_ROLE_SYSTEM, CHAT_ROLE_USER, CHAT_ROLE_ASSISTANT } ChatRole;

typedef struct ChatMessage {
    ChatRole role;
    const char *text; // NUL-terminated UTF-8
} ChatMessage;

typedef struct ChatMarkers {
    int32_t bos, eos, user, assistant, think, end_think;
} ChatMarkers;

typedef enum ChatFormat {
    CHAT_FORMAT_R1,      // generation prompt "<｜Assistant｜><think>\n"
    CHAT_FORMAT_R1_0528, // generation prompt "<｜Assistant｜>"; the model opens "<think>"
} ChatFormat;

// The format a file asks for, from its chat template (TEMPLATE, may be NULL) and
// architecture: a template whose generation prompt is "<｜Assistant｜><think>" is R1; one
// with R1's markers but a bare "<｜Assistant｜>" is R1-0528; without a template, qwen3 files
// (the only R1 on qwen3 is R1-0528) are R1-0528 and others R1. Files whose vocabulary lacks
// R1's markers (plain Qwen3's ChatML) fail later in chat_find_markers with the reason.
ChatFormat chat_format_detect(const char *arch, const char *template_text);
// Why a file with chat template TEMPLATE_TEXT cannot be chatted with (a template in another
// model family's format, such as plain Qwen3's ChatML without R1's markers), or NULL. For
// listing files before they are loaded; chat_find_markers gives the same verdict after.
const char *chat_template_unsupported_reason(const char *template_text);

// Finds the R1 markers in TOK's vocabulary. False (with a message) if one is missing.
bool chat_find_markers(const Tokenizer *tok, ChatMarkers *out, char *err, size_t err_size);

// Builds the prompt token ids for MESSAGES as the published template does: the LAST
// system message's text goes right after BOS (earlier ones are dropped: the template
// assigns, it does not concatenate), then each user/assistant message in order (an
// assistant message with NULL text is skipped, like content none). When
// ADD_GENERATION_PROMPT is set the prompt ends in "<｜Assistant｜><think>\n", or in
// "<｜Assistant｜>" where TOK's file uses R1-0528's format (tokenizer_generation_opens_think).
// Returns the count (ids malloc'd in *OUT), or -1 with a message.
int64_t chat_build_prompt(const Tokenizer *tok, const ChatMessage *messages, size_t n_messages,
                          bool add_generation_prompt, int32_t **out, char *err, size_t err_size);

// The text R1 sees of an earlier answer: everything after the last "</think>" (the whole
// text when there is none), as the template's split('</think>')[-1] gives it: leading
// whitespace is kept (trim it for display, not for the prompt). Returns a pointer into TEXT.
const char *chat_strip_reasoning(const char *text);

// Streaming splitter of generated text into reasoning and answer. With the R1 format
// generation starts inside the reasoning (the prompt ends in "<think>\n"); "</think>"
// (which may arrive split across pushes, or as its own token) switches to the answer. A
// "<think>" at the very start is tolerated and dropped. With R1-0528's format the model
// opens the reasoning itself: output that starts with "<think>" is reasoning until
// "</think>", output that does not is all answer.
typedef enum ReasoningPhase { REASONING_PHASE_THINKING, REASONING_PHASE_ANSWER } ReasoningPhase;

typedef struct ReasoningParser {
    ReasoningPhase phase;
    char held[16]; // a possible partial tag, held back until it is resolved
    size_t n_held;
    bool seen_text;
    bool answer_unless_think; // R1-0528: no opening "<think>" means no reasoning
} ReasoningParser;

typedef void (*ReasoningEmit)(void *user, ReasoningPhase phase, const char *text, size_t len);

void reasoning_parser_init(ReasoningParser *p);
// For the format of TOK's file (tokenizer_generation_opens_think).
void reasoning_parser_init_for(ReasoningParser *p, const Tokenizer *tok);
// Feeds decoded text; calls EMIT zero or more times with text for each phase.
void reasoning_parser_push(ReasoningParser *p, const char *text, size_t len, ReasoningEmit emit,
                           void *user);
// End of generation: flushes held text. Returns true when the output ended while still
// inside the reasoning (an answer cut off in its thinking).
bool reasoning_parser_finish(ReasoningParser *p, ReasoningEmit emit, void *user);
