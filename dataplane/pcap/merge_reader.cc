// Several captures as one stream, in timestamp order: rotated files from `tcpdump -C/-G` or
// `dumpcap -b`, in any order on the command line, or captures of two interfaces taken at
// the same time. A file is opened when the merged stream reaches its first packet and closed
// at its end, so a directory of a thousand rotated files holds one or two open at a time.

#include "merge_reader.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>

namespace tcpsleuth {
namespace {

struct Input {
    std::string path;
    std::uint32_t index = 0;        // into PacketOrigins::inputs()
    std::uint64_t first_ts = 0;
    std::uint64_t size = 0;
    std::unique_ptr<CaptureReader> reader;
    std::array<RawPacket, Pipeline::kBurst> burst{};
    std::size_t n = 0, i = 0;
    LinkType link = LinkType::kEthernet;
    bool ended = false;

    bool has_head() const noexcept { return i < n; }
    const RawPacket& head() const noexcept { return burst[i]; }
};

class MergeReader final : public CaptureReader {
public:
    explicit MergeReader(std::vector<std::unique_ptr<Input>> inputs) : pending_(std::move(inputs)) {
        std::vector<std::string> names(pending_.size());
        for (const auto& in : pending_) {
            names[in->index] = in->path;
            file_bytes_ += in->size;
        }
        origins_.set_inputs(std::move(names));
        // Opened in the order their first packets come; the same first time keeps the
        // command line's order.
        std::stable_sort(pending_.begin(), pending_.end(),
                         [](const auto& a, const auto& b) { return a->first_ts < b->first_ts; });
        std::reverse(pending_.begin(), pending_.end());  // the next to open at the back
    }

    const PacketOrigins* origins() const noexcept override { return &origins_; }

    std::uint64_t bytes_read() const noexcept override {
        std::uint64_t b = finished_bytes_;
        for (const auto& in : active_) b += in->reader->bytes_read();
        return b;
    }

    std::size_t next_burst(RawPacket* out, std::size_t n) override {
        std::size_t got = 0;
        while (got < n) {
            open_due();
            Input* best = nullptr;
            bool refill_needed = false;
            for (auto& in : active_) {
                if (!in->has_head()) {
                    refill_needed = true;
                    continue;
                }
                if (best == nullptr || in->head().ts_ns < best->head().ts_ns) best = in.get();
            }
            if (refill_needed) {
                // Refilling a reader moves the bytes its earlier packets point into.
                if (got != 0) break;
                refill();
                continue;
            }
            if (best == nullptr) {
                if (pending_.empty()) break;  // everything read
                continue;                     // open_due() opens the next file
            }
            if (got != 0 && best->link != link_) break;  // one link type per burst
            link_ = best->link;
            RawPacket& p = out[got++];
            p = best->head();
            p.number = next_number_++;
            origins_.add(p.number, best->index, best->head().number);
            ++best->i;
        }
        return got;
    }

private:
    // Opens the next pending file once the merged stream has reached its first packet (or
    // nothing else is open).
    void open_due() {
        while (!pending_.empty()) {
            Input& next = *pending_.back();
            bool due = true;
            for (const auto& in : active_) {
                if (in->has_head() && in->head().ts_ns < next.first_ts) due = false;
                if (!in->has_head()) due = false;  // know every open file's next time first
            }
            if (!due) return;
            std::string error;
            if (!next.reader) next.reader = CaptureReader::open(next.path, error);
            if (!next.reader) {
                note(next.path + ": " + error + " (skipped)");
                pending_.pop_back();
                continue;
            }
            active_.push_back(std::move(pending_.back()));
            pending_.pop_back();
        }
    }

    void refill() {
        for (auto it = active_.begin(); it != active_.end();) {
            Input& in = **it;
            if (!in.has_head()) {
                in.n = in.reader->next_burst(in.burst.data(), in.burst.size());
                in.i = 0;
                in.link = in.reader->link();
                if (in.n == 0) {
                    if (!in.reader->warning().empty()) note(in.path + ": " + in.reader->warning());
                    finished_bytes_ += in.reader->bytes_read();
                    it = active_.erase(it);
                    continue;
                }
            }
            ++it;
        }
    }

    void note(const std::string& what) {
        if (!warning_.empty()) warning_ += "; ";
        warning_ += what;
    }

    std::vector<std::unique_ptr<Input>> pending_;
    std::vector<std::unique_ptr<Input>> active_;
    std::uint64_t finished_bytes_ = 0;
    PacketOrigins origins_;
};

// A directory's capture files, by name (rotated files sort by their sequence or date).
bool list_directory(const std::string& dir, std::vector<std::string>& out, std::string& error) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
        error = dir + ": cannot read the directory";
        return false;
    }
    std::vector<std::string> names;
    while (const dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const std::string path = dir + (dir.ends_with('/') ? "" : "/") + e->d_name;
        struct stat st {};
        if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.push_back(path);
    }
    closedir(d);
    if (names.empty()) {
        error = dir + ": no files in the directory";
        return false;
    }
    std::sort(names.begin(), names.end());
    out.insert(out.end(), names.begin(), names.end());
    return true;
}

}  // namespace

std::unique_ptr<CaptureReader> open_inputs(const std::vector<std::string>& args, std::string& error) {
    std::vector<std::string> paths;
    for (const std::string& a : args) {
        struct stat st {};
        if (a != "-" && stat(a.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
            if (!list_directory(a, paths, error)) return nullptr;
        } else {
            paths.push_back(a);
        }
    }
    if (paths.size() == 1) return CaptureReader::open(paths[0], error);
    if (std::count(paths.begin(), paths.end(), "-") != 0) {
        error = "standard input ('-') can only be read alone, not merged with other inputs";
        return nullptr;
    }
    // Every file is checked now, so a wrong one stops the run before any output; its first
    // packet's time decides when it joins the merge.
    std::vector<std::unique_ptr<Input>> inputs;
    for (std::uint32_t i = 0; i < paths.size(); ++i) {
        auto in = std::make_unique<Input>();
        in->path = paths[i];
        in->index = static_cast<std::uint32_t>(inputs.size());
        std::unique_ptr<CaptureReader> r = CaptureReader::open(paths[i], error);
        if (!r) return nullptr;
        in->size = r->file_bytes();
        RawPacket first;
        if (r->next_burst(&first, 1) == 0) {
            if (!r->warning().empty()) {
                error = paths[i] + ": " + r->warning();
                return nullptr;
            }
            continue;  // an empty capture (a rotation's last, unused file) adds nothing
        }
        in->first_ts = first.ts_ns;
        inputs.push_back(std::move(in));
    }
    if (inputs.empty()) {
        error = "no packets in any of the " + std::to_string(paths.size()) + " inputs";
        return nullptr;
    }
    return std::make_unique<MergeReader>(std::move(inputs));
}

}  // namespace tcpsleuth
