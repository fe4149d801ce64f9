// tcpsleuth-gen: writes healthy TCP traffic (see traffic_gen.h) to a pcap file.
//
//   tcpsleuth-gen --flows N [--rounds R] [--sizes 64|imix|1500] [--ipv6 PCT] [--ecn PCT]
//                 [--rate PPS] [--laps K] --pcap OUT.pcap

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "traffic_gen.h"

namespace {

constexpr const char* kUsage =
    "usage: tcpsleuth-gen --flows N [--rounds R] [--sizes 64|imix|1500] [--ipv6 PCT] [--ecn PCT]\n"
    "                     [--rate PPS] [--laps K] --pcap OUT.pcap\n"
    "  --flows   concurrent connections (1..16777216)\n"
    "  --rounds  server data segments per connection, each acknowledged (default 8)\n"
    "  --sizes   data frame sizes: 64 (70-byte frames), imix (7:4:1 of 70/590/1514), 1500 (default 64)\n"
    "  --ipv6    percent of flows over IPv6 (default 0)\n"
    "  --ecn     percent of flows that negotiate ECN (default 0)\n"
    "  --rate    packets per second the timestamps are spaced for (default 1000000)\n"
    "  --laps    laps to write; one lap brings every flow back to where it started, so a\n"
    "            one-lap file replayed in a loop stays consistent (default 1)\n";

bool parse_number(const char* text, std::uint64_t max, std::uint64_t& out) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max) return false;
    out = v;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace tcpsleuth::gen;
    GenSpec spec;
    std::uint64_t laps = 1;
    std::string out_path;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "tcpsleuth-gen: %s needs a value\n%s", arg.c_str(), kUsage);
            return 2;
        }
        const char* value = argv[++i];
        std::uint64_t n = 0;
        bool ok = true;
        if (arg == "--flows") ok = parse_number(value, TrafficGen::kMaxFlows, n), spec.flows = static_cast<std::uint32_t>(n);
        else if (arg == "--rounds") ok = parse_number(value, TrafficGen::kMaxRounds, n), spec.rounds = static_cast<std::uint32_t>(n);
        else if (arg == "--ipv6") ok = parse_number(value, 100, n), spec.ipv6_percent = static_cast<std::uint32_t>(n);
        else if (arg == "--ecn") ok = parse_number(value, 100, n), spec.ecn_percent = static_cast<std::uint32_t>(n);
        else if (arg == "--rate") ok = parse_number(value, 1'000'000'000, n) && n > 0, spec.rate_pps = n;
        else if (arg == "--laps") ok = parse_number(value, 1'000'000, n) && n > 0, laps = n;
        else if (arg == "--sizes") ok = parse_size_mix(value, spec.sizes);
        else if (arg == "--pcap") out_path = value;
        else {
            std::fprintf(stderr, "tcpsleuth-gen: unknown option %s\n%s", arg.c_str(), kUsage);
            return 2;
        }
        if (!ok) {
            std::fprintf(stderr, "tcpsleuth-gen: %s: invalid value \"%s\"\n%s", arg.c_str(), value, kUsage);
            return 2;
        }
    }
    if (out_path.empty()) {
        std::fprintf(stderr, "tcpsleuth-gen: --pcap OUT.pcap is required\n%s", kUsage);
        return 2;
    }
    try {
        TrafficGen gen(spec);
        std::FILE* out = std::fopen(out_path.c_str(), "wb");
        if (out == nullptr) {
            std::fprintf(stderr, "tcpsleuth-gen: cannot create %s: %s\n", out_path.c_str(), std::strerror(errno));
            return 1;
        }
        static char buf[1 << 22];
        std::setvbuf(out, buf, _IOFBF, sizeof buf);
        const std::uint32_t header[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};  // pcap, microseconds, Ethernet
        std::fwrite(header, sizeof header, 1, out);
        std::uint64_t bytes = 0;
        const std::uint64_t lap_ns = gen.lap_packets() * 1'000'000'000ull / spec.rate_pps;
        for (std::uint64_t lap = 0; lap < laps; ++lap) {
            gen.lap(
                [&](const Frame& f) {
                    const std::uint64_t us = f.ts_ns / 1000;
                    const std::uint32_t rec[4] = {static_cast<std::uint32_t>(us / 1'000'000),
                                                  static_cast<std::uint32_t>(us % 1'000'000), f.len, f.len};
                    std::fwrite(rec, sizeof rec, 1, out);
                    std::fwrite(f.data, 1, f.len, out);
                    bytes += f.len;
                },
                1'700'000'000ull * 1'000'000'000ull + lap * lap_ns);
        }
        if (std::fclose(out) != 0) {
            std::fprintf(stderr, "tcpsleuth-gen: writing %s failed: %s\n", out_path.c_str(), std::strerror(errno));
            return 1;
        }
        const std::uint64_t packets = gen.lap_packets() * laps;
        std::printf("%s: %llu packets (%llu per lap), %u flows, %llu frame bytes, mean %.1f bytes\n", out_path.c_str(),
                    static_cast<unsigned long long>(packets), static_cast<unsigned long long>(gen.lap_packets()), spec.flows,
                    static_cast<unsigned long long>(bytes), double(bytes) / double(packets));
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "tcpsleuth-gen: %s\n", e.what());
        return 2;
    }
    return 0;
}
