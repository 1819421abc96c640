// Histograms keep cumulative-ready per-bucket counts; rendering sums them, as Prometheus'
// `le` buckets are cumulative.
#include "ponder-api-metrics.h"

#include "ponder-api-server-private.h"

#include <math.h>
#include <string.h>

// Seconds: generation latencies range from a cached short answer to R1 thinking minutes.
static const double bucket_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
#define N_BUCKETS G_N_ELEMENTS(bucket_bounds)

typedef struct {
    guint64 counts[N_BUCKETS + 1]; // the last one: above every bound (+Inf)
    double sum;
    guint64 count;
} Histogram;

struct _PonderApiMetrics {
    GHashTable *requests;    // "route\tcode" -> guint64 *
    GHashTable *total;       // route -> Histogram *
    GHashTable *first_token; // route -> Histogram *
    guint64 prompt_tokens, completion_tokens;
};

PonderApiMetrics *ponder_api_metrics_new(void)
{
    PonderApiMetrics *m = g_new0(PonderApiMetrics, 1);
    m->requests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    m->total = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    m->first_token = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return m;
}

void ponder_api_metrics_free(PonderApiMetrics *m)
{
    if (!m)
        return;
    g_hash_table_unref(m->requests);
    g_hash_table_unref(m->total);
    g_hash_table_unref(m->first_token);
    g_free(m);
}

static void observe(GHashTable *table, const char *route, double seconds)
{
    Histogram *h = g_hash_table_lookup(table, route);
    if (!h) {
        h = g_new0(Histogram, 1);
        g_hash_table_insert(table, g_strdup(route), h);
    }
    if (!isfinite(seconds) || seconds < 0)
        seconds = 0;
    guint i = 0;
    while (i < N_BUCKETS && seconds > bucket_bounds[i])
        i++;
    h->counts[i]++;
    h->sum += seconds;
    h->count++;
}

void ponder_api_metrics_record_request(PonderApiMetrics *m, const char *route, guint status,
                                       double seconds)
{
    char *key = g_strdup_printf("%s\t%u", route, status);
    guint64 *count = g_hash_table_lookup(m->requests, key);
    if (!count) {
        count = g_new0(guint64, 1);
        g_hash_table_insert(m->requests, key, count);
    } else {
        g_free(key);
    }
    (*count)++;
    observe(m->total, route, seconds);
}

void ponder_api_metrics_record_first_token(PonderApiMetrics *m, const char *route, double seconds)
{
    observe(m->first_token, route, seconds);
}

