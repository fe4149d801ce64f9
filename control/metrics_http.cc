#include "metrics_http.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "config/listen_address.h"

namespace tcpsleuth::control {
namespace {

// A request line and headers beyond this are not a scrape.
constexpr std::size_t kMaxRequest = 8192;
// A connection has this long to send its request and take the answer.
constexpr auto kDeadline = std::chrono::seconds(10);

}  // namespace

MetricsHttp::~MetricsHttp() { close(); }

bool MetricsHttp::open(const MetricsConfig& cfg, std::string& error) {
    if (cfg.listen.empty()) return true;
    max_clients_ = cfg.max_clients;
    ListenAddress where;
    std::string why;
    if (!parse_listen_address(cfg.listen, where, why)) {
        error = "metrics.listen: \"" + cfg.listen + "\": " + why;
        return false;
    }
    sockaddr_storage addr{};
    const socklen_t len = to_sockaddr(where, addr);
    listen_fd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int on = 1;
    if (listen_fd_ < 0 || ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0 || ::listen(listen_fd_, 64) != 0) {
        error = "metrics.listen: cannot listen on " + cfg.listen + ": " + std::strerror(errno);
        close();
        return false;
    }
    // The port the kernel chose, for port 0.
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof bound;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
    const std::uint16_t port = ntohs(where.ipv6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    address_ = (where.ipv6 ? "[" + where.host + "]" : where.host) + ":" + std::to_string(port);
    return true;
}

void MetricsHttp::close() {
    for (const Client& c : clients_) ::close(c.fd);
    clients_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
}

void MetricsHttp::poll(int timeout_ms, const Body& body, const Page& page) {
    if (listen_fd_ < 0) return;
    std::vector<pollfd> fds;
    fds.reserve(clients_.size() + 1);
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Client& c : clients_) fds.push_back({c.fd, static_cast<short>(c.answered ? POLLOUT : POLLIN), 0});
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 1; ready > 0 && i < fds.size(); ++i) {
        Client& c = clients_[i - 1];
        if ((fds[i].revents & (POLLERR | POLLNVAL)) != 0) {
            c.deadline = now;  // gone: closed below
            continue;
        }
        if ((fds[i].revents & (POLLIN | POLLHUP)) != 0 && !c.answered) read_request(c, body, page);
        if (c.answered && c.sent < c.out.size()) {
            const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) c.sent += static_cast<std::size_t>(n);
            else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c.deadline = now;
        }
    }
    // Answered and sent, gone, or out of time: closed (one request per connection).
    std::erase_if(clients_, [&](const Client& c) {
        const bool done = (c.answered && c.sent == c.out.size()) || c.deadline <= now;
        if (done) ::close(c.fd);
        return done;
    });
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) accept_clients();
}

void MetricsHttp::accept_clients() {
    for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (clients_.size() >= max_clients_) {
            ++refused_;
            static constexpr char kBusy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            (void)!::send(fd, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            ::close(fd);
            continue;
        }
        clients_.push_back({next_id_++, fd, {}, {}, 0, false, std::chrono::steady_clock::now() + kDeadline});
    }
}

MetricsHttp::Respond MetricsHttp::responder(std::uint64_t client_id) {
    return [this, client_id](int status, std::string_view content_type, std::string text) {
        for (Client& c : clients_) {
            if (c.id != client_id || c.answered) continue;
            const char* reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : status == 404 ? "Not Found" : "Error";
            answer(c, status, reason, content_type, std::move(text));
            return;
        }
    };
}

void MetricsHttp::read_request(Client& c, const Body& body, const Page& page) {
    char buf[4096];
    for (;;) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.in.append(buf, static_cast<std::size_t>(n));
            if (c.in.size() > kMaxRequest) return answer(c, 431, "Request Header Fields Too Large", "text/plain", "request too large\n");
            continue;
        }
        if (n == 0) {  // the client is done sending; a request cut short gets nothing
            if (c.in.find("\r\n\r\n") == std::string::npos) c.deadline = std::chrono::steady_clock::now();
            break;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        c.deadline = std::chrono::steady_clock::now();
        return;
    }
    if (c.in.find("\r\n\r\n") == std::string::npos) return;  // more to come
    // "GET /metrics HTTP/1.1": the method, the path (a query string ignored), the version.
    const std::string line = c.in.substr(0, c.in.find("\r\n"));
    const std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1 || line.compare(sp2 + 1, 5, "HTTP/") != 0) {
        return answer(c, 400, "Bad Request", "text/plain", "not an HTTP request\n");
    }
    const std::string method = line.substr(0, sp1);
    const std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string path = target.substr(0, target.find('?'));
    const std::string query = target.find('?') == std::string::npos ? std::string() : target.substr(target.find('?') + 1);
    if (method != "GET" && method != "HEAD") return answer(c, 405, "Method Not Allowed", "text/plain", "GET only\n");
    if (path != "/metrics") {
        // HEAD is for the scrape; the page and its API answer GET.
        if (method == "GET" && page && page(path, query, responder(c.id))) return;
        return answer(c, 404, "Not Found", "text/plain", "tcpsleuth serves /metrics and the live page at /\n");
    }
    ++scrapes_;
    std::string text = body();
    if (method == "HEAD") {
        answer(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", "");
        // HEAD: the length the GET would have, no body.
        c.out.replace(c.out.find("Content-Length: 0"), 17, "Content-Length: " + std::to_string(text.size()));
        return;
    }
    answer(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", std::move(text));
}

void MetricsHttp::answer(Client& c, int status, std::string_view reason, std::string_view content_type, std::string body) {
    c.out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\nContent-Type: " + std::string(content_type) +
            "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    c.sent = 0;
    c.answered = true;
}

}  // namespace tcpsleuth::control
