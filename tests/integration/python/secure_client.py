# SPDX-License-Identifier: Apache-2.0
"""A paho-mqtt 1.6 client for the security tests: TLS set up with tls_set() exactly as the
tutorials write it, the websockets transport, a user name and password.

usage: secure_client.py HOST PORT [--transport tcp|websockets] [--path PATH]
                        [--cafile CA [--cert CERT --key KEY]] [--username U [--password P]]
                        [--id CLIENT_ID] [--sub FILTER]... [--pub TOPIC PAYLOAD]...
                        [--pub-bytes TOPIC N]... [--expect N]

Connects; if the broker accepts, subscribes to every --sub filter in one SUBSCRIBE at QoS 1,
then publishes every --pub / --pub-bytes message at QoS 1, in the order given, each once the
one before it is acknowledged, then waits until --expect messages (default 0) have arrived
and disconnects. --pub-bytes sends N bytes of a fixed pattern. A client that receives its own
messages may print them before or after their "published" line.

Prints one line per event, so a test can wait for them and compare:
    connected rc=0                    (rc=4: bad user name or password, rc=5: not authorised)
    subscribed granted=1,128
    published TOPIC len=N sha256=HEX  (--pub-bytes)  /  published TOPIC PAYLOAD  (--pub)
    message TOPIC qos=1 PAYLOAD       (payloads up to 64 bytes)
    message TOPIC qos=1 len=N sha256=HEX
    disconnected received=N
and when the connection cannot be made or breaks before the CONNACK:
    connect failed: EXCEPTION_CLASS
    connection lost before CONNACK
"""
import argparse
import hashlib
import sys
import threading

import paho.mqtt.client as mqtt

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("--transport", default="tcp")
parser.add_argument("--path", default="/mqtt")
parser.add_argument("--cafile")
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--username")
parser.add_argument("--password")
parser.add_argument("--id", default="")
parser.add_argument("--sub", action="append", default=[])
parser.add_argument("--pub", nargs=2, action="append", default=[])
parser.add_argument("--pub-bytes", nargs=2, action="append", default=[])
parser.add_argument("--expect", type=int, default=0)
args = parser.parse_args()


print_lock = threading.Lock()


def say(line):
    # The main thread and paho's network thread both print; one write per line keeps the
    # lines whole.
    with print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def pattern(n):
    return bytes((i * 7 + 3) % 256 for i in range(n))


def describe(payload):
    if len(payload) <= 64:
        return payload.decode()
    return "len=%d sha256=%s" % (len(payload), hashlib.sha256(payload).hexdigest())


outgoing = [(topic, payload.encode()) for topic, payload in args.pub]
outgoing += [(topic, pattern(int(n))) for topic, n in args.pub_bytes]
received = 0
connack = threading.Event()
suback = threading.Event()
gone = threading.Event()  # the connection ended (before a CONNACK, or refused)
enough = threading.Event()
accepted = False


def on_connect(client, userdata, flags, rc):
    global accepted
    accepted = rc == 0
    say("connected rc=%d" % rc)
    connack.set()


def on_subscribe(client, userdata, mid, granted_qos):
    say("subscribed granted=%s" % ",".join(str(q) for q in granted_qos))
    suback.set()


def on_message(client, userdata, msg):
    global received
    say("message %s qos=%d %s" % (msg.topic, msg.qos, describe(msg.payload)))
    received += 1
    if received >= args.expect:
        enough.set()


def on_disconnect(client, userdata, rc):
    gone.set()


def on_thread_exception(hook_args):
    # paho's network thread dies on an SSLError (e.g. a TLS 1.3 "certificate required" alert
    # read after the handshake) without calling on_disconnect.
    gone.set()


threading.excepthook = on_thread_exception


def wait_for(event):
    # Returns False when the connection ends first.
    while not event.wait(0.01):
        if gone.is_set():
            return False
    return True


client = mqtt.Client(client_id=args.id, transport=args.transport, reconnect_on_failure=False)
if args.transport == "websockets":
    client.ws_set_options(path=args.path)
if args.cafile:
    client.tls_set(ca_certs=args.cafile, certfile=args.cert, keyfile=args.key)
if args.username is not None:
    client.username_pw_set(args.username, args.password)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.on_disconnect = on_disconnect

try:
    client.connect(args.host, args.port, 60)
except Exception as e:  # ssl.SSLError, ConnectionResetError, WebsocketConnectionError, ...
    say("connect failed: %s" % type(e).__name__)
    raise SystemExit(0)
client.loop_start()
if not wait_for(connack):
    # TLS 1.3: a refused client certificate is reported by an alert after the handshake.
    say("connection lost before CONNACK")
    client.loop_stop()
    raise SystemExit(0)
if not accepted:
    client.disconnect()
    client.loop_stop()
    raise SystemExit(0)

if args.sub:
    client.subscribe([(f, 1) for f in args.sub])
    if not wait_for(suback):
        raise SystemExit("connection lost before SUBACK")
for topic, payload in outgoing:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish()
    say("published %s %s" % (topic, describe(payload)))
if args.expect > 0 and not wait_for(enough):
    raise SystemExit("connection lost after %d messages" % received)
client.disconnect()
client.loop_stop()
say("disconnected received=%d" % received)
