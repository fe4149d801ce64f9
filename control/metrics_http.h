#pragma once
// The Prometheus scrape endpoint ([metrics] listen): GET /metrics over HTTP/1.1 answers the
// text exposition `tcpsleuthctl metrics` gives, one request per connection. Other paths go to
// a page handler (the live page at / and its read-only API), which may answer later: a
// flow's packets come from its worker after a few bursts. Served from the
// main core's loop with poll(2), like the control socket: non-blocking sockets, a bounded
// number of clients, a bounded request, and a deadline per connection so a client that
// sends nothing (or reads nothing) cannot hold a slot.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/daemon_config.h"

namespace tcpsleuth::control {

class MetricsHttp {
public:
    using Body = std::function<std::string()>;
    // Answers one request, now or later (at most once; a client gone by then is forgotten).
    using Respond = std::function<void(int status, std::string_view content_type, std::string body)>;
    // A GET of `path` with `query` (after '?', still %-encoded); false: no such page (404).
    using Page = std::function<bool(std::string_view path, std::string_view query, Respond respond)>;

    MetricsHttp() = default;
    ~MetricsHttp();
    MetricsHttp(const MetricsHttp&) = delete;
    MetricsHttp& operator=(const MetricsHttp&) = delete;

    // Listens on cfg.listen ("ADDR:PORT", "[V6ADDR]:PORT"); an empty listen is not an error
    // (no endpoint). `error` names the address and the reason.
    bool open(const MetricsConfig& cfg, std::string& error);
    void close();
    bool is_open() const noexcept { return listen_fd_ >= 0; }
    // The bound address, with the port the kernel chose for port 0.
    const std::string& address() const noexcept { return address_; }

    // Accepts, reads and answers for at most timeout_ms; `body` makes the exposition when a
    // scrape asks for it, `page` any other path (none: 404).
    void poll(int timeout_ms, const Body& body, const Page& page = {});

    std::uint64_t scrapes() const noexcept { return scrapes_; }
    std::uint64_t refused() const noexcept { return refused_; }

private:
    struct Client {
        std::uint64_t id = 0;
        int fd = -1;
        std::string in;
        std::string out;
        std::size_t sent = 0;
        bool answered = false;
        std::chrono::steady_clock::time_point deadline;
    };

    void accept_clients();
    void read_request(Client& c, const Body& body, const Page& page);
    Respond responder(std::uint64_t client_id);
    void answer(Client& c, int status, std::string_view reason, std::string_view content_type, std::string body);

    int listen_fd_ = -1;
    std::string address_;
    std::uint32_t max_clients_ = 16;
    std::vector<Client> clients_;
    std::uint64_t next_id_ = 1;
    std::uint64_t scrapes_ = 0;
    std::uint64_t refused_ = 0;
};

}  // namespace tcpsleuth::control
