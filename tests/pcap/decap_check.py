#!/usr/bin/env python3
"""Mirrors and tunnels end to end: the generator wraps one capture of healthy traffic and
fault episodes in every encapsulation it knows (tcpsleuth-gen --encap); tcpsleuth must find
exactly what it finds on the bare capture, name the tunnel in every flow event, count the
frames per encapsulation, and tshark must decode the same TCP conversations from the wrapped
file as from the bare one (a check on the generator that does not involve our parser).
Then: two tenants with one address plan stay apart; a truncating mirror gives the same
findings as a snap-length capture of the same traffic.

usage: decap_check.py TCPSLEUTH TCPSLEUTH_GEN WORKDIR TCPSLEUTHCTL
"""

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time

KINDS = {
    # generator name: (tunnel type in events, counter kind, tshark decode-as arguments)
    "vxlan": ("vxlan", "vxlan", []),
    "geneve": ("geneve", "geneve", []),
    "geneve-ip": ("geneve", "geneve", []),
    "geneve-vxlan": ("vxlan", "vxlan", []),
    "gre": ("gre", "gre", []),
    "gre-eth": ("gre", "gre", []),
    "erspan2": ("erspan", "erspan", []),
    "erspan3": ("erspan", "erspan", []),
    "mpls": ("mpls", "mpls", []),
    "mpls-pw": ("mpls", "mpls", ["-d", "mpls.label==4242,pwethcw"]),
    "ipip": ("ip_in_ip", "ip_in_ip", []),
    "ip6": ("ip_in_ip", "ip_in_ip", []),
    "pppoe": ("pppoe", "pppoe", []),
    "vlan-vxlan": ("vxlan", "vxlan", []),
}

TRAFFIC = ["--flows", "60", "--rounds", "6", "--ipv6", "30", "--ecn", "20", "--sizes", "imix",
           "--fault", "mtu-blackhole:2", "--fault", "mtu-blackhole-first-v6:1", "--fault", "zero-window:2",
           "--fault", "sack-invalid:1", "--fault", "syn-unanswered:1", "--fault", "rst-race:1",
           "--fault", "receiver-limited:1"]

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def analyze(tcpsleuth, pcap, config=None):
    cmd = [tcpsleuth, "analyze", pcap, "--report", "-", "--report-format", "json", "--events", pcap + ".events",
           "--no-progress", "-q"]
    if config:
        cmd += ["--config", config]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    with open(pcap + ".events") as f:
        events = [json.loads(line) for line in f]
    return events, report["counters"]


def without_tunnel(events):
    """The events as the bare capture gives them: no tunnel, no tag outside it, and advice
    without the overlay-MTU sentence."""
    out = []
    for e in events:
        e = json.loads(json.dumps(e))
        if e.get("flow"):
            e["flow"].pop("tunnel", None)
        e.pop("advice", None)
        out.append(e)
    return out


def without_packet_numbers(events):
    for e in events:
        e["evidence"].pop("packets", None)
    return events


def conversations(pcap, decode_as):
    out = subprocess.run(["tshark", "-r", pcap, *decode_as, "-q", "-z", "conv,tcp"], check=True,
                         capture_output=True, text=True).stdout
    return sorted(line.split()[0] + " " + line.split()[2] for line in out.splitlines() if "<->" in line)


def rewrite_wire_lengths_to_captured(src, dst):
    """What a truncating mirror delivers: each frame is only as long as what was kept (the
    original length is gone), where a snap length keeps it in the record header."""
    with open(src, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic == 0xa1b2c3d4, "expects a little-endian microsecond pcap"
    out = bytearray(data[:24])
    pos = 24
    while pos + 16 <= len(data):
        sec, usec, cap, _wire = struct.unpack("<IIII", data[pos:pos + 16])
        out += struct.pack("<IIII", sec, usec, cap, cap)
        out += data[pos + 16:pos + 16 + cap]
        pos += 16 + cap
    with open(dst, "wb") as f:
        f.write(out)


def write_every_frame_twice(src, dst, gap_us):
    """Both ends of every conversation mirrored: each frame arrives a second time `gap_us`
    later, interleaved with the next frames as two mirror sessions deliver them."""
    with open(src, "rb") as f:
        data = f.read()
    records, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, cap, wire = struct.unpack("<IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + cap]
        t = sec * 1_000_000 + usec
        records.append((t, 0, wire, frame))
        records.append((t + gap_us, 1, wire, frame))
        pos += 16 + cap
    records.sort(key=lambda r: (r[0], r[1]))
    with open(dst, "wb") as f:
        f.write(data[:24])
        for t, _, wire, frame in records:
            f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), wire) + frame)


