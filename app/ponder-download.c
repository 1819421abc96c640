// PonderDownload: ask the hub, check the space, fetch into DEST.part, verify, rename.
//
// Each step is one asynchronous GIO/libsoup call whose callback starts the next, so the
// main loop never waits on the network or the disk. A run's working state lives in a
// DownloadRun attached to its GTask; the object itself keeps only what the UI reads.

#include "ponder-download.h"

#include <errno.h>
#include <libsoup/soup.h>
#include <math.h>
#include <string.h>

#define HF_DEFAULT_ENDPOINT "https://huggingface.co"
#define ENDPOINT_ENV "PONDER_HF_ENDPOINT"

enum {
    CHUNK_BYTES = 256 * 1024,
    SHA256_HEX_LEN = 64,
    // The UI redraws progress at most this often.
    NOTIFY_INTERVAL_MS = 250,
    // Stalled servers turn into an error (and a resumable .part) after this long.
    SOCKET_TIMEOUT_S = 60,
};

// Speed is an exponential moving average with this time constant, so one slow or fast
// chunk does not make the ETA jump.
#define SPEED_SMOOTHING_S 3.0
#define SPEED_MIN_WINDOW_S 0.2

G_DEFINE_ENUM_TYPE(PonderDownloadState, ponder_download_state,
                   G_DEFINE_ENUM_VALUE(PONDER_DOWNLOAD_STATE_IDLE, "idle"),
                   G_DEFINE_ENUM_VALUE(PONDER_DOWNLOAD_STATE_CHECKING, "checking"),
                   G_DEFINE_ENUM_VALUE(PONDER_DOWNLOAD_STATE_DOWNLOADING, "downloading"),
                   G_DEFINE_ENUM_VALUE(PONDER_DOWNLOAD_STATE_VERIFYING, "verifying"),
                   G_DEFINE_ENUM_VALUE(PONDER_DOWNLOAD_STATE_DONE, "done"),
                   G_DEFINE_ENUM_VALUE(PONDER_DOWNLOAD_STATE_FAILED, "failed"),
                   G_DEFINE_ENUM_VALUE(PONDER_DOWNLOAD_STATE_CANCELLED, "cancelled"))

// clang-format off
G_DEFINE_QUARK(ponder-download-error-quark, ponder_download_error)
// clang-format on

struct _PonderDownload {
    GObject parent_instance;

    // owned: what to fetch and where
    char *repo;
    char *file;
    char *dest_dir;
    char *url;
    char *dest_path;
    char *part_path;
    SoupSession *session; // created on the first start, in the caller's main context

    // owned: what the UI reads
    PonderDownloadState state;
    guint64 bytes_done;
    guint64 bytes_total;
    double speed;
    gint64 eta_seconds;
    char *expected_sha256;
    GError *error;

    // borrowed: the run in progress (it holds a reference to us), NULL when idle
    GTask *running;

    // owned: the progress tick and speed samples of the current run
    GSource *progress_tick;
    gint64 last_sample_us;
    guint64 last_sample_bytes;
    guint64 notified_bytes;
    double notified_speed;
};

G_DEFINE_FINAL_TYPE(PonderDownload, ponder_download, G_TYPE_OBJECT)

enum {
    PROP_0,
    PROP_REPO,
    PROP_FILE,
    PROP_DEST_DIR,
    PROP_URL,
    PROP_DEST_PATH,
    PROP_STATE,
    PROP_BYTES_DONE,
    PROP_BYTES_TOTAL,
    PROP_SPEED,
    PROP_ETA_SECONDS,
    PROP_EXPECTED_SHA256,
    PROP_ERROR,
    N_PROPS
};

static GParamSpec *properties[N_PROPS];

// One run of the steps; freed with its GTask.
typedef struct {
    GCancellable *cancellable; // nullable
    GFile *part;
    GFile *dest;
    GChecksum *sha256;       // over every byte of the file so far, prefix included
    guint64 resume_from;     // bytes asked for with Range
    gboolean restarted_once; // a 416 or a bad resume already made us start from zero
    SoupMessage *message;    // the HEAD or GET in flight
    GInputStream *body;      // GET response body, or the .part being re-hashed
    GOutputStream *out;      // DEST.part being written
    GBytes *chunk;           // read, hashed, being written
} DownloadRun;

static void download_run_free(gpointer data)
{
    DownloadRun *run = data;
    g_clear_object(&run->cancellable);
    g_clear_object(&run->part);
    g_clear_object(&run->dest);
    g_clear_pointer(&run->sha256, g_checksum_free);
    g_clear_object(&run->message);
    g_clear_object(&run->body);
    if (run->out)
        g_output_stream_close(run->out, NULL, NULL);
    g_clear_object(&run->out);
    g_clear_pointer(&run->chunk, g_bytes_unref);
    g_free(run);
}

