#pragma once
// The lab's NFQUEUE programs (seqrand, rstrace) share this loop: bind QUEUE, say "ready" on
// stdout (the lab waits for it before sending traffic), hand every queued packet to the
// callback for `seconds`, then unbind. Every packet gets a verdict from the callback.

#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>

namespace lab {

inline int serve_queue(const char* name, int queue, int seconds, nfq_callback* callback, void* data) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    nfq_handle* h = nfq_open();
    if (h == nullptr) {
        std::fprintf(stderr, "%s: ", name);
        std::perror("nfq_open");
        return 1;
    }
    nfq_q_handle* qh = nfq_create_queue(h, static_cast<std::uint16_t>(queue), callback, data);
    if (qh == nullptr || nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0) {
        std::fprintf(stderr, "%s: ", name);
        std::perror("queue");
        return 1;
    }
    std::printf("ready\n");
    std::fflush(stdout);
    static char buf[131072] __attribute__((aligned));
    pollfd pfd{nfq_fd(h), POLLIN, 0};
    while (std::chrono::steady_clock::now() < deadline) {
        if (poll(&pfd, 1, 200) <= 0) continue;
        const ssize_t n = recv(pfd.fd, buf, sizeof buf, 0);
        if (n >= 0) nfq_handle_packet(h, buf, static_cast<int>(n));
    }
    nfq_destroy_queue(qh);
    nfq_close(h);
    return 0;
}

}  // namespace lab
