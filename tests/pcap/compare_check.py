#!/usr/bin/env python3
"""`tcpsleuth compare` on the public corpus, where the answer is known without a device:

  - every capture compared with itself: every TCP segment matched, nothing dropped, rewritten
    or injected, no warning (the false-alarm check on real traffic of every shape);
  - unrelated captures: no connection in common, so nothing judged (a warning on stderr, no
    findings), instead of reading every packet as dropped;
  - usage errors: a clear message and exit 1; an unreadable input: exit 2.

Usage: compare_check.py TCPSLEUTH PUBLIC_DIR"""
import json
import os
import subprocess
import sys


def compare(tcpsleuth, a, b, *extra):
    return subprocess.run([tcpsleuth, "compare", a, b, "--report", "-", "--report-format", "json", "--events", "/dev/stderr"]
                          + list(extra), capture_output=True, text=True, timeout=120)


def findings_of(stderr):
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def main():
    tcpsleuth, public = sys.argv[1], sys.argv[2]
    captures = sorted(os.path.join(public, f) for f in os.listdir(public) if ".pcap" in f)
    if len(captures) < 60:
        sys.exit(f"FAIL: only {len(captures)} captures in {public}")
    problems = []
    for path in captures:
        name = os.path.basename(path)
        proc = compare(tcpsleuth, path, path)
        if proc.returncode != 0:
            problems.append(f"{name}: self-compare exited {proc.returncode}: {proc.stderr.strip()[-200:]}")
            continue
        report = json.loads(proc.stdout)
        tcp = report["points"][0]["tcp_packets"] + report["points"][0]["icmp_errors"]
        matched = report["matched"]["packets"] + report["matched"]["icmp_errors"]
        # Identical frames pair up in order; only a capture past the 99 % would lose some.
        if matched < tcp * 0.99:
            problems.append(f"{name}: matched {matched} of {tcp} packets against itself")
        loud = [f for f in findings_of(proc.stderr) if f["severity"] != "info"]
        if loud:
            problems.append(f"{name}: self-compare reported {loud[0]['event']}/{loud[0]['evidence']['kind']}: "
                            f"{loud[0]['summary']}")
    pairs = [(captures[i], captures[i + 7]) for i in range(0, 40, 8)]
    for a, b in pairs:
        proc = compare(tcpsleuth, a, b)
        report = json.loads(proc.stdout) if proc.returncode == 0 else None
        if report is None or report["findings"] or report["matched"]["connections"] != 0 or "share no TCP" not in proc.stderr:
            problems.append(f"{os.path.basename(a)} vs {os.path.basename(b)}: unrelated captures must give no findings "
                            f"and say why (rc {proc.returncode}): {proc.stderr.strip()[-300:]}")
    usage = [(["compare", captures[0]], 1, "exactly two inputs"),
             (["compare", "-", "-"], 1, "only one of A and B"),
             (["compare", captures[0], captures[1], "--report-format", "xml"], 1, "text or json"),
             (["compare", captures[0], "/nonexistent/b.pcap"], 2, "/nonexistent/b.pcap"),
             (["compare", captures[0], captures[1], "--bogus"], 1, "unknown option")]
    for args, rc, words in usage:
        proc = subprocess.run([tcpsleuth] + args, capture_output=True, text=True, timeout=60)
        if proc.returncode != rc or words not in proc.stderr:
            problems.append(f"{' '.join(args[:2])}...: expected exit {rc} and '{words}', got {proc.returncode}: "
                            f"{proc.stderr.strip()[:200]}")
    for p in problems:
        print("FAIL", p)
    print(f"compare: {len(captures)} self-compares, {len(pairs)} unrelated pairs, {len(usage)} usage errors; "
          f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