static char *default_endpoint(void)
{
    const char *env = g_getenv(ENDPOINT_ENV);
    g_autofree char *endpoint = g_strdup(env && *env ? env : HF_DEFAULT_ENDPOINT);
    gsize len = strlen(endpoint);
    while (len > 0 && endpoint[len - 1] == '/')
        endpoint[--len] = '\0';
    return g_steal_pointer(&endpoint);
}

char *ponder_download_default_models_dir(void)
{
    return g_build_filename(g_get_user_data_dir(), "ponder", "models", NULL);
}

// ---- GObject boilerplate ----

static void stop_progress_tick(PonderDownload *self);

static void ponder_download_constructed(GObject *object)
{
    PonderDownload *self = PONDER_DOWNLOAD(object);
    G_OBJECT_CLASS(ponder_download_parent_class)->constructed(object);

    if (!self->repo)
        self->repo = g_strdup("");
    if (!self->file)
        self->file = g_strdup("");
    if (!self->dest_dir)
        self->dest_dir = ponder_download_default_models_dir();

    g_autofree char *endpoint = default_endpoint();
    g_autofree char *repo_escaped = g_uri_escape_string(self->repo, "/", FALSE);
    g_autofree char *file_escaped = g_uri_escape_string(self->file, "/", FALSE);
    self->url = g_strdup_printf("%s/%s/resolve/main/%s", endpoint, repo_escaped, file_escaped);

    // A file inside a folder of the repository lands directly in the models folder.
    g_autofree char *basename = g_path_get_basename(*self->file ? self->file : "unnamed");
    self->dest_path = g_build_filename(self->dest_dir, basename, NULL);
    self->part_path = g_strconcat(self->dest_path, ".part", NULL);
}

static void ponder_download_dispose(GObject *object)
{
    PonderDownload *self = PONDER_DOWNLOAD(object);
    stop_progress_tick(self);
    g_clear_object(&self->session);
    G_OBJECT_CLASS(ponder_download_parent_class)->dispose(object);
}

static void ponder_download_finalize(GObject *object)
{
    PonderDownload *self = PONDER_DOWNLOAD(object);
    g_free(self->repo);
    g_free(self->file);
    g_free(self->dest_dir);
    g_free(self->url);
    g_free(self->dest_path);
    g_free(self->part_path);
    g_free(self->expected_sha256);
    g_clear_error(&self->error);
    G_OBJECT_CLASS(ponder_download_parent_class)->finalize(object);
}

