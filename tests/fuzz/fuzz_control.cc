// libFuzzer target: the control socket's requests, parsed and dispatched by the controller
// as the daemon does, one per input line, against a backend with a flow, its packets and
// recent events. Every request gets exactly one reply, and the reply is one JSON object
// with "ok"; a refusal says why in "error".

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "control/controller.h"
#include "inspectors/output/event_format.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace tcpsleuth;
using namespace tcpsleuth::control;

FlowKey sample_key() {
    FlowKey k;
    k.addr_lo = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1};
    k.addr_hi = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 19, 0, 1};
    k.port_lo = 40000;
    k.port_hi = 443;
    k.ip_version = 4;
    return k;
}

class FuzzBackend final : public control::Backend {
public:
    Snapshot snapshot() override {
        Snapshot s;
        s.mode = "tap";
        s.workers.push_back({.counters = &counters, .flows_active = 1, .flow_capacity = 16, .ring_full = 0});
        s.progress = Progress{.file = "fuzz.pcap", .bytes_read = 10, .file_bytes = 20, .done = false};
        return s;
    }
    void query_flows(const FlowQuery&, std::function<void(FlowListing)> done) override {
        FlowListing l;
        FlowSummary s;
        s.id = 7;
        s.key = sample_key();
        s.state = TcpState::kEstablished;
        l.flows.push_back(s);
        l.matched = 1;
        done(l);
    }
    void find_flow(std::uint64_t id, std::function<void(std::optional<FlowState>)> done) override {
        if (id != 7) return done(std::nullopt);
        FlowState f{};
        f.common.key = sample_key();
        f.common.id = 7;
        done(f);
    }
    void flow_packets(std::uint64_t id, std::function<void(std::optional<FlowPackets>)> done) override {
        if (id != 7) return done(std::nullopt);
        FlowPackets fp;
        fp.flow.common.key = sample_key();
        fp.snap = 128;
        fp.history_packets = 64;
        fp.entries.push_back({.ts_ns = 1000, .number = 3, .wire_len = 60, .cap_len = 4, .link = LinkType::kEthernet});
        fp.bytes = {'M', 'a', 'n', 0x00};
        done(fp);
    }
    void apply_config(const DaemonConfig&, std::function<void()> done) override { done(); }
    void request_shutdown() override {}

    CoreCounters counters;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzBackend backend;
    Controller controller(backend, DaemonConfig{}, DaemonConfig{}, "");
    // Two recent events, one about flow 7, so `events` and `flow` have something to filter.
    Event e;
    e.key = sample_key();
    e.flow_id = 7;
    e.detail = MtuBlackhole{};
    controller.on_event(e, format_event_json(e));
    e.flow_id = 0;
    e.detail = FlowTableFull{};
    controller.on_event(e, format_event_json(e));

    std::string_view input(reinterpret_cast<const char*>(data), size);
    for (int lines = 0; lines < 16 && !input.empty(); ++lines) {
        const std::size_t nl = input.find('\n');
        const std::string_view request = input.substr(0, nl);
        input = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
        int replies = 0;
        std::string reply;
        controller.handle(request, [&](std::string r) {
            ++replies;
            reply = std::move(r);
        });
        if (replies != 1) fuzz::fail("a request without exactly one reply", std::string(request));
        const json::ParseResult parsed = json::parse(reply, 64);
        if (!parsed.value || !parsed.value->is_object()) fuzz::fail("a reply that is not a JSON object", reply);
        const json::Value* ok = parsed.value->find("ok");
        if (ok == nullptr || !ok->is_bool()) fuzz::fail("a reply without ok", reply);
        if (!ok->as_bool()) {
            const json::Value* error = parsed.value->find("error");
            if (error == nullptr || !error->is_string() || error->as_string().empty()) fuzz::fail("a refusal without its reason", reply);
        }
    }
    return 0;
}
