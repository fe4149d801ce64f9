#pragma once
// The sensor's own losses as findings (sensor.packets_dropped, sensor.events_lost). The main
// core hands the totals over once a second; a second in which a total grew is one occurrence
// and, as for sensor.flow_table_full, the 1st, 10th, 100th ... occurrence is reported, with
// what was lost since the previous report. A steady loss thus costs a handful of lines, and a
// new loss after a quiet hour is still seen at once (the counters carry every packet).

#include <cstdint>

#include "inspectors/output/events.h"

namespace tcpsleuth::live {

class LossWatch {
public:
    // The loss counted so far. True when this check is an occurrence to report; then
    // occurrence() and since_report() describe it.
    bool check(std::uint64_t total) noexcept {
        if (total <= seen_) return false;
        since_report_ += total - seen_;
        seen_ = total;
        if (!bump_and_should_report(occurrences_, next_)) return false;
        reported_ = since_report_;
        since_report_ = 0;
        return true;
    }
    std::uint32_t occurrence() const noexcept { return occurrences_; }
    // Lost between the previous report and this one.
    std::uint64_t since_report() const noexcept { return reported_; }

private:
    std::uint64_t seen_ = 0;
    std::uint64_t since_report_ = 0;
    std::uint64_t reported_ = 0;
    std::uint32_t occurrences_ = 0;
    std::uint32_t next_ = 1;
};

// The totals sensor.packets_dropped reports, summed over ports and workers.
struct PacketLoss {
    std::uint64_t rx_packets = 0, rx_missed = 0, rx_nombuf = 0, tx_dropped = 0, ring_full = 0;
    std::uint64_t total() const noexcept { return rx_missed + rx_nombuf + tx_dropped + ring_full; }
};

}  // namespace tcpsleuth::live