static void ponder_download_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec)
{
    PonderDownload *self = PONDER_DOWNLOAD(object);
    switch (prop_id) {
    case PROP_REPO: g_value_set_string(value, self->repo); break;
    case PROP_FILE: g_value_set_string(value, self->file); break;
    case PROP_DEST_DIR: g_value_set_string(value, self->dest_dir); break;
    case PROP_URL: g_value_set_string(value, self->url); break;
    case PROP_DEST_PATH: g_value_set_string(value, self->dest_path); break;
    case PROP_STATE: g_value_set_enum(value, self->state); break;
    case PROP_BYTES_DONE: g_value_set_uint64(value, self->bytes_done); break;
    case PROP_BYTES_TOTAL: g_value_set_uint64(value, self->bytes_total); break;
    case PROP_SPEED: g_value_set_double(value, self->speed); break;
    case PROP_ETA_SECONDS: g_value_set_int64(value, self->eta_seconds); break;
    case PROP_EXPECTED_SHA256: g_value_set_string(value, self->expected_sha256); break;
    case PROP_ERROR: g_value_set_boxed(value, self->error); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_download_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec)
{
    PonderDownload *self = PONDER_DOWNLOAD(object);
    switch (prop_id) {
    case PROP_REPO: self->repo = g_value_dup_string(value); break;
    case PROP_FILE: self->file = g_value_dup_string(value); break;
    case PROP_DEST_DIR: self->dest_dir = g_value_dup_string(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ponder_download_class_init(PonderDownloadClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->constructed = ponder_download_constructed;
    object_class->dispose = ponder_download_dispose;
    object_class->finalize = ponder_download_finalize;
    object_class->get_property = ponder_download_get_property;
    object_class->set_property = ponder_download_set_property;

    const GParamFlags construct =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
    const GParamFlags readable = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
    properties[PROP_REPO] = g_param_spec_string("repo", NULL, NULL, NULL, construct);
    properties[PROP_FILE] = g_param_spec_string("file", NULL, NULL, NULL, construct);
    properties[PROP_DEST_DIR] = g_param_spec_string("dest-dir", NULL, NULL, NULL, construct);
    properties[PROP_URL] = g_param_spec_string("url", NULL, NULL, NULL, readable);
    properties[PROP_DEST_PATH] = g_param_spec_string("dest-path", NULL, NULL, NULL, readable);
    properties[PROP_STATE] =
        g_param_spec_enum("state", NULL, NULL, PONDER_TYPE_DOWNLOAD_STATE,
                          PONDER_DOWNLOAD_STATE_IDLE, readable | G_PARAM_EXPLICIT_NOTIFY);
    properties[PROP_BYTES_DONE] = g_param_spec_uint64("bytes-done", NULL, NULL, 0, G_MAXUINT64, 0,
                                                      readable | G_PARAM_EXPLICIT_NOTIFY);
    properties[PROP_BYTES_TOTAL] =
        g_param_spec_uint64("bytes-total", NULL, NULL, 0, G_MAXUINT64, 0, readable);
    properties[PROP_SPEED] = g_param_spec_double("speed", NULL, NULL, 0, G_MAXDOUBLE, 0,
                                                 readable | G_PARAM_EXPLICIT_NOTIFY);
    properties[PROP_ETA_SECONDS] = g_param_spec_int64("eta-seconds", NULL, NULL, -1, G_MAXINT64, -1,
                                                      readable | G_PARAM_EXPLICIT_NOTIFY);
    properties[PROP_EXPECTED_SHA256] =
        g_param_spec_string("expected-sha256", NULL, NULL, NULL, readable);
    properties[PROP_ERROR] = g_param_spec_boxed("error", NULL, NULL, G_TYPE_ERROR, readable);
    g_object_class_install_properties(object_class, N_PROPS, properties);
}

static void ponder_download_init(PonderDownload *self)
{
    self->eta_seconds = -1;
}

PonderDownload *ponder_download_new(const char *repo, const char *file, const char *dest_dir)
{
    return g_object_new(PONDER_TYPE_DOWNLOAD, "repo", repo, "file", file, "dest-dir", dest_dir,
                        NULL);
}

// ---- progress ----

static void set_state(PonderDownload *self, PonderDownloadState state)
{
    if (self->state == state)
        return;
    self->state = state;
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_STATE]);
}

// Publishes bytes-done, speed and eta-seconds (each only when it changed). While bytes
// flow this runs from a 4 Hz tick rather than per chunk, so the UI redraws a few times a
// second at most and a stalled transfer still shows its speed falling.
static void notify_progress_now(PonderDownload *self)
{
    gint64 now = g_get_monotonic_time();
    double dt = (now - self->last_sample_us) / (double)G_USEC_PER_SEC;
    // Shorter windows measure socket buffers, not the network.
    if (self->state == PONDER_DOWNLOAD_STATE_DOWNLOADING && dt >= SPEED_MIN_WINDOW_S &&
        self->bytes_done >= self->last_sample_bytes) {
        double instant = (self->bytes_done - self->last_sample_bytes) / dt;
        double weight = 1.0 - exp(-dt / SPEED_SMOOTHING_S);
        self->speed = self->speed == 0.0 ? instant : self->speed + weight * (instant - self->speed);
        self->last_sample_us = now;
        self->last_sample_bytes = self->bytes_done;
    }

    gint64 eta = -1;
    if (self->bytes_total > 0 && self->bytes_done >= self->bytes_total)
        eta = 0;
    else if (self->speed >= 1.0 && self->bytes_total > self->bytes_done)
        eta = (gint64)ceil((self->bytes_total - self->bytes_done) / self->speed);

    g_object_freeze_notify(G_OBJECT(self));
    if (self->notified_bytes != self->bytes_done) {
        self->notified_bytes = self->bytes_done;
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_BYTES_DONE]);
    }
    if (self->notified_speed != self->speed) {
        self->notified_speed = self->speed;
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_SPEED]);
    }
    if (self->eta_seconds != eta) {
        self->eta_seconds = eta;
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_ETA_SECONDS]);
    }
    g_object_thaw_notify(G_OBJECT(self));
}

static gboolean progress_tick(gpointer data)
{
    notify_progress_now(data);
    return G_SOURCE_CONTINUE;
}

static void stop_progress_tick(PonderDownload *self)
{
    if (self->progress_tick) {
        g_source_destroy(self->progress_tick);
        g_clear_pointer(&self->progress_tick, g_source_unref);
    }
}

// Bytes start to flow: measure speed from here and publish progress on a timer.
static void start_progress_tick(PonderDownload *self, GMainContext *context)
{
    self->speed = 0.0;
    self->last_sample_us = g_get_monotonic_time();
    self->last_sample_bytes = self->bytes_done;
    notify_progress_now(self);
    if (!self->progress_tick) {
        self->progress_tick = g_timeout_source_new(NOTIFY_INTERVAL_MS);
        g_source_set_callback(self->progress_tick, progress_tick, self, NULL);
        g_source_attach(self->progress_tick, context);
    }
}

// ---- how a run ends ----

