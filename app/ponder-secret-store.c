// Remote provider API keys: libsecret first, a 0600 key file when no Secret Service answers.

#include "ponder-secret-store.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsecret/secret.h>
#include <sys/random.h>
#include <sys/stat.h>

#define KEY_NAME "api-key"

// Matching on the schema name (libsecret's default) keeps other applications' items
// that happen to carry a "url" attribute out of our lookups and clears.
static const SecretSchema remote_provider_schema = {
    .name = "io.github.ponder_app.Ponder.RemoteProvider",
    .flags = SECRET_SCHEMA_NONE,
    .attributes = {{"url", SECRET_SCHEMA_ATTRIBUTE_STRING}, {NULL, 0}},
};

// --- the keyring

// TRUE when libsecret failed because there is no usable Secret Service: no session bus
// (GIO errors), no service on it, or one that cannot open any keyring (D-Bus errors; e.g.
// gnome-keyring started on a machine without a display, where no prompt can create one).
// A keyring that answered and refused (locked: SECRET_ERROR), or a prompt the user
// dismissed, is not a reason to write the key to a file instead.
static gboolean keyring_unreachable(const GError *error)
{
    if (error == NULL || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return FALSE;
    return error->domain == G_IO_ERROR || error->domain == G_DBUS_ERROR ||
           error->domain == G_SPAWN_ERROR; // the bus address came from a failed autolaunch
}

// libsecret may return FALSE without a reason (a dismissed prompt); give the caller one.
static void keyring_error_propagate(GError **error, GError *keyring_error, const char *what)
{
    if (keyring_error == NULL) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "The keyring did not %s.", what);
        return;
    }
    g_propagate_prefixed_error(error, keyring_error, "The keyring could not %s: ", what);
}

// --- the fallback file

static char *key_file_path(void)
{
    return g_build_filename(g_get_user_config_dir(), "ponder", "remote-keys", NULL);
}

// Key file group names cannot hold '[' or ']' (an IPv6 URL has both) or control
// characters. Escaping those, and '%' itself, keeps every URL its own group and
// leaves ordinary URLs readable.
static char *group_for_url(const char *url)
{
    return g_uri_escape_string(url, "!$&'()*+,;=:/?#@", FALSE);
}

// The file's keys; an empty set when there is no file yet. With REFUSE_SHARED, a file
// that group or others can read is an error: its keys may have leaked, and the user
// should hear that rather than have Ponder go on using them.
static GKeyFile *key_file_load(const char *path, gboolean refuse_shared, GError **error)
{
    g_autoptr(GKeyFile) keys = g_key_file_new();
    GStatBuf st;
    if (g_stat(path, &st) != 0) {
        int saved_errno = errno;
        if (saved_errno == ENOENT)
            return g_steal_pointer(&keys);
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved_errno),
                    "Could not read the API key file %s: %s.", path, g_strerror(saved_errno));
        return NULL;
    }
    if (refuse_shared && (st.st_mode & 077) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "The API key file %s can be read by other users, so Ponder will not use "
                    "it. Run \"chmod 600 %s\", and consider replacing the keys it holds.",
                    path, path);
        return NULL;
    }
    if (!g_key_file_load_from_file(keys, path, G_KEY_FILE_KEEP_COMMENTS, error)) {
        g_prefix_error(error, "Could not read the API key file %s: ", path);
        return NULL;
    }
    return g_steal_pointer(&keys);
}

// Replaces the file in one rename, so a crash leaves the old keys or the new ones and
// never half a file; it is created 0600, whatever mode an older copy had. A file with
// no keys left is removed.
static gboolean key_file_write(const char *path, GKeyFile *keys, GError **error)
{
    gsize n_groups = 0;
    g_auto(GStrv) groups = g_key_file_get_groups(keys, &n_groups);
    if (n_groups == 0) {
        if (g_remove(path) != 0 && errno != ENOENT) {
            int saved_errno = errno;
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved_errno),
                        "Could not remove the API key file %s: %s.", path, g_strerror(saved_errno));
            return FALSE;
        }
        return TRUE;
    }

    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0700) != 0) {
        int saved_errno = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved_errno),
                    "Could not create the folder %s: %s.", dir, g_strerror(saved_errno));
        return FALSE;
    }
    g_key_file_set_comment(keys, NULL, NULL,
                           " API keys of Ponder's remote providers, kept here because no "
                           "keyring (Secret Service) was running.",
                           NULL);
    gsize length = 0;
    g_autofree char *data = g_key_file_to_data(keys, &length, NULL);
    return g_file_set_contents_full(path, data, (gssize)length, G_FILE_SET_CONTENTS_CONSISTENT,
                                    0600, error);
}

static gboolean key_file_save(const char *url, const char *key, GError **error)
{
    g_autofree char *path = key_file_path();
    g_autoptr(GKeyFile) keys = key_file_load(path, FALSE, error);
    if (keys == NULL)
        return FALSE;
    g_autofree char *group = group_for_url(url);
    g_key_file_set_string(keys, group, KEY_NAME, key);
    return key_file_write(path, keys, error);
}

static char *key_file_lookup(const char *url, GError **error)
{
    g_autofree char *path = key_file_path();
    g_autoptr(GKeyFile) keys = key_file_load(path, TRUE, error);
    if (keys == NULL)
        return NULL;
    g_autofree char *group = group_for_url(url);
    if (!g_key_file_has_key(keys, group, KEY_NAME, NULL))
        return NULL;
    char *key = g_key_file_get_string(keys, group, KEY_NAME, error);
    if (key == NULL)
        g_prefix_error(error, "Could not read the API key of %s from %s: ", url, path);
    return key;
}

