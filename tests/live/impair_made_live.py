#!/usr/bin/env python3
"""[[impair]] rules that send or hold packets, on the live inline path: a capture made here
(IPv4 and IPv6 flows, both directions) replayed through net_pcap into port 0 and forwarded
out of port 1. Port 0's output file is what went back toward the senders.

- inject_rst (port 443, after 11 packets): each flow's 11th packet (the server's fifth) is
  gone; its sender got a
  RST at the number it expects from its peer (back out of port 0), its receiver one at the
  dropped segment's number (out of port 1); TTL 250; checksums right; the sensor (client
  side) names rst.injected.
- drop_larger_than with icmp (port 8080, 1280 bytes): the large segments are gone, each
  answered toward its sender with ICMP frag-needed / ICMPv6 packet-too-big naming 1280 and
  quoting the packet; checksums right.
- delay (port 9000, 200 ms): that flow leaves at least 200 ms after the packet that came
  just before it, order kept.
- rate (port 9001, 1 Mbit/s, 2 KB bucket): its frames leave a frame time apart.
- reload: a new rule set is taken live; rules kept by name and settings keep their counters.

Every field and checksum is checked here from the RFCs, never by the code under test.

Usage: impair_made_live.py TCPSLEUTH TCPSLEUTHCTL WORKDIR"""
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from outcome import finish  # noqa: E402
from capture_files import pcap_frames  # noqa: E402
from sensor_config import ctl, remove_runtime_dirs_at_exit  # noqa: E402

CLIENT4, SERVER4 = "198.18.1.2", "198.18.2.2"
CLIENT6, SERVER6 = "2001:2:1::2", "2001:2:2::2"
MAC_CLIENT, MAC_SERVER = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def ones(data):
    if len(data) % 2:
        data += b"\0"
    return fold(sum(struct.unpack(f"!{len(data) // 2}H", data)))


