// pcap and pcapng read sequentially from a ByteSource (a pipe, a compressed file, or a
// pcapng file): records are parsed in place in one buffer, which moves only between bursts,
// so a burst's data pointers stay valid until the next call. pcapng is read here rather
// than through libpcap because a file may hold interfaces of several link types and time
// resolutions (pcapng spec, draft-ietf-opsawg-pcapng sections 4.2 and 4.3), which libpcap
// refuses.

#include "stream_reader.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "dataplane/packet/byte_order.h"
#include "dataplane/pcap/pcapng_format.h"

namespace tcpsleuth {
namespace {

constexpr std::uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr std::uint32_t kMagicNano = 0xa1b23c4d;
using namespace pcapng;
constexpr std::uint32_t kMaxRecord = 256 * 1024 * 4;     // as the mapped reader
constexpr std::size_t kBufferBytes = 8u << 20;           // several bursts of the largest records
constexpr std::size_t kReadChunk = 1u << 20;

struct Interface {
    LinkType link = LinkType::kEthernet;
    bool supported = false;
    std::uint32_t snaplen = 0;
    // Timestamp units per second, as 10^k or 2^k (if_tsresol, option 9), and a whole-second
    // offset (if_tsoffset, option 14).
    bool binary = false;
    std::uint8_t exponent = 6;
    std::int64_t offset_s = 0;
    std::uint32_t link_raw = 0;

