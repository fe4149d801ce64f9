#!/usr/bin/env python3
"""Soak under faults: `tcpsleuth run` inline between two veth pairs (af_packet), for
--minutes, while everything that can go wrong around it does (root).

  traffic    tcpsleuth-gen in a loop: IMIX, IPv4 and IPv6, ECN, HTTP payloads, two episodes
             of every fault kind per lap; every third lap 4x more flows than the table holds
  outputs    the events file is a FIFO drained at 256 KiB/s (a slow disk), slower than the
             findings come: every built-in identification rule writes one, so the lines
             waiting for the disk pass their bound and are dropped (counted)
  control    clients that ask and read, subscribe and stall, connect and vanish, send half a
             request or garbage, open 16 connections at once
  reloads    SIGHUP every 3 s, the configuration alternately valid (a threshold changed) and
             broken (refused, the old one kept)

Checked: the sensor never stops or hangs (stats answered within 10 s throughout); its RSS
is flat after warm-up; every packet received is forwarded or counted dropped; every finding
queued is written, and every one lost to a full ring is counted (sensor.events_lost says
so); the events file holds whole JSON lines only; SIGTERM ends it with exit 0 and a report.

Then, on the same wires: SIGTERM or SIGINT at a random moment of a run (EAL start-up
included) must end it in order, exit 0 with a report; SIGKILL at a random moment must leave
the events file (a regular file) ending on a whole line. Last, a sensor starved of
everything (16 flows, 64-packet worker rings, a 64-entry event ring) under a burst must
report each shortage as its sensor.* finding beside its counter.

Usage: soak.py BUILDDIR WORKDIR [--minutes M] [--kills N]"""
import argparse
import json
import os
import random
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from lab import final_counters  # noqa: E402 - one parser of the final counters table
from outcome import finish  # noqa: E402
from sensor_config import remove_runtime_dirs_at_exit  # noqa: E402
import importlib.machinery  # noqa: E402
import importlib.util  # noqa: E402

loader = importlib.machinery.SourceFileLoader("rfc2544", str(ROOT / "bench" / "rfc2544"))
spec = importlib.util.spec_from_loader("rfc2544", loader)
rfc2544 = importlib.util.module_from_spec(spec)
loader.exec_module(rfc2544)

FAULTS = ["syn-unanswered", "mtu-blackhole", "options-stripped", "ecn-bleached", "sack-invalid", "zero-window",
          "mtu-blackhole-first", "mtu-blackhole-first-v6", "idle-short", "rst-race", "one-way-loss", "receiver-limited"]
PREFIX = f"tsl-soak{os.getpid()}"
SENSOR_EVENTS = ("sensor.packets_dropped", "sensor.events_lost")


def config_text(work, *, events, socket_path, threshold=2, broken=False, capacity=2048, ring=256, framecnt=2048,
                report=None, software_ring=0):
    eal = ["--no-huge", "-m", "768", "--no-pci", "--no-shconf", "--file-prefix", PREFIX]
    text = f'''mode = "inline"
[dpdk]
eal_args = {json.dumps(eal)}
mbufs_per_port = 4095
[[ports]]
device = "net_af_packet0,iface=d0,framecnt={framecnt}"
[[ports]]
device = "net_af_packet1,iface=d1,framecnt={framecnt}"
[workers]
count = {2 if software_ring else 1}
idle_sleep_us = 20
event_ring_size = {ring}
{f'distribution = "software"{chr(10)}ring_size = {software_ring}' if software_ring else ""}
[control]
socket = "{socket_path}"
[output]
events = "{events}"
report = "{report or os.path.join(work, 'report.txt')}"
stats_interval_s = 0
[payload]
identification_events = true
[flows]
capacity = {capacity}
cold_records = 256
[handshake]
min_syn_retransmissions = {threshold}
'''
    return text + ("[[broken\n" if broken else "")


