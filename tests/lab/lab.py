#!/usr/bin/env python3
"""The namespace lab: real Linux TCP stacks in three network namespaces

    client 198.18.1.2 --c0/r0-- router --r1/s0-- server 198.18.2.2

with a fault injected by the router (iptables, tc, sysctls, an NFQUEUE program) and the
sensor on the client side of it, in one of four ways (--sensor):

    capture  tcpdump on the router's client-facing port r0, then `tcpsleuth analyze`; and a
             second capture on its server-facing port r1: the sensor on the far side of
             the faulty device, where some faults leave a trace and others none
    inline   `tcpsleuth run` in a fourth namespace as the only link between client and
             router: client c0 -- x0 [tcpsleuth inline] x1 -- r0 router
    span     a SPAN port as a switch gives one: both directions of r0 mirrored (tc mirred)
             to a veth m0, and `tcpsleuth run` in tap mode on its peer m1
    points   two SPAN ports, r0 mirrored to m0 and r1 to n0, and one `tcpsleuth run` on m1
             (point "outside") and n1 ("inside"): single-point verdicts at the outside
             point, and the live comparison of the two, which must name the router's fault
             as `tcpsleuth compare` of the capture mode's two captures does

Each scenario asserts the events it must produce and that no other warning or critical
event appears (Expect), on the client side of the router and, in capture mode, on its
server side. Scenarios run in parallel, each in its own namespaces, and everything is
deleted afterwards, also when a step fails.

Usage (root): lab.py --tcpsleuth PATH --seqrand PATH --rstrace PATH [--sensor capture|inline|span|points]
              [--workers N] [--only NAME ...] [--keep DIR]"""
import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sensor_config import write_sensor_config  # noqa: E402 - the live tests' one sensor configuration
from capture_files import pcapng_packets  # noqa: E402 - reads compare's evidence captures
import browser  # noqa: E402 - the HTML report in headless Chromium

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peer.py")
APPS = os.path.join(HERE, "apps.py")
PORT = 7000


class Expect:
    """What a scenario must produce: at least `want[kind]` events of each kind, no other
    warning or critical event except the `allowed` kinds, and no problem from `check(events)`
    (on both sides).
    `server_want` / `server_allowed` say the same for the capture on the router's server
    side (capture mode), where the fault is seen from beyond the device: the default is
    silence, for faults that leave no trace there."""

    def __init__(self, want=None, allowed=(), check=None, server_want=None, server_allowed=(), min_packets=5,
                 device=None, device_allowed=()):
        self.want = want or {}
        # `tcpsleuth compare` of the two captures (capture mode): each "event/kind" in `device`
        # must be found, and no other device finding at warning or above but those allowed.
        self.device = device or {}
        self.device_allowed = set(device_allowed)
        # A live sensor that saw fewer packets missed the connection (see counter_problems).
        self.min_packets = min_packets
        self.allowed = set(allowed)
        self.check = check
        self.server_want = server_want or {}
        self.server_allowed = set(server_allowed)


