// The download catalog and PonderDownload against a local fake of the Hugging Face hub.
//
// The fake hub is a SoupServer on 127.0.0.1 that answers the way huggingface.co does:
// /{repo}/resolve/main/{file} redirects (302) to /cdn/{file} and carries X-Linked-Size and
// X-Linked-Etag; /cdn/{file} serves the bytes with Range support. Each test switches on
// the misbehaviour it needs (a cut connection, a stall, a wrong hash, ...), drives the
// download with a GMainLoop and checks the files on disk against the source bytes, whose
// SHA-256 the test computes itself.

#include "ponder-catalog.h"
#include "app-test-util.h"
#include "ponder-download.h"
#include "ponder-infer.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#define TEST_REPO "tester/Tiny-Model-GGUF"
#define TEST_FILE "Tiny-Model-Q4_K_M.gguf"
// Not a multiple of any read size, so the last chunk is a short one.
#define TEST_FILE_SIZE (3 * 1024 * 1024 + 12345)
#define RUN_TIMEOUT_S 15

// ---- the fake hub ----

typedef struct {
    SoupServer *server;
    char *base_url; // http://127.0.0.1:PORT
    GBytes *content;
    char *sha256; // of content, lower-case hex

    // misbehaviour, set by the tests
    const char *linked_etag; // X-Linked-Etag value instead of the real hash (unquoted)
    guint64 linked_size;     // X-Linked-Size instead of the real size, when not 0
    gboolean omit_linked;    // no X-Linked-* on the redirect (a non-LFS file)
    gboolean ignore_range;   // answer 200 with the whole file to a Range request
    gsize cut_at;            // when not 0: stop sending the body at this file offset ...
    gboolean stall_at_cut;   // ... and then hang (TRUE) or drop the connection (FALSE)
    guint trickle_pieces;    // when not 0: send the body in this many pieces, 100 ms apart

    // what the hub saw
    guint n_head;
    guint n_get_resolve;
    guint n_get_cdn;
    gint64 last_range_start; // -1: the last /cdn GET had no Range
} FakeHub;

static guint64 xorshift64(guint64 *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static GBytes *make_content(gsize size)
{
    guint8 *data = g_malloc(size);
    guint64 state = 0x9E3779B97F4A7C15ull;
    for (gsize i = 0; i < size; i++)
        data[i] = (guint8)(xorshift64(&state) >> 56);
    return g_bytes_new_take(data, size);
}

static char *sha256_of(const void *data, gsize size)
{
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, size);
}

static gboolean drop_connection(gpointer data)
{
    SoupServerMessage *msg = data;
    GIOStream *stream = soup_server_message_steal_connection(msg);
    if (stream) {
        g_io_stream_close(stream, NULL, NULL);
        g_object_unref(stream);
    }
    return G_SOURCE_REMOVE;
}

// The partial body has gone out: cut the connection (from an idle, outside soup's I/O).
static void cut_chunk_written(SoupServerMessage *msg, gpointer data)
{
    g_idle_add_full(G_PRIORITY_DEFAULT, drop_connection, g_object_ref(msg), g_object_unref);
}

typedef struct {
    FakeHub *hub;
    SoupServerMessage *msg;
    guint pieces_sent;
} Trickle;

static void trickle_free(gpointer data)
{
    Trickle *trickle = data;
    g_object_unref(trickle->msg);
    g_free(trickle);
}