class Generator(threading.Thread):
    """tcpsleuth-gen laps until stopped; sums what it sent and what came back."""

    def __init__(self, topo, seconds_per_lap, flows, rate, churn_flows=0):
        super().__init__(daemon=True)
        self.topo, self.lap, self.flows, self.rate, self.churn = topo, seconds_per_lap, flows, rate, churn_flows
        self.stop = threading.Event()
        self.sent = self.received = self.laps = 0
        self.errors = []

    def run(self):
        faults = [a for f in FAULTS for a in ("--fault", f + ":2")]
        while not self.stop.is_set():
            # Every third lap (with churn_flows) overfills the flow table: more flows than it
            # holds, on ports of their own, so every packet evicts the flow idle longest.
            churn = self.churn and self.laps % 3 == 2
            flows = ["--flows", str(self.churn), "--port-base", "40000"] if churn else ["--flows", str(self.flows)]
            r = self.topo.run("g", str(rfc2544.GEN), *flows, "--rounds", "6", "--sizes", "imix",
                              "--ipv6", "20", "--ecn", "30", "--http", "--rate", str(self.rate), "--duration",
                              str(self.lap), *faults, "--tx", "net_af_packet0,iface=g0",
                              "--rx", "net_af_packet1,iface=g1", "--json", "--eal",
                              f"--no-huge -m 256 --no-pci --no-shconf --file-prefix {PREFIX}gen", check=False)
            if r.returncode != 0:
                self.errors.append(r.stderr[-400:])
                time.sleep(1)
                continue
            g = json.loads(r.stdout.strip().splitlines()[-1])
            self.sent += g["sent"]
            self.received += (g.get("rx") or {}).get("received", 0)
            self.laps += 1


class SlowDisk(threading.Thread):
    """Reads the events FIFO at `rate` bytes per second into a regular file."""

    def __init__(self, fifo, out, rate):
        super().__init__(daemon=True)
        self.fifo, self.out, self.rate = fifo, out, rate

    def run(self):
        with open(self.fifo, "rb") as src, open(self.out, "wb") as dst:
            chunk = max(1, self.rate // 16)
            while data := src.read1(chunk) if hasattr(src, "read1") else src.read(chunk):
                dst.write(data)
                dst.flush()
                time.sleep(len(data) / self.rate)


def request(sock_path, line, timeout=10):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            got = s.recv(65536)
            if not got:
                break
            buf += got
    return json.loads(buf)


class ControlHammer(threading.Thread):
    """Clients of every bad kind, one after another, until stopped."""

    def __init__(self, sock_path):
        super().__init__(daemon=True)
        self.path = sock_path
        self.stop = threading.Event()
        self.counts = {}
        self.problems = []
        self.slowest = 0.0

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def run(self):
        rnd = random.Random(7)
        while not self.stop.is_set():
            kind = rnd.choice(["ask", "subscribe-stall", "vanish", "half", "garbage", "crowd"])
            try:
                self.client(kind, rnd)
                self.count(kind)
            except (OSError, ValueError) as e:
                if kind in ("ask", "garbage"):
                    self.problems.append(f"control client '{kind}': {e!r}")
            time.sleep(0.05)

    def client(self, kind, rnd):
        if kind == "ask":
            started = time.monotonic()
            r = request(self.path, json.dumps({"cmd": rnd.choice(["stats", "flows", "events", "help", "metrics"])}))
            self.slowest = max(self.slowest, time.monotonic() - started)
            if not r.get("ok"):
                self.problems.append(f"a good request refused: {r}")
        elif kind == "garbage":
            r = request(self.path, "{nonsense" + "x" * rnd.randint(0, 3000))
            if r.get("ok") is not False or not r.get("error"):
                self.problems.append(f"garbage not refused with a reason: {r}")
        elif kind == "subscribe-stall":
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.path)
            s.sendall(b'{"cmd":"subscribe"}\n')
            time.sleep(rnd.uniform(0.5, 4))  # reads nothing: its buffers fill
            s.close()
        elif kind == "vanish":
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.path)
            s.close()
        elif kind == "half":
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.path)
            s.sendall(b'{"cmd":"sta')
            time.sleep(rnd.uniform(0, 1))
            s.close()
        elif kind == "crowd":
            crowd = []
            for _ in range(16):
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.path)
                crowd.append(s)
            for s in crowd:
                s.close()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def event_lines(path, problems, what):
    """The findings of an events file, each line parsed; a torn or unparsable line is a problem."""
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        problems.append(f"{what}: the events file ends inside a line: ...{data[-80:]!r}")
    events = []
    for n, line in enumerate(data.splitlines(), 1):
        try:
            events.append(json.loads(line))
        except ValueError:
            problems.append(f"{what}: line {n} is not JSON: {line[:120]!r}")
    return events


def spawn_sensor(topo, config, log):
    return topo.spawn("d", str(rfc2544.TCPSLEUTH), "run", "--config", config, stdout=subprocess.DEVNULL, stderr=log)


def stop_sensor(sensor, sig, seconds, problems, what):
    """Sends `sig` and waits; a sensor still running after `seconds` is killed and noted."""
    sensor.send_signal(sig)
    try:
        sensor.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        sensor.kill()
        sensor.wait()
        problems.append(f"{what}: did not stop within {seconds} s of {signal.Signals(sig).name}")
        return False


