#include "dataplane/packet/byte_order.h"
#include "dataplane/probe/raw_path.h"

#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace tcpsleuth::probe {
std::string address_text(const Address& a, bool v6) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, a.data(), buf, sizeof buf);
    return buf;
}

RawPath::~RawPath() {
    if (tcp_fd_ >= 0) ::close(tcp_fd_);
    if (icmp_fd_ >= 0) ::close(icmp_fd_);
}

bool RawPath::open(const sockaddr_storage& target, const Limits& limits, std::string& error, const sockaddr_storage* source) {
    limits_ = limits;
    v6_ = target.ss_family == AF_INET6;
    target_ = target;
    target_len_ = v6_ ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    // Raw sockets send to port 0; the port is in our TCP header.
    if (v6_) {
        reinterpret_cast<sockaddr_in6&>(target_).sin6_port = 0;
        std::memcpy(dst_.data(), &reinterpret_cast<const sockaddr_in6&>(target).sin6_addr, 16);
    } else {
        reinterpret_cast<sockaddr_in&>(target_).sin_port = 0;
        std::memcpy(dst_.data(), &reinterpret_cast<const sockaddr_in&>(target).sin_addr, 4);
    }
    // The source address the kernel picks for this destination: a connected UDP socket's.
    const int family = v6_ ? AF_INET6 : AF_INET;
    const int udp = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage probe = target;
    reinterpret_cast<sockaddr_in&>(probe).sin_port = htons(9);
    if (udp < 0 || ::connect(udp, reinterpret_cast<const sockaddr*>(&probe), target_len_) != 0) {
        error = std::string("no route to the target: ") + std::strerror(errno);
        if (udp >= 0) ::close(udp);
        return false;
    }
    sockaddr_storage local{};
    socklen_t llen = sizeof local;
    ::getsockname(udp, reinterpret_cast<sockaddr*>(&local), &llen);
    ::close(udp);
    if (source != nullptr) local = *source;
    if (v6_) {
        std::memcpy(src_.data(), &reinterpret_cast<sockaddr_in6&>(local).sin6_addr, 16);
    } else {
        std::memcpy(src_.data(), &reinterpret_cast<sockaddr_in&>(local).sin_addr, 4);
    }
    tcp_fd_ = ::socket(family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
    icmp_fd_ = ::socket(family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, v6_ ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP});
    if (tcp_fd_ < 0 || icmp_fd_ < 0) {
        error = std::string("raw sockets: ") + std::strerror(errno) + " (tcpsleuth probe needs root or CAP_NET_RAW)";
        return false;
    }
    if (source != nullptr) {
        for (const int fd : {tcp_fd_, icmp_fd_}) {
            if (::bind(fd, reinterpret_cast<const sockaddr*>(source), target_len_) != 0) {
                error = std::string("cannot send from the source address: ") + std::strerror(errno);
                return false;
            }
        }
    }
    const int on = 1;
    if (v6_) {
        ::setsockopt(tcp_fd_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
        ::setsockopt(icmp_fd_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
        // Echo probes are never fragmented, by us or anyone (RFC 8201 section 4 for routers).
        const int probe_mtu = IPV6_PMTUDISC_PROBE;
        ::setsockopt(icmp_fd_, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe_mtu, sizeof probe_mtu);
        ::setsockopt(icmp_fd_, IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof on);
        ::setsockopt(tcp_fd_, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe_mtu, sizeof probe_mtu);
    } else {
        // DF on every probe, whatever the kernel has cached about the path's MTU.
        const int probe_mtu = IP_PMTUDISC_PROBE;
        ::setsockopt(icmp_fd_, IPPROTO_IP, IP_MTU_DISCOVER, &probe_mtu, sizeof probe_mtu);
        ::setsockopt(tcp_fd_, IPPROTO_IP, IP_MTU_DISCOVER, &probe_mtu, sizeof probe_mtu);
    }
    next_send_ = Clock::now();
    return true;
}

int RawPath::route_mtu() const {
    const int udp = ::socket(v6_ ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage t = target_;
    reinterpret_cast<sockaddr_in&>(t).sin_port = htons(9);
    int mtu = 0;
    socklen_t len = sizeof mtu;
    if (udp >= 0 && ::connect(udp, reinterpret_cast<const sockaddr*>(&t), target_len_) == 0) {
        if (::getsockopt(udp, v6_ ? IPPROTO_IPV6 : IPPROTO_IP, v6_ ? IPV6_MTU : IP_MTU, &mtu, &len) != 0) mtu = 0;
    }
    if (udp >= 0) ::close(udp);
    return mtu;
}

bool RawPath::pace() {
    if (sent_ >= limits_.max_packets || limits_.cancelled()) {
        ++refused_;
        return false;
    }
    const auto now = Clock::now();
    if (next_send_ > now) std::this_thread::sleep_until(next_send_);
    const auto gap = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / limits_.rate_pps));
    next_send_ = std::max(now, next_send_) + gap;
    ++sent_;
    return true;
}

bool RawPath::send_tcp(const Segment& s, int hop_limit, std::uint8_t ecn) {
    if (!pace()) return false;
    const std::vector<std::uint8_t> bytes = tcp_bytes(s);
    const int tos = ecn & 3;
    if (v6_) {
        ::setsockopt(tcp_fd_, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hop_limit, sizeof hop_limit);
        ::setsockopt(tcp_fd_, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    } else {
        ::setsockopt(tcp_fd_, IPPROTO_IP, IP_TTL, &hop_limit, sizeof hop_limit);
        ::setsockopt(tcp_fd_, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    }
    return ::sendto(tcp_fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&target_), target_len_) ==
           static_cast<ssize_t>(bytes.size());
}

bool RawPath::send_echo(std::uint16_t id, std::uint16_t seq, std::size_t ip_size, int hop_limit) {
    const std::size_t header = v6_ ? 40 : 20;
    if (ip_size < header + 8 || !pace()) return false;
    const std::vector<std::uint8_t> bytes = echo_bytes(v6_, id, seq, ip_size - header);
    if (v6_) {
        ::setsockopt(icmp_fd_, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hop_limit, sizeof hop_limit);
    } else {
        ::setsockopt(icmp_fd_, IPPROTO_IP, IP_TTL, &hop_limit, sizeof hop_limit);
    }
    return ::sendto(icmp_fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&target_), target_len_) ==
           static_cast<ssize_t>(bytes.size());
}

// One datagram from `fd` with its sender and (IPv6) hop limit.
static ssize_t receive(int fd, std::uint8_t* buf, std::size_t cap, sockaddr_storage& from, int& hop_limit) {
    iovec iov{buf, cap};
    alignas(cmsghdr) char control[128];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &msg, 0);
    hop_limit = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) std::memcpy(&hop_limit, CMSG_DATA(c), sizeof hop_limit);
    }
    return n;
}

