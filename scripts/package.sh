#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the edgemq Debian package into the repository's top directory:
#   scripts/package.sh                  edgemq_<version>_amd64.deb (the build machine's arch)
#   scripts/package.sh --arch arm64     edgemq_<version>_arm64.deb, cross-built (Raspberry Pi)
# Options: --build-dir DIR (default build-deb, build-deb-arm64), --out DIR (default: the top
# directory), --with-unit-tests (also build tests/edgemq_unit_tests in the same tree, with the
# same flags: scripts/arm64-test.sh runs them under qemu).
# Installs what it needs with apt-get (sudo when not root); the arm64 build adds the arm64
# architecture to dpkg. JOBS=N limits the parallel compile jobs (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

host_arch=$(dpkg --print-architecture)
arch=$host_arch
build_dir=""
out=.
unit_tests=OFF
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch=$2; shift 2 ;;
        --build-dir) build_dir=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --with-unit-tests) unit_tests=ON; shift ;;
        -h|--help) sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "package.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

. scripts/lib/apt.sh

# CMAKE_SKIP_INSTALL_ALL_DEPENDENCY: cpack installs what the targets built below made, without
# building every other target of the tree first.
cmake_args=(-DEDGEMQ_BUILD_TESTS=$unit_tests -DEDGEMQ_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Release
            -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON)
targets=(edgemq edgemq_deb_docs)   # the program; the man page and changelog, gzipped
if [ "$unit_tests" = ON ]; then
    apt_need catch2   # header-only, Multi-Arch: foreign: serves the arm64 build too
    targets+=(edgemq_unit_tests)
fi
if [ "$arch" = "$host_arch" ]; then
    scripts/install-deps.sh
    apt_need dpkg-dev file
    build_dir=${build_dir:-build-deb}
elif [ "$arch" = arm64 ]; then
    apt_need_arm64_cross
    build_dir=${build_dir:-build-deb-arm64}
    cmake_args+=(-DCMAKE_TOOLCHAIN_FILE="$root/packaging/deb/aarch64-linux-gnu.cmake")
else
    echo "package.sh: --arch $arch: only $host_arch (native) and arm64 (cross) are supported" >&2
    exit 2
fi

# Debian's compiler and linker flags for the target (hardening: fortify, stack protector,
# relro, bindnow), as a package built by dpkg-buildpackage would get them.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
export DEB_HOST_ARCH=$arch
cxxflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
unset DEB_HOST_ARCH

cmake -S . -B "$build_dir" -G Ninja "${cmake_args[@]}" \
    -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags"
cmake --build "$build_dir" --target "${targets[@]}" -j"${JOBS:-$(nproc)}"

# dpkg-architecture -a: dpkg-shlibdeps then reads the target's binary (aarch64-linux-gnu-objdump)
# and looks up its libraries among the target architecture's packages.
rm -f "$build_dir"/edgemq_*.deb
if [ "$arch" != "$host_arch" ]; then
    export CC=aarch64-linux-gnu-gcc   # else dpkg-architecture warns that CC is not a cross compiler
fi
(cd "$build_dir" && dpkg-architecture -a"$arch" -c cpack -G DEB)
mkdir -p "$out"
deb=$(ls "$build_dir"/edgemq_*_"$arch".deb)
cp "$deb" "$out"/
echo "package: $out/$(basename "$deb")"
