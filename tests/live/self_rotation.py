#!/usr/bin/env python3
"""output.rotate_kb / rotate_s / rotate_keep: tcpsleuth rotating its own events file.

A capture of 150 fault episodes goes through `tcpsleuth analyze` three times: without
rotation (the reference), with rotate_kb = 8 (every rotated file at least 8 KB, ending on a
whole line, and all of them in order followed by the current file equal to the reference:
nothing lost, split or written twice), with rotate_kb = 8 and rotate_keep = 2 (only the two
newest rotated files left, and they are the reference's lines just before the current
file's), and once from a pipe that pauses for 1.5 s with rotate_s = 1 (the lines after the
pause start a new file).

Usage: self_rotation.py TCPSLEUTH TCPSLEUTH_GEN WORKDIR"""
import glob
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from capture_files import pcap_records  # noqa: E402
from outcome import finish  # noqa: E402


def analyze(tcpsleuth, workdir, name, capture, toml, stdin=None):
    events = os.path.join(workdir, name, "events.jsonl")
    os.makedirs(os.path.dirname(events))
    config = os.path.join(workdir, name + ".toml")
    with open(config, "w") as f:
        f.write("[output]\n" + toml)
    argv = [tcpsleuth, "analyze", capture, "--config", config, "--events", events, "--report", "none"]
    if stdin is None:
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return events, argv


def rotated(events):
    """The rotated files, oldest first (a second's stamp, then its -N suffix)."""
    def order(path):
        m = re.search(r"\.(\d{8}T\d{6}Z)(?:-(\d+))?$", path)
        return (m.group(1), int(m.group(2) or 0))
    return sorted(glob.glob(events + ".*"), key=order)


def main():
    tcpsleuth, gen, workdir = sys.argv[1:4]
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    capture = os.path.join(workdir, "faults.pcap")
    subprocess.run([gen, "--flows", "4", "--laps", "0", "--fault", "mtu-blackhole:50", "--fault", "syn-unanswered:50",
                    "--fault", "rst-race:50", "--pcap", capture], check=True, capture_output=True, timeout=120)
    problems = []

    reference, _ = analyze(tcpsleuth, workdir, "plain", capture, "")
    ref = open(reference).read()
    if len(ref) < 40 * 1024:
        problems.append(f"the reference is only {len(ref)} bytes: too few findings to rotate several times")

    events, _ = analyze(tcpsleuth, workdir, "by-size", capture, "rotate_kb = 8\n")
    files = rotated(events)
    if len(files) < 4:
        problems.append(f"rotate_kb = 8: {len(files)} rotated files from {len(ref)} bytes")
    for f in files:
        text = open(f).read()
        if len(text) < 8 * 1024 or not text.endswith("\n") or not text.startswith("{"):
            problems.append(f"{os.path.basename(f)}: {len(text)} bytes, not whole lines of at least 8 KB")
    joined = "".join(open(f).read() for f in files + [events])
    if joined != ref:
        problems.append(f"rotate_kb = 8: the files together ({len(joined)} bytes) differ from the reference ({len(ref)})")

    events, _ = analyze(tcpsleuth, workdir, "kept", capture, "rotate_kb = 8\nrotate_keep = 2\n")
    files = rotated(events)
    if len(files) != 2:
        problems.append(f"rotate_keep = 2: {len(files)} rotated files left")
    tail = "".join(open(f).read() for f in files + [events])
    if not ref.endswith(tail) or not tail:
        problems.append("rotate_keep = 2: what is left is not the reference's last lines")

    # Time: a pipe that pauses longer than rotate_s between two halves.
    header, records = pcap_records(capture)
    events, argv = analyze(tcpsleuth, workdir, "by-time", "-", "rotate_s = 1\n", stdin=True)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdin.write(header + b"".join(records[:2000]))
    p.stdin.flush()
    time.sleep(1.5)
    p.stdin.write(b"".join(records[2000:]))
    p.stdin.close()
    p.wait(timeout=120)
    files = rotated(events)
    joined = "".join(open(f).read() for f in files + [events])
    if not files:
        problems.append("rotate_s = 1: nothing rotated across a 1.5 s pause")
    if joined != ref:
        problems.append("rotate_s = 1: the files together differ from the reference")

    finish(problems, f"self rotation: {len(ref)} bytes of findings rotated by size, by count kept and by time")


if __name__ == "__main__":
    main()
