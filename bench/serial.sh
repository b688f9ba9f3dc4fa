#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Serial devices (issue #4): the edgemq binary with 32 simulated devices on ptys, each printing
# 200 lines a second; every line published? p99 latency from the line's last byte to the
# subscriber, and the gateway's CPU. Prints a Markdown table (stdout) and JSON lines (stderr);
# the numbers in docs/PERFORMANCE.md ("Serial devices") are copied from it by hand.
# Builds nothing: build first (cmake --build build -j1 --target edgemq edgemq_serial_bench).
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: bench/serial.sh [--runs N] [--seconds S] [--devices N] [--rate R] [BUILD_DIR]
  BUILD_DIR   CMake build directory with gateway/edgemq and bench/edgemq_serial_bench
              (default: build)
  --runs      runs per pty kind (default: 3)
  --seconds   length of the writing phase of each run (default: 20)
  --devices   simulated devices (default: 32)
  --rate      lines a second per device (default: 200)
environment: EDGEMQ and EDGEMQ_SERIAL_BENCH override the two binaries.
USAGE
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
runs=3
seconds=20
devices=32
rate=200
while (($#)); do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd); shift ;;
    esac
done

edgemq=${EDGEMQ:-$build/gateway/edgemq}
tool=${EDGEMQ_SERIAL_BENCH:-$build/bench/edgemq_serial_bench}
die() { echo "serial.sh: $*" >&2; exit 1; }
[[ -x $edgemq ]] || die "no gateway at $edgemq (build target edgemq first)"
[[ -x $tool ]] || die "no benchmark at $tool (build target edgemq_serial_bench first)"
command -v socat >/dev/null || die "socat is not installed (apt install socat)"

results=$(mktemp /tmp/edgemq-serial-bench.XXXXXX.jsonl)
trap 'rm -f "$results"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
# Alternate the two kinds so that both see the same background load.
for ((i = 1; i <= runs; i++)); do
    for kind in socat direct; do
        out=$("$tool" --edgemq "$edgemq" --devices "$devices" --rate "$rate" \
            --seconds "$seconds" --pty "$kind")
        echo "$out" | head -n 1 >&2
        echo "$out" | tail -n 1 | tee -a "$results" >&2
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $cpu, Linux $(uname -r)," \
    "edgemq $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)," \
    "load average $load_before before, $load_after after, $(($(date +%s) - started)) s"
echo
/usr/bin/python3 - "$results" <<'PY'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1])]

def span(values, fmt="{:,.0f}"):
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else fmt.format(lo) + "–" + fmt.format(hi)

print("| pty | runs | lines published | lost / dup | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs"
      " | edgemq CPU | socat CPU |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for kind in ("socat", "direct"):
    r = [x for x in rows if x["pty"] == kind]
    if not r:
        continue
    head = r[0]
    print(f"| {kind} ({head['devices']} × {head['rate']}/s) | {len(r)} "
          f"| {sum(x['published'] for x in r):,} of {sum(x['lines'] for x in r):,} "
          f"| {sum(x['lost'] for x in r)} / {sum(x['dup'] for x in r)} "
          f"| {span([x['p50_us'] for x in r])} | {span([x['p90_us'] for x in r])} "
          f"| {span([x['p99_us'] for x in r])} | {span([x['p999_us'] for x in r])} "
          f"| {span([x['max_us'] for x in r])} "
          f"| {span([x['cpu_edgemq_pct'] for x in r], '{:.0f}')} % "
          + (f"| {span([x['cpu_socat_pct'] for x in r], '{:.0f}')} % |" if kind == "socat"
             else "| – |"))
PY
