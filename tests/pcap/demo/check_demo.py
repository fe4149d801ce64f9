#!/usr/bin/env python3
"""The committed demo capture is what make_demo.py makes today, and tcpsleuth finds exactly
the two problems the script puts in it (and nothing in the healthy connections)."""
import argparse
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--tcpsleuth", required=True)
ap.add_argument("--workdir", required=True)
a = ap.parse_args()
os.makedirs(a.workdir, exist_ok=True)
fresh = os.path.join(a.workdir, "demo.pcap")
subprocess.run([sys.executable, os.path.join(here, "make_demo.py"), fresh], check=True)
with open(fresh, "rb") as f1, open(os.path.join(here, "demo.pcap"), "rb") as f2:
    if f1.read() != f2.read():
        sys.exit("FAIL: tests/pcap/demo/demo.pcap is stale: regenerate it with make_demo.py")

proc = subprocess.run([a.tcpsleuth, "analyze", fresh, "--report", "/dev/null"], capture_output=True, text=True,
                      check=True)
events = [json.loads(line) for line in proc.stdout.splitlines()]
got = sorted((e["event"], e["flow"]["server"], e["flow"]["server_port"]) for e in events)
want = sorted([("handshake.syn_unanswered", "198.18.2.9", 443), ("window.zero_stall", "198.18.2.5", 5432)])
if got != want:
    sys.exit(f"FAIL: demo events {got}, expected {want}")
zw = next(e for e in events if e["event"] == "window.zero_stall")
if zw["evidence"]["probes"] != 4 or abs(zw["evidence"]["duration_s"] - 4.0) > 1e-6:
    sys.exit(f"FAIL: zero-window evidence {zw['evidence']}")
print("ok: demo capture current; its two problems found, nothing else")
