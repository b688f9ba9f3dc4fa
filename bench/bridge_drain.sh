#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How fast edgemq's bridge forwards when the remote is not the limit (issue #14): edgemq_bench's
# publishers on the gateway, its subscriber on the remote end of the bridge, the remote a FlashMQ
# (multi-threaded; Mosquitto and mosquitto_sub cap at about 13k msg/s, see bench/bridge.sh).
#   1. steady: remote up, --messages QoS 1 64-byte messages published open loop (as fast as the
#      gateway acknowledges, i.e. commits them to the bridge's queue); msg/s at the remote
#      subscriber, latency, loss, duplicates and order.
#   2. outage: remote stopped, --messages published and acknowledged (all in the bridge's SQLite
#      queue), remote started again; the time from the remote accepting the bridge again to the
#      last message at the subscriber, and the drain rate from its first message to its last.
# The remote comes back in two steps so that the subscriber is listening before the bridge can
# deliver anything: FlashMQ starts with only the subscribers' listener, the subscriber subscribes,
# then a SIGHUP adds the bridge's listener (FlashMQ reloads its listeners). "Remote back" is that
# SIGHUP. The bridge retries every 100 ms (reconnect_min = reconnect_max), so up to 100 ms of
# the time to the first message is its backoff.
# Loss is counted at the subscriber; the drain row also shows what the bridge itself counted
# ($SYS: acknowledged by the remote, dropped, left in its queue), so that messages the remote
# dropped (FlashMQ keeps at most 65,535 QoS 1/2 messages pending per client, its maximum
# max_qos_msg_pending_per_client) are told apart from the bridge's.
# Builds nothing. Prints a Markdown table on stdout (progress and JSON lines on stderr).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/bridge_drain.sh [--messages N] [--publishers P] [--max-inflight N]
                             [--protocol 4|5] [--runs R] [BUILD_DIR]
  BUILD_DIR       CMake build directory holding gateway/edgemq and bench/edgemq_bench
                  (default: build)
  --messages      messages per phase, split among the publishers (default: 100000)
  --publishers    edgemq_bench publishers on the gateway (default: 4)
  --max-inflight  the bridge's max_inflight (default: not set, the bridge's default)
  --protocol      the bridge's protocol_version (default: 4)
  --runs          how many times to run both phases (default: 1)
environment: EDGEMQ, EDGEMQ_BENCH and FLASHMQ override the binaries (FlashMQ's default:
build-flashmq/flashmq-1.26.2/flashmq, built by bench/flashmq.sh); PERF_DIR=DIR records the
gateway with `perf record -g` during each drain into DIR/drain-<run>.perf.
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
messages=100000
publishers=4
max_inflight=
protocol=4
runs=1
while (($#)); do
    case $1 in
    --messages) messages=$2; shift 2 ;;
    --publishers) publishers=$2; shift 2 ;;
    --max-inflight) max_inflight=$2; shift 2 ;;
    --protocol) protocol=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd); shift ;;
    esac
done
edgemq=${EDGEMQ:-$build/gateway/edgemq}
bench=${EDGEMQ_BENCH:-$build/bench/edgemq_bench}
flashmq=${FLASHMQ:-$repo/build-flashmq/flashmq-1.26.2/flashmq}
per_publisher=$((messages / publishers))
messages=$((per_publisher * publishers))

die() { echo "bridge_drain.sh: $*" >&2; exit 1; }
say() { echo "bridge_drain.sh: $*" >&2; }
[[ -x $edgemq ]] || die "no edgemq at $edgemq (build target edgemq first)"
[[ -x $bench ]] || die "no edgemq_bench at $bench (build target edgemq_bench first)"
[[ -x $flashmq ]] || die "no FlashMQ at $flashmq: build it with bench/flashmq.sh, or FLASHMQ=PATH"
command -v mosquitto_sub >/dev/null || die "mosquitto_sub not found (apt install mosquitto-clients)"
command -v mosquitto_pub >/dev/null || die "mosquitto_pub not found (apt install mosquitto-clients)"

