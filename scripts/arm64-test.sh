#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cross-builds the unit tests for arm64 and runs them under qemu-aarch64-static: the arm64
# build checked on an amd64 machine. Installs the cross toolchain, the :arm64 libraries and
# qemu-user-static with apt-get (sudo when not root). JOBS=N limits the compile jobs.
#   scripts/arm64-test.sh [Catch2 arguments, e.g. '[codec]']
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_dir=${BUILD_DIR:-build-arm64}

. scripts/lib/apt.sh
apt_need_arm64_cross
# Catch2 v2 is header-only; the build machine's package (Multi-Arch: foreign) serves arm64.
apt_need catch2 qemu-user-static

cmake -S . -B "$build_dir" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$root/packaging/deb/aarch64-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DEDGEMQ_BUILD_TESTS=ON -DEDGEMQ_BUILD_BENCH=OFF
cmake --build "$build_dir" --target edgemq_unit_tests -j"${JOBS:-$(nproc)}"

exe="$build_dir/tests/edgemq_unit_tests"
if ! file -b "$exe" | grep -q 'ARM aarch64'; then
    echo "arm64-test.sh: $exe is not an arm64 program" >&2
    exit 1
fi
# The arm64 dynamic loader and libc come from the cross toolchain's tree, the other libraries
# from /usr/lib/aarch64-linux-gnu (multiarch). Binfmt is not needed: qemu runs the program.
QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64-static "$exe" "$@"
