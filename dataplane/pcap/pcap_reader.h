#pragma once
// Capture input for `tcpsleuth analyze`. A classic pcap file (micro- or nanosecond, either
// byte order) is mapped and walked in place, without copying a packet; pcapng, pipes and
// compressed files are read sequentially through one buffer (stream_reader.cc).

#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/packet/packet_view.h"
#include "inspectors/flow/pipeline.h"
#include "inspectors/output/packet_origins.h"

namespace tcpsleuth {

class CaptureReader {
public:
    virtual ~CaptureReader() = default;

    // Opens `path` ("-": standard input; gzip, zstd and lz4 recognised by content); on failure
    // returns nullptr and sets `error` to one line naming the reason.
    static std::unique_ptr<CaptureReader> open(const std::string& path, std::string& error);

    // Fills up to `n` packets (numbered from 1 across the input). Returns 0 at the end.
    // The data pointers stay valid until the next call.
    virtual std::size_t next_burst(RawPacket* out, std::size_t n) = 0;

    // How far through the file (progress bar, `stats` in analyze --control).
    virtual std::uint64_t bytes_read() const noexcept = 0;
    std::uint64_t file_bytes() const noexcept { return file_bytes_; }

    // The link type of the last burst (pcapng interfaces may differ; a burst has one).
    LinkType link() const noexcept { return link_; }
    // Where each packet came from when several inputs were merged; null for one input.
    virtual const PacketOrigins* origins() const noexcept { return nullptr; }
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
