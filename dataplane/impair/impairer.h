#pragma once
// The inline forwarder's faults on purpose ([[impair]], config/impair.h): each rule matches
// packets by side, hosts, server port and a share of flows, and drops or rewrites them the
// way a real device does. Rewrites keep every checksum right by incremental update
// (RFC 1624); a removed option shrinks the header and the TCP checksum is recomputed. No
// DPDK here: the worker hands over the frame's bytes, so the tests can too.
//
// Some faults send packets of their own (reply.h: a RST, an ICMP too-big): apply() leaves
// them in replies() for the caller to send. Delay and rate rules hold packets back: apply()
// says kHold and keeps the caller's token in the rule's line (hold_line.h) until release()
// hands it back, due. A packet waits in each hold rule it matches, in rule order.
//
// Packet path rules: no allocation, no lock, no log after construction. Frames inside a
// tunnel, IP fragments and frames cut short are passed untouched (counted as skipped).

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "config/impair.h"
#include "dataplane/impair/hold_line.h"
#include "dataplane/impair/reply.h"
#include "dataplane/packet/packet_view.h"

namespace tcpsleuth {

enum class ImpairVerdict : std::uint8_t {
    kPass,
    kDrop,
    kHold,  // kept in a delay or rate line: release() gives the token back when due
};

// One parse of a frame, shared by the question which side sent it and the rules.
struct ImpairPacket {
    PacketView v;
    bool eligible = false;     // a plain TCP segment, whole: the rules may touch it
    bool client_sent = false;  // the SYN's sender, the SYN-ACK's receiver, else the end not on a
                               // rule's server ports, else the higher port
    std::uintptr_t token = 0;  // the caller's handle for the frame, should a rule hold it
};

struct ImpairCounters {
    // Written by the one worker that owns the Impairer, read by the main core.
    std::atomic<std::uint64_t> matched{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> rewritten{0};
    std::atomic<std::uint64_t> injected{0};  // packets the rule sent of its own (RSTs, ICMP)
    std::atomic<std::uint64_t> delayed{0};   // packets it held back (delay, rate)

    static void bump(std::atomic<std::uint64_t>& c) noexcept { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
};

// A stateful rule's flows (idle_timeout, state_limit): buckets of four entries keyed by a
// hash of the 4-tuple, the same both ways. Sized at start; an entry past its expiry is a
// free slot again, and a sweep of a few slots per packet keeps the count of live ones.
class ImpairStateTable {
public:
    struct Entry {
        std::uint64_t key = 0;  // 0: free
        std::uint64_t expires_ns = 0;
        std::uint64_t aux = 0;  // inject_rst: packets seen / first packet's time; ~0 once cut
    };

    void configure(std::uint32_t flows);
    Entry* find(std::uint64_t key) noexcept;
    // A slot for `key` (free or expired); null when its bucket is full of live entries.
    Entry* insert(std::uint64_t key, std::uint64_t now_ns) noexcept;
    void erase(Entry* e) noexcept {
        e->key = 0;
        --used_;
    }
    // Frees up to `budget` expired slots, continuing where the last sweep stopped.
    void sweep(std::uint64_t now_ns, std::uint32_t budget) noexcept;
    std::uint32_t used() const noexcept { return used_; }
    std::uint32_t slots() const noexcept { return static_cast<std::uint32_t>(entries_.size()); }

private:
    Entry* bucket(std::uint64_t key, unsigned which) noexcept;  // the key's bucket (0) or the next (1)

    std::vector<Entry> entries_;
    std::uint32_t mask_ = 0;  // buckets - 1
    std::uint32_t used_ = 0;
    std::uint32_t cursor_ = 0;
};

class Impairer {
public:
    Impairer(std::vector<ImpairRule> rules, std::uint64_t seed);

    bool active() const noexcept { return !rules_.empty(); }
    // Parses `frame` once for apply() and says who sent it.
    void look(const std::uint8_t* frame, std::uint32_t len, ImpairPacket& p) const noexcept;
    // Applies the rules in order to the Ethernet frame `look` parsed into `p`; `len` bytes,
    // all of them present. A removed option shortens the frame: `len` is updated.
    // `now_ns`: the clock stateful rules time flows by (the worker's, per burst).
    ImpairVerdict apply(std::uint8_t* frame, std::uint32_t& len, ImpairPacket& p, std::uint64_t now_ns) noexcept;
    ImpairVerdict apply(std::uint8_t* frame, std::uint32_t& len, std::uint64_t now_ns = 0) noexcept {
        ImpairPacket p;
        look(frame, len, p);
        return apply(frame, len, p, now_ns);
    }

    // The packets the last apply() made (RSTs, ICMP errors): each a whole Ethernet frame, to
    // the provoking packet's sender (back out the port it came in on) or on to its receiver.
    struct Reply {
        std::uint8_t frame[kReplyCap];
        std::uint32_t len = 0;
        bool to_sender = false;
        bool to_client = false;  // toward the flow's client (which side of a sensor it passes)
    };
    unsigned replies() const noexcept { return reply_n_; }
    const Reply& reply(unsigned i) const noexcept { return replies_[i]; }

    // A held packet given back: due (send it on) or dropped by a later line that was full
    // (free it). `client_sent`: which way it was going.
    struct Released {
        std::uintptr_t token;
        bool dropped;
        bool client_sent;
    };
    // Up to `cap` held packets due at `now_ns`, oldest first per line; call until fewer come.
    unsigned release(std::uint64_t now_ns, Released* out, unsigned cap) noexcept;
    // Every held packet, due or not (the rules are being replaced, or the forwarder stops).
    unsigned flush(Released* out, unsigned cap) noexcept;
    std::uint64_t holding() const noexcept { return held_; }
    // Takes over `old`'s state for each rule `old` has with the same name and settings:
    // counters, flow tables, loss bursts and held packets. Run by the worker that owns both,
    // between bursts; what `old` still holds afterwards is for flush().
    void adopt(Impairer& old) noexcept;

    const std::vector<ImpairRule>& rules() const noexcept { return rules_; }
    // From the main core (tcpsleuthctl impair.enable/disable); the worker sees it from its
    // next packet on.
    void set_enabled(std::size_t rule, bool on) noexcept { enabled_[rule].store(on, std::memory_order_relaxed); }
    bool enabled(std::size_t rule) const noexcept { return enabled_[rule].load(std::memory_order_relaxed); }
    const ImpairCounters& counters(std::size_t rule) const noexcept { return counters_[rule]; }
    std::uint64_t skipped() const noexcept { return skipped_.load(std::memory_order_relaxed); }
    // Flows an idle_timeout rule could not track (its table full): they pass, counted.
    std::uint64_t untracked() const noexcept { return untracked_.load(std::memory_order_relaxed); }

private:
    struct Packet;
    bool matches(std::size_t rule, const Packet& p) noexcept;
    bool act(std::size_t rule, Packet& p) noexcept;  // false: drop
    bool track(std::size_t rule, Packet& p) noexcept;  // idle_timeout, state_limit; false: drop
    bool cut(std::size_t rule, Packet& p) noexcept;    // inject_rst; false: drop
    bool too_big(std::size_t rule, Packet& p) noexcept;  // drop_larger_than; false: drop
    // The packet into hold rule `rule`'s line, then on through the hold rules in `h.then`.
    ImpairVerdict enter(std::size_t rule, HoldLine::Held h, std::uint64_t now) noexcept;
    void reply_rst(std::size_t rule, const Packet& p, bool to_sender) noexcept;
    // Takes the option at `at` (of `olen` bytes) out of the header; false when it cannot
    // (then the caller fills it with NOPs instead).
    static bool remove_option(Packet& p, std::uint32_t at, std::uint8_t olen) noexcept;
    double uniform() noexcept;

    std::vector<ImpairRule> rules_;
    std::unique_ptr<ImpairCounters[]> counters_;
    std::unique_ptr<std::atomic<bool>[]> enabled_;
    std::vector<std::uint32_t> burst_left_;  // loss: packets still to lose in the current burst
    std::atomic<std::uint64_t> skipped_{0};
    std::atomic<std::uint64_t> untracked_{0};
    std::vector<ImpairStateTable> tables_;  // per rule; configured for the stateful ones
    std::vector<HoldLine> lines_;           // two per rule (client-sent, server-sent); configured for hold rules
    std::vector<std::size_t> hold_rules_;   // the rules with lines
    std::uint64_t held_ = 0;
    std::vector<double> icmp_tokens_;       // drop_larger_than icmp: the rate limit's bucket
    std::vector<std::uint64_t> icmp_refill_ns_;
    Reply replies_[2];
    unsigned reply_n_ = 0;
    std::uint16_t ip_id_ = 0;
    // The rules' server ports, a bit each, unless some rule takes every port: a packet on
    // none of them is passed on a glance at its ports, without the full parse.
    std::vector<std::uint64_t> port_bits_;
    bool any_port_ = true;
    std::uint64_t now_ns_ = 0;
    std::uint64_t rng_;
};

}  // namespace tcpsleuth
