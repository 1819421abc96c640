// What the tests of the local API share: a server on a tiny model, and a raw HTTP client
// over loopback sockets for tests that need every byte of a request to be their own (a
// forged Host, a body that never comes, a client that hangs up). The server runs on the
// same main context: the client pumps it while it waits.
#pragma once

#include <gio/gio.h>

#include "ponder-api-server.h"
#include "ponder-engine.h"
#include "ponder-model-library.h"

// A library that sees only the models in FOLDER, scanned.
PonderModelLibrary *app_test_api_library(const char *folder);
// An engine on MODEL_PATH (CPU, 512 tokens, N_PARALLEL slots, MAX_QUEUED waiting), loaded.
PonderEngine *app_test_api_engine(const char *model_path, guint n_parallel, guint max_queued);
// A started server on a random free port with EXTRA's options (may be NULL).
PonderApiServer *app_test_api_start(PonderEngine *engine, PonderModelLibrary *library,
                                    const PonderApiServerOptions *extra);

typedef struct {
    GSocket *socket;
    GString *received;
    gboolean eof;
} Raw;

Raw *raw_connect(guint port);
void raw_free(Raw *raw);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Raw, raw_free)
void raw_send(Raw *raw, const char *data, gsize length);
// Runs the server (same main context) and reads until STOP says so, EOF, or TIMEOUT_MS.
gboolean raw_pump(Raw *raw, gboolean (*stop)(Raw *raw), guint timeout_ms);
// The response's status code, 0 before a status line arrived.
guint raw_status(Raw *raw);
// The response body, NULL before the headers ended.
const char *raw_body(Raw *raw);
// The value of header NAME in the response (a copy), or NULL.
char *raw_header(Raw *raw, const char *name);
// One request with "Connection: close", answered in full. HEADERS: NULL for
// "Host: localhost"; BODY (may be NULL) is sent with its Content-Length.
Raw *exchange(guint port, const char *method, const char *path, const char *headers,
              const char *body);
