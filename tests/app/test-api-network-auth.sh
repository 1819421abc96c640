#!/usr/bin/env bash
# The local API on the network needs a key: `ponder --serve --host 0.0.0.0` without one
# creates and keeps its own (here, with no session bus, in the 0600 key file), says where
# without printing it, and refuses requests that lack it; --no-auth serves without; loopback
# stays keyless as before. Runs the real executable without a display.
#   test-api-network-auth.sh PATH/TO/ponder
set -euo pipefail
ponder=$1
command -v curl >/dev/null || { echo "skipped: curl is not installed"; exit 77; }
# A private home and no session bus: no keyring (the key goes to the file) and no other
# instance to hand over to.
. "$(dirname "$0")/serve-test-lib.sh"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# start LOG ARGS...: a server in the background, once it answers /health on loopback.
start() {
    local log=$1; shift
    port=$(free_port)
    "$ponder" --serve --port "$port" "$@" >"$tmp/$log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        [ "$(status /health)" = 000 ] || return 0
        kill -0 "$server" 2>/dev/null || { echo "the server exited:"; cat "$tmp/$log"; exit 1; }
        sleep 0.1
    done
    echo "the server never answered:"; cat "$tmp/$log"; exit 1
}
stop() { kill -TERM "$server"; wait "$server" || true; server=; }
# status PATH [CURL ARGS...]: the HTTP status of GET PATH on this machine's loopback.
status() { local path=$1; shift; curl -s -o /dev/null -w '%{http_code}' "$@" "http://127.0.0.1:$port$path" || true; }
expect() { # expect WHAT WANT GOT
    [ "$2" = "$3" ] || { echo "FAIL: $1: HTTP $3, expected $2"; cat "$tmp"/*.log; exit 1; }
    echo "ok: $1 ($3)"
}

# The network, no key given: one is made, kept 0600, and required.
start network.log --host 0.0.0.0
keys=$XDG_CONFIG_HOME/ponder/remote-keys
[ -f "$keys" ] || { echo "FAIL: no key was kept in $keys"; cat "$tmp/network.log"; exit 1; }
[ "$(stat -c %a "$keys")" = 600 ] || { echo "FAIL: $keys is mode $(stat -c %a "$keys")"; exit 1; }
key=$(sed -n 's/^api-key=//p' "$keys")
[ ${#key} -ge 32 ] || { echo "FAIL: the key kept is too short: ${#key} characters"; exit 1; }
grep -q "$keys" "$tmp/network.log" || { echo "FAIL: the log does not say where the key is"; cat "$tmp/network.log"; exit 1; }
if grep -qF "$key" "$tmp/network.log"; then echo "FAIL: the key was printed"; exit 1; fi
expect "no key" 401 "$(status /v1/models)"
expect "a wrong key" 401 "$(status /v1/models -H "Authorization: Bearer not-$key")"
expect "the generated key" 200 "$(status /v1/models -H "Authorization: Bearer $key")"
stop

# Started again: the same key, not a new one.
start again.log --host 0.0.0.0
expect "the same key after a restart" 200 "$(status /v1/models -H "Authorization: Bearer $key")"
[ "$(sed -n 's/^api-key=//p' "$keys")" = "$key" ] || { echo "FAIL: the key changed"; exit 1; }
stop

# --no-auth: the network without a key, said out loud.
start no-auth.log --host 0.0.0.0 --no-auth
expect "--no-auth without a key" 200 "$(status /v1/models)"
grep -q "without a key" "$tmp/no-auth.log" || { echo "FAIL: no warning for --no-auth"; cat "$tmp/no-auth.log"; exit 1; }
stop

# Loopback, as before: no key asked.
start loopback.log
expect "loopback without a key" 200 "$(status /v1/models)"
stop
start loopback-host.log --host 127.0.0.1
expect "--host 127.0.0.1 without a key" 200 "$(status /v1/models)"
stop
echo "ok: the API requires a key beyond loopback"
