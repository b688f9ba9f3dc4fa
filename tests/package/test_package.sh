#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The .deb, end to end: builds it with scripts/package.sh, inspects it (files, conffiles,
# Depends from shlibdeps), runs lintian, installs it with dpkg, checks the installed binary,
# unit and user, runs the binary as that user (its retained store lands in /var/lib/edgemq),
# reinstalls it over itself (the upgrade path of the maintainer scripts),
# removes it (configuration and data stay) and purges it (everything goes, the user too).
#
# Needs root and dpkg: without them it prints why and exits 77, which CTest counts as skipped.
# It does not touch an edgemq package that was on the machine before (skips, see below).
# Whatever happens, it purges what it installed and deletes its temporary files.
set -euo pipefail
cd "$(dirname "$0")/../.."

skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
step() {
    echo "== $*"
}

[ "$(id -u)" -eq 0 ] || skip "installs a package: run as root"
command -v dpkg >/dev/null || skip "not a Debian-based system (no dpkg)"
if dpkg-query -W -f='${Status}' edgemq 2>/dev/null | grep -qv '^unknown ok not-installed'; then
    if [ "${EDGEMQ_PACKAGE_TEST_REPLACE:-}" != 1 ]; then
        skip "an edgemq package is already on this machine" \
             "($(dpkg-query -W -f='${Status} ${Version}' edgemq));" \
             "this test would replace and purge it. EDGEMQ_PACKAGE_TEST_REPLACE=1 lets it."
    fi
    dpkg -P edgemq
fi
if getent passwd edgemq >/dev/null; then
    skip "a user 'edgemq' exists without the package; purging the package would delete it"
fi

. scripts/lib/apt.sh
# systemd for systemd-analyze; man-db because it runs `man` on the unit's Documentation=.
# mosquitto-clients: a retained publish to the installed binary.
apt_need lintian dpkg-dev file systemd man-db mosquitto-clients

work=$(mktemp -d /tmp/edgemq-package-test.XXXXXX)
installed=0
cleanup() {
    local rc=$?
    if [ "$installed" = 1 ]; then
        dpkg -P edgemq >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT

step "build"
scripts/package.sh --out "$work" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "scripts/package.sh"; }
arch=$(dpkg --print-architecture)
deb=$(ls "$work"/edgemq_*_"$arch".deb)
echo "$deb"

step "contents (dpkg-deb -c)"
dpkg-deb -c "$deb" | awk '{print $1, $2, $NF}' >"$work/contents"
cat "$work/contents"
expect_entry() { # mode path
    grep -qx -- "$1 root/root ./$2" "$work/contents" || fail "dpkg-deb -c: no '$1 root/root ./$2'"
}
expect_entry -rwxr-xr-x usr/bin/edgemq
expect_entry -rw-r--r-- etc/edgemq/edgemq.toml
expect_entry -rw-r--r-- lib/systemd/system/edgemq.service
expect_entry -rw-r--r-- lib/udev/rules.d/60-edgemq-serial.rules
expect_entry drwxr-xr-x var/lib/edgemq/
expect_entry -rw-r--r-- usr/share/man/man1/edgemq.1.gz
expect_entry -rw-r--r-- usr/share/doc/edgemq/copyright
expect_entry -rw-r--r-- usr/share/doc/edgemq/changelog.gz
cmp -s <(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./etc/edgemq/edgemq.toml) config/edgemq.toml \
    || fail "the packaged /etc/edgemq/edgemq.toml is not config/edgemq.toml"
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/man/man1/edgemq.1.gz | gzip -t \
    || fail "edgemq.1.gz is not gzip"

step "control (dpkg-deb -I)"
dpkg-deb -I "$deb"
[ "$(dpkg-deb -I "$deb" conffiles)" = "/etc/edgemq/edgemq.toml" ] || fail "conffiles"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "Architecture"
[ "$(dpkg-deb -f "$deb" Section)" = "net" ] || fail "Section"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in adduser libc6 libstdc++6 libssl3 libtomlplusplus3 libspdlog1.10-fmt9 libfmt9 libsqlite3-0 \
           libsystemd0 libserialport0 libmodbus5; do
    # shlibdeps writes each library with a minimum version: "libssl3 (>= 3.0.0)".
    [[ ", $depends," == *", $lib "[\(,]* || ", $depends," == *", $lib,"* ]] \
        || fail "Depends has no $lib: $depends"
done
for script in postinst prerm postrm; do
    dpkg-deb -I "$deb" "$script" | sh -n || fail "$script: syntax"
done

step "lintian"
# Tags that remain are overridden, each with its reason, in packaging/deb/lintian-overrides.
lintian_rc=0
lintian --fail-on error,warning --display-info --show-overrides "$deb" >"$work/lintian" 2>&1 || lintian_rc=$?
grep -v 'running with root privileges' "$work/lintian" || true
[ "$lintian_rc" -eq 0 ] || fail "lintian reports errors or warnings (above)"

step "install (dpkg -i)"
installed=1
dpkg -i "$deb"
[ "$(dpkg-query -W -f='${Status}' edgemq)" = "install ok installed" ] || fail "not installed"
getent passwd edgemq >/dev/null || fail "no user edgemq"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd edgemq)
[ "$uid" -lt 1000 ] || fail "edgemq is not a system user (uid $uid)"
[ "$home" = /var/lib/edgemq ] || fail "home of edgemq is $home"
echo "user: $(id edgemq) home=$home shell=$shell"
id -nG edgemq | tr ' ' '\n' | grep -qx dialout || fail "edgemq is not in group dialout"
id -nG edgemq | tr ' ' '\n' | grep -qx edgemq || fail "edgemq is not in group edgemq"
[ "$(stat -c '%U:%G %a' /var/lib/edgemq)" = "edgemq:edgemq 750" ] \
    || fail "/var/lib/edgemq is $(stat -c '%U:%G %a' /var/lib/edgemq)"

