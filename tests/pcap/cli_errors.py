#!/usr/bin/env python3
"""Unreadable input gets one line naming the file and the reason, and exit status 2; a
capture cut short is analysed up to the cut and says so; bad options exit 1."""
import os
import struct
import subprocess
import sys

binary, work = sys.argv[1], os.path.join(sys.argv[2], "cli")
os.makedirs(work, exist_ok=True)
problems = []


def check(args, rc, stderr_has=(), stdout_lines=None):
    p = subprocess.run([binary] + args, capture_output=True, text=True, timeout=30)
    if p.returncode != rc:
        problems.append(f"{args}: exit {p.returncode}, expected {rc} ({p.stderr.strip()})")
    for s in stderr_has:
        if s not in p.stderr:
            problems.append(f"{args}: stderr lacks {s!r}: {p.stderr.strip()!r}")
    if rc == 2 and len(p.stderr.strip().splitlines()) != 1:
        problems.append(f"{args}: error should be one line: {p.stderr!r}")
    return p


text = os.path.join(work, "notes.txt")
with open(text, "w") as f:
    f.write("this is not a capture\n")
empty = os.path.join(work, "empty.pcap")
open(empty, "wb").close()
missing = os.path.join(work, "missing.pcap")
badlink = os.path.join(work, "badlink.pcap")
with open(badlink, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147))
cut = os.path.join(work, "cut.pcap")
frame = bytes(60)
with open(cut, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    f.write(struct.pack("<IIII", 1, 0, 60, 60) + frame)
    f.write(struct.pack("<IIII", 2, 0, 60, 60) + frame[:30])  # the second record is cut

check(["analyze", missing], 2, [missing, "No such file"])
check(["analyze", text], 2, [text, "not a pcap or pcapng"])
check(["analyze", empty], 2, [empty])
# A directory is read as its capture files, merged; one that is not a capture stops it.
mixed = os.path.join(work, "mixed")
os.makedirs(mixed, exist_ok=True)
with open(os.path.join(mixed, "a.pcap"), "wb") as f, open(cut, "rb") as c:
    f.write(c.read())
with open(os.path.join(mixed, "b.txt"), "w") as f:
    f.write("not a capture either\n")
check(["analyze", mixed], 2, [os.path.join(mixed, "b.txt"), "not a pcap or pcapng"])
check(["analyze", "-", cut], 2, ["standard input", "alone"])
check(["analyze", badlink], 2, [badlink, "unsupported link type 147"])
p = check(["analyze", cut, "--report-format", "json", "--report", "/dev/stdout", "--events", "/dev/null"], 0)
if p.returncode == 0 and ('"rx.packets":1' not in p.stdout or "truncated" not in p.stdout):
    problems.append(f"cut capture: expected 1 packet and a truncation warning: {p.stdout[:300]}")
check(["analyze"], 1, ["no input file"])
check(["analyze", cut, "--bogus"], 1, ["unknown option"])
check(["analyze", cut, "--flows", "abc"], 1, ["--flows"])
check(["analyze", cut, "--report-format", "xml"], 1, ["text, json or html"])
check(["analyze", cut, "--min-confidence", "certain"], 1, ["low, medium or high"])
check(["frobnicate"], 1, ["unknown command"])
# probe: usage errors and targets refused before any packet is sent (the lab probes for real).
check(["probe"], 1, ["no target"])
check(["probe", "198.18.2.2", "--tests", "traceroute"], 1, ['unknown test "traceroute"'])
check(["probe", "198.18.2.2", "--max-idle", "1"], 1, ["--max-idle must be a number from 2 to 3600"])
check(["probe", "198.18.2.2", "--rate", "0"], 1, ["--rate must be a number from 1 to 1000"])
check(["probe", "198.18.2.2:99999"], 2, ["port '99999'"])
check(["probe", "[2001:2::1"], 2, ["without ']'"])
check(["probe", "no-such-host.invalid"], 2, ["no-such-host.invalid"])
check(["probe", "239.1.2.3:80"], 2, ["multicast"])
check(["probe", "[ff05::2]:80"], 2, ["multicast"])
check(["probe", "0.0.0.0"], 2, ["unspecified"])
# Evidence captures read the input twice: a pipe is refused before anything is read, and a
# directory that cannot be written says so.
check(["analyze", "-", "--evidence-dir", os.path.join(work, "ev")], 1, ["standard input", "pipe", "tcpdump -w"])
fifo = os.path.join(work, "capture.fifo")
if not os.path.exists(fifo):
    os.mkfifo(fifo)
check(["analyze", fifo, "--evidence-dir", os.path.join(work, "ev")], 1, [fifo, "pipe"])
check(["analyze", cut, "--evidence-dir", text], 1, [text, "not a directory"])
check(["analyze", cut, "--evidence-dir", os.path.join(missing, "sub")], 1, ["cannot create the evidence directory"])
check(["analyze", cut, "--evidence-dir", ""], 1, ["--evidence-dir needs a directory"])

if problems:
    print("FAIL:")
    for p in problems:
        print("  " + p)
    sys.exit(1)
print("ok: CLI errors are clear and exit with the documented status")
