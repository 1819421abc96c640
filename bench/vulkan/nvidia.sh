#!/usr/bin/env bash
# Vulkan on the NVIDIA driver, run ON THE GPU MACHINE (after bench/cuda/pack.sh here, which
# packs the Vulkan module and test-vulkan beside the CUDA ones; carry .carry/cuda and .gl):
# the Vulkan loader from Debian's packages in .gl (the machine has the NVIDIA ICD but no
# loader), then test-vulkan (every tiny model against the CPU backend) and, with BENCH=1,
# `ponder-infer bench --backend vulkan` on the synthetic files bench/cuda/bench.sh made.
#   BENCH=1 MODELS="r1-distill-qwen-1.5b:q4_k_m r1-distill-qwen-7b:q4_k_m" bash bench/vulkan/nvidia.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/vulkan-nvidia}
mkdir -p "$out"
. bench/cuda/unpack-carry.sh
if ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
export XDG_CACHE_HOME=/tmp/vulkan-cache
timeout 150 "$bin/test-vulkan" >"$out/test-vulkan.log" 2>&1
echo "=== test-vulkan on the NVIDIA driver (exit $?)"
grep -vE "^  ok" "$out/test-vulkan.log" | head -60
[ -n "${BENCH:-}" ] || exit 0
for spec in ${MODELS:-"r1-distill-qwen-1.5b:q4_k_m"}; do
    file=/tmp/models/${spec%%:*}-${spec##*:}.gguf
    [ -f "$file" ] || { echo "no $file (run bench/cuda/bench.sh first)"; continue; }
    echo "--- $spec vulkan: bench -p 512 -n 128" >>"$out/bench.log"
    timeout 200 "$bin/ponder-infer" bench --model "$file" --backend vulkan -p 512 -n 128 --reps 3 2>&1 |
        tee -a "$out/bench.log" | grep -E "^\| [A-Z].*(pp|tg)|ponder-infer:" | sed "s/^/vulkan /"
done