def frame(v6, from_client, sport, dport, seq, ack, flags, payload=0, ttl=64):
    src, dst = (CLIENT6, SERVER6) if v6 else (CLIENT4, SERVER4)
    if not from_client:
        src, dst, sport, dport = dst, src, dport, sport
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s, d = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    body = bytes(range(256)) * (payload // 256 + 1)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + body[:payload]
    csum = 0xffff ^ ones(s + d + struct.pack("!HH", 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, ttl) + s + d
        et = 0x86DD
    else:
        hdr = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 1, 0x4000, ttl, 6, 0) + s + d
        ip = hdr[:10] + struct.pack("!H", 0xffff ^ ones(hdr)) + hdr[12:]
        et = 0x0800
    macs = MAC_SERVER + MAC_CLIENT if from_client else MAC_CLIENT + MAC_SERVER
    return macs + struct.pack("!H", et) + ip + tcp


def flow(v6, cport, sport, sizes):
    """A handshake, then client segments of `sizes` each answered by an ACK; (frame, meta) pairs."""
    out, c, s = [], 1000, 9000
    out.append((frame(v6, True, cport, sport, c, 0, 0x02), ("syn", c, 0)))
    out.append((frame(v6, False, cport, sport, s, c + 1, 0x12), ("synack", s, c + 1)))
    c, s = c + 1, s + 1
    out.append((frame(v6, True, cport, sport, c, s, 0x10), ("ack", c, s)))
    for n in sizes:
        out.append((frame(v6, True, cport, sport, c, s, 0x18, n), ("data", c, s)))
        c += n
        out.append((frame(v6, False, cport, sport, s, c, 0x10), ("ack", s, c)))
    return [(f, {"v6": v6, "cport": cport, "kind": m[0]}) for f, m in out]


def parse(f):
    """Ethernet IPv4/IPv6 TCP or ICMP: a dict of what the checks need, or None."""
    et = struct.unpack("!H", f[12:14])[0]
    if et == 0x0800:
        ihl = (f[14] & 15) * 4
        proto, total, ttl = f[23], struct.unpack("!H", f[16:18])[0], f[22]
        src, dst, l4, v6 = socket.inet_ntop(socket.AF_INET, f[26:30]), socket.inet_ntop(socket.AF_INET, f[30:34]), 14 + ihl, False
        if ones(f[14:14 + ihl]) != 0xffff:
            return {"bad": "IPv4 header checksum"}
        end = 14 + total
    elif et == 0x86DD:
        proto, ttl = f[20], f[21]
        src, dst, l4, v6 = socket.inet_ntop(socket.AF_INET6, f[22:38]), socket.inet_ntop(socket.AF_INET6, f[38:54]), 54, True
        end = 54 + struct.unpack("!H", f[18:20])[0]
    else:
        return None
    seg = f[l4:end]
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    pseudo = socket.inet_pton(fam, src) + socket.inet_pton(fam, dst)
    p = {"v6": v6, "src": src, "dst": dst, "ttl": ttl, "proto": proto, "l3": f[14:end]}
    if proto == 6:
        if ones(pseudo + struct.pack("!HH", 6, len(seg)) + seg) != 0xffff:
            return {"bad": "TCP checksum"}
        sp, dp, seq, ack, _, flags = struct.unpack("!HHIIBB", seg[:14])
        p.update(sport=sp, dport=dp, seq=seq, ack=ack, flags=flags, payload=len(seg) - (seg[12] >> 4) * 4)
    elif proto in (1, 58):
        cover = seg if proto == 1 else pseudo + struct.pack("!HH", 58, len(seg)) + seg
        if ones(cover) != 0xffff:
            return {"bad": "ICMP checksum"}
        p.update(type=seg[0], code=seg[1], mtu=struct.unpack("!H", seg[6:8])[0] if proto == 1 else struct.unpack("!I", seg[4:8])[0],
                 quote=seg[8:])
    return p


def rules_json(tcpsleuthctl, sock):
    r = ctl(tcpsleuthctl, sock, "--json", "impair")
    return json.loads(r.stdout)["rules"] if r.returncode == 0 else []


IMPAIR = '''
[[impair]]
name = "ips"
action = "inject_rst"
after_packets = 11
ttl = 250
ports = [443]
[[impair]]
name = "pmtu"
action = "drop_larger_than"
size = 1280
icmp = true
icmp_per_s = 1000
ports = [8080]
[[impair]]
name = "path"
action = "delay"
ms = 200
queue_packets = 500
ports = [9000]
[[impair]]
name = "dsl"
action = "rate"
mbps = 1
burst_kb = 2
ports = [9001]
'''
RELOADED = IMPAIR.split('[[impair]]\nname = "pmtu"')[1]
RELOADED = '[[impair]]\nname = "pmtu"' + RELOADED + '''[[impair]]
name = "late"
action = "bleach_ecn"
'''


def main():
    tcpsleuth, tcpsleuthctl, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    remove_runtime_dirs_at_exit("tsl-impair-made*")
    capture, empty, out, back = (os.path.join(workdir, n) for n in ("in.pcap", "empty.pcap", "out.pcap", "back.pcap"))
    flows = [flow(False, 40001, 443, [1000] * 6), flow(True, 40002, 443, [1000] * 6),
             flow(False, 40003, 8080, [1400, 500, 1400, 1400, 500]), flow(True, 40004, 8080, [1400, 500, 1400, 1400, 500]),
             flow(False, 40005, 9000, [500] * 5), flow(False, 40006, 9001, [1200] * 10)]
    inputs = []  # round robin over the flows: the delayed flow sits among the others
    for i in range(max(len(f) for f in flows)):
        inputs += [f[i] for f in flows if i < len(f)]
    with open(capture, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for n, (fr, _) in enumerate(inputs):
            f.write(struct.pack("<IIII", 1000 + n // 1000, n % 1000, len(fr), len(fr)) + fr)
    with open(empty, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    sock, config, events, report = (os.path.join(workdir, n) for n in ("s.sock", "impair.toml", "events.jsonl", "report.json"))
    head = f'''mode = "inline"
[dpdk]
eal_args = ["--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--file-prefix", "tsl-impair-made"]
mbufs_per_port = 4095
[[ports]]
device = "net_pcap0,rx_pcap={capture},tx_pcap={back}"
[[ports]]
device = "net_pcap1,rx_pcap={empty},tx_pcap={out}"
[control]
socket = "{sock}"
[output]
events = "{events}"
report = "{report}"
report_format = "json"
'''
    with open(config, "w") as f:
        f.write(head + IMPAIR)
    problems = []
    proc = subprocess.Popen([tcpsleuth, "run", "--config", config], stderr=subprocess.PIPE, text=True)
    try:
        deadline, rules = time.time() + 60, []
        want_matched = {"ips": sum(len(f) for f in flows[:2]), "pmtu": sum(len(f) for f in flows[2:4]),
                        "path": len(flows[4]), "dsl": len(flows[5])}
        while time.time() < deadline and proc.poll() is None:
            rules = rules_json(tcpsleuthctl, sock)
            if {r["name"]: r["matched"] for r in rules} == want_matched:
                break
            time.sleep(0.2)
        if {r["name"]: r["matched"] for r in rules} != want_matched:
            problems.append(f"rules matched {[(r['name'], r['matched']) for r in rules]}, want {want_matched}")
        time.sleep(1.0)  # the delay and rate lines empty
        rules = {r["name"]: r for r in rules_json(tcpsleuthctl, sock)}
        if rules.get("ips", {}).get("injected") != 4 or rules.get("ips", {}).get("dropped") != 2:
            problems.append(f"inject_rst counters: {rules.get('ips')}")
        if rules.get("pmtu", {}).get("injected") != 6 or rules.get("pmtu", {}).get("dropped") != 6:
            problems.append(f"drop_larger_than icmp counters: {rules.get('pmtu')}")
        if rules.get("path", {}).get("delayed") != len(flows[4]):
            problems.append(f"delay counters: {rules.get('path')}")
        metrics = ctl(tcpsleuthctl, sock, "metrics").stdout
        if 'tcpsleuth_impair_injected_total{rule="ips",action="inject_rst"} 4' not in metrics:
            problems.append("metrics lack tcpsleuth_impair_injected_total for ips")
        # Reload: ips goes, late comes, the others stay with their counters.
        with open(config, "w") as f:
            f.write(head + RELOADED)
        r = ctl(tcpsleuthctl, sock, "reload")
        if r.returncode != 0:
            problems.append(f"reload refused: {r.stdout} {r.stderr}")
        after = {r["name"]: r for r in rules_json(tcpsleuthctl, sock)}
        if list(after) != ["pmtu", "path", "dsl", "late"]:
            problems.append(f"after the reload the rules are {list(after)}")
        elif after["pmtu"]["injected"] != rules["pmtu"]["injected"] or after["path"]["delayed"] != rules["path"]["delayed"]:
            problems.append(f"kept rules lost their counters: {after}")
        ctl(tcpsleuthctl, sock, "shutdown")
        _, log = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        problems.append(f"tcpsleuth run exited {proc.returncode}: {log[-500:]}")

    outs = [(f, ts) for f, ts in pcap_frames(out, with_time=True)] if os.path.exists(out) else []
    backs = [f for f, _ in pcap_frames(back)] if os.path.exists(back) else []
    parsed_out = [(parse(f), ts) for f, ts in outs]
    parsed_back = [parse(f) for f in backs]
    for p in [p for p, _ in parsed_out] + parsed_back:
        if p and "bad" in p:
            problems.append(f"a packet the device sent or forwarded has a wrong {p['bad']}")
    # inject_rst: per flow, the 11th packet (the server's fifth, an ACK) dropped; its sender
    # reset back out of port 0 at the number it expects, its receiver out of port 1 at the
    # segment's own number. The server's four packets before it give the sensor its TTL.
    for fl in flows[:2]:
        cut = parse(fl[10][0])
        if any(f == fl[10][0] for f, _ in outs):
            problems.append(f"port {fl[0][1]['cport']}: the 11th packet was forwarded")
        to_sender = [p for p in parsed_back if p and p.get("proto") == 6 and p["flags"] & 4
                     and (p["sport"], p["dport"]) == (cut["dport"], cut["sport"])]
        to_receiver = [p for p, _ in parsed_out if p and p.get("proto") == 6 and p["flags"] & 4
                       and (p["sport"], p["dport"]) == (cut["sport"], cut["dport"])]
        if len(to_sender) != 1 or to_sender[0]["seq"] != cut["ack"] or to_sender[0]["ttl"] != 250 or to_sender[0]["flags"] != 0x04:
            problems.append(f"port {fl[0][1]['cport']}: the RST to the sender: {to_sender}")
        if (len(to_receiver) != 1 or to_receiver[0]["seq"] != cut["seq"] or to_receiver[0]["ack"] != cut["ack"]
                or to_receiver[0]["flags"] != 0x14 or to_receiver[0]["src"] != cut["src"]):
            problems.append(f"port {fl[0][1]['cport']}: the RST to the receiver: {to_receiver}")
    # drop_larger_than icmp: every large segment gone and answered, quoting it.
    for fl in flows[2:4]:
        big = [f for f, m in fl if len(f) > 14 + 1280]
        icmp = [p for p in parsed_back if p and p.get("proto") in (1, 58)
                and p["dst"] == (CLIENT6 if fl[0][1]["v6"] else CLIENT4) and struct.unpack("!H", p["quote"][(40 if p["v6"] else 20):][:2])[0] == fl[0][1]["cport"]]
        if any(f in big for f, _ in outs):
            problems.append("a segment above 1280 bytes was forwarded")
        if len(icmp) != len(big):
            problems.append(f"{len(big)} large segments, {len(icmp)} ICMP answers")
        for p, f in zip(icmp, big):
            want_type = 2 if p["v6"] else 3
            if p["type"] != want_type or p["code"] != (0 if p["v6"] else 4) or p["mtu"] != 1280:
                problems.append(f"ICMP type {p['type']} code {p['code']} mtu {p['mtu']}")
            if not f[14:].startswith(p["quote"]) or len(p["l3"]) != (1280 if p["v6"] else 576):
                problems.append(f"the ICMP does not quote the packet as RFC 1812 / 4443 say ({len(p['l3'])} bytes)")
    # delay: the flow's first packet left >= 200 ms after the one before it in the input.
    position = {f: i for i, (f, _) in enumerate(inputs)}
    out_time = {f: ts for f, ts in outs}
    delayed = [f for f, _ in flows[4]]
    first = delayed[0]
    before = inputs[position[first] - 1][0]
    if first not in out_time or before not in out_time:
        problems.append("the delayed flow's first packet or its predecessor is missing from the output")
    else:
        gap = out_time[first] - out_time[before]
        if not 0.195 <= gap <= 3.0:
            problems.append(f"the delayed flow left {gap * 1000:.1f} ms after its predecessor, not 200")
    # Order is a path's per direction (the two ways are separate lines, as on a real path).
    by_way = {}
    for f in delayed:
        by_way.setdefault(f[14 + 20:14 + 22], []).append(f)  # the TCP source port tells the way
    for port, sent in by_way.items():
        order = [f for f, _ in outs if f in set(sent)]
        if order != sent:
            problems.append(f"the delayed flow came out of source port {struct.unpack('!H', port)[0]} in another order or incomplete ({len(order)} of {len(sent)})")
    # rate: 1 Mbit/s is 8 us a byte; past the bucket the data segments leave a frame time apart.
    shaped = [out_time[f] for f, m in flows[5] if m["kind"] == "data" and f in out_time]
    gaps = [b - a for a, b in zip(shaped, shaped[1:])]
    frame_time = (14 + 20 + 20 + 1200) * 8 / 1e6
    if len(shaped) != 10 or sorted(gaps)[len(gaps) // 2] < 0.9 * frame_time:
        problems.append(f"rate: {len(shaped)} segments, gaps {[round(g * 1000, 1) for g in gaps]} ms, want about {frame_time * 1000:.1f}")
    # The report names what each rule (the set in effect at the end) did.
    try:
        in_report = {r["name"]: r for r in json.load(open(report)).get("impair", [])}
    except (OSError, ValueError):
        in_report = {}
    if list(in_report) != ["pmtu", "path", "dsl", "late"] or in_report["pmtu"]["injected"] != 6:
        problems.append(f"the report's impair section: {in_report}")
    # The sensor on the client side saw the device's RSTs come toward the clients.
    names = []
    if os.path.exists(events):
        with open(events) as f:
            names = [json.loads(line).get("event") for line in f if line.strip()]
    if "rst.injected" not in names:
        problems.append(f"no rst.injected among {sorted(set(names))}")
    finish(problems, f"impair made live: {len(inputs)} in, {len(outs)} out, {len(backs)} back", most=12)


if __name__ == "__main__":
    main()
