#pragma once
// The output side of events: JSON lines (schema in DESIGN.md), and the text pieces the
// report reuses. Formatting happens here and only here, never on the packet path.

#include <functional>
#include <string>
#include <string_view>

#include "inspectors/output/events.h"
#include "inspectors/output/json_writer.h"
#include "inspectors/output/packet_origins.h"

namespace tcpsleuth {

// "198.18.1.2" or "2001:db8::1" from a 16-byte (possibly v4-mapped) address.
std::string format_address(const std::array<std::uint8_t, 16>& addr);
// "2026-11-21T12:48:03.123456Z"
std::string format_timestamp(std::uint64_t ts_ns);

struct FlowEndpoints {
    std::string client;
    std::uint16_t client_port = 0;
    std::string server;
    std::uint16_t server_port = 0;
};
FlowEndpoints endpoints(const FlowKey& key, bool client_is_lo);
FlowEndpoints endpoints(const Event& e);

// "tunnel": {type, id, outer_src, outer_dst, overhead} inside a flow object. Without `t` (a
// flow listing, or a full TunnelBook), what the key holds: type and identity.
void write_tunnel(JsonWriter& w, const TunnelInfo* t, const FlowKey& key);

// "low" | "medium" | "high" (to_string's inverse); false for anything else.
bool parse_confidence(std::string_view text, Confidence& out) noexcept;

std::string event_summary(const Event& e);
std::string event_advice(const Event& e);
// The advice shared by every event of a kind (for the report's per-diagnosis section).
std::string_view kind_advice(std::string_view kind);

// RFC 8446 section 6 alert description names ("unknown_ca"), "unassigned" otherwise.
std::string_view tls_alert_name(std::uint8_t code) noexcept;
// A payload.match's matched bytes, printable ASCII as is, anything else as \xHH.
std::string payload_tail_text(const PayloadMatch& d);

// One JSON object, no trailing newline.
// `origins`: set when several inputs were merged; the evidence then names each packet's file
// and frame ("frames") beside its merged number.
// `evidence_pcap`: the evidence capture that holds the finding's packets (analyze
// --evidence-dir), named in the event; empty: none. `plot`: its time-sequence graph (analyze
// --plots), likewise.
std::string format_event_json(const Event& e, const PacketOrigins* origins = nullptr,
                              std::string_view evidence_pcap = {}, std::string_view plot = {});

// An active probe's finding (tcpsleuth probe): the same JSON with its own summary (what was
// sent and what came back) and `more` members after the evidence (the test, the hop).
std::string format_probe_event_json(const Event& e, std::string_view summary,
                                    const std::function<void(JsonWriter&)>& more);

}  // namespace tcpsleuth
