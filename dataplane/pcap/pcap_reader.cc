#include "pcap_reader.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "dataplane/packet/byte_order.h"

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
constexpr std::uint32_t kMagicPcapng = 0x0a0d0d0a;
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

// pcapng (and anything else libpcap reads): records are copied into `arena_`.
class LibpcapReader final : public CaptureReader {
public:
    LibpcapReader(pcap_t* p, LinkType link) : pcap_(p) {
        link_ = link;
        const int snap = pcap_snapshot(p);
        slot_ = static_cast<std::size_t>(snap > 0 && snap < static_cast<int>(kMaxRecord) ? snap : 262144);
        arena_.resize(slot_ * Pipeline::kBurst);
    }
    ~LibpcapReader() override { pcap_close(pcap_); }

    std::uint64_t bytes_read() const noexcept override {
        const long at = std::ftell(pcap_file(pcap_));
        return at > 0 ? static_cast<std::uint64_t>(at) : 0;
    }

    std::size_t next_burst(RawPacket* out, std::size_t n) override {
        std::size_t got = 0;
        if (n > Pipeline::kBurst) n = Pipeline::kBurst;
        while (got < n) {
            pcap_pkthdr* hdr = nullptr;
            const u_char* data = nullptr;
            const int rc = pcap_next_ex(pcap_, &hdr, &data);
            if (rc == PCAP_ERROR_BREAK) break;  // end of file
            if (rc != 1) {
                warning_ = std::string("read stopped: ") + pcap_geterr(pcap_);
                break;
            }
            const std::size_t len = hdr->caplen < slot_ ? hdr->caplen : slot_;
            std::uint8_t* dst = arena_.data() + got * slot_;
            std::memcpy(dst, data, len);
            RawPacket& p = out[got++];
            p.data = dst;
            p.cap_len = static_cast<std::uint32_t>(len);
            p.wire_len = hdr->len < len ? static_cast<std::uint32_t>(len) : hdr->len;
            // Opened with nanosecond precision: tv_usec holds nanoseconds.
            p.ts_ns = static_cast<std::uint64_t>(hdr->ts.tv_sec) * 1'000'000'000ull +
                      static_cast<std::uint64_t>(hdr->ts.tv_usec);
            p.number = next_number_++;
        }
        return got;
    }

private:
    pcap_t* pcap_;  // owns the FILE it was opened on
    std::size_t slot_;
    std::vector<std::uint8_t> arena_;
};

}  // namespace

std::unique_ptr<CaptureReader> CaptureReader::open(const std::string& path, std::string& error) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = path + ": cannot open: " + errno_text();
        return nullptr;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        error = path + ": not a regular file";
        ::close(fd);
        return nullptr;
    }
    const std::size_t size = static_cast<std::size_t>(st.st_size);
    std::uint8_t head[kFileHeaderLen] = {};
    const ssize_t got = pread(fd, head, sizeof head, 0);
    if (got < 4) {
        error = path + ": not a capture file (" + std::to_string(got < 0 ? 0 : got) + " bytes)";
        ::close(fd);
        return nullptr;
    }
    const std::uint32_t magic = load_le32(head);
    const bool micro = magic == kMagicMicro || magic == __builtin_bswap32(kMagicMicro);
    const bool nano = magic == kMagicNano || magic == __builtin_bswap32(kMagicNano);
    if (micro || nano) {
        if (static_cast<std::size_t>(got) < kFileHeaderLen) {
            error = path + ": pcap file header truncated";
            ::close(fd);
            return nullptr;
        }
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
    if (magic != kMagicPcapng) {
        error = path + ": not a pcap or pcapng file (unknown magic number)";
        ::close(fd);
        return nullptr;
    }
    FILE* f = fdopen(fd, "rb");
    if (f == nullptr) {
        error = path + ": cannot open: " + errno_text();
        ::close(fd);
        return nullptr;
    }
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (p == nullptr) {
        error = path + ": " + errbuf;
        std::fclose(f);
        return nullptr;
    }
    LinkType link;
    const int dlt = pcap_datalink(p);
    if (!link_type_from_pcap(static_cast<std::uint32_t>(dlt), link)) {
        const char* name = pcap_datalink_val_to_name(dlt);
        error = path + ": unsupported link type " + std::to_string(dlt) + (name ? std::string(" (") + name + ")" : "");
        pcap_close(p);
        return nullptr;
    }
    auto reader = std::make_unique<LibpcapReader>(p, link);
    reader->file_bytes_ = size;
    return reader;
}

}  // namespace tcpsleuth
