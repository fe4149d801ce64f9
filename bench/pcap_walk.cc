// pcap-walk FILE: the ceiling for reading a capture. Maps the file and steps from record
// header to record header, adding up the captured lengths, and nothing else: no parsing, no
// flow state. `tcpsleuth analyze` is measured against this on the same file.
//
// Prints "records bytes". Classic pcap in either byte order (microsecond or nanosecond);
// pcapng is not walked (the generator writes classic pcap).

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: pcap-walk FILE.pcap\n");
        return 2;
    }
    const int fd = open(argv[1], O_RDONLY);
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) {
        std::perror(argv[1]);
        return 1;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size < 24) {
        std::fprintf(stderr, "%s: too short for a pcap header\n", argv[1]);
        return 1;
    }
    auto* base = static_cast<const std::uint8_t*>(mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0));
    if (base == MAP_FAILED) {
        std::perror("mmap");
        return 1;
    }
    madvise(const_cast<std::uint8_t*>(base), size, MADV_SEQUENTIAL);
    std::uint32_t magic;
    std::memcpy(&magic, base, 4);
    const bool swapped = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
    if (!swapped && magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
        std::fprintf(stderr, "%s: not a classic pcap file\n", argv[1]);
        return 1;
    }
    std::uint64_t records = 0, bytes = 0;
    std::size_t pos = 24;
    while (pos + 16 <= size) {
        std::uint32_t incl;
        std::memcpy(&incl, base + pos + 8, 4);
        if (swapped) incl = __builtin_bswap32(incl);
        pos += 16 + incl;
        if (pos > size) break;  // a truncated last record is not counted
        ++records;
        bytes += incl;
    }
    std::printf("%llu %llu\n", static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes));
    munmap(const_cast<std::uint8_t*>(base), size);
    close(fd);
    return 0;
}
