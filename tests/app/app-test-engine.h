// Engine settings the tests share (a separate file from app-test-util: only tests that link
// the engine library can use it).
#pragma once

#include "ponder-engine.h"

// The tiny model's settings in tests: the CPU backend on one thread, N_CTX tokens per
// sequence, N_PARALLEL sequences, never unloaded for idleness. A test sets what else it needs.
void app_test_cpu_engine_settings(PonderEngineSettings *out, guint n_ctx, guint n_parallel);
