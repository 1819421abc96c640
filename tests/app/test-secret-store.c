// The remote provider API key store, as test-secret-store.sh runs it: once with
// PONDER_TEST_SECRET_PLACE=keyring inside a private D-Bus session with its own
// gnome-keyring, once with =file and no session bus. The script gives each run its own
// HOME and XDG folders, so nothing here touches the user's keyring or configuration.

#include "ponder-secret-store.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define URL "http://localhost:8080/v1"
// '[' and ']' cannot appear in a key file group name: the file must escape them.
#define URL_IPV6 "http://[::1]:8080/v1"
// Leading and trailing spaces, '=', '#' and a newline: what a key file must escape too.
#define ODD_KEY " sk-odd=key#1\nsecond line "

static char *fallback_path(void)
{
    return g_build_filename(g_get_user_config_dir(), "ponder", "remote-keys", NULL);
}

static void assert_mode(const char *path, guint expected)
{
    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 0777, ==, expected);
}

static void assert_lookup(const char *url, const char *expected)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *key = ponder_secret_store_lookup(url, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(key, ==, expected);
}

static void save(const char *url, const char *key, PonderSecretPlace expected_place)
{
    g_autoptr(GError) error = NULL;
    PonderSecretPlace where = expected_place == PONDER_SECRET_PLACE_FILE
                                  ? PONDER_SECRET_PLACE_KEYRING
                                  : PONDER_SECRET_PLACE_FILE;
    g_assert_true(ponder_secret_store_save(url, key, &where, &error));
    g_assert_no_error(error);
    g_assert_cmpint(where, ==, expected_place);
}

static void clear(const char *url)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(ponder_secret_store_clear(url, &error));
    g_assert_no_error(error);
}

// Runs secret-tool (a separate keyring client) with ARGV, STDIN on its input; returns its
// output, or NULL when it exited 1 without a word on stderr (its "nothing found").
static char *secret_tool(const char *const *argv, const char *stdin_text)
{
    g_autoptr(GError) error = NULL;
    GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE |
                             (stdin_text ? G_SUBPROCESS_FLAGS_STDIN_PIPE : 0);
    g_autoptr(GSubprocess) tool = g_subprocess_newv(argv, flags, &error);
    g_assert_no_error(error);
    g_autofree char *out = NULL, *err = NULL;
    g_assert_true(g_subprocess_communicate_utf8(tool, stdin_text, NULL, &out, &err, &error));
    g_assert_no_error(error);
    if (!g_subprocess_get_successful(tool)) {
        g_assert_cmpstr(err, ==, "");
        return NULL;
    }
    return g_steal_pointer(&out);
}

static char *secret_tool_lookup(const char *url)
{
    const char *argv[] = {"secret-tool", "lookup", "url", url, NULL};
    return secret_tool(argv, NULL);
}

// --- with a keyring