class Lab:
    def __init__(self, name, workdir, index, sensor="capture", tcpsleuth=None, workers=1):
        self.workers = workers
        self.nat = False  # the router masquerades the client behind its server-side address
        self.impair = False  # the fault made by tcpsleuth inline ([[impair]]) instead of the router
        self.impair_config = ""
        self.name = name
        self.tag = f"tsl{os.getpid() % 100000}x{index}"
        self.ns = {"c": self.tag + "c", "r": self.tag + "r", "s": self.tag + "s"}
        if sensor == "inline":
            self.ns["x"] = self.tag + "x"
        self.sensor = sensor
        self.tcpsleuth = tcpsleuth
        self.workdir = workdir
        self.pcap = os.path.join(workdir, name + ".pcap")
        self.server_pcap = os.path.join(workdir, name + ".server.pcap")
        self.events = os.path.join(workdir, name + ".events.jsonl")
        self.sensor_log = os.path.join(workdir, name + ".sensor.log")
        self.procs = []
        self.log = []
        self.payload_config = ""  # TOML the sensor gets besides the defaults (analyze: --config)

    def run(self, where, cmd, check=True, timeout=60):
        proc = subprocess.run(["ip", "netns", "exec", self.ns[where], "sh", "-c", cmd], capture_output=True,
                              text=True, timeout=timeout)
        self.log.append(f"[{where}] {cmd} -> {proc.returncode} {proc.stdout.strip()[:200]} {proc.stderr.strip()[:200]}")
        if check and proc.returncode != 0:
            raise RuntimeError(f"{self.name}: `{cmd}` in {where} failed: {proc.stderr.strip()}")
        return proc

    def fault(self, command, impair):
        """The scenario's fault: `command` run on the router or, in an impair variant, the same
        fault made by tcpsleuth inline from the [[impair]] rule `impair` (TOML keys)."""
        if self.impair:
            self.impair_config += "[[impair]]\n" + impair + "\n"
        elif command:
            self.run("r", command)

    def spawn(self, where, argv):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[where]] + argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    # mtu_server_link narrows the router's server-side port only: the server still announces a
    # 1460-byte MSS, as it would behind a narrow link further down the path.
    # ipv6 adds 2001:2:1::2 (client), 2001:2:1::1 / 2001:2:2::1 (router), 2001:2:2::2
    # (server) beside the IPv4 addresses (RFC 5180's benchmarking prefix).
    def up(self, mtu_server_link=None, server_ttl=None, server_addrs=(), client_addrs=(), ipv6=False):
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "add", ns], check=True)
        if self.sensor == "inline":
            for a, a_ns, b, b_ns in (("c0", "c", "x0", "x"), ("x1", "x", "r0", "r")):
                subprocess.run(["ip", "link", "add", a, "netns", self.ns[a_ns], "type", "veth", "peer", "name", b,
                                "netns", self.ns[b_ns]], check=True)
            # The sensor's ports carry no addresses and must not chatter (IPv6 autoconf).
            self.run("x", "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && ip link set x0 up && ip link set x1 up")
        else:
            subprocess.run(["ip", "link", "add", "c0", "netns", self.ns["c"], "type", "veth", "peer", "name", "r0",
                            "netns", self.ns["r"]], check=True)
        subprocess.run(["ip", "link", "add", "s0", "netns", self.ns["s"], "type", "veth", "peer", "name", "r1",
                        "netns", self.ns["r"]], check=True)
        mtu = f" mtu {mtu_server_link}" if mtu_server_link else ""
        self.run("c", "ip link set lo up && ip addr add 198.18.1.2/24 dev c0 && ip link set c0 up && "
                      "ip route add default via 198.18.1.1")
        for a in client_addrs:
            self.run("c", f"ip addr add {a}/24 dev c0")
        self.run("r", "ip link set lo up && ip addr add 198.18.1.1/24 dev r0 && ip addr add 198.18.2.1/24 dev r1 && "
                      f"ip link set r0 up && ip link set r1 up{mtu} && sysctl -qw net.ipv4.ip_forward=1")
        self.run("s", "ip link set lo up && ip addr add 198.18.2.2/24 dev s0 && ip link set s0 up && "
                      "ip route add default via 198.18.2.1")
        for a in server_addrs:
            self.run("s", f"ip addr add {a}/24 dev s0")
        if ipv6:
            self.run("c", "ip -6 addr add 2001:2:1::2/64 dev c0 nodad && ip -6 route add default via 2001:2:1::1")
            self.run("r", "ip -6 addr add 2001:2:1::1/64 dev r0 nodad && ip -6 addr add 2001:2:2::1/64 dev r1 nodad && "
                          "sysctl -qw net.ipv6.conf.all.forwarding=1")
            self.run("s", "ip -6 addr add 2001:2:2::2/64 dev s0 nodad && ip -6 route add default via 2001:2:2::1")
            # Neighbours known from the start: neighbour discovery on a loaded machine can
            # lose the first SYN, and a SYN timeout sets the connection's RTO to 3 s (RFC 6298
            # section 5.7), which would stretch every retransmission schedule the scenarios
            # count on.
            mac = {i: self.run(w, f"cat /sys/class/net/{i}/address").stdout.strip()
                   for w, i in (("c", "c0"), ("r", "r0"), ("r", "r1"), ("s", "s0"))}
            self.run("c", f"ip -6 neigh replace 2001:2:1::1 lladdr {mac['r0']} dev c0 nud permanent")
            self.run("r", f"ip -6 neigh replace 2001:2:1::2 lladdr {mac['c0']} dev r0 nud permanent && "
                          f"ip -6 neigh replace 2001:2:2::2 lladdr {mac['s0']} dev r1 nud permanent")
            self.run("s", f"ip -6 neigh replace 2001:2:2::1 lladdr {mac['r1']} dev s0 nud permanent")
        if server_ttl:
            self.run("s", f"sysctl -qw net.ipv4.ip_default_ttl={server_ttl}")
        if self.nat:
            # Source NAT with port translation: the server sees the router's address.
            self.run("r", "iptables -t nat -A POSTROUTING -o r1 -p tcp -j MASQUERADE --random")
            if ipv6:
                self.run("r", "ip6tables -t nat -A POSTROUTING -o r1 -p tcp -j MASQUERADE --random")
        # Offloads off, or captured sizes and checksums are the host's, not the wire's.
        # SPAN ports made with tc mirred: the router's client-side port mirrored to m0 (the
        # sensor reads m1); for two points, its server-side port to n0 as well (read on n1).
        mirrors = {"span": (("r0", "m"),), "points": (("r0", "m"), ("r1", "n"))}.get(self.sensor, ())
        for port, v in mirrors:
            self.run("r", f"ip link add {v}0 type veth peer name {v}1 && sysctl -qw net.ipv6.conf.{v}0.disable_ipv6=1 "
                          f"net.ipv6.conf.{v}1.disable_ipv6=1 && ip link set {v}0 up && ip link set {v}1 up && "
                          f"tc qdisc add dev {port} clsact && "
                          f"tc filter add dev {port} ingress protocol all u32 match u32 0 0 action mirred egress mirror dev {v}0 && "
                          f"tc filter add dev {port} egress protocol all u32 match u32 0 0 action mirred egress mirror dev {v}0")
        for where, ifs in (("c", ["c0"]), ("r", ["r0", "r1", "m0", "m1", "n0", "n1"]), ("s", ["s0"]), ("x", ["x0", "x1"])):
            if where not in self.ns:
                continue
            for i in ifs:
                self.run(where, f"ethtool -K {i} tx off tso off gso off gro off >/dev/null 2>&1", check=False)

    def start_capture(self):
        if self.sensor != "capture":
            return self.start_live_sensor()
        self.capture = [self.spawn("r", ["tcpdump", "-i", port, "-w", path, "-U", "--immediate-mode", "-s", "0", "-n"])
                        for port, path in (("r0", self.pcap), ("r1", self.server_pcap))]
        deadline = time.time() + 5
        while time.time() < deadline and not (os.path.exists(self.pcap) and os.path.exists(self.server_pcap)):
            time.sleep(0.05)
        time.sleep(0.3)

    def start_live_sensor(self):
        points = None
        if self.sensor == "inline":
            where, mode, ports = "x", "inline", ["x0", "x1"]
        elif self.sensor == "points":
            where, mode, ports, points = "r", "tap", ["m1", "n1"], ["outside", "inside"]
        else:
            where, mode, ports = "r", "tap", ["m1"]
        config = os.path.join(self.workdir, self.name + ".toml")
        # Every finding at warning or above gets an evidence capture from the packet history,
        # followed for 2 s (live_evidence_problems checks them).
        self.evidence_dir = os.path.join(self.workdir, self.name + ".evidence")
        # Two points are compared packet by packet: a mirror frame lost in one port's kernel ring
        # (a busy machine, six scenarios at once) would read as a device drop, so they get
        # rings eight times the af_packet default.
        rings = ",framecnt=4096" if points else ""
        write_sensor_config(config, devices=[f"net_af_packet{i},iface={iface}{rings}" for i, iface in enumerate(ports)],
                            events=self.events, prefix=self.tag, mode=mode, memory_mb=256, workers=self.workers,
                            extra=self.payload_config + self.impair_config, points=points,
                            output_extra=f'evidence_dir = "{self.evidence_dir}"\nevidence_follow_s = 2')
        log = open(self.sensor_log, "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[where], self.tcpsleuth, "run", "--config", config, "-v"],
                             stdout=subprocess.DEVNULL, stderr=log)
        self.procs.append(p)
        self.capture = p
        deadline = time.time() + 30
        while time.time() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"tcpsleuth run exited with {p.returncode}: {open(self.sensor_log).read()[-600:]}")
            # "tap mode, 1 port(s), 1 worker(s), ..." is logged once the workers poll (the
            # first line, "starting: ... (tap mode, ...)", comes before the ports are up).
            if " worker(s), " in open(self.sensor_log).read():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("tcpsleuth run did not start within 30 s")
        time.sleep(0.3)

    def stop_capture(self):
        time.sleep(0.5)
        if self.sensor == "capture":
            for p in self.capture:
                p.terminate()
                p.wait(timeout=10)
            return
        self.capture.send_signal(signal.SIGINT)
        rc = self.capture.wait(timeout=60)
        if rc != 0:
            raise RuntimeError(f"tcpsleuth run exited with {rc} after SIGINT: {open(self.sensor_log).read()[-600:]}")
        counters = open(self.sensor_log).read()
        self.log.append("sensor: " + counters[counters.find("== final counters"):].replace("\n", " | ")[:600])

    def server(self, mode="sink", arg="0"):
        self.spawn("s", [sys.executable, PEER, "server", str(PORT), mode, arg])
        # Listening before any client connects, however loaded the machine is.
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.run("s", f"ss -Hltn 'sport = :{PORT}'", check=False).stdout.strip():
                return
            time.sleep(0.05)
        raise RuntimeError("the server did not listen within 15 s")

    def client(self, up, down, host="198.18.2.2", background=False, **kw):
        argv = [sys.executable, PEER, "client", host, str(PORT), str(up), str(down)] + [f"{k}={v}" for k, v in kw.items()]
        if background:
            return self.spawn("c", argv)
        proc = subprocess.run(["ip", "netns", "exec", self.ns["c"]] + argv, capture_output=True, text=True,
                              timeout=120)
        self.log.append(f"client {up} {down} {kw} -> {proc.stdout.strip()} {proc.stderr.strip()[-200:]}")
        return proc.returncode == 0

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(f"/var/run/dpdk/{self.tag}", ignore_errors=True)


