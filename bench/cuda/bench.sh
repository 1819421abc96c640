#!/usr/bin/env bash
# Benchmark run ON THE GPU MACHINE (after bench/cuda/pack.sh here, with ponder-infer):
# makes the synthetic R1-Distill-Qwen files with `ponder-infer synth` (random weights, the
# real shapes), then `ponder-infer bench` on the CUDA backend: pp512 and tg128, aggregate
# tokens/s of 8 and 32 sequences, and tg at 4k and 16k tokens of context.
#   MODELS="r1-distill-qwen-1.5b:q4_k_m r1-distill-qwen-7b:q4_k_m" TESTS="basic parallel depth"
# Any `synth --type` works, the IQ mixes included (issue 12's speed check:
#   MODELS="r1-distill-qwen-1.5b:q4_k_m r1-distill-qwen-1.5b:iq4_xs r1-distill-qwen-7b:iq4_xs").
set -uo pipefail
cd "$(dirname "$0")/../.."
c=.carry/cuda
out=${OUT:-/tmp/cuda-bench}
mkdir -p "$out" /tmp/models
. bench/cuda/unpack-carry.sh
pi=$bin/ponder-infer
# synth reads the BOS/EOS ids from tokenizer_config.json beside tokenizer.json
mkdir -p /tmp/tokenizer
tok=/tmp/tokenizer/tokenizer.json
src=$PONDER_SHARED/tokenizers/deepseek-r1-distill-qwen
cp $src/tokenizer_config.json /tmp/tokenizer/
if [ ! -f $tok ]; then
    if [ -f $src/tokenizer.json ]; then cp $src/tokenizer.json $tok; else xz -dc $src/tokenizer.json.xz >$tok; fi
fi
models=${MODELS:-"r1-distill-qwen-1.5b:q4_k_m"}
tests=${TESTS:-"basic parallel depth"}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv,noheader | tee "$out/gpu.txt"

for spec in $models; do
    preset=${spec%%:*} type=${spec##*:}
    file=/tmp/models/$preset-$type.gguf
    if [ ! -f "$file" ]; then
        start=$SECONDS
        "$pi" synth --preset "$preset" --type "$type" --tokenizer "$tok" -o "$file" >>"$out/synth.log" 2>&1 ||
            { echo "synth $spec failed"; tail -3 "$out/synth.log"; continue; }
        echo "synth $spec: $((SECONDS - start)) s"
    fi
    run() { # label, then bench arguments
        local label=$1
        shift
        echo "--- $spec $label: bench $*" >>"$out/bench.log"
        timeout 240 "$pi" bench --model "$file" --backend cuda "$@" 2>&1 | tee -a "$out/bench.log" | grep -E "^\| [A-Z].*(pp|tg)|ponder-infer:" | sed "s/^/$label /"
    }
    for t in $tests; do
        case $t in
        basic) run basic -p 512 -n 128 --reps 3 ;;
        parallel) run x8 -p 0 -n 64 --parallel 8 --reps 2
                  run x32 -p 0 -n 64 --parallel 32 --reps 2 ;;
        rows) for r in 1 4 8; do PONDER_CUDA_DECODE_ROWS=$r run rows$r -p 0 -n 128 --reps 3; done ;;
        gemm) # the batched steps through dequantize + cuBLAS instead of the mat-vec kernels
              PONDER_CUDA_MATVEC_MAX=${GEMM_FROM:-4} run x8-gemm -p 0 -n 64 --parallel 8 --reps 2
              PONDER_CUDA_MATVEC_MAX=${GEMM_FROM:-4} run x32-gemm -p 0 -n 64 --parallel 32 --reps 2 ;;
        depth) run d4096 -p 0 -n 64 --depth 4096 --reps 2
               run d16384 -p 0 -n 64 --depth 16384 --reps 2 ;;
        esac
    done
done

# Kernel times of decode steps (ncu serialises kernels: durations, not the launch gaps).
if [ -n "${PROFILE:-}" ]; then
    file=/tmp/models/${PROFILE%%:*}-${PROFILE##*:}.gguf
    for par in ${PROFILE_PARALLEL:-1}; do
        timeout 150 ncu --metrics gpu__time_duration.sum --csv --print-units base --clock-control none \
            --cache-control none --launch-skip 1200 --launch-count ${PROFILE_LAUNCHES:-700} \
            "$pi" bench --model "$file" --backend cuda -p 0 -n 8 --reps 1 --parallel $par \
            >"$out/ncu-x$par.csv" 2>"$out/ncu-x$par.err"
        echo "--- kernel times, $par sequence(s) per step"
        python3 bench/cuda/kernel-profile.py "$out/ncu-x$par.csv" ${PROFILE_STEPS:-2} | tee "$out/profile-x$par.txt" | head -16
    done
fi

# Partial offload and memory planning on the first model: half the layers on the GPU, then a
# context too large for the GPU (the error names the numbers and how many layers fit).
if [ -n "${OFFLOAD:-}" ]; then
    spec=${models%% *}
    file=/tmp/models/${spec%%:*}-${spec##*:}.gguf
    layers=$("$pi" info "$file" | awk '/^layers/ {print $2}')
    echo "--- partial offload: $((layers / 2)) of $layers layers on the GPU"
    timeout 120 "$pi" bench --model "$file" --backend cuda --gpu-layers $((layers / 2)) -p 64 -n 16 --reps 1 2>&1 |
        grep -E "^\| [A-Z]|ponder-infer:"
    echo "--- a context larger than the GPU"
    timeout 60 "$pi" bench --model "$file" --backend cuda --kv-type f16 --ctx 100000 --parallel 32 -p 0 -n 1 \
        --reps 1 2>&1 | tail -2
fi
