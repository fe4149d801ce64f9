#!/usr/bin/env python3
"""[[impair]] on the live inline path: a capture replayed through net_pcap into port 0 and
forwarded out of port 1 into a file, with SACK-permitted stripped and packets above 1000
bytes dropped. The output must hold exactly the input minus the dropped packets, no SYN
with SACK-permitted, nothing above 1000 bytes, every IPv4 header checksum right and every
TCP checksum as right as it was on the way in (checked here from scratch); the final
counters must add up; the control socket lists the rules with their counters, turns one
off and refuses an unknown name; metrics carry the counters.

Usage: impair_live.py TCPSLEUTH TCPSLEUTHCTL WORKDIR CAPTURE"""
import json
import os
import re
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from outcome import finish  # noqa: E402
from capture_files import pcap_frames  # noqa: E402
from sensor_config import ctl, remove_runtime_dirs_at_exit  # noqa: E402


def ip_and_tcp(frame):
    """(ip offset, version, total length, tcp offset) of an Ethernet IPv4/IPv6 TCP frame, or None."""
    et, pos = struct.unpack("!H", frame[12:14])[0], 14
    while et in (0x8100, 0x88a8):
        et, pos = struct.unpack("!H", frame[pos + 2:pos + 4])[0], pos + 4
    if et == 0x0800 and frame[pos + 9] == 6:
        return pos, 4, struct.unpack("!H", frame[pos + 2:pos + 4])[0], pos + (frame[pos] & 15) * 4
    if et == 0x86DD and frame[pos + 6] == 6:
        return pos, 6, 40 + struct.unpack("!H", frame[pos + 4:pos + 6])[0], pos + 40
    return None


