#include "dataplane/packet/byte_order.h"
#include "dataplane/probe/probe_packets.h"

#include <algorithm>
#include <cstring>
#include <span>

namespace tcpsleuth::probe {
namespace {

void put16(std::vector<std::uint8_t>& v, std::size_t at, std::uint16_t x) {
    v[at] = static_cast<std::uint8_t>(x >> 8);
    v[at + 1] = static_cast<std::uint8_t>(x);
}
void put32(std::vector<std::uint8_t>& v, std::size_t at, std::uint32_t x) {
    put16(v, at, static_cast<std::uint16_t>(x >> 16));
    put16(v, at + 2, static_cast<std::uint16_t>(x));
}

}  // namespace

std::uint32_t checksum_add(std::uint32_t sum, const std::uint8_t* p, std::size_t n) noexcept {
    for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2 != 0) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    return sum;
}

std::uint16_t checksum_fold(std::uint32_t sum) noexcept {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

std::vector<std::uint8_t> syn_option_bytes(const SynOptions& o, std::uint32_t ts_val) {
    std::vector<std::uint8_t> b;
    b.reserve(20);
    // (push_back one by one: GCC 12 warns falsely on insert of a braced list, -Warray-bounds.)
    const auto add = [&](std::initializer_list<std::uint8_t> bytes) {
        for (const std::uint8_t x : bytes) b.push_back(x);
    };
    add({2, 4, static_cast<std::uint8_t>(o.mss >> 8), static_cast<std::uint8_t>(o.mss)});
    const auto timestamps = [&] {
        add({8, 10});
        for (int i = 3; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(ts_val >> (8 * i)));
        add({0, 0, 0, 0});  // TSecr 0 in a SYN (RFC 7323 section 3.2)
    };
    if (o.sack_perm && o.timestamps) {
        add({4, 2});
        timestamps();
    } else if (o.timestamps) {
        add({1, 1});
        timestamps();
    } else if (o.sack_perm) {
        add({1, 1, 4, 2});
    }
    if (o.wscale) add({1, 3, 3, o.shift});
    return b;
}

std::vector<std::uint8_t> tcp_bytes(const Segment& s) {
    const std::size_t hlen = 20 + s.options.size();
    std::vector<std::uint8_t> t(hlen + s.payload, 0);
    put16(t, 0, s.sport);
    put16(t, 2, s.dport);
    put32(t, 4, s.seq);
    put32(t, 8, s.ack);
    t[12] = static_cast<std::uint8_t>((hlen / 4) << 4);
    t[13] = s.flags;
    put16(t, 14, s.window);
    std::copy(s.options.begin(), s.options.end(), t.begin() + 20);
    std::uint32_t sum = 0;
    const std::size_t alen = s.v6 ? 16 : 4;
    sum = checksum_add(sum, s.src.data(), alen);
    sum = checksum_add(sum, s.dst.data(), alen);
    sum += 6;  // next header / protocol TCP
    sum += static_cast<std::uint32_t>(t.size());
    sum = checksum_add(sum, t.data(), t.size());
    put16(t, 16, checksum_fold(sum));
    return t;
}

std::vector<std::uint8_t> echo_bytes(bool v6, std::uint16_t id, std::uint16_t seq, std::size_t size) {
    std::vector<std::uint8_t> e(std::max<std::size_t>(size, 8), 0);
    e[0] = v6 ? 128 : 8;
    put16(e, 4, id);
    put16(e, 6, seq);
    for (std::size_t i = 8; i < e.size(); ++i) e[i] = static_cast<std::uint8_t>(i);
    if (!v6) put16(e, 2, checksum_fold(checksum_add(0, e.data(), e.size())));
    return e;
}

bool parse_icmp(const std::uint8_t* p, std::size_t len, bool v6, Icmp& out) noexcept {
    out = Icmp{};
    if (len < 8) return false;
    out.type = p[0];
    out.code = p[1];
    std::size_t quote_words = 0;  // RFC 4884: the original datagram's length, when extended
    if (!v6) {
        out.echo_reply = out.type == 0;
        out.time_exceeded = out.type == 11 && out.code == 0;
        out.unreachable = out.type == 3 && out.code != 4;
        out.too_big = out.type == 3 && out.code == 4;
        if (out.too_big) out.mtu = load_be16(p + 6);
        if (out.type == 3 || out.type == 11) quote_words = std::size_t{p[5]} * 4;
    } else {
        out.echo_reply = out.type == 129;
        out.time_exceeded = out.type == 3 && out.code == 0;
        out.unreachable = out.type == 1;
        out.too_big = out.type == 2;
        if (out.too_big) out.mtu = load_be32(p + 4);
        if (out.type == 1 || out.type == 3) quote_words = std::size_t{p[4]} * 8;
    }
    if (out.echo_reply) {
        out.echo_id = load_be16(p + 4);
        out.echo_seq = load_be16(p + 6);
        return true;
    }
    if (!out.time_exceeded && !out.unreachable && !out.too_big) return true;
    const std::uint8_t* q = p + 8;
    std::size_t qlen = len - 8;
    if (quote_words != 0 && quote_words < qlen) qlen = quote_words;
    out.quoted_bytes = qlen;
    std::size_t l4 = 0;
    if (!v6) {
        if (qlen < 20 || (q[0] >> 4) != 4) return true;
        l4 = static_cast<std::size_t>(q[0] & 0x0f) * 4;
        out.ecn = q[1] & 3;
        out.quoted_ip_len = load_be16(q + 2);
        out.proto = q[9];
        std::memcpy(out.src.data(), q + 12, 4);
        std::memcpy(out.dst.data(), q + 16, 4);
    } else {
        if (qlen < 40 || (q[0] >> 4) != 6) return true;
        l4 = 40;
        out.ecn = static_cast<std::uint8_t>((q[1] >> 4) & 3);
        out.quoted_ip_len = load_be16(q + 4);
        out.proto = q[6];
        std::memcpy(out.src.data(), q + 8, 16);
        std::memcpy(out.dst.data(), q + 24, 16);
    }
    out.quoted = true;
    if (l4 > qlen) return true;
    const std::uint8_t* t = q + l4;
    const std::size_t tlen = qlen - l4;
    if (out.proto == 1 || out.proto == 58) {  // a quoted echo request: its id and sequence
        if (tlen >= 8) out.echo_id = load_be16(t + 4), out.echo_seq = load_be16(t + 6);
        return true;
    }
    if (out.proto != 6) return true;
    if (tlen >= 4) out.has_ports = true, out.sport = load_be16(t), out.dport = load_be16(t + 2);
    if (tlen >= 8) out.has_seq = true, out.seq = load_be32(t + 4);
    if (tlen >= 14) out.has_flags = true, out.flags = t[13];
    if (tlen >= 13) {
        const std::size_t hlen = static_cast<std::size_t>(t[12] >> 4) * 4;
        if (hlen >= 20 && tlen >= hlen) {
            out.options_whole = true;
            parse_tcp_options(std::span<const std::uint8_t>(t + 20, hlen - 20), out.options);
        }
    }
    return true;
}

}  // namespace tcpsleuth::probe
