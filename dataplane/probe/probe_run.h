#pragma once
// One probe from start to end, for `tcpsleuth probe` and for the daemon (`tcpsleuthctl probe`):
// the target named and checked, the sockets opened from the chosen source, the tests run in
// order, each test's result handed over as it ends.

#include <functional>
#include <string>
#include <vector>

#include "dataplane/probe/probe_tests.h"

namespace tcpsleuth::probe {

// "HOST", "HOST:PORT", "V4ADDR:PORT", "[V6ADDR]:PORT", "V6ADDR" (PORT defaults to 80);
// `family` AF_UNSPEC, AF_INET or AF_INET6. False with `error`.
bool resolve_target(const std::string& spec, int family, Target& t, std::string& error);
// Why `t` may not be probed (broadcast, multicast, unspecified); empty when it may.
std::string refused_target(const Target& t);

struct Run {
    std::vector<std::string> tests;  // names from kProbeTests
    Limits limits;
    Settings settings;
    std::string source;              // the address to send from; "": the route's choice
};

struct RunEnd {
    bool started = false;            // false: `error` says why nothing was sent
    std::string error;
    std::string source_text;
    std::uint32_t sent = 0;
    bool budget_ran_out = false;
    double seconds = 0;
};

// Runs every test toward `t`, calling `on_test` after each.
RunEnd run_probe(Target& t, const Run& run, const std::function<void(const std::string& test, const TestResult&)>& on_test);

// A finding as a JSON line (the sensor's event schema, with the probe's summary, test and hop).
std::string finding_json(const Finding& f);

}  // namespace tcpsleuth::probe
