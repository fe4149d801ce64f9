#!/usr/bin/env python3
"""Both ends of the af_packet inline benchmark's TCP measurements.

  tcp_peer.py server ADDR           sink on ADDR:5001 (replies with the byte count at EOF)
                                    and 1-byte echo on ADDR:5002
  tcp_peer.py bulk ADDR BYTES       one transfer; prints seconds from connect to the reply
  tcp_peer.py rtt ADDR COUNT        COUNT 1-byte round trips (TCP_NODELAY); prints each in ns
  tcp_peer.py wait ADDR SECONDS     exits 0 once ADDR:5002 answers, 1 when time runs out
"""

import socket
import struct
import sys
import threading
import time

BULK, ECHO = 5001, 5002


def serve(addr):
    def sink(conn):
        total = 0
        with conn:
            while True:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
            conn.sendall(struct.pack("!Q", total))

    def echo(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while True:
                b = conn.recv(1)
                if not b:
                    break
                conn.sendall(b)

    def listen(port, handler):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        while True:
            conn, _ = s.accept()
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=listen, args=(BULK, sink), daemon=True).start()
    listen(ECHO, echo)


def bulk(addr, nbytes):
    buf = b"\0" * (256 << 10)
    t0 = time.perf_counter()
    with socket.create_connection((addr, BULK), timeout=60) as s:
        left = nbytes
        while left > 0:
            n = min(left, len(buf))
            s.sendall(buf[:n])
            left -= n
        s.shutdown(socket.SHUT_WR)
        got = struct.unpack("!Q", s.recv(8))[0]
    elapsed = time.perf_counter() - t0
    if got != nbytes:
        sys.exit(f"server received {got} of {nbytes} bytes")
    print(f"{elapsed:.6f}")


def rtt(addr, count):
    with socket.create_connection((addr, ECHO), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        out = []
        for _ in range(count):
            t0 = time.perf_counter_ns()
            s.sendall(b"x")
            if s.recv(1) != b"x":
                sys.exit("echo broke")
            out.append(time.perf_counter_ns() - t0)
    print("\n".join(map(str, out)))


def wait(addr, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr, ECHO), timeout=0.5) as s:
                s.sendall(b"x")
                if s.recv(1) == b"x":
                    return 0
        except OSError:
            time.sleep(0.2)
    return 1


if __name__ == "__main__":
    mode, addr = sys.argv[1], sys.argv[2]
    if mode == "server":
        serve(addr)
    elif mode == "bulk":
        bulk(addr, int(sys.argv[3]))
    elif mode == "rtt":
        rtt(addr, int(sys.argv[3]))
    elif mode == "wait":
        sys.exit(wait(addr, float(sys.argv[3])))
    else:
        sys.exit(__doc__)
