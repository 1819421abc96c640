#!/usr/bin/env bash
# Correctness run ON THE GPU MACHINE (after bench/cuda/pack.sh here): every CUDA op and
# every tiny model against the CPU backend (and llama.cpp's logits), batched decode,
# partial offload; then compute-sanitizer (memcheck, racecheck) on a short run. Logs go to
# $OUT (the device tool brings them back); a summary is printed last.
set -uo pipefail
cd "$(dirname "$0")/../.."
c=.carry/cuda
out=${OUT:-/tmp/cuda-correctness}
mkdir -p "$out"
. bench/cuda/unpack-carry.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

timeout 200 "$bin/test-cuda" >"$out/test-cuda.log" 2>&1
test_rc=$?
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 "$bin/test-cuda" --quick \
    >"$out/memcheck.log" 2>&1
memcheck_rc=$?
timeout 60 compute-sanitizer --tool racecheck --error-exitcode 9 "$bin/test-cuda" --quick --ops \
    >"$out/racecheck.log" 2>&1
racecheck_rc=$?

echo "=== test-cuda (exit $test_rc)"
grep -E "CHECK failed|failed|skipped|^ok" "$out/test-cuda.log" | head -40
grep -E "^  " "$out/test-cuda.log" | head -120
echo "=== compute-sanitizer memcheck (exit $memcheck_rc)"
grep -E "ERROR SUMMARY|CHECK failed|Invalid|^ok" "$out/memcheck.log" | head -10
echo "=== compute-sanitizer racecheck (exit $racecheck_rc)"
grep -E "RACECHECK SUMMARY|ERROR SUMMARY|hazard|^ok" "$out/racecheck.log" | head -10
