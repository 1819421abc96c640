#!/usr/bin/env bash
# Run HERE (no GPU needed): copies what the GPU machine needs into .carry/cuda, a
# git-ignored folder the device tool carries: the test program, the CUDA module,
# ponder-infer, and the tiny models (only the ones asked for, to stay under the 64 MiB
# the working tree may take).
#   bench/cuda/pack.sh BUILD_DIR [all|quick|none] [test|bench|both]
# models: all 24, six of them, or none (then the device unpacks the repository's own
# tests/data, which travels anyway: the tracked tree is ~44 MiB of the 64); binaries: the
# test programs, ponder-infer with the CUDA module, or both (each is ~11 MiB compressed).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-cuda}
models=${2:-all}
what=${3:-both}
dest=.carry/cuda
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib"
# the Vulkan module travels with both: test-vulkan and bench/vulkan/nvidia.sh use it
[ -f "$build/inference/vulkan/libponder-vulkan.so" ] && cp "$build/inference/vulkan/libponder-vulkan.so" "$dest/lib/"
if [ "$what" != bench ]; then
    cp "$build/tests/cuda/test-cuda" "$dest/bin/"
    [ -x "$build/tests/vulkan/test-vulkan" ] && cp "$build/tests/vulkan/test-vulkan" "$dest/bin/"
fi
if [ "$what" != test ]; then
    cp "$build/inference/cuda/libponder-cuda.so" "$dest/lib/"
    cp "${PONDER_INFER:-$build/inference/ponder-infer}" "$dest/bin/ponder-infer"
fi
# models "none": no shared/ at all (unpack-carry.sh then unpacks tests/data there)
if [ "$models" != none ]; then
    shared=../shared
    # a clone without ../shared: the subset of tests/data that the build unpacked
    [ -f "$shared/models/reference.json" ] || shared=$build/tests/data
    mkdir -p "$dest/shared/models" "$dest/shared/models2" "$dest/shared/tokenizers/deepseek-r1-distill-qwen"
    cp "$shared/models/reference.json" "$dest/shared/models/"
    # xz: the tokenizer (only `synth` needs it) shrinks from 7 MB to 1.5 MB
    xz -9 -c "$shared/tokenizers/deepseek-r1-distill-qwen/tokenizer.json" \
        >"$dest/shared/tokenizers/deepseek-r1-distill-qwen/tokenizer.json.xz"
    cp "$shared/tokenizers/deepseek-r1-distill-qwen/tokenizer_config.json" "$dest/shared/tokenizers/deepseek-r1-distill-qwen/"
    # models2: qwen3 and the IQ types
    cp "$shared/models2/reference.json" "$shared"/models2/*.gguf "$dest/shared/models2/"
    case "$models" in
    all) cp "$shared"/models/*.gguf "$dest/shared/models/" ;;
    quick) for f in qwen2-q4_k_m llama-q6_k llama-q8_0 qwen2-bf16 qwen2-q2_k qwen2-q5_1; do
               if [ -f "$shared/models/$f.gguf" ]; then cp "$shared/models/$f.gguf" "$dest/shared/models/"; fi
           done ;;
    esac
fi
strip "$dest"/bin/* "$dest"/lib/*.so
# the kernels' machine code compresses well: unpack-carry.sh restores bin/ and lib/ there
# (one xz stream with a window larger than the module: test-cuda holds the same kernels,
# so together they cost little more than one)
tar -C "$dest" -cf - bin lib | xz -9e -T1 --lzma2=dict=64MiB >"$dest/binaries.tar.xz"
rm -rf "$dest/bin" "$dest/lib"
du -sh "$dest"
