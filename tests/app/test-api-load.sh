#!/usr/bin/env bash
# The local API under load, on the real `ponder --serve` with a tiny model: 64 streaming
# clients in both dialects (OpenAI SSE, Ollama NDJSON), a quarter of them hanging up
# mid-stream, for $PONDER_LOAD_SECONDS (default 15; CI runs 120 in the ASan build). It
# fails when a stream that was not hung up on is incomplete or malformed, a client that does
# not hang up never finishes a stream, the server does not drain and answer a plain chat in
# each dialect within 10 s afterwards (tools/api-load-test checks all that), the server
# does not stop with status 0 on SIGTERM, or a sanitizer reported anything: ASan, LSan (the
# leak check runs at exit) and UBSan write their reports to files here, and an ASan report
# also makes the exit status 66.
#   test-api-load.sh PATH/TO/ponder PATH/TO/ponder-infer HF_MODEL_DIR PATH/TO/api-load-test
set -euo pipefail
ponder=$1 ponder_infer=$2 hf_model=$3 load_test=$4
seconds=${PONDER_LOAD_SECONDS:-15}
command -v node >/dev/null || { echo "skipped: node is not installed (tools/install-deps)"; exit 77; }
command -v curl >/dev/null || { echo "skipped: curl is not installed"; exit 77; }
. "$(dirname "$0")/serve-test-lib.sh"

# The tiny Qwen2 of the converter's tests (2 layers, 1,536 tokens, R1's markers), as GGUF.
mkdir -p "$XDG_DATA_HOME/ponder/models"
model=$XDG_DATA_HOME/ponder/models/tiny-qwen2-q8_0.gguf
"$ponder_infer" convert "$hf_model" -o "$model" --type q8_0 >"$tmp/convert.log" 2>&1 ||
    { cat "$tmp/convert.log"; echo "FAIL: the tiny model could not be converted"; exit 1; }

# The sanitizers' reports go to files (LOG.PID) that are checked below, whatever the exit
# status; these options are ignored by a build without sanitizers. The one suppression is
# the display probe's fontconfig caches (see lsan-display-probe.supp).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:exitcode=66:log_path=$tmp/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1:log_path=$tmp/ubsan"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0:suppressions=$(dirname "$0")/lsan-display-probe.supp"
# 32 running and 32 waiting (the engine's queue) admit all 64 clients at once, so a client
# that never finishes a stream is one the server lost, not one that kept getting 429.
serve_start --backend cpu --ctx 256 --parallel 32 --model "$model"

status=0
node "$load_test" --url "http://127.0.0.1:$port" --clients 64 --seconds "$seconds" --max-tokens 16 \
    --dialect both --recover-seconds 10 --strict 1 || status=$?
[ "$status" = 0 ] || fail "the load test failed (exit status $status)"

# A clean stop: SIGTERM ends the main loop, the engine thread is joined, LSan runs at exit.
serve_stop
sanitizer_reports || { echo "FAIL: the sanitizers reported problems (above)"; exit 1; }
[ "$server_status" = 0 ] || fail "the server exited with status $server_status"
echo "ok: $seconds s of load (64 clients, both dialects, hang-ups); the server recovered and stopped cleanly"
