#!/usr/bin/env bash
# Sourced by the device-side scripts: unpacks what bench/cuda/pack.sh compressed.
c=.carry/cuda
if [ -f $c/binaries.tar.xz ] && [ ! -d /tmp/cuda-carry/bin ]; then
    mkdir -p /tmp/cuda-carry && tar -C /tmp/cuda-carry -xJf $c/binaries.tar.xz
fi
bin=/tmp/cuda-carry/bin
export PONDER_MODULE_DIR=/tmp/cuda-carry/lib
export PONDER_SHARED=$PWD/$c/shared
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
