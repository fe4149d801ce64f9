#!/usr/bin/env python3
"""The Prometheus endpoint of `tcpsleuth run` ([metrics] listen), scraped by a real
Prometheus server (Debian's `prometheus`).

tcpsleuth runs as a tap on a net_pcap port replaying the demo capture, with no control
socket (the endpoint must serve on its own). Checked:
- GET /metrics answers 200 with the text exposition, which `promtool check metrics`
  accepts, holding the port's received packets as many as the capture has;
- HEAD /metrics, GET /other (404), POST (405) and a garbage request (400) are answered, and
  a client that connects and sends nothing does not stop a scrape meanwhile;
- Prometheus, scraping every second, reports the target up and
  tcpsleuth_port_rx_packets_total equal to the capture's packets through its query API;
- every series the Grafana dashboard (packaging/grafana-dashboard.json) queries is in the
  exposition (the impairment ones: in live-impair's), and Prometheus accepts every one of
  its queries.

Usage: metrics_live.py TCPSLEUTH WORKDIR CAPTURE DASHBOARD"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from http_client import free_port, get  # noqa: E402
from outcome import finish  # noqa: E402
from capture_files import pcap_frames  # noqa: E402
from sensor_config import remove_runtime_dirs_at_exit, stop_sensor, write_sensor_config  # noqa: E402



def raw(port, request):
    """Sends `request` bytes, returns the whole answer (the server closes after one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def analyze_metrics(tcpsleuth, capture, packets):
    """`analyze --metrics ADDR:PORT --hold`: the same exposition, from the analysed capture,
    served until SIGINT; a bad address is refused before anything is read."""
    problems = []
    bad = subprocess.run([tcpsleuth, "analyze", capture, "--metrics", "localhost:9580"], capture_output=True, text=True)
    if bad.returncode != 1 or "is not an IPv4 address" not in bad.stderr:
        problems.append(f"analyze --metrics localhost:9580: exit {bad.returncode}, {bad.stderr.strip()[:200]}")
    port = free_port()
    proc = subprocess.Popen([tcpsleuth, "analyze", capture, "--metrics", f"127.0.0.1:{port}", "--hold", "--events", os.devnull,
                             "--report", "none"], stderr=subprocess.PIPE, text=True)
    try:
        want = f'tcpsleuth_rx_packets_total{{worker="0"}} {packets}'
        deadline, text = time.time() + 60, ""
        while time.time() < deadline and proc.poll() is None:
            try:
                _, _, text = get(f"http://127.0.0.1:{port}/metrics")
                if want in text:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if want not in text or 'mode="analyze"' not in text:
            problems.append(f"analyze --metrics: no `{want}` (mode analyze) in the scrape:\n{text[:600]}")
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        if check.returncode != 0:
            problems.append(f"promtool check metrics (analyze): {check.stdout} {check.stderr}")
    finally:
        stop_sensor(proc, problems)
    return problems


def main():
    tcpsleuth, workdir, capture, dashboard = sys.argv[1:5]
    queries = [t["expr"] for p in json.load(open(dashboard))["panels"] for t in p["targets"]]
    series = {m for q in queries for m in re.findall(r"tcpsleuth_[a-z_]+", q)}
    os.makedirs(workdir, exist_ok=True)
    remove_runtime_dirs_at_exit("tsl-metrics*")
    packets = len(pcap_frames(capture))
    port, prom_port = free_port(), free_port()
    config = os.path.join(workdir, "run.toml")
    write_sensor_config(config, devices=[f"net_pcap0,rx_pcap={os.path.abspath(capture)}"],
                        events=os.path.join(workdir, "events.jsonl"), prefix="tsl-metrics",
                        extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    problems = []
    proc = subprocess.Popen([tcpsleuth, "run", "--config", config], stderr=subprocess.PIPE, text=True)
    prom = None
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline, text = time.time() + 60, ""
        want = f'tcpsleuth_port_rx_packets_total{{port="net_pcap0"}} {packets}'
        while time.time() < deadline and proc.poll() is None:
            try:
                status, headers, text = get(url)
                if want in text:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if want not in text:
            problems.append(f"no `{want}` in the scrape:\n{text[:800]}")
        else:
            if not headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"):
                problems.append(f"content type {headers.get('Content-Type')}")
            absent = sorted(m for m in series if not m.startswith("tcpsleuth_impair_") and f"\n# TYPE {m} " not in text)
            if absent or len(series) < 10:
                problems.append(f"the dashboard queries series the exposition lacks: {absent}")
            check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            if check.returncode != 0:
                problems.append(f"promtool check metrics: {check.stdout} {check.stderr}")
        # A client that says nothing holds a slot, not the server.
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        head = raw(port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200 ") or not head.endswith(b"\r\n\r\n") or b"Content-Length: 0\r\n" in head:
            problems.append(f"HEAD: {head[:200]}")
        for request, status in ((b"GET /other HTTP/1.1\r\n\r\n", 404), (b"POST /metrics HTTP/1.1\r\n\r\n", 405),
                                (b"hello\r\n\r\n", 400)):
            answer = raw(port, request)
            if not answer.startswith(f"HTTP/1.1 {status} ".encode()):
                problems.append(f"{request[:20]!r} answered {answer[:60]!r}, want {status}")
        idle.close()

        # Prometheus itself, scraping every second.
        prom_dir = os.path.join(workdir, "prometheus")
        os.makedirs(prom_dir, exist_ok=True)
        with open(os.path.join(prom_dir, "prometheus.yml"), "w") as f:
            f.write(f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tcpsleuth\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
        prom = subprocess.Popen(["prometheus", f"--config.file={prom_dir}/prometheus.yml", f"--storage.tsdb.path={prom_dir}/data",
                                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(prom_dir, "log"), "w"))
        query = f"http://127.0.0.1:{prom_port}/api/v1/query?query="
        got_up = got_packets = None
        deadline = time.time() + 60
        while time.time() < deadline and (got_up != "1" or got_packets != str(packets)):
            time.sleep(1)
            try:
                for expr in ('up{job="tcpsleuth"}', 'tcpsleuth_port_rx_packets_total{job="tcpsleuth"}'):
                    _, _, body = get(query + urllib.parse.quote(expr))
                    result = json.loads(body)["data"]["result"]
                    value = result[0]["value"][1] if result else None
                    if expr.startswith("up"):
                        got_up = value
                    else:
                        got_packets = value
            except (OSError, ValueError, KeyError):
                pass
        if got_up != "1" or got_packets != str(packets):
            problems.append(f"Prometheus: up = {got_up}, tcpsleuth_port_rx_packets_total = {got_packets}, want 1 and {packets}")
        for q in queries:
            status, _, body = get(query + urllib.parse.quote(q))
            if status != 200 or json.loads(body).get("status") != "success":
                problems.append(f"Prometheus refuses the dashboard's query {q}: {body[:200]}")
        _, _, scraped = get(url)
        if "tcpsleuth_metrics_scrapes_total" not in scraped:
            problems.append("no tcpsleuth_metrics_scrapes_total")
    finally:
        if prom is not None:
            prom.terminate()
            try:
                prom.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prom.kill()
        stop_sensor(proc, problems)
    problems += analyze_metrics(tcpsleuth, capture, packets)
    finish(problems, f"metrics live: {packets} packets replayed")


if __name__ == "__main__":
    main()