# ---- scenarios: each sets up its fault, drives traffic, and says what must be reported ------

def clean_bulk(lab):
    lab.up()
    lab.start_capture()
    lab.server()
    assert lab.client(2_000_000, 0) and lab.client(100, 2_000_000)
    return Expect({})


def clean_loss(lab):
    # 2 % random loss of data and ACKs. Handshakes are spared: two SYNs of one connection lost
    # in a row (a 0.3 % chance here) is exactly what handshake.syn_unanswered reports.
    lab.up()
    lab.run("r", "iptables -A FORWARD -p tcp ! --tcp-flags SYN SYN -m statistic --mode random --probability 0.02 -j DROP")
    lab.start_capture()
    lab.server()
    assert lab.client(1_000_000, 0, timeout=30) and lab.client(100, 1_000_000, timeout=30)
    return Expect({})


def sack_stripped_syn(lab):
    lab.up(client_addrs=["198.18.1.3"])
    lab.fault("iptables -t mangle -A FORWARD -i r0 -s 198.18.1.2 -p tcp --tcp-flags SYN,ACK SYN "
              "-j TCPOPTSTRIP --strip-options sack-permitted",
              'name = "no-sack"\naction = "strip_option"\noption = "sack_perm"\nside = "client"\nhosts = ["198.18.1.2/32"]')
    lab.start_capture()
    lab.server()
    assert lab.client(1000, 1000, src="198.18.1.3")  # another client of the same server: SACK agreed
    assert lab.client(200_000, 0)
    return Expect({"options.stripped": 1})


def sack_stripped_synack(lab):
    lab.up()
    lab.fault("iptables -t mangle -A FORWARD -i r1 -p tcp --tcp-flags SYN,ACK SYN,ACK "
              "-j TCPOPTSTRIP --strip-options sack-permitted",
              'name = "no-sack"\naction = "strip_option"\noption = "sack_perm"\nside = "server"')
    lab.run("r", "iptables -A FORWARD -i r0 -p tcp -m length --length 1000:65535 "
                 "-m statistic --mode random --probability 0.03 -j DROP")
    lab.start_capture()
    lab.server()
    assert lab.client(2_000_000, 0, timeout=60)
    return Expect({"options.stripped": 1, "sack.unnegotiated_blocks": 1})


def wscale_stripped_syn(lab):
    lab.up(client_addrs=["198.18.1.3"])
    lab.fault("iptables -t mangle -A FORWARD -i r0 -s 198.18.1.2 -p tcp --tcp-flags SYN,ACK SYN "
              "-j TCPOPTSTRIP --strip-options wscale",
              'name = "no-ws"\naction = "strip_option"\noption = "wscale"\nside = "client"\nhosts = ["198.18.1.2/32"]')
    lab.start_capture()
    lab.server()
    assert lab.client(1000, 1000, src="198.18.1.3")
    assert lab.client(1_000_000, 0)
    # Without scaling a bulk transfer on a fast link fills the 64 KiB window: true, allowed.
    return Expect({"options.stripped": 1}, allowed={"window.limited"},
                  # NOPs where Linux puts window scale, seen on the server's side too.
                  server_want={"options.stripped": 1}, server_allowed={"window.limited"})


def wscale_stripped_synack(lab):
    lab.up()
    lab.fault("iptables -t mangle -A FORWARD -i r1 -p tcp --tcp-flags SYN,ACK SYN,ACK "
              "-j TCPOPTSTRIP --strip-options wscale",
              'name = "no-ws"\naction = "strip_option"\noption = "wscale"\nside = "server"')
    lab.start_capture()
    lab.server()
    # The client reads the server's shifted window (65160 >> 7) raw and crawls; the transfer
    # need not finish for the diagnosis.
    lab.client(100_000, 0, timeout=8)
    # Beyond the device the SYN-ACK still carries the option: the client sending exactly
    # the server's raw window betrays that it never got it.
    return Expect({"options.stripped": 1, "window.scale_mismatch": 1},
                  server_want={"options.stripped": 1, "window.scale_mismatch": 1})


def mtu_blackhole(lab, probing):
    # A 1280-byte link beyond the router whose ICMP is dropped; impaired: larger packets vanish.
    lab.up(mtu_server_link=None if lab.impair else 1280)
    lab.fault("iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP",
              'name = "narrow"\naction = "drop_larger_than"\nsize = 1280\nside = "client"')
    lab.run("c", f"sysctl -qw net.ipv4.tcp_mtu_probing={1 if probing else 0}")
    lab.start_capture()
    lab.server()
    ok = lab.client(200_000, 0, rounds=2, first=300, timeout=25 if probing else 6)
    assert ok == probing, "with probing the upload must finish, without it must not"
    return Expect({"mtu.blackhole": 1})


def mtu_blackhole_probing(lab):
    return mtu_blackhole(lab, True)


def mtu_blackhole_no_probing(lab):
    return mtu_blackhole(lab, False)


def mtu_blackhole_first_segment(lab):
    """The commonest black hole: the upload's very first segment is full-sized and lost; no
    smaller data was ever sent, so only the handshake proves the path."""
    lab.up(mtu_server_link=1280)
    lab.run("r", "iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP")
    lab.run("c", "sysctl -qw net.ipv4.tcp_mtu_probing=0")
    lab.start_capture()
    lab.server()
    assert not lab.client(200_000, 0, timeout=10), "the upload must not get through"
    return Expect({"mtu.blackhole": 1}, check=blackhole_bracket("handshake", 60))


def mtu_blackhole_ipv6_first_segment(lab):
    """The same over IPv6: a 1280-byte link (the IPv6 minimum) and ICMPv6 packet-too-big
    filtered; 1500-byte packets from the first data segment on."""
    lab.up(mtu_server_link=1280, ipv6=True)
    lab.run("r", "ip6tables -A OUTPUT -p icmpv6 --icmpv6-type packet-too-big -j DROP")
    lab.run("c", "sysctl -qw net.ipv4.tcp_mtu_probing=0")
    lab.start_capture()
    lab.server()
    assert not lab.client(200_000, 0, host="2001:2:2::2", timeout=10), "the upload must not get through"
    return Expect({"mtu.blackhole": 1}, check=blackhole_bracket("handshake", 80))


def blackhole_bracket(carried_by, syn_size):
    """The bracket's lower end is the largest packet the path carried in that direction: for
    a first-segment black hole the client's SYN (IPv4 60 bytes with Linux's options, IPv6 80)."""
    def check(events):
        problems = []
        for e in events:
            if e["event"] != "mtu.blackhole":
                continue
            ev = e["evidence"]
            if ev["carried_by"] != carried_by or ev["pmtu_at_least"] != syn_size or ev["pmtu_below"] != 1500:
                problems.append(f"bracket {ev.get('carried_by')} [{ev.get('pmtu_at_least')}, {ev.get('pmtu_below')}), "
                                f"expected {carried_by} [{syn_size}, 1500)")
            if e["confidence"] == "low":
                problems.append("a full-sized first segment lost is medium confidence, not low")
        return problems
    return check