static void run_finish(GTask *task, GError *error)
{
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);

    // Close now so the .part holds every written byte before the caller looks at it.
    if (run->out)
        g_output_stream_close(run->out, NULL, NULL);
    g_clear_object(&run->out);
    g_clear_object(&run->body);
    stop_progress_tick(self);
    self->running = NULL;

    g_object_freeze_notify(G_OBJECT(self));
    g_clear_error(&self->error);
    if (error) {
        self->error = g_error_copy(error);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_ERROR]);
        set_state(self, g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                            ? PONDER_DOWNLOAD_STATE_CANCELLED
                            : PONDER_DOWNLOAD_STATE_FAILED);
    } else {
        set_state(self, PONDER_DOWNLOAD_STATE_DONE);
    }
    // Not DOWNLOADING any more, so this only publishes the final numbers.
    self->speed = 0.0;
    notify_progress_now(self);
    g_object_thaw_notify(G_OBJECT(self));

    if (error)
        g_task_return_error(task, error);
    else
        g_task_return_boolean(task, TRUE);
    g_object_unref(task);
}

static void fail(GTask *task, GQuark domain, int code, const char *format, ...) G_GNUC_PRINTF(4, 5);

static void fail(GTask *task, GQuark domain, int code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    GError *error = g_error_new_valist(domain, code, format, args);
    va_end(args);
    run_finish(task, error);
}

// A failed step: cancellation gets a message that says what is kept; everything else
// is prefixed with what we were doing (DOING may be NULL).
static void fail_step(GTask *task, GError *error, const char *doing)
{
    PonderDownload *self = g_task_get_source_object(task);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_error_free(error);
        fail(task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
             "the download of %s/%s was cancelled; %" G_GUINT64_FORMAT
             " bytes are kept in %s for resuming",
             self->repo, self->file, self->bytes_done, self->part_path);
        return;
    }
    if (doing)
        g_prefix_error(&error, "%s: ", doing);
    run_finish(task, error);
}

static void fail_connection_lost(GTask *task, const char *reason)
{
    PonderDownload *self = g_task_get_source_object(task);
    fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_CONNECTION_LOST,
         "the connection was lost after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
         " bytes of %s/%s (%s); the download can be resumed from %s",
         self->bytes_done, self->bytes_total, self->repo, self->file, reason, self->part_path);
}

// A network error while bytes flow: either the user stopped it or the connection broke.
static void fail_transfer(GTask *task, GError *error)
{
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        fail_step(task, error, NULL);
        return;
    }
    fail_connection_lost(task, error->message);
    g_error_free(error);
}

// Hub answers that end a run whatever the step: missing, gated, or broken.
static void fail_http_status(GTask *task, SoupMessage *message)
{
    PonderDownload *self = g_task_get_source_object(task);
    guint status = soup_message_get_status(message);
    const char *reason = soup_message_get_reason_phrase(message);
    if (status == SOUP_STATUS_NOT_FOUND)
        fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_NOT_FOUND,
             "not found on Hugging Face: %s/%s", self->repo, self->file);
    else if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
        fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_ACCESS_DENIED,
             "Hugging Face refused access to %s/%s (HTTP %u %s); the repository may be gated "
             "or private",
             self->repo, self->file, status, reason ? reason : "");
    else
        fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_HTTP,
             "unexpected answer from Hugging Face for %s/%s: HTTP %u %s", self->repo, self->file,
             status, reason ? reason : "");
}

// ---- step 4: verify and rename ----

static void moved_into_place(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    GError *error = NULL;
    if (!g_file_move_finish(G_FILE(source), result, &error)) {
        g_autofree char *doing =
            g_strdup_printf("could not rename %s to %s", self->part_path, self->dest_path);
        fail_step(task, error, doing);
        return;
    }
    run_finish(task, NULL);
}

static void corrupt_part_deleted(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    // The mismatch is what to report, even if the delete failed too.
    g_file_delete_finish(G_FILE(source), result, NULL);
    GError *mismatch = g_error_new(
        PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_CHECKSUM_MISMATCH,
        "%s/%s does not match Hugging Face's checksum: expected SHA-256 %s, "
        "got %s; the downloaded file was deleted",
        self->repo, self->file, self->expected_sha256, g_checksum_get_string(run->sha256));
    self->bytes_done = 0;
    run_finish(task, mismatch);
}

static void verify_and_rename(GTask *task)
{
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    set_state(self, PONDER_DOWNLOAD_STATE_VERIFYING);
    g_clear_object(&run->body);
    GError *error = NULL;
    if (run->out && !g_output_stream_close(run->out, NULL, &error)) {
        g_clear_object(&run->out);
        g_autofree char *doing = g_strdup_printf("could not write %s", self->part_path);
        fail_step(task, error, doing);
        return;
    }
    g_clear_object(&run->out);

    const char *actual = g_checksum_get_string(run->sha256);
    if (g_ascii_strcasecmp(actual, self->expected_sha256) != 0) {
        g_file_delete_async(run->part, G_PRIORITY_DEFAULT, NULL, corrupt_part_deleted, task);
        return;
    }
    g_file_move_async(run->part, run->dest, G_FILE_COPY_NONE, G_PRIORITY_DEFAULT, run->cancellable,
                      NULL, NULL, moved_into_place, task);
}

// ---- step 3: GET into DEST.part ----

