#pragma once
// What `tcpsleuth probe` sends and reads back, as bytes: TCP segments with the local stack's
// SYN options, and the ICMP errors routers send about them, whose quote of our packet shows
// what the path had done to it by then (the tracebox method: Detal et al., IMC 2013).
// Pure functions, no sockets: unit-tested on crafted bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dataplane/packet/tcp_options.h"

namespace tcpsleuth::probe {

using Address = std::array<std::uint8_t, 16>;  // IPv4 in the first 4 bytes when !v6

// The options a SYN offers, in Linux's layout (MSS, SACK-permitted, timestamps, NOP, window
// scale; RFC 9293, 2018, 7323), which is what the local stack sends.
struct SynOptions {
    std::uint16_t mss = 1460;
    bool sack_perm = true;
    bool timestamps = true;
    bool wscale = true;
    std::uint8_t shift = 7;
};
std::vector<std::uint8_t> syn_option_bytes(const SynOptions& o, std::uint32_t ts_val);

struct Segment {
    Address src{}, dst{};
    bool v6 = false;
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 64240;
    std::vector<std::uint8_t> options;  // a multiple of 4 bytes
    std::uint16_t payload = 0;          // bytes of zeros after the header
};
// The TCP header, options and payload, checksummed over the IPv4 or IPv6 pseudo-header
// (RFC 9293 section 3.1, RFC 8200 section 8.1).
std::vector<std::uint8_t> tcp_bytes(const Segment& s);

// An ICMP echo request (IPv4 type 8, IPv6 type 128) of `size` bytes in all, id and sequence
// given; IPv4's checksum is filled, IPv6's is the kernel's (raw ICMPv6 sockets compute it).
std::vector<std::uint8_t> echo_bytes(bool v6, std::uint16_t id, std::uint16_t seq, std::size_t size);

// The RFC 1071 Internet checksum of `n` bytes, continuing from `sum`.
std::uint32_t checksum_add(std::uint32_t sum, const std::uint8_t* p, std::size_t n) noexcept;
std::uint16_t checksum_fold(std::uint32_t sum) noexcept;

// An ICMP error (or echo reply) and what it quotes.
struct Icmp {
    std::uint8_t type = 0, code = 0;
    bool time_exceeded = false;  // IPv4 11/0, IPv6 3/0
    bool too_big = false;        // IPv4 3/4 (fragmentation needed), IPv6 2
    bool unreachable = false;    // any other destination unreachable
    bool echo_reply = false;     // IPv4 0, IPv6 129
    std::uint32_t mtu = 0;       // too_big: the next-hop MTU (RFC 1191, RFC 8201)
    std::uint16_t echo_id = 0, echo_seq = 0;
    // The quoted packet (errors only).
    bool quoted = false;
    std::uint8_t ecn = 0;                  // the quoted IP header's ECN bits as they arrived there
    std::uint8_t proto = 0;
    std::uint16_t quoted_ip_len = 0;       // the quoted IP header's own total/payload length
    Address src{}, dst{};
    bool has_ports = false;
    std::uint16_t sport = 0, dport = 0;
    bool has_seq = false;
    std::uint32_t seq = 0;
    bool has_flags = false;
    std::uint8_t flags = 0;
    bool options_whole = false;            // the quote holds the whole TCP header with its options
    TcpOptions options;
    std::size_t quoted_bytes = 0;          // of the original datagram (RFC 4884 length when given)
};
// `icmp` starts at the ICMP header (a raw ICMPv6 socket's data; for IPv4 past the IP header).
bool parse_icmp(const std::uint8_t* icmp, std::size_t len, bool v6, Icmp& out) noexcept;

}  // namespace tcpsleuth::probe
