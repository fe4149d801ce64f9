#pragma once
// Events are plain structs, one per finding, each naming itself with kName (stable API:
// users alert on these names, see DESIGN.md). They are trivially copyable and cross from a
// worker to the output side through a ring; strings are only made on the output side
// (event_format.cc).

#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <variant>

#include "counters.h"
#include "flow_key.h"
#include "spsc_ring.h"

namespace tcpsleuth {

enum class Severity : std::uint8_t { kInfo, kWarning, kCritical };
enum class Confidence : std::uint8_t { kLow, kMedium, kHigh };
// Relative to the sensor, in the direction the affected packets travel.
enum class Where : std::uint8_t { kUnknown, kUpstream, kDownstream };
enum class Side : std::uint8_t { kClient, kServer };

std::string_view to_string(Severity s) noexcept;
std::string_view to_string(Confidence c) noexcept;
std::string_view to_string(Where w) noexcept;
std::string_view to_string(Side s) noexcept;

// Packet numbers that prove a finding (offline: 1-based frame numbers). The first few and
// the last one are kept; `total` says how many there were.
struct PacketList {
    static constexpr unsigned kMax = 6;
    std::uint64_t nums[kMax] = {};
    std::uint8_t count = 0;
    std::uint32_t total = 0;

    void add(std::uint64_t n) noexcept {
        if (n == 0) return;  // live packets have no number
        ++total;
        if (count < kMax) {
            nums[count++] = n;
        } else {
            nums[kMax - 1] = n;  // keep the most recent in the last place
        }
    }
};

// handshake.syn_unanswered: SYN repeated with the same ISN, no SYN-ACK.
struct SynUnanswered {
    static constexpr std::string_view kName = "handshake.syn_unanswered";
    std::uint32_t syns = 0;          // SYNs with this ISN, the first included
    std::uint32_t isn = 0;
    std::uint64_t first_syn_ns = 0;
    std::uint64_t last_syn_ns = 0;
    std::uint32_t app_retries = 0;   // earlier attempts on this 4-tuple with another ISN
    bool ecn_setup = false;          // the SYNs carried ECE+CWR (RFC 3168 section 6.1.1)
    bool final = false;              // reported when the flow ended, still unanswered
};

// window.zero_stall: a receiver held its window at zero.
struct ZeroWindowStall {
    static constexpr std::string_view kName = "window.zero_stall";
    std::uint64_t since_ns = 0;
    std::uint64_t duration_ns = 0;
    std::uint32_t probes = 0;        // probes the sender sent into the closed window
    std::uint32_t stall_number = 0;  // 1 for this flow's first stall, ...
    std::uint32_t threshold_ms = 0;
    std::uint32_t min_probes = 0;
    std::uint32_t bytes_waiting = 0; // sender's unacknowledged bytes when the window closed
    Side slow_side = Side::kServer;  // the side that advertised zero
    bool ongoing = false;            // still closed when the flow ended or input stopped
};

// sensor.flow_table_full: a flow was evicted to make room.
struct FlowTableFull {
    static constexpr std::string_view kName = "sensor.flow_table_full";
    std::uint64_t evicted_total = 0;
    std::uint32_t capacity = 0;
    std::uint64_t victim_idle_ns = 0;
    std::uint64_t victim_flow_id = 0;
};

using EventDetail = std::variant<SynUnanswered, ZeroWindowStall, FlowTableFull>;

struct Event {
    FlowKey key;
    std::uint64_t flow_id = 0;        // 0: not about one flow (sensor events)
    std::uint64_t ts_ns = 0;
    bool client_is_lo = true;         // which key endpoint is the client
    Severity severity = Severity::kInfo;
    Confidence confidence = Confidence::kMedium;
    Where where = Where::kUnknown;
    std::uint32_t occurrence = 1;     // the nth finding of this kind in this flow
    PacketList packets;
    EventDetail detail;
};
static_assert(std::is_trivially_copyable_v<Event>, "events cross cores by copy");

std::string_view event_name(const Event& e) noexcept;

// The packet path's handle on the event ring: a full ring costs one counter, never a wait.
class EventSink {
public:
    EventSink(SpscRing<Event>& ring, CoreCounters& counters) noexcept : ring_(ring), counters_(counters) {}
    void emit(const Event& e) noexcept {
        counters_.add(ring_.try_push(e) ? Counter::kEventsEmitted : Counter::kEventsDropped);
    }

private:
    SpscRing<Event>& ring_;
    CoreCounters& counters_;
};

// True on the 1st, 10th, 100th, ... occurrence (Zeek's ScaledHistoryEntry).
constexpr bool bump_and_should_report(std::uint32_t& count, std::uint32_t& next) noexcept {
    if (next == 0) next = 1;
    if (++count != next) return false;
    next = next > std::numeric_limits<std::uint32_t>::max() / 10 ? std::numeric_limits<std::uint32_t>::max()
                                                                : next * 10;
    return true;
}

}  // namespace tcpsleuth
