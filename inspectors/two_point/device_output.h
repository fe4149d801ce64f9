#pragma once
// compare's output: each device finding as one JSON line (the event schema of DESIGN.md,
// with the flow as seen at each point and the packet numbers at each), and the report.

#include <string>
#include <string_view>

#include "device_findings.h"
#include "matcher.h"
#include "point_capture.h"

namespace tcpsleuth::two_point {

// One JSON object, no newline. `evidence_pcap`: the finding's evidence capture, or empty.
std::string finding_json(const DeviceFinding& f, const PointCapture& a, const PointCapture& b,
                         std::string_view evidence_pcap);

struct CompareRun {
    double wall_seconds = 0;
    std::string input_warning[2];
    std::string evidence_dir;
    std::size_t evidence_files = 0;
    std::size_t below_confidence = 0;
};

std::string compare_report_text(const DeviceReport& r, const Comparison& cmp, const PointCapture& a,
                                const PointCapture& b, const CompareRun& run);
std::string compare_report_json(const DeviceReport& r, const Comparison& cmp, const PointCapture& a,
                                const PointCapture& b, const CompareRun& run);

}  // namespace tcpsleuth::two_point
