// libFuzzer target for the local API's request path without the network: each input is one
// request as text, run through ponder_api_parse_request (route, Host/Origin/key checks,
// the nesting guard, json-glib, both dialects' parameter parsing) exactly as the server
// runs it on a connection's parts.
//
// Input format (the corpus files are readable requests):
//   METHOD SP PATH LF                e.g. "POST /v1/chat/completions\n"
//   (NAME ": " VALUE LF)*            headers; a missing Host is refused like on the wire
//   LF                               then the body, every byte to the end
// The access policy alternates with the input's length: no key, or the key "fuzz-key"
// (so the Authorization check runs on both sides), and one allowed origin.
//
// Build and run (clang only; this target needs the app, so not -Dinference_only):
//   CC=clang meson setup build-fuzz-api -Dfuzz=true -Db_lundef=false -Dcuda=disabled
//   -Dvulkan=disabled meson compile -C build-fuzz-api tests/fuzz/fuzz-api mkdir -p
//   build-fuzz-api/corpus
//   build-fuzz-api/tests/fuzz/fuzz-api -max_total_time=60 -timeout=10 -rss_limit_mb=2048 \
//       -dict=tests/fuzz/api.dict build-fuzz-api/corpus tests/fuzz/corpus-api
// A GLib critical (a json-glib getter on the wrong type, say) aborts: client input must
// never reach one.
#include <string.h>

#include "ponder-api-server-private.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
    return 0;
}

// The next line of [*AT, END) without its LF (NULL at the end); *AT moves past it.
static char *next_line(const char **at, const char *end)
{
    if (*at >= end)
        return NULL;
    const char *lf = memchr(*at, '\n', (size_t)(end - *at));
    const char *stop = lf ? lf : end;
    char *line = g_strndup(*at, (gsize)(stop - *at));
    *at = lf ? lf + 1 : end;
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *at = (const char *)data, *end = at + size;
    g_autofree char *request_line = next_line(&at, end);
    if (!request_line)
        return 0;
    char *space = strchr(request_line, ' ');
    if (!space)
        return 0;
    *space = '\0';
    const char *method = request_line, *path = space + 1;

    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) headers = g_array_new(FALSE, FALSE, sizeof(PonderApiHeader));
    char *line;
    while ((line = next_line(&at, end)) && *line) {
        g_ptr_array_add(lines, line);
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        PonderApiHeader header = {line, colon + 1 + (colon[1] == ' ')};
        g_array_append_val(headers, header);
    }
    g_free(line);

    // SHA-256 of "fuzz-key".
    static char *key_digest;
    if (!key_digest)
        key_digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, "fuzz-key", -1);
    static const char *const origins[] = {"http://localhost:3000", NULL};
    static const char *const names[] = {"ponder-box", "[fe80::1]", NULL};
    PonderApiAccess access = {names, origins, size % 2 ? key_digest : NULL};

    PonderApiParsedRequest parsed;
    PonderApiError *error = NULL;
    gboolean ok = ponder_api_parse_request(&access, method, path,
                                           (const PonderApiHeader *)headers->data, headers->len,
                                           (const guint8 *)at, (gsize)(end - at), &parsed, &error);
    // What the server would do next with it: answer an error, or hand the route its parts.
    if (ok == (error != NULL))
        abort();
    if (error) {
        if (error->status < 400 || error->status > 599 || !error->message ||
            !g_utf8_validate(error->message, -1, NULL))
            abort();
        g_autoptr(JsonNode) answer = ponder_api_error_to_json(parsed.dialect, error);
        g_free(ponder_api_json_to_string(answer));
        ponder_api_error_free(error);
    } else if (parsed.route && parsed.route->parse_params) {
        g_autoptr(PonderGeneration) generation = ponder_api_params_make_generation(&parsed.params);
        if (!generation)
            abort();
    }
    ponder_api_parsed_request_clear(&parsed);
    return 0;
}
