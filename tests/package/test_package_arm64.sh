#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The arm64 package and unit tests, by scripts/arm64-test.sh (cross-built, run under qemu).
# It adds the arm64 architecture to dpkg and installs the cross toolchain, so it runs only as
# root on a Debian-based system; otherwise it prints why and exits 77 (CTest: skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "SKIP: installs the arm64 cross toolchain: run as root"; exit 77; }
command -v dpkg >/dev/null || { echo "SKIP: not a Debian-based system (no dpkg)"; exit 77; }
out=$(mktemp -d /tmp/edgemq-arm64-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
scripts/arm64-test.sh --out "$out"