// Leaves the file untouched (and uncreated) when it holds no key for URL.
static gboolean key_file_remove(const char *url, GError **error)
{
    g_autofree char *path = key_file_path();
    g_autoptr(GKeyFile) keys = key_file_load(path, FALSE, error);
    if (keys == NULL)
        return FALSE;
    g_autofree char *group = group_for_url(url);
    if (!g_key_file_has_group(keys, group))
        return TRUE;
    g_key_file_remove_group(keys, group, NULL);
    return key_file_write(path, keys, error);
}

// --- the public functions

gboolean ponder_secret_store_save(const char *url, const char *key, PonderSecretPlace *where_out,
                                  GError **error)
{
    g_return_val_if_fail(url != NULL && *url != '\0', FALSE);
    g_return_val_if_fail(key != NULL, FALSE);
    if (*key == '\0') {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "An empty API key cannot be saved; clear the key of %s instead.", url);
        return FALSE;
    }

    g_autofree char *label = g_strdup_printf("Ponder remote provider %s", url);
    GError *keyring_error = NULL;
    if (secret_password_store_sync(&remote_provider_schema, SECRET_COLLECTION_DEFAULT, label, key,
                                   NULL, &keyring_error, "url", url, NULL)) {
        if (where_out)
            *where_out = PONDER_SECRET_PLACE_KEYRING;
        // A copy written while there was no keyring would outlive this key in plain text.
        return key_file_remove(url, error);
    }
    if (!keyring_unreachable(keyring_error)) {
        keyring_error_propagate(error, keyring_error, "save the API key");
        return FALSE;
    }
    g_debug("no Secret Service (%s): the API key of %s goes to the key file",
            keyring_error->message, url);
    g_error_free(keyring_error);
    if (!key_file_save(url, key, error))
        return FALSE;
    if (where_out)
        *where_out = PONDER_SECRET_PLACE_FILE;
    return TRUE;
}

char *ponder_secret_store_lookup(const char *url, GError **error)
{
    g_return_val_if_fail(url != NULL && *url != '\0', NULL);

    GError *keyring_error = NULL;
    char *secret = secret_password_lookup_sync(&remote_provider_schema, NULL, &keyring_error, "url",
                                               url, NULL);
    if (secret) {
        // libsecret's copy sits in memory that is wiped when freed; the caller gets a
        // plain string to free with g_free.
        char *key = g_strdup(secret);
        secret_password_free(secret);
        return key;
    }
    if (keyring_error && !keyring_unreachable(keyring_error)) {
        keyring_error_propagate(error, keyring_error, "read the API key");
        return NULL;
    }
    g_clear_error(&keyring_error);
    return key_file_lookup(url, error);
}

char *ponder_secret_store_local_api_key(gboolean *created, PonderSecretPlace *where_out,
                                        GError **error)
{
    if (created)
        *created = FALSE;
    GError *lookup_error = NULL;
    g_autofree char *stored = ponder_secret_store_lookup(PONDER_SECRET_LOCAL_API, &lookup_error);
    if (lookup_error) {
        g_propagate_error(error, lookup_error);
        return NULL;
    }
    if (stored && *stored) {
        if (where_out) {
            // Where it came from: the file is read only when the keyring is unreachable.
            g_autofree char *in_file = key_file_lookup(PONDER_SECRET_LOCAL_API, NULL);
            *where_out = g_strcmp0(in_file, stored) == 0 ? PONDER_SECRET_PLACE_FILE
                                                         : PONDER_SECRET_PLACE_KEYRING;
        }
        return g_steal_pointer(&stored);
    }
    // 256 bits from the kernel's CSPRNG (GLib's g_random is predictable), as 64 hex
    // digits: nothing to escape in a header or a shell.
    guint8 bytes[32];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        int saved_errno = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved_errno),
                    "Could not draw a random API key: %s.", g_strerror(saved_errno));
        return NULL;
    }
    GString *key = g_string_sized_new(64);
    for (gsize i = 0; i < sizeof bytes; i++)
        g_string_append_printf(key, "%02x", bytes[i]);
    if (!ponder_secret_store_save(PONDER_SECRET_LOCAL_API, key->str, where_out, error)) {
        g_string_free(key, TRUE);
        return NULL;
    }
    if (created)
        *created = TRUE;
    return g_string_free(key, FALSE);
}

char *ponder_secret_store_local_api_key_hint(PonderSecretPlace where)
{
    if (where == PONDER_SECRET_PLACE_KEYRING)
        return g_strdup_printf("it is in your keyring: `secret-tool lookup url %s` prints it, "
                               "and Ponder's Preferences show it under Local API",
                               PONDER_SECRET_LOCAL_API);
    g_autofree char *path = key_file_path();
    g_autofree char *group = group_for_url(PONDER_SECRET_LOCAL_API);
    return g_strdup_printf("it is in %s (group [%s], readable by you only), and Ponder's "
                           "Preferences show it under Local API",
                           path, group);
}

gboolean ponder_secret_store_clear(const char *url, GError **error)
{
    g_return_val_if_fail(url != NULL && *url != '\0', FALSE);

    // FALSE without an error only means there was no item.
    GError *keyring_error = NULL;
    if (!secret_password_clear_sync(&remote_provider_schema, NULL, &keyring_error, "url", url,
                                    NULL) &&
        keyring_error && !keyring_unreachable(keyring_error)) {
        keyring_error_propagate(error, keyring_error, "remove the API key");
        return FALSE;
    }
    g_clear_error(&keyring_error);
    return key_file_remove(url, error);
}