static void read_next_chunk(GTask *task);

static void chunk_written(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    gsize written = 0;
    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, &written, &error)) {
        g_autofree char *doing = g_strdup_printf("could not write %s", self->part_path);
        fail_step(task, error, doing);
        return;
    }
    g_clear_pointer(&run->chunk, g_bytes_unref);
    self->bytes_done += written;
    read_next_chunk(task);
}

static void chunk_read(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    GBytes *chunk = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
    if (!chunk) {
        fail_transfer(task, error);
        return;
    }

    gsize size = g_bytes_get_size(chunk);
    if (size == 0) {
        g_bytes_unref(chunk);
        if (self->bytes_done < self->bytes_total)
            fail_connection_lost(task, "the server closed the connection");
        else
            verify_and_rename(task);
        return;
    }
    if (size > self->bytes_total - self->bytes_done) {
        g_bytes_unref(chunk);
        fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_HTTP,
             "the server sent more than the %" G_GUINT64_FORMAT
             " bytes Hugging Face announced for %s/%s",
             self->bytes_total, self->repo, self->file);
        return;
    }

    g_checksum_update(run->sha256, g_bytes_get_data(chunk, NULL), size);
    run->chunk = chunk;
    g_output_stream_write_all_async(run->out, g_bytes_get_data(chunk, NULL), size,
                                    G_PRIORITY_DEFAULT, run->cancellable, chunk_written, task);
}

static void read_next_chunk(GTask *task)
{
    DownloadRun *run = g_task_get_task_data(task);
    g_input_stream_read_bytes_async(run->body, CHUNK_BYTES, G_PRIORITY_DEFAULT, run->cancellable,
                                    chunk_read, task);
}

static void part_opened(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    GFileOutputStream *out = run->resume_from > 0
                                 ? g_file_append_to_finish(G_FILE(source), result, &error)
                                 : g_file_create_finish(G_FILE(source), result, &error);
    if (!out) {
        g_autofree char *doing = g_strdup_printf("could not open %s", self->part_path);
        fail_step(task, error, doing);
        return;
    }
    run->out = G_OUTPUT_STREAM(out);
    set_state(self, PONDER_DOWNLOAD_STATE_DOWNLOADING);
    start_progress_tick(self, g_task_get_context(task));
    read_next_chunk(task);
}

static void old_part_deleted(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    if (!g_file_delete_finish(G_FILE(source), result, &error) &&
        !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
        g_autofree char *doing = g_strdup_printf("could not remove %s", self->part_path);
        fail_step(task, error, doing);
        return;
    }
    g_clear_error(&error);
    // create, not replace: GIO's replace writes a temporary file and renames it on close,
    // and the .part must hold the received bytes at every moment.
    g_file_create_async(run->part, G_FILE_CREATE_NONE, G_PRIORITY_DEFAULT, run->cancellable,
                        part_opened, task);
}

// Where the bytes go: appended to the prefix, or a fresh .part from byte 0.
static void open_part(GTask *task)
{
    DownloadRun *run = g_task_get_task_data(task);
    if (run->resume_from > 0) {
        g_file_append_to_async(run->part, G_FILE_CREATE_NONE, G_PRIORITY_DEFAULT, run->cancellable,
                               part_opened, task);
        return;
    }
    g_file_delete_async(run->part, G_PRIORITY_DEFAULT, run->cancellable, old_part_deleted, task);
}

static void send_get(GTask *task);

static void start_over(GTask *task)
{
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    run->restarted_once = TRUE;
    run->resume_from = 0;
    g_checksum_reset(run->sha256);
    self->bytes_done = 0;
    notify_progress_now(self);
}

static void get_sent(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    GInputStream *body = soup_session_send_finish(SOUP_SESSION(source), result, &error);
    if (!body) {
        fail_transfer(task, error);
        return;
    }
    run->body = body;

    SoupMessageHeaders *headers = soup_message_get_response_headers(run->message);
    guint status = soup_message_get_status(run->message);
    if (status == SOUP_STATUS_PARTIAL_CONTENT && run->resume_from > 0) {
        goffset start = -1, end = -1, total = -1;
        const char *content_range = soup_message_headers_get_one(headers, "Content-Range");
        if (!soup_message_headers_get_content_range(headers, &start, &end, &total) ||
            (guint64)start != run->resume_from ||
            (total >= 0 && (guint64)total != self->bytes_total)) {
            fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_HTTP,
                 "the server resumed %s/%s wrongly: asked for bytes %" G_GUINT64_FORMAT
                 "- of %" G_GUINT64_FORMAT ", got Content-Range \"%s\"",
                 self->repo, self->file, run->resume_from, self->bytes_total,
                 content_range ? content_range : "(none)");
            return;
        }
        open_part(task);
        return;
    }
    if (status == SOUP_STATUS_OK) {
        goffset length = soup_message_headers_get_content_length(headers);
        if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
            (guint64)length != self->bytes_total) {
            fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_HTTP,
                 "size mismatch for %s/%s: Hugging Face announced %" G_GUINT64_FORMAT
                 " bytes, the server sends %" G_GOFFSET_FORMAT,
                 self->repo, self->file, self->bytes_total, length);
            return;
        }
        if (run->resume_from > 0)
            start_over(task); // the server ignored Range: the body is the whole file
        open_part(task);
        return;
    }
    if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && run->resume_from > 0 &&
        !run->restarted_once) {
        // The server's file is shorter than our prefix: that prefix is not of this file.
        g_clear_object(&run->body);
        start_over(task);
        send_get(task);
        return;
    }
    fail_http_status(task, run->message);
}

