#pragma once
// The validated configuration, with every default in one place. Every part of tcpsleuth
// takes its settings from here; the TOML loader fills it and the example file documents it.

#include <cstdint>

namespace tcpsleuth {

struct FlowConfig {
    // Flows per worker core. The table is allocated once at start; see README for bytes/flow.
    std::uint32_t capacity = 1u << 20;
    // Idle timeouts per state, seconds. Established must outlive the devices we diagnose:
    // RFC 5382 REQ-5 asks NATs for at least 2 h 4 min, so a shorter timeout here would turn
    // an idle-timeout fault into two unrelated flows.
    std::uint32_t handshake_timeout_s = 240;     // RFC 5382: transitory idle-timeout >= 4 min
    std::uint32_t established_timeout_s = 7440;  // RFC 5382 REQ-5
    std::uint32_t closing_timeout_s = 240;       // FIN seen in one or both directions
    std::uint32_t closed_timeout_s = 10;         // RST seen: keep briefly for late packets
    // Slots visited by the idle sweep after each burst: bounds the sweep's cost per burst.
    std::uint32_t sweep_budget = 64;
};

struct HandshakeConfig {
    bool enabled = true;
    // SYN retransmissions (same ISN, no SYN-ACK) before handshake.syn_unanswered fires.
    // Linux retransmits at +1 s, +3 s, +7 s ...: 2 means the client has waited about 3 s.
    std::uint32_t min_syn_retransmissions = 2;
};

struct ZeroWindowConfig {
    bool enabled = true;
    // A zero window held this long, or probed this often, is a stall.
    std::uint32_t min_duration_ms = 1000;
    std::uint32_t min_probes = 2;
};

struct Config {
    FlowConfig flows;
    HandshakeConfig handshake;
    ZeroWindowConfig zero_window;
};

}  // namespace tcpsleuth