def pmtud_working(lab):
    # A 1280-byte link beyond the router, whose ICMP gets through; impaired: tcpsleuth drops
    # the larger packets and answers each with frag-needed, as the router does.
    lab.up(mtu_server_link=None if lab.impair else 1280)
    lab.fault(None, 'name = "narrow"\naction = "drop_larger_than"\nsize = 1280\nside = "client"\nicmp = true\n'
                    'source = ["198.18.1.1"]')
    lab.start_capture()
    lab.server()
    assert lab.client(200_000, 0, rounds=2, first=300)
    return Expect({"mtu.icmp_frag_needed": 1})


def ecn_syn_dropped(lab):
    lab.up()
    lab.run("c", "sysctl -qw net.ipv4.tcp_ecn=1")
    # TCP flags byte (offset 13): SYN+ECE+CWR without ACK. iptables' --tcp-flags has no ECE/CWR names.
    lab.fault("iptables -A FORWARD -p tcp -m u32 --u32 '0>>22&0x3C@12>>16&0xD2=0xC2' -j DROP",
              'name = "ecn-syn"\naction = "drop_ecn_syn"')
    lab.start_capture()
    lab.server()
    for _ in range(3):
        assert lab.client(1000, 1000)
    return Expect({"ecn.syn_blackhole": 1})


def ecn_bleached(lab):
    lab.up()
    lab.run("c", "sysctl -qw net.ipv4.tcp_ecn=1")
    lab.fault("iptables -t mangle -A FORWARD -i r1 -j TOS --and-tos 0xfc",
              'name = "bleach"\naction = "bleach_ecn"\nside = "server"')
    lab.start_capture()
    lab.server()
    assert lab.client(100, 1_000_000)
    return Expect({"ecn.bleached": 1})


def conntrack_timeout(lab, action, seconds=8, ipv6=False):
    """A stateful router that forgets established flows idle for `seconds` and then treats
    their packets as invalid: `action` is DROP or a REJECT with a TCP reset."""
    tables = "ip6tables" if ipv6 else "iptables"
    lab.run("r", f"{tables} -A FORWARD -p tcp -m conntrack --ctstate INVALID -j {action}")
    lab.run("r", f"{tables} -A FORWARD -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT")
    lab.run("r", f"sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established={seconds} "
                 "net.netfilter.nf_conntrack_tcp_loose=0")


def idle_device(lab, action, seconds, gap, ipv6=False, server_ttl=None):
    """An exchange answered within a millisecond, `gap` seconds of silence through a device
    forgetting flows after `seconds`, then the next request, which must fail."""
    lab.up(ipv6=ipv6, server_ttl=server_ttl)
    forgetting_device(lab, action, seconds, ipv6)
    lab.start_capture()
    lab.server()
    assert not lab.client(100, 100, host="2001:2:2::2" if ipv6 else "198.18.2.2", rounds=2, gap=gap,
                          timeout=6 if gap > 10 else 4)


def forgetting_device(lab, action, seconds, ipv6=False):
    """conntrack forgetting idle flows on the router or, impaired, tcpsleuth's idle_timeout."""
    if lab.impair:
        then = "rst" if "REJECT" in action else "drop"
        lab.fault(None, f'name = "conntrack"\naction = "idle_timeout"\nseconds = {seconds}\nthen = "{then}"')
    else:
        conntrack_timeout(lab, action, seconds, ipv6)


def idle_timeout_drop(lab):
    idle_device(lab, "DROP", 8, 20)
    return Expect({"idle.timeout_drop": 1})


def idle_timeout_rst(lab):
    idle_device(lab, "REJECT --reject-with tcp-reset", 8, 20, server_ttl=60)
    return Expect({"idle.reset_after_idle": 1, "rst.injected": 1})


def idle_short_drop(lab, ipv6=False):
    """A device that forgets flows after 3 s: 6 s of silence kills the flow. Judged against
    the flow (its RTT, its rhythm), not a fixed 15 s."""
    idle_device(lab, "DROP", 3, 6, ipv6)
    return Expect({"idle.timeout_drop": 1})


def idle_short_drop_ipv6(lab):
    return idle_short_drop(lab, ipv6=True)


def idle_short_rst(lab):
    idle_device(lab, "REJECT --reject-with tcp-reset", 3, 6, server_ttl=60)
    return Expect({"idle.reset_after_idle": 1, "rst.injected": 1})


def idle_rhythm(lab):
    """Request/response every 2 s through the same 3 s device: every gap is the flow's rhythm
    and every one survives; nothing to report."""
    lab.up()
    forgetting_device(lab, "DROP", 3)
    lab.start_capture()
    lab.server()
    assert lab.client(100, 100, rounds=4, gap=2, timeout=4)
    return Expect({})


def keepalive_survives(lab):
    lab.up()
    forgetting_device(lab, "DROP", 8)
    lab.start_capture()
    lab.server()
    assert lab.client(100, 100, rounds=2, gap=20, timeout=6, keepalive=3)
    return Expect({})


def state_table_full(lab):
    servers = [f"198.18.2.{10 + i}" for i in range(10)]
    lab.up(server_addrs=servers)
    lab.fault("iptables -A FORWARD -p tcp --syn -m connlimit --connlimit-above 10 --connlimit-mask 0 -j DROP",
              'name = "table"\naction = "state_limit"\nflows = 10')
    lab.start_capture()
    lab.server()
    long_lived = [lab.client(100, 100, rounds=60, gap=0.25, background=True) for _ in range(10)]
    # All ten hold their entries before the new ones come (a slow sensor inline, under a
    # sanitizer, may take longer than a fixed pause to let them through).
    deadline = time.time() + 15
    while time.time() < deadline:
        if len(lab.run("s", f"ss -Htn state established '( sport = :{PORT} )'", check=False).stdout.splitlines()) >= 10:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    failed = [lab.client(100, 100, host=servers[i % 10], timeout=4, background=True) for i in range(20)]
    for p in failed + long_lived:
        p.wait(timeout=60)
    assert all(p.returncode != 0 for p in failed), "new connections must fail while the table is full"
    assert all(p.returncode == 0 for p in long_lived), "established flows must keep working"
    return Expect({"handshake.syn_drop_surge": 1, "handshake.syn_unanswered": 20})


def short_connections(lab):
    lab.up()
    lab.start_capture()
    lab.server()
    for _ in range(4):
        batch = [lab.client(2000, 20_000, background=True) for _ in range(10)]
        for p in batch:
            p.wait(timeout=60)
        assert all(p.returncode == 0 for p in batch), "every short connection must complete"
    return Expect({})


def zero_window(lab):
    lab.up()
    lab.start_capture()
    lab.server("slow", "4")
    assert lab.client(2_000_000, 0, timeout=30)
    return Expect({"window.zero_stall": 1}, server_want={"window.zero_stall": 1})


def rst_injected(lab):
    lab.up(server_ttl=60)
    # Impaired: tcpsleuth resets both ends at the flow's 40th packet instead of the router
    # answering the client's 40th.
    lab.fault("iptables -A FORWARD -i r0 -p tcp --dport 7000 -m statistic --mode nth --every 40 --packet 39 "
              "-j REJECT --reject-with tcp-reset",
              'name = "ips"\naction = "inject_rst"\nafter_packets = 40\nports = [7000]')
    lab.start_capture()
    lab.server()
    assert not lab.client(500_000, 0)
    return Expect({"rst.injected": 1})


