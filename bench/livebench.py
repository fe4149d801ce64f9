"""Shared by the live benchmarks: a hugepage reservation that is always given back, and a
process whose cumulative packet counters are sampled until it is stopped with SIGINT."""

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HP = Path("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")


class Hugepages:
    """Reserves 2 MB pages and a hugetlbfs mount for the run, and restores both."""

    def __init__(self, pages, work):
        self.pages, self.work = pages, work
        self.before = int(HP.read_text())
        self.mount = None
        self.dir = None

    def __enter__(self):
        HP.write_text(str(max(self.pages, self.before)))
        got = int(HP.read_text())
        if got < self.pages:
            HP.write_text(str(self.before))
            sys.exit(f"could reserve only {got} of {self.pages} 2 MB hugepages (memory fragmented or too small)")
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, where, fstype, opts = line.split()[:4]
            if fstype == "hugetlbfs" and "pagesize=1G" not in opts:
                self.dir = where
                break
        if self.dir is None:
            self.mount = Path(self.work) / "huge"
            self.mount.mkdir()
            subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", str(self.mount)], check=True)
            self.dir = str(self.mount)
        return self

    def __exit__(self, *exc):
        if self.mount is not None:
            subprocess.run(["umount", str(self.mount)], check=False)
        HP.write_text(str(self.before))


class Sampler:
    """Runs a command, timestamps each cumulative RX count it prints, stops it with SIGINT."""

    def __init__(self, cmd, parse, log):
        self.samples = []  # (monotonic seconds, packets)
        self.log = open(log, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        self.parse = parse
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        state = {}
        for line in self.proc.stdout:
            self.log.write(line)
            n = self.parse(line, state)
            if n is not None:
                self.samples.append((time.monotonic(), n))

    def measure(self, seconds, warmup_timeout=300):
        deadline = time.monotonic() + warmup_timeout
        while not any(n > 0 for _, n in self.samples):  # the capture is loaded and flowing
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("never started forwarding")
            time.sleep(0.2)
        time.sleep(seconds + 4.5)  # warm-up, the window, and one more report (testpmd prints about every 2 s)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise RuntimeError("did not stop on SIGINT")
        self.thread.join(timeout=10)
        self.log.close()  # flushed: callers read the log next
        live = [(t, n) for t, n in self.samples if n > 0]
        live = [(t, n) for t, n in live if t >= live[0][0] + 2]  # two seconds of warm-up
        if len(live) < 2 or live[-1][0] - live[0][0] < seconds / 2:
            raise RuntimeError(f"only {len(live)} counter samples in the window")
        (t0, n0), (t1, n1) = live[0], live[-1]
        return (n1 - n0) / (t1 - t0)
