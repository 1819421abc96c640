#!/usr/bin/env bash
# One process owns the engine: a second `ponder --serve` hands its command line to the
# running one (over the session bus) instead of opening the database and loading a model
# again. Runs the real executable without a display (the headless application).
#   test-single-instance.sh PATH/TO/ponder
set -euo pipefail
ponder=$1
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    echo "skipped: no session bus (run under dbus-run-session)"
    exit 77
fi
command -v curl >/dev/null || { echo "skipped: curl is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'kill "$first" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
export HOME=$tmp XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config XDG_CACHE_HOME=$tmp/cache
unset DISPLAY WAYLAND_DISPLAY
# Under ASan, LeakSanitizer would fail the short-lived second process for the caches that
# fontconfig keeps after `ponder` probes for a display (gtk_init_check); this test is about
# behaviour, and the app's own code is leak-checked by the unit tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port1=$(free_port)
port2=$(free_port)

"$ponder" --serve --port "$port1" >"$tmp/first.log" 2>&1 &
first=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port1/health" >/dev/null && break
    kill -0 "$first" 2>/dev/null || { echo "the first instance exited:"; cat "$tmp/first.log"; exit 1; }
    sleep 0.1
done
curl -sf "http://127.0.0.1:$port1/health" >/dev/null || { echo "the first instance never served"; cat "$tmp/first.log"; exit 1; }

# The second one returns at once, and says the running instance already serves.
timeout 20 "$ponder" --serve --port "$port2" >"$tmp/second.log" 2>&1 || {
    echo "the second instance failed:"; cat "$tmp/second.log"; exit 1; }
grep -q "already serves the OpenAI and Ollama APIs on port $port1" "$tmp/second.log" || {
    echo "the second instance did not hand over:"; cat "$tmp/second.log"; exit 1; }
if curl -sf "http://127.0.0.1:$port2/health" >/dev/null; then
    echo "a second server is listening on port $port2"
    exit 1
fi
kill -0 "$first" || { echo "the first instance died"; exit 1; }
# Ctrl+C / SIGTERM stops it cleanly (the engine thread joined, the database closed).
kill -TERM "$first"
for _ in $(seq 1 50); do kill -0 "$first" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$first" 2>/dev/null; then
    echo "the first instance ignored SIGTERM"
    exit 1
fi
wait "$first" || { echo "the first instance exited with an error:"; cat "$tmp/first.log"; exit 1; }
echo "ok: the second instance handed over to the first (port $port1)"
