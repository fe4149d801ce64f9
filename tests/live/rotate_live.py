#!/usr/bin/env python3
"""Log rotation the logrotate way: the events file and logging.file are moved away while
`tcpsleuth run` writes them, and tcpsleuth is told to reopen them, once with
`tcpsleuthctl reopen` (logrotate's postrotate) and once with SIGHUP. The capture is fed
through a FIFO in two halves around the first rotation, so findings come on both sides of it. The three events files
read in rotation order must hold exactly the lines `tcpsleuth analyze` writes for the same
capture (one worker gives the very same lines): nothing lost, nothing twice, in order. Each
log file must carry on where the last stopped (the reopen is logged in the new one). A
reopen that cannot open its file fails with an error reply and changes nothing.

Usage: rotate_live.py TCPSLEUTH TCPSLEUTHCTL WORKDIR CAPTURE"""
import json
import os
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from capture_files import pcap_records  # noqa: E402
from outcome import finish  # noqa: E402
from sensor_config import ctl, remove_runtime_dirs_at_exit, write_sensor_config  # noqa: E402


# 2025-11-21T04:40:15Z: between the demo's unanswered SYNs (04:40:05) and its zero-window
# stall (04:40:24).
SPLIT_AT = 1763700015


def main():
    tcpsleuth, tcpsleuthctl, workdir, capture = sys.argv[1:5]
    os.makedirs(workdir, exist_ok=True)
    remove_runtime_dirs_at_exit("tsl-rotate*")
    events, log, sock = (os.path.join(workdir, n) for n in ("events.jsonl", "tcpsleuth.log", "s.sock"))
    for path in (events, log, events + ".1", events + ".2", log + ".1"):
        if os.path.exists(path):
            os.unlink(path)
    header, records = pcap_records(capture)
    # The halves split between the first finding's packets and the second's (by time). The
    # pcap driver hands packets over a burst (32) at a time and waits inside one for more from
    # a FIFO: 40 ARP frames close the first half so all of its TCP packets get through. The
    # expected lines come from analyze on the same bytes.
    split = next(i for i, r in enumerate(records) if struct.unpack("<I", r[:4])[0] >= SPLIT_AT)
    arp = bytes.fromhex("ffffffffffff020000000001" "0806" "0001080006040001" "020000000001" "c6120102" "000000000000" "c6120202")
    filler = [struct.pack("<IIII", SPLIT_AT, i, len(arp), len(arp)) + arp for i in range(40)]
    records[split:split] = filler
    split += len(filler)
    padded = os.path.join(workdir, "padded.pcap")
    with open(padded, "wb") as f:
        f.write(header + b"".join(records))
    want = subprocess.run([tcpsleuth, "analyze", padded, "--events", "-", "--no-report"], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    fifo = os.path.join(workdir, "feed.pcap")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    config = os.path.join(workdir, "run.toml")
    write_sensor_config(config, devices=[f"net_pcap0,rx_pcap={fifo}"], events=events,
                        prefix="tsl-rotate", socket=sock, extra=f'[logging]\nfile = "{log}"\n')
    problems = []
    proc = subprocess.Popen([tcpsleuth, "run", "--config", config], stderr=subprocess.PIPE, text=True)

    def received(n):
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            r = ctl(tcpsleuthctl, sock, "--json", "stats")
            if r.returncode == 0 and sum(p["rx_packets"] for p in json.loads(r.stdout)["ports"]) >= n:
                time.sleep(0.5)  # their events drained
                return True
            time.sleep(0.1)
        problems.append(f"tcpsleuth did not receive {n} packets")
        return False

    try:
        feed = open(fifo, "wb")  # rendezvous with net_pcap opening it
        feed.write(header + b"".join(records[:split]))
        feed.flush()
        received(split - 31)  # at most a burst held back: fillers only
        # Rotation 1: logrotate moves both files, then runs `tcpsleuthctl reopen`.
        os.rename(events, events + ".1")
        os.rename(log, log + ".1")
        r = ctl(tcpsleuthctl, sock, "reopen")
        if r.returncode != 0 or events not in r.stdout or log not in r.stdout:
            problems.append(f"reopen: {r.returncode} {r.stdout} {r.stderr}")
        if not os.path.exists(events) or not os.path.exists(log):
            problems.append("reopen did not create the files afresh")
        # A reopen that cannot open the file: an error reply, nothing changes.
        os.rename(events, events + ".tmp")
        os.mkdir(events)
        r = ctl(tcpsleuthctl, sock, "reopen")
        if r.returncode != 1 or "cannot reopen" not in r.stderr:
            problems.append(f"a reopen onto a directory must fail: {r.returncode} {r.stdout} {r.stderr}")
        os.rmdir(events)
        os.rename(events + ".tmp", events)
        feed.write(b"".join(records[split:]))
        feed.close()
        received(len(records))
        # Rotation 2: by SIGHUP (which also re-reads the configuration).
        os.rename(events, events + ".2")
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and not os.path.exists(events):
            time.sleep(0.1)
        if not os.path.exists(events):
            problems.append("SIGHUP did not reopen the events file")
        ctl(tcpsleuthctl, sock, "shutdown")
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        problems.append(f"tcpsleuth run exited {proc.returncode}: {stderr[-500:]}")
    got = []
    for path in (events + ".1", events + ".2", events):
        if os.path.exists(path):
            got += open(path).read().splitlines()
    before = open(events + ".1").read().splitlines() if os.path.exists(events + ".1") else []
    if not before or len(before) == len(want):
        problems.append(f"the findings did not fall on both sides of the first rotation ({len(before)} of {len(want)} before)")
    if got != want:
        missing = [line for line in want if line not in got][:2]
        extra = [line for line in got if line not in want or got.count(line) > 1][:2]
        problems.append(f"{len(got)} event lines over the rotated files, analyze wrote {len(want)}; missing {missing} extra {extra}")
    first = open(log + ".1").read() if os.path.exists(log + ".1") else ""
    second = open(log).read() if os.path.exists(log) else ""
    if "control socket" not in first or "reopened" not in second or "reopened" in first:
        problems.append(f"log files: the first must hold the start, the second the reopen and what followed:\n{first[-300:]}\n--\n{second[:300]}")
    finish(problems, f"rotate live: {len(want)} events over 3 files")


if __name__ == "__main__":
    main()
