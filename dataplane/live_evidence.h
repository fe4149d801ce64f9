#pragma once
// run's evidence captures (output.evidence_dir): for every finding at warning or above, a
// pcapng of the flow's packets, taken from its worker's packet history when the finding
// arrives (so the packets before the verdict are there: the ones Suricata's conditional
// pcap-log no longer has when its alert fires), then the flow's further packets for
// output.evidence_follow_s. Everything here runs on the main core, off the packet path: the
// worker only scans its history when its mailbox asks, between bursts. The directory is
// bounded in files and bytes; the oldest captures go first, counted.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/daemon_config.h"
#include "control/controller.h"
#include "dataplane/evidence_capture.h"
#include "dataplane/pcap/pcapng_writer.h"

namespace tcpsleuth {

class LiveEvidence final : public EvidencePlanner {
public:
    // Asks the event's worker for the packets of its flow (`e.key`) in its history.
    using Ask = std::function<void(const Event& e, std::function<void(std::optional<control::FlowPackets>)> done)>;
    static constexpr std::size_t kMaxFollowed = 64;  // captures being written at once
    static constexpr std::chrono::milliseconds kFollowEvery{500};

    LiveEvidence(const OutputConfig& out, Ask ask);
    ~LiveEvidence() override;

    // Creates the directory when missing; false with `error` when it cannot be written to.
    bool open(std::string& error);

    EvidenceFiles plan(const Event& e) override;
    // A file written whole by someone else (two points live: a device finding's capture):
    // `reserve` names it in the directory ("NNNN-STEM.pcapng", numbered with the others),
    // `adopt` counts the closed file in the directory's bounds.
    std::string reserve(const std::string& stem);
    void adopt(const std::string& path);
    // From the main loop: asks for what is due, closes what is done, keeps the bounds.
    void poll();
    // The workers have stopped: `direct` reads a flow's packets from a stopped worker's
    // history on this thread; every capture still open takes its last packets and closes.
    void finish(const std::function<std::optional<control::FlowPackets>(const Event&)>& direct);

    std::size_t written() const noexcept { return written_; }
    std::size_t removed() const noexcept { return removed_; }
    std::size_t skipped() const noexcept { return skipped_; }
    std::size_t failed() const noexcept { return failed_; }
    const std::string& dir() const noexcept { return dir_; }

private:
    struct Capture;

    void take(Capture& c, const control::FlowPackets& fp);
    void close(Capture& c);
    void keep_bounds();

    std::string dir_;
    std::chrono::seconds follow_;
    std::size_t max_files_;
    std::uint64_t max_bytes_;
    Ask ask_;
    std::size_t planned_ = 0;
    std::deque<std::unique_ptr<Capture>> open_;
    std::deque<std::pair<std::string, std::uint64_t>> closed_;  // oldest first, with their sizes
    std::uint64_t closed_bytes_ = 0;
    std::size_t written_ = 0, removed_ = 0, skipped_ = 0, failed_ = 0;
};

}  // namespace tcpsleuth
