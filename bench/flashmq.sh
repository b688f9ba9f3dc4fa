#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds FlashMQ, the third broker of bench/run.sh, from a source tarball, and prints the path of
# the binary on stdout. The build lives in build-flashmq/ (ignored by git, like every /build*/).
#   bench/flashmq.sh                          # ../shared/peers/flashmq-1.26.2.tar.gz
#   bench/flashmq.sh path/to/flashmq-X.Y.Z.tar.gz [OUT_DIR]
# Needs g++, CMake, Ninja and libssl-dev (scripts/install-deps.sh installs all of them). It takes
# about 15 minutes at -j1 on 2 cores; JOBS=N builds with N jobs. Nothing is installed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tarball=${1:-$repo/../shared/peers/flashmq-1.26.2.tar.gz}
out=${2:-$repo/build-flashmq}
jobs=${JOBS:-1}

die() { echo "flashmq.sh: $*" >&2; exit 1; }
[[ -f $tarball ]] || die "no tarball at $tarball (FlashMQ's source: github.com/halfgaar/FlashMQ releases)"
for tool in cmake ninja g++; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh)"
done

tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
top=$(tar -tzf "$tarball" | sed -n '1s|/.*||p' || true) # the first entry's top directory
[[ -n $top ]] || die "$tarball is empty"

src=$out/src/$top
bin=$out/$top
if [[ ! -f $src/CMakeLists.txt ]]; then
    mkdir -p "$out/src"
    tar -xzf "$tarball" -C "$out/src"
fi
if [[ ! -f $bin/build.ninja ]]; then
    nice -n 15 cmake -S "$src" -B "$bin" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
nice -n 15 ninja -C "$bin" -j "$jobs" flashmq >&2
[[ -x $bin/flashmq ]] || die "the build did not produce $bin/flashmq"
echo "$bin/flashmq"
