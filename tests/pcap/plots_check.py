#!/usr/bin/env python3
"""Plots and the HTML report (analyze --plots, --report-format html), end to end, on generated
traffic with every fault episode the generator makes (IPv4 and IPv6, bare and in VXLAN):

  - every finding at warning or above names a plot (plot) that exists, no info finding does;
  - each plot is well-formed SVG with no script, link or URL of its own;
  - a plot's ringed packets are exactly the finding's evidence packets;
  - the picture carries the finding's quantity: a zero-window stall's shaded span and
    bracket last its duration; an idle drop's bracket lasts the gap; an MTU black hole's
    size band ends one byte below the lost packet's size;
  - two runs give byte-identical plots;
  - the HTML page shows every finding with its advice, the warnings with their plot and a
    link to an evidence capture that exists; it has no script and fetches nothing;
  - a real browser (headless Chromium) loads the page: every finding and plot is in its
    DOM, no console message, no request leaves the machine (checked against a page that
    does make one, and one with a script error, so the checks can fail), and a screenshot
    is taken;
  - the golden cases' plots equal the reviewed SVGs in tests/pcap/cases/CASE/plots
    (--update-golden rewrites them; look at them before committing).

usage: plots_check.py TCPSLEUTH TCPSLEUTH_GEN WORKDIR CASES_DIR [--update-golden]
"""

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import browser  # noqa: E402
from evidence_check import TRAFFIC  # noqa: E402 - the same fault episodes as the evidence captures

GOLDEN_CASES = ["syn_unanswered", "zero_window", "vlan_ipv6"]
SVG = "{http://www.w3.org/2000/svg}"

failures = []


def check(ok, what):
    if not ok:
        print("FAIL  " + what)
        failures.append(what)
    return ok


def analyze(tcpsleuth, inputs, out, *more):
    events = out + ".events"
    p = subprocess.run([tcpsleuth, "analyze", *inputs, "--events", events, "--no-progress", "-q", *more],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"{out}: analyze exit {p.returncode}: {p.stderr[-400:]}")
    return [json.loads(line) for line in open(events)] if os.path.exists(events) else []


def elements(root, cls):
    return [el for el in root.iter() if el.get("class") == cls]


