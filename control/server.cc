#include "server.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "inspectors/output/json_writer.h"

namespace tcpsleuth::control {
namespace {

// A client that stops reading its replies is not read further beyond this much unsent
// output, and is closed beyond the hard limit (it asked for more than it takes).
constexpr std::size_t kReadPause = 1 << 20;
constexpr std::size_t kHardLimit = 64u << 20;

std::string errno_text() { return std::strerror(errno); }

bool make_parent_dirs(const std::string& path, std::string& error) {
    for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        const std::string dir = path.substr(0, slash);
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            error = dir + ": cannot create the control socket's directory: " + errno_text();
            return false;
        }
    }
    return true;
}

}  // namespace

std::string error_line(std::string_view message) {
    std::string out;
    JsonWriter(out).begin_object().field("ok", false).field("error", message).end_object();
    return out;
}

Server::~Server() { close(); }

bool Server::open(const ControlConfig& cfg, std::string& error) {
    path_ = cfg.socket;
    max_clients_ = cfg.max_clients;
    max_request_ = cfg.max_request_bytes;
    subscriber_buffer_ = static_cast<std::size_t>(cfg.subscriber_buffer_kb) * 1024;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.empty() || path_.size() >= sizeof addr.sun_path) {
        error = "control.socket: \"" + path_ + "\": a Unix socket path must be 1 to " + std::to_string(sizeof addr.sun_path - 1) + " bytes";
        return false;
    }
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    gid_t gid = static_cast<gid_t>(-1);
    if (!cfg.group.empty()) {
        const group* g = ::getgrnam(cfg.group.c_str());
        if (g == nullptr) {
            error = "control.group: no group named \"" + cfg.group + "\" on this machine";
            return false;
        }
        gid = g->gr_gid;
    }
    if (path_.find('/') != std::string::npos && !make_parent_dirs(path_, error)) return false;

    struct stat st{};
    if (::lstat(path_.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error = path_ + ": exists and is not a socket; remove it or choose another control.socket";
            return false;
        }
        // Someone answering there is a running daemon; a refused connection is a leftover.
        const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const bool alive = probe >= 0 && ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
        if (probe >= 0) ::close(probe);
        if (alive) {
            error = path_ + ": another tcpsleuth is serving this control socket; stop it or choose another control.socket";
            return false;
        }
        ::unlink(path_.c_str());
    }
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
        error = "cannot create the control socket: " + errno_text();
        return false;
    }
    // Created owner-only, then opened up to the configured mode: no moment where the
    // umask's wider default lets a stranger in.
    const mode_t old_mask = ::umask(0177);
    const int bound = ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    ::umask(old_mask);
    if (bound != 0) {
        error = path_ + ": cannot bind the control socket: " + errno_text();
        ::close(listen_fd_);
        listen_fd_ = -1;
        return false;
    }
    if ((gid != static_cast<gid_t>(-1) && ::chown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0) ||
        ::chmod(path_.c_str(), static_cast<mode_t>(cfg.mode)) != 0 || ::listen(listen_fd_, 64) != 0) {
        error = path_ + ": cannot set up the control socket: " + errno_text();
        close();
        return false;
    }
    return true;
}

void Server::close() {
    for (Client& c : clients_) ::close(c.fd);
    clients_.clear();
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        listen_fd_ = -1;
        ::unlink(path_.c_str());
    }
}

std::size_t Server::subscribers() const noexcept {
    return static_cast<std::size_t>(std::count_if(clients_.begin(), clients_.end(), [](const Client& c) { return c.subscribed; }));
}

Server::Client* Server::find(ClientId id) {
    for (Client& c : clients_) {
        if (c.id == id) return &c;
    }
    return nullptr;
}

void Server::poll(int timeout_ms) {
    if (listen_fd_ < 0) return;
    std::vector<pollfd> fds;
    fds.reserve(clients_.size() + 1);
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Client& c : clients_) {
        short ev = 0;
        if (!c.busy && !c.closing && !c.half_closed && pending(c) < kReadPause) ev |= POLLIN;
        if (pending(c) != 0) ev |= POLLOUT;
        fds.push_back({c.fd, ev, 0});
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
    // Clients first (indices match), then new connections, which may grow clients_.
    for (std::size_t i = 1; i < fds.size(); ++i) {
        Client& c = clients_[i - 1];
        if ((fds[i].revents & (POLLERR | POLLNVAL)) != 0) {
            c.closing = true;
            c.out.clear();
            c.out_sent = 0;
            continue;
        }
        if ((fds[i].revents & (POLLIN | POLLHUP)) != 0) read_client(c);
        if ((fds[i].revents & POLLOUT) != 0) write_client(c);
    }
    std::erase_if(clients_, [](const Client& c) {
        const bool done = c.closing && c.out.size() == c.out_sent;
        if (done) ::close(c.fd);
        return done;
    });
    if ((fds[0].revents & POLLIN) != 0) accept_clients();
}

