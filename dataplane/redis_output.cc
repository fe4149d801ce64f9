#include "dataplane/redis_output.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "config/listen_address.h"
#include "inspectors/output/json_writer.h"

namespace tcpsleuth {
namespace {

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

void bulk(std::string& out, std::string_view s) {
    out += '$';
    out += std::to_string(s.size());
    out += "\r\n";
    out += s;
    out += "\r\n";
}

}  // namespace

std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    return name;
}

void redis_metrics(const RedisOutput& r, std::vector<control::MetricSample>& out) {
    const RedisStats s = r.stats();
    const char* lines = "tcpsleuth_redis_lines_total";
    const char* lines_help = "findings given to [output.redis], by what became of them";
    out.push_back({lines, "counter", lines_help, "result=\"queued\"", s.queued});
    out.push_back({lines, "counter", lines_help, "result=\"delivered\"", s.delivered});
    out.push_back({lines, "counter", lines_help, "result=\"dropped\"", s.dropped});
    out.push_back({lines, "counter", lines_help, "result=\"refused\"", s.refused});
    out.push_back({"tcpsleuth_redis_resent_total", "counter", "lines sent again after a broken connection", "", s.resent});
    out.push_back({"tcpsleuth_redis_connects_total", "counter", "connections made to the Redis server", "", s.connects});
    out.push_back({"tcpsleuth_redis_pending", "gauge", "lines queued, not yet acknowledged by the server", "", s.pending});
    out.push_back({"tcpsleuth_redis_connected", "gauge", "1 while connected to the Redis server", "", r.connected() ? 1u : 0u});
}

void log_redis_stats(const RedisOutput& r) {
    const RedisStats s = r.stats();
    spdlog::info("redis: {} queued, {} delivered, {} dropped, {} refused, {} resent, {} connection(s)", s.queued, s.delivered,
                 s.dropped, s.refused, s.resent, s.connects);
}

RedisOutput::RedisOutput(const RedisConfig& cfg, std::string sensor) : cfg_(cfg) {
    JsonWriter w(sensor_json_);
    w.key("sensor").value(sensor);
    sensor_json_ += ',';
}

RedisOutput::~RedisOutput() {
    if (fd_ >= 0) ::close(fd_);
}

void RedisOutput::push(std::string_view json_line) {
    ++seq_;
    if (waiting_.size() + inflight_.size() >= cfg_.queue_events) {
        ++stats_.dropped;
        return;
    }
    // {"sensor":"NAME","seq":N, then the event's own members.
    std::string json;
    json.reserve(json_line.size() + sensor_json_.size() + 24);
    json += '{';
    json += sensor_json_;
    json += "\"seq\":";
    json += std::to_string(seq_);
    if (json_line.size() > 2) json += ',';
    json.append(json_line.substr(json_line.empty() ? 0 : 1));
    waiting_.push_back({seq_, std::move(json)});
}

void RedisOutput::encode(const Line& l, std::string& out) const {
    if (cfg_.mode == "stream") {
        // XADD key [MAXLEN ~ n] * event JSON: one field, so consumers read the same JSON
        // whatever the mode.
        const bool trim = cfg_.max_length != 0;
        out += trim ? "*8\r\n" : "*5\r\n";
        bulk(out, "XADD");
        bulk(out, cfg_.key);
        if (trim) {
            bulk(out, "MAXLEN");
            bulk(out, "~");
            bulk(out, std::to_string(cfg_.max_length));
        }
        bulk(out, "*");
        bulk(out, "event");
        bulk(out, l.json);
        return;
    }
    out += "*3\r\n";
    bulk(out, cfg_.mode == "lpush" ? "LPUSH" : cfg_.mode == "publish" ? "PUBLISH" : "RPUSH");
    bulk(out, cfg_.key);
    bulk(out, l.json);
}

void RedisOutput::connect() {
    const std::uint64_t now = now_ms();
    if (now < next_try_ms_) return;
    next_try_ms_ = now + cfg_.reconnect_ms;
    const bool unix_path = !cfg_.server.empty() && cfg_.server[0] == '/';
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (unix_path) {
        auto* sun = reinterpret_cast<sockaddr_un*>(&ss);
        sun->sun_family = AF_UNIX;
        std::strncpy(sun->sun_path, cfg_.server.c_str(), sizeof sun->sun_path - 1);
        len = sizeof *sun;
    } else {
        ListenAddress a;
        std::string why;
        if (!parse_listen_address(cfg_.server, a, why)) {
            last_error_ = why;
            return;
        }
        len = to_sockaddr(a, ss);
    }
    fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        last_error_ = std::string("socket: ") + std::strerror(errno);
        return;
    }
    if (!unix_path) {
        const int one = 1;
        setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
        connected();
    } else if (errno == EINPROGRESS) {
        state_ = State::kConnecting;
    } else {
        disconnect(std::string("connect to ") + cfg_.server + ": " + std::strerror(errno));
    }
}

void RedisOutput::connected() {
    state_ = State::kConnected;
    ++stats_.connects;
    // With a password the connection counts once AUTH is answered (read_some says so).
    if (cfg_.password.empty()) spdlog::info("redis: connected to {}", cfg_.server);
}

void RedisOutput::disconnect(const std::string& why) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    // Said once per reason: a refused AUTH is refused again on every retry.
    if (state_ == State::kConnected && why != last_logged_) {
        spdlog::warn("redis: {}: reconnecting every {} ms", why, cfg_.reconnect_ms);
        last_logged_ = why;
    }
    state_ = State::kDown;
    auth_sent_ = authenticated_ = false;
    last_error_ = why;
    // What the server did not acknowledge goes again, in order, ahead of what waits.
    stats_.resent += inflight_.size();
    while (!inflight_.empty()) {
        waiting_.push_front(std::move(inflight_.back()));
        inflight_.pop_back();
    }
    out_.clear();
    in_.clear();
}

