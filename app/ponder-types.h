// Forward declarations and enums shared across the app, so headers include little.
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _PonderStore PonderStore;
typedef struct _PonderModelEntry PonderModelEntry;
typedef struct _PonderModelLibrary PonderModelLibrary;
typedef struct _PonderDownload PonderDownload;
typedef struct _PonderEngine PonderEngine;
typedef struct _PonderGeneration PonderGeneration;
typedef struct _PonderRemoteProvider PonderRemoteProvider;

// Who asked: the window goes before the local API in the engine's queue.
typedef enum {
    PONDER_PRIORITY_INTERACTIVE,
    PONDER_PRIORITY_API,
} PonderPriority;

// Which inference backend to run on; AUTO picks CUDA, then Vulkan, then the CPU.
typedef enum {
    PONDER_BACKEND_CHOICE_AUTO,
    PONDER_BACKEND_CHOICE_CUDA,
    PONDER_BACKEND_CHOICE_VULKAN,
    PONDER_BACKEND_CHOICE_CPU,
} PonderBackendChoice;

// How an answer ended (stored with the message; an incomplete one can be continued).
typedef enum {
    PONDER_FINISH_NONE,      // still streaming, or the process died while it was
    PONDER_FINISH_STOP,      // the model ended it (end-of-sentence) or a stop string matched
    PONDER_FINISH_LENGTH,    // the answer-length limit cut it off
    PONDER_FINISH_CANCELLED, // the user (or a disconnected client) stopped it
    PONDER_FINISH_ERROR,     // the engine failed (message stored beside it)
} PonderFinishReason;

// How an answer's reasoning ended.
typedef enum {
    PONDER_REASONING_END_NONE,       // still open, or there was none (raw text, an answer at once)
    PONDER_REASONING_END_MODEL,      // the model wrote "</think>"
    PONDER_REASONING_END_BUDGET,     // the thinking budget closed it
    PONDER_REASONING_END_ANSWER_NOW, // the user asked for the answer
    PONDER_REASONING_END_LOOP,       // the loop guard closed a thought that repeated itself
} PonderReasoningEnd;

// Thinking effort: presets of the thinking budget (ponder_reasoning_effort_budget).
typedef enum {
    PONDER_REASONING_EFFORT_DEFAULT, // none chosen: the request's budget alone (or unlimited)
    PONDER_REASONING_EFFORT_NONE,    // answer at once (an empty reasoning block)
    PONDER_REASONING_EFFORT_MINIMAL, // 256 tokens
    PONDER_REASONING_EFFORT_LOW,     // 1,024
    PONDER_REASONING_EFFORT_MEDIUM,  // 4,096
    PONDER_REASONING_EFFORT_HIGH,    // 12,288
    PONDER_REASONING_EFFORT_UNLIMITED,
} PonderReasoningEffort;

G_END_DECLS
