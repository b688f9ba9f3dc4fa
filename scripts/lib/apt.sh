# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Sourced by the scripts that install Debian packages they need (bash).
#   apt_need PKG...          installs those not installed yet (PKG may be name:arch)
#   apt_need_arm64_cross     the arm64 cross toolchain and the :arm64 libraries edgemq links

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0

apt_need() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    echo "installing: ${missing[*]}"
    if [ "$apt_updated" = 0 ]; then
        as_root apt-get update -q
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

apt_need_arm64_cross() {
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        echo "adding the arm64 architecture to dpkg (multiarch) for the arm64 libraries"
        as_root dpkg --add-architecture arm64
        apt_updated=0
    fi
    # The arm64 twins of the lib*-dev packages that scripts/install-deps.sh installs for the
    # build machine (Boost, OpenSSL, toml++, spdlog, ...), and fmt, which spdlog's headers use.
    local libs=() p
    # shellcheck disable=SC2013 # words, not lines: the list has several names a line
    for p in $(sed -n '/^packages=(/,/^)/p' "$(dirname "${BASH_SOURCE[0]}")/../install-deps.sh"); do
        case "$p" in lib*-dev) libs+=("$p:arm64") ;; esac
    done
    apt_need cmake ninja-build dpkg-dev file crossbuild-essential-arm64 "${libs[@]}" libfmt-dev:arm64
}