step "the installed binary"
/usr/bin/edgemq check-config /etc/edgemq/edgemq.toml || fail "check-config on the shipped config"
printf '[broker]\nmax_inflght_messages = 1\n' >"$work/bad.toml"
chmod 0644 "$work/bad.toml"
chmod 0755 "$work"
if /usr/bin/edgemq check-config "$work/bad.toml"; then fail "check-config accepted a bad file"; fi
runuser -u edgemq -- /usr/bin/edgemq check-config /etc/edgemq/edgemq.toml \
    || fail "check-config as user edgemq"
for command in 'check\\-config' passwd ctl ports; do
    zcat /usr/share/man/man1/edgemq.1.gz | grep -q "^\.B.* $command" || fail "man page: no $command"
done

step "the installed binary runs as user edgemq and keeps its state in /var/lib/edgemq"
# The shipped file binds 0.0.0.0:1883, which this machine may be using: the same [broker]
# settings (persistence on, its default file) with a listener on a port the kernel picks.
{
    sed -n '/^\[broker\]/,/^#\[log\]/p' /etc/edgemq/edgemq.toml
    printf '[[listeners]]\nbind = "127.0.0.1:0"\n\n[admin]\nenabled = false\n'
} >"$work/run.toml"
chmod 0644 "$work/run.toml"
# setpriv execs edgemq as the user (runuser would stay its parent and turn SIGTERM into its own).
setpriv --reuid=edgemq --regid=edgemq --init-groups /usr/bin/edgemq --config "$work/run.toml" \
    2>"$work/run.log" &
service_pid=$!
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*ready: mqtt tcp on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/run.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/run.log"; fail "edgemq did not start as user edgemq"; }
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -r -t package-test/state -m kept \
    || fail "mosquitto_pub to the installed edgemq"
kill -TERM "$service_pid"
wait "$service_pid" || { cat "$work/run.log"; fail "edgemq did not stop cleanly"; }
[ "$(stat -c '%U' /var/lib/edgemq/retained.db)" = edgemq ] \
    || fail "no /var/lib/edgemq/retained.db owned by edgemq"
grep -q 'edgemq stopped' "$work/run.log" || fail "no clean stop in the log"

step "systemd-analyze verify"
# Warnings about the host (no systemd running in a container) are printed; errors fail.
systemd-analyze verify /lib/systemd/system/edgemq.service || fail "systemd-analyze verify"

step "reinstall over itself (postinst configure with the old version: the upgrade path)"
echo "# edited by the package test" >>/etc/edgemq/edgemq.toml
dpkg -i "$deb"
tail -n1 /etc/edgemq/edgemq.toml | grep -q 'edited by the package test' \
    || fail "reinstall replaced an edited conffile"
/usr/bin/edgemq check-config /etc/edgemq/edgemq.toml || fail "check-config after reinstall"

step "remove (dpkg -r): configuration and data stay"
echo data >/var/lib/edgemq/test-data
chown edgemq:edgemq /var/lib/edgemq/test-data
dpkg -r edgemq
[ "$(dpkg-query -W -f='${Status}' edgemq)" = "deinstall ok config-files" ] || fail "status after remove"
[ ! -e /usr/bin/edgemq ] || fail "/usr/bin/edgemq left after remove"
[ ! -e /lib/systemd/system/edgemq.service ] || fail "unit left after remove"
[ -f /etc/edgemq/edgemq.toml ] || fail "remove deleted the configuration"
[ -f /var/lib/edgemq/test-data ] || fail "remove deleted the data"
getent passwd edgemq >/dev/null || fail "remove deleted the user"

step "purge (dpkg -P): configuration, data and user go"
dpkg -P edgemq
installed=0
dpkg-query -W -f='${Status}' edgemq 2>/dev/null | grep -q 'not-installed' \
    || [ -z "$(dpkg-query -W -f='${Status}' edgemq 2>/dev/null)" ] || fail "status after purge"
[ ! -e /etc/edgemq ] || fail "/etc/edgemq left after purge"
[ ! -e /var/lib/edgemq ] || fail "/var/lib/edgemq left after purge"
! getent passwd edgemq >/dev/null || fail "user edgemq left after purge"
! getent group edgemq >/dev/null || fail "group edgemq left after purge"

echo "PASS: package $(basename "$deb")"
