#!/usr/bin/env python3
"""DPDK telemetry of `tcpsleuth run`: with the default configuration the instance has its
socket under /var/run/dpdk/<file-prefix>/dpdk_telemetry.v2, where DPDK's own commands show
the port and its mempool and tcpsleuth's show its counters: after a replay of the demo
capture, /ethdev/stats,0 and /tcpsleuth/stats count its 610 packets, /tcpsleuth/stats its
2 events, /tcpsleuth/worker,0 every named counter ('.' written '_'); a worker that does not exist gets null.
`dpdk-telemetry.py` (DPDK's client) reads the same. With [dpdk] telemetry = false there is
no socket.

Usage: telemetry_live.py TCPSLEUTH WORKDIR CAPTURE"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from outcome import finish  # noqa: E402
from capture_files import pcap_frames  # noqa: E402
from sensor_config import remove_runtime_dirs_at_exit, stop_sensor, write_sensor_config  # noqa: E402


def ask(sock, cmd):
    sock.send(cmd.encode())
    return json.loads(sock.recv(1 << 16))


def start(tcpsleuth, workdir, capture, prefix, telemetry=True):
    config = os.path.join(workdir, prefix + ".toml")
    write_sensor_config(config, devices=[f"net_pcap0,rx_pcap={os.path.abspath(capture)}"],
                        events=os.path.join(workdir, prefix + ".jsonl"), prefix=prefix)
    if not telemetry:
        text = open(config).read().replace("[dpdk]\n", "[dpdk]\ntelemetry = false\n", 1)
        open(config, "w").write(text)
    return subprocess.Popen([tcpsleuth, "run", "--config", config], stderr=subprocess.PIPE, text=True)


def main():
    tcpsleuth, workdir, capture = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    remove_runtime_dirs_at_exit("tsl-telemetry*")
    packets = len(pcap_frames(capture))
    problems = []
    prefix = f"tsl-telemetry{os.getpid()}"
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    proc = start(tcpsleuth, workdir, capture, prefix)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not os.path.exists(path) and proc.poll() is None:
            time.sleep(0.1)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        hello = json.loads(s.recv(1024))
        if not hello.get("version", "").startswith("DPDK"):
            problems.append(f"telemetry greeting {hello}")
        stats = {}
        while time.time() < deadline:
            stats = ask(s, "/tcpsleuth/stats")["/tcpsleuth/stats"]
            if stats and stats["packets"] == packets and stats["events"] == 2:
                break
            time.sleep(0.2)
        if not stats or stats["packets"] != packets or stats["events"] != 2 or stats["workers"] != 1:
            problems.append(f"/tcpsleuth/stats: {stats}, want {packets} packets and 2 events")
        if ask(s, "/ethdev/list")["/ethdev/list"] != [0]:
            problems.append("/ethdev/list is not [0]")
        if ask(s, "/ethdev/stats,0")["/ethdev/stats"]["ipackets"] != packets:
            problems.append("/ethdev/stats,0 does not count the capture")
        if not ask(s, "/mempool/list")["/mempool/list"]:
            problems.append("/mempool/list is empty")
        worker = ask(s, "/tcpsleuth/worker,0")["/tcpsleuth/worker"]
        if not worker or worker.get("rx_packets") != packets or worker.get("parse_ok", 0) == 0 or "flows_active" not in worker:
            problems.append(f"/tcpsleuth/worker,0: {str(worker)[:300]}")
        if ask(s, "/tcpsleuth/worker,7")["/tcpsleuth/worker"] is not None:
            problems.append("/tcpsleuth/worker,7 (no such worker) must be null")
        if "/tcpsleuth/stats" not in ask(s, "/")["/"]:
            problems.append("/ does not list /tcpsleuth/stats")
        s.close()
        client = shutil.which("dpdk-telemetry.py")
        if client is None:
            problems.append("dpdk-telemetry.py (package dpdk) is missing")
        else:
            r = subprocess.run([client, "-f", prefix], input="/tcpsleuth/stats\n", capture_output=True, text=True, timeout=30)
            if f'"packets": {packets}' not in r.stdout:
                problems.append(f"dpdk-telemetry.py: {r.stdout[-300:]} {r.stderr[-300:]}")
    finally:
        stop_sensor(proc, problems)
    # Switched off: no socket.
    off = f"tsl-telemetry{os.getpid()}off"
    proc = start(tcpsleuth, workdir, capture, off, telemetry=False)
    try:
        time.sleep(2)
        if os.path.exists(f"/var/run/dpdk/{off}/dpdk_telemetry.v2"):
            problems.append("[dpdk] telemetry = false still made a socket")
    finally:
        stop_sensor(proc, problems)
    finish(problems, "telemetry live")


if __name__ == "__main__":
    main()
