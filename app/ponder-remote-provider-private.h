// What the remote provider (ponder-remote-provider.c) and its streaming requests
// (ponder-remote-stream.c) share. Main context only.
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ponder-generation-private.h"
#include "ponder-remote-provider.h"

G_BEGIN_DECLS

SoupSession *ponder_remote_provider_get_session(PonderRemoteProvider *self);
// METHOD BASE_URL+ROUTE with the bearer key and BODY (JSON; may be NULL).
SoupMessage *ponder_remote_provider_new_message(PonderRemoteProvider *self, const char *method,
                                                const char *route, GBytes *body);
// The error for a non-200 answer with BODY (its message is taken from the usual shapes).
GError *ponder_remote_provider_http_error(PonderRemoteProvider *self, guint status,
                                          const char *body);
GError *ponder_remote_provider_connection_error(PonderRemoteProvider *self, const GError *cause);
// Parses TEXT, a JSON object the server sent, behind the nesting guard. NULL when it is not
// one; *TOO_DEEP (may be NULL) tells the guard's refusal apart from ordinary garbage, which
// callers tolerate where a server may send a non-JSON line.
JsonObject *ponder_remote_parse_object(JsonParser *parser, const char *text, gboolean *too_deep);
// The error for JSON from the server nested too deeply for the guard (ponder-json-guard.h).
GError *ponder_remote_provider_too_deep_error(PonderRemoteProvider *self);
// The message of an error object in O ({"error": {"message"}}, {"error": "…"}, {"message"},
// {"detail"}); NULL when O holds none.
const char *ponder_remote_error_message(JsonObject *o);
// Counts requests in flight (ponder_remote_provider_get_running).
void ponder_remote_provider_count_running(PonderRemoteProvider *self, gint delta);

// A member of a server's JSON that has the expected type, else NULL / FALLBACK: what a server
// sends is never trusted to have the right shape.
const char *ponder_remote_json_string(JsonObject *o, const char *name);
gint64 ponder_remote_json_int(JsonObject *o, const char *name, gint64 fallback);
JsonObject *ponder_remote_json_object(JsonObject *o, const char *name);

// Starts one streaming request of GENERATION to MODEL_ID (ponder-remote-stream.c); the
// generation is finished when it ends, whatever happens.
void ponder_remote_stream_start(PonderRemoteProvider *self, const char *model_id,
                                PonderGeneration *generation);

G_END_DECLS
