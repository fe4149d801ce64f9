#!/usr/bin/env python3
"""The bundled demo capture (tests/pcap/demo/demo.pcap): a minute of mostly healthy web and
database traffic with two real problems in it, so `tcpsleuth analyze` has something to say.
  - 24 healthy connections, IPv4 and IPv6, one of them losing a segment that is
    retransmitted and recovered (loss alone is not a fault);
  - a client whose SYNs to 198.18.2.9:443 go unanswered (1, 3, 7 s backoff);
  - a database server (198.18.2.5:5432) that stops reading for 4 s: zero window, probes.
Regenerate with: python3 tests/pcap/demo/make_demo.py tests/pcap/demo/demo.pcap
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import ACK, NOP, PSH, SYN, LINUX_SYN_OPTS, Capture, Conn, opt_sack, write_as  # noqa: E402


def build(cap):
    events = []  # (t, callable) so the connections interleave in time order

    def healthy(i, t):
        v6 = i % 4 == 3
        client = f"2001:db8:1::{10 + i:x}" if v6 else f"198.18.1.{10 + i}"
        server = "2001:db8:2::80" if v6 else "198.18.2.80"
        c = Conn(cap, client, 41000 + i, server, 443 if i % 2 else 80, cisn=1000 * i + 7, sisn=90000 + i)
        steps = []
        steps.append((t, lambda: c.handshake(t)))
        steps.append((t + 0.02, lambda: c.data("client", 300 + 17 * i, t + 0.02)))
        steps.append((t + 0.03, lambda: c.ack("server", t + 0.03)))
        size = 4000 + 1500 * i
        if i == 5:
            # Segment 2 of the response is lost beyond the sensor; the client's dup ACKs
            # bring a fast retransmit.
            def lossy():
                nums = c.data("server", size, t + 0.04)
                first = c.isn["server"] + 1
                c.nxt["server"], keep = first + 1448, c.nxt["server"]
                for k in range(4):  # the first ACK advances, the next three repeat it with SACK
                    sack = b"" if k == 0 else NOP + NOP + opt_sack([(first + 2 * 1448, min(keep, first + (1 + k) * 1448 + 1448))])
                    c.send("client", t + 0.0502 + k * 0.0001, ACK, opts=sack)
                c.nxt["server"] = keep
                c.send("server", t + 0.06, ACK | PSH, b"d" * 1448, seq=first + 1448)
                c.send("client", t + 0.07, ACK)
                return nums
            steps.append((t + 0.04, lossy))
        else:
            steps.append((t + 0.04, lambda: c.data("server", size, t + 0.04)))
            steps.append((t + 0.05, lambda: c.ack("client", t + 0.05)))
        steps.append((t + 0.2, lambda: c.close(t + 0.2)))
        return steps

    for i in range(24):
        events += healthy(i, 0.5 + 2.3 * i)

    lost = Conn(cap, "198.18.1.77", 50000, "198.18.2.9", 443, cisn=424242)
    for k, t in enumerate((2.0, 3.0, 5.0, 9.0)):
        events.append((t, lambda t=t: lost.send("client", t, SYN, seq=424242, opts=LINUX_SYN_OPTS())))

    db = Conn(cap, "198.18.1.50", 51000, "198.18.2.5", 5432, cisn=777, sisn=888)
    events.append((20.0, lambda: db.handshake(20.0)))
    events.append((20.02, lambda: db.data("client", 2896, 20.02)))
    events.append((20.03, lambda: db.ack("server", 20.03, window=0)))
    for t in (20.23, 20.63, 21.43, 23.03):
        events.append((t, lambda t=t: db.send("client", t, ACK, seq=db.nxt["client"] - 1)))
        events.append((t + 0.0002, lambda t=t: db.ack("server", t + 0.0002, window=0)))
    events.append((24.03, lambda: db.ack("server", 24.03)))
    events.append((24.05, lambda: db.data("client", 1000, 24.05)))
    events.append((24.06, lambda: db.ack("server", 24.06)))
    events.append((24.1, lambda: db.close(24.1)))

    for _, step in sorted(events, key=lambda e: e[0]):
        step()


if __name__ == "__main__":
    cap = Capture()
    build(cap)
    write_as(cap, sys.argv[1] if len(sys.argv) > 1 else "demo.pcap", "pcap")
