#include "service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace tcpsleuth {

ServiceNotify::ServiceNotify() {
    const char* socket_path = std::getenv("NOTIFY_SOCKET");
    if (socket_path == nullptr || socket_path[0] == '\0' || std::strlen(socket_path) >= sizeof(sockaddr_un{}.sun_path)) return;
    if (socket_path[0] != '/' && socket_path[0] != '@') return;
    path_ = socket_path;
    if (path_[0] == '@') path_[0] = '\0';
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const char* usec = std::getenv("WATCHDOG_USEC");
    const char* pid = std::getenv("WATCHDOG_PID");
    if (usec != nullptr && (pid == nullptr || std::strtoll(pid, nullptr, 10) == ::getpid())) {
        watchdog_ = std::chrono::microseconds(std::strtoll(usec, nullptr, 10));
    }
}

ServiceNotify::~ServiceNotify() {
    if (fd_ >= 0) ::close(fd_);
}

bool ServiceNotify::send(std::string_view state) {
    if (fd_ < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
    return ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len) ==
           static_cast<ssize_t>(state.size());
}

void ServiceNotify::watchdog_tick() {
    if (fd_ < 0 || watchdog_.count() <= 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ping_ < watchdog_ / 2) return;
    last_ping_ = now;
    send("WATCHDOG=1");
}

}  // namespace tcpsleuth
