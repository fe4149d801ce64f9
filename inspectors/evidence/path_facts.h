#pragma once
// Facts about paths and retransmission timers that more than one detector judges by.

#include <cstdint>

#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

// The smallest packet every path must carry: IPv4 576 bytes (RFC 791; RFC 1122 section
// 3.3.3), IPv6 1280 (RFC 8200 section 5). Nothing at or below it can be lost for its size.
constexpr std::uint16_t min_path_mtu(bool ipv4) noexcept { return ipv4 ? 576 : 1280; }

// Two retransmissions of one segment closer together than this are copies (a SPAN port
// mirroring both directions, a capture merged with itself: microseconds apart), not the
// sender's timer: no RTO is shorter than an RTT (RFC 6298 section 2; minimums are Linux
// 200 ms, Windows 300 ms, FreeBSD 30 ms plus 200 ms slop). Half the flow's RTT, at least 10 ms.
inline std::uint32_t min_timer_interval_ms(const FlowCommon& flow) noexcept {
    const std::uint32_t half_rtt_ms = flow.rtt_us() / 2000u;
    return half_rtt_ms > 10 ? half_rtt_ms : 10;
}

// A retransmission of a segment already resent `count` times (the first of them at
// first_ms, the latest at last_ms), judged against the sender's retransmission timer. A
// copy (too soon after the latest) is ignored. The timer backs off (RFC 6298 section 5.5:
// the RTO doubles after each expiry), so once there are two intervals the latest must be
// longer than the ones before: at least 1.2 x their mean, which timer and capture jitter
// leave intact while resends at a steady pace (a FIN set on every ACK, a peer's duplicate
// ACKs driving resends) never reach it. A finding waits for a retransmission that shows
// the back-off; nothing is thrown away meanwhile.
struct RetxStep {
    bool copy = false;        // not a retransmission of its own: ignore it
    bool backed_off = false;  // this interval shows the timer's back-off
};

inline RetxStep retx_step(const FlowCommon& flow, std::uint32_t now_ms, std::uint32_t first_ms, std::uint32_t last_ms,
                          std::uint32_t count) noexcept {
    const std::uint32_t interval = now_ms - last_ms;
    if (interval < min_timer_interval_ms(flow)) return {.copy = true};
    if (count < 2) return {};
    const std::uint64_t earlier_x10 = std::uint64_t{last_ms - first_ms} * 10u / (count - 1u);  // their mean, x10
    return {.backed_off = std::uint64_t{interval} * 100u >= earlier_x10 * 12u};
}

}  // namespace tcpsleuth
