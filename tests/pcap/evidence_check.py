#!/usr/bin/env python3
"""Evidence captures (analyze --evidence-dir) end to end. On generated traffic with every
fault episode the generator makes (IPv4 and IPv6), bare, wrapped in VXLAN, gzip-compressed
and split into rotated files read as a directory:

  - every finding at warning or above names a pcapng (evidence_pcap) that exists, and no
    info finding does; the report counts them;
  - tshark opens each file and sees the same packets and comments our reader counts;
  - each packet the evidence numbers is in the file, commented with its input number, byte
    for byte the input's frame (for merged inputs: the file and frame evidence.frames names);
  - every packet in a file is one of the input's frames, in input order: nothing invented;
  - where the input holds the client's SYN before the first evidence packet, the file holds
    the latest such SYN, marked as the handshake.

usage: evidence_check.py TCPSLEUTH TCPSLEUTH_GEN WORKDIR
"""

import gzip
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from capture_files import pcap_frames, pcapng_packets, tcp_of  # noqa: E402

TRAFFIC = ["--flows", "40", "--rounds", "4", "--ipv6", "30", "--ecn", "20", "--sizes", "imix",
           "--fault", "mtu-blackhole:2", "--fault", "mtu-blackhole-first:1", "--fault", "mtu-blackhole-first-v6:1",
           "--fault", "zero-window:2", "--fault", "sack-invalid:1", "--fault", "syn-unanswered:2",
           "--fault", "rst-race:1", "--fault", "receiver-limited:1", "--fault", "options-stripped:1",
           "--fault", "ecn-bleached:1", "--fault", "idle-timeout:1", "--fault", "one-way-loss:1"]

failures = []
handshakes_checked = [0]


def check(ok, what):
    if not ok:
        print("FAIL  " + what)
        failures.append(what)
    return ok


def frames_of(path):
    return [frame for frame, _ in pcap_frames(path)]


def addr_bytes(text):
    import ipaddress
    return ipaddress.ip_address(text).packed


def evidence_numbers(event):
    return event.get("evidence", {}).get("packets", [])