work=$(mktemp -d /tmp/edgemq-bridge-drain.XXXXXX)
declare -A pid # every process this script started and still runs, by role
cleanup() {
    local p
    for p in "${pid[@]}"; do
        kill -CONT "$p" 2>/dev/null || true
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
calc() { /usr/bin/python3 -c "print($1)"; }

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_listening ROLE PORT LOG
wait_listening() {
    local role=$1 port=$2 log=$3
    for _ in $(seq 200); do
        kill -0 "${pid[$role]}" 2>/dev/null || { cat "$log" >&2; die "$role exited at startup"; }
        listening "$port" && return 0
        sleep 0.05
    done
    die "$role is not listening on 127.0.0.1:$port after 10 s"
}

stop() {
    [[ -n ${pid[$1]:-} ]] || return 0
    kill "${pid[$1]}" 2>/dev/null || true
    wait "${pid[$1]}" 2>/dev/null || true
    unset "pid[$1]"
}

gateway_port=$(free_port)
sub_port=$(free_port)    # the remote's listener for the subscriber
bridge_port=$(free_port) # the remote's listener for the bridge

# write_remote_conf all|sub: FlashMQ with both listeners or only the subscriber's. No
# persistence; the pending-QoS limits raised (as bench/run.sh does) so that the remote never
# drops what the bridge delivered because the subscriber lags; tcp_nodelay as edgemq.
write_remote_conf() {
    local listener
    {
        cat <<EOF
log_file $work/flashmq.log
log_level warning
allow_anonymous true
thread_count $(nproc)
max_qos_msg_pending_per_client 65535
max_qos_bytes_pending_per_client 1000000000
EOF
        for listener in $sub_port $([[ $1 == all ]] && echo "$bridge_port"); do
            cat <<EOF
listen {
    protocol mqtt
    inet_protocol ip4
    inet4_bind_address 127.0.0.1
    port $listener
    tcp_nodelay true
}
EOF
        done
    } >"$work/flashmq.conf"
}

start_remote() { # start_remote all|sub
    write_remote_conf "$1"
    "$flashmq" --config-file "$work/flashmq.conf" >>"$work/flashmq.out" 2>&1 &
    pid[remote]=$!
    wait_listening remote "$sub_port" "$work/flashmq.out"
}

start_gateway() {
    cat >"$work/edgemq.toml" <<EOF
[log]
level = "info"

[admin]
enabled = false

[broker]
sys_interval = "1s"

[[listeners]]
type = "tcp"
bind = "127.0.0.1:$gateway_port"

[[bridges]]
name = "bench"
address = "127.0.0.1:$bridge_port"
client_id = "edgemq-bench-bridge"
protocol_version = $protocol
queue_file = "$work/bench.db"
reconnect_min = "100ms"
reconnect_max = "100ms"
${max_inflight:+max_inflight = $max_inflight}

[[bridges.topics]]
pattern = "bench/#"
direction = "out"
qos = 1
EOF
    "$edgemq" --config "$work/edgemq.toml" >"$work/gateway.log" 2>&1 &
    pid[gateway]=$!
    wait_listening gateway "$gateway_port" "$work/gateway.log"
}

# Until a QoS 1 message published on the gateway comes out at the remote (on bench/probe, which
# edgemq_bench's subscriber ignores: not its payload).
wait_bridged() {
    for _ in $(seq 30); do
        mosquitto_sub -h 127.0.0.1 -p "$sub_port" -q 1 -t bench/probe -C 1 -W 2 >/dev/null 2>&1 &
        local sub=$!
        sleep 0.3 # time to subscribe
        mosquitto_pub -h 127.0.0.1 -p "$gateway_port" -q 1 -t bench/probe -m probe
        wait "$sub" && return 0
    done
    die "nothing crossed the bridge within 60 s"
}

queued() {
    mosquitto_sub -h 127.0.0.1 -p "$gateway_port" -t '$SYS/broker/bridges/bench/queue/messages' \
        -C 1 -W 3 2>/dev/null || echo "?"
}

# bridge_counters: "acked dropped queued" from the gateway's retained $SYS topics (cumulative
# since its start, refreshed every second).
bridge_counters() {
    local p='$SYS/broker/bridges/bench/'
    mosquitto_sub -h 127.0.0.1 -p "$gateway_port" -v -C 3 -W 3 -t "${p}messages/acked" \
        -t "${p}messages/dropped" -t "${p}queue/messages" 2>/dev/null |
        awk '{ v[$1] = $2 } END { p = "$SYS/broker/bridges/bench/"
            printf "%d %d %d\n", v[p "messages/acked"], v[p "messages/dropped"], v[p "queue/messages"] }'
}

