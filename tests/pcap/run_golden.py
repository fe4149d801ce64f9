#!/usr/bin/env python3
"""Golden test for one case directory: make the capture with the case's own script, run
`tcpsleuth analyze` on it twice, and check
  - both runs print byte-identical events (determinism);
  - every line of expected.jsonl matches exactly one event (the expected line lists the
    fields that matter; each must be equal, numbers to 1e-6) and no other event appears;
  - the JSON report contains what expected_report.json lists.
Expected files are written by hand from the case script's comments, never by tcpsleuth.
"""
import argparse
import json
import os
import subprocess
import sys


def subset(expected, actual, path="$"):
    """Returns a list of mismatch descriptions (empty when `expected` is within `actual`)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        out = []
        for k, v in expected.items():
            if k not in actual:
                out.append(f"{path}.{k}: missing")
            else:
                out += subset(v, actual[k], f"{path}.{k}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            out += subset(e, a, f"{path}[{i}]")
        return out
    if isinstance(expected, float) or isinstance(actual, float):
        if not isinstance(actual, (int, float)) or isinstance(actual, bool) or abs(expected - actual) > 1e-6:
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return []
    if expected != actual or type(expected) != type(actual):
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def run(binary, pcap, workdir, tag):
    events = os.path.join(workdir, f"events.{tag}.jsonl")
    report = os.path.join(workdir, f"report.{tag}.json")
    proc = subprocess.run([binary, "analyze", pcap, "--events", events, "--report", report,
                           "--report-format", "json"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        sys.exit(f"FAIL: tcpsleuth exited {proc.returncode}: {proc.stderr.strip()}")
    with open(events, "rb") as f:
        raw = f.read()
    with open(report) as f:
        return raw, json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcpsleuth", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--format", default="pcap")
    a = ap.parse_args()

    name = os.path.basename(os.path.normpath(a.case))
    workdir = os.path.join(a.workdir, f"{name}.{a.format}")
    os.makedirs(workdir, exist_ok=True)
    pcap = os.path.join(workdir, "input")
    subprocess.run([sys.executable, os.path.join(a.case, "make_pcap.py"), pcap, a.format], check=True)

    raw1, report = run(a.tcpsleuth, pcap, workdir, "1")
    raw2, _ = run(a.tcpsleuth, pcap, workdir, "2")
    problems = []
    if raw1 != raw2:
        problems.append("two runs on the same file printed different events")

    actual = [json.loads(line) for line in raw1.decode().splitlines() if line.strip()]
    with open(os.path.join(a.case, "expected.jsonl")) as f:
        expected = [json.loads(line) for line in f if line.strip()]
    unmatched = list(range(len(actual)))
    for n, exp in enumerate(expected, 1):
        hit = next((i for i in unmatched if not subset(exp, actual[i])), None)
        if hit is None:
            near = [subset(exp, actual[i]) for i in unmatched if actual[i].get("event") == exp.get("event")]
            problems.append(f"expected event {n} ({exp.get('event')}) not found"
                            + (f"; closest differs: {near[0]}" if near else ""))
        else:
            unmatched.remove(hit)
    for i in unmatched:
        problems.append(f"unexpected event: {actual[i]['event']} {actual[i].get('summary', '')}")

    rep_path = os.path.join(a.case, "expected_report.json")
    if os.path.exists(rep_path):
        with open(rep_path) as f:
            problems += ["report " + p for p in subset(json.load(f), report)]

    for key in ("summary", "advice"):  # every event explains itself
        for ev in actual:
            if not ev.get(key):
                problems.append(f"event {ev['event']} has an empty {key}")

    if problems:
        print(f"FAIL {name} ({a.format}):")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"ok {name} ({a.format}): {len(actual)} events as expected")


if __name__ == "__main__":
    main()
