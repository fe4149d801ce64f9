#pragma once
// output.rotate_kb / rotate_s / rotate_keep: tcpsleuth rotating its events file itself, for
// hosts without logrotate (or where a reopen signal is unwelcome). Once the file holds
// rotate_kb kilobytes, or has been open rotate_s seconds, it is renamed aside with the time
// of the rotation (events.jsonl.20261129T094500Z) and a new one started; always after a
// whole line, so no line is split, lost or written twice. At most rotate_keep rotated files
// are kept (the oldest go first); 0 keeps them all. Off the packet path: the main core (run)
// or analyze's loop writes the events.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "config/daemon_config.h"
#include "dataplane/output.h"

namespace tcpsleuth {

class EventsRotation {
public:
    // `path`: the events output as configured ("" or "-": a standard stream, never rotated).
    EventsRotation(std::string path, const OutputConfig& out);

    bool enabled() const noexcept { return enabled_; }
    // A line of `bytes` bytes (its newline included) went to `file`. When the file is due,
    // rotates it: `file` is then the new one (true). On failure the old file goes on and
    // `error` says why (false, as when nothing was due).
    bool after_line(FilePtr& file, std::size_t bytes, std::string& error);
    // The file was reopened from outside (logrotate): its size and age start from there.
    void reopened(std::FILE* file);

    std::uint64_t rotations() const noexcept { return rotations_; }
    std::uint64_t removed() const noexcept { return removed_; }

private:
    std::string aside_name();

    std::string path_;
    bool enabled_ = false;
    std::uint64_t max_bytes_ = 0;
    std::chrono::seconds max_age_{0};
    std::uint32_t keep_ = 0;
    std::uint64_t bytes_ = 0;
    std::chrono::steady_clock::time_point opened_;
    std::deque<std::string> aside_;  // rotated files, oldest first
    std::string last_stamp_;         // the second of the last rotation, and how many had it before
    std::uint32_t same_second_ = 0;
    std::uint64_t rotations_ = 0, removed_ = 0;
};

}  // namespace tcpsleuth
