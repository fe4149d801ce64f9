// The lab's sequence-randomizing firewall: an NFQUEUE program that shifts one side's
// sequence numbers by a constant and shifts the other side's ACKs back, the way Cisco ASA
// "random-sequence-number" does, and, like the devices that break SACK, leaves the SACK
// option alone. Usage: seqrand QUEUE CLIENT_IPV4 OFFSET SECONDS (exits after SECONDS).

#include <arpa/inet.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "nfqueue_loop.h"

namespace {

struct Settings {
    std::uint32_t client = 0;  // network order
    std::uint32_t offset = 0;
};

// RFC 1624 incremental update of a one's-complement checksum for one changed 16-bit word.
void csum_update16(std::uint16_t& csum, std::uint16_t old_word, std::uint16_t new_word) {
    std::uint32_t sum = static_cast<std::uint16_t>(~ntohs(csum)) + static_cast<std::uint16_t>(~old_word) + new_word;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    csum = htons(static_cast<std::uint16_t>(~sum));
}

void rewrite32(std::uint8_t* field, std::uint32_t delta, std::uint16_t& csum) {
    std::uint32_t v;
    std::memcpy(&v, field, 4);
    const std::uint32_t old_host = ntohl(v);
    const std::uint32_t new_host = old_host + delta;
    csum_update16(csum, static_cast<std::uint16_t>(old_host >> 16), static_cast<std::uint16_t>(new_host >> 16));
    csum_update16(csum, static_cast<std::uint16_t>(old_host), static_cast<std::uint16_t>(new_host));
    v = htonl(new_host);
    std::memcpy(field, &v, 4);
}

int on_packet(nfq_q_handle* qh, nfgenmsg*, nfq_data* nfa, void* data) {
    const auto* s = static_cast<const Settings*>(data);
    const nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
    const std::uint32_t id = ph != nullptr ? ntohl(ph->packet_id) : 0;
    unsigned char* payload = nullptr;
    const int len = nfq_get_payload(nfa, &payload);
    static std::uint8_t buf[65536];
    if (len < 40 || len > static_cast<int>(sizeof buf)) return nfq_set_verdict(qh, id, NF_ACCEPT, 0, nullptr);
    std::memcpy(buf, payload, static_cast<std::size_t>(len));
    const std::size_t ihl = (buf[0] & 0x0f) * 4u;
    if ((buf[0] >> 4) != 4 || buf[9] != IPPROTO_TCP || ihl + 20 > static_cast<std::size_t>(len)) {
        return nfq_set_verdict(qh, id, NF_ACCEPT, 0, nullptr);
    }
    std::uint32_t src, dst;
    std::memcpy(&src, buf + 12, 4);
    std::memcpy(&dst, buf + 16, 4);
    std::uint8_t* tcp = buf + ihl;
    std::uint16_t csum;
    std::memcpy(&csum, tcp + 16, 2);
    if (src == s->client) {
        rewrite32(tcp + 4, s->offset, csum);  // client's sequence numbers, shifted outward
    } else if (dst == s->client && (tcp[13] & 0x10)) {
        rewrite32(tcp + 8, 0u - s->offset, csum);  // server's ACKs, shifted back; SACK untouched
    }
    std::memcpy(tcp + 16, &csum, 2);
    return nfq_set_verdict(qh, id, NF_ACCEPT, static_cast<std::uint32_t>(len), buf);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: seqrand QUEUE CLIENT_IPV4 OFFSET SECONDS\n");
        return 2;
    }
    Settings s;
    if (inet_pton(AF_INET, argv[2], &s.client) != 1) {
        std::fprintf(stderr, "seqrand: bad address %s\n", argv[2]);
        return 2;
    }
    s.offset = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 0));
    return lab::serve_queue("seqrand", std::atoi(argv[1]), std::atoi(argv[4]), &on_packet, &s);
}
