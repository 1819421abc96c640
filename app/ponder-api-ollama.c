// The Ollama dialect: /api/tags, /api/show, /api/chat, /api/generate, /api/version and
// /api/ps, streamed as NDJSON (one JSON object per line; "done": true on the last).
//
// Thinking: R1 always reasons before it answers. With "think": true the reasoning is sent
// as message.thinking (/api/generate: "thinking"), as Ollama does for thinking models;
// with false or absent it is left out entirely — never mixed into "content" — because a
// client that did not ask for thinking treats content as the answer (and would paste
// "<think>…" into the user's file).
#include "ponder-api-server-private.h"

#include <string.h>

// The Ollama version reported by /api/version. 0.9.0 is the release that introduced the
// "think" request field and message.thinking, which Ponder implements; plugins that gate
// features on the version (thinking, /api/show's capabilities) then enable them, while
// none of them requires anything newer for chat and generate.
#define OLLAMA_COMPAT_VERSION "0.9.0"

// R1's chat format in Ollama's Go-template form (what /api/show calls the template),
// written from inference/chat/chat.h's description of it.
static const char r1_template[] =
    "{{- if .System }}{{ .System }}{{ end }}\n"
    "{{- range $i, $_ := .Messages }}\n"
    "{{- if eq .Role \"user\" }}<\xef\xbd\x9cUser\xef\xbd\x9c>{{ .Content }}\n"
    "{{- else if eq .Role \"assistant\" }}<\xef\xbd\x9c"
    "Assistant\xef\xbd\x9c>{{ .Content }}"
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>\n"
    "{{- end }}\n"
    "{{- end }}<\xef\xbd\x9c"
    "Assistant\xef\xbd\x9c><think>\n";

typedef struct {
    char *model;
    gboolean chat;
    gboolean think;
} OllamaState;

static void ollama_state_free(gpointer data)
{
    OllamaState *s = data;
    g_free(s->model);
    g_free(s);
}

static char *now_rfc3339(void)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    return g_date_time_format_iso8601(now);
}

// Ollama's digest is the blob's SHA-256. Files from elsewhere get a stable stand-in, the
// SHA-256 of their path, size and modification time (hashing gigabytes to list models
// would take minutes): it changes exactly when the file does, which is what clients use it for.
static char *entry_digest(PonderModelEntry *entry)
{
    const char *digest = ponder_model_entry_get_digest(entry);
    if (digest)
        return g_strdup(g_str_has_prefix(digest, "sha256:") ? digest + 7 : digest);
    GDateTime *modified = ponder_model_entry_get_modified_time(entry);
    g_autofree char *identity = g_strdup_printf(
        "%s\n%" G_GUINT64_FORMAT "\n%" G_GINT64_FORMAT, ponder_model_entry_get_path(entry),
        ponder_model_entry_get_file_size(entry), modified ? g_date_time_to_unix(modified) : 0);
    return g_compute_checksum_for_string(G_CHECKSUM_SHA256, identity, -1);
}

// Ollama's human-readable parameter count: "7.6B", "494.03M", "137K"; with a '.' in any
// locale, as Ollama writes it (clients parse it).
static char *parameter_size(guint64 n)
{
    char number[G_ASCII_DTOSTR_BUF_SIZE];
    if (n >= 1000000000)
        return g_strconcat(g_ascii_formatd(number, sizeof number, "%.1f", (double)n / 1e9), "B",
                           NULL);
    if (n >= 1000000)
        return g_strconcat(g_ascii_formatd(number, sizeof number, "%.2f", (double)n / 1e6), "M",
                           NULL);
    if (n >= 1000)
        return g_strconcat(g_ascii_formatd(number, sizeof number, "%.0f", (double)n / 1e3), "K",
                           NULL);
    return g_strdup_printf("%" G_GUINT64_FORMAT, n);
}

static void add_string(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, value ? value : "");
}

static void add_int(JsonBuilder *b, const char *name, gint64 value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, value);
}

static void add_details(JsonBuilder *b, PonderModelEntry *entry)
{
    const char *arch = ponder_model_entry_get_architecture(entry);
    g_autofree char *size = parameter_size(ponder_model_entry_get_n_params(entry));
    json_builder_set_member_name(b, "details");
    json_builder_begin_object(b);
    add_string(b, "parent_model", "");
    add_string(b, "format", "gguf");
    add_string(b, "family", arch);
    json_builder_set_member_name(b, "families");
    json_builder_begin_array(b);
    json_builder_add_string_value(b, arch ? arch : "");
    json_builder_end_array(b);
    add_string(b, "parameter_size", size);
    add_string(b, "quantization_level", ponder_model_entry_get_quant_type(entry));
    json_builder_end_object(b);
}

