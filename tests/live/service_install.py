#!/usr/bin/env python3
"""What `meson install` lays out for a service, installed into a scratch DESTDIR: the two
programs, the systemd unit with this install's paths, its tmpfiles.d entry, the default
configuration, the three man pages and the bash completion. The unit must pass `systemd-analyze verify` (against the installed tree), the
tmpfiles entry must create its directories under that root (`systemd-tmpfiles --root`), and
the configuration must pass `tcpsleuth check-config`.

Usage: service_install.py BUILDDIR WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from outcome import finish  # noqa: E402


def main():
    build, workdir = sys.argv[1:3]
    dest = os.path.join(workdir, "root")
    shutil.rmtree(dest, ignore_errors=True)
    problems = []
    r = subprocess.run(["meson", "install", "-C", build, "--destdir", dest, "--no-rebuild", "--quiet"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL meson install:", r.stdout[-800:], r.stderr[-800:])
        sys.exit(1)
    prefix = subprocess.run(["meson", "introspect", build, "--buildoptions"], capture_output=True, text=True).stdout
    prefix = next(o["value"] for o in json.loads(prefix) if o["name"] == "prefix")
    root = dest + prefix
    sysconf = dest + ("/etc" if prefix == "/usr" else prefix + "/etc")
    want = {
        "bin/tcpsleuth": root + "/bin/tcpsleuth",
        "bin/tcpsleuthctl": root + "/bin/tcpsleuthctl",
        "unit": root + "/lib/systemd/system/tcpsleuth.service",
        "tmpfiles": root + "/lib/tmpfiles.d/tcpsleuth.conf",
        "config": sysconf + "/tcpsleuth/tcpsleuth.toml",
        "man tcpsleuth(8)": root + "/share/man/man8/tcpsleuth.8",
        "man tcpsleuthctl(8)": root + "/share/man/man8/tcpsleuthctl.8",
        "man tcpsleuth.toml(5)": root + "/share/man/man5/tcpsleuth.toml.5",
        "completion tcpsleuth": root + "/share/bash-completion/completions/tcpsleuth",
        "completion tcpsleuthctl": root + "/share/bash-completion/completions/tcpsleuthctl",
    }
    for what, path in want.items():
        if not os.path.isfile(path):
            problems.append(f"{what}: {path} not installed")
    if problems:
        for p in problems:
            print("FAIL", p)
        sys.exit(1)
    unit = open(want["unit"]).read()
    if "@BINDIR@" in unit or "@SYSCONFDIR@" in unit or f"ExecStart={prefix}/bin/tcpsleuth run --config " not in unit:
        problems.append("the unit's paths were not filled in:\n" + "\n".join(l for l in unit.splitlines() if "Exec" in l))
    if "Type=notify" not in unit or "WatchdogSec=" not in unit:
        problems.append("the unit is not Type=notify with a watchdog")
    # systemd-analyze verify checks that the unit's programs exist: a copy pointing into the
    # scratch tree is verified (the installed one names the final paths).
    local = os.path.join(workdir, "tcpsleuth.service")
    with open(local, "w") as f:
        f.write(unit.replace(f"{prefix}/bin/", f"{root}/bin/"))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", local], capture_output=True, text=True)
    complaints = [l for l in (r.stdout + r.stderr).splitlines() if "tcpsleuth.service" in l]
    if r.returncode != 0 or complaints:
        problems.append(f"systemd-analyze verify: {r.returncode}: {r.stdout[-600:]} {r.stderr[-600:]}")
    r = subprocess.run(["systemd-tmpfiles", f"--root={dest}", "--create", want["tmpfiles"]], capture_output=True, text=True)
    for d in ("/run/tcpsleuth", "/var/log/tcpsleuth", "/var/lib/tcpsleuth/evidence"):
        if not os.path.isdir(dest + d):
            problems.append(f"systemd-tmpfiles did not create {d} ({r.returncode}: {r.stderr[-300:]})")
    r = subprocess.run([want["bin/tcpsleuth"], "check-config", want["config"]], capture_output=True, text=True)
    if r.returncode != 0 or "valid: mode tap, 1 port(s)" not in r.stdout:
        problems.append(f"check-config on the installed configuration: {r.stdout} {r.stderr}")
    finish(problems, f"service install: {len(want)} files under {dest}")


if __name__ == "__main__":
    main()
