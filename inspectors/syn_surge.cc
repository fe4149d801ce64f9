#include "syn_surge.h"

#include <bit>
#include <cmath>

#include "event_builder.h"

namespace tcpsleuth {
namespace {

std::uint64_t mix(std::uint64_t h) noexcept {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

std::uint64_t server_hash(const FlowCommon& flow) noexcept {
    const auto& a = flow.client_is_lo() ? flow.key.addr_hi : flow.key.addr_lo;
    std::uint64_t h = 0;
    for (unsigned i = 0; i < 16; ++i) h = h * 131 + a[i];
    return mix(h);
}

}  // namespace

std::uint32_t SynSurgeInspector::Bits::estimate() const noexcept {
    unsigned set = 0;
    for (const std::uint64_t x : w) set += static_cast<unsigned>(std::popcount(x));
    if (set == 256) return 256;
    // n ~ -m ln(zeros / m): exact for small counts, within a few percent up to ~m.
    return static_cast<std::uint32_t>(std::lround(-256.0 * std::log(static_cast<double>(256 - set) / 256.0)));
}

SynSurgeInspector::SynSurgeInspector(const SynSurgeConfig& cfg) noexcept : cfg_(cfg) {
    if (cfg_.window_s == 0) cfg_.window_s = 1;
    if (cfg_.window_s > kMaxWindowS) cfg_.window_s = kMaxWindowS;
}

SynSurgeInspector::Bucket& SynSurgeInspector::bucket_at(std::uint64_t ts_ns) noexcept {
    const std::uint64_t second = ts_ns / 1'000'000'000u;
    if (second > current_second_) {
        // Buckets leaving the window feed the baseline, halved per window so it follows the
        // recent past rather than the whole capture.
        const std::uint64_t steps = second - current_second_;
        for (std::uint64_t s = 1; s <= steps && s <= cfg_.window_s; ++s) {
            Bucket& leaving = buckets_[(current_second_ + s) % cfg_.window_s];
            if (leaving.second != 0) {
                base_attempts_ += leaving.attempts;
                base_failures_ += leaving.failures;
            }
            leaving = Bucket{};
            leaving.second = current_second_ + s;
        }
        const std::uint64_t windows = steps / cfg_.window_s + 1;
        base_attempts_ >>= windows > 63 ? 63 : windows - 1;
        base_failures_ >>= windows > 63 ? 63 : windows - 1;
        if (steps >= cfg_.window_s) {
            for (Bucket& b : buckets_) b = Bucket{};
        }
        current_second_ = second;
        Bucket& now = buckets_[second % cfg_.window_s];
        now.second = second;
        now.concurrent_min = now.concurrent_max = concurrent_;
    }
    return buckets_[current_second_ % cfg_.window_s];
}

void SynSurgeInspector::note_concurrent() noexcept {
    Bucket& b = buckets_[current_second_ % cfg_.window_s];
    if (concurrent_ < b.concurrent_min) b.concurrent_min = concurrent_;
    if (concurrent_ > b.concurrent_max) b.concurrent_max = concurrent_;
}

void SynSurgeInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                  EventSink& out) noexcept {
    if (!cfg_.enabled) return;
    Bucket& b = bucket_at(pkt.ts_ns);
    if (seg.handshake_completed) {
        ++concurrent_;
        note_concurrent();
    } else if (seg.closed_now) {
        if (concurrent_ != 0) --concurrent_;
        note_concurrent();
    }
    if (seg.new_data && (flow.state == TcpState::kEstablished || flow.state == TcpState::kClosing)) {
        b.established.set(mix(flow.id));
    }
    if (!seg.from_client || (pkt.tcp.flags & (kSyn | kAck | kRst)) != kSyn) return;
    if (!seg.syn_retransmission) {
        ++b.attempts;
        return;
    }
    // The first retransmission of a SYN with no answer marks the handshake as failing.
    if (flow.state != TcpState::kSynSent || flow.dir[index(flow.client())].syns != 2) return;
    ++b.failures;
    b.destinations.set(server_hash(flow));
    evaluate(pkt.ts_ns, pkt.number, out);
}

void SynSurgeInspector::on_flow_end(const FlowCommon& flow) noexcept {
    if (!cfg_.enabled) return;
    if (flow.has(kFlowHandshakeDone) && flow.state != TcpState::kClosed && concurrent_ != 0) {
        --concurrent_;
        note_concurrent();
    }
}

void SynSurgeInspector::evaluate(std::uint64_t ts_ns, std::uint64_t number, EventSink& out) noexcept {
    std::uint32_t attempts = 0, failures = 0;
    std::uint32_t cmin = concurrent_, cmax = concurrent_;
    Bits destinations, established;
    for (std::uint32_t i = 0; i < cfg_.window_s; ++i) {
        const Bucket& b = buckets_[i];
        if (b.second == 0 || b.second + cfg_.window_s <= current_second_) continue;
        attempts += b.attempts;
        failures += b.failures;
        destinations.merge(b.destinations);
        established.merge(b.established);
        if (b.concurrent_min < cmin) cmin = b.concurrent_min;
        if (b.concurrent_max > cmax) cmax = b.concurrent_max;
    }
    if (!in_surge_ && failures <= 1) recent_failures_ = PacketList{};  // evidence of this window only
    recent_failures_.add(number);
    // Retried SYNs may belong to attempts made just before the window.
    const std::uint32_t denominator = attempts > failures ? attempts : failures;
    const std::uint32_t percent = denominator == 0 ? 0 : failures * 100u / denominator;
    const std::uint32_t baseline =
        base_attempts_ == 0 ? 0 : static_cast<std::uint32_t>(base_failures_ * 100u / base_attempts_);
    const bool surge = failures >= cfg_.min_failures && percent >= cfg_.min_failure_percent &&
                       baseline * 2 < percent && destinations.estimate() >= cfg_.min_destinations &&
                       established.estimate() != 0;
    if (!surge) {
        if (in_surge_ && percent * 2 < cfg_.min_failure_percent) in_surge_ = false;
        return;
    }
    if (in_surge_) return;
    in_surge_ = true;
    ++episodes_;
    const SynDropSurge d{
        .window_s = cfg_.window_s,
        .attempts = attempts,
        .failures = failures,
        .destinations = destinations.estimate(),
        .baseline_percent = baseline,
        .established_active = established.estimate(),
        .concurrent_now = concurrent_,
        .concurrent_min = cmin,
        .concurrent_max = cmax,
        .episode = episodes_,
        .threshold_failures = cfg_.min_failures,
        .threshold_percent = cfg_.min_failure_percent,
    };
    // A flat count of open flows is the table at its limit.
    const bool plateau = cmax != 0 && (cmax - cmin) * 10 <= cmax;
    Event e;
    e.ts_ns = ts_ns;
    e.severity = Severity::kCritical;
    e.confidence = plateau ? Confidence::kHigh : Confidence::kMedium;
    e.where = Where::kDownstream;
    e.occurrence = episodes_;
    e.packets = recent_failures_;
    e.detail = d;
    out.emit(e);
}

}  // namespace tcpsleuth
