#pragma once
// The live page the metrics listener serves at / ([metrics] listen): the findings so far, the
// flows with filters, and a flow's explanation and plot, refreshed in place every few seconds.
// Read-only: its API is the control socket's read-only commands over GET
// (/api/COMMAND?ARG=VALUE...), answered by the same controller.

#include <string>
#include <string_view>

namespace tcpsleuth::control {

// One self-contained HTML document: inline style and script, nothing fetched but /api/.
std::string_view live_page_html();

// "/api/flows" with "port=443&limit=20" as a control request line
// ({"cmd":"flows","args":{"port":443,"limit":20}}); false with `error` for a command the page
// may not use (only hello, stats, flows, flow, plot and events) or a malformed query.
bool api_request(std::string_view path, std::string_view query, std::string& line, std::string& error);

}  // namespace tcpsleuth::control
