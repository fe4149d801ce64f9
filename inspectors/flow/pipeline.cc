#include "inspectors/flow/pipeline.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "inspectors/flow/tcp_tracker.h"

namespace tcpsleuth {
namespace {

// A fresh record is all zero bytes, and ColdState has no padding, so a record whose words are
// all zero is fresh and any other is not: one pass of ORs over it (vectorised) tells a
// healthy packet, which wrote nothing, from one whose inspector began an episode.
static_assert(std::has_unique_object_representations_v<ColdState>, "padding would hide a write");
constexpr std::size_t kColdWords = sizeof(ColdState) / sizeof(std::uint64_t);
static_assert(sizeof(ColdState) % sizeof(std::uint64_t) == 0);
static_assert(std::bit_cast<std::array<std::uint64_t, kColdWords>>(ColdState{}) == std::array<std::uint64_t, kColdWords>{},
              "every member of a fresh ColdState must be zero");

bool is_fresh(const ColdState& c) noexcept {
    // Word by word from the record itself, one accumulator (a reduction the compiler
    // vectorizes): copying the record to an array first cost a 456-byte `rep movsq` per packet.
    const auto* bytes = reinterpret_cast<const unsigned char*>(&c);
    std::uint64_t any = 0;
    for (std::size_t i = 0; i < kColdWords; ++i) {
        std::uint64_t w;
        std::memcpy(&w, bytes + i * sizeof w, sizeof w);
        any |= w;
    }
    return any == 0;
}

}  // namespace

Pipeline::Pipeline(const Config& cfg, FlowTable& table, EventSink& sink, CoreCounters& counters) noexcept
    : cfg_(cfg), table_(table), sink_(sink), counters_(counters), syn_(cfg.handshake),
      zero_window_(cfg.zero_window), surge_(cfg.syn_surge), mtu_(cfg.mtu), options_(cfg.options, paths_),
      window_(cfg.window), ecn_(cfg.ecn, paths_), sack_(cfg.sack), idle_(cfg.idle, TtlRule{}, paths_), rst_(cfg.rst),
      one_way_(cfg.path), receiver_limited_(cfg.window, cfg.zero_window), payload_(cfg.payload) {
    idle_.reconfigure(cfg.idle, rst_.ttl_rule());
    history_.configure(cfg.history.packets, cfg.history.snap_bytes);
    clear_scratch();
}

void Pipeline::track(FlowState& flow) noexcept {
    sink_.track(flow.common.id, &flow.common.event_kinds, &flow.common.worst_event, tunnels_.get(flow.common.tunnel));
}

ColdState& Pipeline::cold_of(FlowState& flow) noexcept {
    ColdState* c = table_.cold(flow);
    return c != nullptr ? *c : scratch_;
}

void Pipeline::clear_scratch() noexcept { scratch_ = ColdState{}; }  // all zero bytes (no padding)

void Pipeline::keep_cold(FlowState& flow, ColdState& cold, std::uint64_t now_ns) noexcept {
    if (&cold != &scratch_) {
        if (is_fresh(cold)) table_.detach_cold(flow);
        return;
    }
    if (is_fresh(scratch_)) return;  // a healthy flow's packet: nearly always
    if (ColdState* record = table_.attach_cold(flow)) {
        std::memcpy(record, &scratch_, sizeof *record);
    } else {
        counters_.add(Counter::kFlowColdExhausted);
        report_cold_exhausted(flow, now_ns);
    }
    clear_scratch();
}

void Pipeline::report_cold_exhausted(const FlowState& flow, std::uint64_t now_ns) noexcept {
    if (!bump_and_should_report(cold_exhausted_reports_, cold_exhausted_next_)) return;
    emit_sensor_event(now_ns, cold_exhausted_reports_,
                      ColdRecordsExhausted{
                          .exhausted_total = table_.cold_exhausted(),
                          .records = table_.cold_capacity(),
                          .flow_id = flow.common.id,
                      });
}

void Pipeline::emit_sensor_event(std::uint64_t now_ns, std::uint32_t occurrence, const EventDetail& detail) noexcept {
    sink_.emit(sensor_event(now_ns, occurrence, detail));
}

void Pipeline::reconfigure(const Config& cfg) noexcept {
    const std::uint32_t capacity = cfg_.flows.capacity, cold_records = cfg_.flows.cold_records;
    const DecapConfig decap = cfg_.decap;
    const HistoryConfig history = cfg_.history;  // the ring was sized at start
    cfg_ = cfg;
    cfg_.decap = decap;
    cfg_.history = history;
    cfg_.flows.capacity = capacity;
    cfg_.flows.cold_records = cold_records;
    syn_.reconfigure(cfg.handshake);
    zero_window_.reconfigure(cfg.zero_window);
    surge_.reconfigure(cfg.syn_surge);
    mtu_.reconfigure(cfg.mtu);
    options_.reconfigure(cfg.options);
    window_.reconfigure(cfg.window);
    ecn_.reconfigure(cfg.ecn);
    sack_.reconfigure(cfg.sack);
    rst_.reconfigure(cfg.rst);
    idle_.reconfigure(cfg.idle, rst_.ttl_rule());
    one_way_.reconfigure(cfg.path);
    receiver_limited_.reconfigure(cfg.window, cfg.zero_window);
    payload_.reconfigure(cfg.payload);
}

void Pipeline::process_burst(const RawPacket* pkts, std::size_t n, LinkType link) noexcept {
    if (n > kBurst) n = kBurst;
    const std::uint64_t copy_window_ns = cfg_.decap.duplicate_window_us * 1000ull;
    const bool check_copies = copy_window_ns != 0;
    // Pass 1: parse, key, hash, prefetch the directory slot.
    for (std::size_t i = 0; i < n; ++i) {
        if (i + 3 < n) __builtin_prefetch(pkts[i + 3].data);
        PacketView& v = views_[i];
        v.ts_ns = pkts[i].ts_ns;
        v.number = pkts[i].number;
        v.wire_len = pkts[i].wire_len;
        const ParseStatus st = parse_packet(pkts[i].data, pkts[i].cap_len, link, v, cfg_.decap);
        status_[i] = st;
        counters_.add(Counter::kRxPackets);
        counters_.add(Counter::kRxBytes, v.wire_len);
        counters_.add(counter_for(st));
        if (v.encap_seen != 0) {
            count_encapsulation(v, st);
            if (v.tunnel_seq_valid && judge_mirror_sequences_) check_mirror_sequence(v);
        }
        if (v.truncated_copy) counters_.add(Counter::kParseTruncatedCopy);
        if (st == ParseStatus::kOk || st == ParseStatus::kBadTcpOption) {
            if (v.fragment) counters_.add(Counter::kParseFirstFragment);
            keys_[i] = make_flow_key(v, dirs_[i], cfg_.decap.tunnel_in_key);
        } else if (st == ParseStatus::kIcmpQuote) {
            keys_[i] = make_quoted_flow_key(v, dirs_[i], cfg_.decap.tunnel_in_key);
        } else {
            continue;
        }
        hashes_[i] = table_.hash(keys_[i]);
        table_.prefetch(hashes_[i]);
        if (history_.enabled()) history_.record(pkts[i].data, pkts[i].cap_len, v.wire_len, v.ts_ns, v.number, link, hashes_[i]);
        if (st != ParseStatus::kIcmpQuote && check_copies) {
            dup_probes_[i] = DuplicateFilter::probe(v, keys_[i], dirs_[i]);
            dups_.prefetch(dup_probes_[i]);
        }
    }
    // Pass 2: the directory slots are (mostly) in cache; prefetch the entries they name.
    for (std::size_t i = 0; i < n; ++i) {
        const ParseStatus st = status_[i];
        if (st == ParseStatus::kOk || st == ParseStatus::kBadTcpOption || st == ParseStatus::kIcmpQuote) {
            table_.prefetch_entry(hashes_[i]);
        }
    }
    // Pass 3: track and inspect, in arrival order.
    for (std::size_t i = 0; i < n; ++i) {
        switch (status_[i]) {
            case ParseStatus::kOk:
            case ParseStatus::kBadTcpOption:
                if (check_copies && dups_.is_copy(views_[i], dup_probes_[i], copy_window_ns)) {
                    counters_.add(Counter::kFlowMirrorDuplicates);
                    break;
                }
                handle_tcp(pkts[i].data, views_[i], keys_[i], dirs_[i], hashes_[i], pkts[i].steer);
                break;
            case ParseStatus::kIcmpQuote:
                handle_icmp(views_[i], keys_[i], dirs_[i], hashes_[i]);
                break;
            case ParseStatus::kTruncated:
            case ParseStatus::kNotIp:
            case ParseStatus::kBadL2:
            case ParseStatus::kBadIpHeader:
            case ParseStatus::kBadIpLength:
            case ParseStatus::kBadIpv6Ext:
            case ParseStatus::kFragment:
            case ParseStatus::kNotTcp:
            case ParseStatus::kBadTcpHeader:
            case ParseStatus::kBadIcmp:
            case ParseStatus::kBadTunnel:
            case ParseStatus::kTooDeep:
                break;  // counted in pass 1
        }
    }
    if (n != 0) sweep(pkts[n - 1].ts_ns, cfg_.flows.sweep_budget);
}

void Pipeline::count_encapsulation(const PacketView& v, ParseStatus st) noexcept {
    for (unsigned t = 1; t < kTunnelTypeCount; ++t) {
        if ((v.encap_seen >> t) & 1) counters_.add(decap_counter(static_cast<TunnelType>(t), false));
    }
    if (st == ParseStatus::kBadTunnel) counters_.add(decap_counter(v.encap_failed, true));
}

void Pipeline::check_mirror_sequence(const PacketView& v) noexcept {
    const MirrorSequences::Session* s = nullptr;
    const std::uint32_t gap = mirror_sequences_.on_packet(v, s);
    if (gap == 0) return;
    counters_.add(Counter::kDecapMirrorLost, gap);
    if (!bump_and_should_report(mirror_loss_reports_, mirror_loss_next_)) return;
    emit_sensor_event(v.ts_ns, mirror_loss_reports_,
                      MirrorLoss{
                          .lost_total = s->lost,
                          .received_total = s->received,
                          .session = s->id,
                          .gap = gap,
                          .type = s->type,
                          .outer_ip_version = s->outer_ip_version,
                          .outer_src = s->outer_src,
                          .outer_dst = s->outer_dst,
                      });
}

void Pipeline::handle_tcp(const std::uint8_t* frame, const PacketView& pkt, const FlowKey& key, Dir dir,
                          std::uint64_t hash, std::uint32_t steer) noexcept {
    const auto found = table_.find_or_insert(key, hash, [&](FlowState& victim) { on_evict(victim, pkt.ts_ns); });
    FlowState& flow = *found.flow;
    if (found.created) {
        counters_.add(Counter::kFlowCreated);
        track_new_flow(pkt, dir, flow.common, counters_);
        if (!pkt.fragment) flow.common.steer = steer;
        if (pkt.tunnel != TunnelType::kNone) {
            flow.common.tunnel = tunnels_.intern(tunnel_of(pkt));
            if (flow.common.tunnel == 0) counters_.add(Counter::kDecapTunnelsUnrecorded);
        }
    } else if (steer != 0 && !pkt.fragment && flow.common.steer != steer) {
        // A NIC hashes a first fragment by its addresses only, so fragments are not compared.
        if (flow.common.steer == 0) {
            flow.common.steer = steer;
        } else {
            counters_.add(Counter::kFlowWrongCore);
        }
    }
    const SegmentInfo seg = track_segment(pkt, dir, flow.common, counters_);
    table_.note_activity(flow);
    ColdState& cold = cold_of(flow);
    if (seg.new_connection) restart_connection(flow, cold);
    track(flow);
    // Payload first: a tag it finds names the application in the findings below.
    payload_.on_segment(frame, pkt, seg, flow.common, flow.payload, sink_, counters_);
    // The inspectors, in a fixed order. Each touches only its own state.
    const FlowCommon& c = flow.common;
    syn_.on_packet(pkt, seg, c, flow.syn, sink_);
    zero_window_.on_packet(pkt, seg, c, cold.zero_window, sink_);
    surge_.on_packet(pkt, seg, c, sink_);
    mtu_.on_packet(pkt, seg, c, flow.mtu, cold.mtu, sink_);
    options_.on_packet(pkt, seg, c, cold.options, sink_);
    if (const WindowInspector::Mismatch m = window_.on_packet(pkt, seg, c, cold.window, sink_); m.reported) {
        options_.on_far_end(c, cold.options, OptionKind::kWscale, m.scaling, m.where, m.segments, pkt.ts_ns,
                            pkt.number, sink_);
    }
    ecn_.on_packet(pkt, seg, c, flow.ecn, cold.ecn, sink_);
    sack_.on_packet(pkt, seg, c, cold.sack, sink_);
    idle_.on_packet(pkt, seg, c, flow.idle, cold.idle, sink_);
    rst_.on_packet(pkt, seg, c, cold.rst, sink_);
    std::uint16_t delivered[2];
    MtuInspector::delivered_payload(flow.mtu, delivered);
    one_way_.on_packet(pkt, seg, c, delivered, flow.one_way, cold.one_way, sink_);
    receiver_limited_.on_packet(pkt, seg, c, flow.receiver_limited, cold.receiver_limited, sink_);
    keep_cold(flow, cold, pkt.ts_ns);
    sink_.untrack();
}

void Pipeline::handle_icmp(const PacketView& pkt, const FlowKey& key, Dir dir, std::uint64_t hash) noexcept {
    if (pkt.icmp.frag_needed) counters_.add(Counter::kIcmpFragNeeded);
    FlowState* flow = table_.find(key, hash);
    if (flow == nullptr) {
        counters_.add(Counter::kIcmpUnmatched);
        return;
    }
    counters_.add(Counter::kIcmpMatched);
    track_icmp(pkt, flow->common);
    track(*flow);
    ColdState& cold = cold_of(*flow);
    mtu_.on_icmp(pkt, dir, flow->common, cold.mtu, sink_);
    keep_cold(*flow, cold, pkt.ts_ns);
    sink_.untrack();
}

std::uint64_t Pipeline::idle_timeout_ns(const FlowCommon& flow) const noexcept {
    std::uint32_t s = cfg_.flows.established_timeout_s;
    switch (flow.state) {
        case TcpState::kSynSent:
        case TcpState::kSynReceived: s = cfg_.flows.handshake_timeout_s; break;
        case TcpState::kEstablished:
        case TcpState::kMidstream: s = cfg_.flows.established_timeout_s; break;
        case TcpState::kClosing: s = cfg_.flows.closing_timeout_s; break;
        case TcpState::kClosed: s = cfg_.flows.closed_timeout_s; break;
    }
    return s * 1'000'000'000ull;
}

void Pipeline::sweep(std::uint64_t now_ns, std::size_t budget) noexcept {
    const auto is_idle = [&](const FlowState& f) {
        return now_ns > f.common.last_ns && now_ns - f.common.last_ns > idle_timeout_ns(f.common);
    };
    const auto on_expire = [&](FlowState& f) {
        counters_.add(Counter::kFlowExpired);
        end_flow(f, f.common.last_ns);
    };
    const auto on_kept = [&](FlowState& f) {
        if (!idle_.stale_due(f.common, now_ns)) return;  // nearly every visit: nothing to do
        track(f);
        ColdState& cold = cold_of(f);
        idle_.on_quiet(f.common, cold.idle, sink_, now_ns);
        keep_cold(f, cold, now_ns);
        sink_.untrack();
    };
    // An entry matters to this sweep once it has been quiet for the shortest state timeout
    // or the stale report's threshold; the others are passed over unread.
    const FlowConfig& t = cfg_.flows;
    const std::uint64_t quiet_s = std::min({t.handshake_timeout_s, t.established_timeout_s, t.closing_timeout_s,
                                            t.closed_timeout_s, cfg_.idle.stale_after_s});
    table_.expire_some(budget, {.now_ns = now_ns, .quiet_ns = quiet_s * 1'000'000'000ull}, is_idle, on_expire, on_kept);
}

void Pipeline::end_flow(FlowState& flow, std::uint64_t now_ns) noexcept {
    // The flow leaves the table after this: its record goes back with it (FlowTable::remove),
    // and what the inspectors write to the scratch is dropped.
    ColdState& cold = cold_of(flow);
    track(flow);
    syn_.on_flow_end(flow.common, flow.syn, sink_, now_ns);
    zero_window_.on_flow_end(flow.common, cold.zero_window, sink_, now_ns);
    idle_.on_flow_end(flow.common, flow.idle, cold.idle, sink_, now_ns);
    rst_.on_flow_end(flow.common, cold.rst, sink_, now_ns);
    mtu_.on_flow_end(flow.common, flow.mtu, cold.mtu, sink_, now_ns);
    receiver_limited_.on_flow_end(flow.common, flow.receiver_limited, cold.receiver_limited, sink_);
    surge_.on_flow_end(flow.common);
    payload_.on_flow_end(flow.payload);
    track_flow_end(flow.common, counters_);
    sink_.untrack();
    if (&cold == &scratch_) clear_scratch();
}

void Pipeline::on_evict(FlowState& victim, std::uint64_t now_ns) noexcept {
    counters_.add(Counter::kFlowEvicted);
    // The victim's findings are reported as if it had ended now; it is gone after this.
    end_flow(victim, now_ns);
    if (!bump_and_should_report(table_full_reports_, table_full_next_)) return;
    emit_sensor_event(now_ns, table_full_reports_,
                      FlowTableFull{
                          .evicted_total = table_.evictions() + 1,
                          .capacity = table_.capacity(),
                          .victim_idle_ns = now_ns > victim.common.last_ns ? now_ns - victim.common.last_ns : 0,
                          .victim_flow_id = victim.common.id,
                      });
}

}  // namespace tcpsleuth
