#pragma once
// One capture point of `tcpsleuth compare`: every TCP segment and every ICMP error quoting
// one, reduced to the fields a device may leave alone or change, and grouped into
// connections. Off the packet path: compare reads two finished captures.

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dataplane/packet/packet_view.h"

namespace tcpsleuth::two_point {

using Addr = std::array<std::uint8_t, 16>;

// The bytes of payload that identify a segment across the points. Sixteen are enough with
// the length and the relative sequence number beside them, and a 96-byte snap length still
// captures them behind IPv4 and a full set of options.
inline constexpr std::uint32_t kPayloadSignatureBytes = 16;

struct PointPacket {
    std::uint64_t number = 0;  // frame number in this point's input
    std::uint64_t ts_ns = 0;
    Addr src{};
    Addr dst{};
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint16_t window = 0;
    std::uint8_t flags = 0;
    std::uint8_t ttl = 0;
    std::uint8_t ecn = 0;
    std::uint8_t dscp = 0;
    std::uint8_t ip_version = 0;
    bool icmp = false;          // an ICMP error quoting a TCP segment (fields below: the quote)
    std::uint16_t ip_id = 0;    // IPv4 only
    std::uint32_t ip_len = 0;
    std::uint32_t payload_len = 0;
    // FNV-1a over the first kPayloadSignatureBytes of payload and its length; 0: no payload,
    // or fewer of those bytes captured than the signature needs (then only lengths compare).
    std::uint64_t payload_hash = 0;
    std::uint16_t opts = 0;     // TcpOpt bits
    std::uint16_t mss = 0;
    std::uint8_t wscale = 0;
    std::uint8_t sack_blocks = 0;
    std::uint8_t icmp_type = 0;
    std::uint8_t icmp_code = 0;
    std::uint32_t ts_val = 0;
    std::uint32_t icmp_mtu = 0;
    std::uint32_t quoted_seq = 0;
    SackBlock sack[4];

    // Filled by the grouping and the matcher.
    std::uint32_t conn = 0;     // index into PointCapture::conns (ICMP: the quoted connection, or kNone)
    std::uint8_t dir = 0;       // 0 client to server, 1 server to client
    std::int64_t match = -1;    // index of the same packet at the other point, -1: none

    bool has(std::uint8_t f) const noexcept { return (flags & f) != 0; }
    bool is_pure_syn() const noexcept { return !icmp && has(kSyn) && !has(kAck); }
};

// One TCP connection as this point saw it. A SYN with a new initial sequence number on a
// 4-tuple already used starts a new connection (port reuse).
struct Connection {
    Addr client{};
    Addr server{};
    std::uint16_t client_port = 0;
    std::uint16_t server_port = 0;
    std::uint8_t ip_version = 0;
    bool saw_syn = false;
    std::uint32_t client_isn = 0;
    std::uint64_t first_ns = 0;
    std::uint64_t last_ns = 0;
    std::vector<std::uint32_t> packets[2];  // indices into PointCapture::packets, by direction
    std::vector<std::uint32_t> icmp;         // ICMP errors quoting this connection's segments
};

inline constexpr std::uint32_t kNoConnection = 0xffffffffu;

struct PointCapture {
    std::string name;  // the input as the user named it
    std::vector<PointPacket> packets;
    std::vector<Connection> conns;
    std::uint64_t frames = 0;       // every frame read, TCP or not
    std::uint64_t first_ns = 0;
    std::uint64_t last_ns = 0;

    // Adds one parsed frame (a TCP segment or an ICMP error quoting one); `payload` points at
    // the TCP payload's captured bytes (`captured` of them). Returns false for anything else.
    bool add(const PacketView& v, bool icmp_quote, const std::uint8_t* payload, std::uint32_t captured);
    // Adds a packet reduce_packet made (live: a worker reduced it, the main core adds it);
    // `quoted`: an ICMP error's quoted source and destination.
    void add_reduced(const PointPacket& reduced, const std::array<Addr, 2>& quoted);
    // Counts a frame that was not TCP (the time span still counts it).
    void note_frame(std::uint64_t ts_ns) noexcept;
    // Groups the packets into connections, in time order. Call once, after the last add().
    void group();

private:
    struct TupleKey {
        Addr lo{}, hi{};
        std::uint16_t port_lo = 0, port_hi = 0;
        bool operator==(const TupleKey&) const = default;
    };
    struct TupleHash {
        std::size_t operator()(const TupleKey& k) const noexcept;
    };
    static TupleKey tuple_of(const Addr& a, std::uint16_t pa, const Addr& b, std::uint16_t pb) noexcept;
    std::uint32_t connection_for(std::uint32_t packet_index, std::unordered_map<TupleKey, std::uint32_t, TupleHash>& open);

    std::vector<std::pair<Addr, Addr>> quoted_;  // each ICMP's quoted source and destination, until group()
};

// The 4-tuple in one order whichever way it is named (lower address first, then lower
// port): the same bytes for a connection at a point and for an event's flow key.
std::string canonical_tuple(const Addr& x, std::uint16_t x_port, const Addr& y, std::uint16_t y_port);
inline std::string canonical_tuple(const Connection& c) {
    return canonical_tuple(c.client, c.client_port, c.server, c.server_port);
}

// One parsed frame reduced to what the comparison keeps: false for anything but a TCP
// segment or an ICMP error quoting one. `quoted`: an ICMP error's quoted source and
// destination (the connection it belongs to). No allocation: workers call it.
bool reduce_packet(const PacketView& v, bool icmp_quote, const std::uint8_t* payload, std::uint32_t captured,
                   PointPacket& out, std::array<Addr, 2>& quoted) noexcept;

std::uint64_t payload_signature(const std::uint8_t* payload, std::uint32_t captured, std::uint32_t payload_len) noexcept;

}  // namespace tcpsleuth::two_point
