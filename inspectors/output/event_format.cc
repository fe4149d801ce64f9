#include "inspectors/output/event_format.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "config/rules.h"
#include "inspectors/detectors/idle_timeout.h"
#include "inspectors/evidence/idle_profiles.h"
#include "inspectors/output/json_writer.h"

namespace tcpsleuth {

std::string_view to_string(Severity s) noexcept {
    switch (s) {
        case Severity::kInfo: return "info";
        case Severity::kWarning: return "warning";
        case Severity::kCritical: return "critical";
    }
    return "?";
}

std::string_view to_string(Confidence c) noexcept {
    switch (c) {
        case Confidence::kLow: return "low";
        case Confidence::kMedium: return "medium";
        case Confidence::kHigh: return "high";
    }
    return "?";
}

bool parse_confidence(std::string_view text, Confidence& out) noexcept {
    for (const Confidence c : {Confidence::kLow, Confidence::kMedium, Confidence::kHigh}) {
        if (text == to_string(c)) {
            out = c;
            return true;
        }
    }
    return false;
}

std::string_view to_string(Where w) noexcept {
    switch (w) {
        case Where::kUnknown: return "unknown";
        case Where::kUpstream: return "upstream";
        case Where::kDownstream: return "downstream";
    }
    return "?";
}

std::string_view to_string(Side s) noexcept {
    switch (s) {
        case Side::kClient: return "client";
        case Side::kServer: return "server";
    }
    return "?";
}

std::string_view to_string(OptionKind o) noexcept {
    switch (o) {
        case OptionKind::kMss: return "mss";
        case OptionKind::kWscale: return "wscale";
        case OptionKind::kSackPerm: return "sack_perm";
        case OptionKind::kTimestamp: return "timestamp";
    }
    return "?";
}

std::string_view to_string(StackGuess g) noexcept {
    switch (g) {
        case StackGuess::kUnknown: return "unknown";
        case StackGuess::kLinux: return "linux";
        case StackGuess::kWindows: return "windows";
        case StackGuess::kApple: return "apple";
        case StackGuess::kFreeBsd: return "freebsd";
    }
    return "?";
}

std::string_view event_name(const Event& e) noexcept {
    return std::visit([](const auto& d) { return std::remove_cvref_t<decltype(d)>::kName; }, e.detail);
}

std::string format_address(const std::array<std::uint8_t, 16>& a) {
    char buf[INET6_ADDRSTRLEN];
    static constexpr std::uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(std::begin(kV4Mapped), std::end(kV4Mapped), a.begin())) {
        inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
    }
    return buf;
}