// Appends the next piece of the whole file and lets soup write it.
static gboolean trickle_next_piece(gpointer data)
{
    Trickle *trickle = data;
    FakeHub *hub = trickle->hub;
    gsize size = g_bytes_get_size(hub->content);
    gsize from = size / hub->trickle_pieces * trickle->pieces_sent;
    trickle->pieces_sent++;
    gboolean last = trickle->pieces_sent == hub->trickle_pieces;
    gsize to = last ? size : size / hub->trickle_pieces * trickle->pieces_sent;
    SoupMessageBody *body = soup_server_message_get_response_body(trickle->msg);
    g_autoptr(GBytes) piece = g_bytes_new_from_bytes(hub->content, from, to - from);
    soup_message_body_append_bytes(body, piece);
    if (last)
        soup_message_body_complete(body);
    soup_server_message_unpause(trickle->msg);
    return last ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static void serve_cdn(FakeHub *hub, SoupServerMessage *msg)
{
    const char *method = soup_server_message_get_method(msg);
    SoupMessageHeaders *request = soup_server_message_get_request_headers(msg);
    SoupMessageHeaders *response = soup_server_message_get_response_headers(msg);
    gsize size = g_bytes_get_size(hub->content);

    if (strcmp(method, "HEAD") == 0) {
        hub->n_head++;
    } else {
        hub->n_get_cdn++;
    }

    gsize start = 0;
    gsize end = size; // exclusive
    SoupRange *ranges = NULL;
    int n_ranges = 0;
    hub->last_range_start = -1;
    if (soup_message_headers_get_ranges(request, size, &ranges, &n_ranges)) {
        hub->last_range_start = ranges[0].start;
        if (!hub->ignore_range) {
            start = ranges[0].start;
            end = ranges[0].end + 1;
        }
        soup_message_headers_free_ranges(request, ranges);
        // Or SoupServer would itself turn the 200 into a 206.
        if (hub->ignore_range)
            soup_message_headers_remove(request, "Range");
    } else if (soup_message_headers_get_one(request, "Range")) {
        soup_server_message_set_status(msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, NULL);
        return;
    }

    if (start > 0 || end < size) {
        soup_server_message_set_status(msg, SOUP_STATUS_PARTIAL_CONTENT, NULL);
        soup_message_headers_set_content_range(response, start, end - 1, size);
    } else {
        soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
    }
    g_autofree char *etag = g_strdup_printf("\"%s\"", hub->sha256);
    soup_message_headers_replace(response, "ETag", etag);
    soup_message_headers_replace(response, "Accept-Ranges", "bytes");
    soup_message_headers_set_content_type(response, "application/octet-stream", NULL);
    soup_message_headers_set_content_length(response, end - start);

    SoupMessageBody *body = soup_server_message_get_response_body(msg);
    if (strcmp(method, "HEAD") == 0) {
        soup_message_body_complete(body);
        return;
    }
    if (hub->trickle_pieces > 0 && start == 0) {
        Trickle *trickle = g_new0(Trickle, 1);
        trickle->hub = hub;
        trickle->msg = g_object_ref(msg);
        trickle_next_piece(trickle);
        soup_server_message_pause(msg);
        g_timeout_add_full(G_PRIORITY_DEFAULT, 100, trickle_next_piece, trickle, trickle_free);
        return;
    }
    if (hub->cut_at > start && hub->cut_at < end) {
        // Promise the whole range, send only the bytes before the cut.
        g_autoptr(GBytes) part = g_bytes_new_from_bytes(hub->content, start, hub->cut_at - start);
        soup_message_body_append_bytes(body, part);
        if (!hub->stall_at_cut)
            g_signal_connect(msg, "wrote-chunk", G_CALLBACK(cut_chunk_written), NULL);
        return;
    }
    g_autoptr(GBytes) range = g_bytes_new_from_bytes(hub->content, start, end - start);
    soup_message_body_append_bytes(body, range);
    soup_message_body_complete(body);
}

static void serve_resolve(FakeHub *hub, SoupServerMessage *msg, const char *file)
{
    const char *method = soup_server_message_get_method(msg);
    if (strcmp(method, "HEAD") == 0)
        hub->n_head++;
    else
        hub->n_get_resolve++;

    if (strcmp(file, TEST_FILE) != 0) {
        soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
        return;
    }
    SoupMessageHeaders *response = soup_server_message_get_response_headers(msg);
    g_autofree char *location = g_strdup_printf("%s/cdn/%s", hub->base_url, file);
    soup_server_message_set_redirect(msg, SOUP_STATUS_FOUND, location);
    if (!hub->omit_linked) {
        guint64 size = hub->linked_size ? hub->linked_size : g_bytes_get_size(hub->content);
        g_autofree char *size_text = g_strdup_printf("%" G_GUINT64_FORMAT, size);
        g_autofree char *etag =
            g_strdup_printf("\"%s\"", hub->linked_etag ? hub->linked_etag : hub->sha256);
        soup_message_headers_replace(response, "X-Linked-Size", size_text);
        soup_message_headers_replace(response, "X-Linked-Etag", etag);
    }
}

static void hub_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
                        GHashTable *query, gpointer data)
{
    FakeHub *hub = data;
    const char *resolve_prefix = "/" TEST_REPO "/resolve/main/";
    if (g_str_has_prefix(path, resolve_prefix))
        serve_resolve(hub, msg, path + strlen(resolve_prefix));
    else if (strcmp(path, "/cdn/" TEST_FILE) == 0)
        serve_cdn(hub, msg);
    else
        soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
}

static FakeHub *fake_hub_new(void)
{
    FakeHub *hub = g_new0(FakeHub, 1);
    hub->content = make_content(TEST_FILE_SIZE);
    gsize size = 0;
    const void *data = g_bytes_get_data(hub->content, &size);
    hub->sha256 = sha256_of(data, size);
    hub->last_range_start = -1;

    hub->server = soup_server_new(NULL, NULL);
    soup_server_add_handler(hub->server, NULL, hub_handler, hub, NULL);
    GError *error = NULL;
    if (!soup_server_listen_local(hub->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error)) {
        g_autofree char *why =
            g_strdup_printf("skipped: cannot listen on 127.0.0.1: %s", error->message);
        g_test_skip(why);
        g_error_free(error);
        g_object_unref(hub->server);
        g_bytes_unref(hub->content);
        g_free(hub->sha256);
        g_free(hub);
        return NULL;
    }
    GSList *uris = soup_server_get_uris(hub->server);
    hub->base_url = g_strdup_printf("http://127.0.0.1:%d", g_uri_get_port(uris->data));
    g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
    g_setenv("PONDER_HF_ENDPOINT", hub->base_url, TRUE);
    return hub;
}

