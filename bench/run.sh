#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# edgemq vs Mosquitto vs FlashMQ, side by side on loopback, with bench/edgemq_bench; writes
# docs/PERFORMANCE.md. Builds nothing: build first (cmake --build build -j1 and bench/flashmq.sh),
# then run `bench/run.sh [BUILD_DIR]`.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/run.sh [--brokers "edgemq mosquitto flashmq"] [--flashmq PATH] [--seconds S]
                    [--output FILE] [BUILD_DIR]
  BUILD_DIR   CMake build directory holding gateway/edgemq and bench/edgemq_bench (default: build)
  --brokers   which brokers to measure, in this order (default: "edgemq mosquitto flashmq"); add
              edgemq-base to measure a second edgemq build side by side (EDGEMQ_BASE)
  --flashmq   the FlashMQ binary (default: $FLASHMQ, else what bench/flashmq.sh builds, i.e.
              build-flashmq/flashmq-1.26.2/flashmq)
  --seconds   target length of each measured run; message counts are sized from short
              calibration runs of the same row on the same broker (default: 4)
  --output    report file (default: docs/PERFORMANCE.md in the repository)
environment: EDGEMQ, EDGEMQ_BENCH, MOSQUITTO and FLASHMQ override the binaries; EDGEMQ_BASE is
  the edgemq-base binary (e.g. a build of the commit before a change), EDGEMQ_BASE_VERSION its name.
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
brokers="edgemq mosquitto flashmq"
flashmq=${FLASHMQ:-}
seconds=4
output=$repo/docs/PERFORMANCE.md
build=$repo/build
while (($#)); do
    case $1 in
    --brokers) brokers=$2; shift 2 ;;
    --flashmq) flashmq=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd); shift ;;
    esac
done

edgemq=${EDGEMQ:-$build/gateway/edgemq}
tool=${EDGEMQ_BENCH:-$build/bench/edgemq_bench}
mosquitto=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
flashmq=${flashmq:-$repo/build-flashmq/flashmq-1.26.2/flashmq}
python=/usr/bin/python3 # Debian's, whatever python3 is first on PATH
idle_connections=10000
idle_hold=4

die() { echo "run.sh: $*" >&2; exit 1; }
[[ -x $tool ]] || die "no load tool at $tool (build target edgemq_bench first)"
for b in $brokers; do
    case $b in
    edgemq) [[ -x $edgemq ]] || die "no broker at $edgemq (build target edgemq first)" ;;
    edgemq-base) [[ -x ${EDGEMQ_BASE:-} ]] || die "edgemq-base needs EDGEMQ_BASE=<binary>" ;;
    mosquitto) [[ -x $mosquitto ]] || die "no mosquitto at $mosquitto (apt install mosquitto)" ;;
    flashmq) [[ -x $flashmq ]] || die "no FlashMQ at $flashmq: build it with bench/flashmq.sh (it
  prints the binary's path; about 15 min on 2 cores), then pass FLASHMQ=PATH or --flashmq PATH;
  or leave it out with --brokers \"edgemq mosquitto\"" ;;
    *) die "unknown broker '$b'" ;;
    esac
done

# 10,000 idle connections need as many descriptors in the tool and in the broker.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) > idle_connections + 100)) || die "ulimit -n $(ulimit -n) is below $idle_connections"

work=$(mktemp -d /tmp/edgemq-bench.XXXXXX)
declare -A broker_pid broker_port
cleanup() {
    local pid
    for pid in "${broker_pid[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_broker NAME: sets broker_pid[NAME] and broker_port[NAME], returns once the port accepts.
start_broker() {
    local name=$1 conf log port
    port=$(free_port)
    log=$work/$name.log
    case $name in
    edgemq | edgemq-base)
        conf=$work/$name.toml
        # Every broker runs with its own default queue and in-flight limits, as users install it:
        # loss under overload is part of what is measured.
        cat >"$conf" <<EOF
[log]
level = "warn"

# Mosquitto has no HTTP server: measure the broker alone (the admin server and its dashboard
# cost about 3 MiB of RSS on their own, and would hold port 18083).
[admin]
enabled = false

[[listeners]]
type = "tcp"
bind = "127.0.0.1:$port"
EOF
        if [[ $name == edgemq ]]; then
            "$edgemq" --config "$conf" >"$log" 2>&1 &
        else
            "$EDGEMQ_BASE" --config "$conf" >"$log" 2>&1 &
        fi
        ;;
    mosquitto)
        conf=$work/mosquitto.conf
        cat >"$conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
