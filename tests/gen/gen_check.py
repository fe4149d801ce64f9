#!/usr/bin/env python3
"""tcpsleuth-gen writes healthy traffic, and a lap of it loops cleanly.

For several generator settings (size mixes, IPv4/IPv6, ECN, one flow to thousands, several
laps back to back):
  - every frame has a valid IPv4 header checksum and TCP checksum, recomputed here from the
    bytes (independently of the generator's code), and the frame count is what it promised;
  - `tcpsleuth analyze` decodes every frame, finds no retransmission, reordering or
    duplicate ACK, and reports nothing: a lap ends where the next begins, so a file of
    several laps is as clean as one;
  - the ECN share negotiates ECN, and ECT(0) marks data only.
Each fault episode (--fault) triggers exactly the events its fault shows in the catalog,
alone and among thousands of healthy flows, and nothing fires on the healthy flows; the
frames stay valid. The expectations are written here, from DESIGN.md, not taken from the
generator.
Then `tcpsleuth run` loops one lap in memory (net_pcap infinite_rx, the live benchmark's
source) for a few seconds: it must go round the lap more than twice, lose nothing, and
report nothing.

Usage: gen_check.py TCPSLEUTH TCPSLEUTH_GEN WORKDIR"""
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sensor_config import remove_runtime_dirs_at_exit, write_sensor_config  # noqa: E402 - the live tests' one sensor configuration

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
from lab import counter_problems, final_counters  # noqa: E402 - the lab's parser and loss checks

CASES = [
    # name, generator arguments, laps
    ("one-flow", ["--flows", "1", "--rounds", "3"], 3),
    ("small-v4", ["--flows", "2000", "--rounds", "4", "--sizes", "64"], 2),
    ("imix-mixed", ["--flows", "700", "--rounds", "6", "--sizes", "imix", "--ipv6", "40", "--ecn", "50"], 2),
    ("large-v6", ["--flows", "300", "--rounds", "5", "--sizes", "1500", "--ipv6", "100", "--ecn", "100"], 1),
]


# What each fault must produce per episode, and nothing else (DESIGN.md's catalog):
# the MTU black hole is reported when the retransmissions give it away and again, confirmed,
# when the shrunk segment gets through; a window scale stripped from the SYN-ACK shows as the
# option stripped and as the two sides disagreeing about scaling.
FAULTS = {
    "syn-unanswered": {"handshake.syn_unanswered": 1},
    "mtu-blackhole": {"mtu.blackhole": 2},
    "options-stripped": {"options.stripped": 1, "window.scale_mismatch": 1},
    "ecn-bleached": {"ecn.bleached": 1},
    "sack-invalid": {"sack.invalid_blocks": 1},
    "idle-timeout": {"idle.timeout_drop": 1},
    "zero-window": {"window.zero_stall": 1},
    # The shapes beyond the first lab's: a black hole from the first byte (IPv4 and IPv6), a
    # device that forgets after seconds, a RST racing the handshake, ACKs lost past the
    # sensor, and a slow reader (reported as info after four episodes, as warning once it
    # has held the sender back for more than a second and most of the transfer).
    "mtu-blackhole-first": {"mtu.blackhole": 1},
    "mtu-blackhole-first-v6": {"mtu.blackhole": 1},
    "idle-short": {"idle.timeout_drop": 1},
    "rst-race": {"rst.injected": 1},
    "one-way-loss": {"path.one_way_loss": 1},
    "receiver-limited": {"window.receiver_limited": 2},
}
# Faults whose events are alike are told apart by what the episode is: its family, its gap.
SHAPE = {
    "mtu-blackhole-first": lambda client, evs: ":" not in client,
    "mtu-blackhole-first-v6": lambda client, evs: ":" in client,
    "idle-timeout": lambda client, evs: all(e["evidence"]["gap_s"] > 300 for e in evs),
    "idle-short": lambda client, evs: all(e["evidence"]["gap_s"] < 10 for e in evs),
}
BACKGROUND = ["--flows", "2000", "--rounds", "6", "--sizes", "imix", "--ipv6", "30", "--ecn", "40", "--rate", "20000", "--laps", "3"]
FAULT_CASES = [
    # name, generator arguments, {fault: episodes}, info events allowed on healthy flows
    *[(f"alone-{f}", ["--laps", "0", "--fault", f], {f: 1}, ()) for f in FAULTS],
    ("mixed", BACKGROUND + [a for f in FAULTS if f != "idle-timeout" for a in ("--fault", f + ":5")],
     {f: 5 for f in FAULTS if f != "idle-timeout"}, ()),
    # 400 s of silence in the fault leaves the healthy flows that were mid-connection when
    # the background ended idle and open past device timeouts: stale, information only.
    ("idle-with-background", BACKGROUND + ["--fault", "idle-timeout:3"], {"idle-timeout": 3}, ("idle.stale_flow",)),
]


