#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures and builds edgemq (Release) into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@"
ninja -C build -j"$(nproc)"
