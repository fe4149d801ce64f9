#include "control/flow_plot.h"

#include "dataplane/packet/parse.h"
#include "inspectors/output/event_format.h"
#include "inspectors/plot/time_sequence.h"

namespace tcpsleuth::control {

std::string flow_plot_svg(const FlowPackets& fp, std::uint64_t id, const DecapConfig& decap) {
    plot::Input in;
    in.finding = false;
    in.event.key = fp.flow.common.key;
    in.event.client_is_lo = fp.flow.common.client_is_lo();
    in.event.flow_id = id;
    const FlowEndpoints ep = endpoints(in.event);
    in.title = "flow " + std::to_string(id) + ": the last " + std::to_string(fp.entries.size()) + " packets in its worker's history" +
               (fp.more != 0 ? " (" + std::to_string(fp.more) + " more left out)" : "");
    std::size_t at = 0;
    std::uint64_t n = 0;
    for (const PacketHistory::Entry& e : fp.entries) {
        PacketView v;
        v.ts_ns = e.ts_ns;
        v.wire_len = e.wire_len;
        // Live packets have no frame number: the plot numbers them in the history's order.
        v.number = e.number != 0 ? e.number : ++n;
        const ParseStatus st = parse_packet(fp.bytes.data() + at, e.cap_len, e.link, v, decap);
        at += e.cap_len;
        const bool tcp = st == ParseStatus::kOk || st == ParseStatus::kBadTcpOption;
        if (tcp || st == ParseStatus::kIcmpQuote) {
            in.packets.push_back(plot::packet_from_view(v, tcp, in.event.client_is_lo, decap.tunnel_in_key));
        }
    }
    plot::Model m = plot::plot_model(in);
    m.id = "flow" + std::to_string(id);
    return plot::render_svg(m);
}

}  // namespace tcpsleuth::control
