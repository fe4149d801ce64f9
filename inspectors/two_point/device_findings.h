#pragma once
// What the device between the two points did, from the matched packets: device.dropped
// (entered, never left), device.rewrote (a field changed on the way through),
// device.injected (left without entering), device.delay (time spent crossing). Findings are
// per device, not per flow: one for each kind and way, with the flows it touched counted
// and the first one named.

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "inspectors/output/events.h"
#include "matcher.h"
#include "point_capture.h"

namespace tcpsleuth::two_point {

struct DeviceFinding {
    std::string_view event;  // device.dropped, device.rewrote, device.injected, device.delay
    std::string kind;        // what: syn, large, after_idle, ..., sack_perm, ecn_bleached, ..., rst
    Severity severity = Severity::kInfo;
    Confidence confidence = Confidence::kMedium;
    unsigned way = 0;                 // 0: crossing from A to B, 1: from B to A
    std::uint64_t first_ns = 0;       // at point A's clock
    std::uint64_t last_ns = 0;
    std::uint32_t packets = 0;        // packets affected
    std::set<std::uint32_t> conns[2]; // affected connections at each point (indices)
    PacketList numbers[2];            // packet numbers at A and at B
    std::string summary;
    std::string evidence;             // JSON members of "evidence" (no braces)
    std::string advice;
    std::vector<std::string> agrees_with;  // single-point verdicts that say the same
};

struct CompareCounts {
    std::uint64_t unseen_at_edges = 0;  // missing at the other point, which was not capturing then
    std::uint64_t unattributed = 0;     // missing, on a direction whose crossing is unknown
    std::uint64_t capture_gaps = 0;     // missing at one point though they crossed (the other capture lost them)
    std::uint64_t ack_gaps = 0;         // lone pure ACKs missing beyond the device: device or capture, no telling
};

struct DeviceReport {
    std::vector<DeviceFinding> findings;  // in time order
    CompareCounts counts;
};

DeviceReport find_device_faults(const PointCapture& a, const PointCapture& b, const Comparison& cmp);

// Single-point event names that would say the same as `f` at a point (agreement raises the
// finding's confidence).
std::vector<std::string_view> single_point_equivalents(const DeviceFinding& f);

// Single-point verdicts at either point (`events[p]`: that point's, null when it has none)
// on a connection the finding touched: named in f.agrees_with ("mtu.blackhole at A"), and
// the finding's confidence raised to high.
void note_agreement(DeviceFinding& f, const std::array<const PointCapture*, 2>& points,
                    const std::array<const std::vector<Event>*, 2>& events);

}  // namespace tcpsleuth::two_point
