#pragma once
// The inline forwarder's faults on purpose ([[impair]], config/impair.h): each rule matches
// packets by side, hosts, server port and a share of flows, and drops or rewrites them the
// way a real device does. Rewrites keep every checksum right by incremental update
// (RFC 1624); a removed option shrinks the header and the TCP checksum is recomputed. No
// DPDK here: the worker hands over the frame's bytes, so the tests can too.
//
// Packet path rules: no allocation, no lock, no log after construction. Frames inside a
// tunnel, IP fragments and frames cut short are passed untouched (counted as skipped).

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "config/impair.h"
#include "dataplane/packet/packet_view.h"

namespace tcpsleuth {

enum class ImpairVerdict : std::uint8_t { kPass, kDrop };

// One parse of a frame, shared by the question which side sent it and the rules.
struct ImpairPacket {
    PacketView v;
    bool eligible = false;     // a plain TCP segment, whole: the rules may touch it
    bool client_sent = false;  // the SYN's sender, the SYN-ACK's receiver, else the end not on a
                               // rule's server ports, else the higher port
};

struct ImpairCounters {
    // Written by the one worker that owns the Impairer, read by the main core.
    std::atomic<std::uint64_t> matched{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> rewritten{0};

    static void bump(std::atomic<std::uint64_t>& c) noexcept { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
};

class Impairer {
public:
    Impairer(std::vector<ImpairRule> rules, std::uint64_t seed);

    bool active() const noexcept { return !rules_.empty(); }
    // Parses `frame` once for apply() and says who sent it.
    void look(const std::uint8_t* frame, std::uint32_t len, ImpairPacket& p) const noexcept;
    // Applies the rules in order to the Ethernet frame `look` parsed into `p`; `len` bytes,
    // all of them present. A removed option shortens the frame: `len` is updated.
    ImpairVerdict apply(std::uint8_t* frame, std::uint32_t& len, ImpairPacket& p) noexcept;
    ImpairVerdict apply(std::uint8_t* frame, std::uint32_t& len) noexcept {
        ImpairPacket p;
        look(frame, len, p);
        return apply(frame, len, p);
    }

    const std::vector<ImpairRule>& rules() const noexcept { return rules_; }
    // From the main core (tcpsleuthctl impair.enable/disable); the worker sees it from its
    // next packet on.
    void set_enabled(std::size_t rule, bool on) noexcept { enabled_[rule].store(on, std::memory_order_relaxed); }
    bool enabled(std::size_t rule) const noexcept { return enabled_[rule].load(std::memory_order_relaxed); }
    const ImpairCounters& counters(std::size_t rule) const noexcept { return counters_[rule]; }
    std::uint64_t skipped() const noexcept { return skipped_.load(std::memory_order_relaxed); }

private:
    struct Packet;
    bool matches(std::size_t rule, const Packet& p) noexcept;
    bool act(std::size_t rule, Packet& p) noexcept;  // false: drop
    // Takes the option at `at` (of `olen` bytes) out of the header; false when it cannot
    // (then the caller fills it with NOPs instead).
    static bool remove_option(Packet& p, std::uint32_t at, std::uint8_t olen) noexcept;
    double uniform() noexcept;

    std::vector<ImpairRule> rules_;
    std::unique_ptr<ImpairCounters[]> counters_;
    std::unique_ptr<std::atomic<bool>[]> enabled_;
    std::vector<std::uint32_t> burst_left_;  // loss: packets still to lose in the current burst
    std::atomic<std::uint64_t> skipped_{0};
    std::uint64_t rng_;
};

}  // namespace tcpsleuth
