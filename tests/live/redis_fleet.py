#!/usr/bin/env python3
"""[output.redis], against a real redis-server: two sensors (two `tcpsleuth analyze`
processes named s1 and s2, reading a capture of fault episodes from a pipe) send their
findings to one stream; half-way through the server is shut down and started again (its
append-only file keeps what it acknowledged), while the sensors go on finding (s2 with a
queue too small to keep them all, so it must drop and count). The server wants a password
(AUTH); a third sensor with the wrong one must deliver nothing and count it all dropped. Then a
consumer group reads the stream back, and every finding each sensor wrote to its events
file must be accounted for: in the stream under its sensor and sequence number, with the
same JSON as the file's line, or counted as dropped by that sensor. The sensors must have
reconnected, and their counters must agree with what the stream holds.

Usage: redis_fleet.py TCPSLEUTH TCPSLEUTH_GEN WORKDIR"""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from http_client import free_port  # noqa: E402
from capture_files import pcap_records  # noqa: E402
from outcome import finish  # noqa: E402

SENSORS = ("s1", "s2")
PASSWORD = "fleet-secret"



class Redis:
    def __init__(self, workdir, port):
        self.dir, self.port = workdir, port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                                      "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                                      "--requirepass", PASSWORD],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.cli("PING", check=False).strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 10 s")

    def stop(self):
        self.cli("SHUTDOWN", check=False)
        self.proc.wait(timeout=20)

    def cli(self, *args, check=True):
        p = subprocess.run(["redis-cli", "-p", str(self.port), "-a", PASSWORD, "--no-auth-warning", "--no-raw"] + list(args),
                           capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise RuntimeError(f"redis-cli {args}: {p.stderr}")
        return p.stdout

    def raw(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), "-a", PASSWORD, "--no-auth-warning", "--raw"] + list(args),
                              capture_output=True, text=True, timeout=60).stdout


