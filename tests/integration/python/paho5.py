# SPDX-License-Identifier: Apache-2.0
"""A paho-mqtt 1.6 client at MQTT 5.0 (protocol=MQTTv5), the way its documentation writes one.

usage: paho5.py HOST PORT subscribe TOPIC COUNT [--id ID] [--expiry SECONDS] [--resume]
       paho5.py HOST PORT publish TOPIC PAYLOAD [--user KEY=VALUE]... [--content-type T]

subscribe prints one line per event and disconnects after COUNT messages (0: after the SUBACK):
    connected rc=0 session_present=0
    subscribed reason=1
    TOPIC qos=1 PAYLOAD user=k:v,k2:v2 content_type=T
publish sends one QoS 1 message with those properties and prints "published" on its PUBACK.
"""
import argparse
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("mode", choices=["subscribe", "publish"])
parser.add_argument("topic")
parser.add_argument("arg")
parser.add_argument("--id", default="")
parser.add_argument("--expiry", type=int, default=0)
parser.add_argument("--resume", action="store_true", help="clean_start=False")
parser.add_argument("--user", action="append", default=[])
parser.add_argument("--content-type")
args = parser.parse_args()

client = mqtt.Client(client_id=args.id, protocol=mqtt.MQTTv5)
received = 0
done = threading.Event()


def on_connect(client, userdata, flags, reason, properties):
    print("connected rc=%d session_present=%d" % (reason.value, flags["session present"]))
    if args.mode == "subscribe":
        client.subscribe(args.topic, qos=1)
    else:
        props = Properties(PacketTypes.PUBLISH)
        if args.user:
            props.UserProperty = [tuple(u.split("=", 1)) for u in args.user]
        if args.content_type:
            props.ContentType = args.content_type
        client.publish(args.topic, args.arg, qos=1, properties=props)


def on_subscribe(client, userdata, mid, reasons, properties):
    print("subscribed reason=%s" % ",".join(str(r.value) for r in reasons))
    if int(args.arg) == 0:
        client.disconnect()


def on_message(client, userdata, msg):
    global received
    p = msg.properties
    user = ",".join("%s:%s" % kv for kv in getattr(p, "UserProperty", []))
    print("%s qos=%d %s user=%s content_type=%s" % (msg.topic, msg.qos, msg.payload.decode(), user,
                                                     getattr(p, "ContentType", "")))
    received += 1
    if received == int(args.arg):
        client.disconnect()


def on_publish(client, userdata, mid):
    print("published")
    client.disconnect()


client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.on_publish = on_publish
connect_props = Properties(PacketTypes.CONNECT)
connect_props.SessionExpiryInterval = args.expiry
client.connect(args.host, args.port, 60, clean_start=not args.resume, properties=connect_props)
client.loop_forever()
print("disconnected received=%d" % received)