    std::uint64_t to_ns(std::uint64_t units) const noexcept {
        std::uint64_t ns;
        if (binary) {
            __extension__ typedef unsigned __int128 u128;
            ns = exponent >= 64 ? 0 : static_cast<std::uint64_t>((static_cast<u128>(units) * 1'000'000'000u) >> exponent);
        } else if (exponent <= 9) {
            std::uint64_t m = 1;
            for (unsigned i = exponent; i < 9; ++i) m *= 10;
            ns = units * m;
        } else {
            std::uint64_t d = 1;
            for (unsigned i = 9; i < exponent && i < 28; ++i) d *= 10;
            ns = units / d;
        }
        return ns + static_cast<std::uint64_t>(offset_s * 1'000'000'000);
    }
};

class StreamReader final : public CaptureReader {
public:
    StreamReader(std::unique_ptr<ByteSource> src, std::string name) : src_(std::move(src)), name_(std::move(name)) {
        buf_.resize(kBufferBytes);
        file_bytes_ = src_->size();
    }

    // Reads the file header; false with `error` set when this is not a capture.
    bool start(std::string& error) {
        if (!fill(4)) {
            error = name_ + ": " + (src_->error().empty() ? "not a capture file (empty)" : src_->error());
            return false;
        }
        const std::uint32_t magic = load_le32(at(0));
        if (magic == kBlockShb) {
            pcapng_ = true;
            return true;  // the section header is read as the first block
        }
        const bool micro = magic == kMagicMicro || magic == __builtin_bswap32(kMagicMicro);
        const bool nano = magic == kMagicNano || magic == __builtin_bswap32(kMagicNano);
        if (!micro && !nano) {
            error = name_ + ": not a pcap or pcapng file (unknown magic number" +
                    (src_->compression()[0] != '\0' ? std::string(" after ") + src_->compression() + " decompression" : "") + ")";
            return false;
        }
        if (!fill(24)) {
            error = name_ + ": pcap file header truncated";
            return false;
        }
        swapped_ = magic == __builtin_bswap32(kMagicMicro) || magic == __builtin_bswap32(kMagicNano);
        Interface ifc;
        ifc.exponent = nano ? 9 : 6;
        ifc.link_raw = u32(at(20)) & 0xffff;  // upper bits may carry FCS information
        ifc.supported = link_type_from_pcap(ifc.link_raw, ifc.link);
        if (!ifc.supported) {
            error = name_ + ": unsupported link type " + std::to_string(ifc.link_raw);
            return false;
        }
        link_ = ifc.link;
        interfaces_.push_back(ifc);
        pos_ += 24;
        return true;
    }

    std::uint64_t bytes_read() const noexcept override { return src_->consumed(); }

    std::size_t next_burst(RawPacket* out, std::size_t n) override {
        compact();
        std::size_t got = 0;
        bool have_link = false;
        while (got < n && !done_) {
            Record r;
            const Step s = pcapng_ ? next_block(r) : next_record(r);
            if (s == Step::kStop) {
                if (got != 0) break;  // room is made by moving bytes this burst's packets point into
                compact();
                continue;
            }
            if (s == Step::kEnd) {
                done_ = true;
                break;
            }
            if (s == Step::kSkip) continue;
            const Interface& ifc = interfaces_[r.interface];
            if (!ifc.supported) {
                ++next_number_;
                ++skipped_;
                continue;
            }
            // A burst has one link type: the pipeline decodes it as one.
            if (have_link && ifc.link != link_) {
                pos_ = r.start;  // this record opens the next burst
                break;
            }
            have_link = true;
            link_ = ifc.link;
            RawPacket& p = out[got++];
            p.data = r.data;
            p.cap_len = r.cap_len;
            p.wire_len = std::max(r.wire_len, r.cap_len);
            p.ts_ns = ifc.to_ns(r.ts_units);
            p.number = next_number_++;
            p.steer = 0;
        }
        if (done_ && skipped_ != 0 && warning_.empty()) {
            warning_ = std::to_string(skipped_) + " packets on interfaces of a link type tcpsleuth does not decode were skipped";
        }
        return got;
    }

private:
    enum class Step { kPacket, kSkip, kStop, kEnd };
    struct Record {
        const std::uint8_t* data = nullptr;
        std::uint32_t cap_len = 0, wire_len = 0, interface = 0;
        std::uint64_t ts_units = 0;
        std::size_t start = 0;
    };

    const std::uint8_t* at(std::size_t off) const noexcept { return buf_.data() + pos_ + off; }
    std::size_t available() const noexcept { return end_ - pos_; }
    std::uint32_t u32(const std::uint8_t* p) const noexcept {
        const std::uint32_t v = load_le32(p);
        return swapped_ ? __builtin_bswap32(v) : v;
    }
    std::uint16_t u16(const std::uint8_t* p) const noexcept {
        const std::uint16_t v = static_cast<std::uint16_t>(p[0] | p[1] << 8);
        return swapped_ ? static_cast<std::uint16_t>(v >> 8 | v << 8) : v;
    }

    // Moves the unread bytes to the front: only between bursts, when nothing points into them.
    void compact() {
        if (pos_ == 0) return;
        consumed_before_ += pos_;
        std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
        end_ -= pos_;
        pos_ = 0;
    }

    // Reads until `need` bytes are available at pos_ or the input ends; appends only, so
    // pointers already handed out stay valid.
    bool fill(std::size_t need) {
        while (available() < need) {
            if (buf_.size() - end_ < std::min(kReadChunk, need - available())) return false;  // room only after compact()
            const std::size_t want = std::min(kReadChunk, buf_.size() - end_);
            const long got = src_->read(buf_.data() + end_, want);
            if (got < 0) {
                if (warning_.empty()) warning_ = "read stopped at byte " + std::to_string(src_->consumed()) + ": " + src_->error();
                input_ended_ = true;
                return false;
            }
            if (got == 0) {
                input_ended_ = true;
                return false;
            }
            end_ += static_cast<std::size_t>(got);
        }
        return true;
    }

    // kStop when the bytes are not in the buffer yet but may come after compact().
    Step want(std::size_t need) {
        if (fill(need)) return Step::kPacket;
        if (input_ended_) return Step::kEnd;
        return Step::kStop;
    }

    Step truncated(const char* what) {
        if (warning_.empty() && available() != 0) {
            warning_ = std::string(what) + " truncated at byte " + std::to_string(offset_of_pos());
        }
        return Step::kEnd;
    }
    std::uint64_t offset_of_pos() const noexcept { return consumed_before_ + pos_; }

    Step next_record(Record& r) {
        constexpr std::size_t kHeader = 16;
        if (const Step s = want(kHeader); s != Step::kPacket) return s == Step::kEnd ? truncated("last record header") : s;
        const std::uint32_t sec = u32(at(0)), frac = u32(at(4)), caplen = u32(at(8)), wirelen = u32(at(12));
        if (caplen > kMaxRecord) {
            warning_ = "corrupt record header at byte " + std::to_string(offset_of_pos()) + " (captured length " +
                       std::to_string(caplen) + ")";
            return Step::kEnd;
        }
        if (const Step s = want(kHeader + caplen); s != Step::kPacket) return s == Step::kEnd ? truncated("last record") : s;
        r.start = pos_;
        r.data = at(kHeader);
        r.cap_len = caplen;
        r.wire_len = wirelen;
        const Interface& ifc = interfaces_[0];
        r.ts_units = ifc.exponent == 9 ? sec * 1'000'000'000ull + frac : sec * 1'000'000ull + frac;
        r.interface = 0;
        advance(kHeader + caplen);
        return Step::kPacket;
    }

    void advance(std::size_t n) noexcept { pos_ += n; }

    Step next_block(Record& r) {
        if (const Step s = want(12); s != Step::kPacket) return s == Step::kEnd ? truncated("last block header") : s;
        std::uint32_t type = load_le32(at(0));
        if (type == kBlockShb) {
            // The byte-order magic decides how everything in this section is read.
            const std::uint32_t bom = load_le32(at(8));
            if (bom != kByteOrderMagic && bom != __builtin_bswap32(kByteOrderMagic)) {
                warning_ = "corrupt section header at byte " + std::to_string(offset_of_pos());
                return Step::kEnd;
            }
            swapped_ = bom != kByteOrderMagic;
            interfaces_.clear();
        } else if (swapped_) {
            type = __builtin_bswap32(type);
        }
        const std::uint32_t len = u32(at(4));
        if (len < 12 || len % 4 != 0 || len > kMaxRecord + 64) {
            warning_ = "corrupt block at byte " + std::to_string(offset_of_pos()) + " (length " + std::to_string(len) + ")";
            return Step::kEnd;
        }
        if (const Step s = want(len); s != Step::kPacket) return s == Step::kEnd ? truncated("last block") : s;
        const std::uint8_t* b = at(0);
        const std::size_t start = pos_;
        advance(len);
        switch (type) {
            case kBlockIdb: return read_interface(b, len);
            case kBlockEpb: {
                if (len < 32) return bad_block(start);
                r.interface = u32(b + 8);
                r.ts_units = (std::uint64_t{u32(b + 12)} << 32) | u32(b + 16);
                r.cap_len = u32(b + 20);
                r.wire_len = u32(b + 24);
                r.data = b + 28;
                if (r.cap_len > len - 32) return bad_block(start);
                break;
            }
            case kBlockOpb: {
                if (len < 32) return bad_block(start);
                r.interface = u16(b + 8);
                r.ts_units = (std::uint64_t{u32(b + 12)} << 32) | u32(b + 16);
                r.cap_len = u32(b + 20);
                r.wire_len = u32(b + 24);
                r.data = b + 28;
                if (r.cap_len > len - 32) return bad_block(start);
                break;
            }
            case kBlockSpb: {
                // No timestamp, interface 0; the captured part is what the block holds, up to
                // the interface's snap length.
                if (len < 16 || interfaces_.empty()) return bad_block(start);
                r.interface = 0;
                r.wire_len = u32(b + 8);
                r.cap_len = std::min<std::uint32_t>(r.wire_len, len - 16);
                if (interfaces_[0].snaplen != 0) r.cap_len = std::min(r.cap_len, interfaces_[0].snaplen);
                r.data = b + 12;
                r.ts_units = last_units_;
                break;
            }
            default:
                return Step::kSkip;  // section header, statistics, name resolution, custom blocks
        }
        if (r.interface >= interfaces_.size()) return bad_block(start);
        r.start = start;
        last_units_ = r.ts_units;
        return Step::kPacket;
    }

    Step bad_block(std::size_t start) {
        if (warning_.empty()) warning_ = "malformed packet block at byte " + std::to_string(consumed_before_ + start) + " skipped";
        return Step::kSkip;
    }

    Step read_interface(const std::uint8_t* b, std::uint32_t len) {
        if (len < 20) return Step::kSkip;
        Interface ifc;
        ifc.link_raw = u16(b + 8);
        ifc.snaplen = u32(b + 12);
        ifc.supported = link_type_from_pcap(ifc.link_raw, ifc.link);
        // Options (pcapng section 3.5): code, length, value padded to 4 bytes; 0 ends them.
        for (std::size_t off = 16; off + 4 <= len - 4;) {
            const std::uint16_t code = u16(b + off), olen = u16(b + off + 2);
            if (code == kOptEnd || off + 4 + olen > len - 4) break;
            const std::uint8_t* v = b + off + 4;
            if (code == kIfTsresol && olen >= 1) {
                ifc.binary = (v[0] & 0x80) != 0;
                ifc.exponent = v[0] & 0x7f;
            } else if (code == kIfTsoffset && olen >= 8) {
                std::uint64_t raw;
                std::memcpy(&raw, v, 8);
                if (swapped_) raw = __builtin_bswap64(raw);
                ifc.offset_s = static_cast<std::int64_t>(raw);
            }
            off += 4 + ((olen + 3u) & ~3u);
        }
        if (interfaces_.empty()) link_ = ifc.link;
        interfaces_.push_back(ifc);
        return Step::kSkip;
    }

    std::unique_ptr<ByteSource> src_;
    std::string name_;
    std::vector<std::uint8_t> buf_;
    std::size_t pos_ = 0, end_ = 0;
    std::uint64_t consumed_before_ = 0;  // bytes compacted away (offsets in warnings)
    std::vector<Interface> interfaces_;
    std::uint64_t last_units_ = 0;
    std::uint64_t skipped_ = 0;
    bool pcapng_ = false;
    bool swapped_ = false;
    bool done_ = false;
    bool input_ended_ = false;
};

}  // namespace

std::unique_ptr<CaptureReader> open_stream_reader(std::unique_ptr<ByteSource> src, const std::string& name,
                                                  std::string& error) {
    auto r = std::make_unique<StreamReader>(std::move(src), name);
    if (!r->start(error)) return nullptr;
    return r;
}

}  // namespace tcpsleuth
