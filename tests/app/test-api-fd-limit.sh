#!/usr/bin/env bash
# Idle connections cannot use up `ponder --serve`'s file descriptors: run with a limit of 64
# (so it keeps at most 32 connections), 100 connections that send nothing are opened; those
# over the limit are answered 503 (or reset), and once the clients close them the server
# answers again. libsoup stops listening for good when accept() fails, so a server that let
# connections reach the descriptor limit would stay deaf here. Runs the real executable.
#   test-api-fd-limit.sh PATH/TO/ponder
set -euo pipefail
ponder=$1
command -v curl >/dev/null || { echo "skipped: curl is not installed"; exit 77; }
. "$(dirname "$0")/serve-test-lib.sh"
# The display probe's caches would be reported as leaks (see test-single-instance.sh).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# The soft limit only: the server inherits it, the client below raises its own again.
ulimit -S -n 64
serve_start

python3 - "$port" <<'PY' || fail "the server did not survive 100 idle connections"
import resource, socket, sys, time
port = int(sys.argv[1])
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
idle = []
for _ in range(100):
    try:
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    except OSError as error:
        sys.exit(f"the server stopped accepting connections after {len(idle)}: {error}")
time.sleep(2)  # the server takes them up (or refuses them)
# A connection closed without a word was kept, then timed out (the server's 30 s read
# timeout, on a slow machine); a refused one was answered 503 (or reset, when the answer
# raced the close).
refused = timed_out = 0
for s in idle:
    s.setblocking(False)
    try:
        answer = s.recv(4096)
        if not answer:
            timed_out += 1
        elif answer.startswith(b"HTTP/1.1 503") and b"too many connections" in answer:
            refused += 1
        else:
            sys.exit(f"a refused connection was answered {answer[:200]!r}")
    except BlockingIOError:
        pass  # taken up: left open
    except ConnectionResetError:
        refused += 1
print(f"{refused} of {len(idle)} idle connections refused, {timed_out} closed at the read timeout")
kept = len(idle) - refused - timed_out
if not (refused >= 1 and 1 <= kept <= 32 and refused + timed_out >= len(idle) - 32):
    sys.exit(f"expected the server to keep 1 to 32 connections and refuse the others, it kept {kept}")
for s in idle:
    s.close()
time.sleep(0.5)
for attempt in range(50):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        try:
            while chunk := s.recv(4096):
                answer += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    if answer.startswith(b"HTTP/1.1 200"):
        print(f"answered again after the clients left (attempt {attempt + 1})")
        sys.exit(0)
    time.sleep(0.1)
sys.exit(f"the server no longer answers: {answer[:200]!r}")
PY
serve_stop
[ "$server_status" = 0 ] || fail "the server exited with status $server_status"
echo "ok: idle connections beyond the limit were refused and the server answers afterwards"
