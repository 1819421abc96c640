#!/usr/bin/env bash
# The remote provider API key store, twice:
#   (a) in a private D-Bus session with its own unlocked gnome-keyring: keys go to the
#       keyring (test-secret-store checks them with secret-tool) and never to the file;
#   (b) with no session bus at all: keys go to the 0600 fallback file.
# Each part has its own HOME and XDG folders, so the user's keyring is never touched.
# Exit status: 1 when either part failed, 77 (skip) when (a) could not run and (b) passed.
#   test-secret-store.sh PATH/TO/test-secret-store
set -uo pipefail
test_bin=$1

# Inside dbus-run-session (the script runs itself again): unlock a new login keyring with
# a password on stdin, start its Secret Service and wait until it owns its bus name.
if [ "${2:-}" = "--in-session" ]; then
    printf 'test-password' | gnome-keyring-daemon --unlock --components=secrets >/dev/null || {
        echo "gnome-keyring-daemon --unlock failed"; exit 1; }
    gnome-keyring-daemon --start --components=secrets >/dev/null || {
        echo "gnome-keyring-daemon --start failed"; exit 1; }
    for _ in $(seq 1 50); do
        gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
            --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null |
            grep -q true && break
        sleep 0.1
    done
    PONDER_TEST_SECRET_PLACE=keyring "$test_bin"
    exit
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# No display: the locked-keyring case would otherwise make gnome-keyring ask for its
# password in a window (CI runs the tests under Xvfb) and wait for an answer forever.
unset DISPLAY WAYLAND_DISPLAY

# Gives part $1 fresh HOME, XDG folders and runtime folder under $tmp.
private_home() {
    export HOME=$tmp/$1 XDG_DATA_HOME=$tmp/$1/data XDG_CONFIG_HOME=$tmp/$1/config
    export XDG_CACHE_HOME=$tmp/$1/cache XDG_RUNTIME_DIR=$tmp/$1/run
    mkdir -p "$HOME" && mkdir -m 700 "$XDG_RUNTIME_DIR"
}

keyring_part() {
    for tool in gnome-keyring-daemon secret-tool dbus-run-session gdbus; do
        if ! command -v "$tool" >/dev/null; then
            echo "skipped: $tool not installed"
            return 77
        fi
    done
    private_home keyring
    # dbus-run-session's own chatter (fd limits, service activation) goes to a log.
    dbus-run-session -- "$0" "$test_bin" --in-session 2>"$tmp/keyring/dbus.log"
    local status=$?
    [ $status -eq 0 ] || cat "$tmp/keyring/dbus.log"
    return $status
}

file_part() {
    private_home file
    DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent PONDER_TEST_SECRET_PLACE=file "$test_bin"
}

echo "== (a) with a private gnome-keyring"
(keyring_part)
keyring_status=$?
echo "== (b) without a session bus"
(file_part)
file_status=$?

echo "keyring part: exit $keyring_status; file part: exit $file_status"
[ $file_status -eq 0 ] || exit 1
[ $keyring_status -eq 0 ] || [ $keyring_status -eq 77 ] || exit 1
exit $keyring_status
