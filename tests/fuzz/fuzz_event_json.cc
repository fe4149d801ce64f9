// libFuzzer target: the event formatter. Any event a detector can make (any kind, any
// values in its fields' ranges: an enum one of its names, a packet list within its
// capacity, a payload tail within its buffer) formats to one line of valid JSON naming its
// kind, with a summary and advice (check_event.h), with and without an evidence file.

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <variant>

#include "inspectors/output/events.h"
#include "tests/fuzz/check_event.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace tcpsleuth;
using fuzz::FuzzInput;

// The largest value of each enum an event holds: fuzzed values stay among the named ones.
template <typename E> constexpr unsigned enum_max();
template <> constexpr unsigned enum_max<Severity>() { return 2; }
template <> constexpr unsigned enum_max<Confidence>() { return 2; }
template <> constexpr unsigned enum_max<Where>() { return 2; }
template <> constexpr unsigned enum_max<Side>() { return 1; }
template <> constexpr unsigned enum_max<OptionKind>() { return 3; }
template <> constexpr unsigned enum_max<StackGuess>() { return 4; }
template <> constexpr unsigned enum_max<RstRace>() { return 3; }
template <> constexpr unsigned enum_max<TunnelType>() { return kTunnelTypeCount - 1; }

template <typename T>
void fill(FuzzInput& in, T& v) requires std::is_integral_v<T> {
    if constexpr (std::is_same_v<T, bool>) {
        v = in.boolean();
    } else {
        v = in.integer<T>();
    }
}
template <typename E>
void fill(FuzzInput& in, E& v) requires std::is_enum_v<E> {
    v = static_cast<E>(in.below_or_equal(enum_max<E>()));
}
template <typename T, std::size_t N>
void fill(FuzzInput& in, std::array<T, N>& a) {
    for (T& v : a) fill(in, v);
}
template <std::size_t N>
void fill(FuzzInput& in, char (&a)[N]) {
    for (char& c : a) c = static_cast<char>(in.integer<std::uint8_t>());
}
// Members that are structs themselves, declared before fill_all() uses them.
void fill(FuzzInput& in, IdleBracket& d);
void fill(FuzzInput& in, GapJudgement& d);

template <typename... T>
void fill_all(FuzzInput& in, T&... fields) {
    (fill(in, fields), ...);
}

