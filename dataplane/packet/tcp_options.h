#pragma once
// TCP options decoded once per packet into a summary. The raw bytes stay in the frame;
// the summary keeps what the tracker and detectors need plus the option *layout* (kinds in
// wire order, NOP/EOL fill included), which is how a stripped option is recognised: a
// middlebox that removes an option usually overwrites it with NOPs rather than shrinking
// the header (RFC 9293 section 3.1 allows any NOP padding, so the fill is legal but telling).

#include <cstdint>
#include <span>

namespace tcpsleuth {

// Option kinds (IANA "TCP Option Kind Numbers").
inline constexpr std::uint8_t kKindEol = 0;
inline constexpr std::uint8_t kKindNop = 1;
inline constexpr std::uint8_t kKindMss = 2;        // RFC 9293
inline constexpr std::uint8_t kKindWscale = 3;     // RFC 7323 section 2
inline constexpr std::uint8_t kKindSackPerm = 4;   // RFC 2018
inline constexpr std::uint8_t kKindSack = 5;       // RFC 2018
inline constexpr std::uint8_t kKindTimestamp = 8;  // RFC 7323 section 3
inline constexpr std::uint8_t kKindMd5 = 19;       // RFC 2385
inline constexpr std::uint8_t kKindAo = 29;        // RFC 5925
inline constexpr std::uint8_t kKindMptcp = 30;     // RFC 8684
inline constexpr std::uint8_t kKindTfo = 34;       // RFC 7413
inline constexpr std::uint8_t kKindExperimental = 254;  // RFC 6994; TFO used it before kind 34

// Bit set of options present (plain enum: it is a set, not a state).
enum TcpOpt : std::uint16_t {
    kOptMss = 1u << 0,
    kOptWscale = 1u << 1,
    kOptSackPerm = 1u << 2,
    kOptSack = 1u << 3,
    kOptTimestamp = 1u << 4,
    kOptTfo = 1u << 5,
    kOptMptcp = 1u << 6,
    kOptMd5 = 1u << 7,
    kOptAo = 1u << 8,
    kOptUnknown = 1u << 9,
    kOptNop = 1u << 10,
    kOptEol = 1u << 11,
};

// Layout tokens: 4 bits per option in wire order, so a whole SYN layout fits in 64 bits and
// can be stored per flow. Token 0 terminates, so EOL has its own non-zero token.
enum class LayoutToken : std::uint8_t {
    kEnd = 0, kEol, kNop, kMss, kWscale, kSackPerm, kSack, kTimestamp,
    kTfo, kMptcp, kMd5, kAo, kExperimental, kUnknown,
};

struct SackBlock {
    std::uint32_t left = 0;
    std::uint32_t right = 0;
};

struct TcpOptions {
    std::uint16_t present = 0;    // TcpOpt bits
    std::uint16_t duplicate = 0;  // TcpOpt bits seen more than once
    std::uint16_t malformed = 0;  // TcpOpt bits with a wrong length for their kind
    std::uint16_t mss = 0;
    std::uint8_t wscale = 0;      // as sent; RFC 7323 section 2.3 clamping to 14 is policy
    std::uint8_t sack_blocks = 0;
    std::uint8_t layout_len = 0;  // tokens in `layout` (more than 16 are counted, not kept)
    std::uint8_t nop_count = 0;
    std::uint8_t first_unknown_kind = 0;
    std::uint8_t tfo_cookie_len = 0;
    std::uint8_t mptcp_subtype = 0;
    std::uint8_t trailing_bytes = 0;  // bytes after EOL (should be zero padding)
    std::uint32_t ts_val = 0;
    std::uint32_t ts_ecr = 0;
    std::uint64_t layout = 0;     // LayoutToken nibbles, first option in the low nibble
    SackBlock sack[4];            // at most 4 fit in 40 option bytes (RFC 2018 section 3)

    bool has(TcpOpt o) const noexcept { return (present & o) != 0; }
};

enum class OptionStatus : std::uint8_t { kOk, kBadLength };

// Decodes `opts` (the bytes between the 20-byte TCP header and the data offset).
// A length byte that is < 2 or runs past the header stops decoding with kBadLength; what was
// decoded before it is kept. Wrong lengths for known kinds are flagged in `malformed`.
OptionStatus parse_tcp_options(std::span<const std::uint8_t> opts, TcpOptions& out) noexcept;

inline LayoutToken layout_token(std::uint64_t layout, unsigned i) noexcept {
    return static_cast<LayoutToken>((layout >> (4 * i)) & 0xf);
}

// "mss,nop,ws,..." for forensics output; writes at most `cap` bytes, returns the length.
std::size_t format_layout(std::uint64_t layout, char* buf, std::size_t cap) noexcept;

}  // namespace tcpsleuth
