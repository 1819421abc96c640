#!/usr/bin/env bash
# Run ON THE GPU MACHINE after `bench/cuda/pack.sh build-cuda none both` here (carry .carry and .gl):
# test-cuda with the defaults and with both decode knobs on (every models2 file, the IQ
# types included), A/B of the knobs and of the prefill chunk (256/512/1024) on the synthetic
# 1.5B and 7B Q4_K_M, against an older build if one is packed, depth 4k/16k, then Vulkan on
# the NVIDIA driver. Fits one 600-second call.
set -uo pipefail
export PYTHONUNBUFFERED=1
. bench/cuda/unpack-carry.sh
# an older build to compare with, when one was packed into .carry/base (optional)
[ -f .carry/base/binaries.tar.xz ] && mkdir -p /tmp/base-carry && tar -C /tmp/base-carry -xJf .carry/base/binaries.tar.xz
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/gpu.txt
pi=$bin/ponder-infer
mkdir -p /tmp/tokenizer /tmp/models
cp $PONDER_SHARED/tokenizers/deepseek-r1-distill-qwen/tokenizer_config.json $PONDER_SHARED/tokenizers/deepseek-r1-distill-qwen/tokenizer.json /tmp/tokenizer/
# tests on the GPU while the CPU makes the synthetic files
(timeout 280 $bin/test-cuda > $OUT/test-default.log 2>&1; echo "exit $?" >> $OUT/test-default.log) &
(PONDER_CUDA_NORM_FUSION=1 PONDER_CUDA_ATTENTION_HEADS=1 timeout 280 $bin/test-cuda > $OUT/test-knobs.log 2>&1; echo "exit $?" >> $OUT/test-knobs.log) &
for m in r1-distill-qwen-1.5b r1-distill-qwen-7b; do
    s=$SECONDS; timeout 200 $pi synth --preset $m --type q4_k_m --tokenizer /tmp/tokenizer/tokenizer.json -o /tmp/models/$m.gguf >/dev/null 2>&1 || echo "synth $m failed"; echo "synth $m $((SECONDS-s)) s"
done
wait
echo "=== test-cuda defaults: $(tail -1 $OUT/test-default.log); knobs on: $(tail -1 $OUT/test-knobs.log)"
grep -hE "failed|CHECK" $OUT/test-default.log $OUT/test-knobs.log | head -20
grep -E "iq|qwen3" $OUT/test-default.log | head -20
tg() { local label=$1 m=$2 a=$3; shift 3
    env "$@" timeout 60 $pi bench --model /tmp/models/$m.gguf --backend cuda $a --reps 3 2>&1 | grep -E "^\| [A-Z].*(pp|tg)|ponder-infer:" | sed "s/^/$label $m /"; }
base() { [ -x /tmp/base-carry/bin/ponder-infer ] || return 0; PONDER_MODULE_DIR=/tmp/base-carry/lib timeout 60 /tmp/base-carry/bin/ponder-infer bench --model /tmp/models/$1.gguf --backend cuda $2 --reps 3 2>&1 | grep -E "^\| [A-Z].*(pp|tg)" | sed "s/^/base $1 /"; }
for m in r1-distill-qwen-1.5b r1-distill-qwen-7b; do
    for round in 1 2; do
    tg both $m "-p 512 -n 128" PONDER_CUDA_NORM_FUSION=1 PONDER_CUDA_ATTENTION_HEADS=1
    base $m "-p 512 -n 128"
    tg norm-only $m "-p 0 -n 128" PONDER_CUDA_NORM_FUSION=1
    tg heads-only $m "-p 0 -n 128" PONDER_CUDA_ATTENTION_HEADS=1
    tg neither $m "-p 512 -n 128" A=1
    tg chunk256 $m "-p 512 -n 0 --chunk 256" A=1
    tg chunk1024 $m "-p 1024 -n 0 --chunk 1024" A=1
    tg chunk512 $m "-p 1024 -n 0" A=1
    done
done 2>&1 | tee $OUT/ab.txt
for k in "A=1" "PONDER_CUDA_NORM_FUSION=1 PONDER_CUDA_ATTENTION_HEADS=1"; do
    tg "d4096 $k" r1-distill-qwen-1.5b "-p 0 -n 64 --depth 4096" $k
    tg "d16384 $k" r1-distill-qwen-1.5b "-p 0 -n 64 --depth 16384" $k
done 2>&1 | tee -a $OUT/ab.txt
echo "=== vulkan"
timeout 100 bash bench/vulkan/nvidia.sh 2>&1 | tail -30 | tee $OUT/vulkan.txt
