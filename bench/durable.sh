#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What durable sessions cost (issue 15): 16 publishers -> 1 subscriber with a persistent session,
# QoS 1, open loop (--pacing ack: as fast as the broker acknowledges), on edgemq with
# persistence off, on (sync = "normal") and on with sync = "full", and on Mosquitto with
# `persistence true`. Each row is a fresh broker with an empty state directory; the rows
# alternate brokers, REPEAT times. Builds nothing. Prints one line per run and a Markdown table
# of the medians; every row reports lost messages (acknowledged and never delivered).
set -euo pipefail

usage() {
    echo "usage: bench/durable.sh [--messages N] [--repeat N] [BUILD_DIR]   (default build, 20000 per publisher, 3)"
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
messages=20000
repeat=3
while (($#)); do
    case $1 in
    --messages) messages=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd); shift ;;
    esac
done
edgemq=${EDGEMQ:-$build/gateway/edgemq}
tool=${EDGEMQ_BENCH:-$build/bench/edgemq_bench}
mosquitto=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
[[ -x $edgemq && -x $tool ]] || { echo "durable.sh: build edgemq and edgemq_bench first" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts broker row $1 on a fresh state directory; sets pid and port.
start() {
    rm -rf "$work/state" && mkdir -p "$work/state"
    port=$(free_port)
    case $1 in
    edgemq-off | edgemq-normal | edgemq-full)
        local persistence=true sync=normal
        [[ $1 == edgemq-off ]] && persistence=false
        [[ $1 == edgemq-full ]] && sync=full
        printf '[broker]\npersistence = %s\nsync = "%s"\npersistence_file = "%s"\n[[listeners]]\nbind = "127.0.0.1:%s"\n[admin]\nenabled = false\n' \
            "$persistence" "$sync" "$work/state/retained.db" "$port" >"$work/edgemq.toml"
        "$edgemq" --config "$work/edgemq.toml" >"$work/broker.log" 2>&1 &
        ;;
    mosquitto)
        # At its default limits, as bench/run.sh runs every broker.
        printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n%s' \
            "$port" "$work/state" "$([[ $(id -u) == 0 ]] && echo 'user root')" >"$work/mosquitto.conf"
        "$mosquitto" -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
        ;;
    esac
    pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "durable.sh: $1 did not start:" >&2
    cat "$work/broker.log" >&2
    exit 1
}

stop() {
    kill "$pid" && wait "$pid" 2>/dev/null || true
    pid=
}

rows="edgemq-off edgemq-normal edgemq-full mosquitto"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= repeat; r++)); do
    for row in $rows; do
        start "$row"
        line=$("$tool" --port "$port" --scenario fanin --publishers 16 --subscribers 1 --qos 1 \
            --messages "$messages" --pacing ack --persistent 1 --timeout 120 2>&1 | grep '^{' | tail -n 1) || true
        stop
        echo "$row $line" | tee -a "$work/results" >&2
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

/usr/bin/python3 - "$work/results" <<'EOF'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, _, js = line.partition(" ")
    try:
        rows.setdefault(name, []).append(json.loads(js))
    except ValueError:
        rows.setdefault(name, []).append(None)
names = {"edgemq-off": "edgemq, persistence off", "edgemq-normal": "edgemq, persistence on (sync normal)",
         "edgemq-full": "edgemq, persistence on (sync full)", "mosquitto": "Mosquitto 2.0.11, persistence true"}
print("| broker | delivered msg/s | acknowledged msg/s | p50 / p99 latency | lost (acknowledged, never delivered) |")
print("|---|--:|--:|--:|--:|")
for key, runs in rows.items():
    ok = [r for r in runs if r]
    if not ok:
        print(f"| {names[key]} | failed | | | |")
        continue
    med = lambda k: statistics.median(r[k] for r in ok)
    print(f"| {names[key]} | {med('msgs_per_sec'):,.0f} | {med('acked_per_sec'):,.0f} | "
          f"{med('p50_us')/1000:.1f} / {med('p99_us')/1000:.1f} ms | {sum(r['lost'] for r in ok)} |")
EOF