def rst_race(lab, tools, ack="next"):
    """An in-path injector answers every SYN with a forged RST from the router's own stack,
    20 ms before the server's real SYN-ACK gets there. With ACK = ISN+1 the client takes it
    and the connection is refused; with ACK = ISN the client must ignore it."""
    lab.up()
    p = lab.spawn("r", [tools.rstrace, "0", ack, "40"])
    assert p.stdout.readline().strip() == "ready", "rstrace did not start"
    lab.run("r", f"iptables -A FORWARD -i r0 -p tcp --syn --dport {PORT} -j NFQUEUE --queue-num 0")
    lab.start_capture()
    lab.server()
    ok = lab.client(1000, 1000, timeout=5)
    assert ok == (ack == "isn"), "ISN+1 must refuse the connection, ISN must not"
    # A refused connection is SYN, RST, SYN-ACK and perhaps the client's RST answering it.
    return Expect({"rst.injected": 1}, check=raced_handshake, min_packets=3 if ack == "next" else 5)


def rst_race_wrong_ack(lab, tools):
    return rst_race(lab, tools, ack="isn")


def raced_handshake(events):
    return [f"rst.injected says {e['evidence'].get('racing_handshake')}, expected before_syn_ack"
            for e in events if e["event"] == "rst.injected" and e["evidence"].get("racing_handshake") != "before_syn_ack"]


def rst_race_ipv6(lab):
    """The race over IPv6, without a program: the router clones each SYN on to the server
    (TEE) and refuses the original itself (REJECT with a TCP reset from its own stack), so
    the client gets the router's RST first and the server's SYN-ACK after it."""
    lab.up(ipv6=True)  # the router knows the server's link address: the clone can leave at once
    lab.run("r", f"ip6tables -t mangle -A PREROUTING -i r0 -p tcp --syn --dport {PORT} -j TEE --gateway 2001:2:2::2")
    lab.run("r", f"ip6tables -A FORWARD -i r0 -p tcp --syn --dport {PORT} -j REJECT --reject-with tcp-reset")
    lab.start_capture()
    lab.server()
    assert not lab.client(1000, 1000, host="2001:2:2::2", timeout=5), "the forged RST must refuse the connection"
    # Refused, as in rst_race.
    return Expect({"rst.injected": 1}, check=raced_handshake, min_packets=3)


def one_way_acks_lost(lab, ipv6=False):
    """Past the first 100 kB of an upload the server's packets stop reaching the client (a
    filter on the client's side of the sensor): the sensor sees the server acknowledge data
    the client keeps resending with back-off."""
    lab.up(ipv6=ipv6)
    lab.run("c", f"{'ip6tables' if ipv6 else 'iptables'} -A INPUT -p tcp --sport {PORT} -m connbytes "
                 "--connbytes 100000: --connbytes-dir original --connbytes-mode bytes -j DROP")
    lab.start_capture()
    lab.server()
    # 15 s: on a loaded machine the client's RTO can grow past 2 s, and three of its
    # back-offs must fit.
    assert not lab.client(2_000_000, 0, host="2001:2:2::2" if ipv6 else "198.18.2.2", timeout=15), "the upload must stall"
    # The server side sees the same ACKs pass toward the client.
    return Expect({"path.one_way_loss": 1}, server_want={"path.one_way_loss": 1})


def one_way_acks_lost_ipv6(lab):
    return one_way_acks_lost(lab, ipv6=True)


def receiver_limited(lab, ipv6=False):
    """The server reads 8 KiB every 5 ms with a 32 KiB buffer: the network could deliver far
    faster, so the window fills and closes again and again."""
    lab.up(ipv6=ipv6)
    lab.start_capture()
    lab.server("trickle", "0.005")
    assert lab.client(3_000_000, 0, host="2001:2:2::2" if ipv6 else "198.18.2.2", timeout=30)
    # About 2 s of upload, nearly all of it waiting on the window: reported as info after four
    # episodes, then as a warning once it dominates with more than 1 s held back.
    return Expect({"window.receiver_limited": 2}, check=receiver_dominates,
                  server_want={"window.receiver_limited": 2})


def receiver_limited_ipv6(lab):
    return receiver_limited(lab, ipv6=True)


def receiver_dominates(events):
    worst = [e for e in events if e["event"] == "window.receiver_limited" and e["severity"] == "warning"]
    if not worst:
        return ["window.receiver_limited never reached warning"]
    ev = worst[0]["evidence"]
    if ev["share_percent"] < 50 or ev["limited_s"] < 1.0 or ev["receiver"] != "server":
        return [f"the warning's evidence does not show a dominant receiver: {ev}"]
    return []


def seq_randomization(lab, tools):
    lab.up()
    if not lab.impair:
        p = lab.spawn("r", [tools.seqrand, "0", "198.18.1.2", "0x40000000", "40"])
        assert p.stdout.readline().strip() == "ready", "seqrand did not start"
    lab.run("r", "iptables -A FORWARD -i r0 -p tcp -m length --length 1000:65535 "
                 "-m statistic --mode random --probability 0.03 -j DROP")
    lab.fault("iptables -A FORWARD -p tcp -j NFQUEUE --queue-num 0",
              'name = "asa"\naction = "shift_seq"\noffset = 1073741824\nrewrite_sack = false\nhosts = ["198.18.1.2/32"]')
    lab.start_capture()
    lab.server()
    assert lab.client(2_000_000, 0, timeout=60)
    return Expect({"sack.invalid_blocks": 1})


