#include "pcap_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "dataplane/packet/byte_order.h"
#include "dataplane/pcap/stream_reader.h"

namespace tcpsleuth {

bool link_type_from_pcap(std::uint32_t linktype, LinkType& out) noexcept {
    switch (linktype) {
        case 1: out = LinkType::kEthernet; return true;
        case 101:               // LINKTYPE_RAW
        case 12:                // DLT_RAW on most systems
        case 14: out = LinkType::kRaw; return true;  // DLT_RAW on OpenBSD
        case 113: out = LinkType::kLinuxSll; return true;
        case 276: out = LinkType::kLinuxSll2; return true;
        case 228: out = LinkType::kIpv4; return true;
        case 229: out = LinkType::kIpv6; return true;
        case 0:                 // DLT_NULL
        case 108: out = LinkType::kNull; return true;  // DLT_LOOP: the same, network order
        default: return false;
    }
}

namespace {

constexpr std::uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr std::uint32_t kMagicNano = 0xa1b23c4d;
constexpr std::size_t kFileHeaderLen = 24;
constexpr std::size_t kRecordHeaderLen = 16;
// No sane capture has records this large (libpcap's own limit is 256 KiB).
constexpr std::uint32_t kMaxRecord = 256 * 1024 * 4;

std::string errno_text() { return std::strerror(errno); }

// Classic pcap, memory-mapped.
class MappedPcapReader final : public CaptureReader {
public:
    MappedPcapReader(const std::uint8_t* base, std::size_t size, bool swapped, bool nano, LinkType link)
        : base_(base), size_(size), swapped_(swapped), nano_(nano) {
        link_ = link;
        pos_ = kFileHeaderLen;
        madvise(const_cast<std::uint8_t*>(base), size, MADV_SEQUENTIAL);
    }
    ~MappedPcapReader() override { munmap(const_cast<std::uint8_t*>(base_), size_); }

    std::uint64_t bytes_read() const noexcept override { return pos_; }

    std::size_t next_burst(RawPacket* out, std::size_t n) override {
        release_consumed();
        std::size_t got = 0;
        while (got < n && pos_ < size_) {
            if (size_ - pos_ < kRecordHeaderLen) {
                warning_ = "truncated record header at byte " + std::to_string(pos_);
                pos_ = size_;
                break;
            }
            const std::uint8_t* h = base_ + pos_;
            const std::uint32_t sec = load32(h);
            const std::uint32_t frac = load32(h + 4);
            const std::uint32_t caplen = load32(h + 8);
            const std::uint32_t wirelen = load32(h + 12);
            if (caplen > kMaxRecord) {
                warning_ = "corrupt record header at byte " + std::to_string(pos_) + " (captured length " +
                           std::to_string(caplen) + ")";
                pos_ = size_;
                break;
            }
            if (size_ - pos_ - kRecordHeaderLen < caplen) {
                warning_ = "last record truncated at byte " + std::to_string(pos_);
                pos_ = size_;
                break;
            }
            RawPacket& p = out[got++];
            p.data = h + kRecordHeaderLen;
            p.cap_len = caplen;
            p.wire_len = wirelen < caplen ? caplen : wirelen;
            p.ts_ns = sec * 1'000'000'000ull + (nano_ ? frac : frac * 1000ull);
            p.number = next_number_++;
            pos_ += kRecordHeaderLen + caplen;
        }
        return got;
    }

private:
    // The previous burst has been processed when the next is asked for, so every page
    // before pos_ is done with. Dropping them from the mapping keeps the resident set small
    // on multi-gigabyte captures (the pages stay in the page cache).
    void release_consumed() noexcept {
        constexpr std::size_t kChunk = 4u << 20;  // a madvise per 4 MB costs nothing measurable
        const std::size_t done = pos_ & ~(std::size_t{4096} - 1);
        if (done - released_ < kChunk) return;
        madvise(const_cast<std::uint8_t*>(base_) + released_, done - released_, MADV_DONTNEED);
        released_ = done;
    }

    std::uint32_t load32(const std::uint8_t* p) const noexcept {
        const std::uint32_t v = load_le32(p);
        return swapped_ ? __builtin_bswap32(v) : v;
    }

    const std::uint8_t* base_;
    std::size_t size_;
    std::size_t pos_;
    std::size_t released_ = 0;
    bool swapped_;
    bool nano_;
};

}  // namespace

std::unique_ptr<CaptureReader> CaptureReader::open(const std::string& path, std::string& error) {
    // A classic pcap in a regular file is mapped: no copy, no read calls. Anything else (a
    // pipe, pcapng, a compressed file) is read in order through a buffer.
    if (path != "-") {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            error = path + ": cannot open: " + errno_text();
            return nullptr;
        }
        struct stat st {};
        std::uint8_t head[kFileHeaderLen] = {};
        const bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        const ssize_t got = regular ? pread(fd, head, sizeof head, 0) : 0;
        const std::uint32_t magic = load_le32(head);
        const bool micro = magic == kMagicMicro || magic == __builtin_bswap32(kMagicMicro);
        const bool nano = magic == kMagicNano || magic == __builtin_bswap32(kMagicNano);
        if (regular && (micro || nano) && got == static_cast<ssize_t>(kFileHeaderLen)) {
            const bool swapped = magic == __builtin_bswap32(kMagicMicro) || magic == __builtin_bswap32(kMagicNano);
            std::uint32_t linktype = load_le32(head + 20);
            if (swapped) linktype = __builtin_bswap32(linktype);
            LinkType link;
            // The low 16 bits are the link type; the upper bits may carry FCS information.
            if (!link_type_from_pcap(linktype & 0xffff, link)) {
                error = path + ": unsupported link type " + std::to_string(linktype & 0xffff);
                ::close(fd);
                return nullptr;
            }
            const std::size_t size = static_cast<std::size_t>(st.st_size);
            void* base = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
            ::close(fd);
            if (base == MAP_FAILED) {
                error = path + ": cannot map: " + errno_text();
                return nullptr;
            }
            auto reader = std::make_unique<MappedPcapReader>(static_cast<const std::uint8_t*>(base), size, swapped, nano, link);
            reader->file_bytes_ = size;
            return reader;
        }
        ::close(fd);
    }
    std::unique_ptr<ByteSource> src = ByteSource::open(path, error);
    if (!src) return nullptr;
    return open_stream_reader(std::move(src), path == "-" ? "standard input" : path, error);
}

}  // namespace tcpsleuth
