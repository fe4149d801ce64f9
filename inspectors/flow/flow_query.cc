#include "inspectors/flow/flow_query.h"

#include <algorithm>

#include "inspectors/flow/flow_table.h"

namespace tcpsleuth {

std::uint64_t payload_bytes(const FlowCommon& f, Dir d) noexcept {
    const DirState& s = f.dir[index(d)];
    if (!s.has(kDirSawSyn)) return 0;
    // SYN and FIN each take one sequence number (RFC 9293 section 3.4).
    std::uint32_t span = s.snd_nxt.raw() - s.isn.raw();
    if (span > 0) --span;
    if (s.has(kDirSawFin) && span > 0) --span;
    return span;
}

bool flow_matches(const FlowCommon& f, const FlowFilter& q) noexcept {
    if (q.has_addr && f.key.addr_lo != q.addr && f.key.addr_hi != q.addr) return false;
    if (q.port != 0 && f.key.port_lo != q.port && f.key.port_hi != q.port) return false;
    if (q.event_kinds != 0 && (f.event_kinds & q.event_kinds) == 0) return false;
    if (q.min_severity != 0 && f.worst_event < q.min_severity) return false;
    if (q.app != 0 && f.app != q.app) return false;
    return true;
}

FlowSummary summarize(const FlowCommon& f, const TunnelBook* tunnels) noexcept {
    FlowSummary s;
    if (const TunnelInfo* t = tunnels != nullptr ? tunnels->get(f.tunnel) : nullptr) s.tunnel = *t;
    s.key = f.key;
    s.id = f.id;
    s.first_ns = f.first_ns;
    s.last_ns = f.last_ns;
    s.event_kinds = f.event_kinds;
    s.worst_event = f.worst_event;
    s.app = f.app;
    s.state = f.state;
    s.flags = f.flags;
    s.client_is_lo = f.client_is_lo();
    s.rtt_us = f.rtt_syn_us != 0 && f.rtt_ack_us != 0 ? f.rtt_syn_us + f.rtt_ack_us : 0;
    for (unsigned d = 0; d < 2; ++d) {
        s.bytes[d] = payload_bytes(f, static_cast<Dir>(d));
        s.retransmissions[d] = f.dir[d].retransmissions;
        s.window[d] = f.dir[d].window;
        s.zero_window[d] = f.dir[d].has(kDirZeroWindow) ? 1 : 0;
    }
    return s;
}

bool sorts_before(const FlowSummary& a, const FlowSummary& b, FlowSort s) noexcept {
    switch (s) {
        case FlowSort::kLastSeen:
            if (a.last_ns != b.last_ns) return a.last_ns > b.last_ns;
            break;
        case FlowSort::kFirstSeen:
            if (a.first_ns != b.first_ns) return a.first_ns < b.first_ns;
            break;
        case FlowSort::kBytes: {
            const std::uint64_t x = a.bytes[0] + a.bytes[1], y = b.bytes[0] + b.bytes[1];
            if (x != y) return x > y;
            break;
        }
        case FlowSort::kRetransmissions: {
            const std::uint64_t x = a.retransmissions[0] + a.retransmissions[1];
            const std::uint64_t y = b.retransmissions[0] + b.retransmissions[1];
            if (x != y) return x > y;
            break;
        }
        case FlowSort::kId: break;
    }
    return a.id < b.id;  // ties: a stable, total order
}

const FlowState* find_flow_id(const FlowTable& table, std::uint32_t id, std::uint32_t& cursor, std::uint32_t budget) noexcept {
    const std::uint32_t end = std::min(table.slots(), cursor + budget);
    for (; cursor < end; ++cursor) {
        const FlowState* f = table.slot(cursor);
        if (f != nullptr && f->common.id == id) return f;
    }
    return nullptr;
}

void FlowScan::start(const FlowQuery& q) noexcept {
    q_ = q;
    q_.limit = std::min(q_.limit, FlowQuery::kMaxLimit);
    cursor_ = 0;
    matched_ = 0;
    top_.clear();
}

bool FlowScan::step(const FlowTable& table, std::uint32_t budget, const TunnelBook* tunnels) noexcept {
    // The heap keeps the `limit` best seen so far with the worst of them on top, so each
    // candidate costs one comparison unless it belongs in the answer.
    const auto worse = [this](const FlowSummary& a, const FlowSummary& b) { return sorts_before(a, b, q_.sort); };
    const std::uint32_t end = table.slots();
    for (std::uint32_t n = 0; n < budget && cursor_ < end; ++n, ++cursor_) {
        const FlowState* f = table.slot(cursor_);
        if (f == nullptr || !flow_matches(f->common, q_.filter)) continue;
        ++matched_;
        if (q_.limit == 0) continue;
        const FlowSummary s = summarize(f->common, tunnels);
        if (top_.size() < q_.limit) {
            top_.push_back(s);  // within the capacity reserved at construction
            std::push_heap(top_.begin(), top_.end(), worse);
        } else if (sorts_before(s, top_.front(), q_.sort)) {
            std::pop_heap(top_.begin(), top_.end(), worse);
            top_.back() = s;
            std::push_heap(top_.begin(), top_.end(), worse);
        }
    }
    return cursor_ >= end;
}

const std::vector<FlowSummary>& FlowScan::sorted() noexcept {
    std::sort_heap(top_.begin(), top_.end(), [this](const FlowSummary& a, const FlowSummary& b) {
        return sorts_before(a, b, q_.sort);
    });
    return top_;
}

}  // namespace tcpsleuth
