#!/usr/bin/env python3
"""`tcpsleuth run` that cannot start says what failed, the likely cause and what to try,
exits non-zero, and never hangs. Each case: the configuration, the exit status, and words
the message must contain.

Usage: startup_errors.py TCPSLEUTH WORKDIR DEMO_PCAP"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sensor_config import remove_runtime_dirs_at_exit  # noqa: E402

BASE = '"--no-huge", "-m", "256", "--no-pci", "--no-shconf"'


def cases(demo):
    pcap_port = f'[[ports]]\ndevice = "net_pcap0,rx_pcap={demo}"\n'
    return [
        ("missing af_packet interface",
         f'[dpdk]\neal_args = [{BASE}]\n[[ports]]\ndevice = "net_af_packet0,iface=tsnoif0"\n',
         2, ['port 1 ("net_af_packet0,iface=tsnoif0") did not come up', "ip link show"]),
        ("missing capture file",
         f'[dpdk]\neal_args = [{BASE}]\n[[ports]]\ndevice = "net_pcap0,rx_pcap=/nonexistent/x.pcap"\n',
         2, ["did not come up", "rx_pcap"]),
        ("bad EAL argument",
         f'[dpdk]\neal_args = [{BASE}, "--no-such-eal-flag"]\n' + pcap_port,
         2, ["DPDK EAL failed to start", "--no-such-eal-flag", "[dpdk] eal_args"]),
        ("too little memory for the packet buffers",
         '[dpdk]\neal_args = ["--no-huge", "-m", "64", "--no-pci", "--no-shconf"]\nmbufs_per_port = 262143\n' + pcap_port,
         2, ["cannot allocate 262143 packet buffers", "-m MB", "dpdk.mbufs_per_port"]),
        ("too few lcores for the workers",
         f'[dpdk]\neal_args = [{BASE}, "-l", "0"]\n[workers]\ncount = 2\n' + pcap_port,
         2, ["need 4 lcores, EAL has 1", "workers.count"]),
        ("RSS demanded from a port without it",
         f'[dpdk]\neal_args = [{BASE}]\n[workers]\ncount = 2\ndistribution = "rss"\n' + pcap_port,
         2, ['workers.distribution = "rss"', "software"]),
        ("control socket in a place it cannot be created",
         f'[dpdk]\neal_args = [{BASE}]\n[control]\nsocket = "/proc/tcpsleuth/ctl.sock"\n' + pcap_port,
         1, ["/proc/tcpsleuth: cannot create the control socket's directory"]),
        ("control socket owned by a group that does not exist",
         f'[dpdk]\neal_args = [{BASE}]\n[control]\nsocket = "/tmp/tcpsleuth-nogroup.sock"\ngroup = "no-such-group-ts"\n' + pcap_port,
         1, ['control.group: no group named "no-such-group-ts"']),
        ("no ports",
         f'[dpdk]\neal_args = [{BASE}]\n',
         1, ["no [[ports]]"]),
        ("configuration errors, all of them",
         'mode = "bridge"\n[workers]\ncount = 99\n' + pcap_port,
         1, [':1:8: mode: must be one of "tap", "inline", not "bridge"', ":3:9: workers.count: must be from 1 to 64, not 99",
             "2 problem(s)", "nothing started"]),
    ]


def main():
    remove_runtime_dirs_at_exit(f"tsstart{os.getpid()}x*")
    binary, workdir, demo = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
    os.makedirs(workdir, exist_ok=True)
    failed = 0
    for i, (name, toml, want_rc, words) in enumerate(cases(demo)):
        path = os.path.join(workdir, f"startup{i}.toml")
        with open(path, "w") as f:
            f.write(toml.replace("[dpdk]\neal_args = [", f'[dpdk]\neal_args = ["--file-prefix", "tsstart{os.getpid()}x{i}", '))
        problems = []
        try:
            proc = subprocess.run([binary, "run", "--config", path], capture_output=True, text=True, timeout=60)
            if proc.returncode != want_rc:
                problems.append(f"exit status {proc.returncode}, expected {want_rc}")
            for w in words:
                if w not in proc.stderr:
                    problems.append(f"message lacks {w!r}")
            if problems:
                problems.append("stderr: " + proc.stderr.strip()[-700:])
        except subprocess.TimeoutExpired:
            problems.append("hung for 60 s")
        print(f"{'ok  ' if not problems else 'FAIL'} {name}")
        for p in problems:
            print("     " + p)
        failed += bool(problems)
    print(f"startup errors: {len(cases(demo)) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