void RedisOutput::fill_output() {
    if (!cfg_.password.empty() && !authenticated_) {
        if (!auth_sent_) {
            out_ += cfg_.username.empty() ? "*2\r\n" : "*3\r\n";
            bulk(out_, "AUTH");
            if (!cfg_.username.empty()) bulk(out_, cfg_.username);
            bulk(out_, cfg_.password);
            auth_sent_ = true;
        }
        return;  // lines wait for AUTH's answer
    }
    while (!waiting_.empty() && inflight_.size() < kWindow) {
        encode(waiting_.front(), out_);
        inflight_.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
    }
}

bool RedisOutput::send_some() {
    while (!out_.empty()) {
        const ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
        if (n > 0) {
            out_.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        disconnect(std::string("send: ") + (n < 0 ? std::strerror(errno) : "closed"));
        return false;
    }
    return true;
}

// One RESP reply: +simple, -error, :integer, $bulk (or $-1), *array of those.
int RedisOutput::take_reply(bool& ok) {
    std::size_t at = 0;
    int depth_items = 1;
    ok = true;
    while (depth_items > 0) {
        const std::size_t eol = in_.find("\r\n", at);
        if (eol == std::string::npos) return 0;
        if (eol == at) return -1;
        const char type = in_[at];
        const std::string_view body(in_.data() + at + 1, eol - at - 1);
        --depth_items;
        at = eol + 2;
        switch (type) {
            case '+':
            case ':': break;
            case '-': ok = false; break;
            case '$': {
                const long n = std::strtol(std::string(body).c_str(), nullptr, 10);
                if (n < 0) break;
                if (in_.size() < at + static_cast<std::size_t>(n) + 2) return 0;
                at += static_cast<std::size_t>(n) + 2;
                break;
            }
            case '*': {
                const long n = std::strtol(std::string(body).c_str(), nullptr, 10);
                if (n > 0) depth_items += static_cast<int>(n);
                break;
            }
            default: return -1;
        }
    }
    if (!ok) last_error_ = in_.substr(1, in_.find("\r\n") - 1);
    in_.erase(0, at);
    return 1;
}

namespace {

// Redis's error replies that mean "try again later" (server.c: LOADING while the dataset is
// read at start, BUSY while a script runs, TRYAGAIN / MASTERDOWN / CLUSTERDOWN in failover).
bool not_yet(const std::string& error) {
    for (const char* prefix : {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"}) {
        if (error.rfind(prefix, 0) == 0) return true;
    }
    return false;
}

}  // namespace

bool RedisOutput::read_some() {
    char buf[16384];
    for (;;) {
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            in_.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        disconnect(std::string("connection to ") + cfg_.server + (n == 0 ? " closed by the server" : std::string(": ") + std::strerror(errno)));
        return false;
    }
    for (;;) {
        bool ok = true;
        const int r = take_reply(ok);
        if (r == 0) break;
        // A server that is starting (LOADING its append-only file) or busy answers with an
        // error that says "not yet", not "never": the line goes again once it is ready, as
        // every line it did not acknowledge does after a reconnect.
        if (r > 0 && !ok && not_yet(last_error_)) {
            disconnect(cfg_.server + " is not ready: " + last_error_.substr(0, last_error_.find(' ')));
            return false;
        }
        if (r > 0 && auth_sent_ && !authenticated_) {
            if (!ok) {
                disconnect("authentication refused by " + cfg_.server + ": " + last_error_);
                return false;
            }
            authenticated_ = true;
            last_logged_.clear();
            spdlog::info("redis: connected to {} and authenticated", cfg_.server);
            fill_output();  // the lines that waited for it
            if (!send_some()) return false;
            continue;
        }
        if (r < 0 || inflight_.empty()) {
            disconnect("unexpected reply from " + cfg_.server);
            return false;
        }
        inflight_.pop_front();
        if (ok) {
            ++stats_.delivered;
        } else {
            ++stats_.refused;
            spdlog::warn("redis: {} refused a line: {}", cfg_.server, last_error_);
        }
    }
    return true;
}

void RedisOutput::poll() {
    if (cfg_.server.empty()) return;
    if (state_ == State::kDown) connect();
    if (state_ == State::kConnecting) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, 0) <= 0) return;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            disconnect(std::string("connect to ") + cfg_.server + ": " + std::strerror(err));
            return;
        }
        connected();
    }
    if (state_ == State::kConnected) {
        fill_output();
        if (send_some()) read_some();
    }
}

bool RedisOutput::flush(std::uint32_t timeout_ms) {
    const std::uint64_t until = now_ms() + timeout_ms;
    while (!waiting_.empty() || !inflight_.empty()) {
        poll();
        if (waiting_.empty() && inflight_.empty()) break;
        if (now_ms() >= until) {
            const std::size_t left = waiting_.size() + inflight_.size();
            stats_.dropped += left;
            waiting_.clear();
            inflight_.clear();
            spdlog::warn("redis: {} line(s) not acknowledged by {} within {} ms: counted as dropped ({})", left,
                         cfg_.server, timeout_ms, last_error_);
            return false;
        }
        if (fd_ >= 0) {
            pollfd p{fd_, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0};
            ::poll(&p, 1, 10);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    return true;
}

}  // namespace tcpsleuth
