#pragma once
// A worker's memory of recent packets, for `tcpsleuthctl pcap FLOW`: the first snap bytes
// of each of the last N TCP segments and ICMP errors, in a ring allocated once. A verdict
// is reached after the packets that prove it went by; this is what still has them when
// someone asks (Suricata's conditional pcap-log writes from the alert on and so misses
// them). Recording is one copy of at most `snap` bytes per packet; the ring never allocates.
//
// HistoryScan finds one flow's packets in it a slice at a time, so a live worker answers
// between bursts; its buffers are sized once, before the run.

#include <algorithm>
#include <cstdint>
#include <sys/mman.h>

#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "dataplane/packet/packet_view.h"

namespace tcpsleuth {

class PacketHistory {
public:
    struct Entry {
        std::uint64_t ts_ns = 0;
        std::uint64_t number = 0;    // frame number (analyze, one live worker); 0 unknown
        std::uint64_t flow_hash = 0; // the flow table's hash of the packet's flow key
        std::uint32_t wire_len = 0;
        std::uint16_t cap_len = 0;   // bytes kept: at most snap
        LinkType link = LinkType::kEthernet;
    };

    // `packets` entries of `snap` bytes; 0 packets: off. Allocates: call at start only.
    // Anonymous pages the kernel zeroes lazily: a history nobody fills costs no time (every
    // test pipeline has one). Allocates: call at start only.
    void configure(std::uint32_t packets, std::uint32_t snap) {
        release();
        capacity_ = packets;
        snap_ = packets != 0 ? snap : 0;
        if (capacity_ == 0) return;
        entries_ = static_cast<Entry*>(map(std::size_t{capacity_} * sizeof(Entry)));
        bytes_ = static_cast<std::uint8_t*>(map(std::size_t{capacity_} * snap_));
        head_ = 0;
    }
    PacketHistory() = default;
    ~PacketHistory() { release(); }
    PacketHistory(const PacketHistory&) = delete;
    PacketHistory& operator=(const PacketHistory&) = delete;
    bool enabled() const noexcept { return capacity_ != 0; }

    void record(const std::uint8_t* data, std::uint32_t cap_len, std::uint32_t wire_len, std::uint64_t ts_ns,
                std::uint64_t number, LinkType link, std::uint64_t flow_hash) noexcept {
        const std::uint32_t i = static_cast<std::uint32_t>(head_ % capacity_);
        const std::uint32_t keep = std::min(cap_len, snap_);
        const Entry e = {.ts_ns = ts_ns, .number = number, .flow_hash = flow_hash, .wire_len = wire_len,
                         .cap_len = static_cast<std::uint16_t>(keep), .link = link};
        entries_[i] = e;
        std::memcpy(&bytes_[static_cast<std::size_t>(i) * snap_], data, keep);
        ++head_;
    }

    // Packets recorded so far; those from oldest() to head() - 1 are still held.
    std::uint64_t head() const noexcept { return head_; }
    std::uint64_t oldest() const noexcept { return head_ > capacity_ ? head_ - capacity_ : 0; }
    std::uint32_t capacity() const noexcept { return capacity_; }
    std::uint32_t snap() const noexcept { return snap_; }
    const Entry& entry(std::uint64_t seq) const noexcept { return entries_[seq % capacity_]; }
    const std::uint8_t* bytes(std::uint64_t seq) const noexcept { return &bytes_[(seq % capacity_) * snap_]; }
    std::size_t memory_bytes() const noexcept { return std::size_t{capacity_} * (sizeof(Entry) + snap_); }

private:
    std::uint32_t capacity_ = 0;
    std::uint32_t snap_ = 0;
    std::uint64_t head_ = 0;
    static void* map(std::size_t bytes) {
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        return p;
    }
    void release() noexcept {
        if (entries_ != nullptr) munmap(entries_, std::size_t{capacity_} * sizeof(Entry));
        if (bytes_ != nullptr) munmap(bytes_, std::size_t{capacity_} * snap_);
        entries_ = nullptr;
        bytes_ = nullptr;
    }

    Entry* entries_ = nullptr;
    std::uint8_t* bytes_ = nullptr;
};
static_assert(std::is_trivially_copyable_v<PacketHistory::Entry>, "entries start as zero pages");

// One flow's packets in a history, oldest first: TCP segments of the flow and ICMP errors
// quoting it. Matched by the flow table's 64-bit hash of the key, which the pipeline
// recorded with each packet: no packet is parsed again, so a snap length shorter than a
// tunnel's headers still finds them (two flows sharing a 64-bit hash would be mixed).
class HistoryScan {
public:
    static constexpr std::uint32_t kMaxPackets = 10000;

    // Sizes the buffers for `snap`-byte packets (allocates: call before the run).
    void reserve(std::uint32_t snap) {
        entries_.reserve(kMaxPackets);
        bytes_.reserve(static_cast<std::size_t>(kMaxPackets) * snap);
    }

    // Looks for the packets of the flow whose key hashes to `flow_hash` (FlowTable::hash)
    // among those recorded before now.
    void start(std::uint64_t flow_hash, const PacketHistory& h) noexcept {
        hash_ = flow_hash;
        next_ = h.oldest();
        end_ = h.head();
        entries_.clear();
        bytes_.clear();
        more_ = 0;
    }

    // Examines up to `budget` packets; true when the scan is done. Packets the ring has
    // overwritten since start are skipped (the worker goes on recording between slices).
    bool step(const PacketHistory& h, std::uint32_t budget) noexcept {
        if (next_ < h.oldest()) next_ = h.oldest();
        for (; next_ < end_ && budget != 0; ++next_, --budget) {
            const PacketHistory::Entry& e = h.entry(next_);
            if (e.flow_hash != hash_) continue;
            if (entries_.size() == kMaxPackets || bytes_.size() + e.cap_len > bytes_.capacity()) {
                ++more_;
                continue;
            }
            const std::uint8_t* data = h.bytes(next_);
            entries_.push_back(e);
            bytes_.insert(bytes_.end(), data, data + e.cap_len);
        }
        return next_ >= end_;
    }

    const std::vector<PacketHistory::Entry>& entries() const noexcept { return entries_; }
    // The kept bytes of every packet found, one after another (entries()[i].cap_len each).
    const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }
    // Packets of the flow found beyond kMaxPackets.
    std::uint64_t more() const noexcept { return more_; }

private:
    std::uint64_t hash_ = 0;
    std::uint64_t next_ = 0;
    std::uint64_t end_ = 0;
    std::uint64_t more_ = 0;
    std::vector<PacketHistory::Entry> entries_;
    std::vector<std::uint8_t> bytes_;
};

}  // namespace tcpsleuth
