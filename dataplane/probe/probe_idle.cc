// tcpsleuth probe, idle: the silence after which the path forgets a connection (probe_tests.h).

#include "dataplane/probe/probe_common.h"

#include <netinet/in.h>
#include <linux/tcp.h>  // tcp_info (glibc's lacks newer fields)
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>

namespace tcpsleuth::probe {

namespace {

struct Idler {
    int fd = -1;
    double interval_s = 0;
    Clock::time_point speak_at{}, judge_until{};
    enum class State { kConnecting, kIdle, kJudging, kSurvived, kReset, kDropped, kFailed } state = State::kConnecting;
    std::uint32_t retransmits = 0;
};

constexpr std::uint8_t kTcpClose = 7;  // TCP_CLOSE in the kernel's tcp_states.h (not exported)

// One round: a connection per interval, all opened at once; each speaks after its silence
// and is judged within `judge`. Every socket is closed with a RST (SO_LINGER 0).
void idle_round(const Target& t, std::vector<Idler>& round, milliseconds judge, const Limits& limits) {
    const auto start = Clock::now();
    for (Idler& c : round) {
        c.fd = probe_socket(t);
        ::connect(c.fd, reinterpret_cast<const sockaddr*>(&t.addr), t.v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
        c.speak_at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.interval_s));
    }
    const char byte = 'k';
    for (;;) {
        bool busy = false;
        const auto now = Clock::now();
        for (Idler& c : round) {
            switch (c.state) {
                case Idler::State::kConnecting: {
                    pollfd p{c.fd, POLLOUT, 0};
                    if (::poll(&p, 1, 0) == 1) {
                        // The byte that sets up the flow's state on the path, then silence.
                        c.state = socket_error(c.fd) == 0 && ::send(c.fd, &byte, 1, MSG_NOSIGNAL) == 1 ? Idler::State::kIdle
                                                                                                 : Idler::State::kFailed;
                    } else if (now - start > std::chrono::seconds(3)) {
                        c.state = Idler::State::kFailed;
                    }
                    busy = true;
                    break;
                }
                case Idler::State::kIdle:
                    if (now >= c.speak_at) {
                        c.judge_until = now + judge;
                        c.state = ::send(c.fd, &byte, 1, MSG_NOSIGNAL) == 1 ? Idler::State::kJudging : Idler::State::kReset;
                    }
                    busy = true;
                    break;
                case Idler::State::kJudging: {
                    tcp_info info{};
                    socklen_t len = sizeof info;
                    const int err = socket_error(c.fd);
                    const bool info_ok = ::getsockopt(c.fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0;
                    if (err == ECONNRESET || err == EPIPE || (info_ok && info.tcpi_state == kTcpClose)) {
                        c.state = Idler::State::kReset;
                    } else if (info_ok && info.tcpi_unacked == 0) {
                        c.state = Idler::State::kSurvived;
                    } else if (now >= c.judge_until) {
                        c.retransmits = info_ok ? info.tcpi_total_retrans : 0;
                        c.state = Idler::State::kDropped;
                    } else {
                        busy = true;
                    }
                    break;
                }
                default: break;
            }
        }
        if (!busy || limits.cancelled()) break;
        ::poll(nullptr, 0, 20);
    }
    for (Idler& c : round) ::close(c.fd);
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, s < 10 ? "%.1f s" : "%.0f s", s);
    return buf;
}

}  // namespace

TestResult test_idle(RawPath& path, const Target& t, const Settings& s) {
    TestResult r;
    const double max = static_cast<double>(s.max_idle.count());
    const milliseconds judge(3000);
    std::vector<double> intervals;
    for (double i = max; i >= 1.0 && intervals.size() < 6; i /= 2) intervals.push_back(i);
    double survived = 0, killed = 0;
    bool reset = false;
    std::uint32_t retransmits = 0;
    int failed = 0;
    for (int pass = 0; pass < 2 && !intervals.empty(); ++pass) {
        std::vector<Idler> round(intervals.size());
        for (std::size_t i = 0; i < intervals.size(); ++i) round[i].interval_s = intervals[i];
        idle_round(t, round, judge, path.limits());
        for (const Idler& c : round) {
            if (c.state == Idler::State::kSurvived) survived = std::max(survived, c.interval_s);
            if (c.state == Idler::State::kReset || c.state == Idler::State::kDropped) {
                if (killed == 0 || c.interval_s < killed) {
                    killed = c.interval_s;
                    reset = c.state == Idler::State::kReset;
                    retransmits = c.retransmits;
                }
            }
            failed += c.state == Idler::State::kFailed;
        }
        // Second pass: three more between the longest survived and the shortest killed.
        intervals.clear();
        if (killed != 0 && killed > survived + 0.5) {
            for (int k = 1; k <= 3; ++k) intervals.push_back(survived + (killed - survived) * k / 4);
        }
    }
    if (failed != 0 && survived == 0 && killed == 0) {
        r.line = "idle: no connection to port " + std::to_string(t.port) + " could be set up";
        return r;
    }
    if (killed == 0 || killed <= survived) {
        r.line = "idle: connections idle up to " + seconds_text(survived) + " still worked (tried up to " + seconds_text(max) + ")";
        return r;
    }
    IdleBracket bracket;
    bracket.survived_max_s = static_cast<std::uint32_t>(survived);
    bracket.killed_min_s = static_cast<std::uint32_t>(std::ceil(killed));
    const std::string summary = "the path forgets a connection idle between " + seconds_text(survived) + " and " +
                                seconds_text(killed) + ": after " + seconds_text(killed) + " of silence our byte " +
                                (reset ? "drew a RST" : "was never acknowledged (" + std::to_string(retransmits) + " retransmissions)") +
                                ", after " + seconds_text(survived) + " it was; TCP keepalives every " +
                                seconds_text(std::max(1.0, survived / 2)) + " or less keep such a flow alive";
    Finding f = reset ? [&] {
        IdleResetAfterIdle d;
        d.prompted = true;
        d.gap_ms = static_cast<std::uint32_t>(killed * 1000);
        d.bracket = bracket;
        return finding(path, t, 0, "idle", d, Severity::kWarning, Confidence::kHigh, summary);
    }()
                      : [&] {
                            IdleTimeoutDrop d;
                            d.gap_ms = static_cast<std::uint32_t>(killed * 1000);
                            d.retransmissions = retransmits;
                            d.bracket = bracket;
                            return finding(path, t, 0, "idle", d, Severity::kWarning, Confidence::kHigh, summary);
                        }();
    r.findings.push_back(std::move(f));
    r.line = "idle: survived " + seconds_text(survived) + ", " + (reset ? "reset" : "dropped") + " after " + seconds_text(killed);
    return r;
}

}  // namespace tcpsleuth::probe
