#!/usr/bin/env python3
"""Healthy traffic: three connections (IPv4, IPv6, one idle with a keepalive) that open,
move data both ways and close. Nothing here may produce a warning."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from pcapgen import Conn, ACK, main


def build(cap):
    a = Conn(cap, "198.18.1.2", 40000, "198.18.2.2", 80)
    a.handshake(0.0)                 # 1-3
    a.data("client", 3000, 0.020)    # 4-6
    a.ack("server", 0.030)           # 7
    a.data("server", 500, 0.031)     # 8
    a.ack("client", 0.041)           # 9
    a.close(0.050)                   # 10-12

    b = Conn(cap, "2001:db8::1", 41000, "2001:db8::2", 443)
    b.handshake(0.100)               # 13-15
    b.data("server", 20000, 0.120)   # 16-29: 14 segments
    b.ack("client", 0.130)           # 30
    b.close(0.140)                   # 31-33

    c = Conn(cap, "198.18.1.3", 42000, "198.18.2.2", 5432)
    c.handshake(1.0)                 # 34-36
    c.data("client", 100, 1.020)     # 37
    c.ack("server", 1.030)           # 38
    # 75 s idle, then a Linux keepalive (seq = SND.NXT - 1, no data) and its answer.
    c.send("client", 76.030, ACK, seq=c.nxt["client"] - 1)  # 39
    c.ack("server", 76.040)          # 40
    c.close(80.0)                    # 41-43


if __name__ == "__main__":
    main(build)
