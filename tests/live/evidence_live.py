#!/usr/bin/env python3
"""run's evidence captures (output.evidence_dir), replaying a capture through net_pcap:

  - every finding at warning or above names a pcapng that exists and holds only its flow's
    packets, among them (cut to the packet history's snap length) every packet analyze
    --evidence-dir puts in its capture of the same finding: the packets from before the
    verdict come from the history;
  - output.evidence_max_files keeps the newest captures and removes the oldest;
  - output.evidence_dir without a packet history is a configuration error at its line.

Usage: evidence_live.py TCPSLEUTH WORKDIR CAPTURE"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from outcome import finish  # noqa: E402
from capture_files import pcapng_packets, tcp_of  # noqa: E402
from sensor_config import remove_runtime_dirs_at_exit, write_sensor_config  # noqa: E402

SNAP = 128  # [history] snap_bytes default


def live(binary, capture, workdir, name, output_extra, history=""):
    events = os.path.join(workdir, name + ".jsonl")
    config = os.path.join(workdir, name + ".toml")
    write_sensor_config(config, devices=[f"net_pcap0,rx_pcap={os.path.abspath(capture)}"], events=events,
                        prefix="tsl-evlive", output_extra="exit_when_idle_s = 1\n" + output_extra, capacity=65536,
                        extra=history)
    proc = subprocess.run([binary, "run", "--config", config], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"tcpsleuth run exited {proc.returncode}: {proc.stderr[-600:]}")
    return [json.loads(line) for line in open(events).read().splitlines()], proc.stderr


def endpoints(event):
    import ipaddress
    f = event["flow"]
    a = (ipaddress.ip_address(f["client"]).packed, f["client_port"])
    b = (ipaddress.ip_address(f["server"]).packed, f["server_port"])
    return {a, b}


def main():
    binary, workdir, capture = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    remove_runtime_dirs_at_exit("tsl-evlive*")
    problems = []

    offline = os.path.join(workdir, "offline")
    shutil.rmtree(offline, ignore_errors=True)
    proc = subprocess.run([binary, "analyze", capture, "--evidence-dir", offline, "--no-report"], capture_output=True,
                          text=True, timeout=120, check=True)
    by_finding = {(e["event"], e["flow"]["client_port"]): e["evidence_pcap"] for e in map(json.loads, proc.stdout.splitlines())
                  if "evidence_pcap" in e}

    evdir = os.path.join(workdir, "live")
    shutil.rmtree(evdir, ignore_errors=True)
    events, _ = live(binary, capture, workdir, "live", f'evidence_dir = "{evdir}"\nevidence_follow_s = 1')
    loud = [e for e in events if e["severity"] != "info" and e.get("flow")]
    if not loud or len(loud) != len(by_finding):
        problems.append(f"{len(loud)} live findings at warning or above, analyze had {len(by_finding)}")
    for e in loud:
        path = e.get("evidence_pcap")
        if not path or not os.path.exists(path):
            problems.append(f"{e['event']}: no evidence capture ({path})")
            continue
        packets = pcapng_packets(path)
        flow = endpoints(e)
        strangers = [i for i, (frame, _, _) in enumerate(packets)
                     if (t := tcp_of(frame)) is None or {(t[0], t[1]), (t[2], t[3])} != flow]
        if strangers:
            problems.append(f"{e['event']}: {len(strangers)} packets of another flow in {os.path.basename(path)}")
        if not any("finding was reported" in c for _, _, c in packets):
            problems.append(f"{e['event']}: no packet marked as the one the finding was reported at")
        offline_path = by_finding.get((e["event"], e["flow"]["client_port"]))
        if offline_path is None:
            problems.append(f"{e['event']}: analyze has no capture for this finding")
            continue
        live_frames = [frame for frame, _, _ in packets]
        for frame, _, _ in pcapng_packets(offline_path):
            if frame[:SNAP] not in live_frames:
                problems.append(f"{e['event']}: a packet of analyze's capture is missing live (the history's packets "
                                "before the verdict)")
                break

    bounded = os.path.join(workdir, "bounded")
    shutil.rmtree(bounded, ignore_errors=True)
    events, log = live(binary, capture, workdir, "bounded", f'evidence_dir = "{bounded}"\nevidence_follow_s = 0\n'
                                                             "evidence_max_files = 1")
    named = sorted(e["evidence_pcap"] for e in events if "evidence_pcap" in e)
    left = sorted(os.path.join(bounded, f) for f in os.listdir(bounded))
    if len(named) < 2 or left != named[-1:]:
        problems.append(f"evidence_max_files = 1 must keep only the newest of {named}, left {left}")
    if "1 removed" not in log and f"{len(named) - 1} removed" not in log:
        problems.append("the removal is not counted in the log")

    bad = os.path.join(workdir, "bad.toml")
    with open(bad, "w") as f:
        f.write('[output]\nevidence_dir = "/tmp/x"\n[history]\npackets = 0\n')
    proc = subprocess.run([binary, "check-config", bad], capture_output=True, text=True, timeout=30)
    if proc.returncode == 0 or f"{bad}:2:" not in proc.stderr or "output.evidence_dir" not in proc.stderr:
        problems.append(f"evidence_dir without a history must be refused at its line: {proc.stderr.strip()}")

    finish(problems, f"live evidence: {len(loud)} findings checked")


if __name__ == "__main__":
    main()
