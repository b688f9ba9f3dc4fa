#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What [broker] persistence costs: fan-in 16->1 at QoS 1 with every message retained (each
# publisher replaces the retained message of its topic, as sensors publishing their state do),
# on edgemq without and with persistence and on Mosquitto with `persistence true`; then edgemq is
# stopped and started again to show what it restored. Prints a Markdown table; nothing is timed
# as a pass/fail. Usage: bench/retained.sh [BUILD_DIR] (default: build); RUNS=3 MESSAGES=20000.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
edgemq=$build/gateway/edgemq
tool=$build/bench/edgemq_bench
runs=${RUNS:-3}
messages=${MESSAGES:-20000}
[[ -x $edgemq && -x $tool ]] || { echo "build edgemq and edgemq_bench in $build first" >&2; exit 1; }

work=$(mktemp -d /tmp/edgemq-retained-bench.XXXXXX)
pid=""
stop() {
    if [[ -n $pid ]]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    fi
}
trap 'stop; rm -rf "$work"' EXIT

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# start KIND: edgemq-off, edgemq-on or mosquitto (both keep their files in $work).
start() {
    case $1 in
    edgemq-*)
        cat >"$work/edgemq.toml" <<TOML
[broker]
max_inflight_messages = 100
max_queued_messages = 0
persistence = $([[ $1 == edgemq-on ]] && echo true || echo false)
persistence_file = "$work/retained.db"
[admin]
enabled = false
[[listeners]]
bind = "127.0.0.1:$port"
TOML
        "$edgemq" --config "$work/edgemq.toml" 2>"$work/broker.log" &
        ;;
    mosquitto)
        printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 100\nmax_queued_messages 0\npersistence true\npersistence_location %s/\nlog_dest none\n%s' \
            "$port" "$work" "$([[ $(id -u) == 0 ]] && echo 'user root')" >"$work/mosquitto.conf"
        mosquitto -c "$work/mosquitto.conf" 2>"$work/broker.log" &
        ;;
    esac
    pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$1 did not start" >&2
    cat "$work/broker.log" >&2
    exit 1
}

# rate: the run's msg/s, with what was lost or duplicated when anything was.
rate() {
    "$tool" --port "$port" --scenario fanin --publishers 16 --subscribers 1 --qos 1 --retain 1 \
        --messages "$messages" | sed -n 's/.*"msgs_per_sec":\([0-9]*\).*"lost":\([0-9]*\),"dup":\([0-9]*\).*/\1 \2 \3/p' |
        awk '{ printf "%s%s", $1, ($2 + $3 > 0 ? " (lost " $2 ", dup " $3 ")" : "") }'
}

echo "| broker | retained msg/s, fan-in 16->1, QoS 1 ($runs runs of $((16 * messages)) messages) |"
echo "|---|---|"
for kind in edgemq-off edgemq-on mosquitto; do
    rates=()
    for _ in $(seq "$runs"); do
        rm -f "$work"/retained.db* "$work"/mosquitto.db # each run starts with no retained message
        start "$kind"
        rates+=("$(rate)")
        stop
    done
    echo "| $kind | ${rates[*]} |"
done
rm -f "$work"/retained.db*
start edgemq-on
rate >/dev/null
stop
start edgemq-on
echo
echo "edgemq restarted with persistence: $(grep -o '[0-9]* retained messages restored' "$work/broker.log")"
stop
