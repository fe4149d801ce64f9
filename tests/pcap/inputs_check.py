#!/usr/bin/env python3
"""Every way a user hands analyze a capture gives the findings of the whole capture read
from one file: standard input and a FIFO (tcpdump -w - | tcpsleuth analyze -), gzip, zstd
and lz4 files recognised by content (also under a misleading name, also piped), rotated
files in any order and as a directory (evidence then names each packet's file and frame,
checked against where editcap put it), and a pcapng whose two interfaces have different
link types and time resolutions (written here from the pcapng spec, not by our code).

usage: inputs_check.py TCPSLEUTH TCPSLEUTH_GEN WORKDIR
"""

import json
import os
import random
import shutil
import struct
import subprocess
import sys

TRAFFIC = ["--flows", "80", "--rounds", "6", "--ipv6", "30", "--ecn", "20", "--sizes", "imix",
           "--fault", "mtu-blackhole:2", "--fault", "zero-window:2", "--fault", "sack-invalid:1",
           "--fault", "syn-unanswered:1", "--fault", "receiver-limited:1"]

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def analyze(tcpsleuth, args, stdin=None):
    proc = subprocess.run([tcpsleuth, "analyze", *args, "--report", "none", "--no-progress", "-q"], stdin=stdin,
                          capture_output=True, text=True)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    assert struct.unpack("<I", data[:4])[0] == 0xa1b2c3d4
    records, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, cap, wire = struct.unpack("<IIII", data[pos:pos + 16])
        records.append((sec, usec, wire, data[pos + 16:pos + 16 + cap]))
        pos += 16 + cap
    return records


def block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def write_two_link_pcapng(records, path):
    """Interface 0: Ethernet, microseconds (the default resolution). Interface 1: raw IP
    (LINKTYPE_RAW 101), nanoseconds (if_tsresol 9). The server's frames go out on
    interface 1 without their Ethernet header. A name-resolution block sits in between."""
    out = block(0x0a0d0d0a, struct.pack("<IHHq", 0x1a2b3c4d, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 0))
    out += block(1, struct.pack("<HHI", 101, 0, 0) + struct.pack("<HHB", 9, 1, 9) + b"\0\0\0" + struct.pack("<HH", 0, 0))
    out += block(4, struct.pack("<HH", 0, 0))  # an empty name resolution block
    for sec, usec, wire, frame in records:
        from_client = frame[11] == 0x01  # the generator's client MAC
        if from_client:
            iface, ts, data, orig = 0, sec * 1_000_000 + usec, frame, wire
        else:
            iface, ts, data, orig = 1, (sec * 1_000_000 + usec) * 1000, frame[14:], wire - 14
        out += block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xffffffff, len(data), orig) + data)
    with open(path, "wb") as f:
        f.write(out)


