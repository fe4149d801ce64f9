#include "traffic_gen.h"

#include "frame_writer.h"

#include <cstring>
#include <stdexcept>

namespace tcpsleuth::gen {
namespace {

// Both ISNs of connection `conn` of `flow`: client in the low half, server in the high.
// Each connection's ISNs: fresh per flow, connection and lap, as a stack's would be (RFC 9293
// section 3.4.1). The first lap's are what a one-lap capture holds; later laps (--laps, or a
// live run) never repeat them, so a sensor that misses part of the traffic never sees an
// old connection come back with the same numbers.
std::uint64_t isns(std::uint32_t flow, std::uint32_t conn, std::uint32_t lap) {
    return mix(std::uint64_t{flow} * 4 + conn + (std::uint64_t{lap} << 40));
}

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
    if (spec_.port_base + ((spec_.flows - 1) >> 16) > 65535) throw std::invalid_argument("port base too high for that many flows");
    if (spec_.rate_pps == 0) throw std::invalid_argument("rate must be at least 1 packet per second");
    if (spec_.http) {
        const auto text = [](std::string s, std::size_t n, const std::string& fill) {
            while (s.size() < n) s += fill;
            return std::vector<std::uint8_t>(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
        };
        std::string req = "GET /catalog/item?id=4711 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: tcpsleuth-gen\r\n"
                          "Accept: text/html\r\nX-Pad: ";
        req += std::string(request_len() - req.size() - 4, 'a') + "\r\n\r\n";
        request_.assign(req.begin(), req.end());
        const std::string html = "<p>tcpsleuth generated body text, as a page would carry it.</p>\n";
        response_ = text("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n", kMaxFrame, html);
        body_ = text("", kMaxFrame, html);
    }
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
    if (pos.position == 0) ++pos.lap;
}

std::uint32_t TrafficGen::next_frame(std::uint32_t flow) {
    FlowPos& p = pos_[flow];
    const std::uint32_t steps = steps_per_connection();
    const std::uint32_t len = write_frame(flow, p.position / steps, p.position % steps, p.server_sent, p.lap);
    advance(flow, p);
    return len;
}

std::uint32_t TrafficGen::write_frame(std::uint32_t flow, std::uint32_t conn, std::uint32_t step, std::uint32_t server_sent,
                                      std::uint32_t lap) {
    const std::uint64_t h = mix(flow);
    const bool v6 = ipv6(flow);
    const bool ecn = (h >> 48) % 100 < spec_.ecn_percent;
    const std::uint64_t both_isns = isns(flow, conn, lap);
    const auto client_isn = static_cast<std::uint32_t>(both_isns), server_isn = static_cast<std::uint32_t>(both_isns >> 32);
    const std::uint32_t q = request_len(), fin_step = 4 + 2 * spec_.rounds;
    const std::uint32_t client_next = client_isn + 1 + q;  // after the request
    const std::uint32_t server_next = server_isn + 1 + server_sent;

    // What this step is: sequence and acknowledgement numbers, flags, payload.
    const Side side = sender(step);
    TcpFrame f;
    f.flags = kAck;
    if (step == 0) {
        f.seq = client_isn, f.flags = kSyn | (ecn ? kEce | kCwr : 0);
    } else if (step == 1) {
        f.seq = server_isn, f.ack = client_isn + 1, f.flags = kSyn | kAck | (ecn ? kEce : 0);
    } else if (step == 2) {
        f.seq = client_isn + 1, f.ack = server_isn + 1;
    } else if (step == 3) {
        f.seq = client_isn + 1, f.ack = server_isn + 1, f.flags = kPsh | kAck, f.payload = q;
        if (spec_.http) f.content = request_.data();
    } else if (is_data_round(step)) {
        const std::uint32_t round = (step - 4) / 2;
        f.seq = server_next, f.ack = client_next, f.payload = payload_len(flow, conn, round);
        if (spec_.http) f.content = round == 0 ? response_.data() : body_.data();
        if (round + 1 == spec_.rounds) f.flags |= kPsh;
    } else if (step < fin_step) {
        f.seq = client_next, f.ack = server_next;  // acknowledges the round just sent
    } else if (step == fin_step) {
        f.seq = client_next, f.ack = server_next, f.flags = kFin | kAck;
    } else if (step == fin_step + 1) {
        f.seq = server_next, f.ack = client_next + 1, f.flags = kFin | kAck;
    } else {
        f.seq = client_next + 1, f.ack = server_next + 1;
    }
    const bool syn = (f.flags & kSyn) != 0;

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
    const std::uint16_t client_port = static_cast<std::uint16_t>(spec_.port_base + (flow >> 16)), server_port = 443;
    f.ipv6 = v6;
    f.from_client = side == kClient;
    std::memcpy(f.src, side == kClient ? client_addr : server_addr, 16);
    std::memcpy(f.dst, side == kClient ? server_addr : client_addr, 16);
    f.sport = side == kClient ? client_port : server_port;
    f.dport = side == kClient ? server_port : client_port;
    // Windows: unscaled in SYNs (RFC 7323 2.2), then in units of 2^7.
    f.window = static_cast<std::uint16_t>(syn ? (side == kClient ? 64240 : 65160) : (side == kClient ? 502 : 509));
    f.ip_ecn = (ecn && f.payload > 0) ? kEct0 : kNotEct;  // RFC 3168 6.1.4: pure ACKs are not ECT
    f.ttl = side == kClient ? 64 : 57;  // the server is 7 hops away
    f.ip_id = static_cast<std::uint16_t>((h >> (side == kClient ? 0 : 16)) + step);

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
    std::uint8_t options[20];
    if (syn) {
        linux_syn_options(options, v6 ? 1440 : 1460, tsval, tsecr, 7);
        f.options_len = 20;
    } else {
        timestamp_options(options, tsval, tsecr);
        f.options_len = 12;
    }
    f.options = options;
    return write_tcp_frame(f, buf_);
}

}  // namespace tcpsleuth::gen
