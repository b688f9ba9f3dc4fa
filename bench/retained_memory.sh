#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Whether memory comes back after a burst: 10,000 retained 64 KiB messages are stored, then
# cleared (empty retained publishes), and the broker's resident memory is read before, at the
# peak and 10 s after clearing (the heap trimmer polls every 5 s). Prints a Markdown table;
# nothing is a pass/fail. Usage: bench/retained_memory.sh [BUILD_DIR] (default: build);
# COUNT=10000 SIZE=65536.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
edgemq=$build/gateway/edgemq
count=${COUNT:-10000}
size=${SIZE:-65536}
[[ -x $edgemq ]] || { echo "build edgemq in $build first" >&2; exit 1; }

work=$(mktemp -d /tmp/edgemq-retained-memory.XXXXXX)
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/edgemq.toml" <<TOML
[broker]
max_queued_messages = 0
[admin]
enabled = false
[[listeners]]
bind = "127.0.0.1:$port"
TOML
"$edgemq" --config "$work/edgemq.toml" 2>"$work/log" &
pid=$!
sleep 1
rss() { awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' "/proc/$pid/status"; }
before=$(rss)
# One paho client publishes all of them at QoS 1 (each acknowledged), then clears them.
/usr/bin/python3 - "$port" "$count" "$size" <<'PY'
import sys, paho.mqtt.client as mqtt
port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = mqtt.Client(client_id="retained-memory")
c.connect("127.0.0.1", port)
c.loop_start()
payload = b"x" * size
for i in range(count):
    c.publish(f"bench/retained/{i}", payload, qos=1, retain=True).wait_for_publish()
c.loop_stop()
c.disconnect()
PY
peak=$(rss)
/usr/bin/python3 - "$port" "$count" <<'PY'
import sys, paho.mqtt.client as mqtt
port, count = int(sys.argv[1]), int(sys.argv[2])
c = mqtt.Client(client_id="retained-clear")
c.connect("127.0.0.1", port)
c.loop_start()
for i in range(count):
    c.publish(f"bench/retained/{i}", b"", qos=1, retain=True).wait_for_publish()
c.loop_stop()
c.disconnect()
PY
sleep 10
after=$(rss)
echo "| $count x $size B retained | before | peak | 10 s after clearing |"
echo "|---|--:|--:|--:|"
echo "| edgemq $(git rev-parse --short HEAD) | $before | $peak | $after |"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