def applications(lab):
    """Real clients against real servers: curl over HTTP and HTTPS, openssl s_client refusing a
    self-signed certificate (a fatal alert in clear: TLS 1.2, before the keys change), ssh
    meeting an SSH banner. The built-in rules must name every protocol on the wire and report
    the 502 and the alert; identification_events makes the silent rules show themselves."""
    lab.payload_config = "[payload]\nidentification_events = true\n"
    lab.up()
    cert, key = (os.path.join(lab.workdir, lab.name + ext) for ext in (".crt", ".key"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=lab.tcpsleuth.test"], check=True, capture_output=True, timeout=60)
    lab.start_capture()
    apps = lab.spawn("s", [sys.executable, APPS, "198.18.2.2", cert, key])
    assert apps.stdout.readline().strip() == "ready", "the application servers did not start"
    curl = "curl -sS --max-time 10 -o /dev/null -w '%{http_code}'"
    assert lab.run("c", f"{curl} http://198.18.2.2:8080/ok").stdout == "200"
    assert lab.run("c", f"{curl} http://198.18.2.2:8080/bad-gateway").stdout == "502"
    assert lab.run("c", f"{curl} -k https://198.18.2.2:8443/ok").stdout == "200"
    refused = lab.run("c", "openssl s_client -connect 198.18.2.2:8443 -tls1_2 -verify_return_error </dev/null",
                      check=False, timeout=30)
    assert refused.returncode != 0, "s_client must refuse the self-signed certificate"
    lab.run("c", "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                 "-o ConnectTimeout=5 -p 2222 lab@198.18.2.2 true", check=False, timeout=30)
    return Expect({"payload.match": 2}, check=check_applications, server_want={"payload.match": 2})


def check_applications(events):
    matches = [e for e in events if e["event"] == "payload.match"]
    problems = []
    # rule -> (the flow's app, whose bytes, how many flows at least)
    expect = {"http.request": ("http", "client", 2), "http.response": ("http", "server", 2),
              "http.status_502": ("http", "server", 1), "tls.client_hello": ("tls", "client", 2),
              "tls.server_hello": ("tls", "server", 2), "tls.alert_fatal": ("tls", "client", 1),
              "ssh.banner": ("ssh", None, 1)}
    for rule, (app, direction, n) in expect.items():
        got = [e for e in matches if e["evidence"]["rule"] == rule]
        if len(got) < n:
            problems.append(f"{rule}: {len(got)} payload.match, expected at least {n}")
        for e in got:
            if e["flow"].get("app") != app or (direction and e["evidence"]["direction"] != direction):
                problems.append(f"{rule}: app {e['flow'].get('app')}, direction {e['evidence']['direction']}; "
                                f"expected {app}, {direction}")
    for rule, severity in (("http.status_502", "warning"), ("tls.alert_fatal", "warning"), ("http.request", "info")):
        if any(e["severity"] != severity for e in matches if e["evidence"]["rule"] == rule):
            problems.append(f"{rule}: severity other than {severity}")
    alerts = [e for e in matches if e["evidence"]["rule"] == "tls.alert_fatal"]
    if alerts and alerts[0]["evidence"].get("tls_alert_name") != "unknown_ca":
        problems.append(f"the alert is {alerts[0]['evidence'].get('tls_alert_name')}, expected unknown_ca "
                        "(s_client refusing a self-signed certificate)")
    unknown = {e["evidence"]["rule"] for e in matches} - set(expect)
    if unknown:
        problems.append(f"rules that should not match this traffic did: {sorted(unknown)}")
    return problems


SCENARIOS = [clean_bulk, clean_loss, sack_stripped_syn, sack_stripped_synack, wscale_stripped_syn,
             wscale_stripped_synack, mtu_blackhole_probing, mtu_blackhole_no_probing, mtu_blackhole_first_segment,
             mtu_blackhole_ipv6_first_segment, pmtud_working, ecn_syn_dropped, ecn_bleached, idle_timeout_drop,
             idle_timeout_rst, idle_short_drop, idle_short_drop_ipv6, idle_short_rst, idle_rhythm, keepalive_survives,
             state_table_full, zero_window, rst_injected, rst_race, rst_race_wrong_ack, rst_race_ipv6, one_way_acks_lost,
             one_way_acks_lost_ipv6, receiver_limited, receiver_limited_ipv6,
             seq_randomization, short_connections, applications]

# What the router did, as `tcpsleuth compare` of the two captures must name it ("event/kind"),
# and what else it may report at warning or above. A scenario not listed expects a device
# that passes everything unchanged (TTL decrement and NAT are info).
DEVICE = {
    "clean_loss": ({"device.dropped/scattered"}, ()),
    "sack_stripped_syn": ({"device.rewrote/sack_perm"}, ()),
    "sack_stripped_synack": ({"device.rewrote/sack_perm", "device.dropped/scattered"}, ()),
    "wscale_stripped_syn": ({"device.rewrote/wscale"}, ()),
    "wscale_stripped_synack": ({"device.rewrote/wscale"}, ()),
    "mtu_blackhole_probing": ({"device.dropped/large"}, ()),
    "mtu_blackhole_no_probing": ({"device.dropped/large"}, ()),
    "mtu_blackhole_first_segment": ({"device.dropped/large"}, ()),
    "mtu_blackhole_ipv6_first_segment": ({"device.dropped/large"}, ()),
    # The router drops what does not fit and says so: info, not a fault.
    "pmtud_working": ({"device.dropped/large_reported", "device.injected/icmp_frag_needed"}, ()),
    "ecn_syn_dropped": ({"device.dropped/ecn_setup_syn"}, ()),
    "ecn_bleached": ({"device.rewrote/ecn_bleached"}, ()),
    "idle_timeout_drop": ({"device.dropped/after_idle"}, ()),
    "idle_short_drop": ({"device.dropped/after_idle"}, ()),
    "idle_short_drop_ipv6": ({"device.dropped/after_idle"}, ()),
    "idle_timeout_rst": ({"device.dropped/after_idle", "device.injected/rst"}, ()),
    "idle_short_rst": ({"device.dropped/after_idle", "device.injected/rst"}, ()),
    "state_table_full": ({"device.dropped/syn"}, ()),
    "rst_injected": ({"device.injected/rst", "device.dropped/rejected"}, ()),
    "rst_race": ({"device.injected/rst"}, ()),
    "rst_race_wrong_ack": ({"device.injected/rst"}, ()),
    "rst_race_ipv6": ({"device.injected/rst"}, ()),
    # The NFQUEUE program and the 3 % drop rule both lose packets on the way.
    "seq_randomization": ({"device.rewrote/sequence"}, ("device.dropped/scattered",)),
}


def behind_nat(scenario):
    """The scenario again with the router masquerading the client (addresses and ports
    rewritten): single-point verdicts must not change, and compare must still match every
    packet and name the same device fault."""
    def variant(lab, *tools):
        lab.nat = True
        return scenario(lab, *tools)
    variant.__name__ = scenario.__name__ + "_nat"
    return variant


NAT_SCENARIOS = [behind_nat(s) for s in (clean_bulk, sack_stripped_syn, wscale_stripped_synack, mtu_blackhole_probing,
                                         ecn_bleached, ecn_syn_dropped, idle_timeout_drop, idle_short_drop_ipv6,
                                         state_table_full, rst_injected, short_connections)]


def impaired(scenario):
    """The scenario with its router fault made by tcpsleuth inline instead ([[impair]]): the
    stacks must react alike and the same events come out."""
    def variant(lab, *tools):
        lab.impair = True
        return scenario(lab, *tools)
    variant.__name__ = scenario.__name__ + "_impaired"
    return variant


# A satellite path made by tcpsleuth inline (no netem on this machine): 4 Mbit/s with a
# 64 KB queue, then 150 ms each way (300 ms RTT). Faults at that RTT must read as they do on
# a LAN, and a clean transfer must stay quiet.
SATELLITE = ('name = "uplink"\naction = "rate"\nmbps = 4\nqueue_kb = 64\n[[impair]]\n'
             'name = "space"\naction = "delay"\nms = 150\nqueue_packets = 800')


def clean_satellite(lab):
    lab.up()
    lab.fault(None, SATELLITE)
    lab.start_capture()
    lab.server()
    assert lab.client(1_000_000, 0, timeout=30) and lab.client(100, 1_000_000, timeout=30)
    return Expect({})


def mtu_blackhole_satellite(lab):
    lab.up()
    lab.fault(None, SATELLITE)
    lab.fault(None, 'name = "narrow"\naction = "drop_larger_than"\nsize = 1280\nside = "client"')
    lab.run("c", "sysctl -qw net.ipv4.tcp_mtu_probing=0")
    lab.start_capture()
    lab.server()
    assert not lab.client(200_000, 0, rounds=2, first=300, timeout=10)
    return Expect({"mtu.blackhole": 1})


def idle_timeout_satellite(lab):
    lab.up()
    lab.fault(None, SATELLITE)
    lab.fault(None, 'name = "conntrack"\naction = "idle_timeout"\nseconds = 8')
    lab.start_capture()
    lab.server()
    assert not lab.client(100, 100, rounds=2, gap=20, timeout=8)
    return Expect({"idle.timeout_drop": 1})


IMPAIR_SCENARIOS = [impaired(s) for s in (sack_stripped_syn, sack_stripped_synack, wscale_stripped_syn,
                                          wscale_stripped_synack, mtu_blackhole_probing, mtu_blackhole_no_probing,
                                          pmtud_working, ecn_syn_dropped, ecn_bleached, seq_randomization,
                                          idle_timeout_drop, idle_timeout_rst, idle_short_drop, idle_short_drop_ipv6,
                                          idle_short_rst, idle_rhythm, keepalive_survives, state_table_full,
                                          rst_injected, clean_satellite, mtu_blackhole_satellite,
                                          idle_timeout_satellite)]
# Left out: seq_randomization behind NAT. The lab's NFQUEUE program rewrites sequence numbers
# outside conntrack, whose NAT entry then refuses the SYN-ACK: the lab's limit, not compare's.
# Scenarios that drive one of the lab's own tools (NFQUEUE programs).
USES_TOOLS = {seq_randomization, rst_race, rst_race_wrong_ack}
USES_TOOLS |= {s for s in IMPAIR_SCENARIOS if s.__name__ == "seq_randomization_impaired"}


IMPAIR_ACTIONS = {"drop_larger_than", "strip_option", "clamp_mss", "drop_ecn_syn", "bleach_ecn", "erase_ce", "mark_ce", "idle_timeout", "state_limit",
                  "shift_seq", "loss", "inject_rst", "delay", "rate"}


def final_counters(log_text):
    """The `== final counters` tables tcpsleuth run prints: ({port: row}, {worker: row})."""
    text = log_text[log_text.find("== final counters"):]
    ports, workers, table = {}, {}, None
    for line in text.splitlines()[1:]:
        cols = line.split()
        if not cols:
            continue
        if cols[0] in ("impair", "two-point"):  # their own tables: counter_problems reads them
            table = None
        elif cols[0] in ("port", "worker"):
            header, table = cols, (ports if cols[0] == "port" else workers)
        elif table is not None:
            table[cols[0]] = {h: (int(v) if v.isdigit() else v) for h, v in zip(header, cols)}
    return ports, workers


def point_counters(log_text):
    """The two-point row of the final counters (two-point mode), or None."""
    text = log_text[log_text.find("== final counters"):]
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("two-point ") and i + 1 < len(lines):
            return dict(zip(line.split()[1:], (int(v) for v in lines[i + 1].split()[1:])))
    return None


def sensor_problems(lab, min_packets):
    log = open(lab.sensor_log).read()
    problems = counter_problems(log, inline=lab.sensor == "inline", min_packets=min_packets)
    if lab.sensor == "points":
        points = point_counters(log)
        if points is None:
            problems.append("points sensor: no two-point counters")
        elif points["ring_lost"] or not points["matched_packets"] or not points["comparisons"]:
            problems.append(f"points sensor: {points}")
    return problems


def counter_problems(log_text, inline, min_packets=5):
    """A live sensor must have seen traffic, lost nothing, and (inline) passed on every packet
    it received. Also used by bench/live-vs-testpmd."""
    ports, workers = final_counters(log_text)
    if not workers:
        return ["no final counters from tcpsleuth run"]
    problems = []
    packets = sum(w["packets"] for w in workers.values())
    # A connection that carried anything has at least 5 packets (idle_timeout_rst has 8:
    # handshake, one exchange, the request after the gap and its RST); fewer means the sensor
    # missed it. A refused handshake is shorter and says so in its Expect.
    if packets < min_packets or sum(w["flows_created"] for w in workers.values()) < 1:
        problems.append(f"the sensor saw only {packets} packets")
    for w, row in workers.items():
        for k in ("events_lost", "wrong_core", "ring_full"):
            if row[k] != 0:
                problems.append(f"worker {w}: {k} = {row[k]}")
    for p, row in ports.items():
        for k in ("tx_dropped", "rx_missed", "rx_nombuf"):
            if row[k] != 0:
                problems.append(f"port {p}: {k} = {row[k]}")
    if inline and len(ports) == 2:
        a, b = ports["0"], ports["1"]
        # Packets an [[impair]] rule dropped on purpose are the only ones allowed missing, and
        # the ones it sent of its own (RSTs, ICMP) the only ones added. Its table's columns:
        # name action matched dropped rewritten injected delayed.
        rows = [line.split() for line in log_text.splitlines()]
        rows = [r for r in rows if len(r) >= 7 and r[1] in IMPAIR_ACTIONS and r[3].isdigit() and r[5].isdigit()]
        impaired = sum(int(r[3]) - int(r[5]) for r in rows)
        if a["rx_packets"] + b["rx_packets"] - a["tx_packets"] - b["tx_packets"] != impaired:
            problems.append(f"inline forwarding lost packets: {a} / {b} (impair dropped {impaired})")
    return problems


def analyze(tcpsleuth, lab, pcap, page=None):
    """The capture's events; with `page`, its HTML report too (plots and evidence beside it)."""
    config = []
    if lab.payload_config:
        config = ["--config", os.path.join(lab.workdir, lab.name + ".analyze.toml")]
        with open(config[1], "w") as f:
            f.write(lab.payload_config)
    report = ["--report", page, "--report-format", "html"] if page else ["--report", "/dev/null"]
    proc = subprocess.run([tcpsleuth, "analyze", pcap] + report + config, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"analyze {os.path.basename(pcap)} failed: {proc.stderr.strip()}")
    return [json.loads(line) for line in proc.stdout.splitlines()]


def page_problems(page, events, workdir):
    """The scenario's HTML report in headless Chromium: it loads without a console message or
    a request of its own, and shows one plot for each warning."""
    if shutil.which("chromium") is None:
        return ["chromium is not installed (scripts/install-deps installs it)"]
    url = "file://" + os.path.abspath(page)
    status, dom, console, requested = browser.browse(url, workdir, os.path.basename(page)[:-5])
    warnings = sum(1 for e in events if e["severity"] in ("warning", "critical"))
    problems = []
    if status != 0 or console or requested - {url}:
        problems.append(f"report page: exit {status}, console {console[:2]}, requests {sorted(requested - {url})[:3]}")
    if dom.count("<svg") != warnings:
        problems.append(f"report page: {dom.count('<svg')} plots in the browser for {warnings} warnings")
    return problems


def judge(events, want, allowed, extra_check, where):
    counts = {}
    for e in events:
        counts[e["event"]] = counts.get(e["event"], 0) + 1
    problems = []
    for kind, n in want.items():
        if counts.get(kind, 0) < n:
            problems.append(f"{where}: expected at least {n} {kind}, got {counts.get(kind, 0)}")
    for e in events:
        if e["severity"] != "info" and e["event"] not in want and e["event"] not in allowed:
            problems.append(f"{where}: unexpected {e['severity']} {e['event']}: {e['summary']}")
    if extra_check is not None:
        problems += [f"{where}: {p}" for p in extra_check(events)]
    return problems


def compare(tcpsleuth, lab):
    evidence = os.path.join(lab.workdir, lab.name + ".evidence")
    proc = subprocess.run([tcpsleuth, "compare", lab.pcap, lab.server_pcap, "--report", "/dev/null",
                           "--evidence-dir", evidence], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"compare failed: {proc.stderr.strip()}")
    return [json.loads(line) for line in proc.stdout.splitlines()]


def evidence_problems(finding):
    """A warning's evidence capture holds the packets it cites, commented, from both points."""
    path = finding.get("evidence_pcap")
    key = f"{finding['event']}/{finding['evidence']['kind']}"
    if not path or not os.path.exists(path):
        return [f"compare: {key} names no evidence capture ({path})"]
    comments = [c for _, _, c in pcapng_packets(path)]
    cited = len(finding["evidence"]["packets_a"]) + len(finding["evidence"]["packets_b"])
    marked = sum(1 for c in comments if c.startswith(finding["event"]))
    if cited and not marked:
        return [f"compare: {key}: none of the {len(comments)} packets in {os.path.basename(path)} is commented as evidence"]
    return []


def judge_device(findings, expect, nat):
    """The two-point view: what the router did, named by event and kind; behind NAT, also the
    translation itself (info), which says the connections were matched through it."""
    if nat:
        expect.device = dict(expect.device, **{"device.rewrote/nat": 1})
    found = {}
    for f in findings:
        key = f"{f['event']}/{f['evidence']['kind']}"
        found[key] = found.get(key, 0) + 1
    problems = [f"compare: expected {key}, got {sorted(found)}" for key in expect.device if key not in found]
    for f in findings:
        key = f"{f['event']}/{f['evidence']['kind']}"
        if f["severity"] != "info" and key not in expect.device and key not in expect.device_allowed:
            problems.append(f"compare: unexpected {f['severity']} {key}: {f['summary']}")
        if f["severity"] != "info":
            problems += evidence_problems(f)
    return problems


def check(lab, tcpsleuth, expect):
    if not expect.device:
        want, allowed = DEVICE.get(lab.name.removesuffix("_nat"), ((), ()))
        expect.device, expect.device_allowed = {k: 1 for k in want}, set(allowed)
    if lab.sensor == "capture":
        page = os.path.join(lab.workdir, lab.name + ".html")
        client = analyze(tcpsleuth, lab, lab.pcap, page)
        problems = judge(client, expect.want, expect.allowed, expect.check, "client side")
        problems += page_problems(page, client, lab.workdir)
        # The check reads what the scenario's traffic shows; where the server side is expected
        # silent there is nothing for it to read.
        problems += judge(analyze(tcpsleuth, lab, lab.server_pcap), expect.server_want, expect.server_allowed,
                          expect.check if expect.server_want else None, "server side")
        problems += judge_device(compare(tcpsleuth, lab), expect, lab.nat)
        return problems
    problems = sensor_problems(lab, expect.min_packets)
    if problems:
        return problems
    events = [json.loads(line) for line in open(lab.events).read().splitlines()]
    device = [e for e in events if e["event"].startswith("device.")]
    events = [e for e in events if not e["event"].startswith("device.")]
    problems = judge(events, expect.want, expect.allowed, expect.check, f"{lab.sensor} sensor") + live_evidence_problems(events)
    if lab.sensor == "points":
        # The single-point view is the outside point's (the client side, as span's), and the
        # live comparison must name what the router did as `compare` of two captures does.
        problems += judge_device(device, expect, lab.nat)
    elif device:
        problems.append(f"{lab.sensor} sensor: device findings without two points: {[e['event'] for e in device]}")
    return problems


def live_evidence_problems(events):
    """run's evidence capture of each flow finding at warning or above: there, of the flow's
    packets only, the packet it was reported at marked; a stall that ended shows the flow
    after the finding too (the capture followed it)."""
    problems = []
    for e in events:
        # A finding about no one flow (the SYN surge) has none live: each of its flows'
        # handshake.syn_unanswered capture holds that flow's SYNs.
        if e["severity"] == "info" or not e.get("flow"):
            continue
        path = e.get("evidence_pcap")
        if not path or not os.path.exists(path):
            problems.append(f"live evidence: {e['event']} names no capture ({path})")
            continue
        packets = pcapng_packets(path, with_time=True)
        if not any("finding was reported" in c for _, _, _, c in packets):
            problems.append(f"live evidence: {e['event']}: no packet marked as the one it was reported at")
        if e["event"] == "window.zero_stall" and not e["evidence"].get("ongoing"):
            reported = max(t for t, _, _, c in packets if "finding was reported" in c) if packets else 0
            if not any(t > reported for t, _, _, _ in packets):
                problems.append(f"live evidence: {e['event']}: nothing after the finding although the flow went on")
    return problems


def run_one(index, scenario, args, workdir):
    lab = Lab(scenario.__name__, workdir, index, args.sensor, args.tcpsleuth, args.workers)
    started = time.time()
    try:
        expected = scenario(lab, args) if scenario in USES_TOOLS else scenario(lab)
        lab.stop_capture()
        problems = check(lab, args.tcpsleuth, expected)
    except Exception as e:  # noqa: BLE001 - report every failure with its context
        problems = [f"{type(e).__name__}: {e}"] + ["  " + line for line in traceback.format_exc().splitlines()[-3:]]
    finally:
        lab.down()
    if problems:
        problems += ["  log: " + line for line in lab.log[-8:]]
    return scenario.__name__, time.time() - started, problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcpsleuth", required=True)
    ap.add_argument("--seqrand", required=True)
    ap.add_argument("--rstrace", required=True)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--keep", help="keep the captures in this directory")
    ap.add_argument("--jobs", type=int, default=6)
    ap.add_argument("--sensor", choices=["capture", "inline", "span", "points"], default="capture")
    ap.add_argument("--workers", type=int, default=1, help="worker cores of a live sensor (2+: software distribution)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("FAIL: the lab needs root (network namespaces, iptables); run it as root")
    for tool in ("ip", "iptables", "tcpdump", "ethtool"):
        if shutil.which(tool) is None:
            sys.exit(f"FAIL: the lab needs {tool} (scripts/install-deps installs it)")
    # NAT matters to the two-point view only: its variants run where both sides are captured.
    # The impaired variants need tcpsleuth inline, the only sensor that forwards.
    scenarios = SCENARIOS + (NAT_SCENARIOS if args.sensor in ("capture", "points") else []) + \
        (IMPAIR_SCENARIOS if args.sensor == "inline" else [])
    chosen = [s for s in scenarios if not args.only or s.__name__ in args.only]
    workdir = args.keep or tempfile.mkdtemp(prefix="tcpsleuth-lab-")
    os.makedirs(workdir, exist_ok=True)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, i, s, args, workdir) for i, s in enumerate(chosen)]
        for f in concurrent.futures.as_completed(futures):
            name, secs, problems = f.result()
            print(f"{'ok  ' if not problems else 'FAIL'} {name} ({secs:.1f} s)")
            for p in problems:
                print("     " + p)
            failed += bool(problems)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"lab ({args.sensor}): {len(chosen) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
