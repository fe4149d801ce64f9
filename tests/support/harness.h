#pragma once
// Harness: the real pipeline (table, tracker, inspectors) fed frame by frame, with a
// test-controlled clock and packet numbers, collecting the events it emits.

#include <cstdint>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "inspectors/flow/flow_table.h"
#include "inspectors/flow/pipeline.h"
#include "tests/support/frame_builder.h"

namespace tcpsleuth::test {

class Harness {
public:
    // `ring` events fit between two drains (every frame is drained): small for tests that
    // build thousands of harnesses (the shape matrix), whose cost is mostly this allocation.
    explicit Harness(Config cfg = Config{}, std::uint32_t capacity = 1024, std::uint32_t ring = 1 << 16)
        : cfg_(adjust(cfg, capacity)), table_(cfg_.flows.capacity, 12345, cfg_.flows.cold_records), ring_(ring), sink_(ring_, counters_),
          pipeline_(cfg_, table_, sink_, counters_) {}

    // From now on half the flows go to `other`, as two workers would split them: by the
    // software distributor's hash of the flow key.
    void split_with(Harness& other) { other_ = &other; }

    // Feeds one frame at `t_ms` milliseconds after the epoch start; returns its number.
    std::uint64_t feed(const FrameBuilder::Bytes& frame, double t_ms, LinkType link = LinkType::kEthernet) {
        if (other_ != nullptr) {
            PacketView v;
            Dir dir;
            const ParseStatus st = parse_packet(frame.data(), static_cast<std::uint32_t>(frame.size()), link, v);
            if (st == ParseStatus::kOk && steer_hash(make_flow_key(v, dir)) % 2 == 1) return other_->feed(frame, t_ms, link);
        }
        frames_.push_back(frame);
        RawPacket p;
        p.data = frames_.back().data();
        p.cap_len = static_cast<std::uint32_t>(frame.size());
        p.wire_len = p.cap_len;
        p.ts_ns = kEpochNs + static_cast<std::uint64_t>(t_ms * 1e6);
        p.number = ++number_;
        last_ns_ = p.ts_ns;
        pipeline_.process_burst(&p, 1, link);
        drain();
        return p.number;
    }
    std::uint64_t feed(const FrameBuilder& b, double t_ms) { return feed(b.build(), t_ms); }

    void finish() { pipeline_.finish(last_ns_, [this] { drain(); }); }
    void finish_at(double t_ms) {
        last_ns_ = kEpochNs + static_cast<std::uint64_t>(t_ms * 1e6);
        finish();
    }

    const std::vector<Event>& events() const { return events_; }
    std::vector<Event> events(std::string_view kind) const {
        std::vector<Event> out;
        for (const Event& e : events_) {
            if (event_name(e) == kind) out.push_back(e);
        }
        return out;
    }
    std::uint64_t counter(Counter c) const { return counters_.get(c); }
    FlowTable& table() { return table_; }
    Pipeline& pipeline() { return pipeline_; }

    // The only flow in the table (tests with one connection).
    const FlowState& only_flow() {
        const FlowState* found = nullptr;
        table_.for_each([&](FlowState& f) { found = &f; });
        if (found == nullptr || table_.size() != 1) throw std::logic_error("expected exactly one flow");
        return *found;
    }

    static constexpr std::uint64_t kEpochNs = 1'700'000'000ull * 1'000'000'000ull;

private:
    static Config adjust(Config c, std::uint32_t capacity) {
        c.flows.capacity = capacity;
        return c;
    }
    void drain() {
        Event e;
        while (ring_.try_pop(e)) events_.push_back(e);
    }

    Harness* other_ = nullptr;
    Config cfg_;
    FlowTable table_;
    CoreCounters counters_;
    SpscRing<Event> ring_;
    EventSink sink_;
    Pipeline pipeline_;
    std::vector<FrameBuilder::Bytes> frames_;
    std::vector<Event> events_;
    std::uint64_t number_ = 0;
    std::uint64_t last_ns_ = 0;
};

}  // namespace tcpsleuth::test
