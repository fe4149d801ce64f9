#!/usr/bin/env python3
"""tcpsleuth run under a supervisor speaking systemd's notify protocol: this test binds the
datagram socket $NOTIFY_SOCKET names (a path, then an abstract '@' name) with
WATCHDOG_USEC = 0.6 s, and must receive, in order: READY=1 with a STATUS once the port is
up; WATCHDOG=1 pings at most 0.3 s apart while it runs; RELOADING=1 then READY=1 around a
SIGHUP reload; STOPPING=1 on SIGTERM; and tcpsleuth must exit 0. Without $NOTIFY_SOCKET the
same run sends nothing and still starts (checked by every other live test).

Usage: notify_live.py TCPSLEUTH WORKDIR CAPTURE"""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from outcome import finish  # noqa: E402
from sensor_config import remove_runtime_dirs_at_exit, write_sensor_config  # noqa: E402


def run_once(tcpsleuth, workdir, capture, abstract):
    problems = []
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"@tcpsleuth-notify-test-{os.getpid()}"
        sock.bind("\0" + name[1:])
    else:
        name = os.path.join(workdir, "notify.sock")
        if os.path.exists(name):
            os.unlink(name)
        sock.bind(name)
    sock.settimeout(0.2)
    config = os.path.join(workdir, "run.toml")
    write_sensor_config(config, devices=[f"net_pcap0,rx_pcap={os.path.abspath(capture)},infinite_rx=1"],
                        events=os.path.join(workdir, "events.jsonl"), prefix="tsl-notify")
    env = dict(os.environ, NOTIFY_SOCKET=name, WATCHDOG_USEC="600000")
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([tcpsleuth, "run", "--config", config], stderr=subprocess.PIPE, text=True, env=env)
    got = []  # (time, message)

    def collect(seconds, until=None):
        end = time.time() + seconds
        while time.time() < end:
            try:
                msg = sock.recv(4096).decode()
            except socket.timeout:
                continue
            got.append((time.time(), msg))
            if until and until(msg):
                return True
        return False

    try:
        if not collect(30, lambda m: "READY=1" in m):
            problems.append(f"no READY=1 within 30 s: {got}")
        elif "STATUS=tap: 1 port(s), 1 worker(s)" not in got[-1][1]:
            problems.append(f"READY without the STATUS line: {got[-1][1]!r}")
        start = len(got)
        collect(2.0)
        pings = [t for t, m in got[start:] if m == "WATCHDOG=1"]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        if len(pings) < 4 or max(gaps) > 0.45:
            problems.append(f"watchdog: {len(pings)} pings in 2 s, gaps {[round(g, 2) for g in gaps]}")
        proc.send_signal(signal.SIGHUP)
        start = len(got)
        collect(10, lambda m: "READY=1" in m)
        states = [m.split("\n")[0] for _, m in got[start:] if m != "WATCHDOG=1" and not m.startswith("STATUS=")]
        if states[:2] != ["RELOADING=1", "READY=1"]:
            problems.append(f"around SIGHUP: {states}")
        proc.send_signal(signal.SIGTERM)
        start = len(got)
        collect(10, lambda m: "STOPPING=1" in m)
        if not any(m == "STOPPING=1" for _, m in got[start:]):
            problems.append("no STOPPING=1 after SIGTERM")
        _, log = proc.communicate(timeout=60)
        if proc.returncode != 0:
            problems.append(f"exit {proc.returncode}: {log[-400:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
    return [f"{'abstract' if abstract else 'path'} socket: {p}" for p in problems]


def main():
    tcpsleuth, workdir, capture = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    remove_runtime_dirs_at_exit("tsl-notify*")
    problems = run_once(tcpsleuth, workdir, capture, False) + run_once(tcpsleuth, workdir, capture, True)
    finish(problems, "notify live")


if __name__ == "__main__":
    main()