def drop_and_swap(src, dst, drop_every, swap_at):
    """A lossy mirror: every `drop_every`-th frame never arrives; frames swap_at and
    swap_at + 1 arrive in each other's place (reordered, not lost). Returns frames dropped."""
    with open(src, "rb") as f:
        data = f.read()
    records, pos = [], 24
    while pos + 16 <= len(data):
        cap = struct.unpack("<I", data[pos + 8:pos + 12])[0]
        records.append(data[pos:pos + 16 + cap])
        pos += 16 + cap
    records[swap_at], records[swap_at + 1] = records[swap_at + 1], records[swap_at]
    kept = [r for i, r in enumerate(records) if (i + 1) % drop_every != 0]
    with open(dst, "wb") as f:
        f.write(data[:24] + b"".join(kept))
    return len(records) - len(kept)


def reorder_neighbours(src, dst, share, seed):
    """A load-balanced mirror target: now and then two frames less than 200 us apart arrive
    in each other's place (timestamps stay in order, as the collector stamps them)."""
    with open(src, "rb") as f:
        data = f.read()
    records, pos = [], 24
    while pos + 16 <= len(data):
        cap = struct.unpack("<I", data[pos + 8:pos + 12])[0]
        records.append(data[pos:pos + 16 + cap])
        pos += 16 + cap
    rng, swaps, i = random.Random(seed), 0, 0
    while i + 1 < len(records):
        a, b = records[i], records[i + 1]
        ta, tb = struct.unpack("<II", a[:8]), struct.unpack("<II", b[:8])
        if rng.random() < share and (tb[0] - ta[0]) * 1_000_000 + tb[1] - ta[1] <= 200:
            records[i], records[i + 1] = a[:8] + b[8:], b[:8] + a[8:]
            swaps += 1
            i += 2
        else:
            i += 1
    with open(dst, "wb") as f:
        f.write(data[:24] + b"".join(records))
    return swaps


