#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The bridge benchmark of issue #5: edgemq's [[bridges]] vs a Mosquitto `connection` bridge, both
# forwarding QoS 1 64-byte messages over TLS to a remote Mosquitto on loopback.
#   1. steady: N messages published locally while the remote is up; msg/s until the remote
#      subscriber has them all.
#   2. outage: remote stopped, N messages published locally, the gateway's VmRSS with the backlog
#      queued, remote started again; time until the remote subscriber has all N, with count,
#      order, loss and duplicates checked.
# A third row, "direct", publishes straight to the remote (no bridge): the ceiling that the
# publisher, the remote and the subscriber alone allow.
# Builds nothing. Prints a Markdown table on stdout (progress and JSON lines on stderr).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/bridge.sh [--messages N] [--brokers "direct edgemq mosquitto"] [BUILD_DIR]
  BUILD_DIR   CMake build directory holding gateway/edgemq (default: build)
  --messages  messages per phase (default: 100000)
  --brokers   which rows to run (default: all three)
environment: EDGEMQ and MOSQUITTO override the binaries.
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
messages=100000
brokers="direct edgemq mosquitto"
while (($#)); do
    case $1 in
    --messages) messages=$2; shift 2 ;;
    --brokers) brokers=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) build=$(cd "$1" && pwd); shift ;;
    esac
done
edgemq=${EDGEMQ:-$build/gateway/edgemq}
mosquitto=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
python=/usr/bin/python3 # Debian's: a pyenv shim first on PATH costs more than the publisher
stall_seconds=30 # a phase ends when the remote subscriber has received nothing for this long

die() { echo "bridge.sh: $*" >&2; exit 1; }
say() { echo "bridge.sh: $*" >&2; }
for tool in openssl mosquitto_pub mosquitto_sub "$python" "$mosquitto"; do
    command -v "$tool" >/dev/null || die "$tool not found (apt install mosquitto mosquitto-clients openssl)"
done
[[ $brokers != *edgemq* || -x $edgemq ]] || die "no edgemq at $edgemq (build target edgemq first)"

work=$(mktemp -d /tmp/edgemq-bridge-bench.XXXXXX)
declare -A pid # every process this script started and still runs, by role
cleanup() {
    local p
    for p in "${pid[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Helpers

now() { date +%s.%N; }

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_listening ROLE PORT LOG: returns once PORT accepts connections; dies if ROLE exited.
wait_listening() {
    local role=$1 port=$2 log=$3
    for _ in $(seq 100); do
        kill -0 "${pid[$role]}" 2>/dev/null || { cat "$log" >&2; die "$role exited at startup"; }
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    die "$role is not listening on 127.0.0.1:$port after 10 s"
}

# stop ROLE: SIGTERM and wait, so that a Mosquitto saves its persistence file on the way out.
stop() {
    [[ -n ${pid[$1]:-} ]] || return 0
    kill "${pid[$1]}" 2>/dev/null || true
    wait "${pid[$1]}" 2>/dev/null || true
    unset "pid[$1]"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/${pid[gateway]}/status"; }

# A CA and a server certificate for 127.0.0.1 (both bridges verify the remote's name, which here
# is an IP address, so it must be in subjectAltName). The bridges present no client certificate.
make_certs() {
    local d=$work/certs
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=edgemq-bench-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj /CN=localhost -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
}

# One line per message, "00000042-xxx...": exactly 64 bytes, the sequence number first, so that
# the subscriber's output shows order, loss and duplicates. mosquitto_pub -l sends each line.
make_payloads() {
    awk -v n="$messages" 'BEGIN {
        pad = sprintf("%55s", ""); gsub(/ /, "x", pad)
        for (i = 0; i < n; i++) printf "%08d-%s\n", i, pad
    }' >"$work/payloads"
}

# As root, mosquitto drops to its own user, which cannot read our 0700 temporary directory.
mosquitto_user() { [[ $(id -u) != 0 ]] || echo "user root"; }

# The remote: a plain listener for the subscriber and a TLS listener for the bridges. It keeps
# sessions across its restarts (as a cloud broker would across the site's uplink outage), and
# its queues are unbounded, so that what the subscriber gets is exactly what the bridge sent.
write_remote_conf() {
    local d=$work/$1-remote
    mkdir -p "$d"
    remote_port=$(free_port)
    remote_tls_port=$(free_port)
    cat >"$d/mosquitto.conf" <<EOF
listener $remote_port 127.0.0.1
listener $remote_tls_port 127.0.0.1
cafile $work/certs/ca.crt
certfile $work/certs/server.crt
keyfile $work/certs/server.key
$(mosquitto_user)
allow_anonymous true
max_inflight_messages 100
max_queued_messages 0
persistence true
persistence_location $d/
log_dest stderr
log_type error
log_type warning
log_type notice
EOF
    remote_conf=$d/mosquitto.conf
}

start_remote() {
    "$mosquitto" -c "$remote_conf" >>"${remote_conf%.conf}.log" 2>&1 &
    pid[remote]=$!
    wait_listening remote "$remote_tls_port" "${remote_conf%.conf}.log"
}

# start_gateway edgemq|mosquitto: the local broker with a bridge "bench" to the remote's TLS
# listener, forwarding bench/# out at QoS 1. Both retry every second while the remote is away,
# so that the drain times compare the bridges and not their reconnect backoffs (edgemq's
# default is 1 s doubling to 60 s, Mosquitto's 5 s to 30 s).
start_gateway() {
    local kind=$1 d=$work/$1
    mkdir -p "$d"
    gateway_port=$(free_port)
    gateway_log=$d/gateway.log
    case $kind in
    edgemq)
        cat >"$d/edgemq.toml" <<EOF
[broker]
max_inflight_messages = 100
max_queued_messages = 0
sys_interval = "1s"

[log]
level = "info"

[admin]
enabled = false

[[listeners]]
type = "tcp"
bind = "127.0.0.1:$gateway_port"

[[bridges]]
name = "bench"
address = "127.0.0.1:$remote_tls_port"
client_id = "edgemq-bench-bridge"
ca = "$work/certs/ca.crt"
queue_file = "$d/bench.db"
reconnect_min = "1s"
reconnect_max = "1s"

[[bridges.topics]]
pattern = "bench/#"
direction = "out"
qos = 1
EOF
        "$edgemq" --config "$d/edgemq.toml" >"$gateway_log" 2>&1 &
        ;;
    mosquitto)
        # Like bench/run.sh's Mosquitto: no persistence, so the backlog is held in memory.
        cat >"$d/mosquitto.conf" <<EOF
