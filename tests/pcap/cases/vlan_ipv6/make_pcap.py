#!/usr/bin/env python3
"""One 4-tuple on two VLANs is two flows; an IPv6 flow on a third VLAN whose server window
is still closed when the capture ends."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from pcapgen import Conn, ACK, main


def build(cap):
    a = Conn(cap, "198.18.1.2", 40000, "198.18.2.2", 80, vlans=(10,))
    b = Conn(cap, "198.18.1.2", 40000, "198.18.2.2", 80, vlans=(20,))
    v6 = Conn(cap, "2001:db8::1", 40000, "2001:db8::2", 8080, vlans=(30,))
    a.handshake(0.0)                                   # 1-3
    b.handshake(0.1)                                   # 4-6
    v6.handshake(1.0)                                  # 7-9
    v6.data("client", 1448, 1.020)                     # 10
    v6.ack("server", 1.030, window=0)                  # 11: closes
    v6.send("client", 1.530, ACK, seq=v6.nxt["client"] - 1)  # 12: probe
    v6.send("client", 2.530, ACK, seq=v6.nxt["client"] - 1)  # 13: probe
    a.data("client", 100, 3.030)                       # 14: the capture ends here


if __name__ == "__main__":
    main(build)
