#pragma once
// FrameBuilder: a test reads like the packet it sends.
//
//   auto syn = FrameBuilder().ipv4("198.18.1.2", "198.18.2.2").tcp(40000, 80)
//                  .seq(1000).flags(kSyn).window(64240)
//                  .mss(1460).sack_perm().timestamps(1, 0).nop().wscale(7)   // Linux order
//                  .build();
//
// Lengths and the IPv4 header checksum are computed at build(); everything else is exactly
// what the test asked for, so a test can also build broken frames (see the raw setters).

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/packet/packet_view.h"

namespace tcpsleuth::test {

class FrameBuilder {
public:
    using Bytes = std::vector<std::uint8_t>;

    // ---- link layer ----
    FrameBuilder& no_ethernet() { ethernet_ = false; return *this; }  // raw IP (LINKTYPE_RAW)
    FrameBuilder& vlan(std::uint16_t id, std::uint16_t tpid = 0x8100) { vlans_.push_back({tpid, id}); return *this; }

    // ---- IP ----
    FrameBuilder& ipv4(const std::string& src, const std::string& dst) {
        v6_ = false;
        parse_addr(AF_INET, src, src_);
        parse_addr(AF_INET, dst, dst_);
        return *this;
    }
    FrameBuilder& ipv6(const std::string& src, const std::string& dst) {
        v6_ = true;
        parse_addr(AF_INET6, src, src_);
        parse_addr(AF_INET6, dst, dst_);
        return *this;
    }
    FrameBuilder& ttl(std::uint8_t t) { ttl_ = t; return *this; }
    FrameBuilder& ip_id(std::uint16_t id) { ip_id_ = id; return *this; }
    FrameBuilder& ecn(std::uint8_t codepoint) { ecn_ = codepoint & 3; return *this; }
    FrameBuilder& df(bool on) { df_ = on; return *this; }
    FrameBuilder& fragment(std::uint16_t offset_8, bool more) { frag_off_ = offset_8; more_frags_ = more; return *this; }
    FrameBuilder& ipv4_options(Bytes opts) { ip_opts_ = std::move(opts); return *this; }
    // IPv6 extension header (next-header value, body without the first two bytes).
    FrameBuilder& ipv6_ext(std::uint8_t type, Bytes body) { exts_.push_back({type, std::move(body)}); return *this; }
    // Overrides the computed IP total length (IPv4) / payload length (IPv6).
    FrameBuilder& ip_length(std::uint32_t len) { ip_len_override_ = len; return *this; }
    FrameBuilder& l4_proto(std::uint8_t p) { proto_ = p; return *this; }

    // ---- TCP ----
    FrameBuilder& tcp(std::uint16_t sport, std::uint16_t dport) { sport_ = sport; dport_ = dport; proto_ = 6; return *this; }
    FrameBuilder& seq(std::uint32_t s) { seq_ = s; return *this; }
    FrameBuilder& ack(std::uint32_t a) { ack_ = a; flags_ |= kAck; return *this; }
    FrameBuilder& flags(std::uint8_t f) { flags_ = f; return *this; }
    FrameBuilder& window(std::uint16_t w) { window_ = w; return *this; }
    FrameBuilder& payload(std::size_t n, std::uint8_t fill = 'x') { payload_.assign(n, fill); return *this; }
    FrameBuilder& payload(std::string_view bytes) { payload_.assign(bytes.begin(), bytes.end()); return *this; }
    FrameBuilder& data_offset_words(std::uint8_t w) { doff_override_ = w; return *this; }

    // Options, in the order called. Kinds and lengths per the RFCs named in tcp_options.h.
    FrameBuilder& mss(std::uint16_t m) { return opt({2, 4, std::uint8_t(m >> 8), std::uint8_t(m)}); }
    FrameBuilder& wscale(std::uint8_t s) { return opt({3, 3, s}); }
    FrameBuilder& sack_perm() { return opt({4, 2}); }
    FrameBuilder& nop() { return opt({1}); }
    FrameBuilder& eol() { return opt({0}); }
    FrameBuilder& timestamps(std::uint32_t val, std::uint32_t ecr) {
        Bytes o{8, 10};
        put32(o, val);
        put32(o, ecr);
        return opt(o);
    }
    FrameBuilder& sack(std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> blocks) {
        Bytes o{5, static_cast<std::uint8_t>(2 + 8 * blocks.size())};
        for (auto [l, r] : blocks) {
            put32(o, l);
            put32(o, r);
        }
        return opt(o);
    }
    FrameBuilder& opt(Bytes raw) { opts_.insert(opts_.end(), raw.begin(), raw.end()); return *this; }

    // ---- ICMP errors quoting an earlier frame (pass the quoted frame built without Ethernet) ----
    FrameBuilder& icmp4_frag_needed(std::uint16_t mtu, const Bytes& quoted_ip) {
        proto_ = 1;
        l4_ = {3, 4, 0, 0, 0, 0, std::uint8_t(mtu >> 8), std::uint8_t(mtu)};
        l4_.insert(l4_.end(), quoted_ip.begin(), quoted_ip.end());
        return *this;
    }
    FrameBuilder& icmp6_packet_too_big(std::uint32_t mtu, const Bytes& quoted_ip) {
        proto_ = 58;
        l4_ = {2, 0, 0, 0};
        put32(l4_, mtu);
        l4_.insert(l4_.end(), quoted_ip.begin(), quoted_ip.end());
        return *this;
    }
    FrameBuilder& raw_l4(Bytes b) { l4_ = std::move(b); return *this; }

