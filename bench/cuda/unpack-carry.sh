#!/usr/bin/env bash
# Sourced by the device-side scripts: unpacks what bench/cuda/pack.sh compressed.
c=.carry/cuda
if [ -f $c/binaries.tar.xz ] && [ ! -d /tmp/cuda-carry/bin ]; then
    mkdir -p /tmp/cuda-carry && tar -C /tmp/cuda-carry -xJf $c/binaries.tar.xz
fi
bin=/tmp/cuda-carry/bin
export PONDER_MODULE_DIR=/tmp/cuda-carry/lib
export PONDER_SHARED=$PWD/$c/shared
# packed without models: the repository's own subset of ../shared (tests/data) instead
if [ ! -f $c/shared/models/reference.json ]; then
    [ -f /tmp/shared.stamp ] || python3 tools/test-data.py unpack /tmp/shared /tmp/shared.stamp >/dev/null
    export PONDER_SHARED=/tmp/shared PONDER_CUDA_TEST_SUBSET=1
fi
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
