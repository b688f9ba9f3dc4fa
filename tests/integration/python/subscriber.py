# SPDX-License-Identifier: Apache-2.0
"""A paho-mqtt 1.6 subscriber written the way the tutorials write one.

usage: subscriber.py HOST PORT TOPIC QOS COUNT [--id CLIENT_ID] [--persistent]

Prints one line per event, so a test can wait for them and compare:
    connected rc=0 session_present=0
    subscribed granted=1
    TOPIC qos=1 retain=0 PAYLOAD
and disconnects after COUNT messages (COUNT 0: right after the SUBACK).
"""
import argparse

import paho.mqtt.client as mqtt

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("topic")
parser.add_argument("qos", type=int)
parser.add_argument("count", type=int)
parser.add_argument("--id", default="")
parser.add_argument("--persistent", action="store_true")
args = parser.parse_args()

received = 0


def on_connect(client, userdata, flags, rc):
    print("connected rc=%d session_present=%d" % (rc, flags["session present"]))
    # Subscribing in on_connect renews the subscription after a reconnect.
    client.subscribe(args.topic, qos=args.qos)


def on_subscribe(client, userdata, mid, granted_qos):
    print("subscribed granted=%s" % ",".join(str(q) for q in granted_qos))
    if args.count == 0:
        client.disconnect()


def on_message(client, userdata, msg):
    global received
    print("%s qos=%d retain=%d %s" % (msg.topic, msg.qos, msg.retain, msg.payload.decode()))
    received += 1
    if received == args.count:
        client.disconnect()


if args.persistent:
    client = mqtt.Client(client_id=args.id, clean_session=False)
else:
    client = mqtt.Client(client_id=args.id)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message

client.connect(args.host, args.port, 60)
client.loop_forever()
print("disconnected received=%d" % received)
