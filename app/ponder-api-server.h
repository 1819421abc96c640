// The local HTTP API: Ollama- and OpenAI-compatible endpoints for editor plugins (Continue,
// Zed, Cline), served by libsoup on the caller's main context and answered by the same
// engine (scheduler, batching) as the window. Off until the app starts it; loopback only
// unless the user allows the LAN.
//
// Security, in the order it is checked on every request (before its body is read):
//   Host must name this machine (DNS rebinding: a web page cannot reach the API through a
//   name it controls) -> 403; a browser Origin must be in allowed_origins -> 403 (CORS
//   preflights are answered only for those); the bearer key when one is set -> 401; a body
//   over PONDER_API_MAX_BODY_BYTES -> 413. A request whose headers and body have not arrived
//   within the request timeout (default 30 s) has its connection closed, and a connection
//   beyond PONDER_API_MAX_CONNECTIONS open at once is answered 503 and closed.
//
// History: off by default, so nothing a client sends is written anywhere. With save_history
// on, chat requests (not raw completions) are saved as conversations in the history store,
// and the next turn of the same chat continues its conversation (ponder-api-history.c).
#pragma once

#include <gio/gio.h>

#include "ponder-types.h"

G_BEGIN_DECLS

#define PONDER_API_SERVER_ERROR (ponder_api_server_error_quark())
GQuark ponder_api_server_error_quark(void);

typedef enum {
    PONDER_API_SERVER_ERROR_LISTEN, // no port could be bound (the message names it)
    PONDER_API_SERVER_ERROR_OPTIONS,
} PonderApiServerError;

// Ollama's port: plugins look there first.
#define PONDER_API_DEFAULT_PORT 11434u
// The `port` that means "any free port the kernel picks" (tests); 0, the app's default,
// means 11434 when it is free, else the next free port after it.
#define PONDER_API_PORT_ANY G_MAXUINT
// Largest request body accepted (editor plugins send whole files as context).
#define PONDER_API_MAX_BODY_BYTES (8u << 20)
// Largest total of the request bodies being received at once (a body that would go over
// it is answered 503): eight maximal bodies.
#define PONDER_API_MAX_BODY_BYTES_HELD (64u << 20)
#define PONDER_API_DEFAULT_REQUEST_TIMEOUT_MS 30000u
// Most connections open at once (also at most half the process's file descriptor limit);
// more are answered 503 and closed.
#define PONDER_API_MAX_CONNECTIONS 512u

typedef struct {
    const char *host;    // NULL: loopback only (127.0.0.1 and ::1)
    guint port;          // 0: 11434 when free, else the next free port;
                         // PONDER_API_PORT_ANY: a random free port
    gboolean allow_lan;  // all interfaces; Host may be this machine's names/addresses
    const char *api_key; // NULL: no key; else "Authorization: Bearer KEY" required
    const char *const *allowed_origins; // browser Origins allowed (NULL: none)
    gboolean raw_reasoning;     // OpenAI: "<think>…</think>" in content, not reasoning_content
    PonderStore *history_store; // where chats are saved when save_history is on (a reference
                                // is kept); NULL: nowhere
    gboolean save_history;      // off: nothing is saved (the default)
} PonderApiServerOptions;

#define PONDER_TYPE_API_SERVER (ponder_api_server_get_type())
G_DECLARE_FINAL_TYPE(PonderApiServer, ponder_api_server, PONDER, API_SERVER, GObject)

// OPTIONS (may be NULL: the defaults above) is copied.
PonderApiServer *ponder_api_server_new(PonderEngine *engine, PonderModelLibrary *library,
                                       const PonderApiServerOptions *options);
// Listens on the thread-default main context of the caller (where everything then runs).
gboolean ponder_api_server_start(PonderApiServer *self, GError **error);
// The bound port, after start; 0 before.
guint ponder_api_server_get_port(PonderApiServer *self);
// Closes the listeners and every connection; running generations are cancelled.
void ponder_api_server_stop(PonderApiServer *self);

// How long a request's headers and body may take to arrive (also bounds idle keep-alive
// connections); tests set a short one. Applies to requests that start afterwards.
void ponder_api_server_set_request_timeout(PonderApiServer *self, guint timeout_ms);
// How many connections may be open at once (default: PONDER_API_MAX_CONNECTIONS, or half
// the file descriptor limit when that is lower); tests set a small one.
void ponder_api_server_set_max_connections(PonderApiServer *self, guint max_connections);

// Switches saving chats in the history store on or off (the window's Preferences, a second
// `ponder --serve --save-history`). On needs a history_store. Switched off, requests still
// running are not saved either; switched on, requests that start afterwards are.
void ponder_api_server_set_save_history(PonderApiServer *self, gboolean save_history);
gboolean ponder_api_server_get_save_history(PonderApiServer *self);

G_END_DECLS