def wait_socket(proc, path, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            request(path, '{"cmd":"hello"}', timeout=2)
            return True
        except (OSError, ValueError):
            time.sleep(0.2)
    return False


def accounting(log_text, problems, what):
    """Every packet received forwarded or counted dropped; returns (ports, workers)."""
    ports, workers = final_counters(log_text)
    if not ports or not workers:
        problems.append(f"{what}: no final counters")
        return ports, workers
    rx = sum(p["rx_packets"] for p in ports.values())
    tx = sum(p["tx_packets"] for p in ports.values())
    dropped = sum(p["tx_dropped"] for p in ports.values()) + sum(w["ring_full"] for w in workers.values())
    if rx != tx + dropped:
        problems.append(f"{what}: {rx} packets received but {tx} forwarded + {dropped} counted dropped")
    return ports, workers


def soak(topo, work, minutes, problems):
    fifo = os.path.join(work, "events.fifo")
    events_file = os.path.join(work, "events.jsonl")
    sock_path = os.path.join(work, "soak.sock")
    config = os.path.join(work, "soak.toml")
    for p in (fifo, events_file):
        if os.path.exists(p):
            os.unlink(p)
    os.mkfifo(fifo)
    Path(config).write_text(config_text(work, events=fifo, socket_path=sock_path))
    disk = SlowDisk(fifo, events_file, 256 * 1024)
    disk.start()
    log_path = os.path.join(work, "soak.log")
    log = open(log_path, "w")
    sensor = spawn_sensor(topo, config, log)
    if not wait_socket(sensor, sock_path):
        problems.append(f"the sensor did not start: {Path(log_path).read_text()[-600:]}")
        return
    gen = Generator(topo, 15, 1500, 15000, churn_flows=8000)
    hammer = ControlHammer(sock_path)
    gen.start()
    hammer.start()
    started = time.monotonic()
    end = started + minutes * 60
    rss, hups, broken, stats_slowest = [], 0, 0, 0.0
    next_hup = started + 3
    while time.monotonic() < end:
        time.sleep(1)
        if sensor.poll() is not None:
            problems.append(f"the sensor exited ({sensor.returncode}) during the soak: {Path(log_path).read_text()[-800:]}")
            break
        now = time.monotonic()
        if now >= next_hup:
            bad = hups % 2 == 1
            Path(config).write_text(config_text(work, events=fifo, socket_path=sock_path, threshold=2 + hups % 3,
                                                broken=bad))
            sensor.send_signal(signal.SIGHUP)
            hups += 1
            broken += bad
            next_hup = now + 3
        if int(now - started) % 5 == 0:
            try:
                t0 = time.monotonic()
                request(sock_path, '{"cmd":"stats"}', timeout=10)
                stats_slowest = max(stats_slowest, time.monotonic() - t0)
            except (OSError, ValueError) as e:
                problems.append(f"stats unanswered after {now - started:.0f} s: {e!r}")
            rss.append((now - started, rss_kb(sensor.pid)))
    gen.stop.set()
    gen.join(timeout=120)
    hammer.stop.set()
    hammer.join(timeout=30)
    Path(config).write_text(config_text(work, events=fifo, socket_path=sock_path))
    time.sleep(2)  # the last packets through
    try:
        final_stats = request(sock_path, '{"cmd":"stats"}')["data"]
    except (OSError, ValueError, KeyError) as e:
        final_stats = {}
        problems.append(f"stats at the end: {e!r}")
    stop_sensor(sensor, signal.SIGTERM, 120, problems, "soak")
    log.close()
    disk.join(timeout=300)
    if disk.is_alive():
        problems.append("the events FIFO was never closed")
    log_text = Path(log_path).read_text()
    if sensor.returncode != 0:
        problems.append(f"SIGTERM: exit {sensor.returncode}: {log_text[-600:]}")
    report = Path(work, "report.txt")
    if not report.exists() or "tcpsleuth report" not in report.read_text():
        problems.append("no report after SIGTERM")
    problems += [f"generator: {e}" for e in gen.errors[:3]]
    problems += hammer.problems[:10]
    ports, workers = accounting(log_text, problems, "soak")
    events = event_lines(events_file, problems, "soak")
    by_kind = {}
    for e in events:
        by_kind[e.get("event")] = by_kind.get(e.get("event"), 0) + 1
    queued = sum(w.get("events", 0) for w in workers.values())
    lost = sum(w.get("events_lost", 0) for w in workers.values())
    m = re.search(r"events file: (\d+) lines written, (\d+) dropped", log_text)
    written, unwritten = (int(m.group(1)), int(m.group(2))) if m else (None, 0)
    if written is None:
        problems.append("no 'events file:' line at stop")
    elif written != len(events):
        problems.append(f"the events thread wrote {written} lines but the file holds {len(events)}")
    from_sensor = sum(by_kind.get(k, 0) for k in SENSOR_EVENTS)
    if len(events) + unwritten != queued + from_sensor:
        problems.append(f"{queued} findings queued by the workers and {from_sensor} by the main core, but "
                        f"{len(events)} written and {unwritten} counted as dropped")
    if lost + unwritten == 0:
        problems.append("no finding was ever lost: the soak did not test losing them")
    elif by_kind.get("sensor.events_lost", 0) == 0:
        problems.append(f"{lost} findings lost to rings and {unwritten} to the slow disk, but no sensor.events_lost")
    evicted = sum(w.get("flows_evicted", 0) for w in workers.values())
    if evicted == 0 or by_kind.get("sensor.flow_table_full", 0) == 0:
        problems.append(f"flow table not overfilled or not reported ({evicted} evicted)")
    reloads = final_stats.get("control", {})
    if reloads.get("reloads", 0) < hups - broken - 1 or reloads.get("reload_failures", 0) < broken - 1:
        problems.append(f"{hups} SIGHUPs ({broken} broken) but the control counters say {reloads}")
    # RSS after warm-up (the first third): flat within 8 MiB.
    settled = [kb for t, kb in rss if t >= minutes * 20]
    growth = (max(settled) - settled[0]) if settled else 0
    if settled and growth > 8 * 1024:
        problems.append(f"RSS grew {growth} KiB after warm-up: {rss}")
    rx = sum(p["rx_packets"] for p in ports.values()) if ports else 0
    print(f"soak: {minutes} min, {gen.laps} generator laps, {gen.sent} frames sent ({gen.received} came back), "
          f"{rx} received by the sensor; {len(events)} findings written, {lost} lost to rings and {unwritten} to the "
          f"slow disk, counted "
          f"({by_kind.get('sensor.events_lost', 0)} sensor.events_lost); {evicted} flows evicted; "
          f"{hups} SIGHUPs ({broken} broken); control clients {hammer.counts}, slowest answer "
          f"{max(hammer.slowest, stats_slowest):.2f} s; RSS {rss[0][1] if rss else 0} -> {rss[-1][1] if rss else 0} KiB "
          f"(growth after warm-up {growth} KiB)")
    print("soak: final counters\n" + log_text[log_text.find("== final counters"):])


def signals(topo, work, runs, problems):
    """SIGTERM / SIGINT at a random moment: exit 0 and a report; SIGKILL: whole lines."""
    rnd = random.Random(11)
    gen = Generator(topo, 10, 2000, 10000)
    gen.start()
    sock_path = os.path.join(work, "sig.sock")
    kills = 0
    for i in range(runs):
        sig = [signal.SIGTERM, signal.SIGINT, signal.SIGKILL][i % 3]
        events = os.path.join(work, f"sig{i}.events.jsonl")
        report = os.path.join(work, f"sig{i}.report.txt")
        config = os.path.join(work, f"sig{i}.toml")
        Path(config).write_text(config_text(work, events=events, socket_path=sock_path, report=report))
        log_path = os.path.join(work, f"sig{i}.log")
        with open(log_path, "w") as log:
            sensor = spawn_sensor(topo, config, log)
            time.sleep(rnd.uniform(0.0, 1.5) if i < 3 else rnd.uniform(1.5, 6))
            if not stop_sensor(sensor, sig, 60, problems, f"run {i}"):
                continue
        what = f"run {i} ({signal.Signals(sig).name})"
        if sig == signal.SIGKILL:
            kills += 1
            if os.path.exists(events):
                event_lines(events, problems, what)
            continue
        if sensor.returncode != 0:
            problems.append(f"{what}: exit {sensor.returncode}: {Path(log_path).read_text()[-400:]}")
        if not os.path.exists(report) or "tcpsleuth report" not in Path(report).read_text():
            problems.append(f"{what}: no report")
        if os.path.exists(events):
            event_lines(events, problems, what)
        else:
            problems.append(f"{what}: no events file")
        if "== final counters" in Path(log_path).read_text():
            accounting(Path(log_path).read_text(), problems, what)
        elif rfc2544.TCPSLEUTH and "EAL" in Path(log_path).read_text():
            problems.append(f"{what}: stopped after EAL start without its final counters")
    gen.stop.set()
    gen.join(timeout=60)
    print(f"signals: {runs} runs stopped at random moments ({kills} by SIGKILL)")


def starved_run(topo, work, name, problems, *, flows, rate, slow_disk=0, **limits):
    """One sensor starved of something under a generator burst; (ports, workers, findings,
    lines the events disk fell behind on)."""
    events = os.path.join(work, f"{name}.events.jsonl")
    written = events
    if slow_disk:
        written = os.path.join(work, f"{name}.fifo")
        if os.path.exists(written):
            os.unlink(written)
        os.mkfifo(written)
        disk = SlowDisk(written, events, slow_disk)
        disk.start()
    config = os.path.join(work, f"{name}.toml")
    sock_path = os.path.join(work, f"{name}.sock")
    Path(config).write_text(config_text(work, events=written, socket_path=sock_path,
                                        report=os.path.join(work, f"{name}.report.txt"), **limits))
    log_path = os.path.join(work, f"{name}.log")
    with open(log_path, "w") as log:
        sensor = spawn_sensor(topo, config, log)
        if not wait_socket(sensor, sock_path):
            problems.append(f"{name}: did not start: {Path(log_path).read_text()[-400:]}")
            sensor.kill()
            return {}, {}, set(), 0
        gen = Generator(topo, 8, flows, rate)
        gen.start()
        time.sleep(10)
        gen.stop.set()
        gen.join(timeout=60)
        time.sleep(1.5)
        stop_sensor(sensor, signal.SIGTERM, 120, problems, name)
    if slow_disk:
        disk.join(timeout=120)
    text = Path(log_path).read_text()
    if sensor.returncode != 0:
        problems.append(f"{name}: exit {sensor.returncode}: {text[-400:]}")
    ports, workers = accounting(text, problems, name)
    found = {e.get("event") for e in event_lines(events, problems, name)}
    m = re.search(r"events file: \d+ lines written, (\d+) dropped", text)
    unwritten = int(m.group(1)) if m else 0  # lines the events disk fell behind on
    return ports, workers, found, unwritten


def starved(topo, work, problems):
    """Each shortage reported as its sensor.* finding beside its counter: 16 flows and a
    64-packet worker ring (software distribution) under a burst at full speed; then a
    64-entry event ring under a flood of findings, behind a disk of 256 KiB/s: findings are
    lost to the ring (when a burst outruns the main core) and behind the disk (always), and
    sensor.events_lost must say so."""
    ports, workers, found, _ = starved_run(topo, work, "starved-table", problems, flows=4000, rate="max", capacity=16,
                                        software_ring=64)
    _, workers2, found2, unwritten = starved_run(topo, work, "starved-events", problems, flows=2000, rate=20000, ring=64,
                                      capacity=8192, slow_disk=256 * 1024)
    evicted = sum(w.get("flows_evicted", 0) for w in workers.values())
    dropped = sum(p.get("rx_missed", 0) + p.get("rx_nombuf", 0) + p.get("tx_dropped", 0) for p in ports.values()) + \
        sum(w.get("ring_full", 0) for w in workers.values())
    ring_lost = sum(w.get("events_lost", 0) for w in workers2.values())
    lost = ring_lost + unwritten
    for name, counted, what, seen in (("sensor.flow_table_full", evicted, "flows evicted", found),
                                      ("sensor.packets_dropped", dropped, "packets dropped", found),
                                      ("sensor.events_lost", lost, "findings lost", found2)):
        if counted == 0:
            problems.append(f"starved: no {what} counted: the shortage was not provoked")
        elif name not in seen:
            problems.append(f"starved: {counted} {what} counted but no {name}")
    print(f"starved: {evicted} flows evicted, {dropped} packets dropped (rx_missed/rx_nombuf/tx_dropped/ring_full), "
          f"{lost} findings lost ({ring_lost} to the 64-entry ring, the rest behind the disk); sensor findings {sorted(x for x in found | found2 if x.startswith('sensor.'))}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("work")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--kills", type=int, default=9, help="runs stopped by a signal at a random moment")
    a = ap.parse_args()
    rfc2544.use_build(a.build)
    os.makedirs(a.work, exist_ok=True)
    remove_runtime_dirs_at_exit(PREFIX + "*")
    problems = []
    with rfc2544.Topology(2) as topo:
        soak(topo, a.work, a.minutes, problems)
        signals(topo, a.work, a.kills, problems)
        starved(topo, a.work, problems)
    finish(problems, f"soak {a.minutes} min", most=40)


if __name__ == "__main__":
    main()