static void send_get(GTask *task)
{
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    g_clear_object(&run->message);
    run->message = soup_message_new(SOUP_METHOD_GET, self->url);
    if (run->resume_from > 0)
        soup_message_headers_set_range(soup_message_get_request_headers(run->message),
                                       (goffset)run->resume_from, -1);
    set_state(self, PONDER_DOWNLOAD_STATE_DOWNLOADING);
    soup_session_send_async(self->session, run->message, G_PRIORITY_DEFAULT, run->cancellable,
                            get_sent, task);
}

// ---- step 3a: re-hash a resumed prefix ----

static void prefix_chunk_read(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    g_autoptr(GBytes) chunk =
        g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
    if (!chunk) {
        g_autofree char *doing = g_strdup_printf("could not read %s", self->part_path);
        fail_step(task, error, doing);
        return;
    }
    gsize size = g_bytes_get_size(chunk);
    if (size > 0 && run->resume_from + size <= self->bytes_total) {
        g_checksum_update(run->sha256, g_bytes_get_data(chunk, NULL), size);
        run->resume_from += size;
        g_input_stream_read_bytes_async(run->body, CHUNK_BYTES, G_PRIORITY_DEFAULT,
                                        run->cancellable, prefix_chunk_read, task);
        return;
    }
    g_clear_object(&run->body);
    if (size > 0) {
        // Longer than the file on the hub: not a prefix of it.
        start_over(task);
        send_get(task);
        return;
    }
    self->bytes_done = run->resume_from;
    notify_progress_now(self);
    if (run->resume_from == self->bytes_total)
        verify_and_rename(task); // an earlier run got every byte but stopped before the end
    else
        send_get(task);
}

static void prefix_opened(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    GFileInputStream *in = g_file_read_finish(G_FILE(source), result, &error);
    if (!in) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
            // Gone since we measured it: start from byte 0.
            g_error_free(error);
            run->resume_from = 0;
            self->bytes_done = 0;
            send_get(task);
            return;
        }
        g_autofree char *doing = g_strdup_printf("could not read %s", self->part_path);
        fail_step(task, error, doing);
        return;
    }
    run->body = G_INPUT_STREAM(in);
    run->resume_from = 0;
    g_input_stream_read_bytes_async(run->body, CHUNK_BYTES, G_PRIORITY_DEFAULT, run->cancellable,
                                    prefix_chunk_read, task);
}

// ---- step 2: free space ----

static void filesystem_queried(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    g_autoptr(GFileInfo) fs_info =
        g_file_query_filesystem_info_finish(G_FILE(source), result, &error);
    if (!fs_info) {
        g_autofree char *doing =
            g_strdup_printf("could not query the free space in %s", self->dest_dir);
        fail_step(task, error, doing);
        return;
    }
    // Some file systems do not report it; then the write itself will say.
    if (g_file_info_has_attribute(fs_info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE)) {
        guint64 free_bytes =
            g_file_info_get_attribute_uint64(fs_info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE);
        guint64 have = run->resume_from <= self->bytes_total ? run->resume_from : 0;
        guint64 needed = self->bytes_total - have;
        if (free_bytes < needed) {
            g_autofree char *needed_text = g_format_size(needed);
            g_autofree char *free_text = g_format_size(free_bytes);
            fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_NO_SPACE,
                 "not enough free space in %s for %s: it needs %" G_GUINT64_FORMAT
                 " bytes (%s), %" G_GUINT64_FORMAT " bytes (%s) are free",
                 self->dest_dir, self->file, needed, needed_text, free_bytes, free_text);
            return;
        }
    }
    set_state(self, PONDER_DOWNLOAD_STATE_DOWNLOADING);
    if (run->resume_from > 0) {
        g_file_read_async(run->part, G_PRIORITY_DEFAULT, run->cancellable, prefix_opened, task);
        return;
    }
    send_get(task);
}

