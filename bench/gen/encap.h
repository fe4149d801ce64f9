#pragma once
// Wraps generated Ethernet frames the way mirrors and tunnels deliver them: AWS Traffic
// Mirroring (VXLAN), AWS Gateway Load Balancer (Geneve, Geneve outside VXLAN), switch remote
// SPAN (ERSPAN II/III over GRE), GRE with keys and sequence numbers, MPLS (IP and Ethernet
// pseudowire), IP-in-IP / 6in4 / 4in6, PPPoE and a VLAN outside a VXLAN session. Written
// from the RFCs and the ERSPAN draft, not from tcpsleuth's parser, so the two check each
// other (and tshark checks both: tests/pcap/decap_check.py).

#include <cstdint>
#include <string_view>

namespace tcpsleuth::gen {

enum class EncapKind : std::uint8_t {
    kNone,
    kVxlan,        // UDP 4789 (RFC 7348)
    kGeneve,       // UDP 6081, Ethernet inside, one 8-byte option (RFC 8926)
    kGeneveIp,     // Geneve carrying the bare IP packet (protocol 0x0800 / 0x86DD)
    kGeneveVxlan,  // Gateway Load Balancer in front of a VXLAN mirror target
    kGre,          // GRE with a key, IP inside (RFC 2890)
    kGreEthernet,  // GRE with key and sequence, transparent Ethernet bridging (0x6558)
    kErspan2,      // GRE 0x88BE with sequence + ERSPAN type II header
    kErspan3,      // GRE 0x22EB with sequence + ERSPAN type III header (with platform subheader)
    kMpls,         // two labels, then IP
    kMplsPw,       // one label, pseudowire control word, Ethernet (RFC 4448)
    kIpip,         // IPv4 outer; inner IPv4 (proto 4) or IPv6 (proto 41: 6in4)
    kIp6,          // IPv6 outer; inner IPv4 (proto 4) or IPv6 (proto 41)
    kPppoe,        // PPPoE session, PPP IPv4 / IPv6
    kVlanVxlan,    // an 802.1Q tag outside a VXLAN mirror session
};

// Parses "vxlan", "geneve", ...; false for an unknown name.
bool parse_encap(std::string_view name, EncapKind& out);


// The most bytes wrap() adds to a frame.
constexpr std::uint32_t kMaxEncapOverhead = 160;

class Encapsulator {
public:
    // `id`: the VNI / GRE key / ERSPAN session / MPLS label / PPPoE session the frames carry.
    Encapsulator(EncapKind kind, std::uint32_t id) noexcept : kind_(kind), id_(id) {}

    // Writes `frame` (an Ethernet frame, IPv4 or IPv6 inside) wrapped into `out` (at least
    // len + kMaxEncapOverhead bytes); returns the new length. The outer source address is
    // the mirror source of the inner frame's sender: the two directions of a connection
    // come from two sources, as two mirrored interfaces deliver them.
    std::uint32_t wrap(const std::uint8_t* frame, std::uint32_t len, std::uint8_t* out) noexcept;

private:
    EncapKind kind_;
    std::uint32_t id_;
    std::uint32_t seq_[2] = {};  // GRE sequence numbers: each mirror source numbers its own (RFC 2890 2.2)
};

}  // namespace tcpsleuth::gen