def check_svg(path, what):
    """Parses the plot; returns its root (None when it is not well-formed SVG)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        check(False, f"{what}: {path} is not well-formed XML: {err}")
        return None
    check(root.tag == SVG + "svg", f"{what}: root element {root.tag}")
    for el in root.iter():
        check(el.tag not in (SVG + "script", SVG + "image", SVG + "foreignObject", SVG + "a"),
              f"{what}: a {el.tag} element in the plot")
        for k, v in el.attrib.items():
            check("href" not in k and "http" not in v and "url(" not in v.replace("url(#", ""),
                  f"{what}: attribute {k}={v!r} reaches outside the plot")
    return root


def check_quantity(e, root, what):
    ev = e["evidence"]
    spans = [(float(g.get("data-t0")), float(g.get("data-t1"))) for g in elements(root, "finding-span")]
    if e["event"] == "window.zero_stall" and not ev.get("ongoing"):
        zero = [(float(r.get("data-t0")), float(r.get("data-t1"))) for r in elements(root, "zero-window")]
        want = ev["duration_s"]
        check(any(abs((t1 - t0) - want) <= 1e-3 for t0, t1 in zero),
              f"{what}: no zero-window span of {want} s among {zero}")
        check(any(abs((t1 - t0) - want) <= 1e-3 for t0, t1 in spans), f"{what}: no {want} s bracket among {spans}")
    elif e["event"] == "idle.timeout_drop":
        want = ev["gap_s"]
        check(any(abs((t1 - t0) - want) <= max(0.01 * want, 1e-3) for t0, t1 in spans),
              f"{what}: no {want} s idle bracket among {spans}")
    elif e["event"] == "mtu.blackhole":
        bands = [(int(b.get("data-lo")), int(b.get("data-hi"))) for b in elements(root, "size-band")]
        check(any(hi == ev["lost_packet_size"] - 1 for _, hi in bands) or
              any(lo == hi == ev["lost_packet_size"] for lo, hi in bands),
              f"{what}: no size band ending below {ev['lost_packet_size']} among {bands}")


def check_plots(tcpsleuth, name, inputs, workdir):
    plots = os.path.join(workdir, name + "-plots")
    evdir = os.path.join(workdir, name + "-evidence")
    page = os.path.join(workdir, name + ".html")
    for d in (plots, evdir):
        shutil.rmtree(d, ignore_errors=True)
    events = analyze(tcpsleuth, inputs, os.path.join(workdir, name), "--plots", plots, "--evidence-dir", evdir,
                     "--report", page, "--report-format", "html")
    wanted = [e for e in events if e["severity"] in ("warning", "critical")]
    check(len(wanted) >= 10, f"{name}: {len(wanted)} findings at warning or above; the episodes make more")
    check(not any("plot" in e for e in events if e not in wanted), f"{name}: an info finding has a plot")
    kinds = set()
    for e in wanted:
        what = f"{name}: {e['event']} flow {e['flow'] and e['flow']['id']}"
        path = e.get("plot")
        if not check(path and os.path.exists(path), f"{what}: plot {path!r} missing"):
            continue
        root = check_svg(path, what)
        if root is None:
            continue
        kinds.add(e["event"])
        ringed = {int(g.get("data-packet")) for g in elements(root, "evidence")}
        numbers = set(e["evidence"].get("packets", []))
        check(ringed == numbers, f"{what}: rings on {sorted(ringed)}, evidence {sorted(numbers)}")
        check_quantity(e, root, what)
    for needed in ("window.zero_stall", "mtu.blackhole", "idle.timeout_drop", "handshake.syn_unanswered",
                   "sack.invalid_blocks", "rst.injected"):
        check(needed in kinds, f"{name}: no plot of {needed} (plotted: {sorted(kinds)})")

    # The same input again: the same bytes.
    again = os.path.join(workdir, name + "-plots-again")
    shutil.rmtree(again, ignore_errors=True)
    analyze(tcpsleuth, inputs, os.path.join(workdir, name + "-again"), "--plots", again, "--report", "none")
    first = sorted(os.listdir(plots))
    check(first == sorted(os.listdir(again)), f"{name}: the second run drew other files")
    for f in first:
        check(open(os.path.join(plots, f), "rb").read() == open(os.path.join(again, f), "rb").read(),
              f"{name}: {f} differs between two runs")
    check_page(page, events, wanted, name)
    print(f"ok    {name}: {len(wanted)} plots, {len(kinds)} kinds")
    return page, events


class PageParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.articles = []   # (attrs, svgs, links, advice)
        self.advice_sections = 0
        self.forbidden = []
        self.current = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.forbidden.append(tag)
        if tag == "article":
            self.current = {"attrs": a, "svgs": 0, "links": [], "advice": 0}
            self.articles.append(self.current)
        elif self.current is not None:
            if tag == "svg":
                self.current["svgs"] += 1
            elif tag == "a" and "evidence-pcap" in a.get("class", ""):
                self.current["links"].append(a.get("href"))
        if tag == "div" and a.get("class") == "advice":
            if self.current is not None:
                self.current["advice"] += 1
            else:
                self.advice_sections += 1

    def handle_endtag(self, tag):
        if tag == "article":
            self.current = None


def check_page(page, events, wanted, name):
    text = open(page, encoding="utf-8").read()
    p = PageParser()
    p.feed(text)
    check(not p.forbidden, f"{name}: the page has {p.forbidden}")
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", text)) - {"http://www.w3.org/2000/svg"}
    check(not urls, f"{name}: the page names {sorted(urls)[:3]}")
    by_kind = {}
    for e in events:
        by_kind[e["event"]] = by_kind.get(e["event"], 0) + 1
    check(len(p.articles) == sum(min(n, 50) for n in by_kind.values()),
          f"{name}: {len(p.articles)} findings on the page, {len(events)} events")
    check(p.advice_sections == len(by_kind), f"{name}: {p.advice_sections} advice blocks for {len(by_kind)} diagnoses")
    warnings = [a for a in p.articles if a["attrs"].get("data-plot") == "yes"]
    check(len(warnings) == len(wanted), f"{name}: {len(warnings)} findings with a plot, {len(wanted)} warnings")
    for a in warnings:
        what = f"{name}: page finding {a['attrs'].get('id')}"
        check(a["svgs"] == 1, f"{what}: {a['svgs']} plots inline")
        check(len(a["links"]) == 1, f"{what}: {len(a['links'])} evidence links")
        for href in a["links"]:
            target = os.path.normpath(os.path.join(os.path.dirname(page), href))
            check(os.path.exists(target), f"{what}: the evidence link {href} leads nowhere")


def check_browser(page, wanted, workdir, tag="report"):
    url = "file://" + os.path.abspath(page)
    status, dom, console, requested = browser.browse(url, workdir, tag)
    check(status == 0, f"chromium on {page}: exit {status}")
    check(not console, f"the report page logged to the console: {console[:2]}")
    check(requested <= {url}, f"the report page requested {sorted(requested - {url})}")
    check(dom.count("<article") >= len(wanted), f"the browser's DOM holds {dom.count('<article')} findings")
    check(dom.count("<svg") == len(wanted), f"the browser's DOM holds {dom.count('<svg')} plots, {len(wanted)} wanted")
    shot = os.path.join(workdir, tag + ".png")
    check(browser.screenshot(url, shot, workdir), f"no screenshot of {page}")
    print(f"ok    browser on {os.path.basename(page)}: {dom.count('<article')} findings, {dom.count('<svg')} plots, "
          f"screenshot {shot}")


def check_golden(tcpsleuth, cases, workdir, update):
    """Returns each case's HTML report with its warnings, for the browser."""
    pages = []
    for case in GOLDEN_CASES:
        pcap = os.path.join(workdir, case + ".pcap")
        subprocess.run([sys.executable, os.path.join(cases, case, "make_pcap.py"), pcap], check=True)
        plots = os.path.join(workdir, case + "-golden-plots")
        page = os.path.join(workdir, case + ".html")
        for d in (plots, page[:-5] + "-evidence"):
            shutil.rmtree(d, ignore_errors=True)
        events = analyze(tcpsleuth, [pcap], os.path.join(workdir, case + "-golden"), "--plots", plots, "--report", page,
                         "--report-format", "html")
        warnings = [e for e in events if e["severity"] in ("warning", "critical")]
        pages.append((page, warnings))
        # No --evidence-dir: the page's captures go beside it (CASE.html -> CASE-evidence/).
        if not update:
            check(all(e.get("evidence_pcap", "").startswith(page[:-5] + "-evidence/") for e in warnings),
                  f"golden {case}: captures not beside the page: {[e.get('evidence_pcap') for e in warnings]}")
            check_page(page, events, warnings, "golden " + case)
        golden = os.path.join(cases, case, "plots")
        made = sorted(os.listdir(plots)) if os.path.isdir(plots) else []
        if update:
            shutil.rmtree(golden, ignore_errors=True)
            if made:
                shutil.copytree(plots, golden)
            print(f"wrote {len(made)} golden plot(s) for {case}: review them as images before committing")
            continue
        kept = sorted(os.listdir(golden)) if os.path.isdir(golden) else []
        check(made == kept, f"golden {case}: drew {made}, reviewed {kept}")
        for f in set(made) & set(kept):
            check(open(os.path.join(plots, f), "rb").read() == open(os.path.join(golden, f), "rb").read(),
                  f"golden {case}: {f} differs from the reviewed plot (plots_check.py --update-golden, then look)")
        print(f"ok    golden {case}: {len(made)} plot(s)")
    return pages