static void fake_hub_free(FakeHub *hub)
{
    soup_server_disconnect(hub->server);
    g_object_unref(hub->server);
    // Let the idle that drops a connection and soup's own cleanups run.
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_bytes_unref(hub->content);
    g_free(hub->sha256);
    g_free(hub->base_url);
    g_free(hub);
    g_unsetenv("PONDER_HF_ENDPOINT");
}

// ---- helpers ----

typedef struct {
    GMainLoop *loop;
    GAsyncResult *result;
} Waiter;

static void download_finished(GObject *source, GAsyncResult *result, gpointer data)
{
    Waiter *waiter = data;
    waiter->result = g_object_ref(result);
    g_main_loop_quit(waiter->loop);
}

static gboolean run_timed_out(gpointer data)
{
    g_error("the download did not finish within %d s", RUN_TIMEOUT_S);
    return G_SOURCE_REMOVE;
}

// Runs the download to its end on the default main context; returns its result.
static gboolean run_download(PonderDownload *download, GCancellable *cancellable, GError **error)
{
    Waiter waiter = {g_main_loop_new(NULL, FALSE), NULL};
    guint timeout = g_timeout_add_seconds(RUN_TIMEOUT_S, run_timed_out, NULL);
    ponder_download_start_async(download, cancellable, download_finished, &waiter);
    g_main_loop_run(waiter.loop);
    g_source_remove(timeout);
    gboolean ok = ponder_download_start_finish(download, waiter.result, error);
    g_object_unref(waiter.result);
    g_main_loop_unref(waiter.loop);
    return ok;
}

// A fresh temporary folder; downloads go to its "models" subfolder (not created yet).
typedef struct {
    char *root;
    char *models;
} TempDir;

static TempDir temp_dir_new(void)
{
    TempDir t;
    GError *error = NULL;
    t.root = g_dir_make_tmp("ponder-download-XXXXXX", &error);
    g_assert_no_error(error);
    t.models = g_build_filename(t.root, "models", NULL);
    return t;
}

static void temp_dir_free(TempDir *t)
{
    app_test_remove_tree(t->root);
    g_assert_false(g_file_test(t->root, G_FILE_TEST_EXISTS));
    g_free(t->root);
    g_free(t->models);
}

static GBytes *read_file_or_null(const char *path)
{
    char *data = NULL;
    gsize size = 0;
    if (!g_file_get_contents(path, &data, &size, NULL))
        return NULL;
    return g_bytes_new_take(data, size);
}

// The file at PATH holds exactly the first LENGTH bytes of the hub's content.
static void assert_file_is_prefix(const char *path, FakeHub *hub, gsize length)
{
    g_autoptr(GBytes) got = read_file_or_null(path);
    g_assert_nonnull(got);
    g_assert_cmpuint(g_bytes_get_size(got), ==, length);
    g_assert_cmpmem(g_bytes_get_data(got, NULL), length, g_bytes_get_data(hub->content, NULL),
                    length);
}

static PonderDownload *new_test_download(TempDir *t)
{
    return ponder_download_new(TEST_REPO, TEST_FILE, t->models);
}

// ---- the catalog ----