def run_case(tcpsleuth, name, inputs, originals, workdir, parse_tcp):
    """originals: (file name -> frames) for the inputs; one input: its frames by number."""
    evdir = os.path.join(workdir, name + "-evidence")
    shutil.rmtree(evdir, ignore_errors=True)
    events_path = os.path.join(workdir, name + ".events")
    p = subprocess.run([tcpsleuth, "analyze", *inputs, "--evidence-dir", evdir, "--events", events_path,
                        "--report", "-", "--report-format", "json", "--no-progress", "-q"],
                       capture_output=True, text=True)
    if not check(p.returncode == 0, f"{name}: analyze exit {p.returncode}: {p.stderr[-400:]}"):
        return 0
    report = json.loads(p.stdout)
    events = [json.loads(line) for line in open(events_path)]
    wanted = [e for e in events if e["severity"] in ("warning", "critical")]
    check(len(wanted) >= 10, f"{name}: {len(wanted)} findings at warning or above; the episodes make more")
    check(report.get("evidence", {}).get("files") == len(wanted),
          f"{name}: report says {report.get('evidence')} files, {len(wanted)} findings want one")
    check(not any("evidence_pcap" in e for e in events if e not in wanted), f"{name}: an info finding has a capture")
    single = len(originals) == 1
    all_frames = {f for frames in originals.values() for f in frames}
    for e in wanted:
        what = f"{name}: {e['event']} flow {e['flow'] and e['flow']['id']}"
        path = e.get("evidence_pcap")
        if not check(path and os.path.exists(path), f"{what}: evidence_pcap {path!r} missing"):
            continue
        packets = [(frame, comment) for frame, _, comment in pcapng_packets(path)]
        t = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.comment"], capture_output=True, text=True)
        check(t.returncode == 0, f"{what}: tshark cannot read {path}: {t.stderr[-300:]}")
        lines = t.stdout.splitlines()
        check(len(lines) == len(packets), f"{what}: tshark sees {len(lines)} packets, the file holds {len(packets)}")
        check(sum(1 for line in lines if "tcpsleuth: evidence" in line) == sum(1 for _, c in packets if "tcpsleuth: evidence" in c),
              f"{what}: tshark and our reader disagree on the comments")
        check(all(frame in all_frames for frame, _ in packets), f"{what}: a packet in the file is not in the input")
        numbers = evidence_numbers(e)
        if single:
            frames = next(iter(originals.values()))
            order = [frames.index(frame) for frame, _ in packets]
            check(order == sorted(order), f"{what}: packets out of input order")
        refs = e.get("evidence", {}).get("frames")
        for i, n in enumerate(numbers):
            held = [(frame, c) for frame, c in packets if re.search(rf"\(input packet {n}[,)]", c)]
            if not check(len(held) == 1, f"{what}: evidence packet {n} not in {path}"):
                continue
            if single:
                expected = next(iter(originals.values()))[n - 1]
            else:
                ref = refs[i]
                expected = originals[os.path.basename(ref["file"])][ref["frame"] - 1]
                check(f"frame {ref['frame']} of {ref['file']}" in held[0][1],
                      f"{what}: evidence packet {n}'s comment does not name frame {ref['frame']} of {ref['file']}")
            check(held[0][0] == expected, f"{what}: evidence packet {n} differs from the input's frame")
        check(sum(1 for _, c in packets if "tcpsleuth: evidence" in c) == len(set(numbers)),
              f"{what}: {len(set(numbers))} evidence packets, comments say otherwise")
        if parse_tcp and single and numbers and e["flow"]:
            frames = next(iter(originals.values()))
            client, cport = addr_bytes(e["flow"]["client"]), e["flow"]["client_port"]
            server, sport = addr_bytes(e["flow"]["server"]), e["flow"]["server_port"]
            syns = [i for i, f in enumerate(frames[:min(numbers) - 1])
                    if (t := tcp_of(f)) and t[:4] == (client, cport, server, sport) and t[4] & 0x12 == 0x02]
            if syns:
                handshakes_checked[0] += 1
                latest = frames[syns[-1]]
                check(any(frame == latest and "handshake" in c for frame, c in packets),
                      f"{what}: the client's SYN (input packet {syns[-1] + 1}) is not in the file as the handshake")
    print(f"ok    {name}: {len(wanted)} evidence captures checked ({handshakes_checked[0]} handshakes so far)")
    return len(wanted)


def main():
    tcpsleuth, gen, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    bare = os.path.join(workdir, "faults.pcap")
    subprocess.run([gen, *TRAFFIC, "--pcap", bare], check=True, capture_output=True)
    vxlan = os.path.join(workdir, "faults-vxlan.pcap")
    subprocess.run([gen, *TRAFFIC, "--encap", "vxlan", "--pcap", vxlan], check=True, capture_output=True)
    gz = os.path.join(workdir, "faults.pcap.gz")
    with open(bare, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read())
    parts = os.path.join(workdir, "rotated")
    shutil.rmtree(parts, ignore_errors=True)
    os.makedirs(parts)
    subprocess.run(["editcap", "-F", "pcap", "-c", "500", bare, os.path.join(parts, "part.pcap")], check=True)

    total = 0
    total += run_case(tcpsleuth, "bare", [bare], {"faults.pcap": frames_of(bare)}, workdir, True)
    total += run_case(tcpsleuth, "vxlan", [vxlan], {"faults-vxlan.pcap": frames_of(vxlan)}, workdir, False)
    total += run_case(tcpsleuth, "gzip", [gz], {"faults.pcap.gz": frames_of(bare)}, workdir, True)
    rotated = {name: frames_of(os.path.join(parts, name)) for name in sorted(os.listdir(parts))}
    check(len(rotated) > 3, f"editcap made {len(rotated)} parts")
    total += run_case(tcpsleuth, "rotated", [parts], rotated, workdir, False)

    check(handshakes_checked[0] >= 10, f"only {handshakes_checked[0]} findings had a handshake to look for")
    if failures:
        print(f"{len(failures)} problem(s)")
        sys.exit(1)
    print(f"ok: {total} evidence captures hold the packets their findings name")


if __name__ == "__main__":
    main()
