#include "control/live_page.h"

#include <array>
#include <cctype>

#include "inspectors/output/json_writer.h"

namespace tcpsleuth::control {
namespace {

// The commands the page may use: each only reads.
constexpr std::array<std::string_view, 6> kPageCommands = {"hello", "stats", "flows", "flow", "plot", "events"};

constexpr std::string_view kPage = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tcpsleuth live</title>
<style>
body { font-family: sans-serif; margin: 0 auto; max-width: 1200px; padding: 12px 24px 48px; color: #222; }
h1 { font-size: 1.5em; margin: 8px 0 2px; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 3px; margin-top: 28px; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #ddd; padding: 3px 6px; text-align: left; font-size: 0.88em; vertical-align: top; }
th { background: #f4f4f4; }
tr.sev-warning td:nth-child(3) { background: #E69F00; }
tr.sev-critical td:nth-child(3) { background: #D55E00; color: #fff; }
td.link { color: #0072B2; text-decoration: underline; cursor: pointer; }
#status { color: #555; margin: 0; }
#error { color: #D55E00; min-height: 1.2em; }
form { margin: 8px 0; }
form input { width: 8em; }
#flow-plot svg { max-width: 100%; height: auto; }
.scroll { max-height: 420px; overflow-y: auto; }
</style>
</head>
<body>
<h1>tcpsleuth live</h1>
<p id="status">connecting…</p>
<p id="error"></p>
<section id="findings">
<h2>Findings so far</h2>
<div class="scroll"><table>
<thead><tr><th>time</th><th>finding</th><th>severity</th><th>flow</th><th>summary</th></tr></thead>
<tbody id="findings-body"></tbody>
</table></div>
</section>
<section id="flows">
<h2>Flows</h2>
<form id="filters">
address <input name="addr"> port <input name="port" inputmode="numeric"> finding <input name="event">
severity <select name="severity"><option value="">any</option><option>info</option><option>warning</option><option>critical</option></select>
application <input name="app">
sort <select name="sort"><option>last_seen</option><option>first_seen</option><option>bytes</option><option>retransmissions</option><option>id</option></select>
limit <input name="limit" value="50" inputmode="numeric">
<button type="submit">apply</button>
</form>
<p id="flows-count"></p>
<div class="scroll"><table>
<thead><tr><th>flow</th><th>client</th><th>server</th><th>state</th><th>bytes c→s / s→c</th><th>resent c / s</th><th>RTT ms</th><th>findings</th></tr></thead>
<tbody id="flows-body"></tbody>
</table></div>
</section>
<section id="flow" hidden>
<h2 id="flow-title"></h2>
<div id="flow-plot"></div>
<table id="flow-sides"></table>
<details><summary>everything tracked (JSON)</summary><pre id="flow-json"></pre></details>
</section>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let selected = 0;

async function api(cmd, args) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(args || {})) if (v !== "" && v !== undefined && v !== null) q.set(k, v);
  const r = await fetch("/api/" + cmd + (q.toString() ? "?" + q : ""));
  const j = await r.json();
  if (!j.ok) throw new Error(j.error);
  return j.data;
}

function cell(tr, text, link) {
  const td = document.createElement("td");
  td.textContent = text;
  if (link) { td.className = "link"; td.onclick = () => showFlow(link); }
  tr.appendChild(td);
}

async function refreshStatus() {
  const s = await api("stats");
  let packets = 0, flows = 0, events = 0;
  for (const w of s.workers) { packets += w.packets; flows += w.flows_active; events += w.events; }
  $("status").textContent = s.mode + " · up " + Math.round(s.uptime_s) + " s · " + packets + " packets · " +
    flows + " flows open · " + events + " findings";
}

async function refreshFindings() {
  const d = await api("events", {limit: 200});
  const rows = [];
  for (const e of d.events.slice().reverse()) {
    const tr = document.createElement("tr");
    tr.className = "finding sev-" + e.severity;
    cell(tr, e.ts); cell(tr, e.event); cell(tr, e.severity);
    cell(tr, e.flow ? String(e.flow.id) : "-", e.flow ? e.flow.id : 0);
    cell(tr, e.summary);
    rows.push(tr);
  }
  $("findings-body").replaceChildren(...rows);
}

async function refreshFlows() {
  const args = Object.fromEntries(new FormData($("filters")).entries());
  const d = await api("flows", args);
  $("flows-count").textContent = d.shown + " of " + d.matched + " matching flows";
  const rows = [];
  for (const f of d.flows) {
    const tr = document.createElement("tr");
    tr.className = "flow";
    cell(tr, String(f.id), f.id);
    cell(tr, f.client + ":" + f.client_port); cell(tr, f.server + ":" + f.server_port); cell(tr, f.state);
    cell(tr, f.bytes_from_client + " / " + f.bytes_from_server);
    cell(tr, f.retransmissions_from_client + " / " + f.retransmissions_from_server);
    cell(tr, f.rtt_ms === undefined ? "" : String(f.rtt_ms)); cell(tr, (f.events || []).join(", "));
    rows.push(tr);
  }
  $("flows-body").replaceChildren(...rows);
}

async function showFlow(id) {
  selected = id;
  const [f, p] = await Promise.all([api("flow", {id: id}), api("plot", {id: id}).catch((e) => ({error: e.message}))]);
  $("flow").hidden = false;
  $("flow-title").textContent = "flow " + id + ": " + f.flow.client + ":" + f.flow.client_port + " → " +
    f.flow.server + ":" + f.flow.server_port + " (" + f.flow.state + ")";
  if (p.svg) { $("flow-plot").innerHTML = p.svg; } else { $("flow-plot").textContent = "no plot: " + p.error; }
  const keys = Object.keys(f.client || {}).filter((k) => typeof f.client[k] !== "object");
  const rows = [];
  const head = document.createElement("tr");
  for (const t of ["", "client", "server"]) { const th = document.createElement("th"); th.textContent = t; head.appendChild(th); }
  rows.push(head);
  for (const k of keys) {
    const tr = document.createElement("tr");
    const other = f.server && f.server[k] !== undefined ? String(f.server[k]) : "";
    cell(tr, k); cell(tr, String(f.client[k])); cell(tr, other);
    rows.push(tr);
  }
  $("flow-sides").replaceChildren(...rows);
  $("flow-json").textContent = JSON.stringify(f, null, 2);
}

async function tick() {
  try {
    await Promise.all([refreshStatus(), refreshFindings(), refreshFlows()]);
    if (selected) await showFlow(selected).catch(() => {});
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = "update failed: " + e.message;
  }
}

$("filters").onsubmit = (ev) => { ev.preventDefault(); tick(); };
// A link to one flow: /#flow=ID opens it.
const wanted = /flow=(\d+)/.exec(location.hash);
if (wanted) selected = Number(wanted[1]);
tick();
setInterval(tick, 3000);
</script>
</body>
</html>
)html";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// application/x-www-form-urlencoded: '+' is a space, %HH a byte.
bool decode(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '+') {
            out += ' ';
        } else if (in[i] == '%') {
            if (i + 2 >= in.size() || hex_value(in[i + 1]) < 0 || hex_value(in[i + 2]) < 0) return false;
            out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
            i += 2;
        } else {
            out += in[i];
        }
    }
    return true;
}

bool all_digits(const std::string& s) {
    if (s.empty() || s.size() > 18) return false;
    for (const char c : s) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

}  // namespace

std::string_view live_page_html() { return kPage; }

bool api_request(std::string_view path, std::string_view query, std::string& line, std::string& error) {
    const std::string_view cmd = path.substr(std::string_view("/api/").size());
    bool allowed = false;
    for (const std::string_view c : kPageCommands) allowed |= c == cmd;
    if (!allowed) {
        error = "the page's API answers hello, stats, flows, flow, plot and events; not \"" + std::string(cmd) + "\"";
        return false;
    }
    line.clear();
    JsonWriter w(line);
    w.begin_object().field("cmd", cmd).key("args").begin_object();
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const std::size_t eq = pair.find('=');
        std::string key, value;
        if (!decode(pair.substr(0, eq), key) || !decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), value)) {
            error = "a query argument is not %-encoded properly";
            return false;
        }
        // Numbers go as numbers (ids, ports, limits); the controller checks every name.
        if (all_digits(value)) {
            w.field(key, static_cast<std::uint64_t>(std::stoull(value)));
        } else {
            w.field(key, value);
        }
    }
    w.end_object().end_object();
    return true;
}

}  // namespace tcpsleuth::control
