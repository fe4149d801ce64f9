#!/usr/bin/env python3
"""The fuzz harnesses as tests.

  run_fuzzer.py replay SRCDIR NAME EXE [NAME EXE ...]
      Each harness without libFuzzer (standalone_main.cc) over its seed corpus
      (SRCDIR/seeds/NAME, which must not be empty) and every input that once crashed
      (SRCDIR/crashes/NAME). Any abort or sanitizer report fails.

  run_fuzzer.py summary DIR [DIR ...]
      The fuzzing so far, per target, from each DIR/history.jsonl, as README's table.

  run_fuzzer.py fuzz SRCDIR NAME EXE --seconds N --workdir DIR
      libFuzzer for N seconds from the seeds, with the target's dictionary. The growing
      corpus stays in DIR/NAME/corpus between runs; a crash fails the test, and its input
      is kept in DIR/NAME/artifacts (add it to SRCDIR/crashes/NAME with the fix). Every run's
      figures are appended to DIR/history.jsonl (README's fuzzing table sums them).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from outcome import finish  # noqa: E402

# Longest input libFuzzer makes per target: room for the layout each harness reads.
MAX_LEN = {"pipeline": 16384, "capture": 65536, "config": 8192, "control": 4096, "event_json": 512}
SANITIZERS = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:symbolize=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}


def files_in(d):
    return sorted(os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs) if os.path.isdir(d) else []


def replay(srcdir, pairs):
    problems = []
    total = 0
    for name, exe in pairs:
        seeds = os.path.join(srcdir, "seeds", name)
        crashes = os.path.join(srcdir, "crashes", name)
        if not files_in(seeds):
            problems.append(f"{name}: no seed inputs in {seeds}")
            continue
        args = [exe, seeds] + ([crashes] if files_in(crashes) else [])
        r = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **SANITIZERS}, timeout=600)
        m = re.search(r"(\d+) inputs replayed", r.stdout)
        if r.returncode != 0 or not m:
            tail = "\n".join(r.stderr.splitlines()[-30:])
            problems.append(f"{name}: exit {r.returncode} replaying {' '.join(args[1:])}\n{tail}")
            continue
        total += int(m.group(1))
        print(f"{name}: {m.group(1)} inputs replayed ({len(files_in(crashes))} once crashed)")
    finish(problems, f"{len(pairs)} harnesses, {total} inputs replayed")


def fuzz(srcdir, name, exe, seconds, workdir):
    problems = []
    base = os.path.join(workdir, name)
    corpus = os.path.join(base, "corpus")
    artifacts = os.path.join(base, "artifacts")
    os.makedirs(corpus, exist_ok=True)
    shutil.rmtree(artifacts, ignore_errors=True)
    os.makedirs(artifacts)
    seeds = os.path.join(srcdir, "seeds", name)
    if not files_in(seeds):
        finish([f"no seed inputs in {seeds}"], name)
    args = [exe, f"-max_total_time={seconds}", f"-artifact_prefix={artifacts}/", "-print_final_stats=1",
            "-timeout=20", "-rss_limit_mb=3072", f"-max_len={MAX_LEN.get(name, 4096)}"]
    dictionary = os.path.join(srcdir, "dict", name + ".dict")
    if os.path.exists(dictionary):
        args.append(f"-dict={dictionary}")
    args += [corpus, seeds]  # new inputs go to the first: the seeds stay as committed
    started = time.time()
    r = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **SANITIZERS},
                       timeout=seconds + 240)
    elapsed = time.time() - started
    out = r.stderr
    execs = int(m.group(1)) if (m := re.search(r"stat::number_of_executed_units:\s*(\d+)", out)) else 0
    cov = int(m[-1]) if (m := re.findall(r"\bcov: (\d+)", out)) else 0
    found = files_in(artifacts)
    if r.returncode != 0 or found:
        tail = "\n".join(out.splitlines()[-60:])
        problems.append(f"{name}: libFuzzer exit {r.returncode}; kept: {', '.join(found) or 'nothing'}\n{tail}")
    corpus_size = len(files_in(corpus))
    with open(os.path.join(workdir, "history.jsonl"), "a") as h:
        h.write(json.dumps({"target": name, "seconds": round(elapsed, 1), "execs": execs, "cov": cov,
                            "corpus": corpus_size, "crashes": len(found), "when": int(started)}) + "\n")
    rate = execs / elapsed if elapsed > 0 else 0
    finish(problems, f"{name}: {execs} executions in {elapsed:.0f} s ({rate:.0f}/s), coverage {cov}, "
                     f"corpus {corpus_size} + {len(files_in(seeds))} seeds")


def summary(dirs):
    totals = {}
    for d in dirs:
        path = os.path.join(d, "history.jsonl")
        if not os.path.exists(path):
            continue
        for line in open(path):
            r = json.loads(line)
            t = totals.setdefault(r["target"], {"runs": 0, "seconds": 0.0, "execs": 0, "crashes": 0, "cov": 0})
            t["runs"] += 1
            t["seconds"] += r["seconds"]
            t["execs"] += r["execs"]
            t["crashes"] += r["crashes"]
            t["cov"] = max(t["cov"], r["cov"])
    print("| target | runs | hours | executions | per second | coverage (max) | crashes |")
    print("|---|---|---|---|---|---|---|")
    for name in sorted(totals):
        t = totals[name]
        rate = t["execs"] / t["seconds"] if t["seconds"] else 0
        print(f"| `fuzz_{name}` | {t['runs']} | {t['seconds'] / 3600:.2f} | {t['execs']:,} | {rate:.0f} | {t['cov']} | {t['crashes']} |")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "summary":
        summary(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "replay":
        rest = sys.argv[3:]
        if not rest or len(rest) % 2:
            sys.exit("replay SRCDIR NAME EXE [NAME EXE ...]")
        replay(sys.argv[2], list(zip(rest[0::2], rest[1::2])))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["fuzz"])
    ap.add_argument("srcdir")
    ap.add_argument("name")
    ap.add_argument("exe")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    fuzz(a.srcdir, a.name, a.exe, a.seconds, a.workdir)


if __name__ == "__main__":
    main()
