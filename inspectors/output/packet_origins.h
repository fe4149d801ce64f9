#pragma once
// Where the packets of a merged input came from. `analyze a.pcap b.pcapng dir/` numbers
// packets across the merged stream; evidence names each packet's file and its own frame
// number there, so a reader can open the file in Wireshark at that frame. Kept as runs of
// consecutive packets from one file: rotated captures give a handful, two interleaved
// interfaces one per switch.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace tcpsleuth {

class PacketOrigins {
public:
    struct Origin {
        const std::string* file = nullptr;
        std::uint64_t frame = 0;
    };

    // The input files, in the order their indexes refer to.
    void set_inputs(std::vector<std::string> names) { names_ = std::move(names); }
    const std::vector<std::string>& inputs() const noexcept { return names_; }

    // Merged packet `number` is frame `frame` of input `input`. Numbers come in order.
    void add(std::uint64_t number, std::uint32_t input, std::uint64_t frame) {
        if (!runs_.empty()) {
            const Run& last = runs_.back();
            if (last.input == input && number - last.first_number == frame - last.first_frame) return;
        }
        runs_.push_back({number, frame, input});
    }

    // The file and frame of merged packet `number`; file null when unknown.
    Origin find(std::uint64_t number) const noexcept {
        auto it = std::upper_bound(runs_.begin(), runs_.end(), number,
                                   [](std::uint64_t n, const Run& r) { return n < r.first_number; });
        if (it == runs_.begin()) return {};
        --it;
        return {&names_[it->input], it->first_frame + (number - it->first_number)};
    }

private:
    struct Run {
        std::uint64_t first_number;
        std::uint64_t first_frame;
        std::uint32_t input;
    };
    std::vector<std::string> names_;
    std::vector<Run> runs_;
};

}  // namespace tcpsleuth
