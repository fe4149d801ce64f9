#pragma once
// Telling a supervisor how the daemon is doing, the systemd way (sd_notify(3)), without
// libsystemd: a datagram of "KEY=value" lines to the Unix socket named by $NOTIFY_SOCKET
// (a leading '@' names an abstract socket). READY=1 once the ports are up and the workers
// run, RELOADING=1 / READY=1 around a reload, STOPPING=1 when the run ends, WATCHDOG=1
// every half of $WATCHDOG_USEC while the main loop turns (systemd restarts a daemon whose
// pings stop), STATUS= a line for `systemctl status`. Without $NOTIFY_SOCKET (not started
// by systemd with Type=notify) everything here does nothing.

#include <chrono>
#include <string>
#include <string_view>

namespace tcpsleuth {

class ServiceNotify {
public:
    // Reads $NOTIFY_SOCKET and $WATCHDOG_USEC (honoured only when $WATCHDOG_PID is unset or
    // names this process, as sd_watchdog_enabled(3) does).
    ServiceNotify();
    ~ServiceNotify();
    ServiceNotify(const ServiceNotify&) = delete;
    ServiceNotify& operator=(const ServiceNotify&) = delete;

    bool enabled() const noexcept { return fd_ >= 0; }
    // Sends `state` ("READY=1\nSTATUS=..."); false when it could not be sent.
    bool send(std::string_view state);
    // From the main loop: a WATCHDOG=1 when half the interval has passed since the last.
    void watchdog_tick();

private:
    int fd_ = -1;
    std::string path_;  // the socket's address, '\0' first for an abstract one
    std::chrono::microseconds watchdog_{0};
    std::chrono::steady_clock::time_point last_ping_{};
};

}  // namespace tcpsleuth