// One datagram from `fd`, past its IPv4 header (IPv4 raw sockets hand that over too; IPv6's
// do not): the payload, its sender and hop limit in `a`. Null when nothing or too little came.
const std::uint8_t* RawPath::read(int fd, std::uint8_t* buf, std::size_t cap, std::size_t min_len, Arrival& a,
                                  std::size_t& len) {
    sockaddr_storage from{};
    const ssize_t n = receive(fd, buf, cap, from, a.hop_limit);
    if (n <= 0) return nullptr;
    len = static_cast<std::size_t>(n);
    if (v6_) {
        std::memcpy(a.from.data(), &reinterpret_cast<sockaddr_in6&>(from).sin6_addr, 16);
        return len >= min_len ? buf : nullptr;
    }
    const std::size_t ihl = static_cast<std::size_t>(buf[0] & 0x0f) * 4;
    if (len < ihl + min_len) return nullptr;
    a.hop_limit = buf[8];
    std::memcpy(a.from.data(), buf + 12, 4);
    len -= ihl;
    return buf + ihl;
}

bool RawPath::read_tcp(Arrival& a) {
    std::uint8_t buf[2048];
    std::size_t len = 0;
    const std::uint8_t* t = read(tcp_fd_, buf, sizeof buf, 20, a, len);
    if (t == nullptr) return false;
    a.icmp = false;
    a.sport = load_be16(t);
    a.dport = load_be16(t + 2);
    a.seq = load_be32(t + 4);
    a.ack = load_be32(t + 8);
    a.flags = t[13];
    a.window = load_be16(t + 14);
    const std::size_t hlen = static_cast<std::size_t>(t[12] >> 4) * 4;
    a.options = TcpOptions{};
    if (hlen > 20 && hlen <= len) parse_tcp_options(std::span<const std::uint8_t>(t + 20, hlen - 20), a.options);
    return true;
}

bool RawPath::read_icmp(Arrival& a) {
    std::uint8_t buf[2048];
    std::size_t len = 0;
    const std::uint8_t* p = read(icmp_fd_, buf, sizeof buf, 8, a, len);
    if (p == nullptr) return false;
    a.icmp = true;
    return parse_icmp(p, len, v6_, a.msg);
}

std::optional<Arrival> RawPath::wait(Clock::time_point deadline, const std::function<bool(const Arrival&)>& want) {
    for (;;) {
        const auto now = Clock::now();
        if (now >= deadline) return std::nullopt;
        pollfd fds[2] = {{tcp_fd_, POLLIN, 0}, {icmp_fd_, POLLIN, 0}};
        const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) + 1;
        if (::poll(fds, 2, ms) <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if ((fds[i].revents & POLLIN) == 0) continue;
            Arrival a;
            const bool ok = i == 0 ? read_tcp(a) : read_icmp(a);
            if (!ok) continue;
            if (!a.icmp && a.from != dst_) continue;  // someone else's segment
            if (want(a)) return a;
        }
    }
}

}  // namespace tcpsleuth::probe