static void part_queried(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    g_autoptr(GFileInfo) info = g_file_query_info_finish(G_FILE(source), result, &error);
    if (!info && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
        g_autofree char *doing = g_strdup_printf("could not look at %s", self->part_path);
        fail_step(task, error, doing);
        return;
    }
    g_clear_error(&error);
    // Only a guess for the space check; the prefix is measured again while it is re-hashed.
    run->resume_from = info ? (guint64)g_file_info_get_size(info) : 0;
    if (run->resume_from > 0 && run->resume_from <= self->bytes_total) {
        self->bytes_done = run->resume_from;
        notify_progress_now(self);
    }

    g_autoptr(GFile) dir = g_file_new_for_path(self->dest_dir);
    g_file_query_filesystem_info_async(dir, G_FILE_ATTRIBUTE_FILESYSTEM_FREE, G_PRIORITY_DEFAULT,
                                       run->cancellable, filesystem_queried, task);
}

// ---- step 1: what the hub says about the file ----

// An ETag or X-Linked-Etag holding a SHA-256: optionally weak (W/), optionally quoted.
static char *sha256_from_etag(const char *etag)
{
    if (!etag)
        return NULL;
    if (g_str_has_prefix(etag, "W/"))
        etag += 2;
    g_autofree char *bare = g_strdup(etag);
    g_strstrip(bare);
    gsize len = strlen(bare);
    if (len >= 2 && bare[0] == '"' && bare[len - 1] == '"') {
        bare[len - 1] = '\0';
        memmove(bare, bare + 1, len - 1);
        len -= 2;
    }
    if (len != SHA256_HEX_LEN)
        return NULL;
    for (gsize i = 0; i < len; i++)
        if (!g_ascii_isxdigit(bare[i]))
            return NULL;
    return g_ascii_strdown(bare, -1);
}

static void head_sent(GObject *source, GAsyncResult *result, gpointer data);

static void send_head(GTask *task, gboolean follow_redirects)
{
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    g_clear_object(&run->message);
    run->message = soup_message_new(SOUP_METHOD_HEAD, self->url);
    if (!follow_redirects)
        soup_message_add_flags(run->message, SOUP_MESSAGE_NO_REDIRECT);
    soup_session_send_and_read_async(self->session, run->message, G_PRIORITY_DEFAULT,
                                     run->cancellable, head_sent, task);
}

static void head_sent(GObject *source, GAsyncResult *result, gpointer data)
{
    GTask *task = data;
    PonderDownload *self = g_task_get_source_object(task);
    DownloadRun *run = g_task_get_task_data(task);
    GError *error = NULL;
    g_autoptr(GBytes) ignored =
        soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
    if (!ignored) {
        g_autofree char *doing =
            g_strdup_printf("could not reach Hugging Face for %s/%s", self->repo, self->file);
        fail_step(task, error, doing);
        return;
    }

    guint status = soup_message_get_status(run->message);
    gboolean followed = !(soup_message_get_flags(run->message) & SOUP_MESSAGE_NO_REDIRECT);
    if (!SOUP_STATUS_IS_SUCCESSFUL(status) && !SOUP_STATUS_IS_REDIRECTION(status)) {
        fail_http_status(task, run->message);
        return;
    }
    if (followed && !SOUP_STATUS_IS_SUCCESSFUL(status)) {
        fail_http_status(task, run->message);
        return;
    }

    SoupMessageHeaders *headers = soup_message_get_response_headers(run->message);
    const char *size_text = soup_message_headers_get_one(headers, "X-Linked-Size");
    const char *etag = soup_message_headers_get_one(headers, "X-Linked-Etag");
    g_autofree char *content_length = NULL;
    if (!size_text && SOUP_STATUS_IS_SUCCESSFUL(status) &&
        soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH) {
        content_length =
            g_strdup_printf("%" G_GOFFSET_FORMAT, soup_message_headers_get_content_length(headers));
        size_text = content_length;
    }
    if (!etag && SOUP_STATUS_IS_SUCCESSFUL(status))
        etag = soup_message_headers_get_one(headers, "ETag");

    guint64 size = 0;
    g_autofree char *sha256 = sha256_from_etag(etag);
    gboolean size_ok =
        size_text && g_ascii_string_to_unsigned(size_text, 10, 1, G_MAXINT64, &size, NULL);
    if (!size_ok || !sha256) {
        if (!followed) {
            send_head(task, TRUE); // not an LFS redirect: ask the final location
            return;
        }
        fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_NO_CHECKSUM,
             "Hugging Face gave no %s for %s/%s (size \"%s\", ETag \"%s\"); refusing a download "
             "that cannot be verified",
             size_ok ? "SHA-256" : "size", self->repo, self->file, size_text ? size_text : "",
             etag ? etag : "");
        return;
    }

    g_object_freeze_notify(G_OBJECT(self));
    self->bytes_total = size;
    g_free(self->expected_sha256);
    self->expected_sha256 = g_steal_pointer(&sha256);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_BYTES_TOTAL]);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_EXPECTED_SHA256]);
    g_object_thaw_notify(G_OBJECT(self));

    if (g_mkdir_with_parents(self->dest_dir, 0755) != 0) {
        int saved_errno = errno;
        fail(task, G_IO_ERROR, g_io_error_from_errno(saved_errno), "could not create %s: %s",
             self->dest_dir, g_strerror(saved_errno));
        return;
    }
    if (g_file_test(self->dest_path, G_FILE_TEST_EXISTS)) {
        fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_EXISTS,
             "%s is already there; remove it to download %s/%s again", self->dest_path, self->repo,
             self->file);
        return;
    }
    g_file_query_info_async(run->part, G_FILE_ATTRIBUTE_STANDARD_SIZE,
                            G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, G_PRIORITY_DEFAULT,
                            run->cancellable, part_queried, task);
}