def main():
    tcpsleuth, gen, workdir = sys.argv[1:4]
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    whole = os.path.join(workdir, "whole.pcap")
    subprocess.run([gen, *TRAFFIC, "--pcap", whole], check=True, capture_output=True)
    rc, ref, err = analyze(tcpsleuth, [whole])
    check(rc == 0 and len(ref) >= 6, f"the whole capture: {len(ref)} findings {err.strip()[:200]}")

    with open(whole, "rb") as f:
        rc, ev, err = analyze(tcpsleuth, ["-"], stdin=f)
    check(rc == 0 and ev == ref, f"standard input: the same {len(ev)} findings {err.strip()[:200]}")

    fifo = os.path.join(workdir, "fifo")
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat '{whole}' > '{fifo}'"])
    rc, ev, err = analyze(tcpsleuth, [fifo])
    writer.wait(timeout=60)
    check(rc == 0 and ev == ref, f"a FIFO: the same {len(ev)} findings {err.strip()[:200]}")

    for tool, args in (("gzip", ["gzip", "-c"]), ("zstd", ["zstd", "-q", "-c"]), ("lz4", ["lz4", "-q", "-c"])):
        packed = os.path.join(workdir, f"capture-{tool}.pcap")  # the name says nothing of compression
        with open(packed, "wb") as f:
            subprocess.run([*args, whole], stdout=f, check=True)
        rc, ev, err = analyze(tcpsleuth, [packed])
        check(rc == 0 and ev == ref, f"{tool} file named .pcap: the same {len(ev)} findings {err.strip()[:200]}")
        with open(packed, "rb") as f:
            rc, ev, err = analyze(tcpsleuth, ["-"], stdin=f)
        check(rc == 0 and ev == ref, f"{tool} piped: the same {len(ev)} findings {err.strip()[:200]}")
    cut = os.path.join(workdir, "cut.pcap.gz")
    with open(os.path.join(workdir, "capture-gzip.pcap"), "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[:len(data) // 2])
    proc = subprocess.run([tcpsleuth, "analyze", cut, "--events", "/dev/null", "--report", "-", "--report-format", "json",
                           "--no-progress", "-q"], capture_output=True, text=True)
    rep = json.loads(proc.stdout)
    total = len(read_pcap(whole))
    said = json.dumps(rep.get("input_warning", rep))
    check(proc.returncode == 0 and 0 < rep["packets"] < total and "gzip data ends" in said,
          f"a gzip file cut in half: {rep['packets']} of {total} packets analysed, and the report says where it stopped")

    # Rotated files: split every 400 packets, handed over shuffled, and as a directory.
    rot = os.path.join(workdir, "rotated")
    os.makedirs(rot)
    subprocess.run(["editcap", "-F", "pcap", "-c", "400", whole, os.path.join(rot, "part.pcap")], check=True,
                   capture_output=True)
    parts = sorted(os.path.join(rot, p) for p in os.listdir(rot))
    shuffled = parts[:]
    random.Random(7).shuffle(shuffled)
    for label, args in (("rotated files in shuffled order", shuffled), ("a directory of rotated files", [rot])):
        rc, ev, err = analyze(tcpsleuth, args)
        stripped = [json.loads(json.dumps(e)) for e in ev]
        for e in stripped:
            e["evidence"].pop("frames", None)
        check(rc == 0 and stripped == ref, f"{label} ({len(parts)}): the same {len(ev)} findings {err.strip()[:200]}")
        right = True
        for e in ev:
            for num, where in zip(e["evidence"].get("packets", []), e["evidence"].get("frames", [])):
                part = (num - 1) // 400
                right &= where == {"file": parts[part], "frame": (num - 1) % 400 + 1}
        check(right and any("frames" in e["evidence"] for e in ev),
              f"{label}: every evidence packet is named by its file and frame there")
    # A directory of compressed rotated files.
    for p in parts:
        subprocess.run(["gzip", p], check=True)
    rc, ev, err = analyze(tcpsleuth, [rot])
    for e in ev:
        e["evidence"].pop("frames", None)
    check(rc == 0 and ev == ref, f"a directory of gzip-compressed rotated files: the same {len(ev)} findings")

    two = os.path.join(workdir, "two-links.pcapng")
    write_two_link_pcapng(read_pcap(whole), two)
    rc, ev, err = analyze(tcpsleuth, [two])
    check(rc == 0 and ev == ref,
          f"pcapng with an Ethernet/us and a raw-IP/ns interface: the same {len(ev)} findings {err.strip()[:200]}")

    rc, _, err = analyze(tcpsleuth, ["-", whole])
    check(rc != 0 and "standard input" in err, f"'-' with another input is refused: {err.strip()[:120]}")
    empty = os.path.join(workdir, "empty-dir")
    os.makedirs(empty)
    rc, _, err = analyze(tcpsleuth, [empty])
    check(rc != 0 and "no files" in err, f"an empty directory is refused: {err.strip()[:120]}")

    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