connection_messages false
log_dest stderr
log_type error
log_type warning
EOF
        "$mosquitto" -c "$conf" >"$log" 2>&1 &
        ;;
    flashmq)
        # No storage_dir: no persistence. The pending-QoS limits stay at their defaults (512
        # messages and 64 KiB per client, beyond which FlashMQ drops QoS 1/2 messages for a
        # lagging subscriber), as the other two brokers keep theirs.
        # tcp_nodelay: edgemq always sets TCP_NODELAY; without it FlashMQ's fan-in QoS 1 ran at
        # about 1/6 of the rate here (Nagle holding its small writes), Mosquitto's did not change.
        conf=$work/flashmq.conf
        cat >"$conf" <<EOF
log_file $work/flashmq-broker.log
log_level warning
allow_anonymous true
thread_count $(nproc)
rlimit_nofile $(ulimit -n)
listen {
    protocol mqtt
    inet_protocol ip4
    inet4_bind_address 127.0.0.1
    port $port
    tcp_nodelay true
}
EOF
        "$flashmq" --config-file "$conf" >>"$log" 2>&1 &
        ;;
    esac
    broker_pid[$name]=$!
    broker_port[$name]=$port
    for _ in $(seq 100); do
        if ! kill -0 "${broker_pid[$name]}" 2>/dev/null; then
            cat "$log" "$work/$name"-broker.log >&2 2>/dev/null || true
            die "$name exited at startup"
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "$name is not listening on 127.0.0.1:$port after 10 s"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/${broker_pid[$1]}/status" 2>/dev/null || echo 0; }

# bench BROKER ARGS...: runs the tool, shows its human line, and leaves its JSON line in
# $work/last.json. Exit status 2 is a usage error (a bug in this script); 1 (a connection failed)
# is recorded in the JSON and the script goes on.
bench() {
    local broker=$1 rc=0
    shift
    "$tool" --port "${broker_port[$broker]}" "$@" >"$work/last.out" || rc=$?
    ((rc != 2)) || die "edgemq_bench rejected: $*"
    grep -v '^{' "$work/last.out" | sed "s/^/    $broker: /" >&2
    grep '^{' "$work/last.out" | tail -n 1 >"$work/last.json" || echo '{"failed":true}' >"$work/last.json"
}

field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$work/last.json"; }

# span: how long the last run took, publishing or delivering, whichever ended later (an open-loop
# run that loses messages publishes for longer than it delivers).
span() {
    awk -v a="$(field seconds)" -v b="$(field ack_seconds)" 'BEGIN { print (b > a ? b : a) + 0 }'
}

# measure ROW SCENARIO QOS PUBLISHERS SUBSCRIBERS PROBE CAP [TOOL ARGS...], for each broker in
# turn (so that all see the same background load); TOOL ARGS go to edgemq_bench as they are
# (--pacing ack, --protocol 5). Calibration: from PROBE messages per publisher, more (aiming at
# one second, at most ten times more) until a run lasts half a second or reaches CAP; then the
# measured run gets enough messages to last about --seconds at the calibrated pace.
measure() {
    local row=$1 scenario=$2 qos=$3 pubs=$4 subs=$5 probe=$6 cap=$7 broker messages s
    shift 7
    local args=(--scenario "$scenario" --qos "$qos" --publishers "$pubs" --subscribers "$subs"
        --payload 64 --inflight 100 --timeout 60 "$@")
    echo "== $row" >&2
    for broker in $brokers; do
        messages=$probe
        while :; do
            bench "$broker" "${args[@]}" --messages "$messages"
            s=$(span)
            awk -v s="$s" 'BEGIN { exit !(s < 0.5) }' || break
            ((messages < cap)) || break
            awk -v s="$s" 'BEGIN { exit !(s > 0) }' || break
            messages=$(awk -v m="$messages" -v s="$s" -v hi="$cap" 'BEGIN {
                f = s > 0 ? 1 / s : 10; f = f < 2 ? 2 : (f > 10 ? 10 : f); m = int(m * f)
                print (m > hi ? hi : m) }')
        done
        messages=$(awk -v m="$messages" -v s="$s" -v t="$seconds" -v lo="$probe" -v hi="$cap" \
            'BEGIN { m = s > 0 ? int(m * t / s) : lo; print (m < lo ? lo : (m > hi ? hi : m)) }')
        echo "    $broker: measuring with $messages messages per publisher" >&2
        bench "$broker" "${args[@]}" --messages "$messages"
        printf '%s\t%s\t%s\n' "$broker" "$row" "$(cat "$work/last.json")" >>"$work/results.tsv"
    done
}

