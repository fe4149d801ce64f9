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
#include <atomic>
#include <cstdint>
#include <memory>

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class SurgeBoard;

class SynSurgeInspector {
public:
    static constexpr std::uint32_t kMaxWindowS = 60;

    explicit SynSurgeInspector(const SynSurgeConfig& cfg) noexcept;
    // A reload: new thresholds and switches, state kept.
    // A new window length restarts the count: buckets are indexed modulo the window.
    void reconfigure(const SynSurgeConfig& cfg) noexcept;

    // With several workers each sees only its share of the flows: attached to one board,
    // they judge a surge on all of them and report each episode once.
    void attach(SurgeBoard* board, unsigned shard) noexcept {
        board_ = board;
        shard_ = shard;
    }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, EventSink& out) noexcept;
    // A flow leaves the table (expired, evicted, end of input).
    void on_flow_end(const FlowCommon& flow) noexcept;

    // 256-bit set for distinct counts (linear counting, Whang et al. 1990).
    struct Bits {
        std::array<std::uint64_t, 4> w{};
        // True when the bit was not set before.
        bool set(std::uint64_t h) noexcept {
            std::uint64_t& word = w[(h >> 6) & 3];
            const std::uint64_t bit = 1ull << (h & 63);
            const bool fresh = (word & bit) == 0;
            word |= bit;
            return fresh;
        }
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

private:
    struct Window {
        std::uint32_t attempts = 0, failures = 0, cmin = 0, cmax = 0, concurrent = 0;
        std::uint64_t base_attempts = 0, base_failures = 0;
        Bits destinations, established;
    };

    Bucket& bucket_at(std::uint64_t ts_ns) noexcept;
    void note_concurrent() noexcept;
    void publish() noexcept;
    Window window() const noexcept;
    void evaluate(std::uint64_t ts_ns, std::uint64_t number, EventSink& out) noexcept;
    bool begin_episode() noexcept;
    void end_episode() noexcept;

    SynSurgeConfig cfg_;
    std::array<Bucket, kMaxWindowS> buckets_{};
    std::uint64_t current_second_ = 0;
    std::uint64_t base_attempts_ = 0;   // decayed totals of buckets that left the window
    std::uint64_t base_failures_ = 0;
    std::uint32_t concurrent_ = 0;      // established flows open now
    std::uint32_t episodes_ = 0;
    bool in_surge_ = false;
    PacketList recent_failures_;
    SurgeBoard* board_ = nullptr;
    unsigned shard_ = 0;
};

// The workers' buckets side by side. Each worker writes only its own shard (relaxed atomics
// on its own cache lines: no contention on the packet path) and reads the others' only when
// one of its handshakes fails. Episode state is shared, so one surge is one event.
class SurgeBoard {
public:
    explicit SurgeBoard(unsigned shards) : shards_(std::make_unique<Shard[]>(shards)), count_(shards) {}

private:
    friend class SynSurgeInspector;
    struct Slot {
        std::atomic<std::uint64_t> second{0};
        std::atomic<std::uint32_t> attempts{0}, failures{0}, cmin{0}, cmax{0};
        std::array<std::atomic<std::uint64_t>, 4> destinations{}, established{};
    };
    struct alignas(64) Shard {
        std::array<Slot, SynSurgeInspector::kMaxWindowS> slots;
        std::atomic<std::uint64_t> base_attempts{0}, base_failures{0};
        std::atomic<std::uint32_t> concurrent{0};
    };
    std::unique_ptr<Shard[]> shards_;
    unsigned count_;
    std::atomic<bool> in_surge_{false};
    std::atomic<std::uint32_t> episodes_{0};
};

}  // namespace tcpsleuth
