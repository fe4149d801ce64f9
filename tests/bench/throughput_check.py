#!/usr/bin/env python3
"""The throughput search and the generator's transmit path, on veths in namespaces (root).

1. Known answer: bench/rfc2544 against a Linux bridge whose output is held by a tbf to a
   byte rate. The answer in frames per second follows from the byte rate and the mean frame
   size of the generator's traffic, measured here from a capture of the same traffic; the
   search must land within 5% of it, on a trial that lost nothing, with a lossy trial no
   more than 6% above it.
2. tcpsleuth inline as the device: a short search where every trial that lost nothing was
   forwarded in full by tcpsleuth (rx = tx = the generator's sent count) and clean traffic
   raised no event.
3. Faults on the wire: tcpsleuth-gen transmits healthy traffic with one episode of each
   fault (but the 400 s idle one) on net_af_packet; tcpsleuth in tap mode must report
   exactly each fault's events, as analyze does on the generator's pcap (tests/gen), and
   nothing on the healthy flows.

Usage: throughput_check.py BUILDDIR WORKDIR"""
import importlib.machinery
import importlib.util
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "gen"))
sys.path.insert(0, str(ROOT / "tests" / "support"))
from sensor_config import remove_runtime_dirs_at_exit, write_sensor_config  # noqa: E402
from gen_check import FAULTS, recognise_episodes  # noqa: E402 - expectations written once, in the gen test

RFC2544 = ROOT / "bench" / "rfc2544"
loader = importlib.machinery.SourceFileLoader("rfc2544", str(RFC2544))
spec = importlib.util.spec_from_loader("rfc2544", loader)
rfc2544 = importlib.util.module_from_spec(spec)
loader.exec_module(rfc2544)

LIMIT_PPS = 20000
TBF_FRAME = 70  # bench/rfc2544 sizes its tbf as LIMIT_PPS frames of 70 bytes


def mean_frame_bytes(work):
    cap = os.path.join(work, "mean.pcap")
    subprocess.run([str(rfc2544.GEN), "--flows", "1000", "--rounds", "8", "--sizes", "64", "--pcap", cap],
                   check=True, capture_output=True)
    total = n = 0
    with open(cap, "rb") as f:
        f.read(24)
        while rec := f.read(16):
            incl = struct.unpack("<IIII", rec)[2]
            f.seek(incl, 1)
            total += incl
            n += 1
    return total / n


def search(work, *args):
    out = os.path.join(work, "search.json")
    r = subprocess.run([sys.executable, str(RFC2544), *args, "--build", str(rfc2544.TCPSLEUTH.parent.parent), "--json", out], capture_output=True, text=True, timeout=300)
    print(r.stdout[-6000:], end="")
    if r.returncode != 0:
        return None, [f"bench/rfc2544 {' '.join(args)} failed ({r.returncode}): {r.stderr[-800:]}"]
    return json.load(open(out)), []


def known_answer(work):
    result, problems = search(work, "--dut", "bridge", "--limit-pps", str(LIMIT_PPS), "--trial-seconds", "2")
    if result is None:
        return problems
    expected = LIMIT_PPS * TBF_FRAME / mean_frame_bytes(work)
    got = result["throughput_pps"]
    print(f"known answer: {expected:,.0f} pps expected (tbf at {LIMIT_PPS} x {TBF_FRAME} bytes), {got:,} found")
    if abs(got - expected) > 0.05 * expected:
        problems.append(f"throughput {got} pps, expected {expected:.0f} +- 5%")
    d = result["deciding_trial"]
    if not d or d["lost"] != 0 or d["sent"] != d["received"]:
        problems.append(f"deciding trial {d} is not loss-free")
    if result["limited_by"] != "device under test":
        problems.append(f"limited by {result['limited_by']}")
    if result.get("lowest_lossy_pps", 10**9) > 1.06 * expected:
        problems.append(f"no lossy trial within 6% above the answer (lowest lossy {result.get('lowest_lossy_pps')})")
    return problems


def tcpsleuth_inline(work):
    result, problems = search(work, "--dut", "tcpsleuth", "--trial-seconds", "1", "--max-trials", "3")
    if result is None:
        return problems
    for t in result["trials"]:
        dut = t["dut"]
        # Everything arrives on port 0 and leaves on port 1.
        if t["lost"] == 0 and not dut["rx_packets"] == dut["tx_packets"] == t["sent"]:
            problems.append(f"trial at {t['target_pps']}: sent {t['sent']}, tcpsleuth rx {dut['rx_packets']} tx {dut['tx_packets']}")
        if dut["events"] != 0:
            problems.append(f"trial at {t['target_pps']}: {dut['events']} events on clean traffic: "
                            f"{ {k: v for k, v in dut.items() if k.startswith('event:') and v} }")
    if not result["trials"]:
        problems.append("no trial ran")
    return problems


def faults_on_the_wire(work):
    problems = []
    events = os.path.join(work, "live.events.jsonl")
    with rfc2544.Topology(1) as topo:
        config = os.path.join(work, "live.toml")
        write_sensor_config(config, devices=["net_af_packet0,iface=d0"], events=events, prefix=f"tsl-gen-live{os.getpid()}",
                            mbufs=8191)
        log = open(os.path.join(work, "live.log"), "w")
        sensor = topo.spawn("d", str(rfc2544.TCPSLEUTH), "run", "--config", config, stdout=subprocess.DEVNULL, stderr=log)
        time.sleep(3)
        faults = [a for f in FAULTS if f != "idle-timeout" for a in ("--fault", f)]
        r = topo.run("g", str(rfc2544.GEN), "--flows", "300", "--rounds", "6", "--sizes", "imix", "--ecn", "30",
                     "--rate", "20000", "--duration", "28", *faults, "--tx", "net_af_packet0,iface=g0", "--json",
                     "--eal", f"--no-huge -m 256 --no-pci --no-shconf --file-prefix tsl-gen-tx{os.getpid()}", check=False)
        time.sleep(1)
        sensor.send_signal(signal.SIGINT)
        try:
            sensor.wait(timeout=60)
        except subprocess.TimeoutExpired:
            sensor.kill()
            problems.append("tcpsleuth did not stop on SIGINT")
        if r.returncode != 0:
            return problems + [f"generator failed: {r.stderr[-600:]}"]
        g = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"faults on the wire: sent {g['sent']} frames ({g['fault_frames']} in fault episodes) at {g['offered_pps']:.0f} pps")
    got, more = recognise_episodes(events, {f: 1 for f in FAULTS if f != "idle-timeout"})
    problems += more
    print(f"faults on the wire: {dict(got)}")
    return problems


def main():
    remove_runtime_dirs_at_exit(f"tsl-gen-live{os.getpid()}", f"tsl-gen-tx{os.getpid()}")
    rfc2544.use_build(sys.argv[1])
    work = sys.argv[2]
    os.makedirs(work, exist_ok=True)
    failures = []
    for name, check in (("known-answer", known_answer), ("tcpsleuth-inline", tcpsleuth_inline),
                        ("faults-on-the-wire", faults_on_the_wire)):
        with tempfile.TemporaryDirectory(dir=work) as d:
            try:
                problems = check(d)
            except Exception as e:  # a broken harness is a failure, not a crash of the test
                problems = [f"{type(e).__name__}: {e}"]
        print(f"{name}: {'ok' if not problems else 'FAIL'}")
        failures += [f"{name}: {p}" for p in problems]
    for f in failures:
        print("FAIL", f)
    failed = len({f.split(":")[0] for f in failures})
    print(f"{3 - failed} passed, {failed} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