def main():
    args = [a for a in sys.argv[1:] if a != "--update-golden"]
    update = "--update-golden" in sys.argv
    tcpsleuth, gen, workdir, cases = args[:4]
    os.makedirs(workdir, exist_ok=True)
    golden_pages = check_golden(tcpsleuth, cases, workdir, update)
    if update:
        return 0
    bare = os.path.join(workdir, "faults.pcap")
    subprocess.run([gen, *TRAFFIC, "--pcap", bare], check=True, capture_output=True)
    vxlan = os.path.join(workdir, "faults-vxlan.pcap")
    subprocess.run([gen, *TRAFFIC, "--encap", "vxlan", "--pcap", vxlan], check=True, capture_output=True)
    page, events = check_plots(tcpsleuth, "bare", [bare], workdir)
    check_plots(tcpsleuth, "vxlan", [vxlan], workdir)
    if check(shutil.which("chromium") is not None, "chromium is not installed (scripts/install-deps installs it)"):
        browser.self_test(workdir, check)
        check_browser(page, [e for e in events if e["severity"] in ("warning", "critical")], workdir)
        for golden_page, warnings in golden_pages:
            check_browser(golden_page, warnings, workdir, os.path.basename(golden_page)[:-5])
    # From a pipe there is no second read: the page says why it has no plots.
    with open(bare, "rb") as src:
        p = subprocess.run([tcpsleuth, "analyze", "-", "--events", os.devnull, "--report", "-", "--report-format",
                            "html", "--no-progress", "-q"], stdin=src, capture_output=True, text=True)
    check(p.returncode == 0 and "<svg" not in p.stdout and "No plots: the input was a pipe" in p.stdout,
          f"html from a pipe: exit {p.returncode}, {p.stderr[-200:]}")
    p = subprocess.run([tcpsleuth, "analyze", "-", "--plots", os.path.join(workdir, "x")], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    check(p.returncode == 1 and "--plots reads the input twice" in p.stderr, f"--plots from a pipe: {p.stderr[-200:]}")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
