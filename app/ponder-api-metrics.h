// Counters and latency histograms of the local API, rendered in Prometheus' text format
// for GET /metrics. Main context only (every request is answered there), so no locks.
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PonderApiMetrics PonderApiMetrics;

PonderApiMetrics *ponder_api_metrics_new(void);
void ponder_api_metrics_free(PonderApiMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PonderApiMetrics, ponder_api_metrics_free)

// ROUTE is the route's path ("/api/chat"), or "other" for paths no route serves, so
// scanners cannot grow the label set without bound.
void ponder_api_metrics_record_request(PonderApiMetrics *metrics, const char *route, guint status,
                                       double seconds);
void ponder_api_metrics_record_first_token(PonderApiMetrics *metrics, const char *route,
                                           double seconds);
void ponder_api_metrics_add_tokens(PonderApiMetrics *metrics, guint prompt_tokens,
                                   guint completion_tokens);

// The exposition text; the engine's gauges are sampled by the caller.
char *ponder_api_metrics_render(PonderApiMetrics *metrics, guint queue_depth, guint running,
                                guint streams_open);

G_END_DECLS
