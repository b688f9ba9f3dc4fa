#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The arm64 build, checked on an amd64 machine: cross-builds the arm64 package together with the
# unit tests (one tree, the package's flags), inspects the package, and runs the unit tests
# under qemu-aarch64-static. Installs the cross toolchain, the :arm64 libraries and
# qemu-user-static with apt-get (sudo when not root). JOBS=N limits the compile jobs.
#   scripts/arm64-test.sh [--out DIR] [Catch2 arguments, e.g. '[codec]']
# --out DIR: where the .deb goes (default: the top directory, as scripts/package.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-deb-arm64}
out=.
if [ "${1:-}" = --out ]; then
    out=$2
    shift 2
fi

. scripts/lib/apt.sh
apt_need_arm64_cross
# Before the configure step: the toolchain file hands qemu to CMake, which lists the test cases
# with it.
apt_need qemu-user-static

scripts/package.sh --arch arm64 --with-unit-tests --build-dir "$build_dir" --out "$out"

fail() {
    echo "arm64-test.sh: $*" >&2
    exit 1
}
deb=$(ls "$out"/edgemq_*_arm64.deb)
echo "== $deb"
dpkg-deb -I "$deb"
[ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || fail "Architecture is not arm64"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libstdc++6 libssl3 libsqlite3-0 libsystemd0 libtomlplusplus3 libserialport0 libmodbus5; do
    [[ ", $depends," == *", $lib "[\(,]* || ", $depends," == *", $lib,"* ]] || fail "Depends has no $lib: $depends"
done
rm -rf "$build_dir/deb-contents"
dpkg-deb -x "$deb" "$build_dir/deb-contents"
packaged="$build_dir/deb-contents/usr/bin/edgemq"
file -b "$packaged" | grep -q 'ARM aarch64' || fail "usr/bin/edgemq is not an arm64 program"

exe="$build_dir/tests/edgemq_unit_tests"
file -b "$exe" | grep -q 'ARM aarch64' || fail "$exe is not an arm64 program"
# The arm64 loader and libraries come from multiarch (/lib/ld-linux-aarch64.so.1 and
# /usr/lib/aarch64-linux-gnu, libc6:arm64 and the :arm64 libraries), as on a Raspberry Pi. Not
# QEMU_LD_PREFIX=/usr/aarch64-linux-gnu: with the cross toolchain's own libc there, a program
# hangs in pthread_create under Debian 12's qemu 7.2. Binfmt is not needed: qemu runs it.
echo "== the unit tests under qemu-aarch64-static"
qemu-aarch64-static "$exe" "$@"
# The packaged binary starts on arm64 too: check-config on the reference configuration.
echo "== the packaged edgemq under qemu-aarch64-static"
qemu-aarch64-static "$packaged" check-config config/edgemq.toml
