#pragma once
// The tests of `tcpsleuth probe`, each ending in findings named as the passive sensor names
// them (the event catalog) and one line a person can read.
//
//   options  SYNs with the local stack's options, TTL 1, 2, 3 ...: each router's ICMP
//            time-exceeded quotes our SYN as it reached that router (RFC 1812 section 4.3.2.3:
//            as much as fits in 576 bytes; RFC 4443: 1280), so the first hop whose quote lacks
//            an option, or carries another MSS, sits just after the device that changed it
//            (the tracebox method). Then the server's SYN-ACK, its options and any NOP fill.
//   ecn      an ECN-setup SYN (ECE+CWR, RFC 3168 section 6.1.1) against a plain one: answered
//            or not, and where along the path ECN SYNs stop being quoted; then ECT(0) probes
//            hop by hop: the first hop whose quote shows another codepoint bleached it.
//   pmtu     ICMP echo with DF, binary search between what passes and what does not (as
//            tracepath does), whether "fragmentation needed" / "packet too big" comes back,
//            the hop that stops passing the large size; then a real TCP connection to the
//            port sending full-size segments: acknowledged, or stuck (a black hole).
//   rst      a SYN answered by a RST: from the server, or from a device that answers for it?
//            The server's distance from an echo TTL walk, the RST's from its TTL and from the
//            TTL at which our SYN first draws it: nearer than the server is injected.
//   seq      a real connection, then segments beyond a hole: the server's SACK blocks must name
//            them in our sequence numbers; off by a constant, a device shifts our numbers
//            without rewriting SACK (sequence randomization). TTL-limited copies on the same
//            connection show the hop whose quote has our numbers shifted.
//   idle     connections left idle for different intervals in parallel, then each sends a
//            byte: acknowledged (the path still knows the flow), reset, or never acknowledged.
//            A second round bisects between the longest survived and the shortest killed.

#include <chrono>
#include <string>
#include <vector>

#include "dataplane/probe/raw_path.h"
#include "inspectors/output/events.h"

namespace tcpsleuth::probe {

struct Target {
    sockaddr_storage addr{};  // with the port
    bool v6 = false;
    Address ip{};
    std::uint16_t port = 80;
    std::string text;         // as the user named it, and the address
    bool has_source = false;  // the probe's connections leave from `source` (port 0)
    sockaddr_storage source{};
};

// A kernel socket toward `t`, nonblocking, closed with a RST (SO_LINGER 0), bound to the
// probe's source when it has one; -1 on failure.
int probe_socket(const Target& t);

struct Settings {
    int max_hops = 16;
    std::chrono::milliseconds wait{1000};  // for each probe's answer
    std::uint32_t tcp_bytes = 65536;       // pmtu: sent on the real connection
    std::chrono::milliseconds tcp_wait{6000};
    std::chrono::seconds max_idle{120};    // idle: the longest silence tried
};

// One finding of a test: the event (as the sensor would raise it), the probe's own summary,
// and where on the path (hop 0: not located).
struct Finding {
    Event event;
    std::string summary;
    std::string test;
    int hop = 0;
    std::string hop_address;
    std::string previous_address;  // the last hop before it that still saw the packet intact
};

struct TestResult {
    std::vector<Finding> findings;
    std::string line;  // "options: ..." for a person
};

TestResult test_options(RawPath& path, const Target& t, const Settings& s);
TestResult test_ecn(RawPath& path, const Target& t, const Settings& s);
TestResult test_pmtu(RawPath& path, const Target& t, const Settings& s);
TestResult test_rst(RawPath& path, const Target& t, const Settings& s);
TestResult test_idle(RawPath& path, const Target& t, const Settings& s);
TestResult test_seq(RawPath& path, const Target& t, const Settings& s);

}  // namespace tcpsleuth::probe
