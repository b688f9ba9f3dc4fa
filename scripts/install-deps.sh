#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what edgemq needs from Debian 12 / Ubuntu packages.
#   scripts/install-deps.sh          build and run dependencies
#   scripts/install-deps.sh --test   plus the real clients and peers the tests drive
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

packages=(
    build-essential cmake ninja-build pkg-config
    libboost1.81-dev libboost-json1.81-dev libssl-dev libtomlplusplus-dev libspdlog-dev
    libsqlite3-dev libsystemd-dev libserialport-dev libmodbus-dev
    mosquitto-clients
)
test_packages=(
    catch2 python3 python3-paho-mqtt mosquitto socat openssl
    # tests/package: build the .deb (dpkg-shlibdeps, file), lint it, verify the systemd unit
    dpkg-dev file lintian systemd man-db
    # tests/dashboard: the dashboard in headless Chromium (Playwright from the npm registry)
    chromium
    # scripts/fuzz.sh: libFuzzer targets with ASan + UBSan (clang 14's runtimes);
    # scripts/sanitize.sh builds with the same compiler
    clang clang-14 libfuzzer-14-dev libclang-rt-14-dev
)

want=("${packages[@]}")
if [ "${1:-}" = "--test" ]; then
    want+=("${test_packages[@]}")
    # Node.js for tests/dashboard and tests/mqttjs, unless one is installed already (e.g. from
    # NodeSource, whose nodejs package conflicts with Debian's npm).
    command -v npm >/dev/null || want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

had_mosquitto=$(dpkg-query -W -f='${Status}' mosquitto 2>/dev/null | grep -c "install ok installed" || true)
echo "installing: ${missing[*]}"
as_root apt-get update -q
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

# The tests start their own Mosquitto on free ports; the package's service would sit on 1883,
# where edgemq itself listens by default. Stop it only if this script installed it.
if [ "$had_mosquitto" = "0" ] && [[ " ${missing[*]} " == *" mosquitto "* ]] && command -v systemctl >/dev/null; then
    echo "note: stopping and disabling the mosquitto service the package started (edgemq uses 1883)"
    as_root systemctl disable --now mosquitto 2>/dev/null || true
fi