def csum_ok(data):
    s = sum(struct.unpack(f"!{len(data) // 2}H", data[:len(data) // 2 * 2])) + (data[-1] << 8 if len(data) % 2 else 0)
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


def tcp_csum_ok(frame, info):
    ip, version, total, tcp = info
    seg = frame[tcp:ip + total]
    pseudo = frame[ip + 12:ip + 20] if version == 4 else frame[ip + 8:ip + 40]
    return csum_ok(pseudo + struct.pack("!HH", 6, len(seg)) + seg)


def syn_with_sack_perm(frame, info):
    _, _, _, tcp = info
    if not frame[tcp + 13] & 0x02:
        return False
    opts, i = frame[tcp + 20:tcp + (frame[tcp + 12] >> 4) * 4], 0
    while i < len(opts):
        if opts[i] == 0:
            break
        if opts[i] == 1:
            i += 1
            continue
        if opts[i] == 4:
            return True
        i += max(opts[i + 1], 2) if i + 1 < len(opts) else 1
    return False


def main():
    tcpsleuth, tcpsleuthctl, workdir, capture = sys.argv[1:5]
    os.makedirs(workdir, exist_ok=True)
    remove_runtime_dirs_at_exit("tsl-impair*")
    empty, out, back = (os.path.join(workdir, n) for n in ("empty.pcap", "out.pcap", "back.pcap"))
    with open(empty, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    sock, config = os.path.join(workdir, "s.sock"), os.path.join(workdir, "impair.toml")
    with open(config, "w") as f:
        f.write(f'''mode = "inline"
[dpdk]
eal_args = ["--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--file-prefix", "tsl-impair"]
mbufs_per_port = 4095
[[ports]]
device = "net_pcap0,rx_pcap={os.path.abspath(capture)},tx_pcap={back}"
[[ports]]
device = "net_pcap1,rx_pcap={empty},tx_pcap={out}"
[control]
socket = "{sock}"
[output]
events = "{os.path.join(workdir, 'events.jsonl')}"
report = "none"
[[impair]]
name = "no-sack"
action = "strip_option"
option = "sack_perm"
[[impair]]
name = "narrow"
action = "drop_larger_than"
size = 1000
''')
    problems = []
    proc = subprocess.Popen([tcpsleuth, "run", "--config", config], stderr=subprocess.PIPE, text=True)
    try:
        inputs = pcap_frames(capture)
        deadline, rules = time.time() + 30, []
        while time.time() < deadline:
            r = ctl(tcpsleuthctl, sock, "--json", "impair")
            if r.returncode == 0:
                rules = json.loads(r.stdout)["rules"]
                if rules and rules[0]["matched"] == len(inputs):
                    break
            time.sleep(0.2)
        if [x["name"] for x in rules] != ["no-sack", "narrow"] or rules[0]["matched"] != len(inputs):
            problems.append(f"impair over the control socket: {rules}")
        r = ctl(tcpsleuthctl, sock, "impair", "disable", "narrow")
        if r.returncode != 0 or "narrow: disabled" not in r.stdout:
            problems.append(f"impair disable: {r.returncode} {r.stdout} {r.stderr}")
        table = ctl(tcpsleuthctl, sock, "impair").stdout
        if not re.search(r"narrow\s+drop_larger_than\s+no\s", table):
            problems.append(f"the disabled rule is not shown as such:\n{table}")
        r = ctl(tcpsleuthctl, sock, "impair", "enable", "nope")
        if r.returncode != 1 or 'no [[impair]] rule named "nope"' not in r.stderr:
            problems.append(f"an unknown rule must be refused: {r.returncode} {r.stderr}")
        stats = json.loads(ctl(tcpsleuthctl, sock, "--json", "stats").stdout)
        if [x["name"] for x in stats.get("impair", [])] != ["no-sack", "narrow"]:
            problems.append(f"stats lacks the impair rules: {stats.get('impair')}")
        metrics = ctl(tcpsleuthctl, sock, "metrics").stdout
        dashboard = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging", "grafana-dashboard.json")
        for m in set(re.findall(r"tcpsleuth_impair_[a-z_]+", open(dashboard).read())):
            if f"# TYPE {m} counter" not in metrics:
                problems.append(f"the dashboard queries {m}, which the metrics lack")
        dropped = rules[1]["dropped"] if len(rules) > 1 else -1
        if f'tcpsleuth_impair_dropped_total{{rule="narrow",action="drop_larger_than"}} {dropped}' not in metrics:
            problems.append("metrics lack tcpsleuth_impair_dropped_total for narrow")
        ctl(tcpsleuthctl, sock, "shutdown")
        _, log = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        problems.append(f"tcpsleuth run exited {proc.returncode}: {log[-500:]}")

    kept_in = [f for f, _ in inputs if (i := ip_and_tcp(f)) is None or i[2] <= 1000]
    outputs = [f for f, _ in pcap_frames(out)]
    if len(outputs) != len(kept_in) or len(inputs) - len(outputs) != dropped:
        problems.append(f"{len(inputs)} in, {len(outputs)} out, {dropped} dropped, {len(kept_in)} small enough")
    stripped = 0
    for before, after in zip(kept_in, outputs):
        i, o = ip_and_tcp(before), ip_and_tcp(after)
        if o is None:
            continue
        if o[2] > 1000:
            problems.append("a packet above 1000 bytes left")
        if syn_with_sack_perm(after, o):
            problems.append("a SYN left with SACK-permitted")
        stripped += syn_with_sack_perm(before, i)
        if o[1] == 4 and not csum_ok(after[o[0]:o[0] + 20]):
            problems.append("a wrong IPv4 header checksum")
        if tcp_csum_ok(before, i) != tcp_csum_ok(after, o):
            problems.append("a TCP checksum that was right on the way in is wrong on the way out")
    if stripped != rules[0]["rewritten"] or stripped == 0:
        problems.append(f"{stripped} SYNs with SACK-permitted went in, {rules[0]['rewritten']} rewritten")
    finish(problems, f"impair live: {len(inputs)} packets in, {len(outputs)} out, {stripped} SYNs stripped", most=10)


if __name__ == "__main__":
    main()
