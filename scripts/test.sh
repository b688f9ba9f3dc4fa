#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies (with the test clients and peers), builds, and runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh -DEDGEMQ_BUILD_TESTS=ON
ctest --test-dir build --output-on-failure --timeout 300 -j2
