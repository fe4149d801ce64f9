#include "tcp_options.h"

#include <cstring>

#include "byte_order.h"

namespace tcpsleuth {
namespace {

void push_token(TcpOptions& out, LayoutToken t) noexcept {
    if (out.layout_len < 16) {
        out.layout |= static_cast<std::uint64_t>(t) << (4 * out.layout_len);
    }
    if (out.layout_len < 255) ++out.layout_len;
}

void mark(TcpOptions& out, TcpOpt o) noexcept {
    if (out.present & o) out.duplicate |= o;
    out.present |= o;
}

}  // namespace

OptionStatus parse_tcp_options(std::span<const std::uint8_t> opts, TcpOptions& out) noexcept {
    std::size_t i = 0;
    while (i < opts.size()) {
        const std::uint8_t kind = opts[i];
        if (kind == kKindEol) {
            push_token(out, LayoutToken::kEol);
            out.present |= kOptEol;
            std::size_t rest = opts.size() - i - 1;
            out.trailing_bytes = static_cast<std::uint8_t>(rest);
            break;
        }
        if (kind == kKindNop) {
            push_token(out, LayoutToken::kNop);
            out.present |= kOptNop;
            if (out.nop_count < 255) ++out.nop_count;
            ++i;
            continue;
        }
        if (opts.size() - i < 2) return OptionStatus::kBadLength;  // no room for the length
        const std::uint8_t len = opts[i + 1];
        if (len < 2 || len > opts.size() - i) return OptionStatus::kBadLength;
        const std::uint8_t* body = opts.data() + i + 2;
        const std::size_t body_len = len - 2u;

        switch (kind) {
            case kKindMss:
                push_token(out, LayoutToken::kMss);
                if (body_len != 2) { out.malformed |= kOptMss; break; }
                if (!out.has(kOptMss)) out.mss = load_be16(body);
                mark(out, kOptMss);
                break;
            case kKindWscale:
                push_token(out, LayoutToken::kWscale);
                if (body_len != 1) { out.malformed |= kOptWscale; break; }
                if (!out.has(kOptWscale)) out.wscale = body[0];
                mark(out, kOptWscale);
                break;
            case kKindSackPerm:
                push_token(out, LayoutToken::kSackPerm);
                if (body_len != 0) { out.malformed |= kOptSackPerm; break; }
                mark(out, kOptSackPerm);
                break;
            case kKindSack: {
                push_token(out, LayoutToken::kSack);
                if (body_len == 0 || body_len % 8 != 0) { out.malformed |= kOptSack; break; }
                if (!out.has(kOptSack)) {
                    const std::size_t n = body_len / 8;  // <= 4: 40 option bytes hold 4 blocks
                    for (std::size_t b = 0; b < n && b < 4; ++b) {
                        out.sack[b] = SackBlock{load_be32(body + 8 * b), load_be32(body + 8 * b + 4)};
                    }
                    out.sack_blocks = static_cast<std::uint8_t>(n < 4 ? n : 4);
                }
                mark(out, kOptSack);
                break;
            }
            case kKindTimestamp:
                push_token(out, LayoutToken::kTimestamp);
                if (body_len != 8) { out.malformed |= kOptTimestamp; break; }
                if (!out.has(kOptTimestamp)) {
                    out.ts_val = load_be32(body);
                    out.ts_ecr = load_be32(body + 4);
                }
                mark(out, kOptTimestamp);
                break;
            case kKindTfo:
                push_token(out, LayoutToken::kTfo);
                // RFC 7413 section 4.1.1: empty (cookie request) or a 4..16-byte cookie.
                if (body_len != 0 && (body_len < 4 || body_len > 16)) { out.malformed |= kOptTfo; break; }
                out.tfo_cookie_len = static_cast<std::uint8_t>(body_len);
                mark(out, kOptTfo);
                break;
            case kKindExperimental:
                // RFC 6994 experiment id 0xF989 is the pre-standard TFO option.
                if (body_len >= 2 && load_be16(body) == 0xF989) {
                    push_token(out, LayoutToken::kTfo);
                    out.tfo_cookie_len = static_cast<std::uint8_t>(body_len - 2);
                    mark(out, kOptTfo);
                } else {
                    push_token(out, LayoutToken::kExperimental);
                    out.present |= kOptUnknown;
                    if (out.first_unknown_kind == 0) out.first_unknown_kind = kind;
                }
                break;
            case kKindMptcp:
                push_token(out, LayoutToken::kMptcp);
                if (body_len < 1) { out.malformed |= kOptMptcp; break; }
                out.mptcp_subtype = body[0] >> 4;  // RFC 8684 section 3: subtype in the high nibble
                mark(out, kOptMptcp);
                break;
            case kKindMd5:
                push_token(out, LayoutToken::kMd5);
                if (body_len != 16) { out.malformed |= kOptMd5; break; }
                mark(out, kOptMd5);
                break;
            case kKindAo:
                push_token(out, LayoutToken::kAo);
                mark(out, kOptAo);
                break;
            default:
                push_token(out, LayoutToken::kUnknown);
                out.present |= kOptUnknown;
                if (out.first_unknown_kind == 0) out.first_unknown_kind = kind;
                break;
        }
        i += len;  // always the declared length, never the expected one
    }
    return OptionStatus::kOk;
}

std::size_t format_layout(std::uint64_t layout, char* buf, std::size_t cap) noexcept {
    static constexpr const char* kNames[] = {
        "", "eol", "nop", "mss", "ws", "sackok", "sack", "ts",
        "tfo", "mptcp", "md5", "ao", "exp", "unknown", "?", "?",
    };
    std::size_t n = 0;
    for (unsigned i = 0; i < 16; ++i) {
        const auto t = static_cast<unsigned>(layout_token(layout, i));
        if (t == 0) break;
        const char* name = kNames[t];
        const std::size_t len = std::strlen(name);
        if (n + len + 1 > cap) break;
        if (n != 0) buf[n++] = ',';
        std::memcpy(buf + n, name, len);
        n += len;
    }
    return n;
}

}  // namespace tcpsleuth
