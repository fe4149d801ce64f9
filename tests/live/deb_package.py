#!/usr/bin/env python3
"""The Debian package: `dpkg-buildpackage -us -uc -b` on a copy of the source tree (the
build directories left out) must make tcpsleuth_VERSION_amd64.deb holding exactly the
installed layout (programs, default configuration as a conffile, systemd unit, tmpfiles
entry, man pages, bash completion, the demo and the dashboard) and nothing of the tests or
benchmarks, with the shared libraries it needs as dependencies. Installed with dpkg, its
demo runs (`tcpsleuth run --config /usr/share/tcpsleuth/demo.toml` finds the demo
capture's faults), its default configuration passes check-config, and a purge removes it
all again.

Usage (root): deb_package.py SOURCE_DIR WORKDIR"""
import glob
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from outcome import finish  # noqa: E402

EXPECTED = {
    "./usr/bin/tcpsleuth",
    "./usr/bin/tcpsleuthctl",
    "./etc/tcpsleuth/tcpsleuth.toml",
    "./usr/lib/systemd/system/tcpsleuth.service",
    "./usr/lib/tmpfiles.d/tcpsleuth.conf",
    "./usr/share/man/man8/tcpsleuth.8.gz",
    "./usr/share/man/man8/tcpsleuthctl.8.gz",
    "./usr/share/man/man5/tcpsleuth.toml.5.gz",
    "./usr/share/bash-completion/completions/tcpsleuth",
    "./usr/share/bash-completion/completions/tcpsleuthctl",
    "./usr/share/tcpsleuth/demo.toml",
    "./usr/share/tcpsleuth/demo.pcap",
    "./usr/share/tcpsleuth/grafana-dashboard.json",
    "./usr/share/doc/tcpsleuth/copyright",
    "./usr/share/doc/tcpsleuth/changelog.gz",
}
NEEDED_LIBS = ("librte-ethdev", "libhyperscan", "libtomlplusplus", "libspdlog", "libzstd", "dpdk")


def main():
    source, workdir = sys.argv[1:3]
    if os.geteuid() != 0:
        sys.exit("FAIL: needs root (dpkg -i)")
    for tool in ("dpkg-buildpackage", "dh"):
        if shutil.which(tool) is None:
            sys.exit(f"FAIL: {tool} is missing (scripts/install-deps installs dpkg-dev and debhelper)")
    shutil.rmtree(workdir, ignore_errors=True)
    src = os.path.join(workdir, "tcpsleuth")
    shutil.copytree(source, src, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "build", "build-*", "obj-*", "__pycache__", "*.deb"))
    env = dict(os.environ, DEB_BUILD_OPTIONS=f"nocheck parallel={os.cpu_count() or 2}")
    build = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, capture_output=True, text=True,
                           timeout=3000)
    if build.returncode != 0:
        sys.exit(f"FAIL: dpkg-buildpackage exited {build.returncode}:\n{(build.stdout + build.stderr)[-3000:]}")
    debs = glob.glob(os.path.join(workdir, "tcpsleuth_*_amd64.deb"))
    if len(debs) != 1:
        sys.exit(f"FAIL: expected one tcpsleuth_*_amd64.deb, found {debs}")
    deb = debs[0]
    problems = []

    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    files = {line.split()[-1] for line in listing.splitlines() if not line.startswith("d")}
    missing = sorted(EXPECTED - files)
    extra = sorted(f for f in files - EXPECTED)
    if missing:
        problems.append(f"missing from the package: {missing}")
    if extra:
        problems.append(f"in the package but not expected (tests, benchmarks, stray files?): {extra}")
    info = subprocess.run(["dpkg-deb", "-f", deb, "Depends", "Conffiles"], capture_output=True, text=True, check=True).stdout
    for lib in NEEDED_LIBS:
        if lib not in info:
            problems.append(f"Depends does not name {lib}: {info.strip()[:400]}")
    conffiles = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], capture_output=True, check=True).stdout
    if b"/etc/tcpsleuth/tcpsleuth.toml" not in conffiles:
        problems.append("/etc/tcpsleuth/tcpsleuth.toml is not a conffile")

    installed = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True)
    try:
        if installed.returncode != 0:
            problems.append(f"dpkg -i failed: {installed.stderr[-800:]}")
        else:
            run_dir = os.path.join(workdir, "demo")
            os.makedirs(run_dir)
            demo = subprocess.run(["/usr/bin/tcpsleuth", "run", "--config", "/usr/share/tcpsleuth/demo.toml"], cwd=run_dir,
                                  capture_output=True, text=True, timeout=120)
            events = os.path.join(run_dir, "tcpsleuth-demo-events.jsonl")
            found = [json.loads(line)["event"] for line in open(events)] if os.path.exists(events) else []
            if demo.returncode != 0 or not found:
                problems.append(f"the installed demo exited {demo.returncode} with {len(found)} findings: {demo.stderr[-600:]}")
            check = subprocess.run(["/usr/bin/tcpsleuth", "check-config", "/etc/tcpsleuth/tcpsleuth.toml"],
                                   capture_output=True, text=True, timeout=60)
            if check.returncode != 0:
                problems.append(f"check-config refuses the installed configuration: {check.stdout}{check.stderr}")
            print(f"installed demo: {len(found)} findings ({', '.join(sorted(set(found)))})")
    finally:
        shutil.rmtree("/var/run/dpdk/tcpsleuth-demo", ignore_errors=True)  # the demo's EAL runtime directory
        purge = subprocess.run(["dpkg", "--purge", "tcpsleuth"], capture_output=True, text=True)
        if purge.returncode != 0:
            problems.append(f"dpkg --purge failed: {purge.stderr[-400:]}")
        for f in ("/usr/bin/tcpsleuth", "/etc/tcpsleuth/tcpsleuth.toml", "/usr/share/tcpsleuth/demo.toml"):
            if os.path.exists(f):
                problems.append(f"{f} is still there after the purge")
    finish(problems, f"{os.path.basename(deb)}: {len(files)} files, installed, demo run, purged")


if __name__ == "__main__":
    main()