def main():
    tcpsleuth, gen, workdir = sys.argv[1:4]
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        sys.exit("FAIL: redis-server and redis-cli are needed (scripts/install-deps installs them)")
    capture = os.path.join(workdir, "faults.pcap")
    subprocess.run([gen, "--flows", "4", "--laps", "0", "--fault", "mtu-blackhole:25", "--fault", "syn-unanswered:25",
                    "--fault", "rst-race:25", "--fault", "ecn-bleached:25", "--pcap", capture], check=True,
                   capture_output=True, timeout=120)
    header, records = pcap_records(capture)
    half = len(records) // 2

    redis = Redis(workdir, free_port())
    metrics_port = free_port()
    redis.start()
    problems = []
    procs = {}
    for name in SENSORS:
        config = os.path.join(workdir, name + ".toml")
        # s2's queue holds 16 lines: while the server is away its later findings overflow it.
        queue = 16 if name == "s2" else 65536
        with open(config, "w") as f:
            f.write(f'[sensor]\nname = "{name}"\n[output.redis]\nserver = "127.0.0.1:{redis.port}"\nkey = "findings"\n'
                    f'password = "{PASSWORD}"\nreconnect_ms = 100\nflush_timeout_s = 20\nqueue_events = {queue}\n')
        # s1 serves its metrics: the output's counters must show there while it runs.
        metrics = ["--metrics", f"127.0.0.1:{metrics_port}"] if name == "s1" else []
        procs[name] = subprocess.Popen([tcpsleuth, "analyze", "-", "--config", config, "--events",
                                        os.path.join(workdir, name + ".events.jsonl"), "--report", "none"] + metrics,
                                       stdin=subprocess.PIPE, stderr=open(os.path.join(workdir, name + ".log"), "wb"))
    try:
        for p in procs.values():
            p.stdin.write(header + b"".join(records[:half]))
            p.stdin.flush()
        # The first half's findings reach the server before it goes away.
        deadline = time.time() + 30
        while time.time() < deadline and int(redis.raw("XLEN", "findings").strip() or 0) < 2:
            time.sleep(0.1)
        before = int(redis.raw("XLEN", "findings").strip() or 0)
        if before < 2:
            problems.append(f"only {before} findings in the stream before the restart")
        scrape = ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
                scrape = r.read().decode()
        except OSError as e:
            problems.append(f"s1's metrics: {e}")
        delivered = re.search(r'^tcpsleuth_redis_lines_total\{result="delivered"\} (\d+)$', scrape, re.M)
        if "tcpsleuth_redis_connected 1" not in scrape or not delivered or int(delivered.group(1)) < 1:
            problems.append(f"s1's metrics do not show a connected output that delivered: {scrape[-600:]}")
        redis.stop()
        # The sensors go on finding while the server is away, then it comes back.
        feeders = []
        for p in procs.values():
            t = threading.Thread(target=lambda p=p: (p.stdin.write(b"".join(records[half:])), p.stdin.close()))
            t.start()
            feeders.append(t)
        time.sleep(1.0)
        redis.start()
        for t in feeders:
            t.join(timeout=60)
        logs = {}
        for name, p in procs.items():
            p.wait(timeout=120)
            logs[name] = open(os.path.join(workdir, name + ".log")).read()
            if p.returncode != 0:
                problems.append(f"{name}: analyze exited {p.returncode}: {logs[name][-400:]}")

        # A sensor with the wrong password delivers nothing, says why once, and counts every
        # finding dropped when its flush gives up.
        wrong = os.path.join(workdir, "wrong.toml")
        with open(wrong, "w") as f:
            f.write(f'[sensor]\nname = "s3"\n[output.redis]\nserver = "127.0.0.1:{redis.port}"\nkey = "findings"\n'
                    'password = "not-it"\nreconnect_ms = 100\nflush_timeout_s = 1\n')
        refused = subprocess.run([tcpsleuth, "analyze", capture, "--config", wrong, "--events", os.devnull, "--report", "none"],
                                 capture_output=True, text=True, timeout=120)
        m = re.search(r"redis: (\d+) queued, (\d+) delivered, (\d+) dropped", refused.stderr)
        if (refused.returncode != 0 or not m or m.group(2) != "0" or m.group(1) != m.group(3) or m.group(1) == "0"
                or refused.stderr.count("reconnecting every") != 1 or "authentication refused" not in refused.stderr):
            problems.append(f"wrong password: exit {refused.returncode}, {refused.stderr[-600:]}")

        # A consumer group reads everything back.
        redis.cli("XGROUP", "CREATE", "findings", "readers", "0")
        got = {name: {} for name in SENSORS}
        duplicates = {name: 0 for name in SENSORS}
        out = redis.raw("XREADGROUP", "GROUP", "readers", "reader-1", "COUNT", "100000", "STREAMS", "findings", ">")
        lines = out.splitlines()
        entries = [lines[i + 1] for i, v in enumerate(lines) if v == "event" and i + 1 < len(lines)]
        ids = [v for v in lines if re.fullmatch(r"\d+-\d+", v)]
        if ids:
            redis.cli("XACK", "findings", "readers", *ids)
        pending = redis.raw("XPENDING", "findings", "readers").splitlines()
        if not pending or pending[0].strip() != "0":
            problems.append(f"entries still pending after XACK: {pending[:1]}")
        for raw in entries:
            e = json.loads(raw)
            sensor, seq = e["sensor"], e["seq"]
            if seq in got[sensor]:
                duplicates[sensor] += 1
                if got[sensor][seq] != raw:
                    problems.append(f"{sensor} seq {seq} arrived twice with different contents")
            got[sensor][seq] = raw
        for name in SENSORS:
            m = re.search(r"redis: (\d+) queued, (\d+) delivered, (\d+) dropped, (\d+) refused, (\d+) resent, (\d+) connection",
                          logs.get(name, ""))
            if not m:
                problems.append(f"{name}: no redis counters in its log: {logs.get(name, '')[-300:]}")
                continue
            queued, delivered, dropped, refused, resent, connects = map(int, m.groups())
            written = open(os.path.join(workdir, name + ".events.jsonl")).read().splitlines()
            if queued != len(written):
                problems.append(f"{name}: {queued} queued for Redis but {len(written)} lines in the events file")
            if connects < 2:
                problems.append(f"{name}: connected {connects} time(s): the restart went unnoticed")
            if refused:
                problems.append(f"{name}: the server refused {refused} line(s)")
            if (dropped == 0) != (name == "s1"):
                problems.append(f"{name}: {dropped} dropped: expected none with a queue that holds everything (s1), "
                                "some with a 16-line queue while the server was away (s2)")
            if delivered + dropped != queued:
                problems.append(f"{name}: {delivered} delivered + {dropped} dropped != {queued} queued")
            missing = [seq for seq in range(1, queued + 1) if seq not in got[name]]
            if len(missing) > dropped:
                problems.append(f"{name}: {len(missing)} findings neither in the stream nor counted dropped "
                                f"({dropped}): seq {missing[:10]}")
            for seq, raw in got[name].items():
                # The same JSON as the file's line, after the sensor's name and its number.
                prefix = f'{{"sensor":"{name}","seq":{seq},'
                if not raw.startswith(prefix) or "{" + raw[len(prefix):] != written[seq - 1]:
                    problems.append(f"{name} seq {seq}: the stream's JSON differs from the events file's line {seq}")
                    break
            print(f"{name}: {queued} findings, {delivered} delivered, {dropped} dropped, {resent} resent, "
                  f"{connects} connections, {len(got[name])} in the stream ({duplicates[name]} sent twice)")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        if redis.proc and redis.proc.poll() is None:
            redis.stop()
    finish(problems, "redis fleet: every finding of both sensors in the stream or counted dropped, across a server restart")


if __name__ == "__main__":
    main()
