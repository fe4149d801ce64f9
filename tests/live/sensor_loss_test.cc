// The sensor's own losses as findings: which seconds are reported and what they carry.

#include <gtest/gtest.h>

#include <vector>

#include "dataplane/live/sensor_loss.h"

namespace tcpsleuth::live {
namespace {

TEST(LossWatch, ReportsThe1st10th100thSecondWithLossAndWhatWasLostSince) {
    LossWatch w;
    EXPECT_FALSE(w.check(0));  // nothing lost yet
    std::vector<std::uint32_t> reported;
    std::vector<std::uint64_t> since;
    std::uint64_t total = 0;
    for (int second = 1; second <= 150; ++second) {
        if (second % 2 == 0) {
            total += 3;  // every other second loses three
        }
        if (w.check(total)) {
            reported.push_back(w.occurrence());
            since.push_back(w.since_report());
        }
    }
    // 75 seconds with loss: the 1st and the 10th are reported (the 100th never came).
    EXPECT_EQ(reported, (std::vector<std::uint32_t>{1, 10}));
    EXPECT_EQ(since, (std::vector<std::uint64_t>{3, 27}));
    EXPECT_FALSE(w.check(total));  // a second without new loss is no occurrence
}

TEST(SensorEvent, IsAWarningAboutNoFlow) {
    const Event e = sensor_event(42, 10, SensorEventsLost{.lost_total = 7});
    EXPECT_EQ(e.flow_id, 0u);
    EXPECT_EQ(e.severity, Severity::kWarning);
    EXPECT_EQ(e.confidence, Confidence::kHigh);
    EXPECT_EQ(e.occurrence, 10u);
    EXPECT_EQ(event_name(e), "sensor.events_lost");
}

}  // namespace
}  // namespace tcpsleuth::live
