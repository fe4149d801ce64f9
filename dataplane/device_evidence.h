#pragma once
// The evidence file of a device finding (compare, and two points live): the first affected
// connection's packets from both points in one pcapng, two interfaces ("A: ..." and
// "B: ..."), in the order the packets crossed; each packet's comment names its twin at the
// other point or says it was seen at one point only, and the packets the finding cites are
// marked with it. compare cuts the frames from its inputs; live, from the snaps the workers
// queued with each point packet.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/packet/packet_view.h"
#include "inspectors/two_point/device_findings.h"
#include "inspectors/two_point/point_capture.h"

namespace tcpsleuth {

struct DeviceEvidencePlan {
    std::string path;
    std::string summary;
    std::uint32_t conn[2] = {two_point::kNoConnection, two_point::kNoConnection};
    const two_point::DeviceFinding* finding = nullptr;
};

// "NNNN-event-kind.pcapng" in `dir`, for the plan numbered `n` (1, 2, ...) of finding `f`;
// the affected connections at each point (none where a point saw none).
DeviceEvidencePlan plan_device_evidence(const std::string& dir, std::size_t n, const two_point::DeviceFinding& f);

// Whether a finding gets a file: warning or above, about at least one connection.
bool wants_device_evidence(const two_point::DeviceFinding& f) noexcept;

// The connection's packets at one point for its evidence file, in capture order: all of
// them when they fit, else its first ones (the handshake and options) and those around each
// packet the finding cites, so the cited ones are always there. Indices into pc.packets.
std::vector<std::uint32_t> device_evidence_packets(const two_point::PointCapture& pc, std::uint32_t conn,
                                                   const PacketList& cited);

struct DeviceEvidenceFrame {
    std::uint64_t order_ns;  // on A's clock: the two points interleave as the packets crossed
    unsigned point;
    std::uint64_t ts_ns;
    LinkType link;
    std::vector<std::uint8_t> data;
    std::uint32_t wire_len;
    std::string comment;
};

// One frame of packet `index` at `point`, its comment made from the finding and the match.
DeviceEvidenceFrame device_evidence_frame(const std::array<const two_point::PointCapture*, 2>& points, unsigned point,
                                          std::uint32_t index,
                                          const two_point::DeviceFinding& f, std::int64_t clock_offset_ns, LinkType link,
                                          const std::uint8_t* data, std::uint32_t cap_len, std::uint32_t wire_len,
                                          std::uint64_t ts_ns);

// Writes the plan's file from its frames (sorted here by crossing order); `names`: the two
// points as the file's interfaces name them. False with `error` when it cannot be written.
bool write_device_evidence(const DeviceEvidencePlan& plan, std::vector<DeviceEvidenceFrame>& frames,
                           const std::string (&names)[2], std::int64_t clock_offset_ns, std::string& error);

}  // namespace tcpsleuth