# idle: for each broker, RSS when fresh, then with $idle_connections connections open.
idle() {
    local broker before after out=$work/idle.out pid js rc
    echo "== idle: $idle_connections connections" >&2
    for broker in $brokers; do
        rc=0
        before=$(rss_kb "$broker")
        "$tool" --port "${broker_port[$broker]}" --scenario idle --connections "$idle_connections" \
            --hold "$idle_hold" --timeout 60 >"$out" &
        pid=$!
        for _ in $(seq 600); do
            grep -q '^idle connected=' "$out" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        sleep 1 # let the broker settle after the last CONNACK
        after=$(rss_kb "$broker")
        wait "$pid" || rc=$?
        ((rc != 2)) || die "edgemq_bench rejected the idle arguments"
        grep -v '^{' "$out" | sed "s/^/    $broker: /" >&2
        js=$(grep '^{' "$out" | tail -n 1) || js='{"failed":true}'
        printf '%s\tidle\t%s\n' "$broker" \
            "${js%\}},\"rss_before_kb\":$before,\"rss_after_kb\":$after}" >>"$work/results.tsv"
    done
}

: >"$work/results.tsv"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
for broker in $brokers; do
    start_broker "$broker"
done
sleep 0.5
idle # first, while the brokers are fresh
measure "fanin 16→1 QoS 0" fanin 0 16 1 1000 1000000
measure "fanin 16→1 QoS 1" fanin 1 16 1 1000 500000
measure "fanin 16→1 QoS 2" fanin 2 16 1 500 250000
measure "fanout 1→100 QoS 0" fanout 0 1 100 100 100000
measure "fanout 1→100 QoS 1" fanout 1 1 100 100 50000
# Open loop: publishers wait only for the broker's acks (QoS 0: for the socket), so what the
# broker buffers or drops shows as latency and loss.
measure "fanin 16→1 QoS 0 open loop" fanin 0 16 1 1000 1000000 --pacing ack
measure "fanin 16→1 QoS 1 open loop" fanin 1 16 1 1000 500000 --pacing ack
measure "fanin 16→1 QoS 2 open loop" fanin 2 16 1 500 250000 --pacing ack
measure "fanin 16→1 QoS 1 open loop, MQTT 5.0" fanin 1 16 1 1000 500000 --pacing ack --protocol 5
elapsed=$(($(date +%s) - started))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

edgemq_version=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
mosquitto_version=$("$mosquitto" -h 2>&1 | sed -n "s/^mosquitto version //p" | head -n 1) || true
flashmq_version=$("$flashmq" --version 2>&1 | sed -n 's/^FlashMQ Version \([^ ]*\).*/\1/p' | head -n 1) || true
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)

mkdir -p "$(dirname "$output")"
export BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC') BENCH_MACHINE="$(nproc) cores, $cpu, Linux $(uname -r)"
export BENCH_LOAD="$load_before before, $load_after after" BENCH_EDGEMQ=$edgemq_version BENCH_MOSQUITTO=$mosquitto_version
export BENCH_FLASHMQ=${flashmq_version:-unknown} BENCH_CORES=$(nproc)
export BENCH_ELAPSED=$elapsed BENCH_IDLE=$idle_connections BENCH_HOLD=$idle_hold
export BENCH_ANALYSIS=$repo/bench/analysis.md BENCH_BROKERS=$brokers
export BENCH_EDGEMQ_BASE=${EDGEMQ_BASE_VERSION:-${EDGEMQ_BASE:-}}
"$python" - "$work/results.tsv" "$output" <<'EOF'
import json, os, sys

env = os.environ

rows, data = [], {}
for line in open(sys.argv[1], encoding="utf-8"):
    broker, row, js = line.rstrip("\n").split("\t", 2)
    if row not in rows:
        rows.append(row)
    data[broker, row] = json.loads(js)

