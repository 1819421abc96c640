// Loading GPU backends from modules (libponder-cuda.so, libponder-vulkan.so).
#pragma once

#include "context.h"

// Bump when Backend, PonderContext or PonderModel change layout: a module built against
// another layout refuses to load instead of misreading memory.
#define BACKEND_ABI_VERSION 3
#define BACKEND_ENTRY_SYMBOL "ponder_backend_entry"

// A module exports: const Backend *ponder_backend_entry(int abi_version), returning NULL
// when ABI_VERSION is not the one it was built for.
typedef const Backend *(*BackendEntry)(int abi_version);

// Finds and loads the module for KIND; NULL with a message when it is missing, or its
// driver/runtime library can't be loaded.
const Backend *backend_module_load(PonderBackend kind, PonderError *err);
