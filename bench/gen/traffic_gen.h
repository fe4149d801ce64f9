#pragma once
// TrafficGen: healthy TCP traffic for benchmarks and false-alarm checks, written frame by
// frame with correct IPv4 and TCP checksums.
//
// `flows` concurrent connections between clients in 198.18.0.0/16 (2001:2::/48 for IPv6,
// the benchmarking ranges of RFC 2544 and RFC 5180) and 200 servers. Each connection lives
// through:
//   SYN, SYN-ACK (Linux options: MSS, SACK-permitted, timestamps, window scale; ECN setup
//   for the requested share, RFC 3168), ACK, a request, `rounds` server data segments each
//   acknowledged, then FIN, FIN-ACK, ACK,
// and then the client opens the next connection on the same 4-tuple with a new ISN.
//
// Flows are phase-shifted, so at any moment every stage of a connection is on the wire
// (no SYN burst), and the output is one "lap": after it every flow is exactly where it
// started. A capture of one lap replayed in a loop (net_pcap infinite_rx) is therefore an
// endless stream in which sequence numbers, acknowledgements and timestamps stay
// consistent. A lap holds two connections per flow, because two consecutive connections on
// one 4-tuple need different ISNs (the same ISN again would be a retransmitted SYN). Laps
// generated one after another (--laps, transmitting) take new ISNs each lap, as real
// connections would; only a looped one-lap capture repeats them.

#include <cstdint>
#include <string>
#include <vector>

namespace tcpsleuth::gen {

enum class SizeMix : std::uint8_t {
    kSmall,  // data frames of 70 bytes: packet-rate tests
    kImix,   // simple IMIX 7:4:1 of 70, 590 and 1514-byte data frames
    kLarge,  // full-sized 1514-byte data frames
};

struct GenSpec {
    std::uint32_t flows = 1000;
    std::uint32_t rounds = 8;  // server data segments per connection
    SizeMix sizes = SizeMix::kSmall;
    std::uint32_t ipv6_percent = 0;
    std::uint32_t ecn_percent = 0;
    std::uint64_t rate_pps = 1'000'000;  // spacing of the frames' timestamps
    // Client ports are port_base + flow / 65536: a run with another base has flows of its
    // own (the throughput search gives each trial its own, so no trial repeats another's
    // sequence numbers to the device under test).
    std::uint16_t port_base = 20000;
    // Payload as HTTP/1.1 would carry it (for payload rules): the request is a GET, each
    // connection's first server segment starts with a status line, the rest is HTML-like
    // text. Otherwise payload bytes are zeros.
    bool http = false;
};

struct Frame {
    const std::uint8_t* data;
    std::uint32_t len;
    std::uint64_t ts_ns;
};

class TrafficGen {
public:
    static constexpr std::uint32_t kConnectionsPerLap = 2;
    static constexpr std::uint32_t kMaxFlows = 1u << 24;
    static constexpr std::uint32_t kMaxRounds = 1u << 16;

    explicit TrafficGen(const GenSpec& spec);

    // Steps (packets) of one connection: 3 handshake + request + 2 per round + 3 close.
    std::uint32_t steps_per_connection() const { return 7 + 2 * spec_.rounds; }
    std::uint64_t lap_packets() const {
        return std::uint64_t{spec_.flows} * steps_per_connection() * kConnectionsPerLap;
    }

    // The next frame in wire order; laps follow each other without end. Its timestamp counts
    // from the first frame, spaced for spec.rate_pps. Frame data is valid until the next call.
    Frame next() {
        const std::uint32_t len = next_frame(flow_cursor_);
        const Frame f{buf_, len, emitted_ * 1'000'000'000ull / spec_.rate_pps};
        ++emitted_;
        if (++flow_cursor_ == spec_.flows) flow_cursor_ = 0;
        return f;
    }
    std::uint64_t emitted() const { return emitted_; }

private:
    struct FlowPos {
        std::uint32_t position;     // step within the lap: connection * steps + step
        std::uint32_t server_sent;  // data bytes the server has sent in this connection so far
        std::uint32_t lap = 0;      // laps completed: new ISNs each lap
    };
    enum Side : std::uint8_t { kClient, kServer };

    std::uint32_t next_frame(std::uint32_t flow);
    void advance(std::uint32_t flow, FlowPos& pos) const;
    Side sender(std::uint32_t step) const;
    bool is_data_round(std::uint32_t step) const { return step >= 4 && step < 4 + 2 * spec_.rounds && (step - 4) % 2 == 0; }
    bool ipv6(std::uint32_t flow) const;
    std::uint32_t payload_len(std::uint32_t flow, std::uint32_t conn, std::uint32_t round) const;
    std::uint32_t request_len() const { return spec_.http ? 160 : (spec_.sizes == SizeMix::kSmall ? 4 : 200); }
    std::uint32_t write_frame(std::uint32_t flow, std::uint32_t conn, std::uint32_t step, std::uint32_t server_sent,
                              std::uint32_t lap);

    GenSpec spec_;
    std::vector<FlowPos> pos_;
    std::uint32_t flow_cursor_ = 0;  // each visit steps every flow once, in flow order
    std::uint64_t emitted_ = 0;
    alignas(64) std::uint8_t buf_[2048];
    // --http payloads: the request, the first response segment, and the body text.
    std::vector<std::uint8_t> request_, response_, body_;
};

// "64" | "imix" | "1500"; false when the text is none of them.
bool parse_size_mix(const std::string& text, SizeMix& out);

}  // namespace tcpsleuth::gen
