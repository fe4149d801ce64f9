#include "inspectors/evidence/path_table.h"

#include <bit>
#include <cstring>

namespace tcpsleuth {

PathTable::PathTable(std::uint32_t entries) : slots_(std::bit_ceil(entries < 2 ? 2u : entries)) {
    mask_ = static_cast<std::uint32_t>(slots_.size() - 1);
}

PathStats& PathTable::server_of(const FlowCommon& flow) noexcept {
    const bool client_lo = flow.client_is_lo();
    const auto& addr = client_lo ? flow.key.addr_hi : flow.key.addr_lo;
    const std::uint16_t port = client_lo ? flow.key.port_hi : flow.key.port_lo;
    // FNV-1a over the server endpoint: a handful of handshakes per second use this, not
    // every packet, so a simple hash is plenty.
    std::uint64_t h = 1469598103934665603ull;
    const auto mix = [&h](std::uint8_t b) { h = (h ^ b) * 1099511628211ull; };
    for (const std::uint8_t b : addr) mix(b);
    mix(static_cast<std::uint8_t>(port));
    mix(static_cast<std::uint8_t>(port >> 8));
    mix(static_cast<std::uint8_t>(flow.key.vlan));
    mix(static_cast<std::uint8_t>(flow.key.vlan >> 8));
    PathStats& s = slots_[static_cast<std::uint32_t>(h ^ (h >> 32)) & mask_];
    if (!s.in_use || s.port != port || s.vlan != flow.key.vlan || s.server != addr) {
        s = PathStats{};
        s.server = addr;
        s.port = port;
        s.vlan = flow.key.vlan;
        s.in_use = true;
    }
    return s;
}

}  // namespace tcpsleuth
