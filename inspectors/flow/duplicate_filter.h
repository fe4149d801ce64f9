#pragma once
// Copies of one packet: a mirror of both ends of a conversation (two interfaces in one
// session, two switch ports in one SPAN) delivers every packet twice, microseconds apart. A
// copy taken for a second transmission would invent retransmissions, duplicate ACKs and
// loss, so the copy is counted (flow.mirror_duplicates) and not inspected.
//
// A copy is byte-identical: the same flow and direction, sequence and acknowledgement
// numbers, flags, window, lengths, TCP checksum (which covers options and payload) and, in
// IPv4, the same IP ID, which stacks change from one packet to the next, so a real
// retransmission or duplicate ACK never matches. IPv6 has no ID: there a segment with data,
// SYN, FIN or RST is taken for a copy only inside the window (a retransmission waits at
// least a round trip, and its second copy would not be that close), while a pure ACK is
// never taken for one, since a stack's duplicate ACKs can be identical and back to back.
// (So with both ends mirrored, IPv6 pure ACKs do arrive twice: tcp.dup_acks counts both.)
//
// One table of signatures per worker, two ways per bucket: one cache line per TCP packet,
// no allocation after construction; a collision forgets an entry (a copy then goes through
// as a retransmission, as it did without the filter).

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "dataplane/packet/packet_view.h"
#include "inspectors/flow/flow_key.h"

namespace tcpsleuth {

class DuplicateFilter {
public:
    static constexpr std::uint32_t kBuckets = 1u << 13;
    static constexpr std::uint32_t kSlots = kBuckets * 2;

    DuplicateFilter() : slots_(new (std::align_val_t{64}) Slot[kSlots]) {}

    // Where a packet's signature lives: computed from the packet alone, so a burst can find
    // every bucket and prefetch it before the first packet is judged.
    struct Probe {
        std::uint32_t bucket = 0;
        std::uint32_t sig = 0;  // 0: never a copy (an IPv6 pure ACK), nothing recorded
    };
    static Probe probe(const PacketView& p, const FlowKey& key, Dir dir) noexcept {
        if (!p.is_ipv4() && p.payload_len == 0 && (p.tcp.flags & (kSyn | kFin | kRst)) == 0) return {};
        std::uint64_t w[sizeof(FlowKey) / 8];
        std::memcpy(w, &key, sizeof w);
        std::uint64_t flow_hash = 0;
        for (const std::uint64_t x : w) flow_hash = (flow_hash << 23 | flow_hash >> 41) ^ x;
        std::uint64_t h = flow_hash ^ (std::uint64_t{p.tcp.seq} << 32 | p.tcp.ack);
        h = mix64(h ^ (std::uint64_t{p.tcp.flags} << 56 | std::uint64_t{p.tcp.window} << 40 |
                       std::uint64_t{p.tcp.checksum} << 24 | std::uint64_t{p.ip_id} << 8 | index(dir)));
        h = mix64(h ^ (std::uint64_t{p.ip_len} << 32 | p.payload_len));
        return {.bucket = static_cast<std::uint32_t>(h & (kBuckets - 1)),
                .sig = static_cast<std::uint32_t>(h >> 32) | 1u};  // 0 marks an empty slot
    }
    void prefetch(Probe pr) const noexcept {
        if (pr.sig != 0) __builtin_prefetch(&slots_[pr.bucket * 2], 1);
    }

    // True when `p` (of the flow `key`, travelling `dir`) repeats a packet seen less than
    // `window_ns` ago; records it otherwise. window 0: off. Unseeded, unlike the flow
    // table's hash: which copies are caught must not change from run to run.
    bool is_copy(const PacketView& p, const FlowKey& key, Dir dir, std::uint64_t window_ns) noexcept {
        return is_copy(p, probe(p, key, dir), window_ns);
    }
    // The same with the probe computed beforehand (probe(p, key, dir)).
    bool is_copy(const PacketView& p, Probe pr, std::uint64_t window_ns) noexcept {
        if (window_ns == 0) return false;
        // A packet from well before the newest one is not a mirror's copy but a capture
        // going back in time (files concatenated, clocks stepped): it goes through as is.
        if (p.ts_ns > latest_ns_) latest_ns_ = p.ts_ns;
        if (p.ts_ns + window_ns < latest_ns_) return false;
        if (pr.sig == 0) return false;
        // Two ways per bucket (one cache line): the copies of the ~100 packets a window
        // holds rarely collide in 2 x 8192 slots, and when they do the older entry goes.
        Slot* bucket = &slots_[pr.bucket * 2];
        for (int w = 0; w < 2; ++w) {
            Slot& s = bucket[w];
            if (s.sig == pr.sig && p.ts_ns >= s.ts_ns && p.ts_ns - s.ts_ns <= window_ns) {
                s.sig = 0;  // a third copy is a third copy of something: let it through
                return true;
            }
        }
        Slot& victim = bucket[0].ts_ns <= bucket[1].ts_ns ? bucket[0] : bucket[1];
        victim.sig = pr.sig;
        victim.ts_ns = p.ts_ns;
        return false;
    }

private:
    struct Slot {
        std::uint64_t ts_ns = 0;
        std::uint32_t sig = 0;
    };
    struct AlignedDelete {
        void operator()(Slot* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
    };
    std::unique_ptr<Slot[], AlignedDelete> slots_;
    std::uint64_t latest_ns_ = 0;
};

}  // namespace tcpsleuth
