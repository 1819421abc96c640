#include "app-test-engine.h"

void app_test_cpu_engine_settings(PonderEngineSettings *out, guint n_ctx, guint n_parallel)
{
    ponder_engine_settings_init(out);
    out->backend = PONDER_BACKEND_CHOICE_CPU;
    out->n_ctx = n_ctx;
    out->n_parallel = n_parallel;
    out->n_threads = 1;
    out->idle_unload_seconds = 0;
}