static void test_catalog_entries(void)
{
    g_autoptr(GListModel) catalog = ponder_catalog_list();
    guint n = g_list_model_get_n_items(catalog);
    g_assert_cmpuint(n, >=, 6 * 4);
    g_assert_true(g_list_model_get_item_type(catalog) == PONDER_TYPE_CATALOG_ENTRY);

    // The seven distills DeepSeek published, each with the everyday quant.
    const char *models[] = {"DeepSeek-R1-Distill-Qwen-1.5B", "DeepSeek-R1-Distill-Qwen-7B",
                            "DeepSeek-R1-Distill-Qwen-14B",  "DeepSeek-R1-Distill-Qwen-32B",
                            "DeepSeek-R1-Distill-Llama-8B",  "DeepSeek-R1-Distill-Llama-70B",
                            "DeepSeek-R1-0528-Qwen3-8B"};
    // IQ4_XS and IQ3_M of every Qwen distill; R1-0528 in IQ4_XS too
    guint iq4_seen = 0, iq3_m_seen = 0;
    gboolean seen_0528_example = FALSE;
    guint q4_seen[G_N_ELEMENTS(models)] = {0};
    gboolean seen_70b_q2 = FALSE, seen_70b_q3 = FALSE, seen_bartowski_example = FALSE;
    g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < n; i++) {
        g_autoptr(PonderCatalogEntry) entry = g_list_model_get_item(catalog, i);
        const char *repo = ponder_catalog_entry_get_repo(entry);
        const char *file = ponder_catalog_entry_get_file(entry);
        const char *quant = ponder_catalog_entry_get_quant_type(entry);
        const char *name = ponder_catalog_entry_get_model_name(entry);
        const char *id = ponder_catalog_entry_get_id(entry);

        g_assert_nonnull(repo);
        g_assert_nonnull(strchr(repo, '/'));
        g_assert_true(repo[0] != '/' && strchr(repo, '/') == strrchr(repo, '/'));
        g_assert_true(g_str_has_suffix(file, ".gguf"));
        g_assert_nonnull(strstr(file, quant));
        g_assert_nonnull(strstr(file, name));
        // Split files ("-00001-of-00002.gguf") are not single downloads.
        g_assert_null(strstr(file, "-of-"));
        const char *arch = ponder_catalog_entry_get_architecture(entry);
        g_assert_true(strcmp(arch, "qwen2") == 0 || strcmp(arch, "llama") == 0 ||
                      strcmp(arch, "qwen3") == 0);
        g_assert_true((strcmp(arch, "qwen3") == 0) == (strstr(name, "Qwen3") != NULL));
        g_assert_cmpfloat(ponder_file_type_bits_per_weight(quant), >, 0); // a memory note for each
        iq4_seen += strcmp(quant, "IQ4_XS") == 0;
        iq3_m_seen += strcmp(quant, "IQ3_M") == 0;
        g_assert_nonnull(strstr(name, ponder_catalog_entry_get_size_label(entry)));

        guint n_head = ponder_catalog_entry_get_n_head(entry);
        guint n_kv_head = ponder_catalog_entry_get_n_kv_head(entry);
        g_assert_cmpuint(ponder_catalog_entry_get_n_layer(entry), >, 0);
        g_assert_cmpuint(n_kv_head, >, 0);
        g_assert_cmpuint(n_head % n_kv_head, ==, 0);
        g_assert_cmpuint(ponder_catalog_entry_get_head_dim(entry), ==, 128);

        g_assert_false(g_hash_table_contains(ids, id));
        g_hash_table_add(ids, (gpointer)id);
        g_autoptr(PonderCatalogEntry) found = ponder_catalog_lookup(id);
        g_assert_nonnull(found);
        g_assert_cmpstr(ponder_catalog_entry_get_file(found), ==, file);

        for (guint m = 0; m < G_N_ELEMENTS(models); m++)
            if (strcmp(name, models[m]) == 0 && strcmp(quant, "Q4_K_M") == 0)
                q4_seen[m]++;
        if (strcmp(name, "DeepSeek-R1-Distill-Llama-70B") == 0) {
            seen_70b_q2 |= strcmp(quant, "Q2_K") == 0;
            seen_70b_q3 |= strcmp(quant, "Q3_K_M") == 0;
        }
        if (strcmp(repo, "bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF") == 0 &&
            strcmp(file, "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf") == 0)
            seen_bartowski_example = TRUE;
        // bartowski's newer repositories carry the organisation in front
        if (strcmp(repo, "bartowski/deepseek-ai_DeepSeek-R1-0528-Qwen3-8B-GGUF") == 0 &&
            strcmp(file, "deepseek-ai_DeepSeek-R1-0528-Qwen3-8B-Q4_K_M.gguf") == 0 &&
            strcmp(id, "r1-0528-qwen3-8b-q4_k_m") == 0 &&
            ponder_catalog_entry_get_n_layer(entry) == 36)
            seen_0528_example = TRUE;
    }
    g_assert_cmpuint(iq4_seen, ==, 5);
    g_assert_cmpuint(iq3_m_seen, ==, 4);
    g_assert_true(seen_0528_example);
    for (guint m = 0; m < G_N_ELEMENTS(models); m++)
        g_assert_cmpuint(q4_seen[m], ==, 1);
    g_assert_true(seen_70b_q2 && seen_70b_q3);
    g_assert_true(seen_bartowski_example);
    g_assert_null(ponder_catalog_lookup("no-such-model"));

    // No size or checksum is written down: those come from the hub.
    guint n_props = 0;
    g_autofree GParamSpec **props =
        g_object_class_list_properties(g_type_class_peek(PONDER_TYPE_CATALOG_ENTRY), &n_props);
    g_assert_cmpuint(n_props, >, 0);
    const char *forbidden[] = {"size", "sha", "hash", "etag", "bytes", "checksum", "digest"};
    for (guint p = 0; p < n_props; p++) {
        const char *prop = g_param_spec_get_name(props[p]);
        if (strcmp(prop, "size-label") == 0) // "7B", a parameter count
            continue;
        for (guint f = 0; f < G_N_ELEMENTS(forbidden); f++)
            g_assert_null(strstr(prop, forbidden[f]));
    }
}

// KV cache per token at f16 from the published configs: Llama-3.1-8B has 32 layers of 8 KV
// heads of 128 (128 KiB per token); Qwen2.5-7B 28 layers of 4 KV heads of 128.
static guint64 f16_kv_bytes_per_token(PonderCatalogEntry *entry)
{
    PonderModelProbe probe = {
        .n_layer = ponder_catalog_entry_get_n_layer(entry),
        .n_head_kv = ponder_catalog_entry_get_n_kv_head(entry),
        .head_dim = ponder_catalog_entry_get_head_dim(entry),
    };
    PonderMemoryEstimate one_token;
    g_assert_true(ponder_estimate_memory(&probe, 1, PONDER_KV_F16, &one_token, NULL));
    return one_token.kv_cache;
}

