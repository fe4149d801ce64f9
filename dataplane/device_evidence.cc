#include "dataplane/device_evidence.h"

#include <algorithm>
#include <cstdio>

#include "dataplane/pcap/pcapng_writer.h"

namespace tcpsleuth {

using namespace two_point;

namespace {

constexpr std::size_t kEvidencePacketsPerPoint = 2000;

// What an evidence packet shows: cited by the finding, and seen at one point only.
std::string packet_note(const PointPacket& p, unsigned point, const DeviceFinding& f) {
    std::string note;
    for (unsigned i = 0; i < f.numbers[point].count; ++i) {
        if (f.numbers[point].nums[i] != p.number) continue;
        note = std::string(f.event) + " (" + f.kind + ")";
        // A rewrite shows as the pair: the packet as it entered (the way's first point) and left.
        if (f.event == "device.rewrote") note += point == f.way ? ", as it entered the device" : ", as it left the device";
    }
    if (p.match < 0) {
        note += std::string(note.empty() ? "" : ": ") + "seen at " + (point == 0 ? "A" : "B") + " only, never at " +
                (point == 0 ? "B" : "A");
    }
    return note;
}

}  // namespace

bool wants_device_evidence(const DeviceFinding& f) noexcept {
    return f.severity != Severity::kInfo && (!f.conns[0].empty() || !f.conns[1].empty());
}

DeviceEvidencePlan plan_device_evidence(const std::string& dir, std::size_t n, const DeviceFinding& f) {
    char name[160];
    std::snprintf(name, sizeof name, "%04zu-%s-%s.pcapng", n, std::string(f.event).c_str(), f.kind.c_str());
    DeviceEvidencePlan plan;
    plan.path = dir + "/" + name;
    plan.summary = std::string(f.event) + " (" + f.kind + "): " + f.summary;
    plan.finding = &f;
    for (unsigned p = 0; p < 2; ++p) plan.conn[p] = f.conns[p].empty() ? kNoConnection : *f.conns[p].begin();
    return plan;
}

std::vector<std::uint32_t> device_evidence_packets(const PointCapture& pc, std::uint32_t conn, const PacketList& cited) {
    std::vector<std::uint32_t> all;
    for (unsigned d = 0; d < 2; ++d) all.insert(all.end(), pc.conns[conn].packets[d].begin(), pc.conns[conn].packets[d].end());
    all.insert(all.end(), pc.conns[conn].icmp.begin(), pc.conns[conn].icmp.end());
    std::sort(all.begin(), all.end());
    if (all.size() <= kEvidencePacketsPerPoint) return all;
    constexpr std::size_t kHead = 20, kAround = 100;
    std::vector<bool> keep(all.size(), false);
    for (std::size_t i = 0; i < kHead; ++i) keep[i] = true;
    for (unsigned n = 0; n < cited.count; ++n) {
        const auto it = std::find_if(all.begin(), all.end(), [&](std::uint32_t i) { return pc.packets[i].number == cited.nums[n]; });
        if (it == all.end()) continue;
        const std::size_t at = static_cast<std::size_t>(it - all.begin());
        for (std::size_t i = at > kAround ? at - kAround : 0; i < std::min(all.size(), at + kAround + 1); ++i) keep[i] = true;
    }
    std::vector<std::uint32_t> out;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (keep[i]) out.push_back(all[i]);
    }
    return out;
}

DeviceEvidenceFrame device_evidence_frame(const std::array<const PointCapture*, 2>& points, unsigned point, std::uint32_t index,
                                          const DeviceFinding& f, std::int64_t clock_offset_ns, LinkType link,
                                          const std::uint8_t* data, std::uint32_t cap_len, std::uint32_t wire_len,
                                          std::uint64_t ts_ns) {
    const PointPacket& pp = points[point]->packets[index];
    std::string comment = packet_note(pp, point, f);
    if (pp.match >= 0) {
        const std::uint64_t other = points[point ^ 1]->packets[static_cast<std::size_t>(pp.match)].number;
        comment += (comment.empty() ? "" : "; ") + std::string("at ") + (point == 0 ? "B" : "A") + " as frame " +
                   std::to_string(other);
    }
    const std::uint64_t order = point == 0 ? ts_ns : ts_ns - static_cast<std::uint64_t>(clock_offset_ns);
    return {order, point, ts_ns, link, std::vector<std::uint8_t>(data, data + cap_len), wire_len, std::move(comment)};
}

bool write_device_evidence(const DeviceEvidencePlan& plan, std::vector<DeviceEvidenceFrame>& frames,
                           const std::string (&names)[2], std::int64_t clock_offset_ns, std::string& error) {
    std::stable_sort(frames.begin(), frames.end(),
                     [](const DeviceEvidenceFrame& x, const DeviceEvidenceFrame& y) { return x.order_ns < y.order_ns; });
    PcapngWriter w;
    char offset[64];
    std::snprintf(offset, sizeof offset, "%+.1f us", static_cast<double>(clock_offset_ns) / 1e3);
    const std::string comment = plan.summary + "\n" + names[0] + "\n" + names[1] +
                                "\nTimestamps as each point captured them; packets are in the order they crossed "
                                "(B's clock = A's " + offset + ").";
    if (!w.open(plan.path, comment, error)) return false;
    for (const DeviceEvidenceFrame& h : frames) {
        w.packet(h.link, h.ts_ns, h.data.data(), static_cast<std::uint32_t>(h.data.size()), h.wire_len, h.comment,
                 names[h.point]);
    }
    return w.close(error);
}

}  // namespace tcpsleuth
