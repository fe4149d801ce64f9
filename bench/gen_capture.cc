// gen_capture OUT.pcap FLOWS ROUNDS: a large capture of healthy TCP traffic for the analyze
// benchmark. FLOWS concurrent connections (handshake with Linux options, ROUNDS of a
// 1448-byte data segment and its ACK, then FIN both ways), interleaved, 2 us apart.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/support/frame_builder.h"

using tcpsleuth::test::FrameBuilder;
namespace t = tcpsleuth;

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: gen_capture OUT.pcap FLOWS ROUNDS\n");
        return 1;
    }
    const unsigned flows = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
    const unsigned rounds = static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10));
    std::FILE* out = std::fopen(argv[1], "wb");
    if (out == nullptr) {
        std::perror(argv[1]);
        return 1;
    }
    static char buf[1 << 22];
    std::setvbuf(out, buf, _IOFBF, sizeof buf);
    const std::uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    std::fwrite(hdr, sizeof hdr, 1, out);
    std::uint64_t ts_us = 1'700'000'000ull * 1'000'000ull, packets = 0;
    const auto emit = [&](const FrameBuilder::Bytes& f) {
        ts_us += 2;
        const std::uint32_t rec[4] = {static_cast<std::uint32_t>(ts_us / 1'000'000), static_cast<std::uint32_t>(ts_us % 1'000'000),
                                      static_cast<std::uint32_t>(f.size()), static_cast<std::uint32_t>(f.size())};
        std::fwrite(rec, sizeof rec, 1, out);
        std::fwrite(f.data(), 1, f.size(), out);
        ++packets;
    };
    const auto client = [](unsigned i) { return "198.18." + std::to_string((i >> 8) & 0xff) + "." + std::to_string(i & 0xff); };
    const auto server = [](unsigned i) { return "198.19.0." + std::to_string(1 + i % 200); };
    const auto cport = [](unsigned i) { return static_cast<std::uint16_t>(20000 + (i >> 16)); };
    const auto c2s = [&](unsigned i) { return FrameBuilder().ipv4(client(i), server(i)).tcp(cport(i), 443); };
    const auto s2c = [&](unsigned i) { return FrameBuilder().ipv4(server(i), client(i)).tcp(443, cport(i)); };
    for (unsigned i = 0; i < flows; ++i) {
        emit(c2s(i).seq(1000).flags(t::kSyn).mss(1460).sack_perm().timestamps(1, 0).nop().wscale(7).build());
        emit(s2c(i).seq(5000).ack(1001).flags(t::kSyn | t::kAck).mss(1460).sack_perm().timestamps(9, 1).nop().wscale(7).build());
        emit(c2s(i).seq(1001).ack(5001).timestamps(2, 9).build());
    }
    for (unsigned r = 0; r < rounds; ++r) {
        for (unsigned i = 0; i < flows; ++i) {
            const std::uint32_t off = r * 1448;
            emit(s2c(i).seq(5001 + off).ack(1001).timestamps(10 + r, 2).window(501).payload(1448).build());
            emit(c2s(i).seq(1001).ack(5001 + off + 1448).timestamps(3 + r, 10 + r).window(2048).build());
        }
    }
    for (unsigned i = 0; i < flows; ++i) {
        const std::uint32_t end = 5001 + rounds * 1448;
        emit(c2s(i).seq(1001).ack(end).flags(t::kFin | t::kAck).build());
        emit(s2c(i).seq(end).ack(1002).flags(t::kFin | t::kAck).build());
        emit(c2s(i).seq(1002).ack(end + 1).build());
    }
    std::fclose(out);
    std::fprintf(stderr, "%llu packets, %u flows\n", static_cast<unsigned long long>(packets), flows);
    return 0;
}
