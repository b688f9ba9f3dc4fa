#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Modbus RTU (issue 16): polls per second and poll latency on one bus of N slaves, at 9600 and
# 115200 baud, with the libmodbus test slave (tests/support/modbus_slave.cpp) on the other end
# of the line, which is either
#   - pty: a socat pty pair. A pty has no baud timing: bytes pass at memory speed whatever the
#     baud, so this measures the software's ceiling, not the wire's;
#   - wire: two ptys joined by bench/modbus_wire.py, which gives every byte its character time
#     at the baud on one half-duplex line (an emulated RS-485 wire; no line noise, and the
#     slaves answer at once, as few real ones do).
# Two masters per run, one after the other on a fresh bus:
#   - edgemq_modbus_poll (bench/modbus_poll.cpp): a libmodbus loop that polls like edgemq's scheduler
#     (round robin, one request per poll, the same frame delay) and times every poll: p50/p99;
#   - the edgemq binary with the bus in its config, every slave at the smallest poll_interval
#     (10ms): polls and failed polls per second from its {base}/{slave}/stats topics.
# The wire's limits for the same request are printed next to them. Prints a Markdown table (stdout) and JSON lines (stderr); docs/PERFORMANCE.md
# ("Modbus RTU") copies it by hand. Builds nothing: build edgemq, the test slave and the poller
# first (cmake --build build --target edgemq edgemq_modbus_slave edgemq_modbus_poll, with
# -DEDGEMQ_BUILD_TESTS=ON -DEDGEMQ_BUILD_BENCH=ON).
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: bench/modbus.sh [--runs N] [--seconds S] [--slaves N] [--bauds "9600 115200"]
                       [--lines "pty wire"] [BUILD_DIR]
  BUILD_DIR   CMake build directory with gateway/edgemq, tests/edgemq_modbus_slave and
              bench/edgemq_modbus_poll
              (default: build)
  --runs      runs per baud rate (default: 3)
  --seconds   length of each measurement (default: 10)
  --slaves    slaves on the bus (default: 4), each read as 2 input registers per poll
  --bauds     baud rates (default: "9600 115200")
  --lines     pty (socat, no baud timing) and/or wire (modbus_wire.py) (default: "pty wire")
environment: EDGEMQ, EDGEMQ_MODBUS_SLAVE and EDGEMQ_MODBUS_POLL override the binaries.
USAGE
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
runs=3
seconds=10
slaves=4
bauds="9600 115200"
lines="pty wire"
while (($#)); do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --slaves) slaves=$2; shift 2 ;;
    --bauds) bauds=$2; shift 2 ;;
    --lines) lines=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd); shift ;;
    esac
done

edgemq=${EDGEMQ:-$build/gateway/edgemq}
slave=${EDGEMQ_MODBUS_SLAVE:-$build/tests/edgemq_modbus_slave}
poll=${EDGEMQ_MODBUS_POLL:-$build/bench/edgemq_modbus_poll}
die() { echo "modbus.sh: $*" >&2; exit 1; }
[[ -x $edgemq ]] || die "no gateway at $edgemq (build target edgemq first)"
[[ -x $slave ]] || die "no test slave at $slave (build target edgemq_modbus_slave first)"
[[ -x $poll ]] || die "no poller at $poll (build target edgemq_modbus_poll first)"
for tool in socat mosquitto_sub; do
    command -v $tool >/dev/null || die "$tool is not installed"
done

work=$(mktemp -d /tmp/edgemq-modbus-bench.XXXXXX)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT


# edgemq's frame delay (drivers/modbus/src/bus.cpp): 3.5 characters of 8N1, at least 2 ms.
frame_delay_ms() { /usr/bin/python3 -c "import math; print(max(2, math.ceil(3.5 * 10 * 1000 / $1)))"; }

# A fresh bus: $work/bus/{dev,sim} joined by socat (pty) or modbus_wire.py (wire), and the
# slaves 1..N on sim.
start_bus() {
    local baud=$1 line=$2 ids
    rm -rf "$work/bus" && mkdir -p "$work/bus" && : >"$work/bus/control"
    if [[ $line == wire ]]; then
        /usr/bin/python3 "$repo/bench/modbus_wire.py" "$work/bus/dev" "$work/bus/sim" "$baud" \
            >"$work/bus/wire.log" &
        pids+=($!)
        for _ in $(seq 50); do grep -q ready "$work/bus/wire.log" 2>/dev/null && break; sleep 0.1; done
    else
        socat pty,raw,echo=0,link="$work/bus/dev" pty,raw,echo=0,link="$work/bus/sim" &
        pids+=($!)
        for _ in $(seq 50); do [[ -e $work/bus/sim ]] && break; sleep 0.1; done
    fi
    ids=$(seq -s, 1 "$slaves")
    "$slave" "$work/bus/sim" "$baud" "$work/bus/control" "$ids" input:1:0=1 >"$work/bus/slave.log" &
    pids+=($!)
    for _ in $(seq 50); do grep -q ready "$work/bus/slave.log" 2>/dev/null && break; sleep 0.1; done
}

