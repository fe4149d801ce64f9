#include "dataplane/events_rotation.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace tcpsleuth {

EventsRotation::EventsRotation(std::string path, const OutputConfig& out)
    : path_(std::move(path)),
      max_bytes_(static_cast<std::uint64_t>(out.rotate_kb) * 1024),
      max_age_(out.rotate_s),
      keep_(out.rotate_keep),
      opened_(std::chrono::steady_clock::now()) {
    enabled_ = !path_.empty() && path_ != "-" && (max_bytes_ != 0 || max_age_.count() != 0);
    struct stat st {};
    if (enabled_ && stat(path_.c_str(), &st) == 0) bytes_ = static_cast<std::uint64_t>(st.st_size);
}

void EventsRotation::reopened(std::FILE* file) {
    struct stat st {};
    bytes_ = file != nullptr && fstat(fileno(file), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    opened_ = std::chrono::steady_clock::now();
}

// The file's name and the rotation's time in UTC; several rotations in one second are
// numbered -1, -2, ... in order (never a name a removed file had, so names sort in order),
// skipping any a file already has.
std::string EventsRotation::aside_name() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    if (last_stamp_ != stamp) {
        last_stamp_ = stamp;
        same_second_ = 0;
    } else {
        ++same_second_;
    }
    struct stat st {};
    for (;;) {
        std::string name = path_;
        name += '.';
        name += stamp;
        if (same_second_ != 0) {
            name += '-';
            name += std::to_string(same_second_);
        }
        if (stat(name.c_str(), &st) != 0) return name;
        ++same_second_;
    }
}

bool EventsRotation::after_line(FilePtr& file, std::size_t bytes, std::string& error) {
    if (!enabled_) return false;
    bytes_ += bytes;
    const bool full = max_bytes_ != 0 && bytes_ >= max_bytes_;
    const bool old = max_age_.count() != 0 && std::chrono::steady_clock::now() - opened_ >= max_age_;
    if (!full && !old) return false;
    // Every line so far is in the file before it moves; the next goes to the new one. (A
    // null `file`: the caller's writer has the open file and switches at this line itself.)
    if (file && std::fflush(file.get()) != 0) {
        error = path_ + ": cannot write: " + std::strerror(errno);
        return false;
    }
    const std::string aside = aside_name();
    if (std::rename(path_.c_str(), aside.c_str()) != 0) {
        error = path_ + ": cannot rotate to " + aside + ": " + std::strerror(errno) + " (events keep going to it)";
        opened_ = std::chrono::steady_clock::now();  // try again after another period, not every line
        bytes_ = 0;
        return false;
    }
    FilePtr fresh(std::fopen(path_.c_str(), "w"));
    if (!fresh) {
        // The old stream still writes to the renamed file: nothing is lost, only misnamed.
        error = path_ + ": cannot start a new file after rotating: " + std::strerror(errno) + " (events go on in " + aside + ")";
        return false;
    }
    write_whole_lines(fresh.get());
    file = std::move(fresh);
    bytes_ = 0;
    opened_ = std::chrono::steady_clock::now();
    ++rotations_;
    aside_.push_back(aside);
    while (keep_ != 0 && aside_.size() > keep_) {
        if (unlink(aside_.front().c_str()) == 0) ++removed_;
        aside_.pop_front();
    }
    return true;
}

}  // namespace tcpsleuth
