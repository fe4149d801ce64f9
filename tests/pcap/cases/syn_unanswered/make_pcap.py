#!/usr/bin/env python3
"""A client's SYN retransmitted with the same ISN (Linux backoff: +1, +3, +7 s) and never
answered; beside it, a refused connection (RST) and an application that retries with a new
ISN each time, which are not the stack retransmitting and must not count as such."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from pcapgen import Conn, SYN, RST, ACK, LINUX_SYN_OPTS, main


def build(cap):
    lost = Conn(cap, "198.18.1.2", 40001, "198.18.2.2", 443, cisn=0x10000)
    refused = Conn(cap, "198.18.1.2", 40002, "198.18.2.3", 22, cisn=0x20000)
    retry = Conn(cap, "198.18.1.2", 40003, "198.18.2.4", 80, cisn=111)

    isn = lost.nxt["client"]
    lost.send("client", 0.0, SYN, opts=LINUX_SYN_OPTS())                    # 1
    refused.send("client", 0.5, SYN, opts=LINUX_SYN_OPTS())                 # 2
    refused.send("server", 0.5002, RST | ACK)                              # 3
    lost.send("client", 1.0, SYN, seq=isn, opts=LINUX_SYN_OPTS())           # 4
    retry.send("client", 2.0, SYN, seq=111, opts=LINUX_SYN_OPTS())          # 5
    lost.send("client", 3.0, SYN, seq=isn, opts=LINUX_SYN_OPTS())           # 6: third SYN, reported
    retry.send("client", 3.5, SYN, seq=222, opts=LINUX_SYN_OPTS())          # 7: new ISN
    lost.send("client", 7.0, SYN, seq=isn, opts=LINUX_SYN_OPTS())           # 8
    retry.send("client", 7.5, SYN, seq=333, opts=LINUX_SYN_OPTS())          # 9: new ISN


if __name__ == "__main__":
    main(build)
