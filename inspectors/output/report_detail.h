#pragma once
// Pieces the text, JSON and HTML reports share (report.cc, report_html.cc).

#include <string>
#include <string_view>
#include <vector>

#include "inspectors/flow/counters.h"

namespace tcpsleuth::report_detail {

// The counters under `prefix` ("parse.", "flow.", ...) that are not zero, in catalog order.
std::vector<const CounterInfo*> nonzero(const CoreCounters& c, std::string_view prefix);
// "all from 198.18.0.0/24" or "from 3 client networks".
std::string networks_phrase(const std::vector<std::string>& nets);

}  // namespace tcpsleuth::report_detail