// One line per struct of events.h, every field named: a field added there and not here
// keeps its default (not fuzzed); a kind added there fails the static_assert below.
void fill(FuzzInput& in, IdleBracket& d) { fill_all(in, d.survived_max_s, d.killed_min_s); }
void fill(FuzzInput& in, GapJudgement& d) { fill_all(in, d.gap_ms, d.needed_ms, d.lived_ms, d.rtt_us); }
void fill(FuzzInput& in, SynUnanswered& d) { fill_all(in, d.syns, d.isn, d.first_syn_ns, d.last_syn_ns, d.app_retries, d.ecn_setup, d.final); }
void fill(FuzzInput& in, ZeroWindowStall& d) { fill_all(in, d.since_ns, d.duration_ns, d.probes, d.stall_number, d.threshold_ms, d.min_probes, d.bytes_waiting, d.slow_side, d.ongoing); }
void fill(FuzzInput& in, FlowTableFull& d) { fill_all(in, d.evicted_total, d.capacity, d.victim_idle_ns, d.victim_flow_id); }
void fill(FuzzInput& in, SynDropSurge& d) { fill_all(in, d.window_s, d.attempts, d.failures, d.destinations, d.baseline_percent, d.established_active, d.concurrent_now, d.concurrent_min, d.concurrent_max, d.episode, d.threshold_failures, d.threshold_percent); }
void fill(FuzzInput& in, MtuBlackhole& d) { fill_all(in, d.sender, d.confirmed, d.capture_ended, d.icmp_seen, d.delivered_after, d.lost_payload, d.lost_ip_len, d.delivered_payload, d.delivered_ip_len, d.carried_ip_len, d.retransmissions, d.icmp_mtu, d.threshold, d.waited_ms); }
void fill(FuzzInput& in, IcmpFragNeeded& d) { fill_all(in, d.sender, d.ignored, d.mtu, d.quoted_ip_len, d.larger_after, d.messages, d.threshold); }
void fill(FuzzInput& in, OptionsStripped& d) { fill_all(in, d.option, d.side, d.evidence, d.stack, d.layout, d.other_clients, d.far_end_segments); }
void fill(FuzzInput& in, OptionsNotNegotiated& d) { fill_all(in, d.option, d.offered_by, d.server_flows, d.server_agreed); }
void fill(FuzzInput& in, WindowScaleMismatch& d) { fill_all(in, d.scaling_side, d.nop_fill, d.reader_capped, d.syn_window, d.smallest_window, d.largest_window, d.tiny_windows, d.mss, d.threshold, d.max_flight, d.shift); }
void fill(FuzzInput& in, WindowLimited& d) { fill_all(in, d.receiver, d.client_offered, d.server_offered, d.window, d.flight, d.rounds, d.rtt_us, d.threshold_rounds, d.threshold_percent); }
void fill(FuzzInput& in, EcnSynBlackhole& d) { fill_all(in, d.ecn_syns, d.waited_ms, d.server_flows, d.server_ecn_answered); }
void fill(FuzzInput& in, EcnNotNegotiated& d) { fill_all(in, d.synack_ece, d.synack_cwr, d.server_flows); }
void fill(FuzzInput& in, EcnBleached& d) { fill_all(in, d.sender, d.not_ect, d.ect, d.threshold); }
void fill(FuzzInput& in, EcnCeErased& d) { fill_all(in, d.sender, d.ce_segments, d.acks_without_ece, d.threshold); }
void fill(FuzzInput& in, SackInvalidBlocks& d) { fill_all(in, d.receiver, d.stable, d.acks, d.offset, d.offset_spread, d.left, d.right, d.ack, d.sender_nxt, d.threshold); }
void fill(FuzzInput& in, SackUnnegotiated& d) { fill_all(in, d.receiver, d.receiver_syn_had_perm, d.sender_syn_had_perm, d.acks); }
void fill(FuzzInput& in, SackMissing& d) { fill_all(in, d.receiver, d.dup_acks, d.sender_retransmissions, d.threshold); }
void fill(FuzzInput& in, IdleTimeoutDrop& d) { fill_all(in, d.first_sender, d.keepalive, d.capture_ended, d.gap_ms, d.retransmissions, d.threshold, d.judged, d.bracket); }
void fill(FuzzInput& in, IdleResetAfterIdle& d) { fill_all(in, d.rst_claims, d.prompted, d.ttl_matches, d.one_hop, d.rst_ttl, d.peer_ttl_min, d.peer_ttl_max, d.gap_ms, d.judged, d.bracket); }
void fill(FuzzInput& in, IdleKeepaliveTooSlow& d) { fill_all(in, d.sender, d.died, d.interval_ms, d.bracket); }
void fill(FuzzInput& in, IdleStaleFlow& d) { fill_all(in, d.idle_s, d.threshold_s, d.bracket); }
void fill(FuzzInput& in, RstInjected& d) { fill_all(in, d.claims, d.race, d.ttl_mismatch, d.ttl_one_hop, d.ip_id_mismatch, d.ack_wrong, d.rst_ttl, d.peer_ttl_min, d.peer_ttl_max, d.rst_hops, d.peer_hops, d.peer_ttl_samples, d.rst_ip_id, d.peer_last_ip_id, d.rst_ack, d.expected_ack); }
void fill(FuzzInput& in, PayloadMatch& d) { fill_all(in, d.rule, d.direction, d.tail_len, d.matches, d.stream_offset, d.scan_bytes, d.tail); }
void fill(FuzzInput& in, PathOneWayLoss& d) { fill_all(in, d.sender, d.lost_from, d.acknowledged, d.retransmissions, d.threshold, d.seq_from, d.seq_to, d.acked_to, d.first_retx_ns, d.last_retx_ns, d.rtt_us); }
void fill(FuzzInput& in, WindowReceiverLimited& d) { fill_all(in, d.receiver, d.episodes, d.zero_episodes, d.limited_ms, d.longest_ms, d.transfer_ms, d.share_percent, d.window, d.max_window, d.threshold_episodes, d.threshold_percent, d.warning_percent, d.final); }
void fill(FuzzInput& in, ColdRecordsExhausted& d) { fill_all(in, d.exhausted_total, d.records, d.flow_id); }
void fill(FuzzInput& in, MirrorLoss& d) {
    fill_all(in, d.lost_total, d.received_total, d.session, d.gap, d.type, d.outer_ip_version, d.outer_src, d.outer_dst);
}
void fill(FuzzInput& in, SensorPacketsDropped& d) {
    fill_all(in, d.rx_packets, d.rx_missed, d.rx_nombuf, d.tx_dropped, d.ring_full, d.since_last);
}
void fill(FuzzInput& in, SensorEventsLost& d) {
    fill_all(in, d.lost_total, d.unwritten_total, d.emitted_total, d.since_last, d.ring_size);
}
static_assert(std::variant_size_v<EventDetail> == 29, "a new event kind needs its fill() here");

void fill(FuzzInput& in, FlowKey& k) {
    fill_all(in, k.addr_lo, k.addr_hi, k.port_lo, k.port_hi, k.vlan, k.proto, k.ip_version, k.tunnel_id, k.tunnel_type);
}
void fill(FuzzInput& in, TunnelInfo& t) { fill_all(in, t.outer_src, t.outer_dst, t.id, t.overhead, t.type, t.outer_ip_version); }

// The detail of kind `index`, filled.
template <std::size_t... I>
EventDetail make_detail(FuzzInput& in, std::size_t index, std::index_sequence<I...>) {
    EventDetail out;
    ((index == I ? (void)[&] {
        std::variant_alternative_t<I, EventDetail> d{};
        fill(in, d);
        out = d;
    }() : (void)0), ...);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzInput in(data, size);
    Event e;
    const std::size_t kind = in.below_or_equal(std::variant_size_v<EventDetail> - 1);
    fill_all(in, e.flow_id, e.ts_ns, e.client_is_lo, e.severity, e.confidence, e.where, e.occurrence, e.app);
    fill(in, e.key);
    fill(in, e.tunnel);
    const unsigned packets = in.below_or_equal(2 * PacketList::kMax);  // add() keeps the first few and the last
    for (unsigned i = 0; i < packets; ++i) e.packets.add(in.integer<std::uint32_t>());
    e.detail = make_detail(in, kind, std::make_index_sequence<std::variant_size_v<EventDetail>>{});
    if (auto* match = std::get_if<PayloadMatch>(&e.detail)) match->tail_len %= PayloadMatch::kTailMax + 1;
    fuzz::check_event(e);
    fuzz::check_event(e, "evidence/flow \"7\".pcapng");
    return 0;
}
