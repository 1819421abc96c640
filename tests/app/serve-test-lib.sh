# What the shell tests of the real `ponder --serve` share (sourced, not run): a private
# home, no display and no session bus (so the server is a process of its own and never
# hands over to a Ponder already running), and starting and stopping the server.
#   . "$(dirname "$0")/serve-test-lib.sh"; serve_start LOG ARGS...; ...; serve_stop
# Needs: ponder (the executable). Sets: tmp (removed at exit), port, server (the PID while
# it runs), server_status (after serve_stop).

tmp=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill -KILL "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
export HOME=$tmp XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config XDG_CACHE_HOME=$tmp/cache
unset DISPLAY WAYLAND_DISPLAY
export DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# fail WHY: the test fails, with the server's log and the reports of the sanitizers that a
# test sent to files (ASAN_OPTIONS=log_path=$tmp/asan, UBSAN_OPTIONS=log_path=$tmp/ubsan).
fail() {
    echo "FAIL: $*"
    echo "--- server log"
    cat "$tmp/server.log"
    sanitizer_reports || true
    exit 1
}

# sanitizer_reports: prints the reports in $tmp/asan.* and $tmp/ubsan.*; fails (returns 1)
# when there is one.
sanitizer_reports() {
    local reports
    reports=$(find "$tmp" -maxdepth 1 \( -name 'asan.*' -o -name 'ubsan.*' \) -size +0 | sort)
    for report in $reports; do
        echo "--- $report"
        cat "$report"
    done
    [ -z "$reports" ]
}

# serve_start ARGS...: `$ponder --serve --port PORT ARGS...` in the background, its output
# in $tmp/server.log, once it answers /health (30 s at most).
serve_start() {
    port=$(free_port)
    "$ponder" --serve --port "$port" "$@" >"$tmp/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return 0
        kill -0 "$server" 2>/dev/null || fail "the server exited before it served"
        sleep 0.1
    done
    fail "the server never answered /health"
}

# serve_stop: SIGTERM, as a service stop or Ctrl+C; fails unless the server exits within
# 30 s, and sets server_status to its exit status.
serve_stop() {
    kill -TERM "$server"
    for _ in $(seq 1 300); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$server" 2>/dev/null && fail "the server did not stop within 30 s of SIGTERM"
    server_status=0
    wait "$server" || server_status=$?
    server=
}
