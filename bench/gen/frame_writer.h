#pragma once
// One Ethernet + IPv4/IPv6 + TCP frame with correct checksums, from a description of its
// fields. Shared by the healthy lap and the fault episodes of the generator; independent of
// tcpsleuth's own parser, so generated traffic tests that code rather than mirrors it.

#include <cstdint>

namespace tcpsleuth::gen {

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kEce = 0x40, kCwr = 0x80;
constexpr std::uint8_t kNotEct = 0x00, kEct0 = 0x02;  // RFC 3168 codepoints in the IP header's low two TOS bits

// The largest frame the writer produces: 1514 bytes of Ethernet + IP + TCP + payload.
constexpr std::uint32_t kMaxFrame = 1514;

struct TcpFrame {
    bool ipv6 = false;
    bool from_client = true;             // picks the MAC pair: clients face a router
    std::uint8_t src[16] = {}, dst[16] = {};  // IPv4 in the first four bytes
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = kAck;
    std::uint16_t window = 0;            // the raw 16-bit field
    const std::uint8_t* options = nullptr;
    std::uint32_t options_len = 0;       // a multiple of 4, at most 40
    std::uint32_t payload = 0;           // payload bytes: `content`, or zeros (which add nothing to the checksum)
    const std::uint8_t* content = nullptr;  // at least `payload` bytes, or null for zeros
    std::uint8_t ttl = 64;
    std::uint8_t ip_ecn = kNotEct;
    std::uint16_t ip_id = 0;
};

// Writes the frame to `out` (at least kMaxFrame bytes) and returns its length.
std::uint32_t write_tcp_frame(const TcpFrame& f, std::uint8_t* out);

// Option blocks as Linux writes them (RFC 7323 appendix A layout).
// SYN: MSS, SACK-permitted, timestamps, NOP, window scale: 20 bytes.
void linux_syn_options(std::uint8_t* o, std::uint16_t mss, std::uint32_t tsval, std::uint32_t tsecr, std::uint8_t wscale);
// Every later segment: NOP, NOP, timestamps: 12 bytes.
void timestamp_options(std::uint8_t* o, std::uint32_t tsval, std::uint32_t tsecr);

void put16(std::uint8_t* p, std::uint32_t v);
void put32(std::uint8_t* p, std::uint32_t v);

// splitmix64: stable, well-spread choices. The generator keeps its own rather than use the
// inspectors' mix64, so traffic that tests tcpsleuth shares none of its code.
std::uint64_t mix(std::uint64_t x);

}  // namespace tcpsleuth::gen
