#!/usr/bin/env bash
# Run HERE (no GPU needed): copies what the GPU machine needs into .carry/cuda, a
# git-ignored folder the device tool carries: the test program, the CUDA module,
# ponder-infer, and the tiny models (only the ones asked for, to stay under the 64 MiB
# the working tree may take).
#   bench/cuda/pack.sh BUILD_DIR [all|quick|none]   (models: all 24, qwen2-q4_k_m only, none)
# (all: the 13 of the subset where ../shared is absent; quick: those of its six it has)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-cuda}
models=${2:-all}
dest=.carry/cuda
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib" "$dest/shared/models"
cp "$build/tests/cuda/test-cuda" "$dest/bin/"
cp "$build/inference/cuda/libponder-cuda.so" "$dest/lib/"
# the Vulkan module and its test, for bench/vulkan/nvidia.sh (the NVIDIA Vulkan driver)
[ -f "$build/inference/vulkan/libponder-vulkan.so" ] && cp "$build/inference/vulkan/libponder-vulkan.so" "$dest/lib/"
[ -x "$build/tests/vulkan/test-vulkan" ] && cp "$build/tests/vulkan/test-vulkan" "$dest/bin/"
[ -x "$build/inference/tool/ponder-infer" ] && cp "$build/inference/tool/ponder-infer" "$dest/bin/"
[ -n "${PONDER_INFER:-}" ] && cp "$PONDER_INFER" "$dest/bin/ponder-infer"
shared=../shared
# a clone without ../shared: the subset of tests/data that the build unpacked
[ -f "$shared/models/reference.json" ] || shared=$build/tests/data
cp "$shared/models/reference.json" "$dest/shared/models/"
mkdir -p "$dest/shared/tokenizers/deepseek-r1-distill-qwen"
# xz: the tokenizer (only `synth` needs it) shrinks from 7 MB to 1.5 MB
xz -9 -c "$shared/tokenizers/deepseek-r1-distill-qwen/tokenizer.json" \
    >"$dest/shared/tokenizers/deepseek-r1-distill-qwen/tokenizer.json.xz"
cp "$shared/tokenizers/deepseek-r1-distill-qwen/tokenizer_config.json" "$dest/shared/tokenizers/deepseek-r1-distill-qwen/"
# the qwen3 files of models2 (the IQ ones need types the GPU does not run yet)
mkdir -p "$dest/shared/models2"
cp "$shared/models2/reference.json" "$dest/shared/models2/"
[ "$models" = none ] || for f in "$shared"/models2/qwen3*.gguf; do
    case "$f" in *-iq*) ;; *) cp "$f" "$dest/shared/models2/" ;; esac
done
case "$models" in
all) cp "$shared"/models/*.gguf "$dest/shared/models/" ;;
quick) for f in qwen2-q4_k_m llama-q6_k llama-q8_0 qwen2-bf16 qwen2-q2_k qwen2-q5_1; do
           if [ -f "$shared/models/$f.gguf" ]; then cp "$shared/models/$f.gguf" "$dest/shared/models/"; fi
       done ;;
none) ;;
esac
strip "$dest"/bin/* "$dest"/lib/*.so
# the kernels' machine code compresses well: unpack-carry.sh restores bin/ and lib/ there
tar -C "$dest" -cJf "$dest/binaries.tar.xz" bin lib
rm -rf "$dest/bin" "$dest/lib"
du -sh "$dest"
