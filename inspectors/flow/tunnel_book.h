#pragma once
// The tunnels flows came through, each written once: a mirror session or an overlay carries
// thousands of flows, so a flow keeps a 16-bit index here instead of 40 bytes of outer
// addresses. Fixed size, allocated at start; once 7/8 full (3584 tunnels) new tunnels are
// not recorded (decap.tunnels_unrecorded), and their flows' events show the tunnel's type
// and identity from the flow key only.

#include <cstdint>
#include <cstring>
#include <memory>

#include "dataplane/packet/decap.h"
#include "dataplane/packet/packet_view.h"

namespace tcpsleuth {

class TunnelBook {
public:
    static constexpr std::uint32_t kSlots = 4096;  // a power of two; slot 0 is "none"

    TunnelBook() : slots_(std::make_unique<TunnelInfo[]>(kSlots)) {}

    // The index of `t`, adding it if new; 0 when the book is full.
    std::uint16_t intern(const TunnelInfo& t) noexcept {
        std::uint64_t words[sizeof(TunnelInfo) / 8];
        static_assert(sizeof words == sizeof(TunnelInfo));
        std::memcpy(words, &t, sizeof words);
        std::uint64_t h = 0x9e3779b97f4a7c15ull;
        for (const std::uint64_t w : words) h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
        for (std::uint32_t probe = 0; probe < kSlots; ++probe) {
            const std::uint32_t i = static_cast<std::uint32_t>((h + probe) & (kSlots - 1));
            if (i == 0) continue;
            TunnelInfo& s = slots_[i];
            if (s.type == TunnelType::kNone) {
                if (used_ + 1 >= kSlots - kSlots / 8) break;  // keep probes short: 7/8 full is full
                s = t;
                ++used_;
                return static_cast<std::uint16_t>(i);
            }
            if (s == t) return static_cast<std::uint16_t>(i);
        }
        return 0;
    }

    const TunnelInfo* get(std::uint16_t index) const noexcept {
        return index != 0 && index < kSlots ? &slots_[index] : nullptr;
    }

private:
    std::unique_ptr<TunnelInfo[]> slots_;
    std::uint32_t used_ = 0;
};

// What a packet's parse says of the tunnel it came through.
inline TunnelInfo tunnel_of(const PacketView& p) noexcept {
    TunnelInfo t;
    t.type = p.tunnel;
    t.id = p.tunnel_id;
    t.overhead = p.encap_overhead;
    t.outer_ip_version = p.outer_ip_version;
    t.outer_src = p.outer_src;
    t.outer_dst = p.outer_dst;
    return t;
}

}  // namespace tcpsleuth
