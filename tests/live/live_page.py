#!/usr/bin/env python3
"""The live page `tcpsleuth run` serves on its metrics listener ([metrics] listen), in a real
browser. tcpsleuth runs as a tap on a net_pcap port replaying the demo capture (faults
included); once every packet is in:

- GET / is one HTML document with its style and script inline, naming nothing outside;
- its API answers the read-only commands with the control socket's replies (the flows the
  socket lists, the events it holds) and refuses the others (shutdown, reload, a bogus
  argument) with an error reply while the sensor goes on;
- headless Chromium loads /#flow=ID: after its script ran, the DOM holds every finding the
  sensor keeps, the flows table as the API lists it, and the chosen flow's explanation and
  plot; the page logged nothing to the console and requested nothing but its own API (the
  same checks catch a page that fetches elsewhere and one with a script error);
- `tcpsleuthctl flow ID --plot FILE` writes the same flow's plot, well-formed SVG.

Usage: live_page.py TCPSLEUTH TCPSLEUTHCTL WORKDIR CAPTURE"""
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from http_client import free_port, get  # noqa: E402
import browser  # noqa: E402
from capture_files import pcap_frames  # noqa: E402
from outcome import finish  # noqa: E402
from sensor_config import ctl, remove_runtime_dirs_at_exit, stop_sensor, write_sensor_config  # noqa: E402



def api(base, path):
    return json.loads(get(base + path)[2])


def main():
    tcpsleuth, tcpsleuthctl, workdir, capture = sys.argv[1:5]
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    remove_runtime_dirs_at_exit("tsl-page*")
    packets = len(pcap_frames(capture))
    port = free_port()
    sock = os.path.join(workdir, "ctl.sock")
    config = os.path.join(workdir, "run.toml")
    write_sensor_config(config, devices=[f"net_pcap0,rx_pcap={os.path.abspath(capture)}"],
                        events=os.path.join(workdir, "events.jsonl"), prefix="tsl-page", socket=sock,
                        extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    problems = []
    check = lambda ok, what: ok or problems.append(what)  # noqa: E731
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([tcpsleuth, "run", "--config", config], stderr=subprocess.PIPE, text=True)
    try:
        deadline, received = time.time() + 60, 0
        while time.time() < deadline and proc.poll() is None and received < packets:
            try:
                received = sum(w["packets"] for w in api(base, "/api/stats")["data"]["workers"])
            except OSError:
                pass
            time.sleep(0.2)
        check(received == packets, f"the sensor took {received} of {packets} packets")

        status, headers, page = get(base + "/")
        ctype = headers.get("Content-Type", "")
        check(status == 200 and ctype.startswith("text/html"), f"GET /: {status} {ctype}")
        check("<script>" in page and "src=" not in page and "<link" not in page and "http://" not in page
              and "https://" not in page, "the page names something outside itself")

        flows = api(base, "/api/flows?limit=100")["data"]
        via_socket = json.loads(ctl(tcpsleuthctl, sock, "--json", "flows", "--limit", "100").stdout)
        check([f["id"] for f in flows["flows"]] == [f["id"] for f in via_socket["flows"]],
              "the page's flows differ from the control socket's")
        events = api(base, "/api/events?limit=200")["data"]["events"]
        held = json.loads(ctl(tcpsleuthctl, sock, "--json", "events", "--limit", "200").stdout)["events"]
        check(len(events) >= 1 and events == held, f"the page's {len(events)} findings differ from the socket's {len(held)}")
        for path, wanted in (("/api/shutdown", "the page's API answers"), ("/api/reload", "the page's API answers"),
                             ("/api/flows?bogus=1", "unknown argument"), ("/api/flow?id=999999", "no flow 999999"),
                             ("/api/flows?port=%zz", "not %-encoded")):
            reply = api(base, path)
            check(reply.get("ok") is False and wanted in reply.get("error", ""), f"{path}: {reply}")
        check(proc.poll() is None, "the sensor stopped after the refused requests")

        # The flow the page opens: one with a finding, so its plot has something to show.
        chosen = next((e["flow"]["id"] for e in events if e.get("flow")), flows["flows"][0]["id"])
        plot = api(base, f"/api/plot?id={chosen}")["data"]
        check(plot["packets"] > 0 and plot["svg"].startswith("<svg"), f"/api/plot: {str(plot)[:200]}")
        svg_file = os.path.join(workdir, "flow.svg")
        r = ctl(tcpsleuthctl, sock, "flow", str(chosen), "--plot", svg_file)
        check(r.returncode == 0, f"tcpsleuthctl flow --plot: {r.stderr}")
        try:
            check(ET.parse(svg_file).getroot().tag.endswith("svg"), "tcpsleuthctl's plot is not an SVG")
        except (ET.ParseError, OSError) as err:
            check(False, f"tcpsleuthctl's plot: {err}")

        if check(shutil.which("chromium") is not None, "chromium is not installed (scripts/install-deps installs it)"):
            browser.self_test(workdir, check)
            url = f"{base}/#flow={chosen}"
            status, dom, console, requested = browser.browse(url, workdir, "live", wait_ms=8000)
            check(status == 0, f"chromium exit {status}")
            check(not console, f"the page logged to the console: {console[:2]}")
            own = {u for u in requested if u.startswith(base + "/")}
            check(requested == own, f"the page requested {sorted(requested - own)}")
            check(any("/api/plot" in u for u in own), f"the page never asked for the plot: {sorted(own)[:5]}")
            shown_findings, shown_flows = dom.count('<tr class="finding'), dom.count('<tr class="flow"')
            check(shown_findings == len(events), f"the DOM shows {shown_findings} findings, the sensor holds {len(events)}")
            check(shown_flows == len(flows["flows"]), f"the DOM shows {shown_flows} flows, the API lists {len(flows['flows'])}")
            check(f"flow {chosen}: " in dom and "<svg" in dom, "the chosen flow's explanation and plot are not shown")
            check('id="error"></p>' in dom, "the page shows an update error")
            check(browser.screenshot(url, os.path.join(workdir, "live.png"), workdir, size="1200,2000", wait_ms=8000),
                  "no screenshot of the live page")
    finally:
        stop_sensor(proc, problems)
    finish(problems, f"live page: {packets} packets, flow {locals().get('chosen')} drawn")


if __name__ == "__main__":
    main()
