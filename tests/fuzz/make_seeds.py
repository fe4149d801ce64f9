#!/usr/bin/env python3
"""Writes the fuzz seed corpus (seeds/NAME/) and dictionaries (dict/NAME.dict) from the
project's own material: captures made by the project's generator and the demo, the
configuration files, the control commands. Deterministic; run again after a format
changes and commit the result:

  tests/fuzz/make_seeds.py [--captures build/tests/gen build/tests/pcap/decap]
"""
import argparse
import gzip
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from capture_files import pcap_records  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "pcap"))
import pcapgen  # noqa: E402 - the format tests' writers

MAX_FRAMES = 64
PIPELINE_BYTES = 16384  # run_fuzzer.py's max_len for the pipeline
SNAP = 128              # bytes kept per frame in pipeline seeds: every header, some payload


def write(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read_pcap(path):
    """(linktype, [(ts_us, caplen, wirelen, bytes)]) of a classic little-endian pcap."""
    header, records = pcap_records(path)
    magic, = struct.unpack("<I", header[:4])
    nano = magic == 0xA1B23C4D
    linktype, = struct.unpack("<I", header[20:24])
    out = []
    for rec in records:
        sec, frac, caplen, wirelen = struct.unpack("<IIII", rec[:16])
        out.append((sec * 1_000_000 + (frac // 1000 if nano else frac), caplen, wirelen, rec[16:]))
    return linktype, out


def flow_of(frame):
    """A direction-free key for Ethernet/VLAN/IPv4/IPv6 TCP frames, else None."""
    off, etype = 12, struct.unpack(">H", frame[12:14])[0] if len(frame) >= 14 else 0
    while etype in (0x8100, 0x88A8) and len(frame) >= off + 6:
        off += 4
        etype = struct.unpack(">H", frame[off:off + 2])[0]
    off += 2
    if etype == 0x0800 and len(frame) >= off + 20 and frame[off + 9] == 6:
        ihl = (frame[off] & 15) * 4
        a, b, p = frame[off + 12:off + 16], frame[off + 16:off + 20], frame[off + ihl:off + ihl + 4]
    elif etype == 0x86DD and len(frame) >= off + 44 and frame[off + 6] == 6:
        a, b, p = frame[off + 8:off + 24], frame[off + 24:off + 40], frame[off + 40:off + 44]
    else:
        return None
    if len(p) < 4:
        return None
    ends = sorted([(a, p[:2]), (b, p[2:4])])
    return tuple(ends)


def pipeline_seed(frames, setup):
    """The harness's layout (fuzz_pipeline.cc) for up to 64 frames."""
    out = bytearray([setup])
    last = frames[0][0] if frames else 0
    for ts, _caplen, wirelen, data in frames[:MAX_FRAMES]:
        data = data[:SNAP]
        if len(out) + 5 + len(data) > PIPELINE_BYTES:
            break
        dt = max(0, ts - last)
        last = ts
        gap = 0 if dt == 0 else min(255, max(1, round((dt / 8) ** (1 / 3))))
        out += struct.pack("<HHB", len(data), wirelen, gap) + data
    return bytes(out)


def pipeline_seeds(captures):
    n = 0
    for path in captures:
        linktype, frames = read_pcap(path)
        if linktype != 1 or not frames:
            continue
        base = os.path.splitext(os.path.basename(path))[0]
        # The capture's start as it is (tunnels, several flows interleaved), with payload rules.
        write("pipeline", f"{base}-start", pipeline_seed(frames, 0x10))
        # Its first flows each alone: a long flow keeps its first and last 32 frames, where
        # handshakes and the episodes' ends (resends, resets, idle gaps) are.
        flows = {}
        for fr in frames:
            k = flow_of(fr[3])
            if k is not None:
                flows.setdefault(k, []).append(fr)
        for i, (k, fl) in enumerate(list(flows.items())[:3]):
            pick = fl if len(fl) <= MAX_FRAMES else fl[:32] + fl[-32:]
            write("pipeline", f"{base}-flow{i}", pipeline_seed(pick, 0x08 if i == 2 else 0x00))
            n += 1
    return n


def compressed(tool, data):
    return subprocess.run([tool, "-c"], input=data, capture_output=True, check=True).stdout


def capture_seeds(demo):
    """The demo's first packets in every format the format tests use (pcapgen.write_as:
    classic pcap both ways and resolutions, pcapng, SLL, SLL2, raw IP), then compressed."""
    _linktype, frames = read_pcap(demo)
    variants = {}
    with tempfile.TemporaryDirectory() as tmp:
        def made(first, last, fmt):
            cap = pcapgen.Capture()
            cap.frames = [(ts * 1000, data) for ts, _c, _w, data in frames[first:last]]
            path = os.path.join(tmp, fmt)
            pcapgen.write_as(cap, path, fmt)
            with open(path, "rb") as f:
                return f.read()
        for fmt in pcapgen.FORMATS:
            variants[fmt] = made(0, 12, fmt)
        # Two files merged: the split point first, then the two captures.
        a, b = made(0, 6, "pcap"), made(6, 12, "pcapng")
    variants["pcapng.gz"] = gzip.compress(variants["pcapng"], mtime=0)
    variants["pcap.zst"] = compressed("zstd", variants["pcap"])
    variants["pcapng.lz4"] = compressed("lz4", variants["pcapng"])
    for name, data in variants.items():
        write("capture", name + "-file", b"\0" + data)
        write("capture", name + "-pipe", b"\1" + data)
    write("capture", "merged", b"\2" + struct.pack("<H", len(a)) + a + b)


def config_seeds():
    sources = [os.path.join(TOP, p) for p in ("config/demo.toml", "packaging/tcpsleuth.toml",
                                                "bench/impair/one-rule.toml", "bench/impair/nothing-matches.toml")]
    for path in sources:
        with open(path) as f:
            write("config", os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path), f.read().encode())
    # The example without its comments, whole and section by section.
    with open(os.path.join(TOP, "config", "tcpsleuth.example.toml")) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    write("config", "example", ("\n".join(lines) + "\n").encode())
    section, chunk, count = "top", [], {}
    for ln in lines + ["[end]"]:
        if ln.startswith("["):
            if chunk:
                count[section] = count.get(section, 0) + 1
                write("config", f"example-{section.strip('[]')}-{count[section]}", ("\n".join(chunk) + "\n").encode())
            section, chunk = ln, []
        chunk.append(ln)
    return lines


def control_seeds():
    with open(os.path.join(TOP, "control", "controller.cc")) as f:
        src = f.read()
    table = re.search(r"kCommands\[\] = \{(.*?)\n\};", src, re.S).group(1)
    commands = re.findall(r'\{"([a-z.]+)", "([a-z_,]*)"', table)
    values = {"addr": '"198.18.0.1"', "port": "443", "event": '["mtu.blackhole"]', "severity": '"warning"',
              "app": '"http"', "sort": '"bytes"', "limit": "3", "id": "7", "kind": '"mtu.blackhole"', "flow": "7",
              "name": '"no-sack"'}
    for cmd, args in commands:
        write("control", cmd, ('{"cmd":"%s"}\n' % cmd).encode())
        if args:
            members = ",".join('"%s":%s' % (a, values.get(a, "1")) for a in args.split(","))
            write("control", cmd + "-args", ('{"cmd":"%s","args":{%s}}\n' % (cmd, members)).encode())
    write("control", "several", b'{"cmd":"hello"}\n{"cmd":"flows","args":{"limit":1}}\n{"cmd":"flow","args":{"id":7}}\n')
    return commands, values


def event_seeds(kinds):
    for i in range(kinds):
        write("event_json", f"kind-{i:02d}", bytes([i]) + hashlib.sha256(bytes([i])).digest() * 4)


def dictionaries(config_lines, commands):
    d = os.path.join(HERE, "dict")
    os.makedirs(d, exist_ok=True)

    def entries(name, items):
        with open(os.path.join(d, name + ".dict"), "w") as f:
            for item in items:
                text = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c) for c in item)
                f.write(f'"{text}"\n')

    def b(*xs):
        return "".join(chr(x) for x in xs)
    entries("pipeline", [
        b(0x08, 0x00), b(0x86, 0xdd), b(0x81, 0x00), b(0x88, 0xa8), b(0x88, 0x47), b(0x88, 0x64),  # EtherTypes
        b(0x65, 0x58), b(0x88, 0xbe), b(0x22, 0xeb), b(0x12, 0xb5), b(0x17, 0xc1), b(0x00, 0x2f),  # GRE, ERSPAN, VXLAN, Geneve
        b(0x45, 0x00), b(0x60, 0x00, 0x00, 0x00), b(0x40, 0x00), b(0x06), b(0x11), b(0x01), b(0x3a), b(0x2f), b(0x04), b(0x29),
        b(0x02, 0x04, 0x05, 0xb4), b(0x02, 0x04, 0x05, 0x78), b(0x03, 0x03, 0x07), b(0x04, 0x02), b(0x08, 0x0a),
        b(0x05, 0x0a), b(0x05, 0x12), b(0x01, 0x01), b(0x00),                                          # TCP options
        b(0x02), b(0x12), b(0x10), b(0x18), b(0x04), b(0x14), b(0x11), b(0x52), b(0xc2),              # TCP flags
        b(0x03, 0x04), b(0x0b, 0x00), b(0x02, 0x00), b(0x05, 0xdc), b(0x05, 0x00),                     # ICMP
        "HTTP/1.1 200 OK\r\n", "HTTP/1.1 503", "GET / HTTP/1.1\r\n", "SSH-2.0-", b(0x16, 0x03, 0x01),
        b(0x15, 0x03, 0x03, 0x00, 0x02, 0x02)])
    keys = set()
    for ln in config_lines:
        m = re.match(r"\s*(\[\[?[a-z_.]+\]\]?|[a-z_]+)\s*=?", ln)
        if m:
            keys.add(m.group(1) + (" = " if not m.group(1).startswith("[") else ""))
    entries("config", sorted(keys) + ["true", "false", "\"\"", "[]", "{}", "0x", "0o", "1e9", "inf", "nan", "'''", "\"\"\""])
    entries("control", ['"cmd"', '"args"', '"id"', "null", "true", "false", "{}", "[]"] +
            sorted({'"%s"' % c for c, _ in commands}) + sorted({'"%s"' % a for _, args in commands for a in args.split(",") if a}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--captures", nargs="*", default=[os.path.join(TOP, "build", "tests", "gen"),
                                                       os.path.join(TOP, "build", "tests", "pcap", "decap")],
                    help="directories of .pcap files made by the project's generator")
    a = ap.parse_args()
    shutil.rmtree(os.path.join(HERE, "seeds"), ignore_errors=True)
    demo = os.path.join(TOP, "tests", "pcap", "demo", "demo.pcap")
    captures = [demo]
    for d in a.captures:
        if os.path.isdir(d):
            captures += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".pcap") and "misses" not in f)
    flows = pipeline_seeds(captures)
    capture_seeds(demo)
    config_lines = config_seeds()
    commands, _ = control_seeds()
    with open(os.path.join(TOP, "inspectors", "output", "events.h")) as f:
        kinds = len(re.search(r"using EventDetail =\s*std::variant<(.*?)>;", f.read(), re.S).group(1).split(","))
    event_seeds(kinds)
    dictionaries(config_lines, commands)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(HERE, "seeds")) for f in fs)
    print(f"{len(captures)} captures ({flows} flow seeds), {kinds} event kinds, {len(commands)} commands; "
          f"{total // 1024} KiB of seeds")


if __name__ == "__main__":
    main()
