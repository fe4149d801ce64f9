#!/usr/bin/env python3
"""Every control command against a running daemon: `tcpsleuth run` on a net_pcap port fed
through a FIFO (so a subscriber can be in place before the packets come), then
`tcpsleuth analyze --control --hold` on the same capture. Also: concurrent clients,
malformed and oversized requests, a client leaving mid-stream, socket permissions, reload
with a valid, an invalid and a structural change, SIGHUP, tcpsleuthctl's tables and exit codes.

Usage: daemon.py TCPSLEUTH TCPSLEUTHCTL WORKDIR DEMO.pcap"""
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from capture_files import pcap_frames, pcapng_packets, tcp_of  # noqa: E402
from sensor_config import remove_runtime_dirs_at_exit, write_sensor_config  # noqa: E402

FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILED.append(what)
    return cond


class Ctl:
    def __init__(self, binary, sock):
        self.binary, self.sock = binary, sock

    def run(self, *args, user=None, timeout=30):
        cmd = [self.binary, "--socket", self.sock, *args]
        if user:
            cmd = ["setpriv", "--reuid", str(user), "--regid", str(user), "--clear-groups", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def json(self, *args):
        p = self.run("--json", *args)
        if p.returncode != 0:
            raise RuntimeError(f"tcpsleuthctl {' '.join(args)} exited {p.returncode}: {p.stderr}")
        return json.loads(p.stdout)


def raw(sock_path, payload, read_lines=1, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(payload)
    data = b""
    while data.count(b"\n") < read_lines:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return [json.loads(line) for line in data.decode().splitlines()]


def wait_for(pred, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        try:
            if pred():
                return True
        except (OSError, RuntimeError, ValueError):
            pass
        time.sleep(0.1)
    check(False, what + f" (within {seconds} s)")
    return False


def check_pcap(ctl, mode, flow, demo, work):
    """tcpsleuthctl pcap: the flow's packets from the history, as the capture has them (the
    first 128 bytes of each, the original length kept)."""
    out = os.path.join(work, f"flow-{flow['id']}-{mode}.pcapng")
    r = ctl.run("pcap", str(flow["id"]), "-o", out)
    if not check(r.returncode == 0 and os.path.exists(out), f"{mode}: pcap {flow['id']} writes a file ({r.stderr.strip()})"):
        return
    ends = {(ipaddress.ip_address(flow["client"]).packed, flow["client_port"]),
            (ipaddress.ip_address(flow["server"]).packed, flow["server_port"])}
    expected = [(f[:128], wire) for f, wire in pcap_frames(demo) if (t := tcp_of(f)) and {t[0:2], t[2:4]} == ends]
    got = [(frame, wire) for frame, wire, _ in pcapng_packets(out)]
    check(len(expected) > 0 and got == expected,
          f"{mode}: pcap {flow['id']} holds the flow's {len(expected)} packets, first 128 bytes each (got {len(got)})")
    t = subprocess.run(["tshark", "-r", out], capture_output=True, text=True)
    check(t.returncode == 0 and len(t.stdout.splitlines()) == len(got), f"{mode}: tshark reads the flow's pcapng")
    check(f"{len(got)} packets of flow {flow['id']}" in r.stderr, f"{mode}: pcap says what it wrote")
    none = ctl.run("pcap", "99999", "-o", out + ".none")
    check(none.returncode == 1 and "no flow 99999" in none.stderr and not os.path.exists(out + ".none"),
          f"{mode}: pcap of an unknown flow is an error, no file")


def common_commands(ctl, sock, mode, packets, demo, work):
    """What both modes answer alike, once every packet has been read."""
    st = ctl.json("stats")
    check(st["mode"] == mode, f"{mode}: stats says mode {mode}")
    check(st["counters"]["rx.packets"] == packets, f"{mode}: stats counts {packets} packets (got {st['counters']['rx.packets']})")
    check(st["events"]["by_kind"] == {"handshake.syn_unanswered": 1, "window.zero_stall": 1},
          f"{mode}: events by kind {st['events']['by_kind']}")
    table = ctl.run("stats").stdout
    check("flows_active" in table and "rx.packets" in table and "window.zero_stall" in table, f"{mode}: stats table")

    fl = ctl.json("flows", "--limit", "100")
    active = sum(w["flows_active"] for w in st["workers"])
    check(fl["matched"] == active and len(fl["flows"]) == active, f"{mode}: flows lists the {active} active flows")
    check(all(fl["flows"][i]["last_seen"] >= fl["flows"][i + 1]["last_seen"] for i in range(len(fl["flows"]) - 1)),
          f"{mode}: flows sorted by last_seen")
    by_id = ctl.json("flows", "--sort", "id", "--limit", "2")
    check(len(by_id["flows"]) == min(2, active) and by_id["matched"] == active, f"{mode}: --limit and --sort id")
    if fl["flows"]:
        f = fl["flows"][0]
        one = ctl.json("flows", "--addr", f["client"], "--port", str(f["client_port"]))
        check(any(x["id"] == f["id"] for x in one["flows"]), f"{mode}: flows --addr/--port finds flow {f['id']}")
        ex = ctl.json("flow", str(f["id"]))
        check(ex["flow"]["id"] == f["id"] and ex["client"]["address"] == f["client"] and "mss" in ex["server"]
              and ex["explanation"], f"{mode}: flow {f['id']} explained in both directions")
        text = ctl.run("flow", str(f["id"])).stdout
        check(text.startswith(f"flow {f['id']}") and "retransmissions" in text, f"{mode}: flow table")
        check_pcap(ctl, mode, f, demo, work)
    none = ctl.run("flow", "99999")
    check(none.returncode == 1 and "no flow 99999" in none.stderr, f"{mode}: an unknown flow is an error reply, exit 1")

    ev = ctl.json("events")
    check([e["event"] for e in ev["events"]] == ["handshake.syn_unanswered", "window.zero_stall"], f"{mode}: events")
    only = ctl.json("events", "--kind", "window.zero_stall")
    check(len(only["events"]) == 1 and only["events"][0]["flow"]["server_port"] == 5432, f"{mode}: events --kind")
    check(ctl.json("events", "--severity", "critical")["events"] == [], f"{mode}: events --severity critical is empty")

    metrics = ctl.run("metrics").stdout
    check(f'tcpsleuth_rx_packets_total{{worker="0"}} {packets}\n' in metrics and
          'tcpsleuth_events_total{kind="window.zero_stall"} 1\n' in metrics and "# TYPE tcpsleuth_rx_packets_total counter" in metrics,
          f"{mode}: metrics in Prometheus text format")
    helps = ctl.json("help")
    check({c["cmd"] for c in helps} >= {"stats", "flows", "flow", "pcap", "events", "subscribe", "config.show", "reload", "metrics", "shutdown"},
          f"{mode}: help lists the commands")
    check(ctl.json("version")["protocol"] == 1 and ctl.json("uptime")["uptime_s"] >= 0, f"{mode}: version and uptime")
    check(ctl.json("hello")["mode"] == mode, f"{mode}: hello")

    # Bad requests get error replies and the daemon goes on.
    replies = raw(sock, b'not json\n{"cmd":"nope"}\n{"cmd":"stats","args":{"bogus":1}}\n{"cmd":"version"}\n', 4)
    check([r["ok"] for r in replies] == [False, False, False, True] and "malformed JSON" in replies[0]["error"] and
          "unknown command" in replies[1]["error"] and "unknown argument" in replies[2]["error"],
          f"{mode}: malformed, unknown and bad-argument requests get errors, the next request an answer")
    big = raw(sock, b"x" * 70000, 1)
    check(big and big[0]["ok"] is False and "request longer than 65536 bytes" in big[0]["error"], f"{mode}: oversized request refused")

    # Many clients at once.
    results = []

    def client():
        for _ in range(10):
            results.append(raw(sock, b'{"cmd":"stats"}\n')[0]["ok"])
    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(results.count(True) == 160, f"{mode}: 16 concurrent clients x 10 requests all answered ({results.count(True)})")

    # A subscriber leaving mid-stream costs nothing.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(b'{"cmd":"subscribe"}\n')
    s.recv(4096)
    s.close()
    check(ctl.json("version")["protocol"] == 1, f"{mode}: answers after a subscriber left")

    cfg = ctl.run("config")
    check(cfg.returncode == 0 and "[flows]" in cfg.stdout and "[idle.profiles]" in cfg.stdout, f"{mode}: config shows TOML")


def write_config(path, sock, fifo, events, extra=""):
    write_sensor_config(path, devices=[f"net_pcap0,rx_pcap={fifo}"], events=events, prefix=f"tsctl{os.getpid()}",
                        socket=sock, control_extra="mode = 0o600", report="", capacity=65536, extra=extra)


def live(binary, ctl_binary, work, demo):
    sock, fifo = os.path.join(work, "run.sock"), os.path.join(work, "feed.pcap")
    conf, events = os.path.join(work, "run.toml"), os.path.join(work, "run-events.jsonl")
    for p in (sock, fifo):
        if os.path.exists(p):
            os.unlink(p)
    os.mkfifo(fifo)
    write_config(conf, sock, fifo, events)
    ctl = Ctl(ctl_binary, sock)
    daemon = subprocess.Popen([binary, "run", "--config", conf], stderr=subprocess.PIPE, text=True)
    pcap = open(demo, "rb").read()
    feed = open(fifo, "wb")  # rendezvous with net_pcap opening it
    feed.write(pcap[:24])
    feed.flush()
    try:
        if not wait_for(lambda: os.path.exists(sock) and ctl.json("version"), 30, "live: control socket up"):
            return
        check(oct(os.stat(sock).st_mode & 0o777) == "0o600", "live: socket created with control.mode 0o600")
        denied = ctl.run("version", user=65534)  # nobody
        check(denied.returncode == 2 and "Permission denied" in denied.stderr and sock in denied.stderr,
              "live: a user without permission is refused by the OS (exit 2, path named)")
        sub = subprocess.Popen([ctl_binary, "--socket", sock, "subscribe"], stdout=subprocess.PIPE, text=True)
        follow = subprocess.Popen([ctl_binary, "--socket", sock, "events", "-f", "--kind", "window.zero_stall"],
                                  stdout=subprocess.PIPE, text=True)
        if not wait_for(lambda: ctl.json("stats")["control"]["subscribers"] == 2, 10, "live: two subscribers in place"):
            return
        feed.write(pcap[24:])
        feed.close()
        feed = None
        streamed = [json.loads(sub.stdout.readline()), json.loads(sub.stdout.readline())]
        check([e["event"] for e in streamed] == ["handshake.syn_unanswered", "window.zero_stall"],
              "live: subscribe streams the events as they happen")
        header = follow.stdout.readline()
        line = follow.stdout.readline()
        check(header.startswith("time") and "window.zero_stall" in line and "syn_unanswered" not in line,
              "live: events -f follows, filtered by kind")
        sub.kill()
        follow.kill()
        wait_for(lambda: ctl.json("stats")["counters"]["rx.packets"] == 610, 30, "live: all 610 packets read")
        common_commands(ctl, sock, "tap", 610, demo, work)

        # reload: a live change, a broken file, a structural change, SIGHUP.
        write_config(conf, sock, fifo, events, "[mtu]\nmin_retransmissions = 5\n")
        r = ctl.run("reload")
        check(r.returncode == 0 and "mtu.min_retransmissions" in r.stdout and "5" in r.stdout, "live: reload applies a threshold")
        check("min_retransmissions = 5" in ctl.run("config").stdout, "live: config shows the reloaded value")
        with open(conf, "a") as f:
            f.write("[mtu]\nbogus = 1\n")
        r = ctl.run("reload")
        check(r.returncode == 1 and "run.toml:" in r.stderr and "problem(s), nothing changed" in r.stderr,
              "live: reload of a broken file is refused with file:line:col")
        write_config(conf, sock, fifo, events, "[mtu]\nmin_retransmissions = 5\n[logging]\nlevel = \"debug\"\n")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("capacity = 65536", "capacity = 131072").replace("[workers]\ncount = 1\n", "[workers]\ncount = 2\n"))
        r = ctl.run("reload")
        check(r.returncode == 1 and "flows.capacity: 65536 -> 131072 needs a restart" in r.stderr and
              "workers.count: 1 -> 2 needs a restart" in r.stderr, "live: a structural change is refused")
        check("min_retransmissions = 5" in ctl.run("config").stdout and 'level = "info"' in ctl.run("config").stdout,
              "live: a refused reload changes nothing")
        write_config(conf, sock, fifo, events, "[mtu]\nmin_retransmissions = 7\n")
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "min_retransmissions = 7" in ctl.run("config").stdout, 10, "live: SIGHUP reloads")
        check(ctl.json("stats")["control"]["reloads"] == 2, "live: two reloads applied, counted")

        r = ctl.run("shutdown")
        check(r.returncode == 0 and "stopping" in r.stdout, "live: shutdown acknowledged")
        rc = daemon.wait(timeout=60)
        err = daemon.stderr.read()
        check(rc == 0 and "== final counters" in err,
              f"live: exits 0 after shutdown with the final counters (rc {rc})")
        check(not os.path.exists(sock), "live: socket removed at exit")
        gone = ctl.run("stats")
        check(gone.returncode == 2 and "cannot connect to " + sock in gone.stderr, "live: tcpsleuthctl exit 2 when nobody listens")
        with open(events) as f:
            check(len(f.read().splitlines()) == 2, "live: the events file has both events")
    finally:
        if feed:
            feed.close()
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def analyze(binary, ctl_binary, work, demo):
    sock = os.path.join(work, "analyze.sock")
    events = os.path.join(work, "analyze-events.jsonl")
    ctl = Ctl(ctl_binary, sock)
    proc = subprocess.Popen([binary, "analyze", demo, "--control", sock, "--hold", "--events", events, "--report", "none"],
                            stderr=subprocess.PIPE, text=True, cwd=work)
    try:
        if not wait_for(lambda: ctl.json("stats")["progress"]["done"], 30, "analyze: holding after the file"):
            return
        st = ctl.json("stats")
        check(st["progress"]["percent"] == 100.0 and st["progress"]["file_bytes"] == os.path.getsize(demo),
              "analyze: progress says the whole file was read")
        common_commands(ctl, sock, "analyze", 610, demo, work)
        r = ctl.run("reload")
        check(r.returncode == 1 and "started without a configuration file" in r.stderr, "analyze: reload without --config")
        ctl.run("shutdown")
        rc = proc.wait(timeout=30)
        check(rc == 0, f"analyze: exits 0 after shutdown (rc {rc})")
        with open(events) as f:
            check(len(f.read().splitlines()) == 2, "analyze: the events file has both events")
        check(not os.path.exists(os.path.join(work, "none")), "analyze: --report none writes no report (no file 'none')")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    remove_runtime_dirs_at_exit(f"tsctl{os.getpid()}")
    binary, ctl_binary, work, demo = (os.path.abspath(a) for a in sys.argv[1:5])
    os.makedirs(work, exist_ok=True)
    live(binary, ctl_binary, work, demo)
    analyze(binary, ctl_binary, work, demo)
    print(f"control daemon: {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
