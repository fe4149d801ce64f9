// The lab's handshake-racing RST injector, as an in-path IPS or censor does it: an NFQUEUE
// program that, for every SYN queued to it, sends the client a forged RST claiming to come
// from the server, from the router's own IP stack (its TTL, its IP IDs), and lets the SYN
// through 20 ms later, so the forged RST arrives before the server's real SYN-ACK.
//
// Usage: rstrace QUEUE ACK SECONDS    ACK: "next" acknowledges ISN+1 (the client accepts the
// RST and the connection is refused), "isn" acknowledges the ISN itself (a forger's mistake
// the client must ignore, RFC 9293 section 3.10.7.3: the handshake goes on). Exits after
// SECONDS. IPv4 only.

#include <arpa/inet.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "nfqueue_loop.h"
#include <random>
#include <thread>

namespace {

struct Settings {
    bool ack_isn = false;
    int raw = -1;
    std::mt19937 rng{20261128};
};

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    return sum;
}

std::uint16_t fold(std::uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

void put16(std::uint8_t* p, std::uint16_t v) { p[0] = static_cast<std::uint8_t>(v >> 8), p[1] = static_cast<std::uint8_t>(v); }
void put32(std::uint8_t* p, std::uint32_t v) { put16(p, static_cast<std::uint16_t>(v >> 16)), put16(p + 2, static_cast<std::uint16_t>(v)); }

// A RST+ACK from the SYN's destination back to its source: seq 0, ack ISN+1 (or ISN).
void send_rst(Settings& s, const std::uint8_t* syn, std::size_t ihl) {
    const std::uint8_t* tcp = syn + ihl;
    const std::uint32_t isn = static_cast<std::uint32_t>(tcp[4] << 24 | tcp[5] << 16 | tcp[6] << 8 | tcp[7]);
    std::uint8_t pkt[40] = {};
    pkt[0] = 0x45;
    put16(pkt + 2, sizeof pkt);
    put16(pkt + 4, static_cast<std::uint16_t>(s.rng()));  // the router's IP ID, nothing like the server's
    pkt[8] = 64;                                           // the router's own initial TTL
    pkt[9] = IPPROTO_TCP;
    std::memcpy(pkt + 12, syn + 16, 4);  // from the SYN's destination (the server)
    std::memcpy(pkt + 16, syn + 12, 4);  // to its source (the client)
    put16(pkt + 10, fold(sum16(pkt, 20)));
    std::uint8_t* t = pkt + 20;
    std::memcpy(t, tcp + 2, 2);  // source port: the SYN's destination port
    std::memcpy(t + 2, tcp, 2);
    put32(t + 8, s.ack_isn ? isn : isn + 1);
    t[12] = 5 << 4;
    t[13] = 0x14;  // RST, ACK
    // TCP checksum over the pseudo-header (addresses, protocol, length) and the segment.
    std::uint32_t sum = sum16(pkt + 12, 8) + IPPROTO_TCP + 20;
    put16(t + 16, fold(sum16(t, 20, sum)));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    std::memcpy(&to.sin_addr, pkt + 16, 4);
    if (sendto(s.raw, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) std::perror("rstrace: sendto");
}

int on_packet(nfq_q_handle* qh, nfgenmsg*, nfq_data* nfa, void* data) {
    auto* s = static_cast<Settings*>(data);
    const nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
    const std::uint32_t id = ph != nullptr ? ntohl(ph->packet_id) : 0;
    unsigned char* payload = nullptr;
    const int len = nfq_get_payload(nfa, &payload);
    if (len >= 40 && (payload[0] >> 4) == 4 && payload[9] == IPPROTO_TCP) {
        const std::size_t ihl = (payload[0] & 0x0f) * 4u;
        if (ihl + 20 <= static_cast<std::size_t>(len) && (payload[ihl + 13] & 0x12) == 0x02) {  // SYN without ACK
            send_rst(*s, payload, ihl);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the real SYN-ACK comes second
        }
    }
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 || (std::strcmp(argv[2], "next") != 0 && std::strcmp(argv[2], "isn") != 0)) {
        std::fprintf(stderr, "usage: rstrace QUEUE next|isn SECONDS\n");
        return 2;
    }
    Settings s;
    s.ack_isn = std::strcmp(argv[2], "isn") == 0;
    s.raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // IP_HDRINCL implied
    if (s.raw < 0) {
        std::perror("rstrace: raw socket");
        return 1;
    }
    const int rc = lab::serve_queue("rstrace", std::atoi(argv[1]), std::atoi(argv[3]), &on_packet, &s);
    close(s.raw);
    return rc;
}