// The members /api/tags and /api/ps list for a model.
static void add_model_summary(JsonBuilder *b, PonderModelEntry *entry)
{
    g_autofree char *digest = entry_digest(entry);
    add_string(b, "name", ponder_model_entry_get_slug(entry));
    add_string(b, "model", ponder_model_entry_get_slug(entry));
    add_int(b, "size", (gint64)ponder_model_entry_get_file_size(entry));
    add_string(b, "digest", digest);
    add_details(b, entry);
}

void ponder_api_ollama_tags(PonderApiRequest *req, JsonObject *body)
{
    GListModel *models = ponder_model_library_get_models(req->server->library);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "models");
    json_builder_begin_array(b);
    for (guint i = 0; i < g_list_model_get_n_items(models); i++) {
        g_autoptr(PonderModelEntry) entry = g_list_model_get_item(models, i);
        if (!ponder_model_entry_get_usable(entry))
            continue;
        json_builder_begin_object(b);
        GDateTime *modified = ponder_model_entry_get_modified_time(entry);
        g_autofree char *modified_at = modified ? g_date_time_format_iso8601(modified) : NULL;
        add_string(b, "modified_at", modified_at ? modified_at : "1970-01-01T00:00:00Z");
        add_model_summary(b, entry);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    ponder_api_request_respond_builder(req, SOUP_STATUS_OK, b);
}

