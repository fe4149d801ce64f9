#!/usr/bin/env python3
"""README's detection table stays true: its matrix figures are what the shape matrix
(unit_tests --gtest_filter=Shapes.*) reports now, every lab scenario it names exists,
every generator episode it names is a fault kind, and its public-capture findings are
the ones tests/pcap/run_public.py lists as checked by hand (false alarms: zero, which the
public-corpus test enforces).

Usage: readme_matrix.py UNIT_TESTS WORKDIR"""
import os
import re
import subprocess
import sys
from collections import Counter

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "pcap"))
sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
import run_public  # noqa: E402 - the hand-checked public findings, listed once
from gen_check import FAULTS  # noqa: E402 - the generator's fault kinds and their events


def matrix(unit_tests, work):
    """{event: (fired, fire, quiet, silent)} from a fresh run of the shape matrix."""
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "shapes.txt")
    proc = subprocess.run([unit_tests, "--gtest_filter=Shapes.*"], env={**os.environ, "TCPSLEUTH_SHAPES_SUMMARY": out},
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"FAIL: the shape matrix itself fails:\n{proc.stdout[-3000:]}")
    result = {}
    for line in open(out):
        m = re.match(r"(\S+) fires (\d+)/(\d+) quiet (\d+)/(\d+)", line)
        if m:
            result[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    return result


def readme_rows():
    text = open(os.path.join(ROOT, "README.md")).read()
    start = text.index("### Detection matrix")
    rows = {}
    for line in text[start:].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
        elif rows and not line.startswith("|"):
            break
    return rows


def main():
    got = matrix(sys.argv[1], sys.argv[2])
    rows = readme_rows()
    problems = []
    if len(rows) < 20:
        problems.append(f"README's detection table has {len(rows)} rows")
    public = Counter()
    for findings in run_public.KNOWN_FINDINGS.values():
        public.update(findings)
    lab_src = open(os.path.join(ROOT, "tests", "lab", "lab.py")).read()
    for event, (_, fires, quiet, lab, gen, checked, false_alarms) in rows.items():
        if event in got:
            fired, fire, quiet_ok, silent = got[event]
            want_fires = f"{fired} / {fire}"
            want_quiet = f"{quiet_ok} / {silent}" if silent else "—"
            if fires != want_fires or quiet != want_quiet:
                problems.append(f"{event}: README says {fires} and {quiet}, the matrix gives {want_fires} and {want_quiet}")
        elif fires != "—" or quiet != "—":
            problems.append(f"{event}: README gives matrix figures, but the matrix does not test it")
        for name in re.findall(r"[a-z0-9_]+", lab.replace("quiet", "")):
            if f"\ndef {name}(" not in lab_src:
                problems.append(f"{event}: lab scenario {name} does not exist")
        for kind in re.findall(r"[a-z0-9-]+", gen):
            if kind not in FAULTS:
                problems.append(f"{event}: generator episode {kind} does not exist")
            elif event not in FAULTS[kind]:
                problems.append(f"{event}: generator episode {kind} does not raise it")
        if checked != str(public.get(event, 0)):
            problems.append(f"{event}: README says {checked} checked public findings, run_public.py lists {public.get(event, 0)}")
        if false_alarms != "0":
            problems.append(f"{event}: README claims {false_alarms} false alarms; the public-corpus test allows none")
    for event in got:
        if event not in rows:
            problems.append(f"{event}: in the matrix but not in README's table")
    if problems:
        print("FAIL:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"ok: README's detection table matches the matrix ({len(got)} events), the lab, the generator "
          "and the public findings")


if __name__ == "__main__":
    main()