def recognise_episodes(events, want, healthy_info=()):
    """Problems with the events file against `want` ({fault: episodes}): each fault episode
    (one client address) must have raised exactly one fault's expected set, and healthy
    flows nothing but `healthy_info` kinds at severity info. Returns (recognised, problems)."""
    problems, per_episode = [], {}
    for line in open(events):
        e = json.loads(line)
        client = e["flow"]["client"]
        if is_fault_address(client):
            per_episode.setdefault(client, []).append(e)
        elif not (e["event"] in healthy_info and e["severity"] == "info"):
            problems.append(f"{e['severity']} {e['event']} on healthy flow {client}: {e['summary'][:200]}")
    got = Counter()
    for client, evs in sorted(per_episode.items()):
        kinds = Counter(e["event"] for e in evs)
        fault = next((f for f, exp in FAULTS.items()
                      if Counter(exp) == kinds and SHAPE.get(f, lambda c, v: True)(client, evs)), None)
        if fault is None:
            problems.append(f"episode {client}: {dict(kinds)} is no fault's expected set")
        else:
            got[fault] += 1
    if got != Counter(want):
        problems.append(f"episodes recognised {dict(got)}, want {dict(want)}")
    return got, problems


def is_fault_address(addr):
    if ":" in addr:  # IPv6 episodes: clients 2001:2:f::/64
        return addr.startswith("2001:2:f::")
    return addr.startswith("198.19.") and int(addr.split(".")[2]) >= 64


def check_fault_case(tcpsleuth, gen, work, name, args, want, healthy_info):
    cap = os.path.join(work, name + ".pcap")
    out = subprocess.run([gen, *args, "--pcap", cap], capture_output=True, text=True, check=True).stdout
    promised = int(out.split(": ")[1].split()[0])
    n, problems, _ = check_frames(cap)
    if n != promised:
        problems.append(f"{n} frames in the file, {promised} promised")
    ev = os.path.join(work, name + ".events.jsonl")
    rep = os.path.join(work, name + ".report.json")
    subprocess.run([tcpsleuth, "analyze", cap, "--events", ev, "--report", rep, "--report-format", "json"],
                   check=True, timeout=300)
    report = json.load(open(rep))
    if report.get("counters", {}).get("parse.ok") != n:
        problems.append(f"parse.ok {report.get('counters', {}).get('parse.ok')} of {n} frames")
    got, more = recognise_episodes(ev, want, healthy_info)
    problems += more
    print(f"{name}: {n} frames, {sum(got.values())} episodes recognised: {'ok' if not problems else 'FAIL'}")
    return [f"{name}: {p}" for p in problems[:20]]


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def frames(path):
    with open(path, "rb") as f:
        head = f.read(24)
        assert struct.unpack("<I", head[:4])[0] == 0xA1B2C3D4, "not a little-endian microsecond pcap"
        while True:
            rec = f.read(16)
            if not rec:
                return
            _, _, incl, orig = struct.unpack("<IIII", rec)
            assert incl == orig, "frames are written whole"
            yield f.read(incl)