# remote_drops: lines in which FlashMQ said it dropped QoS messages for a lagging client, so far.
remote_drops() { grep -c 'Dropping QoS' "$work/flashmq.log" 2>/dev/null || true; }

json_field() { # json_field FILE KEY: the value of KEY in the last JSON line of FILE
    /usr/bin/python3 -c '
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("{")][-1]
print(json.loads(line)[sys.argv[2]])' "$1" "$2"
}

bench_common=(--qos 1 --payload 64 --publishers "$publishers" --messages "$per_publisher"
    --subscribers 1 --timeout 120)

run_once() {
    local n=$1 out load0 load1 drops0
    drops0=$(remote_drops)
    # 1. Steady: publishers on the gateway, the subscriber on the remote.
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    out=$work/steady-$n.json
    "$bench" "${bench_common[@]}" --pacing ack --port "$gateway_port" --sub-port "$sub_port" \
        >"$out" 2>>"$work/bench.err" || say "steady run $n: edgemq_bench failed"
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    grep '^{' "$out" | sed "s/^{/{\"phase\":\"steady\",\"run\":$n,/" >&2
    local s_rate s_ack s_p50 s_p99 s_lost s_dup s_ooo s_recv
    s_rate=$(json_field "$out" msgs_per_sec) s_ack=$(json_field "$out" acked_per_sec)
    s_p50=$(json_field "$out" p50_us) s_p99=$(json_field "$out" p99_us)
    s_lost=$(json_field "$out" lost) s_dup=$(json_field "$out" dup)
    s_ooo=$(json_field "$out" out_of_order) s_recv=$(json_field "$out" received)
    rows+=("steady|$n|$s_recv / $messages|$s_rate|$s_ack|$(calc "round($s_p50 / 1000, 1)") / $(calc "round($s_p99 / 1000, 1)")|-|-|$s_lost / $s_dup / $s_ooo|-|$(($(remote_drops) - drops0))|$load0 → $load1")
    drops0=$(remote_drops)

    # 2. Outage: the remote goes, the backlog is published and committed to the queue.
    stop remote
    sleep 0.5
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    local t0 tpub q
    t0=$(now)
    "$bench" "${bench_common[@]}" --pacing ack --role pub --port "$gateway_port" \
        >"$work/backlog-$n.json" 2>>"$work/bench.err" || say "outage run $n: publishing failed"
    tpub=$(calc "round($(now) - $t0, 2)")
    sleep 1.5 # $SYS every second
    q=$(queued)
    local acked0 dropped0 left acked1 dropped1
    read -r acked0 dropped0 _ <<<"$(bridge_counters)"
    say "run $n: backlog of $messages published and acknowledged in $tpub s; queued $q"

    # The remote comes back: the subscriber's listener, the subscriber, then the bridge's.
    start_remote sub
    out=$work/drain-$n.json
    "$bench" "${bench_common[@]}" --role sub --port "$sub_port" --connect-retry 10 \
        >"$out" 2>>"$work/bench.err" &
    pid[subscriber]=$!
    for _ in $(seq 200); do
        grep -q '^subscribed' "$out" && break
        sleep 0.05
    done
    grep -q '^subscribed' "$out" || die "the remote subscriber did not subscribe"
    write_remote_conf all
    if [[ -n ${PERF_DIR:-} ]]; then # perf's call graphs of the gateway during the drain
        perf record ${PERF_FLAGS:--g} -o "$PERF_DIR/drain-$n.perf" -p "${pid[gateway]}" 2>>"$work/perf.err" &
        pid[perf]=$!
        sleep 0.5
    fi
    local tback
    tback=$(now)
    kill -HUP "${pid[remote]}"
    wait "${pid[subscriber]}" || say "outage run $n: the subscriber did not get everything"
    unset "pid[subscriber]"
    if [[ -n ${pid[perf]:-} ]]; then
        kill -INT "${pid[perf]}"
        wait "${pid[perf]}" || true
        unset "pid[perf]"
    fi
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    sleep 1.5
    read -r acked1 dropped1 left <<<"$(bridge_counters)"
    grep '^{' "$out" | sed "s/^{/{\"phase\":\"drain\",\"bridge_acked\":$((acked1 - acked0)),\"bridge_dropped\":$((dropped1 - dropped0)),\"bridge_queue_left\":$left,\"run\":$n,\"backlog_publish_s\":$tpub,\"queued\":\"$q\",\"remote_back_unix\":$tback,/" >&2
    local first last d_recv d_lost d_dup d_ooo d_uniq to_first to_last d_rate
    first=$(json_field "$out" first_rx_unix) last=$(json_field "$out" last_rx_unix)
    d_recv=$(json_field "$out" received) d_lost=$(json_field "$out" lost)
    d_dup=$(json_field "$out" dup) d_ooo=$(json_field "$out" out_of_order)
    d_rate=$(json_field "$out" msgs_per_sec)
    if [[ $first != 0 && $first != 0.0 ]]; then
        to_first=$(calc "round($first - $tback, 3)") to_last=$(calc "round($last - $tback, 3)")
    else
        to_first=- to_last=-
    fi
    rows+=("drain|$n|$d_recv / $messages (queued $q)|$d_rate|-|-|$to_first|$to_last|$d_lost / $d_dup / $d_ooo|$((acked1 - acked0)) / $((dropped1 - dropped0)) / $left|$(($(remote_drops) - drops0))|$load0 → $load1")
    grep -E 'bridge bench' "$work/gateway.log" | tail -n 3 >&2 || true

    # The remote with both listeners again for the next run.
    stop remote
    start_remote all
    wait_bridged
}

started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_remote all
start_gateway
wait_bridged
rows=()
for ((r = 1; r <= runs; ++r)); do
    say "run $r of $runs"
    run_once "$r"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

cat <<EOF
$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $load_start at the start and $load_end at the end, $(($(date +%s) - started)) s; $messages QoS 1 messages of 64 bytes per phase from $publishers publishers; bridge protocol_version $protocol, max_inflight ${max_inflight:-default}, plain TCP; remote FlashMQ $("$flashmq" --version 2>&1 | sed -n 's/^FlashMQ Version \([^ ]*\).*/\1/p' | head -n 1)
edgemq: $("$edgemq" --version 2>/dev/null | head -n 1 || echo "?") ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "?")$(git -C "$repo" diff --quiet -- bridge 2>/dev/null || echo "+bridge changes"))

| Phase | Run | Received at the remote | msg/s at the remote | Publishers acknowledged at msg/s | p50 / p99 ms | First message after remote back (s) | Last message after remote back (s) | Lost / dup / out of order | Bridge: acked / dropped / left in queue | FlashMQ "Dropping QoS" warnings | Load before → after |
|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|
EOF
for r in "${rows[@]}"; do
    echo "| ${r//|/ | } |"
done