static void test_keyring_round_trip(void)
{
    g_autofree char *path = fallback_path();
    assert_lookup(URL, NULL);

    save(URL, "sk-first", PONDER_SECRET_PLACE_KEYRING);
    assert_lookup(URL, "sk-first");
    g_autofree char *seen = secret_tool_lookup(URL);
    g_assert_cmpstr(seen, ==, "sk-first");

    // Saving again replaces the item (one item per URL, not a second one).
    save(URL, ODD_KEY, PONDER_SECRET_PLACE_KEYRING);
    assert_lookup(URL, ODD_KEY);
    g_free(seen);
    seen = secret_tool_lookup(URL);
    g_assert_cmpstr(seen, ==, ODD_KEY);
    const char *search[] = {"secret-tool", "search", "--all", "url", URL, NULL};
    g_autofree char *items = secret_tool(search, NULL);
    g_assert_nonnull(items);
    g_assert_null(strstr(items, "sk-first"));
    g_assert_nonnull(strstr(items, "label = Ponder remote provider " URL));
    g_assert_nonnull(strstr(items, "\nschema = io.github.ponder_app.Ponder.RemoteProvider\n"));

    // Each URL its own item.
    save(URL_IPV6, "sk-ipv6", PONDER_SECRET_PLACE_KEYRING);
    assert_lookup(URL_IPV6, "sk-ipv6");
    assert_lookup(URL, ODD_KEY);

    // The keyring had it: nothing went to the fallback file.
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

    clear(URL);
    assert_lookup(URL, NULL);
    g_free(seen);
    seen = secret_tool_lookup(URL);
    g_assert_null(seen);
    assert_lookup(URL_IPV6, "sk-ipv6");
    clear(URL_IPV6);
    assert_lookup(URL_IPV6, NULL);
    clear(URL); // nothing left to clear is no error
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

// Another application's item with the same "url" attribute is neither read nor removed.
static void test_keyring_leaves_other_items(void)
{
    const char *store[] = {"secret-tool", "store", "--label=another app", "url", URL, NULL};
    g_autofree char *stored = secret_tool(store, "not-ours");
    g_assert_nonnull(stored);
    assert_lookup(URL, NULL);

    save(URL, "sk-ours", PONDER_SECRET_PLACE_KEYRING);
    assert_lookup(URL, "sk-ours");
    clear(URL);
    assert_lookup(URL, NULL);
    g_autofree char *theirs = secret_tool_lookup(URL);
    g_assert_cmpstr(theirs, ==, "not-ours");

    const char *remove[] = {"secret-tool", "clear", "url", URL, NULL};
    g_autofree char *removed = secret_tool(remove, NULL);
    g_assert_nonnull(removed);
    g_autofree char *gone = secret_tool_lookup(URL);
    g_assert_null(gone);
}

// A key saved while there was no keyring, then saved again once there is one, leaves no
// copy in the file. In a subprocess: GDBus keeps the first session bus connection for
// the life of the process, so "no bus" has to come before any other test connects.
static void test_keyring_takes_over_file_copy(void)
{
    if (g_test_subprocess()) {
        g_autofree char *path = fallback_path();
        g_autofree char *bus = g_strdup(g_getenv("DBUS_SESSION_BUS_ADDRESS"));
        g_assert_nonnull(bus);
        g_setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent", TRUE);
        save(URL, "sk-in-file", PONDER_SECRET_PLACE_FILE);
        save(URL_IPV6, "sk-ipv6-in-file", PONDER_SECRET_PLACE_FILE);
        g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

        g_setenv("DBUS_SESSION_BUS_ADDRESS", bus, TRUE);
        save(URL, "sk-in-keyring", PONDER_SECRET_PLACE_KEYRING);
        g_autofree char *contents = NULL;
        g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
        g_assert_null(strstr(contents, "sk-in-file"));
        g_assert_nonnull(strstr(contents, "sk-ipv6-in-file"));
        assert_mode(path, 0600);
        assert_lookup(URL, "sk-in-keyring");
        // Not in the keyring, still in the file: lookup falls through to it.
        assert_lookup(URL_IPV6, "sk-ipv6-in-file");

        clear(URL_IPV6);
        g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
        clear(URL);
        assert_lookup(URL, NULL);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
}

// A keyring that is there but refuses (locked, and no prompt can unlock it here) is an
// error to show the user, not a reason to put the key in a plain file. Runs last: the
// keyring stays locked for the rest of the session.
static void test_keyring_locked_refuses(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &error);
    g_assert_no_error(error);
    const char *collections[] = {"/org/freedesktop/secrets/collection/login", NULL};
    g_autoptr(GVariant) locked = g_dbus_connection_call_sync(
        bus, "org.freedesktop.secrets", "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service", "Lock", g_variant_new("(^ao)", collections),
        G_VARIANT_TYPE("(aoo)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
    g_assert_no_error(error);

    PonderSecretPlace where = PONDER_SECRET_PLACE_KEYRING;
    g_assert_false(ponder_secret_store_save(URL, "sk-locked-out", &where, &error));
    g_assert_nonnull(error);
    g_assert_true(g_str_has_prefix(error->message, "The keyring could not save the API key: "));
    g_autofree char *path = fallback_path();
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

// --- without a keyring

static void test_file_round_trip(void)
{
    g_autofree char *path = fallback_path();
    g_autofree char *dir = g_path_get_dirname(path);
    assert_lookup(URL, NULL);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));

    save(URL, "sk-first", PONDER_SECRET_PLACE_FILE);
    assert_mode(dir, 0700);
    assert_mode(path, 0600);
    assert_lookup(URL, "sk-first");

    save(URL, ODD_KEY, PONDER_SECRET_PLACE_FILE);
    assert_mode(path, 0600);
    assert_lookup(URL, ODD_KEY);
    save(URL_IPV6, "sk-ipv6", PONDER_SECRET_PLACE_FILE);
    assert_lookup(URL_IPV6, "sk-ipv6");
    assert_lookup(URL, ODD_KEY);
    g_autofree char *contents = NULL;
    g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    g_assert_null(strstr(contents, "sk-first"));

    clear(URL);
    assert_lookup(URL, NULL);
    assert_lookup(URL_IPV6, "sk-ipv6");
    assert_mode(path, 0600);
    clear(URL_IPV6);
    assert_lookup(URL_IPV6, NULL);
    // No keys left: no file left.
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    clear(URL);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void test_file_refuses_shared_file(void)
{
    g_autofree char *path = fallback_path();
    save(URL, "sk-secret", PONDER_SECRET_PLACE_FILE);

    const guint shared_modes[] = {0644, 0640, 0604};
    for (guint i = 0; i < G_N_ELEMENTS(shared_modes); i++) {
        g_assert_cmpint(g_chmod(path, shared_modes[i]), ==, 0);
        g_autoptr(GError) error = NULL;
        g_autofree char *key = ponder_secret_store_lookup(URL, &error);
        g_assert_null(key);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
        g_assert_nonnull(strstr(error->message, path));
        g_assert_nonnull(strstr(error->message, "chmod 600"));
    }

    g_assert_cmpint(g_chmod(path, 0600), ==, 0);
    assert_lookup(URL, "sk-secret");
    // Saving rewrites a shared file as 0600 (a new file, renamed over the old one).
    g_assert_cmpint(g_chmod(path, 0644), ==, 0);
    save(URL, "sk-replaced", PONDER_SECRET_PLACE_FILE);
    assert_mode(path, 0600);
    assert_lookup(URL, "sk-replaced");
    clear(URL);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void test_file_reports_damaged_file(void)
{
    g_autofree char *path = fallback_path();
    g_autofree char *dir = g_path_get_dirname(path);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents_full(path, "not a key file\n", -1, G_FILE_SET_CONTENTS_NONE,
                                           0600, &error));
    g_assert_no_error(error);

    g_autofree char *key = ponder_secret_store_lookup(URL, &error);
    g_assert_null(key);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, path));
    g_clear_error(&error);
    g_assert_false(ponder_secret_store_save(URL, "sk-new", NULL, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_cmpint(g_remove(path), ==, 0);
}

// --- either way

static void test_empty_key_refused(void)
{
    g_autoptr(GError) error = NULL;
    PonderSecretPlace where = PONDER_SECRET_PLACE_FILE;
    g_assert_false(ponder_secret_store_save(URL, "", &where, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, "empty API key"));
    assert_lookup(URL, NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    const char *place = g_getenv("PONDER_TEST_SECRET_PLACE");
    if (g_strcmp0(place, "keyring") == 0) {
        g_test_add_func("/secret-store/keyring/takes-over-file-copy",
                        test_keyring_takes_over_file_copy);
        g_test_add_func("/secret-store/keyring/round-trip", test_keyring_round_trip);
        g_test_add_func("/secret-store/keyring/leaves-other-items",
                        test_keyring_leaves_other_items);
        g_test_add_func("/secret-store/keyring/locked-refuses", test_keyring_locked_refuses);
    } else if (g_strcmp0(place, "file") == 0) {
        g_test_add_func("/secret-store/file/round-trip", test_file_round_trip);
        g_test_add_func("/secret-store/file/refuses-shared-file", test_file_refuses_shared_file);
        g_test_add_func("/secret-store/file/reports-damaged-file", test_file_reports_damaged_file);
    } else {
        // Run directly, it would use the real keyring and configuration folder.
        g_printerr("run by test-secret-store.sh (PONDER_TEST_SECRET_PLACE=keyring or file)\n");
        return 77;
    }
    g_test_add_func("/secret-store/empty-key-refused", test_empty_key_refused);
    return g_test_run();
}