std::string format_timestamp(std::uint64_t ts_ns) {
    const std::time_t secs = static_cast<std::time_t>(ts_ns / 1'000'000'000u);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[48];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06uZ", static_cast<unsigned>((ts_ns / 1000u) % 1'000'000u));
    return buf;
}

FlowEndpoints endpoints(const FlowKey& key, bool lo) {
    FlowEndpoints p;
    p.client = format_address(lo ? key.addr_lo : key.addr_hi);
    p.client_port = lo ? key.port_lo : key.port_hi;
    p.server = format_address(lo ? key.addr_hi : key.addr_lo);
    p.server_port = lo ? key.port_hi : key.port_lo;
    return p;
}

FlowEndpoints endpoints(const Event& e) { return endpoints(e.key, e.client_is_lo); }

void write_tunnel(JsonWriter& w, const TunnelInfo* t, const FlowKey& key) {
    if (t == nullptr && key.tunnel_type == TunnelType::kNone) return;
    w.key("tunnel").begin_object();
    w.field("type", to_string(t != nullptr ? t->type : key.tunnel_type));
    if (t == nullptr || t->type != TunnelType::kIpInIp) w.field("id", t != nullptr ? t->id : key.tunnel_id);
    if (t != nullptr && t->outer_ip_version != 0) {
        w.field("outer_src", format_address(t->outer_src));
        w.field("outer_dst", format_address(t->outer_dst));
    }
    if (t != nullptr) w.field("overhead", static_cast<std::uint32_t>(t->overhead));
    w.end_object();
}

namespace {

std::string fmt(const char* f, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// "850 ms", "6.0 s", "400 s", "2.0 h": a gap in the unit a reader thinks in.
std::string duration_text(std::uint32_t ms) {
    if (ms < 1000) return fmt("%u ms", ms);
    if (ms < 60'000) return fmt("%.1f s", ms / 1e3);
    if (ms < 7'200'000) return fmt("%.0f s", ms / 1e3);
    return fmt("%.1f h", ms / 3.6e6);
}

// Why a gap counted as idle for its flow: against its longest earlier silence, or its RTT.
std::string gap_context(const GapJudgement& j) {
    if (j.lived_ms != 0) {
        return fmt("threshold %s; its longest earlier silence was %s", duration_text(j.needed_ms).c_str(),
                   duration_text(j.lived_ms).c_str());
    }
    if (j.rtt_us != 0) {
        return fmt("threshold %s; RTT %.2f ms, no earlier silence", duration_text(j.needed_ms).c_str(), j.rtt_us / 1e3);
    }
    return fmt("threshold %s", duration_text(j.needed_ms).c_str());
}

std::string layout_string(std::uint64_t layout) {
    char buf[160];
    const std::size_t n = format_layout(layout, buf, sizeof buf);
    return std::string(buf, n);
}

std::string server_name(const Event& e) {
    const FlowEndpoints p = endpoints(e);
    return fmt("%s:%u", p.server.c_str(), static_cast<unsigned>(p.server_port));
}

}  // namespace

std::string_view kind_advice(std::string_view kind) {
    for (std::size_t i = 0; i < kEventKinds.size(); ++i) {
        if (kEventKinds[i] == kind) return kEventAdvice[i];
    }
    return {};  // not a kind of the catalog
}

namespace {

// The path's idle bracket, in words, snapped to the device default it fits.
std::string bracket_advice(const IdleBracket& b) {
    if (b.killed_min_s == 0) return {};
    std::string out = b.survived_max_s != 0
                          ? fmt(" On this server, gaps up to %u s survived and %u s killed a flow.", b.survived_max_s,
                                b.killed_min_s)
                          : fmt(" On this server a gap of %u s killed a flow.", b.killed_min_s);
    const std::uint32_t snapped = snap_to_device_default(b);
    if (snapped != 0) {
        out += fmt(" That fits a %u s idle timeout (the default of %s, [idle.profiles]): keep keepalives well under it.",
                   snapped, devices_with_timeout(snapped).c_str());
    } else {
        out += fmt(" Keep keepalives well under %u s.", b.survived_max_s != 0 ? b.survived_max_s : b.killed_min_s);
    }
    return out;
}

}  // namespace

namespace {

std::string payload_advice(const PayloadMatch& d) {
    const std::string_view id = rule_names().name(d.rule);
    for (const RuleSpec& r : builtin_rules()) {
        if (r.id == id && !r.advice.empty()) return r.advice;
    }
    return "Rule " + std::string(id) + " from the configuration matched. " + std::string(PayloadMatch::kAdvice);
}

}  // namespace

std::string_view tls_alert_name(std::uint8_t code) noexcept {
    // RFC 8446 section 6 (and RFC 5246 section 7.2 for the older codes).
    switch (code) {
        case 0: return "close_notify";
        case 10: return "unexpected_message";
        case 20: return "bad_record_mac";
        case 21: return "decryption_failed";
        case 22: return "record_overflow";
        case 30: return "decompression_failure";
        case 40: return "handshake_failure";
        case 42: return "bad_certificate";
        case 43: return "unsupported_certificate";
        case 44: return "certificate_revoked";
        case 45: return "certificate_expired";
        case 46: return "certificate_unknown";
        case 47: return "illegal_parameter";
        case 48: return "unknown_ca";
        case 49: return "access_denied";
        case 50: return "decode_error";
        case 51: return "decrypt_error";
        case 70: return "protocol_version";
        case 71: return "insufficient_security";
        case 80: return "internal_error";
        case 86: return "inappropriate_fallback";
        case 90: return "user_canceled";
        case 109: return "missing_extension";
        case 110: return "unsupported_extension";
        case 112: return "unrecognized_name";
        case 113: return "bad_certificate_status_response";
        case 115: return "unknown_psk_identity";
        case 116: return "certificate_required";
        case 120: return "no_application_protocol";
    }
    return "unassigned";
}

namespace {

// The alert description of a tls.alert_fatal match: the last matched byte.
bool tls_alert_code(const PayloadMatch& d, std::uint8_t& code) {
    if (d.tail_len == 0 || rule_names().name(d.rule) != "tls.alert_fatal") return false;
    code = static_cast<std::uint8_t>(d.tail[d.tail_len - 1]);
    return true;
}

}  // namespace

std::string payload_tail_text(const PayloadMatch& d) {
    std::string out;
    for (unsigned i = 0; i < d.tail_len; ++i) {
        const auto c = static_cast<unsigned char>(d.tail[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

std::string event_advice(const Event& e) {
    std::string out(kind_advice(event_name(e)));
    const bool about_mtu = std::holds_alternative<MtuBlackhole>(e.detail) || std::holds_alternative<IcmpFragNeeded>(e.detail);
    if (about_mtu && e.tunnel.type != TunnelType::kNone && e.tunnel.overhead != 0) {
        // An overlay's own MTU is a classic black hole: the inner packets must fit the
        // underlay after the outer headers are added.
        out += fmt(" This flow runs inside %s, which adds %u bytes of outer headers to every packet: inner "
                   "packets must be at most the underlay's MTU minus %u. Lower the overlay interface's MTU (or "
                   "clamp the MSS to it), or raise the underlay's MTU by at least %u bytes.",
                   std::string(to_string(e.tunnel.type)).c_str(), e.tunnel.overhead, e.tunnel.overhead, e.tunnel.overhead);
    }
    if (const auto* d = std::get_if<IdleTimeoutDrop>(&e.detail)) out += bracket_advice(d->bracket);
    if (const auto* d = std::get_if<IdleResetAfterIdle>(&e.detail)) out += bracket_advice(d->bracket);
    if (const auto* d = std::get_if<IdleKeepaliveTooSlow>(&e.detail)) out += bracket_advice(d->bracket);
    if (const auto* d = std::get_if<IdleStaleFlow>(&e.detail)) out += bracket_advice(d->bracket);
    if (const auto* d = std::get_if<PayloadMatch>(&e.detail)) return payload_advice(*d);
    return out;
}

std::string event_summary(const Event& e) {
    struct Visitor {
        const Event& e;
        std::string operator()(const SynUnanswered& d) const {
            const FlowEndpoints p = endpoints(e);
            return fmt("%s sent %u SYNs with the same ISN to %s over %.1f s and got no SYN-ACK%s", p.client.c_str(),
                       d.syns, server_name(e).c_str(), seconds(d.last_syn_ns - d.first_syn_ns),
                       d.final ? "; the connection never opened" : "");
        }
        std::string operator()(const ZeroWindowStall& d) const {
            const char* peer = d.slow_side == Side::kClient ? "server" : "client";
            return fmt("the %s advertised a zero window for %.2f s%s; the %s probed it %u time%s", 
                       std::string(to_string(d.slow_side)).c_str(), seconds(d.duration_ns),
                       d.ongoing ? " (still closed when the flow was last seen)" : "", peer, d.probes,
                       d.probes == 1 ? "" : "s");
        }
        std::string operator()(const FlowTableFull& d) const {
            return fmt("flow table full at %u flows: evicted flow %llu, idle %.1f s (%llu evictions so far)",
                       d.capacity, static_cast<unsigned long long>(d.victim_flow_id), seconds(d.victim_idle_ns),
                       static_cast<unsigned long long>(d.evicted_total));
        }
        std::string operator()(const ColdRecordsExhausted& d) const {
            return fmt("all %u cold records taken: flow %llu went without one (%llu packets so far)", d.records,
                       static_cast<unsigned long long>(d.flow_id), static_cast<unsigned long long>(d.exhausted_total));
        }
        std::string operator()(const SensorPacketsDropped& d) const {
            return fmt("the sensor dropped %llu packets since its last report (so far: %llu rx_missed, %llu rx_nombuf, "
                       "%llu tx_dropped, %llu ring_full of %llu received)", static_cast<unsigned long long>(d.since_last),
                       static_cast<unsigned long long>(d.rx_missed), static_cast<unsigned long long>(d.rx_nombuf),
                       static_cast<unsigned long long>(d.tx_dropped), static_cast<unsigned long long>(d.ring_full),
                       static_cast<unsigned long long>(d.rx_packets));
        }
        std::string operator()(const SensorEventsLost& d) const {
            return fmt("%llu findings lost since the last report (so far: %llu to full event rings of %u, of %llu found; "
                       "%llu not written because the events file fell behind)",
                       static_cast<unsigned long long>(d.since_last), static_cast<unsigned long long>(d.lost_total),
                       d.ring_size, static_cast<unsigned long long>(d.emitted_total + d.lost_total),
                       static_cast<unsigned long long>(d.unwritten_total));
        }
        std::string operator()(const MirrorLoss& d) const {
            const std::string from = d.outer_ip_version != 0 ? " from " + format_address(d.outer_src) : "";
            return fmt("the %s mirror session %u%s skipped %u sequence numbers: %llu packets lost by the mirror so far, "
                       "%llu received", std::string(to_string(d.type)).c_str(), d.session, from.c_str(), d.gap,
                       static_cast<unsigned long long>(d.lost_total), static_cast<unsigned long long>(d.received_total));
        }
        std::string operator()(const SynDropSurge& d) const {
            return fmt("%u of %u new handshakes in %u s failed (SYN retransmitted, no answer) across about %u "
                       "servers, while %u established flows kept moving data (%u open, %u-%u over the window)",
                       d.failures, d.attempts > d.failures ? d.attempts : d.failures, d.window_s, d.destinations,
                       d.established_active, d.concurrent_now, d.concurrent_min, d.concurrent_max);
        }
        std::string operator()(const MtuBlackhole& d) const {
            const std::string who(to_string(d.sender));
            if (d.confirmed) {
                return fmt("%u-byte segments from the %s (%u-byte packets) were sent %u times and never arrived; "
                           "it shrank them to %u bytes and they got through: path MTU between %u and %u bytes",
                           d.lost_payload, who.c_str(), d.lost_ip_len, d.retransmissions + 1u, d.delivered_payload,
                           d.delivered_ip_len, d.lost_ip_len - 1u);
            }
            if (d.delivered_payload != 0) {
                return fmt("%u-byte segments from the %s (%u-byte packets) were sent %u times and never "
                           "acknowledged; segments of <= %u bytes were acknowledged%s", d.lost_payload, who.c_str(), d.lost_ip_len,
                           d.retransmissions + 1u, d.delivered_payload,
                           d.delivered_after ? ", also while these were being lost" : "");
            }
            return fmt("%u-byte segments from the %s (%u-byte packets) were sent %u times and never acknowledged; "
                       "only the handshake got through (its largest packet %u bytes)", d.lost_payload, who.c_str(),
                       d.lost_ip_len, d.retransmissions + 1u, d.carried_ip_len);
        }
        std::string operator()(const IcmpFragNeeded& d) const {
            if (d.ignored) {
                return fmt("ICMP said the path MTU is %u bytes, but the %s sent %u more segments above it: the "
                           "ICMP does not reach it", d.mtu, std::string(to_string(d.sender)).c_str(), d.larger_after);
            }
            return fmt("ICMP frag-needed/packet-too-big for a %u-byte packet from the %s: path MTU %u bytes",
                       d.quoted_ip_len, std::string(to_string(d.sender)).c_str(), d.mtu);
        }
        std::string operator()(const OptionsStripped& d) const {
            const std::string opt(to_string(d.option)), who(to_string(d.side));
            if ((d.evidence & kEvidenceFarEnd) && e.where == Where::kDownstream) {
                return fmt("%s was stripped from the %s's SYN after the sensor: the %s acts as if it never got it",
                           opt.c_str(), who.c_str(), d.side == Side::kClient ? "server" : "client");
            }
            if (d.evidence & kEvidenceFarEnd) {
                return fmt("%s was stripped from the %s's SYN: the %s acts as if it was agreed", opt.c_str(),
                           who.c_str(), who.c_str());
            }
            if (d.evidence & kEvidenceTsVanished) {
                return fmt("timestamps were agreed but %u segments from the %s arrived without them", d.far_end_segments,
                           who.c_str());
            }
            if (d.evidence & kEvidenceNopFill) {
                return fmt("%s was stripped from the %s's SYN: NOPs fill its place in a %s option layout", opt.c_str(),
                           who.c_str(), std::string(to_string(d.stack)).c_str());
            }
            return fmt("%s offered by the client was not accepted, though this server accepted it in %u other flows",
                       opt.c_str(), d.other_clients);
        }
        std::string operator()(const OptionsNotNegotiated& d) const {
            return fmt("%s offered by the %s was not accepted by %s (%u flow%s so far)",
                       std::string(to_string(d.option)).c_str(), std::string(to_string(d.offered_by)).c_str(),
                       server_name(e).c_str(), d.server_flows, d.server_flows == 1 ? "" : "s");
        }
        std::string operator()(const WindowScaleMismatch& d) const {
            if (d.reader_capped) {
                const char* reader = d.scaling_side == Side::kClient ? "server" : "client";
                return fmt("the %s announced window scale %u, but the %s sent exactly its raw window (%u-%u bytes) %u "
                           "times, not the %u bytes it scales to: it never received the option",
                           std::string(to_string(d.scaling_side)).c_str(), d.shift, reader, d.smallest_window,
                           d.largest_window, d.tiny_windows,
                           static_cast<unsigned>(d.smallest_window) << std::min<unsigned>(d.shift, 14));  // RFC 7323 2.3
            }
            return fmt("the %s's SYN had a %u-byte window but %u later windows were below one MSS (%u-%u bytes, MSS "
                       "%u): it scales a window the other side reads raw",
                       std::string(to_string(d.scaling_side)).c_str(), d.syn_window, d.tiny_windows, d.smallest_window,
                       d.largest_window, d.mss);
        }
        std::string operator()(const WindowLimited& d) const {
            const double rtt_s = d.rtt_us / 1e6;
            return fmt("the %s's unscaled %u-byte window was full for %u round trips without loss: at most %.1f Mbit/s "
                       "at %.1f ms RTT", std::string(to_string(d.receiver)).c_str(), d.window, d.rounds,
                       rtt_s > 0 ? d.window * 8 / rtt_s / 1e6 : 0.0, rtt_s * 1e3);
        }
        std::string operator()(const EcnSynBlackhole& d) const {
            return fmt("%u ECN-setup SYN%s went unanswered; the retry without ECN was answered %.1f s after the "
                       "first (%u such flows on this server)", d.ecn_syns, d.ecn_syns == 1 ? "" : "s",
                       d.waited_ms / 1e3, d.server_flows);
        }
        std::string operator()(const EcnNotNegotiated& d) const {
            return fmt("the client requested ECN and %s declined (%u flow%s so far)", server_name(e).c_str(),
                       d.server_flows, d.server_flows == 1 ? "" : "s");
        }
        std::string operator()(const EcnBleached& d) const {
            return fmt("ECN was agreed but %u of %u new data segments from the %s arrived Not-ECT", d.not_ect,
                       d.not_ect + d.ect, std::string(to_string(d.sender)).c_str());
        }
        std::string operator()(const EcnCeErased& d) const {
            return fmt("%u CE-marked segment%s from the %s, then %u ACKs covering them without ECE", d.ce_segments,
                       d.ce_segments == 1 ? "" : "s", std::string(to_string(d.sender)).c_str(), d.acks_without_ece);
        }
        std::string operator()(const SackInvalidBlocks& d) const {
            return fmt("%u ACKs from the %s carried SACK blocks outside the data sender's sequence space, %s by %lld "
                       "bytes from the ACK", d.acks, std::string(to_string(d.receiver)).c_str(),
                       d.stable ? "all offset" : "offset", static_cast<long long>(d.offset));
        }
        std::string operator()(const SackUnnegotiated& d) const {
            return fmt("the %s sent SACK blocks although %s SYN reached the sensor without SACK-permitted",
                       std::string(to_string(d.receiver)).c_str(),
                       d.receiver_syn_had_perm ? "the other side's" : "its own");
        }
        std::string operator()(const SackMissing& d) const {
            return fmt("SACK was agreed but %u duplicate ACKs from the %s carried no SACK blocks", d.dup_acks,
                       std::string(to_string(d.receiver)).c_str());
        }
        std::string operator()(const IdleTimeoutDrop& d) const {
            return fmt("after %s idle (%s) the %s's %s went unanswered (%u retransmission%s%s)",
                       duration_text(d.gap_ms).c_str(), gap_context(d.judged).c_str(),
                       std::string(to_string(d.first_sender)).c_str(), d.keepalive ? "keepalive" : "segment",
                       d.retransmissions, d.retransmissions == 1 ? "" : "s",
                       d.capture_ended ? " before the capture ended" : "");
        }
        std::string operator()(const IdleResetAfterIdle& d) const {
            return fmt("after %s idle (%s) a RST claiming to be from the %s ended the flow; its TTL %u %s that side's "
                       "%u-%u", duration_text(d.gap_ms).c_str(), gap_context(d.judged).c_str(),
                       std::string(to_string(d.rst_claims)).c_str(), d.rst_ttl,
                       d.ttl_matches ? "matches" : (d.one_hop ? "is one hop off" : "does not match"), d.peer_ttl_min,
                       d.peer_ttl_max);
        }
        std::string operator()(const IdleKeepaliveTooSlow& d) const {
            if (d.died) {
                return fmt("the %s's keepalive came after %.0f s idle and went unanswered: the interval is longer than "
                           "the path's idle timeout", std::string(to_string(d.sender)).c_str(), d.interval_ms / 1e3);
            }
            return fmt("the %s sends keepalives after %.0f s idle, but this server's flows died after %u s",
                       std::string(to_string(d.sender)).c_str(), d.interval_ms / 1e3, d.bracket.killed_min_s);
        }
        std::string operator()(const IdleStaleFlow& d) const {
            return fmt("open flow idle for %u s, past the %u s idle timeout of common devices", d.idle_s, d.threshold_s);
        }
        std::string operator()(const PayloadMatch& d) const {
            std::string out = fmt("rule %s matched the %s's bytes ending at stream offset %llu",
                                  std::string(rule_names().name(d.rule)).c_str(), std::string(to_string(d.direction)).c_str(),
                                  static_cast<unsigned long long>(d.stream_offset));
            if (d.tail_len != 0) out += " (\"" + payload_tail_text(d) + "\")";
            if (std::uint8_t code = 0; tls_alert_code(d, code)) {
                out += fmt(": fatal alert %u %s", code, std::string(tls_alert_name(code)).c_str());
            }
            if (d.matches > 1) out += fmt("; match %u of this rule in the flow", d.matches);
            return out;
        }
        std::string operator()(const RstInjected& d) const {
            const std::string who(to_string(d.claims));
            std::string out;
            switch (d.race) {
                case RstRace::kBeforeSynAck:
                    out = fmt("a RST claiming to be from the %s answered the SYN, then the %s's real SYN-ACK arrived: "
                              "the RST had TTL %u, the SYN-ACK %u", who.c_str(), who.c_str(), d.rst_ttl, d.peer_ttl_max);
                    break;
                case RstRace::kBesideSynAck:
                    out = fmt("a RST claiming to be from the %s came right after the handshake with TTL %u, while that "
                              "side's handshake packets had %u-%u", who.c_str(), d.rst_ttl, d.peer_ttl_min,
                              d.peer_ttl_max);
                    break;
                case RstRace::kAloneWrongAck:
                    out = fmt("a RST claiming to be from the %s answered the SYN acknowledging %u instead of the ISN+1 "
                              "%u that every stack sends", who.c_str(), d.rst_ack, d.expected_ack);
                    break;
                case RstRace::kNone:
                    out = fmt("a RST claiming to be from the %s had TTL %u (%u hops) while its other %u packets had "
                              "%u-%u (%u hops)", who.c_str(), d.rst_ttl, d.rst_hops, d.peer_ttl_samples,
                              d.peer_ttl_min, d.peer_ttl_max, d.peer_hops);
                    break;
            }
            if (d.ack_wrong && d.race == RstRace::kBeforeSynAck) out += fmt("; it acknowledged %u, not ISN+1", d.rst_ack);
            if (d.ip_id_mismatch) out += "; its IP ID breaks the sender's sequence too";
            return out;
        }
        std::string operator()(const PathOneWayLoss& d) const {
            const std::string sender(to_string(d.sender)), lost(to_string(d.lost_from));
            if (d.acknowledged) {
                return fmt("the %s resent bytes %u-%u %u times over %.1f s although the sensor had seen the %s "
                           "acknowledge them: the %s's packets stop arriving after the sensor", sender.c_str(),
                           d.seq_from, d.seq_to, d.retransmissions, seconds(d.last_retx_ns - d.first_retx_ns),
                           d.sender == Side::kClient ? "server" : "client", lost.c_str());
            }
            return fmt("the %s resent bytes %u-%u %u times over %.1f s without an acknowledgment while the %s kept "
                       "sending data: the %s's packets stop arriving after the sensor", sender.c_str(), d.seq_from,
                       d.seq_to, d.retransmissions, seconds(d.last_retx_ns - d.first_retx_ns),
                       d.sender == Side::kClient ? "server" : "client", lost.c_str());
        }
        std::string operator()(const WindowReceiverLimited& d) const {
            return fmt("the %s's window stopped the sender %u times (%u with a zero window), %s in all: %u%% of the "
                       "%s transfer", std::string(to_string(d.receiver)).c_str(), d.episodes, d.zero_episodes,
                       duration_text(d.limited_ms).c_str(), d.share_percent, duration_text(d.transfer_ms).c_str());
        }
    };
    return std::visit(Visitor{e}, e.detail);
}

namespace {

void write_evidence(JsonWriter& w, const Event& e, const PacketOrigins* origins) {
    struct Visitor {
        JsonWriter& w;
        void operator()(const SynUnanswered& d) const {
            w.field("syns", d.syns);
            w.field("isn", d.isn);
            w.field("first_syn", format_timestamp(d.first_syn_ns));
            w.field("last_syn", format_timestamp(d.last_syn_ns));
            w.key("waited_s").value(seconds(d.last_syn_ns - d.first_syn_ns));
            w.field("syn_ack_seen", false);
            w.field("app_retries", d.app_retries);
            w.field("ecn_setup", d.ecn_setup);
            w.field("connection_ended", d.final);
        }
        void operator()(const ZeroWindowStall& d) const {
            w.field("slow_side", to_string(d.slow_side));
            w.key("duration_s").value(seconds(d.duration_ns));
            w.field("since", format_timestamp(d.since_ns));
            w.field("probes", d.probes);
            w.field("threshold_ms", d.threshold_ms);
            w.field("threshold_probes", d.min_probes);
            w.field("bytes_waiting", d.bytes_waiting);
            w.field("stall", d.stall_number);
            w.field("ongoing", d.ongoing);
        }
        void operator()(const FlowTableFull& d) const {
            w.field("capacity", d.capacity);
            w.field("evicted_total", d.evicted_total);
            w.field("victim_flow", d.victim_flow_id);
            w.key("victim_idle_s").value(seconds(d.victim_idle_ns));
        }
        void operator()(const ColdRecordsExhausted& d) const {
            w.field("records", d.records);
            w.field("exhausted_total", d.exhausted_total);
            w.field("flow_without", d.flow_id);
        }
        void operator()(const SensorPacketsDropped& d) const {
            w.field("dropped_since_last", d.since_last);
            w.field("rx_packets", d.rx_packets);
            w.field("rx_missed", d.rx_missed);
            w.field("rx_nombuf", d.rx_nombuf);
            w.field("tx_dropped", d.tx_dropped);
            w.field("ring_full", d.ring_full);
        }
        void operator()(const SensorEventsLost& d) const {
            w.field("lost_since_last", d.since_last);
            w.field("lost_total", d.lost_total);
            w.field("unwritten_total", d.unwritten_total);
            w.field("emitted_total", d.emitted_total);
            w.field("ring_size", d.ring_size);
        }
        void operator()(const MirrorLoss& d) const {
            w.field("type", to_string(d.type));
            w.field("session", d.session);
            if (d.outer_ip_version != 0) {
                w.field("outer_src", format_address(d.outer_src));
                w.field("outer_dst", format_address(d.outer_dst));
            }
            w.field("gap", d.gap);
            w.field("lost_total", d.lost_total);
            w.field("received_total", d.received_total);
        }
        void operator()(const SynDropSurge& d) const {
            w.field("window_s", d.window_s);
            w.field("attempts", d.attempts);
            w.field("failures", d.failures);
            w.field("failure_percent", d.attempts == 0 ? 100u : std::min(100u, d.failures * 100u / d.attempts));
            w.field("baseline_percent", d.baseline_percent);
            w.field("destinations", d.destinations);
            w.field("established_active", d.established_active);
            w.field("concurrent_established", d.concurrent_now);
            w.field("concurrent_min", d.concurrent_min);
            w.field("concurrent_max", d.concurrent_max);
            w.field("plateau", d.concurrent_max != 0 && (d.concurrent_max - d.concurrent_min) * 10 <= d.concurrent_max);
            w.field("threshold_failures", d.threshold_failures);
            w.field("threshold_percent", d.threshold_percent);
            w.field("episode", d.episode);
        }
        void operator()(const MtuBlackhole& d) const {
            w.field("sender", to_string(d.sender));
            w.field("lost_size", d.lost_payload);
            w.field("lost_packet_size", d.lost_ip_len);
            w.field("largest_delivered", d.delivered_payload);
            w.field("largest_delivered_packet_size", d.delivered_ip_len);
            w.field("retransmissions", d.retransmissions);
            w.field("threshold_retransmissions", d.threshold);
            w.key("waited_s").value(d.waited_ms / 1e3);
            w.field("confirmed", d.confirmed);
            w.field("capture_ended", d.capture_ended);
            w.field("smaller_delivered_meanwhile", d.delivered_after);
            w.field("largest_carried_packet_size", d.carried_ip_len);
            w.field("carried_by", d.delivered_ip_len != 0 ? "data" : "handshake");
            // The bracket, by IP total length: the largest packet the path carried in this
            // direction (data, else the handshake) < PMTU <= the lost packet.
            const std::uint16_t lower = d.carried_ip_len > d.delivered_ip_len ? d.carried_ip_len : d.delivered_ip_len;
            if (lower != 0) {
                w.field("pmtu_at_least", lower);
                w.field("pmtu_below", d.lost_ip_len);
            }
            w.field("icmp_seen", d.icmp_seen);
            if (d.icmp_mtu != 0) w.field("icmp_mtu", d.icmp_mtu);
        }
        void operator()(const IcmpFragNeeded& d) const {
            w.field("sender", to_string(d.sender));
            w.field("mtu", d.mtu);
            w.field("quoted_packet_size", d.quoted_ip_len);
            w.field("messages", d.messages);
            w.field("ignored", d.ignored);
            w.field("larger_segments_after", d.larger_after);
            w.field("threshold_segments", d.threshold);
        }
        void operator()(const OptionsStripped& d) const {
            w.field("option", to_string(d.option));
            w.field("side", to_string(d.side));
            w.key("evidence_kinds").begin_array();
            if (d.evidence & kEvidenceFarEnd) w.value("far_end_reaction");
            if (d.evidence & kEvidenceTsVanished) w.value("timestamps_vanished");
            if (d.evidence & kEvidenceNopFill) w.value("nop_fill");
            if (d.evidence & kEvidenceOtherClients) w.value("server_agrees_with_other_clients");
            w.end_array();
            w.field("stack", to_string(d.stack));
            w.field("syn_options", layout_string(d.layout));
            if (d.other_clients != 0) w.field("server_agreed_flows", d.other_clients);
            if (d.far_end_segments != 0) w.field("segments", d.far_end_segments);
        }
        void operator()(const OptionsNotNegotiated& d) const {
            w.field("option", to_string(d.option));
            w.field("offered_by", to_string(d.offered_by));
            w.field("server_declined_flows", d.server_flows);
            w.field("server_agreed_flows", d.server_agreed);
        }
        void operator()(const WindowScaleMismatch& d) const {
            w.field("scaling_side", to_string(d.scaling_side));
            w.field("syn_window", d.syn_window);
            w.field("tiny_windows", d.tiny_windows);
            w.field("smallest_window", d.smallest_window);
            w.field("largest_window", d.largest_window);
            w.field("mss", d.mss);
            w.field("threshold_windows", d.threshold);
            w.field("peer_max_flight", d.max_flight);
            w.field("nop_fill", d.nop_fill);
            w.field("peer_sends_raw_window", d.reader_capped);
            if (d.reader_capped) w.field("shift", static_cast<std::uint32_t>(d.shift));
        }
        void operator()(const WindowLimited& d) const {
            w.field("receiver", to_string(d.receiver));
            w.field("window", d.window);
            w.field("flight", d.flight);
            w.field("rounds", d.rounds);
            w.key("rtt_ms").value(d.rtt_us / 1e3);
            w.field("client_offered_wscale", d.client_offered);
            w.field("server_offered_wscale", d.server_offered);
            w.field("threshold_rounds", d.threshold_rounds);
            w.field("threshold_percent", d.threshold_percent);
        }
        void operator()(const EcnSynBlackhole& d) const {
            w.field("ecn_syns", d.ecn_syns);
            w.key("waited_s").value(d.waited_ms / 1e3);
            w.field("server_flows", d.server_flows);
            w.field("server_ecn_answered", d.server_ecn_answered);
        }
        void operator()(const EcnNotNegotiated& d) const {
            w.field("synack_ece", d.synack_ece);
            w.field("synack_cwr", d.synack_cwr);
            w.field("server_flows", d.server_flows);
        }
        void operator()(const EcnBleached& d) const {
            w.field("sender", to_string(d.sender));
            w.field("not_ect_segments", d.not_ect);
            w.field("ect_segments", d.ect);
            w.field("threshold_segments", d.threshold);
        }
        void operator()(const EcnCeErased& d) const {
            w.field("sender", to_string(d.sender));
            w.field("ce_segments", d.ce_segments);
            w.field("acks_without_ece", d.acks_without_ece);
            w.field("threshold_acks", d.threshold);
        }
        void operator()(const SackInvalidBlocks& d) const {
            w.field("receiver", to_string(d.receiver));
            w.field("acks", d.acks);
            w.field("offset", d.offset);
            w.field("offset_spread", d.offset_spread);
            w.field("stable_offset", d.stable);
            w.field("block_left", d.left);
            w.field("block_right", d.right);
            w.field("ack", d.ack);
            w.field("sender_next_seq", d.sender_nxt);
            w.field("threshold_acks", d.threshold);
        }
        void operator()(const SackUnnegotiated& d) const {
            w.field("receiver", to_string(d.receiver));
            w.field("acks_with_blocks", d.acks);
            w.field("receiver_syn_sack_perm", d.receiver_syn_had_perm);
            w.field("sender_syn_sack_perm", d.sender_syn_had_perm);
        }
        void operator()(const SackMissing& d) const {
            w.field("receiver", to_string(d.receiver));
            w.field("dup_acks_without_blocks", d.dup_acks);
            w.field("sender_retransmissions", d.sender_retransmissions);
            w.field("threshold_dup_acks", d.threshold);
        }
        void write_bracket(const IdleBracket& b) const {
            if (b.survived_max_s != 0) w.field("path_survived_max_s", b.survived_max_s);
            if (b.killed_min_s != 0) w.field("path_killed_min_s", b.killed_min_s);
            const std::uint32_t snapped = snap_to_device_default(b);
            if (snapped != 0) w.field("device_timeout_s", snapped);
        }
        void write_judgement(const GapJudgement& j) const {
            w.key("threshold_gap_s").value(j.needed_ms / 1e3);
            w.key("longest_earlier_silence_s").value(j.lived_ms / 1e3);
            if (j.rtt_us != 0) w.key("rtt_ms").value(j.rtt_us / 1e3);
        }
        void operator()(const IdleTimeoutDrop& d) const {
            w.field("first_sender", to_string(d.first_sender));
            w.key("gap_s").value(d.gap_ms / 1e3);
            write_judgement(d.judged);
            w.field("retransmissions", d.retransmissions);
            w.field("threshold_retransmissions", d.threshold);
            w.field("keepalive", d.keepalive);
            w.field("capture_ended", d.capture_ended);
            write_bracket(d.bracket);
        }
        void operator()(const IdleResetAfterIdle& d) const {
            w.field("rst_claims", to_string(d.rst_claims));
            w.key("gap_s").value(d.gap_ms / 1e3);
            write_judgement(d.judged);
            w.field("prompted", d.prompted);
            w.field("rst_ttl", static_cast<std::uint32_t>(d.rst_ttl));
            w.field("peer_ttl_min", static_cast<std::uint32_t>(d.peer_ttl_min));
            w.field("peer_ttl_max", static_cast<std::uint32_t>(d.peer_ttl_max));
            w.field("ttl_matches", d.ttl_matches);
            w.field("ttl_one_hop", d.one_hop);
            write_bracket(d.bracket);
        }
        void operator()(const IdleKeepaliveTooSlow& d) const {
            w.field("sender", to_string(d.sender));
            w.key("interval_s").value(d.interval_ms / 1e3);
            w.field("keepalive_unanswered", d.died);
            write_bracket(d.bracket);
        }
        void operator()(const IdleStaleFlow& d) const {
            w.field("idle_s", d.idle_s);
            w.field("threshold_s", d.threshold_s);
            write_bracket(d.bracket);
        }
        void operator()(const PayloadMatch& d) const {
            w.field("rule", rule_names().name(d.rule));
            w.field("direction", to_string(d.direction));
            w.field("stream_offset", d.stream_offset);
            if (d.tail_len != 0) w.field("matched_tail", payload_tail_text(d));
            if (std::uint8_t code = 0; tls_alert_code(d, code)) {
                w.field("tls_alert", static_cast<std::uint32_t>(code));
                w.field("tls_alert_name", tls_alert_name(code));
            }
            w.field("rule_matches", d.matches);
            w.field("scan_bytes", d.scan_bytes);
        }
        void operator()(const RstInjected& d) const {
            w.field("claims", to_string(d.claims));
            w.field("racing_handshake", to_string(d.race));
            w.field("rst_ttl", static_cast<std::uint32_t>(d.rst_ttl));
            w.field("rst_hops", static_cast<std::uint32_t>(d.rst_hops));
            w.field("peer_ttl_min", static_cast<std::uint32_t>(d.peer_ttl_min));
            w.field("peer_ttl_max", static_cast<std::uint32_t>(d.peer_ttl_max));
            w.field("peer_ttl_packets", static_cast<std::uint32_t>(d.peer_ttl_samples));
            w.field("peer_hops", static_cast<std::uint32_t>(d.peer_hops));
            w.field("ttl_mismatch", d.ttl_mismatch);
            w.field("ttl_one_hop", d.ttl_one_hop);
            w.field("ip_id_mismatch", d.ip_id_mismatch);
            w.field("rst_ip_id", static_cast<std::uint32_t>(d.rst_ip_id));
            w.field("peer_last_ip_id", static_cast<std::uint32_t>(d.peer_last_ip_id));
            if (d.race != RstRace::kNone) {
                w.field("rst_ack", d.rst_ack);
                w.field("expected_ack", d.expected_ack);
                w.field("ack_wrong", d.ack_wrong);
            }
        }
        void operator()(const PathOneWayLoss& d) const {
            w.field("sender", to_string(d.sender));
            w.field("lost_from", to_string(d.lost_from));
            w.field("shape", d.acknowledged ? "acknowledged_but_resent" : "unanswered_while_peer_sends");
            w.key("resent_range").begin_array().value(d.seq_from).value(d.seq_to).end_array();
            if (d.acknowledged) w.field("acknowledged_to", d.acked_to);
            w.field("retransmissions", d.retransmissions);
            w.field("threshold_retransmissions", d.threshold);
            w.field("first_retransmission", format_timestamp(d.first_retx_ns));
            w.field("last_retransmission", format_timestamp(d.last_retx_ns));
            w.key("span_s").value(seconds(d.last_retx_ns - d.first_retx_ns));
            if (d.rtt_us != 0) w.key("rtt_ms").value(d.rtt_us / 1e3);
        }
        void operator()(const WindowReceiverLimited& d) const {
            w.field("receiver", to_string(d.receiver));
            w.field("episodes", d.episodes);
            w.field("zero_window_episodes", d.zero_episodes);
            w.key("limited_s").value(d.limited_ms / 1e3);
            w.key("longest_episode_s").value(d.longest_ms / 1e3);
            w.key("transfer_s").value(d.transfer_ms / 1e3);
            w.field("share_percent", d.share_percent);
            w.field("window_at_last_episode", d.window);
            w.field("largest_window", d.max_window);
            w.field("threshold_episodes", d.threshold_episodes);
            w.field("threshold_percent", d.threshold_percent);
            w.field("warning_percent", d.warning_percent);
            w.field("at_flow_end", d.final);
        }
    };
    w.key("evidence").begin_object();
    std::visit(Visitor{w}, e.detail);
    if (e.packets.count != 0) {
        w.key("packets").begin_array();
        for (unsigned i = 0; i < e.packets.count; ++i) w.value(e.packets.nums[i]);
        w.end_array();
        if (origins != nullptr) {
            // Several inputs were merged: each packet's own file and frame number there.
            w.key("frames").begin_array();
            for (unsigned i = 0; i < e.packets.count; ++i) {
                const PacketOrigins::Origin o = origins->find(e.packets.nums[i]);
                w.begin_object();
                if (o.file != nullptr) w.field("file", *o.file).field("frame", o.frame);
                w.end_object();
            }
            w.end_array();
        }
        if (e.packets.total > e.packets.count) w.field("packets_total", e.packets.total);
    }
    if (e.occurrence > 1) w.field("occurrence", e.occurrence);
    w.end_object();
}

}  // namespace

namespace {

// Every member up to the flow, in the schema's order.
void write_event_head(JsonWriter& w, const Event& e) {
    w.begin_object();
    w.field("ts", format_timestamp(e.ts_ns));
    w.field("event", event_name(e));
    w.field("severity", to_string(e.severity));
    w.field("confidence", to_string(e.confidence));
    w.field("where", to_string(e.where));
    w.key("flow");
    if (e.flow_id == 0) {
        w.null();
    } else {
        const FlowEndpoints p = endpoints(e);
        w.begin_object();
        w.field("id", e.flow_id);
        w.field("proto", "tcp");
        if (e.app != 0) w.field("app", rule_names().name(e.app));
        w.field("client", p.client);
        w.field("client_port", static_cast<std::uint32_t>(p.client_port));
        w.field("server", p.server);
        w.field("server_port", static_cast<std::uint32_t>(p.server_port));
        if (e.key.vlan != 0) w.field("vlan", static_cast<std::uint32_t>(e.key.vlan));
        write_tunnel(w, e.tunnel.type != TunnelType::kNone ? &e.tunnel : nullptr, e.key);
        w.end_object();
    }
}

}  // namespace

std::string format_event_json(const Event& e, const PacketOrigins* origins, std::string_view evidence_pcap,
                              std::string_view plot) {
    std::string out;
    out.reserve(768);
    JsonWriter w(out);
    write_event_head(w, e);
    w.field("summary", event_summary(e));
    write_evidence(w, e, origins);
    if (!evidence_pcap.empty()) w.field("evidence_pcap", evidence_pcap);
    if (!plot.empty()) w.field("plot", plot);
    w.field("advice", event_advice(e));
    w.end_object();
    return out;
}

std::string format_probe_event_json(const Event& e, std::string_view summary,
                                    const std::function<void(JsonWriter&)>& more) {
    std::string out;
    JsonWriter w(out);
    write_event_head(w, e);
    w.field("summary", summary);
    write_evidence(w, e, nullptr);
    if (more) more(w);
    w.field("advice", event_advice(e));
    w.end_object();
    return out;
}

}  // namespace tcpsleuth