void ponder_api_metrics_add_tokens(PonderApiMetrics *m, guint prompt_tokens,
                                   guint completion_tokens)
{
    m->prompt_tokens += prompt_tokens;
    m->completion_tokens += completion_tokens;
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

// Sorted, so the output is stable (diffs and tests read it). GLib 2.74 lacks
// g_hash_table_get_keys_as_ptr_array.
static GPtrArray *sorted_keys(GHashTable *table)
{
    GPtrArray *keys = g_ptr_array_new();
    GHashTableIter iter;
    gpointer key;
    g_hash_table_iter_init(&iter, table);
    while (g_hash_table_iter_next(&iter, &key, NULL))
        g_ptr_array_add(keys, key);
    g_ptr_array_sort(keys, compare_strings);
    return keys;
}

static void render_histograms(GString *out, GHashTable *table, const char *name, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    g_autoptr(GPtrArray) routes = sorted_keys(table);
    for (guint r = 0; r < routes->len; r++) {
        const char *route = routes->pdata[r];
        const Histogram *h = g_hash_table_lookup(table, route);
        guint64 cumulative = 0;
        // Prometheus reads its numbers with a '.', whatever this process's locale.
        char number[G_ASCII_DTOSTR_BUF_SIZE];
        for (guint i = 0; i < N_BUCKETS; i++) {
            cumulative += h->counts[i];
            g_string_append_printf(
                out, "%s_bucket{route=\"%s\",le=\"%s\"} %" G_GUINT64_FORMAT "\n", name, route,
                g_ascii_formatd(number, sizeof number, "%g", bucket_bounds[i]), cumulative);
        }
        g_string_append_printf(out, "%s_bucket{route=\"%s\",le=\"+Inf\"} %" G_GUINT64_FORMAT "\n",
                               name, route, h->count);
        g_string_append_printf(out, "%s_sum{route=\"%s\"} %s\n", name, route,
                               g_ascii_formatd(number, sizeof number, "%.6f", h->sum));
        g_string_append_printf(out, "%s_count{route=\"%s\"} %" G_GUINT64_FORMAT "\n", name, route,
                               h->count);
    }
}

char *ponder_api_metrics_render(PonderApiMetrics *m, guint queue_depth, guint running,
                                guint streams_open)
{
    GString *out = g_string_new(NULL);
    g_autoptr(GPtrArray) keys = sorted_keys(m->requests);
    static const char *const counters[] = {"ponder_api_requests_total", "ponder_api_errors_total"};
    static const char *const helps[] = {"HTTP requests answered, by route and status code.",
                                        "HTTP requests answered with a 4xx or 5xx status."};
    for (guint c = 0; c < 2; c++) {
        g_string_append_printf(out, "# HELP %s %s\n# TYPE %s counter\n", counters[c], helps[c],
                               counters[c]);
        for (guint i = 0; i < keys->len; i++) {
            const char *key = keys->pdata[i];
            const char *tab = strchr(key, '\t');
            guint status = (guint)g_ascii_strtoull(tab + 1, NULL, 10);
            if (c == 1 && status < 400)
                continue;
            g_string_append_printf(out, "%s{route=\"%.*s\",code=\"%u\"} %" G_GUINT64_FORMAT "\n",
                                   counters[c], (int)(tab - key), key, status,
                                   *(guint64 *)g_hash_table_lookup(m->requests, key));
        }
    }
    render_histograms(out, m->total, "ponder_api_request_duration_seconds",
                      "Time from the request's arrival to the end of its response.");
    render_histograms(out, m->first_token, "ponder_api_time_to_first_token_seconds",
                      "Time from the request's arrival to the first generated text.");
    g_string_append_printf(
        out,
        "# HELP ponder_api_prompt_tokens_total Prompt tokens of API requests.\n"
        "# TYPE ponder_api_prompt_tokens_total counter\n"
        "ponder_api_prompt_tokens_total %" G_GUINT64_FORMAT "\n"
        "# HELP ponder_api_generated_tokens_total Tokens generated for API requests.\n"
        "# TYPE ponder_api_generated_tokens_total counter\n"
        "ponder_api_generated_tokens_total %" G_GUINT64_FORMAT "\n",
        m->prompt_tokens, m->completion_tokens);
    g_string_append_printf(out,
                           "# HELP ponder_engine_queue_depth Requests waiting for an engine slot.\n"
                           "# TYPE ponder_engine_queue_depth gauge\n"
                           "ponder_engine_queue_depth %u\n"
                           "# HELP ponder_engine_running_requests Requests the engine is running.\n"
                           "# TYPE ponder_engine_running_requests gauge\n"
                           "ponder_engine_running_requests %u\n"
                           "# HELP ponder_api_open_generations API generations not yet answered.\n"
                           "# TYPE ponder_api_open_generations gauge\n"
                           "ponder_api_open_generations %u\n",
                           queue_depth, running, streams_open);
    return g_string_free(out, FALSE);
}

// ---- the routes ------------------------------------------------------------------------------

void ponder_api_metrics_route_health(PonderApiRequest *req, JsonObject *body)
{
    PonderApiServer *server = req->server;
    static const char *const states[] = {"unloaded", "loading", "ready", "failed"};
    PonderEngineState state = ponder_engine_get_state(server->engine);
    PonderModelEntry *entry = ponder_api_server_current_entry(server);
    const char *backend = ponder_engine_get_backend_name(server->engine);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    // The server answers, so it is up; whether a model is usable is "state".
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, "ok");
    json_builder_set_member_name(b, "model");
    if (entry)
        json_builder_add_string_value(b, ponder_model_entry_get_slug(entry));
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "backend");
    if (backend)
        json_builder_add_string_value(b, backend);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, states[state]);
    const GError *error = ponder_engine_get_last_error(server->engine);
    if (state == PONDER_ENGINE_FAILED && error) {
        json_builder_set_member_name(b, "error");
        json_builder_add_string_value(b, error->message);
    }
    json_builder_set_member_name(b, "running");
    json_builder_add_int_value(b, ponder_engine_get_running(server->engine));
    json_builder_set_member_name(b, "queued");
    json_builder_add_int_value(b, ponder_engine_get_queue_depth(server->engine));
    json_builder_end_object(b);
    ponder_api_request_respond_builder(req, SOUP_STATUS_OK, b);
}

void ponder_api_metrics_route_metrics(PonderApiRequest *req, JsonObject *body)
{
    PonderApiServer *server = req->server;
    guint generations = 0;
    GHashTableIter iter;
    gpointer key;
    g_hash_table_iter_init(&iter, server->open);
    while (g_hash_table_iter_next(&iter, &key, NULL))
        generations += ((PonderApiRequest *)key)->generation != NULL;
    g_autofree char *text =
        ponder_api_metrics_render(server->metrics, ponder_engine_get_queue_depth(server->engine),
                                  ponder_engine_get_running(server->engine), generations);
    ponder_api_request_respond(req, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
                               text, strlen(text));
}
