# SPDX-License-Identifier: Apache-2.0
"""A paho-mqtt 1.6 publisher written the way the tutorials write one.

usage: publisher.py HOST PORT TOPIC QOS COUNT [--retain] [--prefix PREFIX]

Publishes COUNT messages PREFIX0, PREFIX1, ... (PREFIX defaults to "msg-") at QOS, waits until
every one is complete (PUBACK / PUBCOMP received, or written for QoS 0), then prints
    published COUNT
and disconnects cleanly.
"""
import argparse
import threading

import paho.mqtt.client as mqtt

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("topic")
parser.add_argument("qos", type=int)
parser.add_argument("count", type=int)
parser.add_argument("--retain", action="store_true")
parser.add_argument("--prefix", default="msg-")
args = parser.parse_args()

connected = threading.Event()


def on_connect(client, userdata, flags, rc):
    print("connected rc=%d" % rc)
    if rc == 0:
        connected.set()


client = mqtt.Client()
client.on_connect = on_connect
client.connect(args.host, args.port, 60)
client.loop_start()
if not connected.wait(10):
    raise SystemExit("no CONNACK within 10 s")

infos = []
for i in range(args.count):
    info = client.publish(args.topic, "%s%d" % (args.prefix, i), qos=args.qos, retain=args.retain)
    infos.append(info)
for info in infos:
    info.wait_for_publish()
print("published %d" % len(infos))

client.disconnect()
client.loop_stop()
