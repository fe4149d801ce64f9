// libFuzzer target: the capture readers (classic pcap mapped, pcap and pcapng read as a
// stream, gzip, zstd and lz4 recognised by content, two files merged by timestamp) on any
// bytes. Every packet a reader hands out must lie inside memory it owns (ASan checks each
// byte) and parse without harm.
//
// Input layout: byte 0 picks the path: 0 a regular file (pcap mapped, others streamed),
// 1 a pipe (the standard-input path: no size, bytes in pieces), 2 two regular files merged
// (a u16 says where the rest is split). The rest is the capture.

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dataplane/packet/parse.h"
#include "dataplane/pcap/merge_reader.h"
#include "dataplane/pcap/pcap_reader.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace tcpsleuth;

// A file descriptor closed when it goes out of scope.
struct OwnedFd {
    int fd = -1;
    explicit OwnedFd(int f) : fd(f) {}
    ~OwnedFd() {
        if (fd >= 0) ::close(fd);
    }
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    std::string path() const { return "/proc/self/fd/" + std::to_string(fd); }
};

bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t k = ::write(fd, bytes.data(), bytes.size());
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(k));
    }
    return true;
}

std::unique_ptr<OwnedFd> memory_file(std::string_view bytes) {
    auto f = std::make_unique<OwnedFd>(memfd_create("fuzz-capture", MFD_CLOEXEC));
    if (f->fd < 0 || !write_all(f->fd, bytes)) fuzz::fail("memfd", "cannot make an in-memory file");
    return f;
}

volatile std::uint8_t g_sink;

// Reads the whole input: every byte of every packet touched, every frame parsed.
void read_all(CaptureReader& reader) {
    RawPacket burst[32];
    std::uint64_t expected_number = 1;
    for (;;) {
        const std::size_t n = reader.next_burst(burst, 32);
        if (n == 0) break;
        for (std::size_t i = 0; i < n; ++i) {
            const RawPacket& p = burst[i];
            std::uint8_t x = 0;
            for (std::uint32_t b = 0; b < p.cap_len; ++b) x ^= p.data[b];
            g_sink = x;
            if (p.number != expected_number++) fuzz::fail("packets out of number", std::to_string(p.number));
            PacketView v;
            (void)parse_packet(p.data, p.cap_len, reader.link(), v);
        }
    }
    (void)reader.bytes_read();
    (void)reader.warning();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool sigpipe_ignored = [] { return signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
    (void)sigpipe_ignored;
    fuzz::FuzzInput in(data, size);
    const unsigned mode = in.below_or_equal(2);
    std::string error;
    if (mode == 0) {
        const auto file = memory_file(in.rest());
        if (auto reader = CaptureReader::open(file->path(), error)) read_all(*reader);
    } else if (mode == 1) {
        int ends[2];
        if (pipe2(ends, O_CLOEXEC) != 0) fuzz::fail("pipe", "cannot make a pipe");
        auto read_end = std::make_unique<OwnedFd>(ends[0]);
        const std::string_view bytes = in.rest();
        std::thread writer([fd = ends[1], bytes] {
            write_all(fd, bytes);  // a reader that stops early leaves it with EPIPE
            ::close(fd);
        });
        {
            std::unique_ptr<CaptureReader> reader = CaptureReader::open(read_end->path(), error);
            read_end.reset();  // the reader holds its own descriptor now
            if (reader) read_all(*reader);
        }
        writer.join();
    } else {
        const std::size_t split = in.integer<std::uint16_t>();
        const std::string_view first = in.bytes(split);
        const std::string_view second = in.rest();
        const auto a = memory_file(first);
        const auto b = memory_file(second);
        if (auto reader = open_inputs({a->path(), b->path()}, error)) read_all(*reader);
    }
    return 0;
}
