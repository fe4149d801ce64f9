#pragma once
// Two-point mode, live: ports marked `point = "outside"` / `"inside"` carry mirrors of the two
// sides of one device. Each worker reduces every packet of a point port to the fields a
// device may leave alone or change (two_point::reduce_packet) and queues it for the main
// core (a bounded SPSC ring, no allocation; a full ring is counted). The main core keeps a
// window of each point's packets and compares them every [two_point] interval_s, as
// `tcpsleuth compare` compares two captures; each device finding (event, kind, way) is
// written when first seen and again only if its severity rises, and the last comparison
// runs at stop.

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "config/daemon_config.h"
#include "inspectors/two_point/device_findings.h"
#include "inspectors/two_point/point_capture.h"

namespace tcpsleuth::live {

// Bytes of each point packet kept for the device findings' evidence files: the headers
// (Ethernet, IP with options, TCP with options) and the start of the payload.
inline constexpr std::uint32_t kPointSnapBytes = 128;

// What a worker queues per point packet.
struct PointRecord {
    two_point::PointPacket packet;
    std::array<two_point::Addr, 2> quoted{};
    std::uint8_t point = 0;  // 0 outside (A), 1 inside (B)
    std::uint16_t snap_len = 0;
    std::uint32_t wire_len = 0;
    std::array<std::uint8_t, kPointSnapBytes> snap;
};

// Reduces one frame of a point port; false when it is neither TCP nor an ICMP error quoting
// TCP (not queued). Called on the worker: parses, copies, never allocates.
bool reduce_point_frame(const std::uint8_t* frame, std::uint32_t cap_len, std::uint32_t wire_len, std::uint64_t ts_ns,
                        const DecapConfig& decap, std::uint8_t point, PointRecord& out) noexcept;

struct LivePointStats {
    std::uint64_t packets[2] = {};   // taken from the workers, per point
    std::uint64_t trimmed[2] = {};   // left the window (age or max_packets)
    std::uint64_t comparisons = 0;
    std::uint64_t findings = 0;      // device findings written
    std::uint64_t evidence_files = 0;
    std::uint64_t evidence_failed = 0;
    std::uint64_t matched_connections = 0;  // in the last comparison
    std::uint64_t matched_packets = 0;
};

class LivePoints {
public:
    explicit LivePoints(const TwoPointConfig& cfg) : cfg_(cfg) {}

    void add(const PointRecord& r);
    // A single-point finding at the inspected point: a device finding it agrees with says so.
    void note_event(const Event& e);
    // Compares the window (packets within a settling second of the newest wait for the next
    // round, so a packet still crossing the device is not taken for a drop) and hands
    // each finding not written before to `write` with its JSON line. `final`: the stop, when
    // everything is compared, `now_ns` being when the points stopped listening (the last
    // packet's time for a replay).
    using Write = std::function<void(const two_point::DeviceFinding&, const std::string&)>;
    void compare(std::uint64_t now_ns, bool final, const Write& write);

    // Evidence files for findings at warning or above (output.evidence_dir): `reserve` names
    // a new file in the directory from a stem ("device.dropped-large"), `written` hands the
    // closed file to the directory's bounds; failures are logged and counted.
    struct EvidenceHooks {
        std::function<std::string(const std::string& stem)> reserve;
        std::function<void(const std::string& path)> written;
    };
    void set_evidence(EvidenceHooks hooks) { evidence_ = std::move(hooks); }
    // `now_ns` (wall time) schedules the next comparison. Time for it?
    bool due(std::uint64_t now_ns) const noexcept { return now_ns >= next_ns_; }

    const LivePointStats& stats() const noexcept { return stats_; }

private:
    void trim(std::uint64_t now_ns);
    std::string write_evidence(const two_point::DeviceFinding& f, const two_point::PointCapture (&points)[2],
                               const std::vector<const PointRecord*> (&records)[2], std::int64_t clock_offset_ns);

    TwoPointConfig cfg_;
    std::deque<PointRecord> window_[2];
    std::map<std::tuple<std::string, std::string, unsigned>, Severity> written_;  // event, kind, way: worst written
    std::vector<Event> single_point_;  // the inspected point's findings, the latest kMaxEvents
    EvidenceHooks evidence_;
    std::uint64_t next_ns_ = 0;
    std::uint64_t latest_ns_ = 0;  // the newest packet's time
    std::uint64_t first_ns_ = 0;   // the oldest packet's time
    std::uint64_t trimmed_until_ns_ = 0;  // the newest packet that left a window
    LivePointStats stats_;
};

}  // namespace tcpsleuth::live
