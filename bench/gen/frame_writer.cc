#include "frame_writer.h"

#include <cstring>

namespace tcpsleuth::gen {
namespace {

std::uint32_t sum16(const std::uint8_t* p, std::uint32_t n, std::uint32_t acc = 0) {
    for (std::uint32_t i = 0; i + 1 < n; i += 2) acc += (std::uint32_t{p[i]} << 8) | p[i + 1];
    if (n & 1) acc += std::uint32_t{p[n - 1]} << 8;
    return acc;
}

std::uint16_t fold(std::uint32_t acc) {
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<std::uint16_t>(~acc);
}

}  // namespace

void put16(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void linux_syn_options(std::uint8_t* o, std::uint16_t mss, std::uint32_t tsval, std::uint32_t tsecr, std::uint8_t wscale) {
    o[0] = 2, o[1] = 4;
    put16(o + 2, mss);
    o[4] = 4, o[5] = 2;  // SACK permitted
    o[6] = 8, o[7] = 10;
    put32(o + 8, tsval);
    put32(o + 12, tsecr);
    o[16] = 1;  // NOP
    o[17] = 3, o[18] = 3, o[19] = wscale;
}

void timestamp_options(std::uint8_t* o, std::uint32_t tsval, std::uint32_t tsecr) {
    o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
    put32(o + 4, tsval);
    put32(o + 8, tsecr);
}

std::uint32_t write_tcp_frame(const TcpFrame& f, std::uint8_t* out) {
    std::uint8_t* p = out;
    const std::uint8_t client_mac[6] = {0x02, 0, 0, 0, 0, 0x01}, router_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
    std::memcpy(p, f.from_client ? router_mac : client_mac, 6);
    std::memcpy(p + 6, f.from_client ? client_mac : router_mac, 6);
    put16(p + 12, f.ipv6 ? 0x86dd : 0x0800);
    p += 14;

    const std::uint32_t tcp_len = 20 + f.options_len + f.payload;
    std::uint8_t* ip = p;
    std::uint32_t pseudo = 0;
    if (f.ipv6) {
        put32(ip, (6u << 28) | (std::uint32_t{f.ip_ecn} << 20));
        put16(ip + 4, tcp_len);
        ip[6] = 6, ip[7] = f.ttl;
        std::memcpy(ip + 8, f.src, 16);
        std::memcpy(ip + 24, f.dst, 16);
        pseudo = sum16(ip + 8, 32) + 6 + tcp_len;  // RFC 8200 8.1
        p += 40;
    } else {
        ip[0] = 0x45, ip[1] = f.ip_ecn;
        put16(ip + 2, 20 + tcp_len);
        put16(ip + 4, f.ip_id);
        put16(ip + 6, 0x4000);  // DF: path MTU discovery (RFC 1191)
        ip[8] = f.ttl, ip[9] = 6;
        put16(ip + 10, 0);
        std::memcpy(ip + 12, f.src, 4);
        std::memcpy(ip + 16, f.dst, 4);
        put16(ip + 10, fold(sum16(ip, 20)));
        pseudo = sum16(ip + 12, 8) + 6 + tcp_len;  // RFC 793 3.1
        p += 20;
    }

    std::uint8_t* tcp = p;
    put16(tcp, f.sport);
    put16(tcp + 2, f.dport);
    put32(tcp + 4, f.seq);
    put32(tcp + 8, f.ack);
    tcp[12] = static_cast<std::uint8_t>(((20 + f.options_len) / 4) << 4);
    tcp[13] = f.flags;
    put16(tcp + 14, f.window);
    put32(tcp + 16, 0);  // checksum, urgent pointer
    if (f.options_len != 0) std::memcpy(tcp + 20, f.options, f.options_len);
    if (f.content != nullptr) {
        std::memcpy(tcp + 20 + f.options_len, f.content, f.payload);
        put16(tcp + 16, fold(sum16(tcp, 20 + f.options_len + f.payload, pseudo)));
    } else {
        std::memset(tcp + 20 + f.options_len, 0, f.payload);
        put16(tcp + 16, fold(sum16(tcp, 20 + f.options_len, pseudo)));
    }
    return static_cast<std::uint32_t>(tcp + tcp_len - out);
}

}  // namespace tcpsleuth::gen
