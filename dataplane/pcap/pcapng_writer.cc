#include "dataplane/pcap/pcapng_writer.h"

#include <cerrno>
#include <cstring>

#include "dataplane/pcap/pcapng_format.h"

namespace tcpsleuth {
namespace {

using namespace pcapng;

constexpr std::uint32_t kSnapLen = 262144;

void put_bytes(std::vector<std::uint8_t>& b, const void* p, std::size_t len) {
    const std::size_t at = b.size();
    b.resize(at + len);
    if (len != 0) std::memcpy(b.data() + at, p, len);
}
void put16(std::vector<std::uint8_t>& b, std::uint16_t v) { put_bytes(b, &v, sizeof v); }
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) { put_bytes(b, &v, sizeof v); }
void pad4(std::vector<std::uint8_t>& b) {
    while (b.size() % 4 != 0) b.push_back(0);
}
void put_option(std::vector<std::uint8_t>& b, std::uint16_t code, const void* value, std::size_t len) {
    // An option's length field is 16 bits; a longer comment is cut, not refused.
    if (len > 0xFFF0) len = 0xFFF0;
    put16(b, code);
    put16(b, static_cast<std::uint16_t>(len));
    put_bytes(b, value, len);
    pad4(b);
}
void end_options(std::vector<std::uint8_t>& b) {
    put16(b, kOptEnd);
    put16(b, 0);
}

}  // namespace

PcapngWriter::~PcapngWriter() {
    if (out_ != nullptr) std::fclose(out_);
}

bool PcapngWriter::open(const std::string& path, std::string_view comment, std::string& error) {
    out_ = std::fopen(path.c_str(), "wb");
    if (out_ == nullptr) {
        error = path + ": cannot create: " + std::strerror(errno);
        return false;
    }
    path_ = path;
    body_.clear();
    put32(body_, kByteOrderMagic);
    put16(body_, 1);  // major version
    put16(body_, 0);  // minor version
    put32(body_, 0xFFFFFFFF);  // section length unknown (64-bit -1)
    put32(body_, 0xFFFFFFFF);
    if (!comment.empty()) put_option(body_, kOptComment, comment.data(), comment.size());
    constexpr std::string_view kAppl = "tcpsleuth " TCPSLEUTH_VERSION;
    put_option(body_, kShbUserAppl, kAppl.data(), kAppl.size());
    end_options(body_);
    block(kBlockShb, body_);
    return true;
}

std::uint32_t PcapngWriter::interface_for(LinkType link, std::string_view name) {
    for (std::uint32_t i = 0; i < interfaces_.size(); ++i) {
        if (interfaces_[i].first == link && interfaces_[i].second == name) return i;
    }
    body_.clear();
    put16(body_, static_cast<std::uint16_t>(link));  // LinkType values are LINKTYPE_ numbers
    put16(body_, 0);
    put32(body_, kSnapLen);
    const std::uint8_t nanoseconds = 9;  // if_tsresol: 10^-9
    if (!name.empty()) put_option(body_, kIfName, name.data(), name.size());
    put_option(body_, kIfTsresol, &nanoseconds, 1);
    end_options(body_);
    block(kBlockIdb, body_);
    interfaces_.emplace_back(link, std::string(name));
    return static_cast<std::uint32_t>(interfaces_.size() - 1);
}

void PcapngWriter::packet(LinkType link, std::uint64_t ts_ns, const std::uint8_t* data, std::uint32_t cap_len,
                          std::uint32_t wire_len, std::string_view comment, std::string_view interface) {
    if (out_ == nullptr) return;
    const std::uint32_t iface = interface_for(link, interface);
    body_.clear();
    put32(body_, iface);
    put32(body_, static_cast<std::uint32_t>(ts_ns >> 32));
    put32(body_, static_cast<std::uint32_t>(ts_ns));
    put32(body_, cap_len);
    put32(body_, wire_len < cap_len ? cap_len : wire_len);
    put_bytes(body_, data, cap_len);
    pad4(body_);
    if (!comment.empty()) {
        put_option(body_, kOptComment, comment.data(), comment.size());
        end_options(body_);
    }
    block(kBlockEpb, body_);
}

void PcapngWriter::block(std::uint32_t type, const std::vector<std::uint8_t>& body) {
    const auto total = static_cast<std::uint32_t>(body.size() + 12);  // type, two lengths
    std::fwrite(&type, 4, 1, out_);
    std::fwrite(&total, 4, 1, out_);
    std::fwrite(body.data(), 1, body.size(), out_);
    std::fwrite(&total, 4, 1, out_);
}

bool PcapngWriter::close(std::string& error) {
    if (out_ == nullptr) return true;
    const bool failed = std::ferror(out_) != 0;
    const bool closed = std::fclose(out_) == 0;
    out_ = nullptr;
    if (failed || !closed) {
        error = path_ + ": writing failed";
        return false;
    }
    return true;
}

}  // namespace tcpsleuth
