#pragma once
// What every event must survive on the output side, whatever made it: its JSON line parses
// (RFC 8259) as one object naming the event's kind, and its summary and advice are text.

#include <string>

#include "control/json.h"
#include "inspectors/output/event_format.h"
#include "inspectors/output/events.h"
#include "tests/fuzz/fuzz_input.h"

namespace tcpsleuth::fuzz {

inline void check_event(const Event& e, std::string_view evidence = {}) {
    const std::string line = format_event_json(e, nullptr, evidence);
    const json::ParseResult parsed = json::parse(line, 64);
    if (!parsed.value) fail("event JSON does not parse", parsed.error + "\n" + line);
    if (!parsed.value->is_object()) fail("event JSON is not an object", line);
    const json::Value* name = parsed.value->find("event");
    if (name == nullptr || !name->is_string() || name->as_string() != event_name(e)) fail("event JSON does not name its kind", line);
    if (line.find('\n') != std::string::npos) fail("event JSON spans lines", line);
    if (event_summary(e).empty()) fail("event without a summary", line);
    if (event_advice(e).empty()) fail("event without advice", line);
}

}  // namespace tcpsleuth::fuzz
