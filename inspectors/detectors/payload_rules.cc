#include "inspectors/detectors/payload_rules.h"

#include <hs/hs.h>

#include <algorithm>
#include <cstring>

#include "config/rules.h"
#include "inspectors/output/event_builder.h"

namespace tcpsleuth {

const char* to_string(ScanStatus s) noexcept {
    switch (s) {
        case ScanStatus::kNotStarted: return "not_started";
        case ScanStatus::kScanning: return "scanning";
        case ScanStatus::kDone: return "done";
        case ScanStatus::kClosed: return "closed";
        case ScanStatus::kGap: return "gap";
        case ScanStatus::kNoStream: return "pool_exhausted";
        case ScanStatus::kMidstream: return "midstream";
        case ScanStatus::kEnded: return "ended";
    }
    return "?";
}

// What the match callback needs to know about the bytes it was handed.
struct PayloadScanner::MatchContext {
    PayloadScanner* self;
    FlowCommon* flow;
    State* st;
    EventSink* sink;
    CoreCounters* counters;
    const std::uint8_t* chunk;   // the bytes being scanned (null at end of stream)
    std::uint32_t chunk_len;
    std::uint64_t chunk_start;   // stream offset of chunk[0]
    std::uint64_t ts_ns;
    std::uint64_t number;
    unsigned side;
};

PayloadScanner::PayloadScanner(const PayloadConfig& cfg) noexcept { reconfigure(cfg); }

PayloadScanner::~PayloadScanner() { release(); }

void PayloadScanner::reconfigure(const PayloadConfig& cfg) noexcept {
    const bool rebuild = cfg.rules != rules_ || cfg.streams != pool_size_ || cfg.enabled != cfg_.enabled;
    // The streams go back while their database is still held: it may be freed below.
    if (rebuild) release();
    cfg_ = cfg;
    if (!rebuild) return;
    rules_ = cfg.rules;
    pool_size_ = cfg.streams;
    build();
}

void PayloadScanner::release() noexcept {
    for (Pool& p : pool_) {
        for (hs_stream* s : p.streams) hs_close_stream(s, nullptr, nullptr, nullptr);
        p.streams.clear();
        p.free_slots.clear();
        p.free_count = 0;
    }
    hs_free_scratch(scratch_);
    scratch_ = nullptr;
    memory_bytes_ = 0;
}

void PayloadScanner::build() noexcept {
    release();
    // Streams of the previous rules are gone: flows still holding one notice by the
    // generation and stop scanning.
    if (++generation_ == 0) generation_ = 1;
    if (!cfg_.enabled || rules_ == nullptr) return;
    bool ok = true;
    for (unsigned side = 0; side < 2 && ok; ++side) {
        if (const hs_database* db = rules_->database(side)) ok = hs_alloc_scratch(db, &scratch_) == HS_SUCCESS;
    }
    for (unsigned side = 0; side < 2 && ok; ++side) {
        const hs_database* db = rules_->database(side);
        if (db == nullptr) continue;
        Pool& p = pool_[side];
        p.streams.assign(pool_size_, nullptr);
        p.free_slots.resize(pool_size_);
        for (std::uint32_t i = 0; i < pool_size_ && ok; ++i) {
            ok = hs_open_stream(db, 0, &p.streams[i]) == HS_SUCCESS;
            p.free_slots[i] = pool_size_ - 1 - i;  // hand out slot 0 first
        }
        p.free_count = pool_size_;
        memory_bytes_ += static_cast<std::size_t>(pool_size_) * rules_->stream_bytes(side);
    }
    std::size_t scratch_bytes = 0;
    if (ok && scratch_ != nullptr && hs_scratch_size(scratch_, &scratch_bytes) == HS_SUCCESS) memory_bytes_ += scratch_bytes;
    if (!ok) {
        // Out of memory for the pool: scan nothing rather than half.
        for (Pool& p : pool_) std::erase(p.streams, nullptr);
        release();
        rules_ = nullptr;
    }
}

std::size_t PayloadScanner::stream_bytes_per_flow() const noexcept {
    return active() ? rules_->stream_bytes(0) + rules_->stream_bytes(1) : 0;
}

void PayloadScanner::clear_tally(State& st) noexcept {
    std::fill(std::begin(st.tally), std::end(st.tally), State::Tally{});
    st.other = 0;
}

void PayloadScanner::adopt(State& st, CoreCounters* counters) noexcept {
    for (unsigned side = 0; side < 2; ++side) {
        if (st.status[side] == ScanStatus::kScanning) {
            st.status[side] = ScanStatus::kEnded;
            if (counters != nullptr) counters->add(Counter::kPayloadReloadEnded);
        }
        st.slot[side] = 0;
    }
    clear_tally(st);
    st.generation = generation_;
}

void PayloadScanner::end_side(State& st, unsigned side, ScanStatus why, MatchContext* eod) noexcept {
    if (st.slot[side] != 0) {
        Pool& p = pool_[side];
        const std::uint32_t slot = st.slot[side] - 1;
        // Back to its initial state for the next flow. At a FIN, patterns anchored at the
        // end ($) get their chance first.
        hs_reset_stream(p.streams[slot], 0, eod != nullptr ? scratch_ : nullptr, eod != nullptr ? on_match : nullptr, eod);
        p.free_slots[p.free_count++] = slot;
        st.slot[side] = 0;
    }
    st.status[side] = why;
}

void PayloadScanner::restart(State& st, FlowCommon& c) noexcept {
    // A new connection on the 4-tuple (the port reused, or an application retry): its
    // streams start at its own ISNs, and it names its own application.
    for (unsigned side = 0; side < 2; ++side) end_side(st, side, ScanStatus::kNotStarted, nullptr);
    clear_tally(st);
    st.app_from_user = 0;
    c.app = 0;
}

void PayloadScanner::on_flow_end(State& st) noexcept {
    if (st.generation != generation_) return;  // its streams belonged to replaced rules
    for (unsigned side = 0; side < 2; ++side) {
        if (st.slot[side] != 0) end_side(st, side, ScanStatus::kEnded, nullptr);
    }
}

void PayloadScanner::on_segment(const std::uint8_t* frame, const PacketView& pkt, const SegmentInfo& seg, FlowCommon& c,
                                State& st, EventSink& sink, CoreCounters& counters) noexcept {
    if (!active()) return;
    if (st.generation != generation_) adopt(st, &counters);
    if (seg.new_connection) restart(st, c);
    const unsigned side = seg.from_client ? 0 : 1;
    ScanStatus& status = st.status[side];
    if (status != ScanStatus::kNotStarted && status != ScanStatus::kScanning) return;
    const std::uint32_t len = pkt.payload_len;
    const bool fin = pkt.has_flag(kFin);
    // A RST's payload is diagnostic text, not stream data (RFC 9293 section 3.5.3).
    if (pkt.has_flag(kRst) || (len == 0 && !(fin && status == ScanStatus::kScanning))) return;
    if (rules_->database(side) == nullptr) return;

    const DirState& d = c.dir[static_cast<unsigned>(seg.dir)];
    if (status == ScanStatus::kNotStarted) {
        // Offsets count from the byte after the ISN: without the SYN they are unknown, and
        // rules anchored at the start would match the middle of a stream.
        if (c.has(kFlowMidstream) || !d.has(kDirSawSyn)) {
            status = ScanStatus::kMidstream;
            counters.add(Counter::kPayloadMidstream);
            return;
        }
        st.next[side] = d.isn + 1;
    }
    Seq& next = st.next[side];
    const Seq data_seq = Seq(pkt.tcp.seq) + (pkt.has_flag(kSyn) ? 1u : 0u);
    const Seq end = data_seq + len;
    if (after(data_seq, next)) {
        // Bytes before this segment have not passed the sensor (yet): a hole.
        counters.add(Counter::kPayloadGaps);
        end_side(st, side, ScanStatus::kGap, nullptr);
        return;
    }
    if (len != 0 && !after(end, next)) {
        counters.add(Counter::kPayloadRetransmittedBytes, len);  // all scanned before
        return;
    }
    const std::uint32_t skip = static_cast<std::uint32_t>(next - data_seq);
    if (skip != 0) counters.add(Counter::kPayloadRetransmittedBytes, skip);
    const std::uint32_t offset = scanned(st, side, d);
    const std::uint32_t room = cfg_.scan_bytes > offset ? cfg_.scan_bytes - offset : 0;
    std::uint32_t n = std::min(len - skip, room);
    // What the capture holds of the payload (a snap length, or a first fragment) and not
    // the Ethernet padding after it.
    const std::uint32_t payload_at = static_cast<std::uint32_t>(pkt.l4_offset) + pkt.tcp.header_len;
    const std::uint32_t captured =
        pkt.fragment ? 0 : std::min(len, pkt.cap_len > payload_at ? pkt.cap_len - payload_at : 0u);
    const bool cut = captured < skip + n;
    if (cut) n = captured > skip ? captured - skip : 0;

    MatchContext m{this, &c, &st, &sink, &counters, frame + payload_at + skip, n, offset, pkt.ts_ns, pkt.number, side};
    if (n != 0) {
        if (status == ScanStatus::kNotStarted) {
            Pool& p = pool_[side];
            if (p.free_count == 0) {
                status = ScanStatus::kNoStream;
                counters.add(Counter::kPayloadPoolExhausted);
                return;
            }
            st.slot[side] = p.free_slots[--p.free_count] + 1;
            status = ScanStatus::kScanning;
            counters.add(Counter::kPayloadStreams);
        }
        hs_stream* stream = pool_[side].streams[st.slot[side] - 1];
        if (hs_scan_stream(stream, reinterpret_cast<const char*>(m.chunk), n, 0, scratch_, on_match, &m) != HS_SUCCESS) {
            counters.add(Counter::kPayloadScanErrors);
            end_side(st, side, ScanStatus::kEnded, nullptr);
            return;
        }
        next = next + n;
        counters.add(Counter::kPayloadScannedBytes, n);
    }
    if (cut) {
        counters.add(Counter::kPayloadTruncated);
        end_side(st, side, ScanStatus::kGap, nullptr);
    } else if (offset + n >= cfg_.scan_bytes) {
        counters.add(Counter::kPayloadScanLimit);
        end_side(st, side, ScanStatus::kDone, nullptr);
    } else if (fin && next == end && status == ScanStatus::kScanning) {
        m.chunk = nullptr;
        m.chunk_len = 0;
        m.chunk_start = offset + n;
        end_side(st, side, ScanStatus::kClosed, &m);
    }
}

int PayloadScanner::on_match(unsigned id, unsigned long long /*from*/, unsigned long long to, unsigned /*flags*/,
                             void* ctx) noexcept {
    auto* m = static_cast<MatchContext*>(ctx);
    m->self->report(*m, id, to);
    return 0;  // keep scanning
}

void PayloadScanner::report(MatchContext& m, unsigned rule_index, unsigned long long to) noexcept {
    const CompiledRule& r = rules_->rules()[rule_index];
    FlowCommon& c = *m.flow;
    const std::uint16_t server_port = c.client_is_lo() ? c.key.port_hi : c.key.port_lo;
    if (!r.port_matches(server_port)) return;
    m.counters->add(Counter::kPayloadMatches);
    State& st = *m.st;
    // The first tag names the flow; a user rule's tag overrides a built-in's (the user knows
    // that this HTTP is their shop).
    if (r.tag != 0 && (c.app == 0 || (st.app_from_user == 0 && !r.builtin))) {
        c.app = r.tag;
        st.app_from_user = r.builtin ? 0 : 1;
    }
    if (!r.event) return;

    std::uint16_t* count = &st.other;
    const auto key = static_cast<std::uint16_t>(rule_index + 1);
    for (State::Tally& t : st.tally) {
        if (t.rule == key || t.rule == 0) {
            t.rule = key;
            count = &t.count;
            break;
        }
    }
    saturating_inc(*count);
    const std::uint16_t n = *count;
    if (n != 1 && n != 10 && n != 100 && n != 1000 && n != 10000) return;

    PayloadMatch d;
    d.rule = r.name;
    d.direction = m.side == 0 ? Side::kClient : Side::kServer;
    d.matches = n;
    d.stream_offset = to;
    d.scan_bytes = cfg_.scan_bytes;
    if (m.chunk != nullptr && to > m.chunk_start) {
        const auto end_in_chunk = static_cast<std::uint32_t>(std::min<unsigned long long>(to - m.chunk_start, m.chunk_len));
        const std::uint32_t k = std::min<std::uint32_t>(PayloadMatch::kTailMax, end_in_chunk);
        std::memcpy(d.tail, m.chunk + end_in_chunk - k, k);
        d.tail_len = static_cast<std::uint8_t>(k);
    }
    Event e = flow_event(c, m.ts_ns, static_cast<Severity>(r.severity), Confidence::kHigh, Where::kUnknown, d);
    e.occurrence = n;
    e.packets.add(m.number);
    m.sink->emit(e);
}

}  // namespace tcpsleuth
