#!/usr/bin/env python3
"""`tcpsleuth probe` against real devices: Linux routers in network namespaces

    client 198.18.1.2 --c0/a0-- r1 --a1/b0-- r2 --b1/s0-- server 198.18.2.2
           2001:2:1::2          198.18.3.1  198.18.3.2         2001:2:2::2

with a fault made by r1 (iptables, ip6tables, a narrow link), so the device sits between
hop 1 (r1, 198.18.1.1) and hop 2 (r2, 198.18.3.2), or at hop 1 itself for a rewrite before
the router's TTL check (PREROUTING). Each scenario runs the probe from the client and
checks its JSON findings: the event, the option, the hop and its address, and that no other
warning appears; a clean path gives no warning. Also: the rate and packet budget hold
(counted on the wire by tcpdump on r1), and broadcast and multicast targets are refused.

Usage (root): probe_lab.py TCPSLEUTH WORKDIR --seqrand PATH --tcpsleuthctl PATH [--only NAME ...]"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peer.py")
PORT = 7000
SEQRAND = [None]  # the lab's sequence-randomizing firewall (tests/lab/seqrand.cc)
TCPSLEUTHCTL = [None]


class Path:
    def __init__(self, name, index, workdir):
        self.name = name
        self.tag = f"tsp{os.getpid() % 100000}x{index}"
        self.ns = {k: self.tag + k for k in ("c", "r1", "r2", "s")}
        self.workdir = workdir
        self.procs = []
        self.log = []

    def run(self, where, cmd, check=True):
        p = subprocess.run(["ip", "netns", "exec", self.ns[where], "sh", "-c", cmd], capture_output=True, text=True,
                           timeout=120)
        self.log.append(f"[{where}] {cmd} -> {p.returncode} {p.stderr.strip()[:200]}")
        if check and p.returncode != 0:
            raise RuntimeError(f"{self.name}: `{cmd}` in {where}: {p.stderr.strip()}")
        return p

    def up(self):
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "add", ns], check=True)
        for a, a_ns, b, b_ns in (("c0", "c", "a0", "r1"), ("a1", "r1", "b0", "r2"), ("b1", "r2", "s0", "s")):
            subprocess.run(["ip", "link", "add", a, "netns", self.ns[a_ns], "type", "veth", "peer", "name", b,
                            "netns", self.ns[b_ns]], check=True)
        addrs = {  # namespace: (interface, IPv4/24, IPv6/64)
            "c": [("c0", "198.18.1.2", "2001:2:1::2")],
            "r1": [("a0", "198.18.1.1", "2001:2:1::1"), ("a1", "198.18.3.1", "2001:2:3::1")],
            "r2": [("b0", "198.18.3.2", "2001:2:3::2"), ("b1", "198.18.2.1", "2001:2:2::1")],
            "s": [("s0", "198.18.2.2", "2001:2:2::2")],
        }
        for ns, ifs in addrs.items():
            self.run(ns, "ip link set lo up")
            for i, v4, v6 in ifs:
                self.run(ns, f"ip addr add {v4}/24 brd + dev {i} && ip -6 addr add {v6}/64 dev {i} nodad && ip link set {i} up && "
                             f"ethtool -K {i} tx off tso off gso off gro off >/dev/null 2>&1 || true")
        self.run("c", "ip route add default via 198.18.1.1 && ip -6 route add default via 2001:2:1::1")
        self.run("r1", "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && "
                       "ip route add 198.18.2.0/24 via 198.18.3.2 && ip -6 route add 2001:2:2::/64 via 2001:2:3::2")
        self.run("r2", "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && "
                       "ip route add 198.18.1.0/24 via 198.18.3.1 && ip -6 route add 2001:2:1::/64 via 2001:2:3::1")
        self.run("s", "ip route add default via 198.18.2.1 && ip -6 route add default via 2001:2:2::1")
        # Routers answer every probe: no ICMP rate limit in the way (the kernel's default
        # limits errors to one per second per destination).
        for r in ("r1", "r2"):
            self.run(r, "sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0")
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", self.ns["s"], sys.executable, PEER, "server", str(PORT), "sink"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 15
        while time.time() < deadline and not self.run("s", f"ss -Hltn 'sport = :{PORT}'", check=False).stdout.strip():
            time.sleep(0.05)
        # Every neighbour resolved and IPv6 forwarding ready (the routers' link-local addresses
        # finish duplicate detection first) before the first probe: a lost probe would read as
        # a silent hop.
        for server in ("198.18.2.2", "2001:2:2::2"):
            connect = f"{sys.executable} -c \"import socket; socket.create_connection(('{server}', {PORT}), 1).close()\""
            deadline = time.time() + 20
            while self.run("c", connect, check=False).returncode != 0:
                if time.time() > deadline:
                    raise RuntimeError(f"the server {server} cannot be reached within 20 s")
                time.sleep(0.2)

    def probe(self, tcpsleuth, target, *args):
        p = subprocess.run(["ip", "netns", "exec", self.ns["c"], tcpsleuth, "probe", target, "--json", "--wait", "500", *args],
                           capture_output=True, text=True, timeout=300)
        findings = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        self.log.append(f"probe {target} {args} -> {p.returncode}\n{p.stdout}{p.stderr}")
        return p, findings

    def down(self):
        for p in self.procs:
            p.kill()
            p.wait()
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


V4, V6 = f"198.18.2.2:{PORT}", f"[2001:2:2::2]:{PORT}"


def expect(findings, want, problems, **fields):
    """`want` (event name or None for no warning at all), with the given fields; no other warning."""
    warnings = [f for f in findings if f["severity"] in ("warning", "critical")]
    if want is None:
        if warnings:
            problems.append(f"warnings on a clean path: {[w['event'] + ' ' + w['summary'] for w in warnings]}")
        return
    hits = [f for f in warnings if f["event"] == want and all(f.get(k, f["evidence"].get(k)) == v for k, v in fields.items())]
    if len(hits) != 1:
        problems.append(f"want one {want} with {fields}, got {[(f['event'], f.get('hop'), f.get('hop_address'), f['evidence']) for f in findings]}")
    others = [f for f in warnings if f["event"] != want]
    if others:
        problems.append(f"other warnings: {[o['event'] + ': ' + o['summary'] for o in others]}")


def clean(path, tcpsleuth, problems):
    for target in (V4, V6):
        p, findings = path.probe(tcpsleuth, target)
        if p.returncode != 0:
            problems.append(f"{target}: exit {p.returncode}: {p.stderr[-300:]}")
        expect(findings, None, problems)
        for line in ("no router saw our SYN's options changed", "the server agreed to ECN", "bytes acknowledged",
                     "answered the SYN with a SYN-ACK", "SACK blocks name our out-of-order segments exactly"):
            if line not in p.stderr:
                problems.append(f"{target}: no '{line}' in {p.stderr[-600:]}")


def wscale_stripped(path, tcpsleuth, problems):
    path.run("r1", "iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,ACK SYN -j TCPOPTSTRIP --strip-options wscale")
    _, findings = path.probe(tcpsleuth, V4, "--tests", "options")
    expect(findings, "options.stripped", problems, option="wscale", hop=2, hop_address="198.18.3.2",
           previous_hop_address="198.18.1.1")


def sack_stripped_ipv6(path, tcpsleuth, problems):
    path.run("r1", "ip6tables -t mangle -A FORWARD -p tcp --tcp-flags SYN,ACK SYN -j TCPOPTSTRIP --strip-options sack-permitted")
    _, findings = path.probe(tcpsleuth, V6, "--tests", "options")
    expect(findings, "options.stripped", problems, option="sack_perm", hop=2, hop_address="2001:2:3::2",
           previous_hop_address="2001:2:1::1")


def mss_clamped_at_hop1(path, tcpsleuth, problems):
    # Rewritten before r1's own TTL check: r1's quote already carries the clamped MSS.
    path.run("r1", "iptables -t mangle -A PREROUTING -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1300")
    _, findings = path.probe(tcpsleuth, V4, "--tests", "options")
    expect(findings, "options.stripped", problems, option="mss", hop=1, hop_address="198.18.1.1")


def synack_stripped(path, tcpsleuth, problems):
    # On the way back our quotes cannot see; the SYN-ACK's NOPs can.
    path.run("r1", "iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,ACK SYN,ACK -j TCPOPTSTRIP --strip-options timestamp")
    _, findings = path.probe(tcpsleuth, V4, "--tests", "options")
    expect(findings, "options.stripped", problems, option="timestamp", side="server")


def ecn_syn_dropped(path, tcpsleuth, problems):
    # SYN+ECE+CWR in the TCP flags byte (iptables has no names for ECE and CWR): u32 reads it.
    path.run("r1", "iptables -A FORWARD -p tcp -m u32 --u32 '0>>22&0x3C@12>>16&0xC2=0xC2' -j DROP")
    _, findings = path.probe(tcpsleuth, V4, "--tests", "ecn")
    expect(findings, "ecn.syn_blackhole", problems, hop=2, previous_hop_address="198.18.1.1")


def ecn_bleached(path, tcpsleuth, problems):
    path.run("r1", "iptables -t mangle -A FORWARD -p tcp -j TOS --and-tos 0xfc")
    _, findings = path.probe(tcpsleuth, V4, "--tests", "ecn")
    expect(findings, "ecn.bleached", problems, hop=2, hop_address="198.18.3.2", previous_hop_address="198.18.1.1")


def ecn_bleached_ipv6(path, tcpsleuth, problems):
    path.run("r1", "ip6tables -t mangle -A FORWARD -p tcp -j TOS --and-tos 0xfc")
    _, findings = path.probe(tcpsleuth, V6, "--tests", "ecn")
    expect(findings, "ecn.bleached", problems, hop=2, hop_address="2001:2:3::2", previous_hop_address="2001:2:1::1")


def narrow_link(path, filtered, ipv6=False):
    path.run("r1", "ip link set a1 mtu 1400")
    path.run("r2", "ip link set b0 mtu 1400")
    if filtered:
        path.run("r1", "ip6tables -A OUTPUT -p icmpv6 --icmpv6-type packet-too-big -j DROP" if ipv6 else
                       "iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP")


def mtu_blackhole(path, tcpsleuth, problems):
    narrow_link(path, True)
    _, findings = path.probe(tcpsleuth, V4, "--tests", "pmtu")
    expect(findings, "mtu.blackhole", problems, hop=2, previous_hop_address="198.18.1.1", largest_delivered_packet_size=1400)


def mtu_blackhole_ipv6(path, tcpsleuth, problems):
    narrow_link(path, True, ipv6=True)
    _, findings = path.probe(tcpsleuth, V6, "--tests", "pmtu")
    expect(findings, "mtu.blackhole", problems, hop=2, previous_hop_address="2001:2:1::1", largest_delivered_packet_size=1400)


def pmtud_works(path, tcpsleuth, problems):
    narrow_link(path, False)
    _, findings = path.probe(tcpsleuth, V4, "--tests", "pmtu")
    expect(findings, None, problems)
    if not any(f["event"] == "mtu.icmp_frag_needed" and f["evidence"].get("mtu") == 1400 for f in findings):
        problems.append(f"no mtu.icmp_frag_needed with MTU 1400: {findings}")


def seq_randomized(path, tcpsleuth, problems):
    # r1 shifts the client's sequence numbers (and the server's ACKs back) but not SACK blocks.
    p = subprocess.Popen(["ip", "netns", "exec", path.ns["r1"], SEQRAND[0], "0", "198.18.1.2", "0x40000000", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    path.procs.append(p)
    if p.stdout.readline().strip() != "ready":
        problems.append("seqrand did not start")
        return
    path.run("r1", "iptables -A FORWARD -p tcp -j NFQUEUE --queue-num 0")
    _, findings = path.probe(tcpsleuth, V4, "--tests", "seq")
    expect(findings, "sack.invalid_blocks", problems, hop=2, hop_address="198.18.3.2", previous_hop_address="198.18.1.1",
           stable_offset=True)


def rst_injected(path, tcpsleuth, problems):
    path.run("r1", f"iptables -A FORWARD -p tcp --dport {PORT} -j REJECT --reject-with tcp-reset")
    _, findings = path.probe(tcpsleuth, V4, "--tests", "rst")
    expect(findings, "rst.injected", problems, hop=1, hop_address="198.18.1.1", ttl_mismatch=True)


def rst_injected_ipv6(path, tcpsleuth, problems):
    path.run("r1", f"ip6tables -A FORWARD -p tcp --dport {PORT} -j REJECT --reject-with tcp-reset")
    _, findings = path.probe(tcpsleuth, V6, "--tests", "rst")
    expect(findings, "rst.injected", problems, hop=1, hop_address="2001:2:1::1", ttl_mismatch=True)


def rst_port_closed(path, tcpsleuth, problems):
    # The server's own RST (nothing listens on the port): no finding.
    p, findings = path.probe(tcpsleuth, f"198.18.2.2:{PORT + 1}", "--tests", "rst")
    expect(findings, None, problems)
    if "the RST is the server's own" not in p.stderr:
        problems.append(f"closed port: {p.stderr[-300:]}")


def forgetting_router(path, action, ipv6=False):
    """r1 forgets established flows idle for 3 s, then treats their packets as invalid."""
    tables = "ip6tables" if ipv6 else "iptables"
    path.run("r1", f"{tables} -A FORWARD -p tcp -m conntrack --ctstate INVALID -j {action} && "
                   f"{tables} -A FORWARD -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT && "
                   "sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=3 net.netfilter.nf_conntrack_tcp_loose=0")


def idle_bracket(findings, want, problems):
    hits = [f for f in findings if f["event"] == want]
    if not hits:
        return
    ev = hits[0]["evidence"]
    if not (2 <= ev.get("path_survived_max_s", 0) <= 3 and 3 <= ev.get("path_killed_min_s", 0) <= 4):
        problems.append(f"the bracket does not hold the 3 s timeout: {ev}")


def idle_drop(path, tcpsleuth, problems):
    forgetting_router(path, "DROP")
    _, findings = path.probe(tcpsleuth, V4, "--tests", "idle", "--max-idle", "8")
    expect(findings, "idle.timeout_drop", problems)
    idle_bracket(findings, "idle.timeout_drop", problems)


def idle_reset(path, tcpsleuth, problems):
    forgetting_router(path, "REJECT --reject-with tcp-reset")
    _, findings = path.probe(tcpsleuth, V4, "--tests", "idle", "--max-idle", "8")
    expect(findings, "idle.reset_after_idle", problems)
    idle_bracket(findings, "idle.reset_after_idle", problems)


def idle_drop_ipv6(path, tcpsleuth, problems):
    forgetting_router(path, "DROP", ipv6=True)
    _, findings = path.probe(tcpsleuth, V6, "--tests", "idle", "--max-idle", "8")
    expect(findings, "idle.timeout_drop", problems)
    idle_bracket(findings, "idle.timeout_drop", problems)


def idle_clean(path, tcpsleuth, problems):
    p, findings = path.probe(tcpsleuth, V4, "--tests", "idle", "--max-idle", "4")
    expect(findings, None, problems)
    if "idle: connections idle up to 4.0 s still worked" not in p.stderr:
        problems.append(f"clean idle: {p.stderr[-300:]}")


def from_the_daemon(path, tcpsleuth, problems):
    """tcpsleuthctl probe: the sensor (here analyze --hold on a capture of one connection,
    taken in the client namespace) probes the server of a flow it holds, from its address."""
    path.run("r1", "iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,ACK SYN -j TCPOPTSTRIP --strip-options wscale")
    pcap = os.path.join(path.workdir, path.name + ".pcap")
    dump = subprocess.Popen(["ip", "netns", "exec", path.ns["c"], "tcpdump", "-i", "c0", "-w", pcap, "-U", "--immediate-mode",
                             "-n", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    path.run("c", f"{sys.executable} -c \"import socket; s = socket.create_connection(('198.18.2.2', {PORT}), 2); "
                  f"s.sendall(b'10 0\\n' + b'x' * 10); s.recv(1); s.close()\"")
    time.sleep(0.5)
    dump.terminate()
    dump.wait()
    for enabled in ("true", "false"):
        config = os.path.join(path.workdir, f"{path.name}-{enabled}.toml")
        with open(config, "w") as f:
            f.write(f'[probe]\nenabled = {enabled}\nsource = "198.18.1.2"\nrate_pps = 50\n')
        sock = os.path.join(path.workdir, f"{path.name}-{enabled}.sock")
        sensor = subprocess.Popen(["ip", "netns", "exec", path.ns["c"], tcpsleuth, "analyze", pcap, "--control", sock, "--hold",
                                   "--config", config, "--events", os.devnull, "--report", "none", "-q"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        path.procs.append(sensor)
        deadline = time.time() + 20
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.1)
        ctl = ["ip", "netns", "exec", path.ns["c"], TCPSLEUTHCTL[0], "--socket", sock]
        r = subprocess.run(ctl + ["--json", "probe", "--flow", "1", "--tests", "options"], capture_output=True, text=True, timeout=120)
        if enabled == "false":
            if r.returncode != 1 or "probing is off" not in r.stderr:
                problems.append(f"probe with [probe] off: exit {r.returncode} {r.stderr.strip()[:200]}")
        else:
            data = json.loads(r.stdout) if r.returncode == 0 else {}
            if r.returncode != 0 or data.get("source") != "198.18.1.2":
                problems.append(f"tcpsleuthctl probe --flow 1: exit {r.returncode} {r.stdout[:300]} {r.stderr[:300]}")
            expect(data.get("findings", []), "options.stripped", problems, option="wscale", hop=2, hop_address="198.18.3.2")
            r = subprocess.run(ctl + ["probe", f"198.18.2.2:{PORT}", "--tests", "rst"], capture_output=True, text=True, timeout=120)
            if r.returncode != 0 or "answered the SYN with a SYN-ACK" not in r.stdout:
                problems.append(f"tcpsleuthctl probe HOST:PORT: exit {r.returncode} {r.stdout[-300:]} {r.stderr[-300:]}")
            # A stop during a long probe (idle: up to four minutes) cancels it instead of waiting.
            long_probe = subprocess.Popen(ctl + ["probe", f"198.18.2.2:{PORT}", "--tests", "idle"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(2)
        stop = time.time()
        subprocess.run(ctl + ["shutdown"], capture_output=True, timeout=30)
        sensor.wait(timeout=30)
        if time.time() - stop > 10:
            problems.append(f"the sensor took {time.time() - stop:.1f} s to stop ([probe] {enabled})")
        if enabled == "true":
            long_probe.wait(timeout=10)


def bounds(path, tcpsleuth, problems):
    pcap = os.path.join(path.workdir, path.name + ".pcap")
    # The probes: SYNs and the ECT(0) segments (the kernel's own RSTs are not the probe's).
    dump = subprocess.Popen(["ip", "netns", "exec", path.ns["r1"], "tcpdump", "-i", "a0", "-w", pcap, "-U", "--immediate-mode", "-n",
                             "src host 198.18.1.2 and (tcp[tcpflags] & tcp-syn != 0 or ip[1] & 3 == 2)"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    start = time.time()
    p, _ = path.probe(tcpsleuth, V4, "--tests", "options,ecn", "--rate", "5", "--max-packets", "6")
    took = time.time() - start
    time.sleep(0.5)
    dump.terminate()
    dump.wait()
    count = subprocess.run(["tcpdump", "-r", pcap, "-n"], capture_output=True, text=True).stdout.count("\n")
    if ": 6 packets sent" not in p.stderr or "the packet budget ran out" not in p.stderr:
        problems.append(f"budget: {p.stderr[-400:]}")
    if count != 6:
        problems.append(f"{count} probes on the wire, budget 6")
    if took < 5 / 5:
        problems.append(f"6 packets at 5 per second took {took:.1f} s")
    for target, why in (("224.0.0.1", "multicast"), ("255.255.255.255", "broadcast"), ("198.18.1.255", "broadcast address of c0"),
                        ("[ff02::1]:80", "multicast")):
        r = subprocess.run(["ip", "netns", "exec", path.ns["c"], tcpsleuth, "probe", target], capture_output=True, text=True)
        if r.returncode != 2 or why not in r.stderr:
            problems.append(f"{target}: exit {r.returncode}, {r.stderr.strip()[:200]}")


SCENARIOS = [clean, wscale_stripped, sack_stripped_ipv6, mss_clamped_at_hop1, synack_stripped, ecn_syn_dropped,
             ecn_bleached, ecn_bleached_ipv6, mtu_blackhole, mtu_blackhole_ipv6, pmtud_works, seq_randomized, rst_injected, rst_injected_ipv6, rst_port_closed, idle_drop,
             idle_reset, idle_drop_ipv6, idle_clean, from_the_daemon, bounds]


def run_one(index, scenario, tcpsleuth, workdir):
    path = Path(scenario.__name__, index, workdir)
    problems = []
    try:
        path.up()
        scenario(path, tcpsleuth, problems)
    except Exception as err:  # noqa: BLE001 - a broken scenario is a failure, reported with its log
        problems.append(f"{type(err).__name__}: {err}")
    finally:
        path.down()
    with open(os.path.join(workdir, scenario.__name__ + ".log"), "w") as f:
        f.write("\n".join(path.log))
    return scenario.__name__, problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tcpsleuth")
    ap.add_argument("workdir")
    ap.add_argument("--seqrand", required=True)
    ap.add_argument("--tcpsleuthctl", required=True)
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    SEQRAND[0] = a.seqrand
    TCPSLEUTHCTL[0] = a.tcpsleuthctl
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    chosen = [s for s in SCENARIOS if not a.only or s.__name__ in a.only]
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for name, problems in pool.map(lambda ix: run_one(ix[0], ix[1], a.tcpsleuth, a.workdir), enumerate(chosen)):
            print(("ok  " if not problems else "FAIL") + f"  {name}")
            for p in problems:
                print("      " + p)
            failed += bool(problems)
    print(f"{len(chosen) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
