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

G_END_DECLS