listener $gateway_port 127.0.0.1
$(mosquitto_user)
allow_anonymous true
max_inflight_messages 100
max_queued_messages 0
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice

connection bench
address 127.0.0.1:$remote_tls_port
remote_clientid mosquitto-bench-bridge
bridge_cafile $work/certs/ca.crt
cleansession false
restart_timeout 1
topic bench/# out 1
EOF
        "$mosquitto" -c "$d/mosquitto.conf" >"$gateway_log" 2>&1 &
        ;;
    esac
    pid[gateway]=$!
    wait_listening gateway "$gateway_port" "$gateway_log"
}

# wait_bridged PORT: returns once a QoS 1 message published on PORT comes out at the remote
# (on bench/probe, which no benchmark subscriber listens to).
wait_bridged() {
    local port=$1
    for _ in $(seq 30); do
        mosquitto_sub -h 127.0.0.1 -p "$remote_port" -q 1 -t bench/probe -C 1 -W 2 >/dev/null 2>&1 &
        local sub=$!
        sleep 0.3 # time to subscribe
        mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t bench/probe -m probe
        wait "$sub" && return 0
    done
    die "nothing crossed the bridge within 60 s"
}

# make_session ID TOPIC: a persistent QoS 1 subscription on the remote, so that the remote keeps
# every message for ID even while the subscriber (or the remote itself) is away.
make_session() {
    mosquitto_sub -h 127.0.0.1 -p "$remote_port" -c -i "$1" -q 1 -t "$2" -E
}

# start_subscriber ID TOPIC OUT: the remote subscriber, resuming session ID. It prints every
# message's arrival time (%U, Unix time in ns) and payload, and exits after $messages of them.
start_subscriber() {
    mosquitto_sub -h 127.0.0.1 -p "$remote_port" -c -i "$1" -q 1 -t "$2" -C "$messages" \
        -F '%U %p' >"$3" 2>>"$work/subscriber.err" &
    pid[subscriber]=$!
}

# wait_subscriber OUT: until the subscriber has everything (it exits) or nothing has arrived for
# $stall_seconds (then it is stopped: something was lost on the way).
wait_subscriber() {
    local out=$1 last=-1 count idle=0
    while kill -0 "${pid[subscriber]}" 2>/dev/null; do
        count=$(wc -l <"$out")
        if ((count == last)); then
            ((++idle >= stall_seconds * 2)) && { say "subscriber stalled at $count"; break; }
        else
            idle=0 last=$count
        fi
        sleep 0.5
    done
    stop subscriber
}

