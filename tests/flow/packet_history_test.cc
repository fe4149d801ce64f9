// The packet history behind `tcpsleuthctl pcap`: through the pipeline, a flow's segments in
// both directions and an ICMP error quoting it are found, oldest first, cut to the snap
// length (also when the snap length cuts the quote short); other flows are not; the ring keeps only the newest packets; a scan in slices
// skips what the ring overwrote meanwhile; the answer is bounded.

#include <gtest/gtest.h>

#include <vector>

#include "inspectors/flow/pipeline.h"
#include "tests/support/frame_builder.h"

namespace tcpsleuth {
namespace {

using test::FrameBuilder;

struct Fed {
    std::vector<FrameBuilder::Bytes> frames;
};

class HistoryTest : public ::testing::Test {
protected:
    void make(std::uint32_t packets, std::uint32_t snap) {
        cfg_.history.packets = packets;
        cfg_.history.snap_bytes = snap;
        table_ = std::make_unique<FlowTable>(1024, 1);
        pipeline_ = std::make_unique<Pipeline>(cfg_, *table_, sink_, counters_);
    }
    void feed(const FrameBuilder::Bytes& f) {
        RawPacket p;
        p.data = f.data();
        p.cap_len = p.wire_len = static_cast<std::uint32_t>(f.size());
        p.ts_ns = ts_ += 1'000'000;
        p.number = ++number_;
        pipeline_->process_burst(&p, 1, LinkType::kEthernet);
        Event e;
        while (ring_.try_pop(e)) {
        }
    }
    FlowKey key_of(const FrameBuilder::Bytes& f) {
        PacketView v;
        EXPECT_EQ(parse_packet(f.data(), static_cast<std::uint32_t>(f.size()), LinkType::kEthernet, v, cfg_.decap), ParseStatus::kOk);
        Dir d;
        return make_flow_key(v, d);
    }
    HistoryScan scan(const FlowKey& k, std::uint32_t budget = 1u << 20) {
        HistoryScan s;
        s.reserve(pipeline_->history().snap());
        s.start(table_->hash(k), pipeline_->history());
        while (!s.step(pipeline_->history(), budget)) {
        }
        return s;
    }

    Config cfg_;
    CoreCounters counters_;
    SpscRing<Event> ring_{1024};
    EventSink sink_{ring_, counters_};
    std::unique_ptr<FlowTable> table_;
    std::unique_ptr<Pipeline> pipeline_;
    std::uint64_t ts_ = 1'700'000'000'000'000'000ull;
    std::uint64_t number_ = 0;
};

FrameBuilder::Bytes segment(std::uint16_t client_port, bool from_client, std::uint32_t seq, std::size_t len) {
    FrameBuilder b;
    if (from_client) {
        b.ipv4("198.18.0.1", "198.19.0.1").tcp(client_port, 443);
    } else {
        b.ipv4("198.19.0.1", "198.18.0.1").tcp(443, client_port);
    }
    return b.seq(seq).ack(1).payload(len).build();
}

TEST_F(HistoryTest, AFlowsPacketsBothWaysAndTheIcmpQuotingItOldestFirstCutToSnap) {
    make(64, 64);
    std::vector<FrameBuilder::Bytes> mine;
    for (std::uint32_t i = 0; i < 5; ++i) {
        mine.push_back(segment(40000, i % 2 == 0, 1000 + i * 100, 100));
        feed(mine.back());
        feed(segment(40001, true, 5000 + i, 10));  // another flow, interleaved
    }
    FrameBuilder quoted;
    const FrameBuilder::Bytes inner = quoted.no_ethernet().ipv4("198.18.0.1", "198.19.0.1").tcp(40000, 443).seq(1000).payload(8).build();
    mine.push_back(FrameBuilder().ipv4("198.18.9.9", "198.18.0.1").icmp4_frag_needed(1400, inner).build());
    feed(mine.back());

    const HistoryScan s = scan(key_of(mine[0]));
    ASSERT_EQ(s.entries().size(), mine.size());
    std::size_t at = 0;
    for (std::size_t i = 0; i < mine.size(); ++i) {
        const PacketHistory::Entry& e = s.entries()[i];
        EXPECT_EQ(e.cap_len, std::min<std::size_t>(64, mine[i].size())) << i;
        EXPECT_EQ(e.wire_len, mine[i].size()) << i;
        EXPECT_EQ(e.number, i == 5 ? 11u : 2 * i + 1) << i;
        EXPECT_TRUE(std::equal(s.bytes().begin() + static_cast<std::ptrdiff_t>(at),
                               s.bytes().begin() + static_cast<std::ptrdiff_t>(at + e.cap_len), mine[i].begin()))
            << i;
        at += e.cap_len;
    }
    EXPECT_EQ(s.more(), 0u);
}

TEST_F(HistoryTest, OnlyTheNewestPacketsAreKeptAndAScanSkipsWhatIsOverwrittenMeanwhile) {
    make(8, 128);
    const FrameBuilder::Bytes first = segment(40000, true, 1, 10);
    for (std::uint32_t i = 0; i < 20; ++i) feed(segment(40000, true, 1 + i * 10, 10));
    HistoryScan s = scan(key_of(first));
    ASSERT_EQ(s.entries().size(), 8u);
    EXPECT_EQ(s.entries().front().number, 13u);  // 20 fed, the last 8 kept
    EXPECT_EQ(s.entries().back().number, 20u);

    // Started, one packet examined, then 5 more recorded: those the ring dropped are skipped,
    // the ones recorded after the start are not part of the answer.
    HistoryScan slow;
    slow.reserve(128);
    slow.start(table_->hash(key_of(first)), pipeline_->history());
    EXPECT_FALSE(slow.step(pipeline_->history(), 1));
    for (std::uint32_t i = 0; i < 5; ++i) feed(segment(40000, true, 1000 + i * 10, 10));
    while (!slow.step(pipeline_->history(), 1)) {
    }
    std::vector<std::uint64_t> numbers;
    for (const auto& e : slow.entries()) numbers.push_back(e.number);
    EXPECT_EQ(numbers, (std::vector<std::uint64_t>{13, 18, 19, 20}));
}

TEST_F(HistoryTest, OffKeepsNothing) {
    make(0, 128);
    EXPECT_FALSE(pipeline_->history().enabled());
    feed(segment(40000, true, 1, 10));
    EXPECT_EQ(pipeline_->history().head(), 0u);
    EXPECT_EQ(pipeline_->history().memory_bytes(), 0u);
}

TEST_F(HistoryTest, AnAnswerIsBoundedAndSaysHowManyMore) {
    make(HistoryScan::kMaxPackets + 50, 64);
    const FrameBuilder::Bytes first = segment(40000, true, 1, 10);
    for (std::uint32_t i = 0; i < HistoryScan::kMaxPackets + 50; ++i) feed(segment(40000, true, 1 + i * 10, 10));
    const HistoryScan s = scan(key_of(first), 4096);
    EXPECT_EQ(s.entries().size(), HistoryScan::kMaxPackets);
    EXPECT_EQ(s.more(), 50u);
    EXPECT_EQ(s.entries().front().number, 1u);
}

}  // namespace
}  // namespace tcpsleuth
