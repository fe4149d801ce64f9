#include "traffic_gen.h"

#include <cstring>
#include <stdexcept>

namespace tcpsleuth::gen {
namespace {

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kPsh = 0x08, kAck = 0x10, kEce = 0x40, kCwr = 0x80;
constexpr std::uint8_t kEct0 = 0x02;  // RFC 3168 ECT(0)

// splitmix64: stable, well-spread per-flow choices. The generator keeps its own copy rather
// than use the inspectors' mix64, so traffic that tests tcpsleuth shares none of its code.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void put16(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2) acc += (std::uint32_t{p[i]} << 8) | p[i + 1];
    if (n & 1) acc += std::uint32_t{p[n - 1]} << 8;
    return acc;
}
std::uint16_t fold(std::uint32_t acc) {
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<std::uint16_t>(~acc);
}

// Both ISNs of connection `conn` of `flow`: client in the low half, server in the high.
std::uint64_t isns(std::uint32_t flow, std::uint32_t conn) { return mix(std::uint64_t{flow} * 4 + conn); }

}  // namespace

bool parse_size_mix(const std::string& text, SizeMix& out) {
    if (text == "64") out = SizeMix::kSmall;
    else if (text == "imix") out = SizeMix::kImix;
    else if (text == "1500") out = SizeMix::kLarge;
    else return false;
    return true;
}

TrafficGen::TrafficGen(const GenSpec& spec) : spec_(spec) {
    if (spec_.flows == 0 || spec_.flows > kMaxFlows) throw std::invalid_argument("flows must be 1.." + std::to_string(kMaxFlows));
    if (spec_.rounds == 0 || spec_.rounds > kMaxRounds) throw std::invalid_argument("rounds must be 1.." + std::to_string(kMaxRounds));
    if (spec_.ipv6_percent > 100 || spec_.ecn_percent > 100) throw std::invalid_argument("percentages must be 0..100");
    if (spec_.rate_pps == 0) throw std::invalid_argument("rate must be at least 1 packet per second");
    const std::uint64_t positions = std::uint64_t{steps_per_connection()} * kConnectionsPerLap;
    pos_.resize(spec_.flows);
    // Flow f starts the lap at an even share of the way through its own two connections,
    // and its server sequence number is brought up to that point.
    for (std::uint32_t f = 0; f < spec_.flows; ++f) {
        FlowPos& p = pos_[f];
        const auto start = static_cast<std::uint32_t>(std::uint64_t{f} * positions / spec_.flows);
        p.position = start - start % steps_per_connection();
        while (p.position != start) advance(f, p);
    }
}

bool TrafficGen::ipv6(std::uint32_t flow) const { return (mix(flow) >> 40) % 100 < spec_.ipv6_percent; }

std::uint32_t TrafficGen::payload_len(std::uint32_t flow, std::uint32_t conn, std::uint32_t round) const {
    const std::uint32_t v6_less = ipv6(flow) ? 20 : 0;  // the frame size is the mix's; IPv6 headers take 20 more
    switch (spec_.sizes) {
        case SizeMix::kSmall: return 4;
        case SizeMix::kLarge: return 1448 - v6_less;
        case SizeMix::kImix: {
            const std::uint64_t pick = mix((std::uint64_t{flow} << 20) ^ (std::uint64_t{conn} << 18) ^ round) % 12;
            if (pick < 7) return 4;
            if (pick < 11) return 524 - v6_less;
            return 1448 - v6_less;
        }
    }
    return 4;
}

// The server sends the SYN-ACK, each data round and its FIN-ACK; the client the rest.
TrafficGen::Side TrafficGen::sender(std::uint32_t step) const {
    return step == 1 || step == 5 + 2 * spec_.rounds || is_data_round(step) ? kServer : kClient;
}

// The server's sequence number moves on with each data segment and starts over with the
// next connection's ISN.
void TrafficGen::advance(std::uint32_t flow, FlowPos& pos) const {
    const std::uint32_t steps = steps_per_connection();
    const std::uint32_t conn = pos.position / steps, step = pos.position % steps;
    if (step == 0) pos.server_sent = 0;
    if (is_data_round(step)) pos.server_sent += payload_len(flow, conn, (step - 4) / 2);
    pos.position = (pos.position + 1) % (steps * kConnectionsPerLap);
}

