#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies (with the test clients and peers), builds, and runs every test suite;
# then the fuzzers and the sanitizer builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh -DEDGEMQ_BUILD_TESTS=ON
ctest --test-dir build --output-on-failure --timeout 300 -j2
# Hardening: every fuzz target for FUZZ_SECONDS each (build-fuzz), then the unit, conformance
# and integration suites under ASan + UBSan (build-asan) and the in-process broker tests under
# TSan (build-tsan). See "Fuzzing and sanitizers" in README.md.
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
scripts/sanitize.sh asan
scripts/sanitize.sh tsan