def check_frames(path):
    """Returns (frames, problems, stats)."""
    n, problems = 0, []
    stats = {"ecn_syn": 0, "syn": 0, "ect_data": 0, "ect_nodata": 0, "v6": 0}
    for fr in frames(path):
        n += 1
        etype = struct.unpack("!H", fr[12:14])[0]
        if etype == 0x0800:
            ip = fr[14:]
            ihl = (ip[0] & 15) * 4
            if csum(ip[:ihl]) != 0xFFFF:
                problems.append(f"frame {n}: bad IPv4 header checksum")
            total = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:total]
            pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(tcp))  # RFC 793 3.1: zero, protocol, TCP length
            tos = ip[1]
        elif etype == 0x86DD:
            stats["v6"] += 1
            ip = fr[14:]
            plen = struct.unpack("!H", ip[4:6])[0]
            tcp = ip[40:40 + plen]
            # RFC 8200 8.1: addresses, 32-bit upper-layer length, three zero bytes, next header.
            pseudo = ip[8:40] + struct.pack("!I3xB", len(tcp), 6)
            tos = (struct.unpack("!I", ip[:4])[0] >> 20) & 0xFF
        else:
            problems.append(f"frame {n}: ethertype {etype:#x}")
            continue
        if csum(pseudo + tcp) != 0xFFFF:
            problems.append(f"frame {n}: bad TCP checksum")
        flags = tcp[13]
        payload = len(tcp) - (tcp[12] >> 4) * 4
        if flags & 0x02 and not flags & 0x10:
            stats["syn"] += 1
            stats["ecn_syn"] += (flags & 0xC0) == 0xC0
        if tos & 3 == 2:
            stats["ect_data" if payload > 0 else "ect_nodata"] += 1
        if len(problems) > 20:
            break
    return n, problems, stats


# A sensor that misses packets: an overloaded tap drops whole stretches (its ring fills and
# drains), and misses a connection's SYN, FIN or ACKs while seeing the rest. Laps of healthy
# traffic seen so (about a quarter of the frames kept, in bursts) must still raise nothing:
# every verdict rests on packets the sensor saw, not on the ones it missed.
SENSOR_MISSES = [
    ("misses-64", ["--flows", "500", "--rounds", "8", "--sizes", "64"], 1),
    ("misses-imix", ["--flows", "500", "--rounds", "8", "--sizes", "imix", "--ipv6", "20", "--ecn", "20"], 2),
    ("misses-1500", ["--flows", "500", "--rounds", "8", "--sizes", "1500"], 3),
]


def drop_in_bursts(src, dst, seed, keep_max=300, drop_max=900):
    """Copies `src` keeping runs of 1..keep_max frames and dropping runs of 1..drop_max."""
    rng = random.Random(seed)
    kept = total = 0
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.write(f.read(24))
        keeping, left = True, rng.randint(1, keep_max)
        while rec := f.read(16):
            body = f.read(struct.unpack("<IIII", rec)[2])
            total += 1
            if keeping:
                out.write(rec + body)
                kept += 1
            left -= 1
            if left == 0:
                keeping = not keeping
                left = rng.randint(1, keep_max if keeping else drop_max)
    return kept, total


def check_sensor_misses(tcpsleuth, gen, work):
    failures = []
    for name, args, seed in SENSOR_MISSES:
        full = os.path.join(work, name + ".full.pcap")
        cap = os.path.join(work, name + ".pcap")
        subprocess.run([gen, *args, "--rate", "500000", "--laps", "20", "--pcap", full], capture_output=True,
                       check=True)
        kept, total = drop_in_bursts(full, cap, seed)
        proc = subprocess.run([tcpsleuth, "analyze", cap, "--report", "/dev/null"], capture_output=True, text=True,
                              check=True, timeout=300)
        events = proc.stdout.splitlines()
        print(f"{name}: {kept} of {total} frames seen, {len(events)} events: {'ok' if not events else 'FAIL'}")
        if events:
            kinds = Counter(json.loads(e)["event"] for e in events)
            failures.append(f"{name}: {len(events)} events on healthy traffic seen with gaps {dict(kinds)}, "
                            f"first: {events[0][:300]}")
        os.remove(full)
    return failures


