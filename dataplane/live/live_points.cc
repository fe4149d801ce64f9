#include "dataplane/live/live_points.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "dataplane/device_evidence.h"
#include "dataplane/packet/parse.h"
#include "inspectors/two_point/device_output.h"
#include "inspectors/two_point/matcher.h"

namespace tcpsleuth::live {

using namespace two_point;

namespace {
constexpr std::uint64_t kSecond = 1'000'000'000ull;
// A packet this young may still be crossing the device (or waiting in a worker's ring): it
// is compared in the next round.
constexpr std::uint64_t kSettleNs = kSecond;
// Single-point findings kept for agreement: the older half goes when full.
constexpr std::size_t kMaxEvents = 65536;
}  // namespace

void LivePoints::note_event(const Event& e) {
    if (single_point_.size() >= kMaxEvents) single_point_.erase(single_point_.begin(), single_point_.begin() + kMaxEvents / 2);
    single_point_.push_back(e);
}

bool reduce_point_frame(const std::uint8_t* frame, std::uint32_t cap_len, std::uint32_t wire_len, std::uint64_t ts_ns,
                        const DecapConfig& decap, std::uint8_t point, PointRecord& out) noexcept {
    PacketView v;
    v.ts_ns = ts_ns;
    v.wire_len = wire_len;
    const ParseStatus st = parse_packet(frame, cap_len, LinkType::kEthernet, v, decap);
    bool kept = false;
    if (st == ParseStatus::kOk) {
        const std::uint32_t at = std::min<std::uint32_t>(cap_len, v.l4_offset + v.tcp.header_len);
        kept = reduce_packet(v, false, frame + at, cap_len - at, out.packet, out.quoted);
    } else if (st == ParseStatus::kIcmpQuote) {
        kept = reduce_packet(v, true, nullptr, 0, out.packet, out.quoted);
    }
    out.point = point;
    out.wire_len = wire_len;
    out.snap_len = static_cast<std::uint16_t>(std::min(cap_len, kPointSnapBytes));
    std::memcpy(out.snap.data(), frame, out.snap_len);
    return kept;
}

void LivePoints::add(const PointRecord& r) {
    const unsigned p = r.point & 1u;
    window_[p].push_back(r);
    window_[p].back().packet.number = ++stats_.packets[p];  // numbered per point, in arrival order
    latest_ns_ = std::max(latest_ns_, r.packet.ts_ns);
    if (first_ns_ == 0 || r.packet.ts_ns < first_ns_) first_ns_ = r.packet.ts_ns;
}

void LivePoints::trim(std::uint64_t now_ns) {
    const std::uint64_t window_ns = static_cast<std::uint64_t>(cfg_.window_s) * kSecond;
    for (unsigned p = 0; p < 2; ++p) {
        auto& w = window_[p];
        while (!w.empty() && (w.size() > cfg_.max_packets || (now_ns > window_ns && w.front().packet.ts_ns < now_ns - window_ns))) {
            trimmed_until_ns_ = std::max(trimmed_until_ns_, w.front().packet.ts_ns);
            w.pop_front();
            ++stats_.trimmed[p];
        }
    }
}

void LivePoints::compare(std::uint64_t now_ns, bool final, const Write& write) {
    next_ns_ = now_ns + static_cast<std::uint64_t>(cfg_.interval_s) * kSecond;
    // The window is told in packet time (a replayed capture keeps its own clock), as of the
    // newest packet either point has seen.
    trim(latest_ns_);
    const std::uint64_t cut = final ? std::max(latest_ns_, now_ns) : latest_ns_ - std::min(latest_ns_, kSettleNs);
    // Both points listened the whole time, quiet or not: each capture spans from where both
    // still hold every packet (one may have trimmed more) to the cut, so a packet missing at
    // the other point after its last one is judged as missing, not as beyond its capture.
    const std::uint64_t from = std::max(first_ns_, trimmed_until_ns_ + 1);
    PointCapture points[2];
    points[0].name = "outside";
    points[1].name = "inside";
    std::vector<const PointRecord*> records[2];  // per point: the record of each packet index
    for (unsigned p = 0; p < 2; ++p) {
        // Workers queue in their own order: the comparison wants each point in time order.
        std::vector<const PointRecord*>& order = records[p];
        for (const PointRecord& r : window_[p]) {
            if (r.packet.ts_ns >= from && r.packet.ts_ns <= cut) order.push_back(&r);
        }
        std::stable_sort(order.begin(), order.end(),
                         [](const PointRecord* x, const PointRecord* y) { return x->packet.ts_ns < y->packet.ts_ns; });
        for (const PointRecord* r : order) {
            points[p].note_frame(r->packet.ts_ns);
            points[p].add_reduced(r->packet, r->quoted);
        }
        if (from <= cut) {
            points[p].note_frame(from);
            points[p].note_frame(cut);
        }
        points[p].group();
    }
    ++stats_.comparisons;
    if (points[0].packets.empty() || points[1].packets.empty()) return;
    const Comparison cmp = match_points(points[0], points[1]);
    stats_.matched_connections = cmp.pairs.size();
    stats_.matched_packets = cmp.matched_packets;
    if (cmp.pairs.empty()) return;  // no connection seen at both points: not one device's two sides (yet)
    DeviceReport report = find_device_faults(points[0], points[1], cmp);
    const bool outside = cfg_.inspect == Point::kOutside;
    for (DeviceFinding& f : report.findings) {
        // Once per event, kind and way; again only when it has grown worse (a few scattered
        // drops are information, more of them a warning).
        const auto [it, first] = written_.try_emplace({std::string(f.event), f.kind, f.way}, f.severity);
        if (!first && f.severity <= it->second) continue;
        it->second = f.severity;
        note_agreement(f, {&points[0], &points[1]}, {outside ? &single_point_ : nullptr, outside ? nullptr : &single_point_});
        ++stats_.findings;
        const std::string pcap =
            evidence_.reserve && wants_device_evidence(f) ? write_evidence(f, points, records, cmp.clock_offset_ns) : std::string();
        write(f, finding_json(f, points[0], points[1], pcap));
    }
}

// The finding's first affected connection at both points, from the snaps the workers queued.
std::string LivePoints::write_evidence(const DeviceFinding& f, const PointCapture (&points)[2],
                                       const std::vector<const PointRecord*> (&records)[2], std::int64_t clock_offset_ns) {
    const std::string path = evidence_.reserve(std::string(f.event) + "-" + f.kind);
    if (path.empty()) return {};
    DeviceEvidencePlan plan = plan_device_evidence("", 0, f);
    plan.path = path;
    std::vector<DeviceEvidenceFrame> frames;
    for (unsigned p = 0; p < 2; ++p) {
        if (plan.conn[p] == kNoConnection) continue;
        for (const std::uint32_t i : device_evidence_packets(points[p], plan.conn[p], f.numbers[p])) {
            const PointRecord& r = *records[p][i];
            frames.push_back(device_evidence_frame({&points[0], &points[1]}, p, i, f, clock_offset_ns, LinkType::kEthernet,
                                                   r.snap.data(), r.snap_len, r.wire_len, r.packet.ts_ns));
        }
    }
    const std::string names[2] = {"A: outside point", "B: inside point"};
    std::string error;
    if (!write_device_evidence(plan, frames, names, clock_offset_ns, error)) {
        spdlog::warn("evidence capture: {}", error);
        ++stats_.evidence_failed;
        return {};
    }
    ++stats_.evidence_files;
    evidence_.written(path);
    return path;
}

}  // namespace tcpsleuth::live
