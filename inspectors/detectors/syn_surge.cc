#include "inspectors/detectors/syn_surge.h"

#include <bit>
#include <cmath>

#include "inspectors/output/event_builder.h"

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

SynSurgeInspector::SynSurgeInspector(const SynSurgeConfig& cfg) noexcept { reconfigure(cfg); }

void SynSurgeInspector::reconfigure(const SynSurgeConfig& cfg) noexcept {
    const std::uint32_t old_window = cfg_.window_s;
    cfg_ = cfg;
    if (cfg_.window_s == 0) cfg_.window_s = 1;
    if (cfg_.window_s > kMaxWindowS) cfg_.window_s = kMaxWindowS;
    if (cfg_.window_s != old_window) buckets_.fill(Bucket{});
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
    publish();
}

void SynSurgeInspector::publish() noexcept {
    if (board_ == nullptr) return;
    SurgeBoard::Shard& shard = board_->shards_[shard_];
    const Bucket& b = buckets_[current_second_ % cfg_.window_s];
    SurgeBoard::Slot& s = shard.slots[current_second_ % cfg_.window_s];
    constexpr auto r = std::memory_order_relaxed;
    s.second.store(b.second, r);
    s.attempts.store(b.attempts, r);
    s.failures.store(b.failures, r);
    s.cmin.store(b.concurrent_min, r);
    s.cmax.store(b.concurrent_max, r);
    for (unsigned i = 0; i < 4; ++i) {
        s.destinations[i].store(b.destinations.w[i], r);
        s.established[i].store(b.established.w[i], r);
    }
    shard.base_attempts.store(base_attempts_, r);
    shard.base_failures.store(base_failures_, r);
    shard.concurrent.store(concurrent_, r);
}

SynSurgeInspector::Window SynSurgeInspector::window() const noexcept {
    Window w;
    if (board_ == nullptr) {
        w.cmin = w.cmax = w.concurrent = concurrent_;
        w.base_attempts = base_attempts_;
        w.base_failures = base_failures_;
        for (std::uint32_t i = 0; i < cfg_.window_s; ++i) {
            const Bucket& b = buckets_[i];
            if (b.second == 0 || b.second + cfg_.window_s <= current_second_) continue;
            w.attempts += b.attempts;
            w.failures += b.failures;
            w.destinations.merge(b.destinations);
            w.established.merge(b.established);
            if (b.concurrent_min < w.cmin) w.cmin = b.concurrent_min;
            if (b.concurrent_max > w.cmax) w.cmax = b.concurrent_max;
        }
        return w;
    }
    // Across shards: counts add up, sets merge; open flows add up per shard (the sum of each
    // shard's minimum bounds the total's minimum from below).
    constexpr auto r = std::memory_order_relaxed;
    for (unsigned k = 0; k < board_->count_; ++k) {
        const SurgeBoard::Shard& shard = board_->shards_[k];
        const std::uint32_t now = shard.concurrent.load(r);
        std::uint32_t cmin = now, cmax = now;
        for (std::uint32_t i = 0; i < cfg_.window_s; ++i) {
            const SurgeBoard::Slot& s = shard.slots[i];
            const std::uint64_t second = s.second.load(r);
            if (second == 0 || second + cfg_.window_s <= current_second_ || second > current_second_) continue;
            w.attempts += s.attempts.load(r);
            w.failures += s.failures.load(r);
            for (unsigned j = 0; j < 4; ++j) {
                w.destinations.w[j] |= s.destinations[j].load(r);
                w.established.w[j] |= s.established[j].load(r);
            }
            cmin = std::min(cmin, s.cmin.load(r));
            cmax = std::max(cmax, s.cmax.load(r));
        }
        w.concurrent += now;
        w.cmin += cmin;
        w.cmax += cmax;
        w.base_attempts += shard.base_attempts.load(r);
        w.base_failures += shard.base_failures.load(r);
    }
    return w;
}

bool SynSurgeInspector::begin_episode() noexcept {
    if (board_ == nullptr) {
        if (in_surge_) return false;
        in_surge_ = true;
        ++episodes_;
        return true;
    }
    if (board_->in_surge_.exchange(true, std::memory_order_acq_rel)) return false;
    episodes_ = board_->episodes_.fetch_add(1, std::memory_order_relaxed) + 1;
    return true;
}

void SynSurgeInspector::end_episode() noexcept {
    if (board_ == nullptr) {
        in_surge_ = false;
    } else {
        board_->in_surge_.store(false, std::memory_order_release);
    }
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
        if (b.established.set(mix(flow.id))) publish();
    }
    if (!seg.from_client || (pkt.tcp.flags & (kSyn | kAck | kRst)) != kSyn) return;
    if (!seg.syn_retransmission) {
        ++b.attempts;
        publish();
        return;
    }
    // The first retransmission of a SYN with no answer marks the handshake as failing.
    if (flow.state != TcpState::kSynSent || flow.dir[index(flow.client())].syns != 2) return;
    ++b.failures;
    b.destinations.set(server_hash(flow));
    publish();
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
    const Window w = window();
    const std::uint32_t attempts = w.attempts, failures = w.failures, cmin = w.cmin, cmax = w.cmax;
    const Bits& destinations = w.destinations;
    const Bits& established = w.established;
    if (failures <= 1) recent_failures_ = PacketList{};  // evidence of this window only
    recent_failures_.add(number);
    // Retried SYNs may belong to attempts made just before the window.
    const std::uint32_t denominator = attempts > failures ? attempts : failures;
    const std::uint32_t percent = denominator == 0 ? 0 : failures * 100u / denominator;
    const std::uint32_t baseline =
        w.base_attempts == 0 ? 0 : static_cast<std::uint32_t>(w.base_failures * 100u / w.base_attempts);
    const bool surge = failures >= cfg_.min_failures && percent >= cfg_.min_failure_percent &&
                       baseline * 2 < percent && destinations.estimate() >= cfg_.min_destinations &&
                       established.estimate() != 0;
    if (!surge) {
        if (percent * 2 < cfg_.min_failure_percent) end_episode();
        return;
    }
    if (!begin_episode()) return;
    const SynDropSurge d{
        .window_s = cfg_.window_s,
        .attempts = attempts,
        .failures = failures,
        .destinations = destinations.estimate(),
        .baseline_percent = baseline,
        .established_active = established.estimate(),
        .concurrent_now = w.concurrent,
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
