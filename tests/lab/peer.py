#!/usr/bin/env python3
"""Traffic for the lab: run inside a namespace as `peer.py server ...` or `peer.py client ...`.
Real Linux sockets on both ends; every loop is bounded in time and bytes."""
import socket
import sys
import threading
import time


def serve(port, mode, arg):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)  # dual-stack: IPv4 clients too
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if mode == "slow":
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    if mode == "trickle":
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    ls.bind(("::", port))
    ls.listen(256)
    ls.settimeout(120)
    while True:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            return
        conn.settimeout(60)
        threading.Thread(target=serve_one, args=(conn, mode, arg), daemon=True).start()


def serve_one(conn, mode, arg):
    try:
        handle(conn, mode, arg)
    except OSError:
        pass
    finally:
        conn.close()


def handle(conn, mode, arg):
    if mode == "slow":  # a receiver that stops reading: its window closes
        time.sleep(float(arg))
    # "trickle": a receiver that reads 8 KiB every `arg` seconds, slower than the network
    # delivers: its window fills and closes again and again.
    read_size, pause = (8192, float(arg)) if mode == "trickle" else (65536, 0.0)
    while True:
        line = b""
        while not line.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                return
            line += chunk
        # Request: "<upload bytes> <download bytes>\n", then the upload.
        up, down = (int(x) for x in line.split())
        got = 0
        while got < up:
            data = conn.recv(min(read_size, up - got))
            if not data:
                return
            got += len(data)
            if pause:
                time.sleep(pause)
        conn.sendall(b"d" * down if down else b"k")


def client(host, port, up, down, rounds=1, gap=0.0, keepalive=0, timeout=10.0, src=None, first=-1):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    if keepalive:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, keepalive)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, keepalive)
    if src:
        s.bind((src, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    for r in range(rounds):
        if r:
            time.sleep(gap)
        n = first if r == 0 and first >= 0 else up  # a small first exchange, then the real one
        s.sendall(f"{n} {down}\n".encode() + b"u" * n)
        want = down if down else 1
        got = 0
        while got < want:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("closed")
            got += len(chunk)
    s.close()


def main():
    role = sys.argv[1]
    if role == "server":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "0")
        return
    kw = {}
    for a in sys.argv[6:]:
        k, v = a.split("=")
        kw[k] = v if k == "src" else float(v) if k in ("gap", "timeout") else int(v)
    try:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), **kw)
        print("ok")
    except OSError as e:
        print(f"error: {e}")
        sys.exit(3)


if __name__ == "__main__":
    main()