void ponder_api_ollama_show(PonderApiRequest *req, JsonObject *body)
{
    const char *name = ponder_api_string_member(body, "model");
    if (!name || !*name)
        name = ponder_api_string_member(body, "name");
    if (!name || !*name) {
        g_autoptr(PonderApiError) error =
            ponder_api_error_new(SOUP_STATUS_BAD_REQUEST, "model", NULL, "'model' is required");
        ponder_api_request_respond_error(req, error);
        return;
    }
    // Showing a model does not load it.
    g_autoptr(GError) lookup_error = NULL;
    PonderModelEntry *entry =
        ponder_model_library_lookup(req->server->library, name, &lookup_error);
    if (!entry || !ponder_model_entry_get_usable(entry)) {
        g_autoptr(PonderApiError) error = ponder_api_error_new(
            SOUP_STATUS_NOT_FOUND, "model", "model_not_found", "model \"%s\" not found", name);
        ponder_api_request_respond_error(req, error);
        return;
    }
    const char *arch = ponder_model_entry_get_architecture(entry);
    // The context a request really gets here (the engine's), not the trained maximum:
    // Continue sizes its prompts by it, and a bigger number would overflow the engine.
    guint context = ponder_api_server_context_length(req->server, entry);
    SamplerParams defaults = sampler_default_params();
    // Modelfile numbers, which clients parse, have a '.' whatever this process's locale.
    char temperature[G_ASCII_DTOSTR_BUF_SIZE], top_p[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(temperature, sizeof temperature, "%g", defaults.temperature);
    g_ascii_formatd(top_p, sizeof top_p, "%g", defaults.top_p);
    g_autofree char *parameters =
        g_strdup_printf("temperature %s\ntop_p %s\nnum_ctx %u\n"
                        "stop \"<\xef\xbd\x9c"
                        "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>\"\n"
                        "stop \"<\xef\xbd\x9c"
                        "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>\"\n"
                        "stop \"<\xef\xbd\x9cUser\xef\xbd\x9c>\"\n"
                        "stop \"<\xef\xbd\x9c"
                        "Assistant\xef\xbd\x9c>\"",
                        temperature, top_p, context);
    g_autofree char *modelfile = g_strdup_printf("# Modelfile generated by Ponder\nFROM %s\n",
                                                 ponder_model_entry_get_path(entry));
    GDateTime *modified = ponder_model_entry_get_modified_time(entry);
    g_autofree char *modified_at = modified ? g_date_time_format_iso8601(modified) : NULL;

    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    add_string(b, "license", "");
    add_string(b, "modelfile", modelfile);
    add_string(b, "parameters", parameters);
    add_string(b, "template", r1_template);
    add_details(b, entry);
    json_builder_set_member_name(b, "model_info");
    json_builder_begin_object(b);
    add_string(b, "general.architecture", arch);
    add_int(b, "general.parameter_count", (gint64)ponder_model_entry_get_n_params(entry));
    const struct {
        const char *key;
        guint32 value;
    } info[] = {
        {"context_length", context},
        {"embedding_length", ponder_model_entry_get_n_embd(entry)},
        {"block_count", ponder_model_entry_get_n_layer(entry)},
        {"feed_forward_length", ponder_model_entry_get_n_ff(entry)},
        {"attention.head_count", ponder_model_entry_get_n_head(entry)},
        {"attention.head_count_kv", ponder_model_entry_get_n_head_kv(entry)},
    };
    for (guint i = 0; i < G_N_ELEMENTS(info); i++) {
        g_autofree char *key = g_strdup_printf("%s.%s", arch ? arch : "model", info[i].key);
        add_int(b, key, info[i].value);
    }
    json_builder_end_object(b);
    json_builder_set_member_name(b, "capabilities");
    json_builder_begin_array(b);
    json_builder_add_string_value(b, "completion");
    json_builder_add_string_value(b, "thinking");
    json_builder_end_array(b);
    add_string(b, "modified_at", modified_at);
    json_builder_end_object(b);
    ponder_api_request_respond_builder(req, SOUP_STATUS_OK, b);
}

void ponder_api_ollama_version(PonderApiRequest *req, JsonObject *body)
{
    static const char version[] = "{\"version\":\"" OLLAMA_COMPAT_VERSION "\"}";
    ponder_api_request_respond(req, SOUP_STATUS_OK, "application/json", version,
                               sizeof version - 1);
}

void ponder_api_ollama_ps(PonderApiRequest *req, JsonObject *body)
{
    PonderApiServer *server = req->server;
    PonderModelEntry *entry = ponder_engine_get_state(server->engine) == PONDER_ENGINE_READY
                                  ? ponder_api_server_current_entry(server)
                                  : NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "models");
    json_builder_begin_array(b);
    if (entry) {
        PonderEngineSettings settings;
        ponder_engine_get_settings(server->engine, &settings);
        // Never unloaded for idleness: say so with a far date, as Ollama does for keep_alive -1.
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autoptr(GDateTime) expires = g_date_time_add_seconds(
            now, settings.idle_unload_seconds ? settings.idle_unload_seconds : 100.0 * 365 * 86400);
        g_autofree char *expires_at = g_date_time_format_iso8601(expires);
        gboolean on_cpu = g_strcmp0(ponder_engine_get_backend_name(server->engine), "cpu") == 0;
        json_builder_begin_object(b);
        add_model_summary(b, entry);
        add_string(b, "expires_at", expires_at);
        add_int(b, "size_vram", on_cpu ? 0 : (gint64)ponder_model_entry_get_file_size(entry));
        add_int(b, "context_length", ponder_api_server_context_length(server, entry));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    ponder_api_request_respond_builder(req, SOUP_STATUS_OK, b);
}

// ---- chat and generate ------------------------------------------------------------------

static JsonBuilder *begin_line(OllamaState *s)
{
    JsonBuilder *b = json_builder_new();
    g_autofree char *created_at = now_rfc3339();
    json_builder_begin_object(b);
    add_string(b, "model", s->model);
    add_string(b, "created_at", created_at);
    return b;
}

// The text members: message{role, content, thinking} for chat, response/thinking for generate.
static void add_text(JsonBuilder *b, OllamaState *s, const char *content, const char *thinking)
{
    if (s->chat) {
        json_builder_set_member_name(b, "message");
        json_builder_begin_object(b);
        add_string(b, "role", "assistant");
        add_string(b, "content", content);
        if (thinking && s->think)
            add_string(b, "thinking", thinking);
        json_builder_end_object(b);
    } else {
        add_string(b, "response", content);
        if (thinking && s->think)
            add_string(b, "thinking", thinking);
    }
}

static void write_line(PonderApiRequest *req, JsonBuilder *b)
{
    g_autofree char *json = ponder_api_builder_to_string(b);
    g_autofree char *line = g_strconcat(json, "\n", NULL);
    ponder_api_request_write(req, line, strlen(line));
}

static void stream_started(PonderApiRequest *req) {}

static void stream_delta(PonderApiRequest *req, gboolean reasoning, const char *text)
{
    OllamaState *s = req->dialect_data;
    if (reasoning && !s->think)
        return;
    g_autoptr(JsonBuilder) b = begin_line(s);
    add_text(b, s, reasoning ? "" : text, reasoning ? text : NULL);
    json_builder_set_member_name(b, "done");
    json_builder_add_boolean_value(b, FALSE);
    json_builder_end_object(b);
    write_line(req, b);
}

// Ollama reports durations in nanoseconds.
static void add_stats(JsonBuilder *b, PonderGeneration *g)
{
    PonderGenerationStats stats;
    ponder_generation_get_stats(g, &stats);
    add_int(b, "total_duration", stats.total_us * 1000);
    add_int(b, "load_duration", stats.load_us * 1000);
    add_int(b, "prompt_eval_count", stats.prompt_tokens);
    add_int(b, "prompt_eval_duration", stats.prefill_us * 1000);
    add_int(b, "eval_count", stats.completion_tokens);
    add_int(b, "eval_duration", stats.decode_us * 1000);
}

static void finished(PonderApiRequest *req, const char *finish_reason)
{
    OllamaState *s = req->dialect_data;
    g_autoptr(JsonBuilder) b = begin_line(s);
    if (req->streaming)
        add_text(b, s, "", NULL);
    else
        add_text(b, s, ponder_generation_get_answer(req->generation),
                 ponder_generation_get_reasoning(req->generation));
    add_string(b, "done_reason", finish_reason);
    json_builder_set_member_name(b, "done");
    json_builder_add_boolean_value(b, TRUE);
    add_stats(b, req->generation);
    json_builder_end_object(b);
    if (req->streaming)
        write_line(req, b);
    else
        ponder_api_request_respond_builder(req, SOUP_STATUS_OK, b);
}

static const PonderApiGenerationHandler ollama_handler = {
    .stream_content_type = "application/x-ndjson",
    .stream_started = stream_started,
    .stream_delta = stream_delta,
    .finished = finished,
};

// A request without messages (chat) or prompt (generate) only loads the model — or, with
// keep_alive 0, unloads it — as Ollama's clients use to warm up or free memory.
static void answer_load(PonderApiRequest *req, OllamaState *s, PonderModelEntry *entry,
                        gboolean unload)
{
    const char *reason = "load";
    PonderEngineState state = ponder_engine_get_state(req->server->engine);
    if (!unload && (state == PONDER_ENGINE_UNLOADED || state == PONDER_ENGINE_FAILED))
        ponder_engine_set_model(req->server->engine, ponder_model_entry_get_path(entry));
    if (unload) {
        reason = "unload";
        ponder_api_server_unload_when_idle(req->server);
    }
    g_autoptr(JsonBuilder) b = begin_line(s);
    add_text(b, s, "", NULL);
    add_string(b, "done_reason", reason);
    json_builder_set_member_name(b, "done");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_end_object(b);
    ponder_api_request_respond_builder(req, SOUP_STATUS_OK, b);
}

static void run(PonderApiRequest *req, JsonObject *body, gboolean chat)
{
    PonderApiParams params;
    PonderModelEntry *entry = ponder_api_request_parse(req, body, &params);
    if (!entry)
        return;
    OllamaState *s = g_new0(OllamaState, 1);
    s->model = g_strdup(ponder_model_entry_get_slug(entry));
    s->chat = chat;
    s->think = params.think;
    req->dialect_data = s;
    req->dialect_data_free = ollama_state_free;
    req->unload_after = params.unload_after;
    // Chats may be saved in the history; /api/generate (code completion, one-off prompts)
    // never is.
    if (params.n_messages == 0 && !params.prompt)
        answer_load(req, s, entry, params.unload_after);
    else if (ponder_api_request_run(req, ponder_api_params_make_generation(&params), params.stream,
                                    &ollama_handler) &&
             chat)
        ponder_api_history_track(req->server, req->generation, &params, s->model);
    ponder_api_params_clear(&params);
}

void ponder_api_ollama_chat(PonderApiRequest *req, JsonObject *body)
{
    run(req, body, TRUE);
}

void ponder_api_ollama_generate(PonderApiRequest *req, JsonObject *body)
{
    run(req, body, FALSE);
}
