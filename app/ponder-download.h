// PonderDownload: one resumable, SHA-256-verified download of a GGUF file from Hugging Face.
//
// The UI binds to its properties (state, bytes-done, bytes-total, speed, eta-seconds,
// error); they change on the main context that called ponder_download_start_async(), at
// most a few times a second while bytes flow.
//
// What a run does, in order:
//  1. HEAD {endpoint}/{repo}/resolve/main/{file} without following the redirect: the hub's
//     X-Linked-Size and X-Linked-Etag (the SHA-256) are on that first answer; when they are
//     missing, a second HEAD follows the redirect and takes Content-Length and ETag. The
//     endpoint is https://huggingface.co unless $PONDER_HF_ENDPOINT says otherwise.
//  2. Check that the rest of the file fits in the destination folder (filesystem::free).
//  3. GET (following redirects) into DEST.part, with "Range: bytes=N-" when a .part of N
//     bytes is there: 206 appends, 200 starts over, 416 starts over once.
//  4. Hash the whole file (the resumed prefix is re-read from disk), compare with the hub's
//     SHA-256 and only then rename DEST.part to DEST. A mismatch deletes the .part (resuming
//     a corrupt prefix could never succeed).
// Cancelling (GCancellable) or losing the connection keeps DEST.part; starting the same
// object again (or a new one for the same file) resumes from it.
#pragma once

#include "ponder-types.h"

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
    PONDER_DOWNLOAD_STATE_IDLE,        // not started yet
    PONDER_DOWNLOAD_STATE_CHECKING,    // asking the hub for size and hash; checking free space
    PONDER_DOWNLOAD_STATE_DOWNLOADING, // bytes are flowing (or the prefix is being re-hashed)
    PONDER_DOWNLOAD_STATE_VERIFYING,   // comparing the SHA-256, renaming into place
    PONDER_DOWNLOAD_STATE_DONE,        // the file is at dest-path and verified
    PONDER_DOWNLOAD_STATE_FAILED,      // see the error property
    PONDER_DOWNLOAD_STATE_CANCELLED,   // stopped by the cancellable; the .part is kept
} PonderDownloadState;

GType ponder_download_state_get_type(void);
#define PONDER_TYPE_DOWNLOAD_STATE (ponder_download_state_get_type())

#define PONDER_DOWNLOAD_ERROR (ponder_download_error_quark())
GQuark ponder_download_error_quark(void);

typedef enum {
    PONDER_DOWNLOAD_ERROR_INVALID,           // a repository or file name that is not usable
    PONDER_DOWNLOAD_ERROR_NOT_FOUND,         // HTTP 404 from the hub
    PONDER_DOWNLOAD_ERROR_ACCESS_DENIED,     // HTTP 401/403 (gated or private repository)
    PONDER_DOWNLOAD_ERROR_HTTP,              // any other unexpected HTTP status
    PONDER_DOWNLOAD_ERROR_NO_CHECKSUM,       // the hub gave no size or no SHA-256
    PONDER_DOWNLOAD_ERROR_NO_SPACE,          // the file does not fit in the destination
    PONDER_DOWNLOAD_ERROR_CONNECTION_LOST,   // the transfer broke off; resumable
    PONDER_DOWNLOAD_ERROR_CHECKSUM_MISMATCH, // the bytes do not hash to the hub's SHA-256
    PONDER_DOWNLOAD_ERROR_EXISTS,            // the final file is already there
} PonderDownloadError;

#define PONDER_TYPE_DOWNLOAD (ponder_download_get_type())
G_DECLARE_FINAL_TYPE(PonderDownload, ponder_download, PONDER, DOWNLOAD, GObject)

// A download of FILE (a path inside REPO, "owner/name") into DEST_DIR, or into
// ponder_download_default_models_dir() when DEST_DIR is NULL. Nothing happens until
// ponder_download_start_async(); bad names are reported there.
PonderDownload *ponder_download_new(const char *repo, const char *file, const char *dest_dir);

// g_get_user_data_dir()/ponder/models (newly allocated).
char *ponder_download_default_models_dir(void);

// Runs (or resumes) the download. Fails with PONDER_DOWNLOAD_ERROR_*, G_IO_ERROR_CANCELLED
// when CANCELLABLE fires, G_IO_ERROR_PENDING when this download is already running, or a
// G_IO_ERROR from the file system (messages name the file).
void ponder_download_start_async(PonderDownload *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean ponder_download_start_finish(PonderDownload *self, GAsyncResult *result, GError **error);

const char *ponder_download_get_repo(PonderDownload *self);
const char *ponder_download_get_file(PonderDownload *self);
// {endpoint}/{repo}/resolve/main/{file}, escaped.
const char *ponder_download_get_url(PonderDownload *self);
// Where the verified file ends up (DEST_DIR/basename of FILE), and its ".part" beside it.
const char *ponder_download_get_dest_path(PonderDownload *self);
const char *ponder_download_get_part_path(PonderDownload *self);

PonderDownloadState ponder_download_get_state(PonderDownload *self);
// Bytes of the file on disk so far (a resumed prefix counts) and the file's size (0 until
// the hub said).
guint64 ponder_download_get_bytes_done(PonderDownload *self);
guint64 ponder_download_get_bytes_total(PonderDownload *self);
// Smoothed bytes per second of this run; 0 when nothing flows.
double ponder_download_get_speed(PonderDownload *self);
// Seconds left at the current speed, or -1 when unknown.
gint64 ponder_download_get_eta_seconds(PonderDownload *self);
// The hub's SHA-256 (lower-case hex), NULL until the hub said.
const char *ponder_download_get_expected_sha256(PonderDownload *self);
// Why the last run failed, or NULL.
const GError *ponder_download_get_error(PonderDownload *self);

G_END_DECLS
