// The evidence captures' pcapng writer: what it writes reads back through our own pcapng
// reader exactly (bytes, lengths, nanosecond times, each packet's link type), every block's
// two length fields agree and cover the file, and comments land in the file.

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "dataplane/pcap/pcap_reader.h"
#include "dataplane/pcap/pcapng_writer.h"

namespace tcpsleuth {
namespace {

std::string temp_path(const char* name) {
    return testing::TempDir() + "tcpsleuth-" + std::to_string(getpid()) + "-" + name;
}

std::vector<std::uint8_t> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Written {
    LinkType link;
    std::uint64_t ts_ns;
    std::vector<std::uint8_t> data;
    std::uint32_t wire_len;
    std::string comment;
};

TEST(PcapngWriter, ReadsBackExactlyThroughTheReader) {
    const std::string path = temp_path("writer.pcapng");
    std::vector<Written> packets;
    for (std::uint32_t i = 0; i < 7; ++i) {
        Written w;
        w.link = i == 3 ? LinkType::kRaw : LinkType::kEthernet;  // a second interface mid-file
        w.ts_ns = 1'700'000'000'123'456'789ull + i * 1'000'000'007ull;
        w.data.resize(40 + i * 13);  // lengths that need padding to 4
        for (std::size_t b = 0; b < w.data.size(); ++b) w.data[b] = static_cast<std::uint8_t>(b * 7 + i);
        w.wire_len = i == 5 ? 1514 : static_cast<std::uint32_t>(w.data.size());  // one cut frame
        w.comment = i % 2 == 0 ? "tcpsleuth: evidence " + std::to_string(i) + std::string(i, 'x') : "";
        packets.push_back(w);
    }
    PcapngWriter out;
    std::string error;
    ASSERT_TRUE(out.open(path, "a file comment", error)) << error;
    for (const Written& w : packets) {
        out.packet(w.link, w.ts_ns, w.data.data(), static_cast<std::uint32_t>(w.data.size()), w.wire_len, w.comment);
    }
    ASSERT_TRUE(out.close(error)) << error;

    std::unique_ptr<CaptureReader> in = CaptureReader::open(path, error);
    ASSERT_TRUE(in) << error;
    std::size_t seen = 0;
    RawPacket burst[32];
    for (std::size_t n; (n = in->next_burst(burst, 32)) != 0;) {
        for (std::size_t i = 0; i < n; ++i, ++seen) {
            ASSERT_LT(seen, packets.size());
            const Written& w = packets[seen];
            EXPECT_EQ(in->link(), w.link) << seen;
            EXPECT_EQ(burst[i].ts_ns, w.ts_ns) << seen;
            EXPECT_EQ(burst[i].cap_len, w.data.size()) << seen;
            EXPECT_EQ(burst[i].wire_len, w.wire_len) << seen;
            EXPECT_EQ(burst[i].number, seen + 1);
            EXPECT_EQ(std::memcmp(burst[i].data, w.data.data(), w.data.size()), 0) << seen;
        }
    }
    EXPECT_EQ(seen, packets.size());
    EXPECT_TRUE(in->warning().empty()) << in->warning();

    // Block by block: type, total length, body, the same total length; nothing left over.
    const std::vector<std::uint8_t> file = read_all(path);
    std::size_t pos = 0, blocks = 0, epbs = 0;
    while (pos + 12 <= file.size()) {
        std::uint32_t type, total, trailer;
        std::memcpy(&type, &file[pos], 4);
        std::memcpy(&total, &file[pos + 4], 4);
        ASSERT_EQ(total % 4, 0u);
        ASSERT_LE(pos + total, file.size());
        std::memcpy(&trailer, &file[pos + total - 4], 4);
        EXPECT_EQ(trailer, total) << "block at " << pos;
        if (type == 6) ++epbs;
        pos += total;
        ++blocks;
    }
    EXPECT_EQ(pos, file.size());
    EXPECT_EQ(epbs, packets.size());
    EXPECT_EQ(blocks, 1 + 2 + packets.size());  // section, two interfaces, the packets
    const std::string text(file.begin(), file.end());
    for (const Written& w : packets) {
        if (!w.comment.empty()) {
            EXPECT_NE(text.find(w.comment), std::string::npos) << w.comment;
        }
    }
    EXPECT_NE(text.find("a file comment"), std::string::npos);
    std::remove(path.c_str());
}

TEST(PcapngWriter, ACaptureThatCannotBeCreatedSaysWhy) {
    PcapngWriter out;
    std::string error;
    EXPECT_FALSE(out.open("/nonexistent-dir-tcpsleuth/x.pcapng", "", error));
    EXPECT_NE(error.find("/nonexistent-dir-tcpsleuth/x.pcapng: cannot create"), std::string::npos) << error;
}

}  // namespace
}  // namespace tcpsleuth