def get(broker, row):
    return data.get((broker, row))

def rate(r, key="msgs_per_sec"):
    return f"{r[key]:,.0f}" if r and key in r else "—"

def latency(r):
    return f"{r['p50_us']:,.0f} / {r['p99_us']:,.0f}" if r and "p50_us" in r else "—"

def loss(r):
    if not r or "lost" not in r:
        return "—"
    lost = f"{r['lost']:,}"
    if r["lost"] and r.get("acked"):
        lost += f" ({100 * r['lost'] / (r['acked'] * r.get('subscribers', 1)):.0f} %)"
    return f"{lost} / {r['dup']:,}"

def notes(r):
    if not r:
        return "not run"
    flags = [k.replace("_", " ") for k in ("timed_out", "stalled", "failed") if r.get(k)]
    return ", ".join(flags)

def ratio(a, b, key):
    if a and b and a.get(key) and b.get(key):
        return f"{a[key] / b[key]:.1f}×"
    return "—"

def kb(v):
    return f"{v / 1024:.1f} MiB"

brokers = env["BENCH_BROKERS"].split()
names = {"edgemq": "edgemq", "edgemq-base": "edgemq (base)", "mosquitto": "Mosquitto",
         "flashmq": "FlashMQ"}
name = lambda b: names.get(b, b)
first, others = brokers[0], brokers[1:]

out = []
w = out.append
w("# Performance: " + " vs ".join(name(b) for b in brokers))
w("")
w("Written by `bench/run.sh` down to the marker comment; the sections after it are written by hand from the other benchmarks in `bench/`, and run.sh keeps them.")
w("")
w("| | |")
w("|---|---|")
w(f"| Date | {env['BENCH_DATE']} |")
w(f"| Machine | {env['BENCH_MACHINE']} |")
w(f"| Load average (1/5/15 min) | {env['BENCH_LOAD']} the run; the cores are shared with other work |")
if "edgemq" in brokers:
    w(f"| edgemq | `{env['BENCH_EDGEMQ']}`, its defaults (`max_inflight_messages 200`, `max_queued_messages 1000`, flow control) |")
if "edgemq-base" in brokers:
    w(f"| edgemq (base) | `{env['BENCH_EDGEMQ_BASE']}`, the same settings |")
if "mosquitto" in brokers:
    w(f"| Mosquitto | {env['BENCH_MOSQUITTO']} (Debian), its defaults (`max_inflight_messages 20`, `max_queued_messages 1000`), no persistence |")
if "flashmq" in brokers:
    w(f"| FlashMQ | {env['BENCH_FLASHMQ']} (built from source by `bench/flashmq.sh`, Release), `thread_count {env['BENCH_CORES']}`, `tcp_nodelay true` (without it Nagle costs it 5/6 of its fan-in rate), its default pending-QoS limits, no persistence |")
w(f"| Script time | {env['BENCH_ELAPSED']} s |")
w("")
w("## Throughput and latency")
w("")
w("64-byte payloads over loopback TCP. msg/s counts messages received by all subscribers together")
w("(for fan-out, every delivery), from the first publish to the last receipt. Every publisher keeps")
w("at most 100 messages in flight (unacknowledged at QoS 1/2, and not yet received by every")
w("subscriber at any QoS), so latency is measured under full load: it is mostly the time a message")
w("waits behind the window, not an idle round trip. lost = messages the broker acknowledged")
w("(PUBACK; PUBREC at QoS 2; at QoS 0, written to the socket) and never delivered, dup = repeats.")
w("Message counts are sized per broker so that each run lasts a few seconds, and")
w("each row runs on every broker back to back, so all see the same background load. *stalled*:")
w("nothing moved for 3 s while publishers still waited; the tool answers every packet at once, so")
w("the broker held the missing messages or acks (the script's stderr says which).")
w("")
head = ["Scenario"] + [f"{name(b)} msg/s" for b in brokers]
head += [f"{name(first)} / {name(b)}" for b in others]
head += [f"{name(b)} p50 / p99 µs" for b in brokers] + [f"{name(b)} lost / dup" for b in brokers]
head += ["Notes"]
w("| " + " | ".join(head) + " |")
w("|---|" + "--:|" * (len(head) - 2) + "---|")
def open_loop(row):
    return any((get(b, row) or {}).get("pacing") == "ack" for b in brokers)

