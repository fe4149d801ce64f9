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

}  // namespace tcpsleuth::bench