def main():
    tcpsleuth, gen, workdir, ctl = sys.argv[1:5]
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    bare = os.path.join(workdir, "bare.pcap")
    subprocess.run([gen, *TRAFFIC, "--pcap", bare], check=True, capture_output=True)
    bare_events, bare_counters = analyze(tcpsleuth, bare)
    kinds = sorted({e["event"] for e in bare_events})
    check(len(bare_events) >= 8 and len(kinds) >= 5, f"bare capture: {len(bare_events)} events of {len(kinds)} kinds {kinds}")
    bare_conv = conversations(bare, [])

    for name, (tunnel_type, counter_kind, decode_as) in KINDS.items():
        wrapped = os.path.join(workdir, name + ".pcap")
        subprocess.run([gen, *TRAFFIC, "--encap", name, "--pcap", wrapped], check=True, capture_output=True)
        events, counters = analyze(tcpsleuth, wrapped)
        check(without_tunnel(events) == without_tunnel(bare_events),
              f"{name}: the same {len(bare_events)} findings as on the bare capture (got {len(events)})")
        flow_events = [e for e in events if e.get("flow")]
        named = [e for e in flow_events if e["flow"].get("tunnel", {}).get("type") == tunnel_type]
        check(flow_events and len(named) == len(flow_events),
              f"{name}: every flow event names its {tunnel_type} tunnel ({len(named)} of {len(flow_events)})")
        if name == "vlan-vxlan":
            check(all("vlan" not in e["flow"] for e in flow_events), f"{name}: the tag outside the tunnel is not the flow's")
        mtu = [e for e in events if e["event"] == "mtu.blackhole"]
        overhead = mtu[0]["flow"]["tunnel"]["overhead"] if mtu else 0
        check(bool(mtu) and (overhead == 0 or f"adds {overhead} bytes" in mtu[0]["advice"]),
              f"{name}: mtu.blackhole advice states the encapsulation overhead ({overhead} bytes)")
        check(counters[f"decap.{counter_kind}.packets"] == counters["rx.packets"] and
              counters[f"decap.{counter_kind}.malformed"] == 0 and counters["parse.bad_tunnel"] == 0,
              f"{name}: decap.{counter_kind}.packets counts all {counters['rx.packets']} frames, none malformed")
        check(counters["flow.created"] == bare_counters["flow.created"],
              f"{name}: {counters['flow.created']} flows, as bare ({bare_counters['flow.created']})")
        check(counters["decap.mirror_lost"] == 0 and not any(e["event"] == "sensor.mirror_loss" for e in events),
              f"{name}: no mirror loss on an intact session")
        check(conversations(wrapped, decode_as) == bare_conv,
              f"{name}: tshark decodes the same {len(bare_conv)} TCP conversations as from the bare capture")

    # tcpsleuthctl flows names each flow's tunnel, outer addresses included.
    sock = os.path.join(workdir, "control.sock")
    held = subprocess.Popen([tcpsleuth, "analyze", os.path.join(workdir, "vxlan.pcap"), "--control", sock, "--hold",
                             "--events", "/dev/null", "--report", "none", "--no-progress", "-q"])
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        for _ in range(300):  # until the analysis has reached its end and holds the flows
            stats = subprocess.run([ctl, "--socket", sock, "--json", "stats"], capture_output=True, text=True, timeout=30)
            if stats.returncode == 0 and json.loads(stats.stdout).get("progress", {}).get("done"):
                break
            time.sleep(0.1)
        listing = json.loads(subprocess.run([ctl, "--socket", sock, "--json", "flows", "--limit", "1000"],
                                            capture_output=True, text=True, timeout=30).stdout or "{}")
        flows = listing.get("flows", [])
        named = [f for f in flows if f.get("tunnel", {}).get("outer_dst") == "198.18.100.2" and f["tunnel"]["id"] == 4242]
        check(flows and len(named) == len(flows),
              f"tcpsleuthctl flows: {len(named)} of {len(flows)} flows name their VXLAN tunnel and its outer addresses")
    finally:
        subprocess.run([ctl, "--socket", sock, "shutdown"], capture_output=True, timeout=30)
        held.wait(timeout=60)

    # Two tenants, one address plan: the same traffic behind VNI 1 and VNI 2, merged.
    tenants = []
    for vni in (1, 2):
        p = os.path.join(workdir, f"tenant{vni}.pcap")
        subprocess.run([gen, *TRAFFIC, "--encap", f"vxlan:{vni}", "--pcap", p], check=True, capture_output=True)
        tenants.append(p)
    merged = os.path.join(workdir, "tenants.pcap")
    subprocess.run(["mergecap", "-F", "pcap", "-w", merged, *tenants], check=True)
    events, counters = analyze(tcpsleuth, merged)
    check(counters["flow.created"] == 2 * bare_counters["flow.created"],
          f"two VNIs: {counters['flow.created']} flows, twice the bare {bare_counters['flow.created']}")
    by_vni = {1: 0, 2: 0}
    for e in events:
        if e.get("flow"):
            by_vni[e["flow"]["tunnel"]["id"]] += 1
    bare_flow_events = sum(1 for e in bare_events if e.get("flow"))
    check(by_vni == {1: bare_flow_events, 2: bare_flow_events},
          f"two VNIs: each tenant's findings once ({by_vni}, bare {bare_flow_events})")
    merged_cfg = os.path.join(workdir, "no-tunnel-key.toml")
    with open(merged_cfg, "w") as f:
        f.write("[decap]\ntunnel_in_key = false\n")
    _, counters = analyze(tcpsleuth, merged, merged_cfg)
    check(counters["flow.created"] == bare_counters["flow.created"],
          f"two VNIs with decap.tunnel_in_key = false: merged into {counters['flow.created']} flows")

    # A mirror that loses packets: its GRE / ERSPAN sequence numbers show the gaps, and the
    # loss is reported as the sensor's trouble with the exact count.
    for name in ("gre-eth", "erspan2", "erspan3"):
        lossy = os.path.join(workdir, f"{name}-lossy.pcap")
        dropped = drop_and_swap(os.path.join(workdir, f"{name}.pcap"), lossy, 50, 100)
        events, counters = analyze(tcpsleuth, lossy)
        reports = [e for e in events if e["event"] == "sensor.mirror_loss"]
        check(counters["decap.mirror_lost"] == dropped and reports and reports[0]["evidence"]["session"] == 4242 % (
              1024 if name.startswith("erspan") else 1 << 32),
              f"{name}, every 50th frame lost by the mirror and two swapped: decap.mirror_lost "
              f"{counters['decap.mirror_lost']} of {dropped} dropped, {len(reports)} sensor.mirror_loss reports")

    # A mirror target behind a load balancer reorders a little: not the path's fault.
    reordered = os.path.join(workdir, "vxlan-reordered.pcap")
    swaps = reorder_neighbours(os.path.join(workdir, "vxlan.pcap"), reordered, 0.05, 3)
    events, _ = analyze(tcpsleuth, reordered)
    check(swaps > 50 and without_packet_numbers(without_tunnel(events)) == without_packet_numbers(without_tunnel(bare_events)),
          f"vxlan, {swaps} neighbouring frames swapped by the mirror: the same {len(bare_events)} findings (got {len(events)})")

    # Both ends mirrored: every frame twice, 30 us apart. The copies are counted and the
    # findings are the bare capture's; with the duplicate window off they would not be.
    for name in ("bare", "vxlan"):
        doubled = os.path.join(workdir, f"{name}-doubled.pcap")
        write_every_frame_twice(os.path.join(workdir, f"{name}.pcap"), doubled, 30)
        events, counters = analyze(tcpsleuth, doubled)
        frames = counters["rx.packets"] // 2
        # Packet numbers count the copies too; everything else must be the bare findings.
        check(without_packet_numbers(without_tunnel(events)) == without_packet_numbers(without_tunnel(bare_events)),
              f"{name}, both ends mirrored: the same {len(bare_events)} findings (got {len(events)})")
        check(counters["tcp.retransmissions"] == bare_counters["tcp.retransmissions"] and
              frames * 0.8 <= counters["flow.mirror_duplicates"] <= frames,
              f"{name}, both ends mirrored: {counters['flow.mirror_duplicates']} of {frames} copies counted, "
              f"{counters['tcp.retransmissions']} retransmissions as bare ({bare_counters['tcp.retransmissions']})")
    off_cfg = os.path.join(workdir, "no-duplicate-window.toml")
    with open(off_cfg, "w") as f:
        f.write("[decap]\nduplicate_window_us = 0\n")
    _, counters = analyze(tcpsleuth, os.path.join(workdir, "bare-doubled.pcap"), off_cfg)
    check(counters["tcp.retransmissions"] > 10 * max(1, bare_counters["tcp.retransmissions"]),
          f"both ends mirrored, duplicate window off: {counters['tcp.retransmissions']} copies taken for retransmissions "
          f"(the check above can fail)")

    # A truncating mirror (VXLAN frames cut to 160 bytes, original length lost) against the
    # snap-length capture of the same frames: the same findings.
    full = os.path.join(workdir, "vxlan.pcap")
    snap = os.path.join(workdir, "vxlan-snap160.pcap")
    cut = os.path.join(workdir, "vxlan-mirror160.pcap")
    subprocess.run(["editcap", "-F", "pcap", "-s", "160", full, snap], check=True)
    rewrite_wire_lengths_to_captured(snap, cut)
    snap_events, _ = analyze(tcpsleuth, snap)
    cut_events, counters = analyze(tcpsleuth, cut)
    check(snap_events == cut_events and len(cut_events) > 0,
          f"truncating mirror: the same {len(snap_events)} findings as the snap-length capture (got {len(cut_events)})")
    check(counters["parse.truncated_copy"] > 0 and counters["parse.bad_ip_length"] == 0,
          f"truncating mirror: {counters['parse.truncated_copy']} frames counted as truncated copies, none as malformed")

    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
