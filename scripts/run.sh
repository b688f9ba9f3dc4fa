#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies, builds, and runs the gateway on its embedded defaults
# (MQTT on 127.0.0.1:1883, anonymous access). Extra arguments go to edgemq.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DEDGEMQ_BUILD_TESTS=OFF
exec build/gateway/edgemq "$@"
