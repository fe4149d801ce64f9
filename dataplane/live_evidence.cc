#include <cstdio>
#include "dataplane/live_evidence.h"

#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>


#include "inspectors/output/event_format.h"

namespace tcpsleuth {

struct LiveEvidence::Capture {
    Event event;
    std::string path;
    PcapngWriter writer;
    bool opened = false;
    bool asking = false;
    bool done = false;
    std::uint64_t last_ts_ns = 0;  // packets up to here are in the file
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::chrono::steady_clock::time_point until;
    std::chrono::steady_clock::time_point next_ask;
};

LiveEvidence::LiveEvidence(const OutputConfig& out, Ask ask)
    : dir_(out.evidence_dir),
      follow_(out.evidence_follow_s),
      max_files_(out.evidence_max_files),
      max_bytes_(std::uint64_t{out.evidence_max_mb} << 20),
      ask_(std::move(ask)) {
    while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

LiveEvidence::~LiveEvidence() = default;

bool LiveEvidence::open(std::string& error) {
    if (prepare_evidence_dir(dir_, error)) return true;
    error = "output.evidence_dir: " + error;
    return false;
}

EvidenceFiles LiveEvidence::plan(const Event& e) {
    // A flow's packets: live, a finding without a flow has no packet numbers to cut by.
    if (!EvidenceCaptures::wants(e) || e.flow_id == 0) return {};
    if (open_.size() >= kMaxFollowed) {
        ++skipped_;
        return {};
    }
    auto c = std::make_unique<Capture>();
    c->event = e;
    c->path = dir_ + "/" + evidence_file_name(++planned_, e);
    const auto now = std::chrono::steady_clock::now();
    c->until = now + follow_;
    c->next_ask = now;
    std::string path = c->path;
    open_.push_back(std::move(c));
    keep_bounds();
    return {.pcap = path, .plot = {}};
}

std::string LiveEvidence::reserve(const std::string& stem) {
    char seq[16];
    std::snprintf(seq, sizeof seq, "%04zu-", ++planned_);
    return dir_ + "/" + seq + stem + ".pcapng";
}

void LiveEvidence::adopt(const std::string& path) {
    struct stat st {};
    const std::uint64_t size = stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    closed_.push_back({path, size});
    closed_bytes_ += size;
    ++written_;
    keep_bounds();
}

void LiveEvidence::poll() {
    const auto now = std::chrono::steady_clock::now();
    for (auto& c : open_) {
        if (c->asking || c->done || now < c->next_ask) continue;
        c->asking = true;
        Capture* capture = c.get();
        ask_(capture->event, [this, capture](std::optional<control::FlowPackets> fp) {
            capture->asking = false;
            if (fp) take(*capture, *fp);
            const auto at = std::chrono::steady_clock::now();
            capture->next_ask = at + kFollowEvery;
            if (at >= capture->until) capture->done = true;
        });
    }
    while (!open_.empty() && open_.front()->done && !open_.front()->asking) {
        const std::unique_ptr<Capture> c = std::move(open_.front());
        open_.pop_front();
        close(*c);
    }
}

void LiveEvidence::finish(const std::function<std::optional<control::FlowPackets>(const Event&)>& direct) {
    while (!open_.empty()) {
        const std::unique_ptr<Capture> c = std::move(open_.front());
        open_.pop_front();  // closed, it no longer counts as open against the bounds
        if (const std::optional<control::FlowPackets> fp = direct(c->event)) take(*c, *fp);
        close(*c);
    }
}

// Appends the history's packets of the flow newer than those already written. The packet
// the finding fired at (its timestamp) says so in its comment.
void LiveEvidence::take(Capture& c, const control::FlowPackets& fp) {
    if (!c.opened) {
        std::string error;
        const std::string comment = evidence_description(c.event) +
                                    "\nPackets from the sensor's packet history (the first " + std::to_string(fp.snap) +
                                    " bytes of each), then the flow's packets for " + std::to_string(follow_.count()) +
                                    " s after the finding.";
        if (!c.writer.open(c.path, comment, error)) {
            spdlog::warn("evidence capture: {}", error);
            ++failed_;
            c.done = true;
            return;
        }
        c.opened = true;
    }
    std::size_t at = 0;
    for (const PacketHistory::Entry& e : fp.entries) {
        const std::uint8_t* data = fp.bytes.data() + at;
        at += e.cap_len;
        if (e.ts_ns <= c.last_ts_ns && c.packets != 0) continue;
        const char* note = e.ts_ns == c.event.ts_ns ? "tcpsleuth: the finding was reported at this packet" : "";
        c.writer.packet(e.link, e.ts_ns, data, e.cap_len, e.wire_len, note);
        c.last_ts_ns = std::max(c.last_ts_ns, e.ts_ns);
        ++c.packets;
        c.bytes += e.cap_len + 48;  // the enhanced packet block around it
    }
}

void LiveEvidence::close(Capture& c) {
    if (!c.opened) return;
    std::string error;
    if (!c.writer.close(error)) {
        spdlog::warn("evidence capture: {}", error);
        ++failed_;
        return;
    }
    struct stat st {};
    const std::uint64_t size = stat(c.path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : c.bytes;
    closed_.push_back({c.path, size});
    closed_bytes_ += size;
    ++written_;
    keep_bounds();
}

// The oldest closed captures go first until the directory fits (open ones count as files).
void LiveEvidence::keep_bounds() {
    while (!closed_.empty() && (closed_.size() + open_.size() > max_files_ || closed_bytes_ > max_bytes_)) {
        if (unlink(closed_.front().first.c_str()) == 0) ++removed_;
        closed_bytes_ -= closed_.front().second;
        closed_.pop_front();
    }
}

}  // namespace tcpsleuth