# check OUT: "received unique lost dup out_of_order first_ts last_ts" for the subscriber's output.
# out_of_order counts first arrivals with a lower sequence number than one already seen.
check() {
    awk -v n="$messages" '
        { seq = substr($2, 1, 8) + 0; ++got
          if (NR == 1) first = $1
          last = $1
          if (seen[seq]++) { ++dup; next }
          ++uniq
          if (seq < max) ++ooo; else max = seq }
        END { printf "%d %d %d %d %d %s %s\n", got, uniq, n - uniq, dup, ooo, first ? first : 0, last ? last : 0 }' "$1"
}

# The publisher: a minimal MQTT 3.1.1 client that sends every payload line at QoS 1 with at most
# 100 PUBLISHes unacknowledged (edgemq_bench's default window), a whole window per write, and
# returns once every PUBACK is in. Not edgemq_bench: its subscribers must be on the publishers'
# broker. Not mosquitto_pub -l: 2.0.11's exits at the end of its input with most messages
# unsent (about 34,500 of 100,000 reached any broker here).
write_publisher() {
    cat >"$work/publish.py" <<'PY'
import socket, struct, sys

port, topic, path = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
window = 100

def packet(first_byte, body):
    n, length = len(body), b""
    while True:
        n, digit = n >> 7, n & 0x7F
        length += bytes([digit | (0x80 if n else 0)])
        if not n:
            return bytes([first_byte]) + length + body

def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            sys.exit("publisher: the broker closed the connection")
        data += chunk
    return data

payloads = [line.rstrip(b"\n") for line in open(path, "rb")]
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
client_id = b"bench-publisher"
s.sendall(packet(0x10, b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack(">H", len(client_id)) + client_id))
connack = read_exact(s, 4)
if connack[0] != 0x20 or connack[3] != 0:
    sys.exit("publisher: CONNACK %r" % connack)
prefix = struct.pack(">H", len(topic)) + topic
sent = acked = 0
pending = b""
while acked < len(payloads):
    room = min(window - (sent - acked), len(payloads) - sent)
    if room >= window // 2 or (room > 0 and sent + room == len(payloads)):  # batches, not 1 by 1
        s.sendall(b"".join(packet(0x32, prefix + struct.pack(">H", i % 65535 + 1) + payloads[i])
                           for i in range(sent, sent + room)))
        sent += room
    data = s.recv(65536)
    if not data:
        sys.exit("publisher: the broker closed the connection after %d PUBACKs" % acked)
    pending += data
    whole = len(pending) // 4 * 4  # a publisher gets nothing but PUBACKs, 4 bytes each
    if any(pending[i] != 0x40 for i in range(0, whole, 4)):
        sys.exit("publisher: unexpected packet from the broker")
    acked += whole // 4
    pending = pending[whole:]
s.sendall(b"\xe0\x00")  # DISCONNECT
s.close()
PY
}

publish() { # publish PORT TOPIC
    "$python" "$work/publish.py" "$1" "$2" "$work/payloads"
}

# ---------------------------------------------------------------------------------------------
# One row: remote up, gateway up, steady phase, outage phase.