// ---- starting ----

static gboolean name_part_is_safe(const char *part)
{
    return *part && strcmp(part, ".") != 0 && strcmp(part, "..") != 0;
}

// "owner/name", each made of the characters the hub allows.
static gboolean repo_is_valid(const char *repo)
{
    g_auto(GStrv) parts = g_strsplit(repo, "/", -1);
    if (g_strv_length(parts) != 2)
        return FALSE;
    for (int i = 0; i < 2; i++) {
        if (!name_part_is_safe(parts[i]))
            return FALSE;
        for (const char *c = parts[i]; *c; c++)
            if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_' && *c != '.')
                return FALSE;
    }
    return TRUE;
}

// A relative path inside the repository, with no way out of it.
static gboolean file_is_valid(const char *file)
{
    if (!*file || strchr(file, '\\') || g_utf8_validate(file, -1, NULL) == FALSE)
        return FALSE;
    g_auto(GStrv) parts = g_strsplit(file, "/", -1);
    for (char **p = parts; *p; p++)
        if (!name_part_is_safe(*p))
            return FALSE;
    return TRUE;
}

void ponder_download_start_async(PonderDownload *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(PONDER_IS_DOWNLOAD(self));
    g_return_if_fail(cancellable == NULL || G_IS_CANCELLABLE(cancellable));

    GTask *task = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(task, ponder_download_start_async);
    // Our own cancellation error says where the kept bytes are; GTask's would not.
    g_task_set_check_cancellable(task, FALSE);
    if (self->running) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_PENDING,
                                "the download of %s/%s is already running", self->repo, self->file);
        g_object_unref(task);
        return;
    }

    DownloadRun *run = g_new0(DownloadRun, 1);
    run->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    run->part = g_file_new_for_path(self->part_path);
    run->dest = g_file_new_for_path(self->dest_path);
    run->sha256 = g_checksum_new(G_CHECKSUM_SHA256);
    g_task_set_task_data(task, run, download_run_free);
    self->running = task;

    g_object_freeze_notify(G_OBJECT(self));
    g_clear_error(&self->error);
    g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_ERROR]);
    self->bytes_done = 0;
    self->speed = 0.0;
    notify_progress_now(self);
    set_state(self, PONDER_DOWNLOAD_STATE_CHECKING);
    g_object_thaw_notify(G_OBJECT(self));

    if (!repo_is_valid(self->repo)) {
        fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_INVALID,
             "\"%s\" is not a Hugging Face repository name (owner/name)", self->repo);
        return;
    }
    if (!file_is_valid(self->file)) {
        fail(task, PONDER_DOWNLOAD_ERROR, PONDER_DOWNLOAD_ERROR_INVALID,
             "\"%s\" is not a file name inside the repository %s", self->file, self->repo);
        return;
    }

    if (!self->session) {
        self->session = soup_session_new_with_options("user-agent", "Ponder", "timeout",
                                                      SOCKET_TIMEOUT_S, NULL);
        // GGUF files do not compress, and a decoded body would break byte ranges.
        soup_session_remove_feature_by_type(self->session, SOUP_TYPE_CONTENT_DECODER);
    }
    send_head(task, FALSE);
}

gboolean ponder_download_start_finish(PonderDownload *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), FALSE);
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

// ---- getters ----

const char *ponder_download_get_repo(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), NULL);
    return self->repo;
}

const char *ponder_download_get_file(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), NULL);
    return self->file;
}

const char *ponder_download_get_url(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), NULL);
    return self->url;
}

const char *ponder_download_get_dest_path(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), NULL);
    return self->dest_path;
}

const char *ponder_download_get_part_path(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), NULL);
    return self->part_path;
}

PonderDownloadState ponder_download_get_state(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), PONDER_DOWNLOAD_STATE_IDLE);
    return self->state;
}

guint64 ponder_download_get_bytes_done(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), 0);
    return self->bytes_done;
}

guint64 ponder_download_get_bytes_total(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), 0);
    return self->bytes_total;
}

double ponder_download_get_speed(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), 0.0);
    return self->speed;
}

gint64 ponder_download_get_eta_seconds(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), -1);
    return self->eta_seconds;
}

const char *ponder_download_get_expected_sha256(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), NULL);
    return self->expected_sha256;
}

const GError *ponder_download_get_error(PonderDownload *self)
{
    g_return_val_if_fail(PONDER_IS_DOWNLOAD(self), NULL);
    return self->error;
}