def main():
    remove_runtime_dirs_at_exit("tsl-gen-check")
    tcpsleuth, gen, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    failures = []
    for name, args, laps in CASES:
        cap = os.path.join(work, name + ".pcap")
        out = subprocess.run([gen, *args, "--laps", str(laps), "--pcap", cap], capture_output=True, text=True, check=True).stdout
        promised = int(out.split(": ")[1].split()[0])
        n, problems, stats = check_frames(cap)
        if n != promised:
            problems.append(f"{n} frames in the file, {promised} promised")
        if "--ecn" in args and stats["ecn_syn"] == 0:
            problems.append("no SYN asked for ECN")
        if "--ecn" not in args and (stats["ecn_syn"] or stats["ect_data"]):
            problems.append("ECN used though not asked for")
        if stats["ect_nodata"]:
            problems.append(f"{stats['ect_nodata']} pure ACKs marked ECT (RFC 3168 6.1.4)")
        if "--ipv6" in args and stats["v6"] == 0:
            problems.append("no IPv6 frame")
        ev = os.path.join(work, name + ".events.jsonl")
        rep = os.path.join(work, name + ".report.json")
        subprocess.run([tcpsleuth, "analyze", cap, "--events", ev, "--report", rep, "--report-format", "json"],
                       check=True, timeout=300)
        events = open(ev).read().splitlines()
        if events:
            problems.append(f"{len(events)} events on healthy traffic, first: {events[0][:300]}")
        report = json.load(open(rep))
        counters = report.get("counters", {})
        if counters.get("parse.ok") != n:
            problems.append(f"parse.ok {counters.get('parse.ok')} of {n} frames")
        for k in ("tcp.retransmissions", "tcp.out_of_order", "tcp.dup_acks", "tcp.syn_retransmissions",
                  "tcp.duplicate_syns", "tcp.app_retries", "tcp.handshake_refused", "tcp.rst"):
            if counters[k] != 0:
                problems.append(f"{k} = {counters[k]}")
        if name == "one-flow" and counters["tcp.handshake_completed"] != 2 * laps:
            problems.append(f"{counters['tcp.handshake_completed']} handshakes, want two per lap")
        print(f"{name}: {n} frames, {stats['syn']} SYNs ({stats['ecn_syn']} ECN), {stats['v6']} IPv6: "
              f"{'ok' if not problems else 'FAIL'}")
        failures += [f"{name}: {p}" for p in problems]

    for name, args, want, healthy_info in FAULT_CASES:
        failures += check_fault_case(tcpsleuth, gen, work, name, args, want, healthy_info)

    failures += check_sensor_misses(tcpsleuth, gen, work)

    # Looping one lap live.
    lap = os.path.join(work, "lap.pcap")
    out = subprocess.run([gen, "--flows", "500", "--rounds", "4", "--pcap", lap], capture_output=True, text=True, check=True).stdout
    lap_frames = int(out.split(": ")[1].split()[0])
    events = os.path.join(work, "loop.events.jsonl")
    config = os.path.join(work, "loop.toml")
    write_sensor_config(config, devices=[f"net_pcap0,rx_pcap={lap},infinite_rx=1"], events=events, prefix="tsl-gen-check",
                        mbufs=32767, mbuf_size=256)
    proc = subprocess.Popen([tcpsleuth, "run", "--config", config], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        failures.append("loop: tcpsleuth run did not stop on SIGINT")
        err = ""
    ports, _ = final_counters(err)
    rx = ports.get("0", {}).get("rx_packets", 0)
    lines = open(events).read().splitlines() if os.path.exists(events) else ["(no events file)"]
    print(f"loop: {rx} frames received ({rx / lap_frames:.1f} laps of {lap_frames}), {len(lines)} events")
    if proc.returncode != 0:
        failures.append(f"loop: exit {proc.returncode}: {err[-600:]}")
    if rx < 2 * lap_frames:
        failures.append(f"loop: only {rx} frames, fewer than two laps of {lap_frames}")
    failures += [f"loop: {p}" for p in counter_problems(err, inline=False)]
    if lines:
        failures.append(f"loop: {len(lines)} events on looping healthy traffic, first: {lines[0][:300]}")

    for f in failures:
        print("FAIL", f)
    print(f"{len(CASES) + len(FAULT_CASES) + len(SENSOR_MISSES) + 1 - len({f.split(':')[0] for f in failures})} passed, "
          f"{len({f.split(':')[0] for f in failures})} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