static void test_catalog_memory_facts(void)
{
    g_autoptr(PonderCatalogEntry) llama = ponder_catalog_lookup("r1-distill-llama-8b-q4_k_m");
    g_autoptr(PonderCatalogEntry) qwen = ponder_catalog_lookup("r1-distill-qwen-7b-q8_0");
    g_assert_nonnull(llama);
    g_assert_nonnull(qwen);
    g_assert_cmpuint(f16_kv_bytes_per_token(llama), ==, 128 * 1024);
    g_assert_cmpuint(f16_kv_bytes_per_token(qwen), ==, 2 * 28 * 4 * 128 * 2);
    g_assert_cmpstr(ponder_catalog_entry_get_architecture(llama), ==, "llama");
    g_assert_cmpstr(ponder_catalog_entry_get_architecture(qwen), ==, "qwen2");
}

// ---- PonderDownload ----

static void test_default_endpoint_and_folder(void)
{
    g_unsetenv("PONDER_HF_ENDPOINT");
    g_autoptr(PonderDownload) d =
        ponder_download_new("bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF",
                            "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf", NULL);
    g_assert_cmpstr(ponder_download_get_url(d), ==,
                    "https://huggingface.co/bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF/resolve/"
                    "main/DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf");
    g_autofree char *expected_dest = g_build_filename(
        g_get_user_data_dir(), "ponder", "models", "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf", NULL);
    g_assert_cmpstr(ponder_download_get_dest_path(d), ==, expected_dest);
    g_autofree char *expected_part = g_strconcat(expected_dest, ".part", NULL);
    g_assert_cmpstr(ponder_download_get_part_path(d), ==, expected_part);
    g_assert_cmpint(ponder_download_get_state(d), ==, PONDER_DOWNLOAD_STATE_IDLE);
    g_assert_cmpint(ponder_download_get_eta_seconds(d), ==, -1);

    // The override, with a trailing slash that must not double up; names are escaped.
    g_setenv("PONDER_HF_ENDPOINT", "http://127.0.0.1:9/", TRUE);
    g_autoptr(PonderDownload) local = ponder_download_new("a/b", "dir/x y.gguf", "/tmp/m");
    g_assert_cmpstr(ponder_download_get_url(local), ==,
                    "http://127.0.0.1:9/a/b/resolve/main/dir/x%20y.gguf");
    g_assert_cmpstr(ponder_download_get_dest_path(local), ==, "/tmp/m/x y.gguf");
    g_unsetenv("PONDER_HF_ENDPOINT");
}

typedef struct {
    guint n_notify;
    guint64 last_done;
    gboolean went_backwards;
} ProgressLog;

static void bytes_done_notified(GObject *object, GParamSpec *pspec, gpointer data)
{
    ProgressLog *log = data;
    guint64 done = ponder_download_get_bytes_done(PONDER_DOWNLOAD(object));
    if (done < log->last_done)
        log->went_backwards = TRUE;
    g_assert_cmpuint(done, <=, TEST_FILE_SIZE);
    log->last_done = done;
    log->n_notify++;
}

static void test_full_download(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    g_autoptr(PonderDownload) d = new_test_download(&t);
    ProgressLog log = {0};
    g_signal_connect(d, "notify::bytes-done", G_CALLBACK(bytes_done_notified), &log);

    GError *error = NULL;
    gint64 started = g_get_monotonic_time();
    gboolean ok = run_download(d, NULL, &error);
    double elapsed_s = (g_get_monotonic_time() - started) / 1e6;
    g_assert_no_error(error);
    g_assert_true(ok);

    g_assert_cmpint(ponder_download_get_state(d), ==, PONDER_DOWNLOAD_STATE_DONE);
    g_assert_null(ponder_download_get_error(d));
    g_assert_cmpuint(ponder_download_get_bytes_total(d), ==, TEST_FILE_SIZE);
    g_assert_cmpuint(ponder_download_get_bytes_done(d), ==, TEST_FILE_SIZE);
    g_assert_cmpint(ponder_download_get_eta_seconds(d), ==, 0);
    g_assert_cmpstr(ponder_download_get_expected_sha256(d), ==, hub->sha256);

    g_autofree char *dest = g_build_filename(t.models, TEST_FILE, NULL);
    g_assert_cmpstr(ponder_download_get_dest_path(d), ==, dest);
    assert_file_is_prefix(dest, hub, TEST_FILE_SIZE);
    g_autoptr(GBytes) got = read_file_or_null(dest);
    g_autofree char *got_sha = sha256_of(g_bytes_get_data(got, NULL), g_bytes_get_size(got));
    g_assert_cmpstr(got_sha, ==, hub->sha256);
    g_assert_false(g_file_test(ponder_download_get_part_path(d), G_FILE_TEST_EXISTS));

    // One HEAD (no redirect followed), one GET that went through to the CDN whole.
    g_assert_cmpuint(hub->n_head, ==, 1);
    g_assert_cmpuint(hub->n_get_resolve, ==, 1);
    g_assert_cmpuint(hub->n_get_cdn, ==, 1);
    g_assert_cmpint(hub->last_range_start, ==, -1);

    // Progress only moves forward, ends at the total, and is throttled (a notification per
    // 256 KiB chunk would be 13 of them).
    g_assert_false(log.went_backwards);
    g_assert_cmpuint(log.last_done, ==, TEST_FILE_SIZE);
    g_assert_cmpuint(log.n_notify, >=, 1);
    g_assert_cmpuint(log.n_notify, <=, 4 + (guint)(elapsed_s * 4));

    // A second run refuses to overwrite the finished file.
    ok = run_download(d, NULL, &error);
    g_assert_false(ok);
    g_assert_error(error, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_EXISTS);
    g_assert_nonnull(strstr(error->message, dest));
    g_clear_error(&error);

    temp_dir_free(&t);
    fake_hub_free(hub);
}

