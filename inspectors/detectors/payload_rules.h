#pragma once
// Payload rules on the packet path: each direction's first payload.scan_bytes bytes go
// through the compiled rules (config/rules.h) in Hyperscan streaming mode, so a pattern
// split across segments matches. Only in-order bytes are scanned: a retransmission's old
// bytes are skipped, and a gap (loss before the sensor, reordering, a cut capture) ends
// scanning for that direction rather than matching across a hole. No reassembly, no copy.
//
// Streams come from a pool opened when the rules are applied: taking and returning one is
// a free-list operation and a hs_reset_stream, so the packet path never allocates.

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"
#include "inspectors/flow/counters.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

struct hs_scratch;
struct hs_stream;

namespace tcpsleuth {

class RuleSet;

// How far one direction's scan has got.
enum class ScanStatus : std::uint8_t {
    kNotStarted,  // no payload yet (or scanning is off for this side)
    kScanning,    // holds a stream
    kDone,        // scan_bytes reached
    kClosed,      // the side sent its FIN after the last scanned byte
    kGap,         // a sequence gap or a cut capture ended it
    kNoStream,    // the pool was empty when its first byte came
    kMidstream,   // its SYN was not seen: stream offsets unknown, not scanned
    kEnded,       // a reload replaced the rules while it was scanning
};

const char* to_string(ScanStatus s) noexcept;

class PayloadScanner {
public:
    // Per-flow state, in FlowState.
    struct State {
        static constexpr unsigned kTally = 4;
        // Matches per rule, for the 1st/10th/100th rate limit: the first kTally rules that
        // match a flow get their own count, any further rules share `other`.
        struct Tally {
            std::uint16_t rule = 0;  // RuleSet index + 1; 0 free
            std::uint16_t count = 0;
        };
        std::uint32_t slot[2] = {};  // pool slot + 1 per side (client, server); 0 none
        Seq next[2];                 // sequence number of each side's next unscanned byte
        ScanStatus status[2] = {};
        std::uint8_t generation = 0; // the rule set the slots and tallies belong to
        std::uint8_t app_from_user = 0;  // the flow's tag came from a user rule
        Tally tally[kTally];
        std::uint16_t other = 0;
    };

    explicit PayloadScanner(const PayloadConfig& cfg) noexcept;
    ~PayloadScanner();
    PayloadScanner(const PayloadScanner&) = delete;
    PayloadScanner& operator=(const PayloadScanner&) = delete;

    // New settings. New rules (or a new pool size) reopen the pool and the scratch: flows
    // mid-scan stop scanning (payload.reload_ended). Not on the packet path: it allocates.
    void reconfigure(const PayloadConfig& cfg) noexcept;

    // One TCP segment, after the tracker. `frame` is the whole captured frame.
    void on_segment(const std::uint8_t* frame, const PacketView& pkt, const SegmentInfo& seg, FlowCommon& c,
                    State& st, EventSink& sink, CoreCounters& counters) noexcept;

    // The flow is gone: its streams go back to the pool.
    void on_flow_end(State& st) noexcept;

    // Bytes of a side's stream scanned so far (its stream offset): counted from the byte
    // after the side's ISN. `side` 0 is the client.
    static std::uint32_t scanned(const State& st, unsigned side, const DirState& d) noexcept {
        return static_cast<std::uint32_t>(st.next[side] - (d.isn + 1));
    }

    bool active() const noexcept { return rules_ != nullptr && cfg_.enabled; }
    // Bytes the pool and the scratch hold (Hyperscan stream state, both sides).
    std::size_t memory_bytes() const noexcept { return memory_bytes_; }
    std::uint32_t streams_free(unsigned side) const noexcept { return pool_[side].free_count; }
    // Hyperscan stream state a flow holds while both directions are scanned.
    std::size_t stream_bytes_per_flow() const noexcept;

private:
    struct Pool {
        std::vector<hs_stream*> streams;
        std::vector<std::uint32_t> free_slots;  // a stack
        std::uint32_t free_count = 0;
    };
    struct MatchContext;
    static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void* ctx) noexcept;

    void build() noexcept;
    void release() noexcept;
    void adopt(State& st, CoreCounters* counters) noexcept;
    void restart(State& st, FlowCommon& c) noexcept;
    static void clear_tally(State& st) noexcept;
    void end_side(State& st, unsigned side, ScanStatus why, MatchContext* eod) noexcept;
    void report(MatchContext& m, unsigned rule_index, unsigned long long to) noexcept;

    PayloadConfig cfg_;
    std::shared_ptr<const RuleSet> rules_;
    std::uint32_t pool_size_ = 0;
    hs_scratch* scratch_ = nullptr;
    Pool pool_[2];
    std::uint8_t generation_ = 1;
    std::size_t memory_bytes_ = 0;
};

}  // namespace tcpsleuth