std::uint32_t TrafficGen::next_frame(std::uint32_t flow) {
    FlowPos& p = pos_[flow];
    const std::uint32_t steps = steps_per_connection();
    const std::uint32_t len = write_frame(flow, p.position / steps, p.position % steps, p.server_sent);
    advance(flow, p);
    return len;
}

std::uint32_t TrafficGen::write_frame(std::uint32_t flow, std::uint32_t conn, std::uint32_t step, std::uint32_t server_sent) {
    const std::uint64_t h = mix(flow);
    const bool v6 = ipv6(flow);
    const bool ecn = (h >> 48) % 100 < spec_.ecn_percent;
    const std::uint64_t both_isns = isns(flow, conn);
    const auto client_isn = static_cast<std::uint32_t>(both_isns), server_isn = static_cast<std::uint32_t>(both_isns >> 32);
    const std::uint32_t q = request_len(), fin_step = 4 + 2 * spec_.rounds;
    const std::uint32_t client_next = client_isn + 1 + q;  // after the request
    const std::uint32_t server_next = server_isn + 1 + server_sent;

    // What this step is: sequence and acknowledgement numbers, flags, payload.
    const Side side = sender(step);
    std::uint32_t seq = 0, ack = 0, payload = 0;
    std::uint8_t flags = kAck;
    if (step == 0) {
        seq = client_isn, flags = kSyn | (ecn ? kEce | kCwr : 0);
    } else if (step == 1) {
        seq = server_isn, ack = client_isn + 1, flags = kSyn | kAck | (ecn ? kEce : 0);
    } else if (step == 2) {
        seq = client_isn + 1, ack = server_isn + 1;
    } else if (step == 3) {
        seq = client_isn + 1, ack = server_isn + 1, flags = kPsh | kAck, payload = q;
    } else if (is_data_round(step)) {
        const std::uint32_t round = (step - 4) / 2;
        seq = server_next, ack = client_next, payload = payload_len(flow, conn, round);
        if (round + 1 == spec_.rounds) flags |= kPsh;
    } else if (step < fin_step) {
        seq = client_next, ack = server_next;  // acknowledges the round just sent
    } else if (step == fin_step) {
        seq = client_next, ack = server_next, flags = kFin | kAck;
    } else if (step == fin_step + 1) {
        seq = server_next, ack = client_next + 1, flags = kFin | kAck;
    } else {
        seq = client_next + 1, ack = server_next + 1;
    }
    const bool syn = (flags & kSyn) != 0;

    // Addresses: clients 198.18.0.0/16 (16 source ports each beyond 65536 flows), servers
    // 198.19.0.1-200 port 443; IPv6 the same inside 2001:2::/48.
    std::uint8_t client_addr[16] = {}, server_addr[16] = {};
    const std::uint32_t server_index = 1 + flow % 200;
    if (v6) {
        const std::uint8_t prefix[6] = {0x20, 0x01, 0x00, 0x02, 0x00, 0x00};
        std::memcpy(client_addr, prefix, 6);
        std::memcpy(server_addr, prefix, 6);
        client_addr[7] = 1, server_addr[7] = 2;
        put32(client_addr + 12, flow & 0xffff);
        put32(server_addr + 12, server_index);
    } else {
        client_addr[0] = 198, client_addr[1] = 18, client_addr[2] = static_cast<std::uint8_t>(flow >> 8), client_addr[3] = static_cast<std::uint8_t>(flow);
        server_addr[0] = 198, server_addr[1] = 19, server_addr[2] = 0, server_addr[3] = static_cast<std::uint8_t>(server_index);
    }
    const std::uint16_t client_port = static_cast<std::uint16_t>(20000 + (flow >> 16)), server_port = 443;
    const std::uint8_t* src = side == kClient ? client_addr : server_addr;
    const std::uint8_t* dst = side == kClient ? server_addr : client_addr;

    std::uint8_t* p = buf_;
    // Ethernet: the client's side of the link faces a router.
    const std::uint8_t client_mac[6] = {0x02, 0, 0, 0, 0, 0x01}, router_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
    std::memcpy(p, side == kClient ? router_mac : client_mac, 6);
    std::memcpy(p + 6, side == kClient ? client_mac : router_mac, 6);
    put16(p + 12, v6 ? 0x86dd : 0x0800);
    p += 14;

    const std::uint32_t opt_len = syn ? 20 : 12;  // SYN: MSS, SACK-permitted, TS, NOP, WS; else NOP, NOP, TS
    const std::uint32_t tcp_len = 20 + opt_len + payload;
    const std::uint8_t ip_ecn = (ecn && payload > 0) ? kEct0 : 0;  // RFC 3168 6.1.4: pure ACKs are not ECT
    const std::uint8_t ttl = side == kClient ? 64 : 57;  // the server is 7 hops away
    std::uint8_t* ip = p;
    std::uint32_t pseudo = 0;
    if (v6) {
        put32(ip, (6u << 28) | (std::uint32_t{ip_ecn} << 20));
        put16(ip + 4, tcp_len);
        ip[6] = 6, ip[7] = ttl;
        std::memcpy(ip + 8, src, 16);
        std::memcpy(ip + 24, dst, 16);
        pseudo = sum16(ip + 8, 32) + 6 + tcp_len;
        p += 40;
    } else {
        ip[0] = 0x45, ip[1] = ip_ecn;
        put16(ip + 2, 20 + tcp_len);
        put16(ip + 4, static_cast<std::uint32_t>((h >> (side == kClient ? 0 : 16)) + step) & 0xffff);
        put16(ip + 6, 0x4000);  // DF: path MTU discovery (RFC 1191)
        ip[8] = ttl, ip[9] = 6;
        put16(ip + 10, 0);
        std::memcpy(ip + 12, src, 4);
        std::memcpy(ip + 16, dst, 4);
        put16(ip + 10, fold(sum16(ip, 20)));
        pseudo = sum16(ip + 12, 8) + 6 + tcp_len;
        p += 20;
    }

    std::uint8_t* tcp = p;
    put16(tcp, side == kClient ? client_port : server_port);
    put16(tcp + 2, side == kClient ? server_port : client_port);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = static_cast<std::uint8_t>(((20 + opt_len) / 4) << 4);
    tcp[13] = flags;
    // Windows: unscaled in SYNs (RFC 7323 2.2), then in units of 2^7.
    put16(tcp + 14, syn ? (side == kClient ? 64240 : 65160) : (side == kClient ? 502 : 509));
    put32(tcp + 16, 0);  // checksum, urgent pointer
    // Timestamps: each side's clock ticks once per step of the connection; TSecr echoes the
    // peer's latest value (RFC 7323 4.3).
    const std::uint32_t ts_base_c = static_cast<std::uint32_t>(both_isns >> 7) & 0x3fffffff;
    const std::uint32_t ts_base_s = static_cast<std::uint32_t>(both_isns >> 37) & 0x3fffffff;
    const std::uint32_t tsval = (side == kClient ? ts_base_c : ts_base_s) + step;
    std::uint32_t tsecr = 0;
    if (step > 0) {
        // The peer's latest step before this one.
        std::uint32_t peer_step = step - 1;
        while (peer_step > 0 && sender(peer_step) == side) --peer_step;
        if (sender(peer_step) != side) tsecr = (side == kClient ? ts_base_s : ts_base_c) + peer_step;
    }
    std::uint8_t* o = tcp + 20;
    if (syn) {
        o[0] = 2, o[1] = 4;
        put16(o + 2, v6 ? 1440 : 1460);
        o[4] = 4, o[5] = 2;  // SACK permitted
        o[6] = 8, o[7] = 10;
        put32(o + 8, tsval);
        put32(o + 12, tsecr);
        o[16] = 1;  // NOP
        o[17] = 3, o[18] = 3, o[19] = 7;  // window scale 7
    } else {
        o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
        put32(o + 4, tsval);
        put32(o + 8, tsecr);
    }
    std::memset(tcp + 20 + opt_len, 0, payload);  // zeros: they add nothing to the checksum
    put16(tcp + 16, fold(sum16(tcp, 20 + opt_len, pseudo)));
    return static_cast<std::uint32_t>(tcp + tcp_len - buf_);
}

}  // namespace tcpsleuth::gen