for row in rows:
    if row == "idle" or open_loop(row):
        continue
    r = {b: get(b, row) for b in brokers}
    n = "; ".join(f"{b}: {notes(r[b])}" for b in brokers if notes(r[b]))
    cells = [row] + [rate(r[b]) for b in brokers]
    cells += [ratio(r[first], r[b], "msgs_per_sec") for b in others]
    cells += [latency(r[b]) for b in brokers] + [loss(r[b]) for b in brokers] + [n]
    w("| " + " | ".join(cells) + " |")
w("")
w("## Open loop: publishers as fast as the broker acknowledges")
w("")
w("The same fan-in, but publishers do not wait for the subscriber: at QoS 1/2 each keeps up to 100")
w("publishes unacknowledged and sends the next as soon as an ack frees a slot; at QoS 0 each writes")
w("as fast as the socket takes the bytes. A broker that acknowledges faster than it delivers")
w("buffers the difference (latency grows) or drops it (lost). *acknowledged at* = PUBACK (QoS 1),")
w("PUBCOMP (QoS 2) or completed writes (QoS 0) per second over the publish phase; delivered =")
w("received by the subscriber per second, first publish to last receipt; p50/p99 = latency at")
w("saturation. lost = acknowledged (QoS 2: PUBREC received; QoS 0: written) and never delivered")
w("(in % of the acknowledged messages);")
w("a run ends 3 s after the last message moved, and what has not arrived by then is lost.")
w("")
head = ["Scenario"] + [f"{name(b)} delivered msg/s" for b in brokers]
head += [f"{name(first)} / {name(b)}" for b in others]
head += [f"{name(b)} acknowledged at msg/s" for b in brokers]
head += [f"{name(b)} p50 / p99 µs" for b in brokers] + [f"{name(b)} lost / dup" for b in brokers]
head += ["Notes"]
w("| " + " | ".join(head) + " |")
w("|---|" + "--:|" * (len(head) - 2) + "---|")
for row in rows:
    if row == "idle" or not open_loop(row):
        continue
    r = {b: get(b, row) for b in brokers}
    n = "; ".join(f"{b}: {notes(r[b])}" for b in brokers if notes(r[b]))
    cells = [row] + [rate(r[b]) for b in brokers]
    cells += [ratio(r[first], r[b], "msgs_per_sec") for b in others]
    cells += [rate(r[b], "acked_per_sec") for b in brokers]
    cells += [latency(r[b]) for b in brokers] + [loss(r[b]) for b in brokers] + [n]
    w("| " + " | ".join(cells) + " |")
w("")
w(f"## Memory with {int(env['BENCH_IDLE']):,} idle connections")
w("")
w(f"Connections opened 64 at a time (CONNECT, keep-alive 0), held {env['BENCH_HOLD']} s; VmRSS of the broker")
w("process, fresh before and one second after the last CONNACK.")
w("")
w("| Broker | Connected | Open at end | Connect time | RSS before | RSS with connections | Per connection |")
w("|---|--:|--:|--:|--:|--:|--:|")
for b in brokers:
    r = get(b, "idle")
    if not r or "connected" not in r:
        w(f"| {b} | not run | | | | | |")
        continue
    per = (r["rss_after_kb"] - r["rss_before_kb"]) * 1024 / max(r["connected"], 1)
    w(f"| {b} | {r['connected']:,} | {r['open_at_end']:,} | {r['connect_seconds']:.2f} s | {kb(r['rss_before_kb'])} | {kb(r['rss_after_kb'])} | {per:,.0f} B |")
w("")
w(open(env["BENCH_ANALYSIS"], encoding="utf-8").read().rstrip("\n"))
w("")
w("## Raw results")
w("")
w("```")
for (broker, row), r in data.items():
    w(f"{broker:11} {row:38} {json.dumps(r, separators=(',', ':'))}")
w("```")
# The sections written by hand after the marker (bridge, serial, persistence...) stay as they are.
marker = "<!-- Below: sections written by hand"
kept = ""
if os.path.exists(sys.argv[2]):
    previous = open(sys.argv[2], encoding="utf-8").read()
    if marker in previous:
        kept = "\n" + previous[previous.index(marker):]
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(out) + "\n" + kept)
EOF
echo "run.sh: wrote $output in ${elapsed} s" >&2