    Bytes build() const {
        Bytes l4 = l4_;
        if (l4.empty() && proto_ == 6) l4 = tcp_bytes();
        Bytes ip = v6_ ? ipv6_bytes(l4) : ipv4_bytes(l4);
        if (!ethernet_) return ip;
        Bytes f = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
        for (auto [tpid, id] : vlans_) {
            put16(f, tpid);
            put16(f, id);
        }
        put16(f, v6_ ? 0x86DD : 0x0800);
        f.insert(f.end(), ip.begin(), ip.end());
        return f;
    }

private:
    static void put16(Bytes& b, std::uint16_t v) { b.push_back(std::uint8_t(v >> 8)); b.push_back(std::uint8_t(v)); }
    static void put32(Bytes& b, std::uint32_t v) { put16(b, std::uint16_t(v >> 16)); put16(b, std::uint16_t(v)); }
    static void parse_addr(int af, const std::string& s, std::uint8_t (&out)[16]) {
        std::memset(out, 0, sizeof out);
        if (inet_pton(af, s.c_str(), out) != 1) throw std::invalid_argument("bad address " + s);
    }

    Bytes tcp_bytes() const {
        Bytes opts = opts_;
        while (opts.size() % 4 != 0) opts.push_back(0);  // EOL padding to a 32-bit boundary
        const std::uint8_t doff = doff_override_ ? doff_override_ : std::uint8_t((20 + opts.size()) / 4);
        Bytes t;
        put16(t, sport_);
        put16(t, dport_);
        put32(t, seq_);
        put32(t, ack_);
        t.push_back(std::uint8_t(doff << 4));
        t.push_back(flags_);
        put16(t, window_);
        put16(t, 0);  // checksum: not validated (offloads make captured checksums lie)
        put16(t, 0);
        t.insert(t.end(), opts.begin(), opts.end());
        t.insert(t.end(), payload_.begin(), payload_.end());
        return t;
    }

    Bytes ipv4_bytes(const Bytes& l4) const {
        const std::size_t hlen = 20 + ip_opts_.size();
        const std::uint32_t total = ip_len_override_ ? ip_len_override_ : std::uint32_t(hlen + l4.size());
        Bytes h;
        h.push_back(std::uint8_t(0x40 | (hlen / 4)));
        h.push_back(ecn_);
        put16(h, std::uint16_t(total));
        put16(h, ip_id_);
        put16(h, std::uint16_t((df_ ? 0x4000 : 0) | (more_frags_ ? 0x2000 : 0) | frag_off_));
        h.push_back(ttl_);
        h.push_back(proto_);
        put16(h, 0);
        h.insert(h.end(), src_, src_ + 4);
        h.insert(h.end(), dst_, dst_ + 4);
        h.insert(h.end(), ip_opts_.begin(), ip_opts_.end());
        std::uint32_t sum = 0;
        for (std::size_t i = 0; i + 1 < h.size(); i += 2) sum += (h[i] << 8) | h[i + 1];
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        h[10] = std::uint8_t(~sum >> 8);
        h[11] = std::uint8_t(~sum);
        h.insert(h.end(), l4.begin(), l4.end());
        return h;
    }

    Bytes ipv6_bytes(const Bytes& l4) const {
        Bytes chain;
        for (std::size_t i = 0; i < exts_.size(); ++i) {
            const std::uint8_t next = i + 1 < exts_.size() ? exts_[i + 1].first : proto_;
            Bytes body = exts_[i].second;
            chain.push_back(next);
            if (exts_[i].first == 44) {  // fragment header: fixed 8 bytes, reserved byte
                chain.push_back(0);
            } else if (exts_[i].first == 51) {  // AH: length in 4-octet units minus 2
                chain.push_back(std::uint8_t((body.size() + 2) / 4 - 2));
            } else {
                chain.push_back(std::uint8_t((body.size() + 2) / 8 - 1));
            }
            chain.insert(chain.end(), body.begin(), body.end());
        }
        const std::uint32_t payload = ip_len_override_ ? ip_len_override_ : std::uint32_t(chain.size() + l4.size());
        Bytes h;
        put32(h, 0x60000000u | (std::uint32_t(ecn_) << 20));
        put16(h, std::uint16_t(payload));
        h.push_back(exts_.empty() ? proto_ : exts_[0].first);
        h.push_back(ttl_);
        h.insert(h.end(), src_, src_ + 16);
        h.insert(h.end(), dst_, dst_ + 16);
        h.insert(h.end(), chain.begin(), chain.end());
        h.insert(h.end(), l4.begin(), l4.end());
        return h;
    }

    bool ethernet_ = true;
    std::vector<std::pair<std::uint16_t, std::uint16_t>> vlans_;
    bool v6_ = false;
    std::uint8_t src_[16] = {198, 18, 1, 2};
    std::uint8_t dst_[16] = {198, 18, 2, 2};
    std::uint8_t ttl_ = 64;
    std::uint16_t ip_id_ = 1;
    std::uint8_t ecn_ = 0;
    bool df_ = true;
    std::uint16_t frag_off_ = 0;
    bool more_frags_ = false;
    Bytes ip_opts_;
    std::vector<std::pair<std::uint8_t, Bytes>> exts_;
    std::uint32_t ip_len_override_ = 0;
    std::uint8_t proto_ = 6;
    std::uint16_t sport_ = 40000;
    std::uint16_t dport_ = 80;
    std::uint32_t seq_ = 0;
    std::uint32_t ack_ = 0;
    std::uint8_t flags_ = kAck;
    std::uint16_t window_ = 65535;
    std::uint8_t doff_override_ = 0;
    Bytes opts_;
    Bytes payload_;
    Bytes l4_;
};

}  // namespace tcpsleuth::test