static void test_connection_lost_then_resume(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    g_autoptr(PonderDownload) d = new_test_download(&t);
    const gsize cut = TEST_FILE_SIZE / 2 + 1001;
    hub->cut_at = cut;

    GError *error = NULL;
    g_assert_false(run_download(d, NULL, &error));
    g_assert_error(error, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_CONNECTION_LOST);
    g_test_message("error: %s", error->message);
    g_assert_nonnull(strstr(error->message, "connection was lost"));
    g_assert_nonnull(strstr(error->message, "can be resumed"));
    g_clear_error(&error);
    g_assert_cmpint(ponder_download_get_state(d), ==, PONDER_DOWNLOAD_STATE_FAILED);
    g_assert_error(ponder_download_get_error(d), PONDER_DOWNLOAD_ERROR,
                   PONDER_DOWNLOAD_ERROR_CONNECTION_LOST);
    g_assert_cmpuint(ponder_download_get_bytes_done(d), ==, cut);
    assert_file_is_prefix(ponder_download_get_part_path(d), hub, cut);
    g_assert_false(g_file_test(ponder_download_get_dest_path(d), G_FILE_TEST_EXISTS));

    // The network is back: the same object resumes where the bytes stopped.
    hub->cut_at = 0;
    g_assert_true(run_download(d, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpint(hub->last_range_start, ==, (gint64)cut);
    g_assert_cmpuint(hub->n_get_cdn, ==, 2);
    g_assert_null(ponder_download_get_error(d));
    assert_file_is_prefix(ponder_download_get_dest_path(d), hub, TEST_FILE_SIZE);
    g_assert_false(g_file_test(ponder_download_get_part_path(d), G_FILE_TEST_EXISTS));

    temp_dir_free(&t);
    fake_hub_free(hub);
}

// A .part left by an earlier session (a new object) is resumed and its bytes hashed too:
// a correct prefix gives the right file, a corrupt one a checksum mismatch.
static void test_resume_prefix_from_disk(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    g_assert_cmpint(g_mkdir_with_parents(t.models, 0700), ==, 0);
    const gsize prefix = 1024 * 1024 + 7;
    const guint8 *source = g_bytes_get_data(hub->content, NULL);
    GError *error = NULL;

    g_autoptr(PonderDownload) d = new_test_download(&t);
    g_assert_true(g_file_set_contents(ponder_download_get_part_path(d), (const char *)source,
                                      prefix, &error));
    g_assert_true(run_download(d, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpint(hub->last_range_start, ==, (gint64)prefix);
    assert_file_is_prefix(ponder_download_get_dest_path(d), hub, TEST_FILE_SIZE);
    g_assert_cmpint(g_remove(ponder_download_get_dest_path(d)), ==, 0);

    // Same length, one flipped byte in the middle of the prefix.
    g_autofree guint8 *corrupt = g_memdup2(source, prefix);
    corrupt[prefix / 2] ^= 0x40;
    g_autoptr(PonderDownload) again = new_test_download(&t);
    g_assert_true(g_file_set_contents(ponder_download_get_part_path(again), (const char *)corrupt,
                                      prefix, &error));
    g_assert_false(run_download(again, NULL, &error));
    g_assert_error(error, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_CHECKSUM_MISMATCH);
    g_assert_nonnull(strstr(error->message, hub->sha256));
    g_clear_error(&error);
    g_assert_false(g_file_test(ponder_download_get_dest_path(again), G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(ponder_download_get_part_path(again), G_FILE_TEST_EXISTS));

    // A .part holding the whole file needs no GET at all.
    guint gets_before = hub->n_get_cdn;
    g_autoptr(PonderDownload) complete = new_test_download(&t);
    g_assert_true(g_file_set_contents(ponder_download_get_part_path(complete), (const char *)source,
                                      TEST_FILE_SIZE, &error));
    g_assert_true(run_download(complete, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(hub->n_get_cdn, ==, gets_before);
    assert_file_is_prefix(ponder_download_get_dest_path(complete), hub, TEST_FILE_SIZE);

    temp_dir_free(&t);
    fake_hub_free(hub);
}

// A server that ignores Range sends the whole file again: the .part starts over.
static void test_range_ignored_starts_over(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    g_assert_cmpint(g_mkdir_with_parents(t.models, 0700), ==, 0);
    hub->ignore_range = TRUE;
    GError *error = NULL;
    g_autoptr(PonderDownload) d = new_test_download(&t);
    g_assert_true(g_file_set_contents(ponder_download_get_part_path(d),
                                      g_bytes_get_data(hub->content, NULL), 4096, &error));
    g_assert_true(run_download(d, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpint(hub->last_range_start, ==, 4096); // asked, but got a 200
    assert_file_is_prefix(ponder_download_get_dest_path(d), hub, TEST_FILE_SIZE);

    temp_dir_free(&t);
    fake_hub_free(hub);
}

static void test_wrong_hash(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    const char *wrong = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    hub->linked_etag = wrong;
    g_autoptr(PonderDownload) d = new_test_download(&t);

    GError *error = NULL;
    g_assert_false(run_download(d, NULL, &error));
    g_assert_error(error, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_CHECKSUM_MISMATCH);
    g_test_message("error: %s", error->message);
    g_assert_nonnull(strstr(error->message, wrong));
    g_assert_nonnull(strstr(error->message, hub->sha256)); // what the bytes really hash to
    g_clear_error(&error);
    g_assert_cmpint(ponder_download_get_state(d), ==, PONDER_DOWNLOAD_STATE_FAILED);
    g_assert_false(g_file_test(ponder_download_get_dest_path(d), G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(ponder_download_get_part_path(d), G_FILE_TEST_EXISTS));

    temp_dir_free(&t);
    fake_hub_free(hub);
}

static void test_not_found(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    g_autoptr(PonderDownload) d = ponder_download_new(TEST_REPO, "Missing-Q4_K_M.gguf", t.models);

    GError *error = NULL;
    g_assert_false(run_download(d, NULL, &error));
    g_assert_error(error, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_NOT_FOUND);
    g_assert_cmpstr(error->message, ==,
                    "not found on Hugging Face: " TEST_REPO "/Missing-Q4_K_M.gguf");
    g_clear_error(&error);
    g_assert_cmpuint(hub->n_get_resolve + hub->n_get_cdn, ==, 0);
    g_assert_false(g_file_test(t.models, G_FILE_TEST_EXISTS)); // nothing written at all

    temp_dir_free(&t);
    fake_hub_free(hub);
}

// The hub did not put X-Linked-* on the redirect: size and hash come from the final answer.
static void test_headers_from_final_response(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    hub->omit_linked = TRUE;
    g_autoptr(PonderDownload) d = new_test_download(&t);

    GError *error = NULL;
    g_assert_true(run_download(d, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(ponder_download_get_expected_sha256(d), ==, hub->sha256);
    g_assert_cmpuint(ponder_download_get_bytes_total(d), ==, TEST_FILE_SIZE);
    // resolve without redirect, then resolve + CDN following it
    g_assert_cmpuint(hub->n_head, ==, 3);
    assert_file_is_prefix(ponder_download_get_dest_path(d), hub, TEST_FILE_SIZE);

    temp_dir_free(&t);
    fake_hub_free(hub);
}

typedef struct {
    guint n_moving; // notifications while bytes flowed
    double last_speed;
    gint64 last_eta;
    gint64 max_eta;
} SpeedLog;

static void speed_notified(GObject *object, GParamSpec *pspec, gpointer data)
{
    SpeedLog *log = data;
    PonderDownload *d = PONDER_DOWNLOAD(object);
    if (ponder_download_get_state(d) != PONDER_DOWNLOAD_STATE_DOWNLOADING ||
        ponder_download_get_bytes_done(d) == 0 ||
        ponder_download_get_bytes_done(d) == ponder_download_get_bytes_total(d))
        return;
    log->n_moving++;
    log->last_speed = ponder_download_get_speed(d);
    log->last_eta = ponder_download_get_eta_seconds(d);
    log->max_eta = MAX(log->max_eta, log->last_eta);
}

// Ten pieces 100 ms apart: about 3 MiB/s. The smoothed speed follows the real rate and
// the ETA counts down from a positive number of seconds.
static void test_speed_and_eta(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    hub->trickle_pieces = 10;
    g_autoptr(PonderDownload) d = new_test_download(&t);
    SpeedLog log = {0, 0.0, -1, -1};
    g_signal_connect(d, "notify::speed", G_CALLBACK(speed_notified), &log);

    GError *error = NULL;
    gint64 started = g_get_monotonic_time();
    g_assert_true(run_download(d, NULL, &error));
    double elapsed_s = (g_get_monotonic_time() - started) / 1e6;
    g_assert_no_error(error);
    assert_file_is_prefix(ponder_download_get_dest_path(d), hub, TEST_FILE_SIZE);

    double real_rate = TEST_FILE_SIZE / elapsed_s;
    g_test_message(
        "%u notifications, last speed %.0f B/s (real %.0f B/s), max ETA %" G_GINT64_FORMAT " s",
        log.n_moving, log.last_speed, real_rate, log.max_eta);
    g_assert_cmpfloat(elapsed_s, >=, 0.85);
    // Every 250 ms over about a second, but never once per chunk.
    g_assert_cmpuint(log.n_moving, >=, 2);
    g_assert_cmpuint(log.n_moving, <=, 4 + (guint)(elapsed_s * 4));
    g_assert_cmpfloat(log.last_speed, >, real_rate / 4);
    g_assert_cmpfloat(log.last_speed, <, real_rate * 4);
    g_assert_cmpint(log.max_eta, >=, 1);
    g_assert_cmpint(log.max_eta, <=, 60);
    g_assert_cmpfloat(ponder_download_get_speed(d), ==, 0.0); // nothing flows any more
    g_assert_cmpint(ponder_download_get_eta_seconds(d), ==, 0);

    temp_dir_free(&t);
    fake_hub_free(hub);
}

typedef struct {
    GCancellable *cancellable;
    guint64 cancel_at;
} CancelWhen;

static void cancel_when_reached(GObject *object, GParamSpec *pspec, gpointer data)
{
    CancelWhen *when = data;
    if (ponder_download_get_bytes_done(PONDER_DOWNLOAD(object)) >= when->cancel_at)
        g_cancellable_cancel(when->cancellable);
}

static void test_cancel_keeps_part(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    // The hub sends the first 40% and then stalls, so "mid-way" is a known offset.
    const gsize stall = TEST_FILE_SIZE / 5 * 2;
    hub->cut_at = stall;
    hub->stall_at_cut = TRUE;
    g_autoptr(PonderDownload) d = new_test_download(&t);
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    CancelWhen when = {cancellable, stall};
    gulong handler =
        g_signal_connect(d, "notify::bytes-done", G_CALLBACK(cancel_when_reached), &when);

    GError *error = NULL;
    g_assert_false(run_download(d, cancellable, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_test_message("error: %s", error->message);
    g_assert_nonnull(strstr(error->message, "resuming"));
    g_clear_error(&error);
    g_signal_handler_disconnect(d, handler);
    g_assert_cmpint(ponder_download_get_state(d), ==, PONDER_DOWNLOAD_STATE_CANCELLED);
    assert_file_is_prefix(ponder_download_get_part_path(d), hub, stall);
    g_assert_false(g_file_test(ponder_download_get_dest_path(d), G_FILE_TEST_EXISTS));

    hub->cut_at = 0;
    g_assert_true(run_download(d, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpint(hub->last_range_start, ==, (gint64)stall);
    assert_file_is_prefix(ponder_download_get_dest_path(d), hub, TEST_FILE_SIZE);

    temp_dir_free(&t);
    fake_hub_free(hub);
}

static void test_not_enough_space(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    // 4 EiB: more than any file system has free.
    const guint64 huge = G_GUINT64_CONSTANT(1) << 62;
    hub->linked_size = huge;
    g_autoptr(PonderDownload) d = new_test_download(&t);

    GError *error = NULL;
    g_assert_false(run_download(d, NULL, &error));
    g_assert_error(error, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_NO_SPACE);
    g_test_message("error: %s", error->message);
    g_autofree char *huge_text = g_strdup_printf("%" G_GUINT64_FORMAT " bytes", huge);
    g_assert_nonnull(strstr(error->message, huge_text));
    g_assert_nonnull(strstr(error->message, "are free"));
    g_assert_nonnull(strstr(error->message, t.models));
    g_clear_error(&error);
    g_assert_cmpuint(hub->n_get_resolve + hub->n_get_cdn, ==, 0);
    g_assert_false(g_file_test(ponder_download_get_part_path(d), G_FILE_TEST_EXISTS));
    g_assert_cmpuint(ponder_download_get_bytes_done(d), ==, 0);

    temp_dir_free(&t);
    fake_hub_free(hub);
}

static void test_bad_names(void)
{
    FakeHub *hub = fake_hub_new();
    if (!hub)
        return;
    TempDir t = temp_dir_new();
    const char *bad[][2] = {
        {"no-owner", TEST_FILE},  {"a/b/c", TEST_FILE},       {"../x", TEST_FILE},
        {TEST_REPO, ""},          {TEST_REPO, "../x.gguf"},   {TEST_REPO, "/etc/passwd"},
        {TEST_REPO, "a//b.gguf"}, {"own er/name", TEST_FILE},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(PonderDownload) d = ponder_download_new(bad[i][0], bad[i][1], t.models);
        GError *error = NULL;
        g_assert_false(run_download(d, NULL, &error));
        g_assert_error(error, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_INVALID);
        g_clear_error(&error);
    }
    g_assert_cmpuint(hub->n_head + hub->n_get_resolve + hub->n_get_cdn, ==, 0);

    temp_dir_free(&t);
    fake_hub_free(hub);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/catalog/entries", test_catalog_entries);
    g_test_add_func("/catalog/memory-facts", test_catalog_memory_facts);
    g_test_add_func("/download/default-endpoint-and-folder", test_default_endpoint_and_folder);
    g_test_add_func("/download/full", test_full_download);
    g_test_add_func("/download/connection-lost-then-resume", test_connection_lost_then_resume);
    g_test_add_func("/download/resume-prefix-from-disk", test_resume_prefix_from_disk);
    g_test_add_func("/download/range-ignored-starts-over", test_range_ignored_starts_over);
    g_test_add_func("/download/wrong-hash", test_wrong_hash);
    g_test_add_func("/download/not-found", test_not_found);
    g_test_add_func("/download/headers-from-final-response", test_headers_from_final_response);
    g_test_add_func("/download/speed-and-eta", test_speed_and_eta);
    g_test_add_func("/download/cancel-keeps-part", test_cancel_keeps_part);
    g_test_add_func("/download/not-enough-space", test_not_enough_space);
    g_test_add_func("/download/bad-names", test_bad_names);
    return g_test_run();
}
