#!/usr/bin/env python3
"""`tcpsleuth run` replaying captures through DPDK's net_pcap driver must give the verdicts of
`tcpsleuth analyze` on the same files: with one worker the very same event lines (the driver
hands over the capture's timestamps, frames are numbered in arrival order), with several
workers (software distribution) the same event kinds and counts. The first captures with
findings are also cut to a 96-byte snap length (editcap -s): live, net_pcap hands over the
cut frames as they are (no original length), which must give the findings analyze gives
on the same file, where each record still says how long its frame was.

Usage: replay.py TCPSLEUTH WORKDIR CAPTURE... (classic pcap files, Ethernet link type)"""
import collections
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sensor_config import remove_runtime_dirs_at_exit, write_sensor_config  # noqa: E402 - the live tests' one sensor configuration

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
from lab import final_counters  # noqa: E402 - one parser of the final counters table


def ethernet_pcap(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24:
        return False
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return struct.unpack("<I", head[20:24])[0] == 1
    if magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return struct.unpack(">I", head[20:24])[0] == 1
    return False


def analyze(binary, capture, out):
    subprocess.run([binary, "analyze", capture, "--events", out, "--no-report"], check=True, timeout=120)
    return open(out).read().splitlines()


def live(binary, capture, out, workers, tag):
    config = out + ".toml"
    write_sensor_config(config, devices=[f"net_pcap0,rx_pcap={os.path.abspath(capture)}"], events=out, prefix=tag,
                        workers=workers, output_extra="exit_when_idle_s = 1", capacity=65536)
    proc = subprocess.run([binary, "run", "--config", config], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"tcpsleuth run exited {proc.returncode}: {proc.stderr[-800:]}")
    if "events_lost" not in proc.stderr:
        raise RuntimeError("no final counters printed")
    ports, workers = final_counters(proc.stderr)
    lost = {k: row[k] for row in ports.values() for k in ("rx_missed", "rx_errors", "rx_nombuf") if row[k] != 0}
    lost.update({f"worker {w} {k}": row[k] for w, row in workers.items() for k in ("ring_full", "events_lost") if row[k] != 0})
    if not ports or lost:
        raise RuntimeError(f"the replay lost packets or events: {lost or 'no counters'}")
    return open(out).read().splitlines()


def kinds(lines):
    return collections.Counter(json.loads(line)["event"] for line in lines)


def main():
    remove_runtime_dirs_at_exit(f"tsreplay{os.getpid()}x*")
    binary, workdir, captures = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(workdir, exist_ok=True)
    failed = checked = snapped = 0
    total_events = 0
    for i, capture in enumerate(captures):
        if not ethernet_pcap(capture):
            print(f"skip {os.path.basename(capture)}: not a classic Ethernet pcap (net_pcap hands frames over as Ethernet)")
            continue
        name = os.path.basename(capture)
        base = os.path.join(workdir, f"replay{i}")
        want = analyze(binary, capture, base + ".analyze.jsonl")
        total_events += len(want)
        problems = []
        try:
            got = live(binary, capture, base + ".run1.jsonl", 1, f"tsreplay{os.getpid()}x{i}a")
            if got != want:
                missing = [l for l in want if l not in got][:3]
                extra = [l for l in got if l not in want][:3]
                problems.append(f"1 worker: {len(got)} events vs {len(want)}; missing {missing} extra {extra}")
            got2 = live(binary, capture, base + ".run2.jsonl", 2, f"tsreplay{os.getpid()}x{i}b")
            if kinds(got2) != kinds(want):
                problems.append(f"2 workers: {dict(kinds(got2))} vs analyze {dict(kinds(want))}")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            problems.append(str(e))
        if want and snapped < 2:
            snapped += 1
            cut = base + ".snap96.pcap"
            subprocess.run(["editcap", "-F", "pcap", "-s", "96", capture, cut], check=True, capture_output=True)
            want_cut = analyze(binary, cut, base + ".snap96.analyze.jsonl")
            try:
                got_cut = live(binary, cut, base + ".snap96.run1.jsonl", 1, f"tsreplay{os.getpid()}x{i}c")
                if got_cut != want_cut or not want_cut:
                    problems.append(f"snap length 96, 1 worker: {len(got_cut)} events live vs {len(want_cut)} in analyze")
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                problems.append(f"snap length 96: {e}")
        checked += 1
        print(f"{'ok  ' if not problems else 'FAIL'} {name}: {len(want)} events")
        for p in problems:
            print("     " + p)
        failed += bool(problems)
    if checked < 3 or total_events == 0 or snapped == 0:
        print(f"FAIL: only {checked} captures with {total_events} events compared; the comparison proves nothing")
        sys.exit(1)
    print(f"replay: {checked - failed} of {checked} captures agree ({total_events} events)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