# edgemq with the bus; prints one JSON line from the slaves' stats messages. Not to be run in
# $(...): edgemq (in pids, stopped by stop_all) would hold the substitution's pipe open.
run_edgemq() {
    local baud=$1 line=$2 conf=$work/edgemq.toml port="" i
    {
        printf '[[listeners]]\nbind = "127.0.0.1:0"\n[admin]\nenabled = false\n'
        printf '[broker]\nsys_interval = 0\n'
        printf '[[modbus]]\nname = "bench"\nmatch = { path = "%s" }\nbaud = %s\nparity = "none"\nresponse_timeout = "100ms"\n' \
            "$work/bus/dev" "$baud"
        for ((i = 1; i <= slaves; i++)); do
            printf '[[modbus.slaves]]\nid = %d\nname = "s%d"\npoll_interval = "10ms"\nstats_interval = "1s"\n' "$i" "$i"
            printf 'registers.a = { table = "input", address = 0 }\nregisters.b = { table = "input", address = 1 }\n'
        done
    } >"$conf"
    "$edgemq" --config "$conf" >/dev/null 2>"$work/edgemq.log" &
    pids+=($!)
    for _ in $(seq 100); do
        port=$(sed -n 's/.*ready: mqtt tcp on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/edgemq.log")
        [[ -n $port ]] && break
        sleep 0.1
    done
    [[ -n $port ]] || die "edgemq did not start: $(cat "$work/edgemq.log")"
    # Warm-up of a second, then the stats of `seconds` (+1 for the last message).
    sleep 1
    # -W ends it cleanly (a killed mosquitto_sub would lose its buffered output).
    mosquitto_sub -p "$port" -t 'edgemq/+/stats' -v -W $((seconds + 1)) >"$work/stats.txt" \
        2>/dev/null || true
    /usr/bin/python3 - "$work/stats.txt" "$baud" "$slaves" "$line" <<'PY'
import json, sys
first, last = {}, {}
for line in open(sys.argv[1]):
    topic, _, payload = line.partition(" ")
    s = json.loads(payload)
    first.setdefault(topic, s)
    last[topic] = s
secs = [(last[t]["ts"] - first[t]["ts"]) / 1000 for t in first]
span = max(secs) if secs else 0
polls = sum(last[t]["polls"] - first[t]["polls"] for t in first)
failed = sum(last[t]["failures"] - first[t]["failures"] for t in first)
print(json.dumps({"master": "edgemq", "line": sys.argv[4], "baud": int(sys.argv[2]),
                  "slaves": int(sys.argv[3]),
                  "seconds": span, "polls": polls, "failed": failed,
                  "polls_per_sec": polls / span if span else 0,
                  "asked_per_sec": 100 * int(sys.argv[3])}))
PY
}

results=$work/results.jsonl
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
for ((r = 1; r <= runs; r++)); do
    for line in $lines; do
        for baud in $bauds; do
            # bad_frames: requests the slaves could not parse (two run together, a bad CRC).
            start_bus "$baud" "$line"
            out=$("$poll" "$work/bus/dev" "$baud" "$seconds" "$slaves" 2 \
                "$(frame_delay_ms "$baud")" 100)
            bad=$(grep -c "bad frame" "$work/bus/slave.log" || true)
            echo "$out" | sed "s/^{/{\"master\":\"modbus_poll\",\"line\":\"$line\",/;
                s/}\$/,\"bad_frames\":$bad}/" | tee -a "$results" >&2
            stop_all
            start_bus "$baud" "$line"
            run_edgemq "$baud" "$line" >"$work/edgemq.json"
            bad=$(grep -c "bad frame" "$work/bus/slave.log" || true)
            sed "s/}\$/,\"bad_frames\":$bad}/" "$work/edgemq.json" | tee -a "$results" >&2
            stop_all
        done
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $cpu, Linux $(uname -r)," \
    "edgemq $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)," \
    "load average $load_before before, $load_after after, $(($(date +%s) - started)) s"
echo
/usr/bin/python3 - "$results" <<'PY'
import itertools, json, math, sys

rows = [json.loads(line) for line in open(sys.argv[1])]

def span(values, fmt="{:,.0f}"):
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else fmt.format(lo) + "–" + fmt.format(hi)

def wire_limit(baud, gap_ms=0.0):
    # One poll = FC 4 request (8 bytes) + reply of 2 registers (9 bytes), 10 bits a character
    # (8N1), and gap_ms of silence after it.
    return 1000 / (17 * 10 * 1000 / baud + gap_ms)

def frame_delay(baud):  # edgemq's, as frame_delay_ms() in the script
    return max(2, math.ceil(3.5 * 10 * 1000 / baud))

print("| line | baud | master | runs | polls/s | failed polls | bad frames | p50 ms | p99 ms"
      " | wire limit: bytes only / + frame delay |")
print("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|")
for line, baud, master in itertools.product(("pty", "wire"), sorted({x["baud"] for x in rows}),
                                            ("modbus_poll", "edgemq")):
    r = [x for x in rows if x["baud"] == baud and x["master"] == master and x["line"] == line]
    if not r:
        continue
    lat = (f"{span([x['p50_ms'] for x in r], '{:.2f}')} | {span([x['p99_ms'] for x in r], '{:.2f}')}"
           if master == "modbus_poll" else "– | –")
    name = ("libmodbus loop" if master == "modbus_poll"
            else f"edgemq ({r[0]['slaves']} × 10 ms asked: {r[0]['asked_per_sec']}/s)")
    print(f"| {line} | {baud} | {name} | {len(r)} | {span([x['polls_per_sec'] for x in r])} "
          f"| {sum(x['failed'] for x in r)} of {sum(x['polls'] + x['failed'] for x in r):,} "
          f"| {sum(x['bad_frames'] for x in r)} | {lat} "
          f"| {wire_limit(baud):.0f} / {wire_limit(baud, frame_delay(baud)):.0f} |")
PY
