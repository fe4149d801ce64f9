#pragma once
// Fault episodes: scripted connections that show one fault of the event catalog each, the
// way it looks at a sensor on the client side of the path (DESIGN.md, "How each fault
// shows at one sensor"). They run beside the healthy lap, on addresses of their own:
// clients 198.19.128.0/17, servers 198.19.64.0/18 (IPv6 episodes: clients 2001:2:f::/64,
// servers 2001:2:e::/64), one server per episode so no finding on one episode's path can
// come from another's.
//
// Episode k (over all kinds, interleaved) starts k x 2 s after the first: no more than five
// SYN episodes fail inside the 10 s surge window, below the state-table surge's ten, so each
// episode shows its own fault and nothing else.

#include <cstdint>
#include <string>
#include <vector>

#include "frame_writer.h"

namespace tcpsleuth::gen {

enum class Fault : std::uint8_t {
    kSynUnanswered,   // SYN retransmitted 1, 3, 7 s later with the same ISN, never answered
    kMtuBlackhole,    // full-sized segment retransmitted with backoff, then shrunk and delivered
    kOptionsStripped, // window scale overwritten with NOPs in the SYN-ACK; the server scales anyway
    kEcnBleached,     // ECN agreed, the server's data arrives Not-ECT
    kSackInvalid,     // a sequence-randomizing firewall: SACK edges off by a constant
    kIdleTimeout,     // 400 s of silence, then the client's data goes unanswered
    kZeroWindow,      // the server's window closed for 2 s while the client probes
    kMtuBlackholeFirst,    // the upload's first, full-sized segment never arrives; nothing smaller was sent
    kMtuBlackholeFirstV6,  // the same over IPv6 (packet-too-big filtered, path MTU 1280)
    kIdleShort,       // 6 s of silence after an exchange answered in a millisecond; then unanswered
    kRstRace,         // a forged RST answers the SYN before the server's real SYN-ACK
    kOneWayLoss,      // the server acknowledges the upload; the client keeps resending it
    kReceiverLimited, // the server's window closes and opens again and again: a slow reader
};
constexpr unsigned kFaultKinds = 13;

// CLI names ("syn-unanswered", ...), in enum order.
const char* fault_name(Fault f);
bool parse_fault(const std::string& name, Fault& out);

struct FaultRequest {
    Fault kind;
    std::uint32_t count;
};

struct ScheduledFrame {
    std::uint64_t ts_ns;   // from the start of the traffic
    std::uint32_t offset;  // into the arena
    std::uint16_t len;
};

class FaultEpisodes {
public:
    static constexpr std::uint64_t kSpacingNs = 2'000'000'000;
    static constexpr std::uint32_t kMaxEpisodes = 16000;  // the address plan holds 16000

    explicit FaultEpisodes(const std::vector<FaultRequest>& requests);

    // Frames of every episode in time order.
    const std::vector<ScheduledFrame>& frames() const { return frames_; }
    const std::uint8_t* data(const ScheduledFrame& f) const { return arena_.data() + f.offset; }
    std::uint32_t episodes() const { return episodes_; }
    // When the last frame is due.
    std::uint64_t duration_ns() const { return frames_.empty() ? 0 : frames_.back().ts_ns; }

private:
    friend class EpisodeConn;
    void add(std::uint64_t ts_ns, const TcpFrame& f);
    void script(Fault kind, std::uint32_t episode, std::uint64_t start_ns);

    std::vector<std::uint8_t> arena_;
    std::vector<ScheduledFrame> frames_;
    std::uint32_t episodes_ = 0;
};

}  // namespace tcpsleuth::gen
