#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora in fuzz/corpus/<target>/ and the dictionaries fuzz/<target>.dict.

The seeds are inputs, not build outputs: they are committed, and this script is how they were
made. Run it again after the conformance specs or config/edgemq.toml change:

    fuzz/make_seeds.py          # rewrites the generated files, leaves others alone

fuzz_decode gets every packet of tests/conformance/mqtt311/*.spec (send and expect lines) and,
per case, the client's whole byte stream; fuzz_config gets config/edgemq.toml as is and with
every commented-out setting switched on; the others get small hand-made inputs in the layouts
their targets read (see the comment at the top of each fuzz_*.cpp).
"""

import hashlib
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
fuzz = root / "fuzz"
corpus = fuzz / "corpus"


def write(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def spec_packets():
    """(name, bytes) for each send/expect line, and one stream per case and client."""
    for spec in sorted((root / "tests/conformance/mqtt311").glob("*.spec")):
        case = None
        streams = {}
        for line in spec.read_text().splitlines():
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if words[0] == "case":
                for client, data in streams.items():
                    yield f"{spec.stem}-{case}-stream-{client}", data
                case, streams = words[1], {}
            elif words[0] in ("send", "expect") and len(words) > 2:
                data = bytes.fromhex("".join(words[2:]))
                yield f"{spec.stem}-{case}-{words[0]}", data
                if words[0] == "send":
                    streams[words[1]] = streams.get(words[1], b"") + data
        for client, data in streams.items():
            yield f"{spec.stem}-{case}-stream-{client}", data


def decode_seeds():
    seen = set()
    for name, data in spec_packets():
        digest = hashlib.sha1(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        write("fuzz_decode", f"{name}-{digest[:8]}", data)


def server_session_seeds():
    # Each client's whole stream of a conformance case, in the layout fuzz_server_session reads:
    # a settings byte, then reads of (time byte, length byte, bytes), 200 bytes at most each.
    seen = set()
    for name, data in spec_packets():
        if "-stream-" not in name:
            continue
        digest = hashlib.sha1(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        out = bytearray([0])
        for i in range(0, len(data), 200):
            part = data[i:i + 200]
            out += bytes([1, len(part)]) + part
        write("fuzz_server_session", f"{name}-{digest[:8]}", bytes(out))


def config_seeds():
    text = (root / "config/edgemq.toml").read_text()
    write("fuzz_config", "edgemq.toml", text)
    # "#key = value" and "#[table]" lines switched on: every documented setting at once.
    on = re.sub(r"^#(\[|[A-Za-z_][A-Za-z0-9_]* *=)", r"\1", text, flags=re.M)
    write("fuzz_config", "edgemq-all-settings.toml", on)
    write("fuzz_config", "small.toml",
          '[broker]\nthreads = 2\nmax_packet_size = 65536\nsys_interval = "0"\n\n'
          '[[listeners]]\ntype = "tcp"\nbind = "127.0.0.1:1883"\n\n'
          '[[devices]]\nid = "meter"\nmatch = { path = "/dev/ttyUSB0" }\nframing = "line"\n'
          '[devices.parser]\nkind = "regex"\npattern = "T(?<temp>[0-9.]+)"\n'
          '[devices.fields.temp]\ntype = "number"\nscale = 0.1\n')
    keys = sorted(set(re.findall(r"^#?([A-Za-z_][A-Za-z0-9_]*) *=", text, flags=re.M)))
    tables = sorted(set(re.findall(r"^#?(\[\[?[A-Za-z_.]+\]\]?)", text, flags=re.M)))
    lines = ["# TOML keys and tables of config/edgemq.toml (fuzz/make_seeds.py)"]
    lines += [f'"{k} = "' for k in keys] + [f'"{t}"' for t in tables]
    lines += ['"\\x22"', '"\'\'\'"', '"true"', '"false"', '"10s"', '"[]"', '"{ }"']
    (fuzz / "fuzz_config.dict").write_text("\n".join(lines) + "\n")


KAT = (
    "alice:$7$101$ZWRnZW1xLXNhbHQx$viPjuOAtU+HYBqTkNhGd/1+Diq+gzblBTfH5Fpb2HSjrgfU+G6jT5K+Q"
    "vKrnI6Yn+bxHVO7/Iuh4yqmzJW/d6g==\n"
    "bob:$7$1000$ZWRnZW1xLXNhbHQx$p9zYmKehUtQqs4tcCyiDR/3T6a4JzLQydVY5ngjbIAybuQq2QCq3eXLJ0A99f7V"
    "EgRWw45x//7UOR8+XxxLdlw==\n"
    "carol:$6$ZWRnZW1xLXNhbHQx$LgDMuInZjMQJHGTXwdWpSZjd/dvMrJ5wv4ykTJLk1UKgcPbPR5l2S/LTLag4QM5Mu"
    "LgyQbtBMJTpVzQpTAgHDQ==\n"
)


def password_seeds():
    write("fuzz_password_file", "kat", KAT)
    write("fuzz_password_file", "comments-crlf",
          "# site users\r\n\r\n  # indented\r\n " + KAT.replace("\n", " \r\n", 1))
    write("fuzz_password_file", "edit-new-user", KAT + "\0dave")
    write("fuzz_password_file", "edit-known-user", KAT + "\0carol")
    write("fuzz_password_file", "edit-bad-user", KAT + "\0 #x:y")


ACL = """# anonymous clients
topic read $SYS/#
topic sensors/public/#

user alice
topic readwrite sensors/#
topic deny sensors/secret
topic write cmd/+/door

user bob
topic read sensors/+/temp

pattern write devices/%c/status
pattern read users/%u/#
pattern deny devices/%c/secret/#
"""


def acl_seeds():
    write("fuzz_acl", "sample", ACL)
    write("fuzz_acl", "alice-query", ACL + "\0alice\0dev1\0sensors/dev1/temp\0sensors/#\0#")
    write("fuzz_acl", "anonymous-query", ACL + "\0\0dev1\0$SYS/broker/uptime\0$SYS/#\0+/#")
    write("fuzz_acl", "pattern-query", ACL + "\0bob\0dev+1\0devices/dev+1/status\0users/bob/#"
          "\0users/+/#")


def session_seeds():
    # Limits (max_inflight-1, max_queued, queue_qos0, outbound/512), then ops: 0 deliver(b),
    # 1 puback, 2 pubrec, 3 pubcomp, 4 publish_qos2, 5 pubrel (each with an id byte; >= 0x80
    # picks a recent id), 6 disconnect, 7 reconnect, 8 flush.
    qos1, qos2, qos0 = 0x01, 0x02, 0x00
    write("fuzz_session", "qos1-acks",
          bytes([1, 4, 0, 2, 0, qos1, 0, qos1, 0, qos1, 1, 0x80, 1, 0x81, 8, 1, 0x82]))
    write("fuzz_session", "qos2-flow",
          bytes([3, 8, 1, 2, 0, qos2, 0, qos2, 2, 0x80, 3, 0x80, 2, 0x81, 2, 0x81, 3, 0x81]))
    write("fuzz_session", "offline-resume",
          bytes([0, 3, 1, 1, 0, qos1, 0, qos2, 6, 0, qos1, 0, qos0, 0, qos2, 0, qos2, 7, 1, 0x80,
                 2, 0x81, 7]))
    write("fuzz_session", "inbound-qos2",
          bytes([7, 0, 0, 0, 4, 0, 0, 7, 4, 0, 0, 7, 5, 0, 0, 7, 4, 0, 0, 7, 5, 0, 0, 9]))
    write("fuzz_session", "big-payloads",
          bytes([1, 0, 0, 1, 0, 0x0d, 0, 0x0d, 0, 0x0c, 0, 0x0c, 1, 0x80, 8, 0, 0x0e]))


SERIAL_LINES = [
    "T23.5 H40",
    "temp=25.1,hum=60, state = on ,name=boiler",
    "251,x,3,boiler",
    '{"temp":21.5,"n":3,"state":"on","a":{"b":[1,2],"c":null}}',
    "dev1;on;hello",
    "caf\xe9 \xff",
]


def serial_seeds():
    # Header: mode | encoding << 2, max_frame_bytes / 4 (0 = 1024), frame_length - 1, then the
    # delimiter, pair, kv and csv separators (length-prefixed; 0 = default, 255 = empty where
    # allowed). Ops: 0 feed
    # (length, bytes), 5 on_idle, 6 discard (length, bytes), 7 reset.
    def feed(data):
        return bytes([0, len(data)]) + data

    lines = b"".join(feed((s + "\r\n").encode("latin-1")) for s in SERIAL_LINES)
    default_seps = bytes([0, 0, 0, 0])
    write("fuzz_serial", "line-utf8", bytes([0x00, 0, 15]) + default_seps + lines)
    write("fuzz_serial", "line-latin1", bytes([0x04, 0, 15]) + default_seps + lines)
    write("fuzz_serial", "delimiter",
          bytes([0x01, 16, 3, 1, ord(";")]) + bytes([0, 0, 0]) +
          feed(b"T1 H2;temp=3;n=4,state=off;") + feed(b"x" * 70 + b";"))
    write("fuzz_serial", "fixed-binary", bytes([0x0a, 4, 5]) + default_seps +
          feed(bytes(range(0, 40))))
    write("fuzz_serial", "idle-gap",
          bytes([0x03, 0, 0]) + default_seps + feed(b"dev1;off;") + bytes([5]) +
          feed(b"T9 H9") + bytes([6, 4]) + b"boot" + feed(b"temp=1") + bytes([5, 7]))
    write("fuzz_serial", "kv-separators",
          bytes([0x00, 0, 0, 0, 1, ord(" "), 1, ord(":"), 1, ord(";")]) +
          feed(b"temp:1 n:2 state:yes\n1;2;3;x\n"))
    write("fuzz_serial", "kv-empty-separators",
          bytes([0x00, 0, 0, 0, 255, 255, 0]) + feed(b"temp=1,n=2\n"))


def main():
    decode_seeds()
    server_session_seeds()
    config_seeds()
    password_seeds()
    acl_seeds()
    session_seeds()
    serial_seeds()


if __name__ == "__main__":
    main()
