#!/usr/bin/env python3
"""A server that stops reading: its window goes to zero for 3 s while the client sends
Linux-style zero-window probes (zero length, seq = SND.UNA - 1), then it reopens."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from pcapgen import Conn, ACK, main


def build(cap):
    c = Conn(cap, "198.18.1.2", 40000, "198.18.2.2", 8080)
    c.handshake(0.0)                                 # 1-3
    c.data("client", 1000, 0.020)                    # 4
    c.ack("server", 0.030, window=0)                 # 5: window closes
    for t in (0.230, 0.630, 1.430):                  # 6, 8, 10: probes; 7, 9, 11: answers
        c.send("client", t, ACK, seq=c.nxt["client"] - 1)
        c.ack("server", t + 0.0002, window=0)
    c.ack("server", 3.030)                           # 12: window reopens
    c.data("client", 1000, 3.040)                    # 13
    c.ack("server", 3.050)                           # 14
    c.close(3.100)                                   # 15-17


if __name__ == "__main__":
    main(build)
