#pragma once
// Live time: the TSC, calibrated once against CLOCK_REALTIME, so event timestamps are wall
// time and reading the clock costs one rdtsc. Packets the driver stamps (net_pcap replaying
// a capture) keep their own times instead: the pipeline sees the same clock as `analyze`.

#include <rte_cycles.h>

#include <cstdint>
#include <ctime>

namespace tcpsleuth::live {

class TscClock {
public:
    TscClock() noexcept {
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);
        base_tsc_ = rte_rdtsc();
        base_ns_ = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
        ns_per_cycle_ = 1e9 / static_cast<double>(rte_get_tsc_hz());
    }

    std::uint64_t now_ns() const noexcept {
        return base_ns_ + static_cast<std::uint64_t>(static_cast<double>(rte_rdtsc() - base_tsc_) * ns_per_cycle_);
    }

private:
    std::uint64_t base_tsc_ = 0;
    std::uint64_t base_ns_ = 0;
    double ns_per_cycle_ = 1;
};

}  // namespace tcpsleuth::live