run_row() {
    local kind=$1 port t0 tpub tr got uniq lost dup ooo first last
    write_remote_conf "$kind"
    start_remote
    if [[ $kind == direct ]]; then
        port=$remote_port
    else
        start_gateway "$kind"
        wait_bridged "$gateway_port"
        port=$gateway_port
    fi

    # 1. Steady throughput. Both sessions exist before the first message.
    make_session "$kind-steady" bench/steady
    make_session "$kind-outage" bench/outage
    start_subscriber "$kind-steady" bench/steady "$work/$kind-steady.out"
    sleep 0.5
    t0=$(now)
    publish "$port" bench/steady
    tpub=$(now)
    wait_subscriber "$work/$kind-steady.out"
    read -r got uniq lost dup ooo first last <<<"$(check "$work/$kind-steady.out")"
    steady_rate=$("$python" -c "print(round($uniq / ($last - $t0)))")
    steady_pub_rate=$("$python" -c "print(round($messages / ($tpub - $t0)))")
    echo "{\"row\":\"$kind\",\"phase\":\"steady\",\"messages\":$messages,\"received\":$got,\"unique\":$uniq,\"lost\":$lost,\"dup\":$dup,\"out_of_order\":$ooo,\"publish_s\":$("$python" -c "print(f'{$tpub - $t0:.3f}')"),\"last_arrival_s\":$("$python" -c "print(f'{$last - $t0:.3f}')"),\"msgs_per_sec\":$steady_rate}" >&2
    steady_summary="$steady_rate|$steady_pub_rate|$lost / $dup / $ooo"

    [[ $kind == direct ]] && { stop remote; rows+=("$kind|$steady_summary"); return; }

    # 2. Outage: the remote goes away (saving its sessions), the backlog piles up locally.
    local rss_before rss_backlog queued="n/a" disk="n/a" tpubo
    rss_before=$(rss_kb)
    stop remote
    sleep 2 # both bridges see the TCP close at once; give them time to log it
    t0=$(now)
    publish "$port" bench/outage
    tpubo=$("$python" -c "print(f'{$(now) - $t0:.2f}')")
    sleep 2 # let the gateway settle (edgemq's queue commits in batches; $SYS is every second)
    rss_backlog=$(rss_kb)
    if [[ $kind == edgemq ]]; then
        queued=$(mosquitto_sub -h 127.0.0.1 -p "$port" -t '$SYS/broker/bridges/bench/queue/messages' -C 1 -W 3 || echo "?")
        disk=$(du -ck "$work/$kind"/bench.db* | awk 'END { printf "%.1f MiB", $1 / 1024 }')
    fi
    say "$kind: backlog published in $tpubo s, queued $queued, RSS ${rss_before} -> ${rss_backlog} KiB"

    # The remote comes back; the subscriber resumes its session at once.
    start_remote
    tr=$(now)
    start_subscriber "$kind-outage" bench/outage "$work/$kind-outage.out"
    wait_subscriber "$work/$kind-outage.out"
    read -r got uniq lost dup ooo first last <<<"$(check "$work/$kind-outage.out")"
    local to_first to_last drain_rate
    if ((got > 0)); then
        to_first=$("$python" -c "print(f'{$first - $tr:.2f}')")
        to_last=$("$python" -c "print(f'{$last - $tr:.2f}')")
        drain_rate=$("$python" -c "print(round($uniq / max($last - $first, 1e-3)))")
    else
        to_first=- to_last=- drain_rate=0
    fi
    echo "{\"row\":\"$kind\",\"phase\":\"outage\",\"messages\":$messages,\"publish_s\":$tpubo,\"rss_before_kb\":$rss_before,\"rss_backlog_kb\":$rss_backlog,\"queued\":\"$queued\",\"queue_disk\":\"$disk\",\"received\":$got,\"unique\":$uniq,\"lost\":$lost,\"dup\":$dup,\"out_of_order\":$ooo,\"first_after_restart_s\":\"$to_first\",\"last_after_restart_s\":\"$to_last\",\"drain_msgs_per_sec\":$drain_rate}" >&2
    if [[ $kind == edgemq ]]; then grep -E 'bridge bench' "$gateway_log" | tail -n 4 >&2 || true; fi
    if [[ $kind == mosquitto ]]; then grep -iE 'bridge|bench' "$gateway_log" | tail -n 4 >&2 || true; fi
    rows+=("$kind|$steady_summary|$(awk -v a="$rss_before" -v b="$rss_backlog" 'BEGIN { printf "%.1f → %.1f MiB", a / 1024, b / 1024 }')|$disk|$to_first|$to_last|$drain_rate|$uniq / $messages|$lost / $dup / $ooo")
    stop gateway
    stop remote
}

# ---------------------------------------------------------------------------------------------

started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
make_certs
make_payloads
write_publisher
rows=()
for kind in $brokers; do
    say "row $kind"
    run_row "$kind"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cat <<EOF
$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $load_before before and $load_after after, $(($(date +%s) - started)) s; $messages messages of 64 bytes per phase, QoS 1
edgemq: $("$edgemq" --version 2>/dev/null | head -n 1 || echo "?"); $("$mosquitto" -h 2>/dev/null | head -n 1)

| Row | Steady msg/s at the remote | Publisher msg/s | Steady lost / dup / out of order | Gateway RSS before → with backlog | Queue on disk | First message after remote start (s) | Last message after remote start (s) | Drain msg/s | Backlog received | Backlog lost / dup / out of order |
|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|
EOF
for r in "${rows[@]}"; do
    echo "| ${r//|/ | } |"
done
