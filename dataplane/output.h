#pragma once
// Where events and reports go: a file, "-" for stdout, or a default stream.

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "config/daemon_config.h"
#include "dataplane/evidence_capture.h"
#include "inspectors/output/event_format.h"
#include "inspectors/output/report.h"

namespace tcpsleuth {

struct FileCloser {
    void operator()(std::FILE* f) const {
        if (f != nullptr && f != stdout && f != stderr) std::fclose(f);
    }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// "" -> `dflt`, "-" -> stdout, anything else is opened for writing (null on failure, errno set).
inline FilePtr open_output(const std::string& path, std::FILE* dflt) {
    if (path.empty()) return FilePtr(dflt);
    if (path == "-") return FilePtr(stdout);
    return FilePtr(std::fopen(path.c_str(), "w"));
}

// A daemon's events file gets each line in one write(2): killed at any moment (SIGKILL, the
// OOM killer, a power cut after the page cache took it) it ends on a whole line, never half
// of one. Findings are rare next to packets, so a system call each costs nothing.
inline void write_whole_lines(std::FILE* f) noexcept {
    if (f != nullptr) std::setvbuf(f, nullptr, _IONBF, 0);
}

// output.min_confidence as a Confidence (the loader accepts only the three names).
inline Confidence min_confidence(const OutputConfig& out) noexcept {
    Confidence c = Confidence::kLow;
    parse_confidence(out.min_confidence, c);
    return c;
}

// Each event as one JSON line, and into the report. Off the packet path (the main core or
// analyze's loop): formatting and I/O happen here, never in a worker.
class EventWriter {
public:
    EventWriter(std::FILE* out, Report& report) : out_(out), report_(report) {}

    // Findings below `c` are counted in the report and written nowhere (output.min_confidence).
    void set_min_confidence(Confidence c) noexcept { min_ = c; }
    // Several inputs merged (analyze): evidence names each packet's file and frame.
    void set_origins(const PacketOrigins* origins) noexcept { origins_ = origins; }
    // analyze --evidence-dir, run's output.evidence_dir: each finding that gets an evidence
    // capture names it.
    void set_evidence(EvidencePlanner* evidence) noexcept { evidence_ = evidence; }

    // A reopened events file (after logrotate moved the old one away).
    void set_output(std::FILE* out) noexcept { out_ = out; }
    // Lines go to `sink` (the daemon's events thread) instead of a file, with their event.
    void set_sink(std::function<void(const Event&, std::string_view line)> sink) { sink_ = std::move(sink); }

    // False when the event was below the minimum confidence: it goes nowhere else either.
    bool write(const Event& e) {
        if (e.confidence < min_) {
            report_.add_below_confidence(min_);
            return false;
        }
        files_ = evidence_ != nullptr && EvidenceCaptures::wants(e) ? evidence_->plan(e) : EvidenceFiles{};
        report_.add(e, {.pcap = files_.pcap, .plot = files_.plot_number});
        line_ = format_event_json(e, origins_, files_.pcap, files_.plot);
        line_ += '\n';
        if (sink_) {
            sink_(e, line_);
        } else {
            std::fwrite(line_.data(), 1, line_.size(), out_);
        }
        return true;
    }

    // The files the last event written names (its evidence capture, its plot).
    const EvidenceFiles& last_files() const noexcept { return files_; }

    // The last event written, without its newline (the control socket streams it as is).
    std::string_view last_line() const noexcept {
        return std::string_view(line_).substr(0, line_.empty() ? 0 : line_.size() - 1);
    }

private:
    std::FILE* out_;
    std::function<void(const Event&, std::string_view)> sink_;
    Report& report_;
    std::string line_;  // reused: one allocation for the whole run
    EvidenceFiles files_;
    Confidence min_ = Confidence::kLow;
    const PacketOrigins* origins_ = nullptr;
    EvidencePlanner* evidence_ = nullptr;
};

}  // namespace tcpsleuth
