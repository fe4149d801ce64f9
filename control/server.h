#pragma once
// The control socket: a Unix stream socket speaking newline-delimited JSON, served from the
// main core's loop with poll(2). Nothing here ever blocks on a client: sockets are
// non-blocking, a client is read only while it has no request in progress and little
// unsent output, and a subscriber's backlog is bounded (events beyond it are dropped and
// counted for that client alone).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/daemon_config.h"

namespace tcpsleuth::control {

using ClientId = std::uint64_t;

// {"ok":false,"error":"..."}: every refusal, from the server or a command, looks alike.
std::string error_line(std::string_view message);

class Server {
public:
    // A complete request line, without its newline.
    using OnRequest = std::function<void(ClientId, std::string_view)>;

    explicit Server(OnRequest on_request) : on_request_(std::move(on_request)) {}
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Creates the socket (and its directory) with cfg.mode and cfg.group. A socket file left
    // by a dead process is replaced; one a live process answers on is an error.
    bool open(const ControlConfig& cfg, std::string& error);
    void close();
    bool is_open() const noexcept { return listen_fd_ >= 0; }
    const std::string& path() const noexcept { return path_; }

    // Accepts, reads and writes for at most timeout_ms (0: only what is ready now).
    void poll(int timeout_ms);

    // Queues one reply line for a client and lets it send its next request. A client that
    // has gone is ignored.
    void reply(ClientId id, std::string_view line);
    // From now on the client receives published lines.
    void subscribe(ClientId id);
    // To every subscriber `wants` (when given) accepts, within each one's backlog limit.
    void publish(std::string_view line, const std::function<bool(ClientId)>& wants = {});
    bool connected(ClientId id) const noexcept;
    void set_subscriber_buffer(std::size_t bytes) noexcept { subscriber_buffer_ = bytes; }

    std::size_t clients() const noexcept { return clients_.size(); }
    std::size_t subscribers() const noexcept;
    std::uint64_t requests() const noexcept { return requests_; }
    std::uint64_t refused() const noexcept { return refused_; }

private:
    struct Client {
        int fd = -1;
        ClientId id = 0;
        std::string in;
        std::string out;
        std::size_t out_sent = 0;
        bool busy = false;        // a request is being answered
        bool subscribed = false;
        bool closing = false;     // close once the output is sent
        bool half_closed = false; // sent EOF: answer what it asked, then close
        std::uint64_t dropped = 0;           // events not queued, backlog full
        std::uint64_t dropped_reported = 0;  // of which the client has been told
    };

    void accept_clients();
    void read_client(Client& c);
    void write_client(Client& c);
    void take_requests(Client& c);
    Client* find(ClientId id);
    std::size_t pending(const Client& c) const noexcept { return c.out.size() - c.out_sent; }

    OnRequest on_request_;
    int listen_fd_ = -1;
    std::string path_;
    std::size_t max_clients_ = 64;
    std::size_t max_request_ = 65536;
    std::size_t subscriber_buffer_ = 1 << 20;
    std::vector<Client> clients_;
    ClientId next_id_ = 1;
    std::uint64_t requests_ = 0;
    std::uint64_t refused_ = 0;
    bool in_request_ = false;  // inside on_request_: reply() must not recurse into take_requests
};

}  // namespace tcpsleuth::control
