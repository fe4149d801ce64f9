#pragma once
// A pcapng file (draft-ietf-opsawg-pcapng): one section, an interface per link type used,
// enhanced packet blocks with nanosecond timestamps and, where given, a comment
// (opt_comment) that Wireshark shows as the packet's comment. Written in host byte order,
// which the section header's byte-order magic declares.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/packet/packet_view.h"

namespace tcpsleuth {

class PcapngWriter {
public:
    PcapngWriter() = default;
    ~PcapngWriter();
    PcapngWriter(const PcapngWriter&) = delete;
    PcapngWriter& operator=(const PcapngWriter&) = delete;

    // Creates `path` and writes the section header; `comment` describes the whole file
    // (shb_comment). False with `error` set when the file cannot be created.
    bool open(const std::string& path, std::string_view comment, std::string& error);

    // One packet of link type `link`; the interface is declared the first time a type (and
    // `interface` name, if_name: compare writes each capture point as its own) is used.
    // `comment` empty: none.
    void packet(LinkType link, std::uint64_t ts_ns, const std::uint8_t* data, std::uint32_t cap_len,
                std::uint32_t wire_len, std::string_view comment, std::string_view interface = {});

    // Flushes and closes; false with `error` set when any write failed.
    bool close(std::string& error);

private:
    std::uint32_t interface_for(LinkType link, std::string_view name);
    void block(std::uint32_t type, const std::vector<std::uint8_t>& body);

    std::FILE* out_ = nullptr;
    std::string path_;
    std::vector<std::pair<LinkType, std::string>> interfaces_;  // index = interface id
    std::vector<std::uint8_t> body_;    // reused for each block
};

}  // namespace tcpsleuth
