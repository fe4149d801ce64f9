"""Headless Chromium for the tests that load a page tcpsleuth made (the HTML report, the
live page): its DOM after the page's own script ran, what it logged to the console, and the
requests it made, from Chromium's net log. The browser's own background requests (updates,
time, accounts) are told apart by host and are not the page's."""

import os
import re
import shutil
import subprocess

BROWSER_OWN = re.compile(r"^https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)/")


def chromium(*args):
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--enable-logging=stderr", "--v=0"]
    return subprocess.run(["timeout", "120", *base, *args], capture_output=True, text=True)


def browse(url, workdir, tag, wait_ms=0):
    """Loads `url` (letting its script run `wait_ms` of virtual time); returns
    (exit status, DOM, console lines, URLs requested that are not the browser's own)."""
    profile = os.path.join(workdir, "chromium-profile-" + tag)
    netlog = os.path.join(workdir, "netlog-" + tag + ".json")
    shutil.rmtree(profile, ignore_errors=True)
    more = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    r = chromium("--user-data-dir=" + profile, "--log-net-log=" + netlog, *more, "--dump-dom", url)
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    urls = set(re.findall(r'"url":"([^"]+)"', open(netlog).read())) if os.path.exists(netlog) else set()
    requested = {u for u in urls if not u.startswith(("data:", "about:", "chrome:")) and not BROWSER_OWN.match(u)}
    return r.returncode, r.stdout, console, requested


def screenshot(url, path, workdir, size="1100,2400", wait_ms=0):
    more = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    r = chromium("--user-data-dir=" + os.path.join(workdir, "chromium-profile-shot"), "--window-size=" + size, *more,
                 "--screenshot=" + path, url)
    return r.returncode == 0 and os.path.exists(path) and os.path.getsize(path) > 20000


def self_test(workdir, check):
    """The checks can fail: a page that fetches and a page with a script error are caught."""
    fetching = os.path.join(workdir, "fetching.html")
    open(fetching, "w").write('<html><body><img src="http://198.18.0.1/x.png"></body></html>')
    _, _, _, requested = browse("file://" + fetching, workdir, "fetching")
    check("http://198.18.0.1/x.png" in requested, f"the net log missed a page's request: {sorted(requested)}")
    broken = os.path.join(workdir, "broken.html")
    open(broken, "w").write("<html><body><script>no_such_function()</script></body></html>")
    _, _, console, _ = browse("file://" + broken, workdir, "broken")
    check(any("no_such_function" in line for line in console), "the console log missed a script error")
