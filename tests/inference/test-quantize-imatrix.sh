#!/usr/bin/env bash
# `ponder-infer quantize IN OUT TYPE --imatrix FILE` from the command line: the tiny llama of
# the converter's tests (tests/data/hf-tiny-llama), converted to F32, quantized with its
# importance matrix in both of llama.cpp's layouts (written by tools/make-imatrix-fixtures.py);
# the result loads and runs. An importance matrix of another shape, a missing --imatrix value
# and a type Ponder cannot write fail with status 1 or 2 and a message that says why.
#   test-quantize-imatrix.sh PATH/TO/ponder-infer FIXTURE_DIR HF_TINY_LLAMA_DIR
set -euo pipefail
ponder_infer=$1 fixtures=$2 hf_model=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*"
    exit 1
}

# Runs ponder-infer, expecting exit status $1 and a message containing $2 on stderr.
expect() {
    local want_status=$1 fragment=$2 status=0
    shift 2
    "$ponder_infer" "$@" >"$tmp/out.log" 2>"$tmp/err.log" || status=$?
    [ "$status" = "$want_status" ] || { cat "$tmp/err.log"; fail "ponder-infer $*: status $status, want $want_status"; }
    grep -qF -- "$fragment" "$tmp/err.log" || { cat "$tmp/err.log"; fail "ponder-infer $*: no '$fragment'"; }
}

expect 0 "wrote" convert "$hf_model" -o "$tmp/f32.gguf" --type f32
expect 0 "wrote $tmp/q4_k_m.gguf" quantize "$tmp/f32.gguf" "$tmp/q4_k_m.gguf" q4_k_m \
    --imatrix "$fixtures/tiny-llama.dat"
expect 0 "wrote $tmp/iq4_xs.gguf" quantize --imatrix "$fixtures/tiny-llama.gguf" -t 2 \
    "$tmp/f32.gguf" "$tmp/iq4_xs.gguf" iq4_xs
"$ponder_infer" info "$tmp/q4_k_m.gguf" | grep -q "file type *Q4_K_M" || fail "info: not Q4_K_M"
"$ponder_infer" run --model "$tmp/iq4_xs.gguf" --prompt "Hello" -n 4 --greedy --threads 2 \
    >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; fail "the IQ4_XS file does not run"; }

expect 1 "but the tensor's rows have 512" quantize "$tmp/f32.gguf" "$tmp/x.gguf" q4_k_m \
    --imatrix "$fixtures/wrong-length.gguf"
expect 1 "value 1 is nan" quantize "$tmp/f32.gguf" "$tmp/x.gguf" q4_0 \
    --imatrix "$fixtures/value-nan.dat"
expect 1 "cannot write iq2_xs tensors yet, with or without an importance matrix" \
    quantize "$tmp/f32.gguf" "$tmp/x.gguf" iq2_xs --imatrix "$fixtures/tiny-llama.dat"
expect 1 "cannot write iq2_xxs tensors yet" quantize "$tmp/f32.gguf" "$tmp/x.gguf" iq2_xxs
expect 2 "--imatrix" quantize "$tmp/f32.gguf" "$tmp/x.gguf" q4_0 --imatrix
expect 2 "unexpected argument '--imatrx'" quantize "$tmp/f32.gguf" "$tmp/x.gguf" q4_0 --imatrx f
[ ! -e "$tmp/x.gguf" ] || fail "a refused quantization left $tmp/x.gguf"
echo "ok"
