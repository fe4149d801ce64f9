#pragma once
// What the probe's tests share (probe_tests.h says what each test does): random ports and
// ISNs, a finding built as the sensor builds one, the TTL walk and its answers, the SYN in
// the local stack's layout, and kernel sockets from the probe's source.

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dataplane/probe/probe_tests.h"

namespace tcpsleuth::probe {

using std::chrono::milliseconds;

std::mt19937& rng();
std::uint16_t random_port();
std::uint32_t random_isn();
std::uint64_t wall_ns();

// The finding as the sensor would raise it about our connection: we are the client.
Finding finding(const RawPath& path, const Target& t, std::uint16_t sport, const char* test, const EventDetail& d,
                Severity sev, Confidence conf, std::string summary);

struct HopReply {
    int ttl = 0;
    bool answered = false;
    Address from{};
    Icmp icmp;
};

struct Trace {
    std::vector<HopReply> hops;
    bool reached = false;       // the target answered (SYN-ACK or RST)
    int reached_ttl = 0;
    Arrival answer;             // its answer
    bool stopped = false;       // an unreachable, or the packet budget
};

bool same_ip(const Address& a, const Address& b, bool v6);

// `tmpl` sent with TTL 1, 2, ... (sequence number base + TTL) until the target answers or
// four hops in a row stay silent.
Trace trace(RawPath& path, const Target& t, const Segment& tmpl, std::uint8_t ecn, const Settings& s);

// The same segment with full TTL, up to `tries` times a wait apart: the target's answer.
std::optional<Arrival> ask(RawPath& path, const Target& t, const Segment& seg, std::uint8_t ecn, int tries, const Settings& s);

// A SYN from a random port and ISN with `so`; the options this host's stack would offer.
Segment syn_template(const RawPath& path, const Target& t, const SynOptions& so);
SynOptions local_options(const RawPath& path);

// "hop 2 (198.18.3.2)"
std::string hop_name(const HopReply& h, bool v6);

// A socket's pending error (SO_ERROR), 0 none.
int socket_error(int fd);

}  // namespace tcpsleuth::probe
