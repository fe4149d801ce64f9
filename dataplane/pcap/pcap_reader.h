#pragma once
// Capture file input for `tcpsleuth analyze`. Classic pcap (micro- or nanosecond, either
// byte order) is mapped and walked in place, without copying a packet; pcapng goes through
// libpcap, which copies each record into a burst buffer owned by the reader.

#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/packet/packet_view.h"
#include "inspectors/flow/pipeline.h"

namespace tcpsleuth {

class CaptureReader {
public:
    virtual ~CaptureReader() = default;

    // Opens `path`; on failure returns nullptr and sets `error` to one line naming the reason.
    static std::unique_ptr<CaptureReader> open(const std::string& path, std::string& error);

    // Fills up to `n` packets (numbered from 1 across the file). Returns 0 at the end.
    // The data pointers stay valid until the next call.
    virtual std::size_t next_burst(RawPacket* out, std::size_t n) = 0;

    // How far through the file (progress bar, `stats` in analyze --control).
    virtual std::uint64_t bytes_read() const noexcept = 0;
    std::uint64_t file_bytes() const noexcept { return file_bytes_; }

    LinkType link() const noexcept { return link_; }
    // Non-empty when reading stopped early: a truncated last record, a corrupt header.
    const std::string& warning() const noexcept { return warning_; }

protected:
    LinkType link_ = LinkType::kEthernet;
    std::uint64_t next_number_ = 1;
    std::uint64_t file_bytes_ = 0;
    std::string warning_;
};

// Maps a pcap LINKTYPE_ / libpcap DLT_ value to what we decode; false if unsupported.
bool link_type_from_pcap(std::uint32_t linktype, LinkType& out) noexcept;

}  // namespace tcpsleuth
