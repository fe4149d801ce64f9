#!/usr/bin/env python3
"""The man pages and the bash completion against what the programs say of themselves:
- each page renders with `groff -man -ww` without a warning;
- tcpsleuth.toml(5) describes every key of config/tcpsleuth.example.toml (which a unit test
  checks names every key the loader knows), tcpsleuth(8) carries every command's usage and
  tcpsleuthctl(8) every command of `tcpsleuthctl --help`;
- the completion offers every command of both programs and every option each command's
  --help lists.

Usage: docs_check.py TCPSLEUTH TCPSLEUTHCTL EXAMPLE COMPLETION PAGE..."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from outcome import finish  # noqa: E402


def help_text(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    return r.stdout or r.stderr


def complete(script, line):
    """What bash offers for the last word of `line` (the completion functions run as bash
    runs them: COMP_WORDS and COMP_CWORD set)."""
    words = line.split(" ")
    program = "_" + words[0].replace("-", "_")
    array = " ".join(f"'{w}'" for w in words)
    cmd = f"source '{script}'; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; {program}; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    return set(subprocess.run(["bash", "-c", cmd], capture_output=True, text=True).stdout.split())


def main():
    tcpsleuth, tcpsleuthctl, example, completion = sys.argv[1:5]
    pages = {p.rsplit("/", 1)[-1]: open(p).read() for p in sys.argv[5:]}
    problems = []
    for name in pages:
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", [p for p in sys.argv[5:] if p.endswith(name)][0]],
                           capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            problems.append(f"{name}: groff: {r.stderr.strip()[:300]}")
    keys = {m.group(1) for line in open(example) for m in [re.match(r"^#?\s*([a-z_][a-z0-9_]*)\s*=", line.strip())] if m}
    missing = sorted(k for k in keys if f"\\fB{k.replace('-', chr(92) + '-')}\\fR" not in pages["tcpsleuth.toml.5"])
    if missing or len(keys) < 100:
        problems.append(f"tcpsleuth.toml.5 lacks {missing[:10]} ({len(keys)} keys in the example)")
    top = help_text([tcpsleuth, "--help"])
    commands = re.findall(r"^  ([a-z][a-z-]+)", top.split("commands:")[1], re.M)
    for cmd in commands:
        if cmd != "version" and f"usage: tcpsleuth {cmd}".replace("-", "\\-") not in pages["tcpsleuth.8"]:
            problems.append(f"tcpsleuth.8 lacks the usage of {cmd}")
    offered = complete(completion, "tcpsleuth ")
    if set(commands) - offered:
        problems.append(f"completion: tcpsleuth commands {sorted(set(commands) - offered)} not offered")
    for cmd in ("run", "analyze", "compare", "probe"):
        options = set(re.findall(r"^\s+(?:-[a-z], )?(--[a-z-]+)", help_text([tcpsleuth, cmd, "--help"]), re.M))
        offered = complete(completion, f"tcpsleuth {cmd} --")
        if not options or options - offered:
            problems.append(f"completion: tcpsleuth {cmd} options {sorted(options - offered)} not offered")
    ctl_help = help_text([tcpsleuthctl, "--help"])
    ctl_commands = set(re.findall(r"^  ([a-z][a-z.]+)", ctl_help.split("commands:")[1].split("options:")[0], re.M))
    ctl_commands |= set(re.search(r"^  (version \| .*)$", ctl_help, re.M).group(1).replace("|", " ").split())
    for cmd in ctl_commands:
        if cmd not in pages["tcpsleuthctl.8"]:
            problems.append(f"tcpsleuthctl.8 lacks {cmd}")
    offered = complete(completion, "tcpsleuthctl ")
    if ctl_commands - offered:
        problems.append(f"completion: tcpsleuthctl commands {sorted(ctl_commands - offered)} not offered")
    flows_options = set(re.findall(r"--[a-z]+", re.search(r"flows \[filters\].*\n(.*\n.*\n)", ctl_help).group(1)))
    if flows_options - complete(completion, "tcpsleuthctl flows --"):
        problems.append(f"completion: tcpsleuthctl flows options {sorted(flows_options)} not all offered")
    if complete(completion, "tcpsleuthctl --json impair ") != {"list", "enable", "disable"}:
        problems.append("completion: tcpsleuthctl impair's subcommands")
    # The dashboard in the repository is what scripts/make-dashboard writes.
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    fresh = subprocess.run([sys.executable, f"{root}/scripts/make-dashboard", "/dev/stdout"], capture_output=True, text=True).stdout
    if fresh != open(f"{root}/packaging/grafana-dashboard.json").read():
        problems.append("packaging/grafana-dashboard.json differs from what scripts/make-dashboard writes")
    finish(problems, f"docs: {len(pages)} pages, {len(keys)} keys, {len(commands)} + {len(ctl_commands)} commands")


if __name__ == "__main__":
    main()
