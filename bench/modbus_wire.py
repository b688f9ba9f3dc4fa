#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# modbus_wire.py: two ptys joined by an emulated RS-485 line, for bench/modbus.sh. A pty moves
# bytes at memory speed whatever baud is set on it; here every byte takes its character time
# (start + 8 data + parity + stop bits at BAUD) on one half-duplex line shared by both
# directions, so a master on DEV and slaves on SIM see the wire's timing.
#
#   modbus_wire.py DEV SIM BAUD [BITS_PER_CHAR]   (symlinks DEV and SIM; runs until killed)
#
# Accuracy: bytes are released by a select() loop, so each lands within ~0.1 ms of its time;
# at 115200 baud (87 µs a character) bursts are released together, the total time holds.
import os, select, sys, time, tty

dev, sim, baud = sys.argv[1], sys.argv[2], int(sys.argv[3])
char_time = (int(sys.argv[4]) if len(sys.argv) > 4 else 10) / baud

ends = []
for link in (dev, sim):
    master, slave = os.openpty()
    tty.setraw(slave)  # as socat's pty,raw,echo=0: the programs set their own termios too
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.ttyname(slave), link)
    ends.append((master, slave))  # the slave end stays open: no EIO before a program opens it
a, b = ends[0][0], ends[1][0]
peer = {a: b, b: a}
line_free = 0.0  # when the line has sent every byte queued so far
pending = []     # (time the byte has been received in full, target fd, byte), in time order
print("ready", flush=True)
while True:
    now = time.monotonic()
    timeout = max(0.0, pending[0][0] - now) if pending else None
    readable, _, _ = select.select([a, b], [], [], timeout)
    now = time.monotonic()
    for fd in readable:
        try:
            data = os.read(fd, 4096)
        except OSError:  # no program on that end (yet, or any more)
            time.sleep(0.01)
            continue
        for byte in data:
            line_free = max(line_free, now) + char_time
            pending.append((line_free, peer[fd], bytes([byte])))
    # Everything due, written per target in one go.
    due = 0
    while due < len(pending) and pending[due][0] <= now:
        due += 1
    if due:
        out = {}
        for _, fd, byte in pending[:due]:
            out[fd] = out.get(fd, b"") + byte
        del pending[:due]
        for fd, data in out.items():
            try:
                os.write(fd, data)
            except OSError:
                pass
