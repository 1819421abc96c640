// What the tests of the local API share (see app-test-api.h).
#include "app-test-api.h"

#include <string.h>

#include "app-test-engine.h"

PonderModelLibrary *app_test_api_library(const char *folder)
{
    PonderModelLibrary *library = ponder_model_library_new();
    for (guint s = 0; s < PONDER_MODEL_SOURCE_COUNT; s++)
        ponder_model_library_set_source_enabled(library, s, s == PONDER_MODEL_SOURCE_FOLDER);
    g_assert_true(ponder_model_library_add_folder(library, folder, NULL));
    g_assert_true(ponder_model_library_scan_sync(library, NULL, NULL));
    return library;
}

PonderEngine *app_test_api_engine(const char *model_path, guint n_parallel, guint max_queued)
{
    PonderEngineSettings settings;
    app_test_cpu_engine_settings(&settings, 512, n_parallel);
    settings.max_queued = max_queued;
    settings.step_tokens = 32;
    PonderEngine *engine = ponder_engine_new(&settings);
    ponder_engine_set_model(engine, model_path);
    // Loaded before the first request, as in the app (the engine reports on the main context).
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (ponder_engine_get_state(engine) != PONDER_ENGINE_READY) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, TRUE);
    }
    return engine;
}

PonderApiServer *app_test_api_start(PonderEngine *engine, PonderModelLibrary *library,
                                    const PonderApiServerOptions *extra)
{
    PonderApiServerOptions options = extra ? *extra : (PonderApiServerOptions){0};
    options.port = PONDER_API_PORT_ANY;
    PonderApiServer *server = ponder_api_server_new(engine, library, &options);
    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_api_server_start(server, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(ponder_api_server_get_port(server), >, 0);
    return server;
}

Raw *raw_connect(guint port)
{
    Raw *raw = g_new0(Raw, 1);
    g_autoptr(GError) error = NULL;
    raw->socket =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
    g_assert_no_error(error);
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, (guint16)port);
    g_assert_true(g_socket_connect(raw->socket, address, NULL, &error));
    g_socket_set_blocking(raw->socket, FALSE);
    raw->received = g_string_new(NULL);
    return raw;
}

void raw_free(Raw *raw)
{
    g_socket_close(raw->socket, NULL);
    g_object_unref(raw->socket);
    g_string_free(raw->received, TRUE);
    g_free(raw);
}

void raw_send(Raw *raw, const char *data, gsize length)
{
    gsize sent = 0;
    while (sent < length) {
        g_autoptr(GError) error = NULL;
        gssize n = g_socket_send(raw->socket, data + sent, length - sent, NULL, &error);
        if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            g_main_context_iteration(NULL, FALSE);
            continue;
        }
        g_assert_no_error(error);
        sent += (gsize)n;
    }
}

// Runs the server (same main context) and reads until STOP says so, EOF, or TIMEOUT_MS.
gboolean raw_pump(Raw *raw, gboolean (*stop)(Raw *raw), guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (g_get_monotonic_time() < deadline) {
        while (g_main_context_iteration(NULL, FALSE))
            ;
        char buffer[65536];
        g_autoptr(GError) error = NULL;
        gssize n = g_socket_receive(raw->socket, buffer, sizeof buffer, NULL, &error);
        if (n > 0)
            g_string_append_len(raw->received, buffer, n);
        else if (n == 0 || !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            raw->eof = TRUE;
        if (raw->eof || (stop && stop(raw)))
            return TRUE;
        if (n < 0)
            g_usleep(1000);
    }
    return FALSE;
}

guint raw_status(Raw *raw)
{
    if (!g_str_has_prefix(raw->received->str, "HTTP/1.1 "))
        return 0;
    return (guint)g_ascii_strtoull(raw->received->str + 9, NULL, 10);
}

const char *raw_body(Raw *raw)
{
    const char *end = strstr(raw->received->str, "\r\n\r\n");
    return end ? end + 4 : NULL;
}

// The value of header NAME in the response (a copy), or NULL.
char *raw_header(Raw *raw, const char *name)
{
    const char *end = strstr(raw->received->str, "\r\n\r\n");
    g_autofree char *head =
        g_strndup(raw->received->str, end ? (gsize)(end - raw->received->str) : 0);
    g_auto(GStrv) lines = g_strsplit(head, "\r\n", -1);
    for (guint i = 1; lines[i]; i++) {
        const char *colon = strchr(lines[i], ':');
        if (colon && (gsize)(colon - lines[i]) == strlen(name) &&
            g_ascii_strncasecmp(lines[i], name, strlen(name)) == 0)
            return g_strstrip(g_strdup(colon + 1));
    }
    return NULL;
}

// One request with "Connection: close", answered in full.
Raw *exchange(guint port, const char *method, const char *path, const char *headers,
              const char *body)
{
    Raw *raw = raw_connect(port);
    g_autofree char *request = g_strdup_printf(
        "%s %s HTTP/1.1\r\n%sConnection: close\r\nContent-Type: application/json\r\n"
        "Content-Length: %zu\r\n\r\n%s",
        method, path, headers ? headers : "Host: localhost\r\n", body ? strlen(body) : 0,
        body ? body : "");
    raw_send(raw, request, strlen(request));
    g_assert_true(raw_pump(raw, NULL, 20000));
    return raw;
}
