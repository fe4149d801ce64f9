#pragma once
// The probe's sockets toward one target: raw TCP segments with a chosen hop limit and ECN
// codepoint, ICMP echo requests with DF, and everything that comes back (ICMP errors with
// their quotes, echo replies, the target's TCP answers). Every send waits for the rate
// limiter and counts against the packet budget; none happens once it is spent. Needs
// CAP_NET_RAW; no DPDK.

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "dataplane/probe/probe_packets.h"

namespace tcpsleuth::probe {

struct Limits {
    double rate_pps = 20;            // packets per second, every kind together
    std::uint32_t max_packets = 600;  // in all; sends beyond it are refused
    // Set by another thread (a daemon stopping): no more sends, the tests end at their next.
    const std::atomic<bool>* cancel = nullptr;
    bool cancelled() const noexcept { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }
};

// What arrived from the path.
struct Arrival {
    bool icmp = false;
    Address from{};         // the sender: a router (ICMP) or the target (TCP, echo reply)
    Icmp msg;               // icmp
    int hop_limit = -1;     // the arriving packet's TTL / hop limit (-1 unknown)
    // TCP from the target
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;
    TcpOptions options;
};

using Clock = std::chrono::steady_clock;

class RawPath {
public:
    RawPath() = default;
    ~RawPath();
    RawPath(const RawPath&) = delete;
    RawPath& operator=(const RawPath&) = delete;

    // Opens the sockets toward `target` (its port ignored), from `source` when given, else
    // from the address the kernel would use; false with `error` (no CAP_NET_RAW, no route,
    // a source not on this host).
    bool open(const sockaddr_storage& target, const Limits& limits, std::string& error,
              const sockaddr_storage* source = nullptr);

    bool v6() const noexcept { return v6_; }
    const Address& src() const noexcept { return src_; }
    const Address& dst() const noexcept { return dst_; }
    // The MTU of the route toward the target as the kernel knows it (the interface's, or a
    // path MTU it learned); 0 unknown.
    int route_mtu() const;

    // False when the budget is spent or the kernel refused (EMSGSIZE: larger than the link).
    bool send_tcp(const Segment& s, int hop_limit, std::uint8_t ecn);
    // An echo request whose IP packet is `ip_size` bytes, DF set (IPv6: never fragmented).
    bool send_echo(std::uint16_t id, std::uint16_t seq, std::size_t ip_size, int hop_limit);

    // The next arrival `want` accepts, until `deadline`; others are dropped.
    std::optional<Arrival> wait(Clock::time_point deadline, const std::function<bool(const Arrival&)>& want);

    std::uint32_t sent() const noexcept { return sent_; }
    std::uint32_t refused() const noexcept { return refused_; }  // sends the budget stopped
    const Limits& limits() const noexcept { return limits_; }

private:
    bool pace();
    const std::uint8_t* read(int fd, std::uint8_t* buf, std::size_t cap, std::size_t min_len, Arrival& a, std::size_t& len);
    bool read_tcp(Arrival& a);
    bool read_icmp(Arrival& a);

    bool v6_ = false;
    Address src_{}, dst_{};
    sockaddr_storage target_{};
    socklen_t target_len_ = 0;
    int tcp_fd_ = -1;
    int icmp_fd_ = -1;
    Limits limits_;
    std::uint32_t sent_ = 0;
    std::uint32_t refused_ = 0;
    Clock::time_point next_send_{};
};

// "198.18.2.2" / "2001:2:2::2" for an address of the given family.
std::string address_text(const Address& a, bool v6);

}  // namespace tcpsleuth::probe
