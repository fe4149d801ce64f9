#pragma once
// A TCP address as the configuration writes it: "127.0.0.1:9580", "[::1]:9580",
// "0.0.0.0:9580" (port 0: the kernel picks one). Checked by the loader, listened on by the
// metrics endpoint, connected to by the Redis output.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace tcpsleuth {

struct ListenAddress {
    std::string host;  // the address without brackets
    std::uint16_t port = 0;
    bool ipv6 = false;
};

// False with `why` when `text` is not an address and port.
inline bool parse_listen_address(const std::string& text, ListenAddress& out, std::string& why) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size()) {
        why = "expected ADDRESS:PORT, such as \"127.0.0.1:9580\" or \"[::1]:9580\"";
        return false;
    }
    std::string host = text.substr(0, colon);
    out.ipv6 = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (out.ipv6) host = host.substr(1, host.size() - 2);
    in_addr v4{};
    in6_addr v6{};
    if (out.ipv6 ? inet_pton(AF_INET6, host.c_str(), &v6) != 1 : inet_pton(AF_INET, host.c_str(), &v4) != 1) {
        why = "\"" + host + "\" is not an " + (out.ipv6 ? "IPv6" : "IPv4") + " address (IPv6 goes in brackets: \"[::1]:9580\")";
        return false;
    }
    char* end = nullptr;
    const long port = std::strtol(text.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) {
        why = "the port must be a number from 0 to 65535";
        return false;
    }
    out.host = host;
    out.port = static_cast<std::uint16_t>(port);
    return true;
}

// The parsed address as a socket address; returns its length.
inline socklen_t to_sockaddr(const ListenAddress& a, sockaddr_storage& out) {
    out = {};
    if (a.ipv6) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&out);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a.port);
        inet_pton(AF_INET6, a.host.c_str(), &s6->sin6_addr);
        return sizeof *s6;
    }
    auto* s4 = reinterpret_cast<sockaddr_in*>(&out);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a.port);
    inet_pton(AF_INET, a.host.c_str(), &s4->sin_addr);
    return sizeof *s4;
}

}  // namespace tcpsleuth
