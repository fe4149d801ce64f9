#pragma once
// Realistic frames for the benchmarks, made with the tests' FrameBuilder (what is measured
// is what is verified): N concurrent connections, each a handshake with Linux options, then
// data segments and ACKs with advancing sequence numbers.

#include <cstdint>
#include <vector>

#include "inspectors/flow/pipeline.h"
#include "tests/support/frame_builder.h"

namespace tcpsleuth::bench {

struct Traffic {
    std::vector<test::FrameBuilder::Bytes> frames;
    std::vector<RawPacket> packets;
};

// `flows` connections; after the handshakes, `rounds` rounds of (data, ACK) per flow,
// interleaved across flows the way a busy link mixes them.
inline Traffic make_traffic(std::uint32_t flows, std::uint32_t rounds, std::uint16_t payload = 1448) {
    using test::FrameBuilder;
    Traffic t;
    t.frames.reserve(static_cast<std::size_t>(flows) * (3 + 2 * rounds));
    const auto addr = [](std::uint32_t base, std::uint32_t i) {
        return "198." + std::to_string(18 + (base >> 8)) + "." + std::to_string((i >> 8) & 0xff) + "." +
               std::to_string(i & 0xff);
    };
    std::vector<std::string> clients(flows), servers(flows);
    for (std::uint32_t i = 0; i < flows; ++i) {
        clients[i] = addr(0, i);
        servers[i] = addr(256, i % 64);
    }
    const auto c2s = [&](std::uint32_t i) {
        return FrameBuilder().ipv4(clients[i], servers[i]).tcp(static_cast<std::uint16_t>(10000 + (i >> 16)), 443);
    };
    const auto s2c = [&](std::uint32_t i) {
        return FrameBuilder().ipv4(servers[i], clients[i]).tcp(443, static_cast<std::uint16_t>(10000 + (i >> 16)));
    };
    for (std::uint32_t i = 0; i < flows; ++i) {
        t.frames.push_back(c2s(i).seq(1000).flags(kSyn).mss(1460).sack_perm().timestamps(1, 0).nop().wscale(7).build());
        t.frames.push_back(s2c(i).seq(5000).ack(1001).flags(kSyn | kAck).mss(1460).sack_perm().timestamps(9, 1).nop().wscale(7).build());
        t.frames.push_back(c2s(i).seq(1001).ack(5001).timestamps(2, 9).build());
    }
    for (std::uint32_t r = 0; r < rounds; ++r) {
        for (std::uint32_t i = 0; i < flows; ++i) {
            const std::uint32_t off = r * payload;
            t.frames.push_back(s2c(i).seq(5001 + off).ack(1001).timestamps(10 + r, 2).window(501).payload(payload).build());
            t.frames.push_back(c2s(i).seq(1001).ack(5001 + off + payload).timestamps(3 + r, 10 + r).window(1024).build());
        }
    }
    std::uint64_t ts = 1'700'000'000ull * 1'000'000'000ull, n = 0;
    for (const auto& f : t.frames) {
        t.packets.push_back(RawPacket{f.data(), static_cast<std::uint32_t>(f.size()), static_cast<std::uint32_t>(f.size()),
                                      ts += 1000, ++n});
    }
    return t;
}

// Moves the data phase (frames from `first_data` on) one lap forward, so replaying it
// continues each connection instead of repeating it: the server's sequence numbers and the
// client's ACKs advance by a lap's bytes and the clock by a lap's time. A replay of the same
// frames would be every segment sent again, a benchmark of retransmission storms. The
// frames are IPv4 without VLAN (TCP at offset 34); checksums are not verified by the parser.
inline void next_lap(Traffic& t, std::size_t first_data, std::uint32_t lap_bytes) {
    if (first_data >= t.packets.size()) return;
    const std::uint64_t lap_ns = t.packets.back().ts_ns - t.packets[first_data].ts_ns + 1000;
    const auto add32 = [](std::uint8_t* p, std::uint32_t v) {
        const std::uint32_t x = ((std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3]) + v;
        p[0] = static_cast<std::uint8_t>(x >> 24);
        p[1] = static_cast<std::uint8_t>(x >> 16);
        p[2] = static_cast<std::uint8_t>(x >> 8);
        p[3] = static_cast<std::uint8_t>(x);
    };
    for (std::size_t i = first_data; i < t.packets.size(); ++i) {
        std::uint8_t* tcp = t.frames[i].data() + 34;
        const bool from_server = tcp[0] == (443 >> 8) && tcp[1] == (443 & 0xff);
        add32(tcp + (from_server ? 4 : 8), lap_bytes);  // the server's seq, or the client's ACK of it
        t.packets[i].ts_ns += lap_ns;
    }
}

}  // namespace tcpsleuth::bench
