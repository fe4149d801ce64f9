#pragma once
// handshake.syn_drop_surge: a stateful device (firewall, NAT, load balancer) whose state
// table is full drops new SYNs while the flows it already tracks keep working. At one
// sensor that is: within a sliding window, the share of new handshakes whose SYN is
// retransmitted unanswered jumps, across many unrelated destinations, while established
// flows keep moving data and their number stays flat (the table's limit).
//
// One instance per worker core, fed by every TCP segment; its state is a ring of one-second
// buckets, so the cost per packet is a few additions.

#include <array>
#include <cstdint>

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "events.h"
#include "tcp_state.h"

namespace tcpsleuth {

class SynSurgeInspector {
public:
    static constexpr std::uint32_t kMaxWindowS = 60;

    explicit SynSurgeInspector(const SynSurgeConfig& cfg) noexcept;

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, EventSink& out) noexcept;
    // A flow leaves the table (expired, evicted, end of input).
    void on_flow_end(const FlowCommon& flow) noexcept;

private:
    // 256-bit set for distinct counts (linear counting, Whang et al. 1990).
    struct Bits {
        std::array<std::uint64_t, 4> w{};
        void set(std::uint64_t h) noexcept { w[(h >> 6) & 3] |= 1ull << (h & 63); }
        void merge(const Bits& o) noexcept {
            for (unsigned i = 0; i < 4; ++i) w[i] |= o.w[i];
        }
        std::uint32_t estimate() const noexcept;
    };
    struct Bucket {
        std::uint64_t second = 0;
        std::uint32_t attempts = 0;
        std::uint32_t failures = 0;
        std::uint32_t concurrent_min = 0;
        std::uint32_t concurrent_max = 0;
        Bits destinations;   // servers of failed handshakes
        Bits established;    // established flows that sent data
    };

    Bucket& bucket_at(std::uint64_t ts_ns) noexcept;
    void note_concurrent() noexcept;
    void evaluate(std::uint64_t ts_ns, std::uint64_t number, EventSink& out) noexcept;

    SynSurgeConfig cfg_;
    std::array<Bucket, kMaxWindowS> buckets_{};
    std::uint64_t current_second_ = 0;
    std::uint64_t base_attempts_ = 0;   // decayed totals of buckets that left the window
    std::uint64_t base_failures_ = 0;
    std::uint32_t concurrent_ = 0;      // established flows open now
    std::uint32_t episodes_ = 0;
    bool in_surge_ = false;
    PacketList recent_failures_;
};

}  // namespace tcpsleuth