void Server::accept_clients() {
    for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;  // EAGAIN: no more; other errors: try again on the next poll
        if (clients_.size() >= max_clients_) {
            ++refused_;
            const std::string line = error_line("too many clients (control.max_clients = " + std::to_string(max_clients_) +
                                                "); try again later") + "\n";
            (void)!::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            ::close(fd);
            continue;
        }
        Client c;
        c.fd = fd;
        c.id = next_id_++;
        clients_.push_back(std::move(c));
    }
}

void Server::read_client(Client& c) {
    char buf[16384];
    for (;;) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.in.append(buf, static_cast<std::size_t>(n));
            take_requests(c);
            if (c.busy || c.closing) return;  // the rest waits for the reply
            continue;
        }
        if (n == 0) {
            // Half-closed after its last request (`echo ... | nc -U`): finish sending what is
            // owed, then close. A subscriber that leaves stops receiving.
            c.closing = !c.busy;
            c.half_closed = true;
            c.subscribed = false;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            c.closing = true;
            c.subscribed = false;
            c.out.clear();
            c.out_sent = 0;
        }
        return;
    }
}

void Server::take_requests(Client& c) {
    while (!c.busy && !c.closing) {
        const std::size_t nl = c.in.find('\n');
        if (nl == std::string::npos) {
            if (c.in.size() > max_request_) {
                c.in.clear();
                c.busy = false;
                c.out += error_line("request longer than " + std::to_string(max_request_) +
                                    " bytes (control.max_request_bytes); closing") + "\n";
                c.closing = true;
                write_client(c);
            }
            return;
        }
        std::string line = c.in.substr(0, nl);
        c.in.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        if (line.size() > max_request_) {
            c.out += error_line("request longer than " + std::to_string(max_request_) + " bytes (control.max_request_bytes)") + "\n";
            write_client(c);
            continue;
        }
        ++requests_;
        c.busy = true;
        in_request_ = true;
        on_request_(c.id, line);  // may reply at once (clearing busy) or later
        in_request_ = false;
    }
}

void Server::write_client(Client& c) {
    while (pending(c) != 0) {
        const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.out_sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
        c.closing = true;  // peer gone
        c.subscribed = false;
        c.out.clear();
        c.out_sent = 0;
        return;
    }
    if (c.out_sent == c.out.size()) {
        c.out.clear();
        c.out_sent = 0;
    } else if (c.out_sent > (1u << 20)) {
        c.out.erase(0, c.out_sent);
        c.out_sent = 0;
    }
}

void Server::reply(ClientId id, std::string_view line) {
    Client* c = find(id);
    if (c == nullptr) return;
    c->busy = false;
    if (c->half_closed && c->in.find('\n') == std::string::npos) c->closing = true;
    if (pending(*c) + line.size() > kHardLimit) {
        c->closing = true;  // it does not read what it asks for
        return;
    }
    c->out.append(line);
    c->out += '\n';
    write_client(*c);
    if (!in_request_) take_requests(*c);  // requests that arrived while this one was answered
}

void Server::subscribe(ClientId id) {
    if (Client* c = find(id)) c->subscribed = true;
}

bool Server::connected(ClientId id) const noexcept {
    return std::any_of(clients_.begin(), clients_.end(), [id](const Client& c) { return c.id == id && !c.closing; });
}

void Server::publish(std::string_view line, const std::function<bool(ClientId)>& wants) {
    for (Client& c : clients_) {
        if (!c.subscribed || c.closing || (wants && !wants(c.id))) continue;
        // Before the first line after a gap, a notice of how many it lost; both must fit.
        const std::size_t notice = c.dropped != c.dropped_reported ? 64 : 0;
        if (pending(c) + notice + line.size() + 1 > subscriber_buffer_) {
            ++c.dropped;
            continue;
        }
        if (notice != 0) {
            c.out += "{\"dropped\":" + std::to_string(c.dropped - c.dropped_reported) + ",\"dropped_total\":" +
                     std::to_string(c.dropped) + "}\n";
            c.dropped_reported = c.dropped;
        }
        c.out.append(line);
        c.out += '\n';
        write_client(c);
    }
}

}  // namespace tcpsleuth::control
