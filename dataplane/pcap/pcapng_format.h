#pragma once
// pcapng's numbers (draft-ietf-opsawg-pcapng sections 3.5 and 4), for the reader
// (stream_reader.cc) and the writer (pcapng_writer.cc) alike.

#include <cstdint>

namespace tcpsleuth::pcapng {

constexpr std::uint32_t kBlockShb = 0x0a0d0d0a;  // section header
constexpr std::uint32_t kBlockIdb = 1;           // interface description
constexpr std::uint32_t kBlockOpb = 2;           // obsolete packet block
constexpr std::uint32_t kBlockSpb = 3;           // simple packet block
constexpr std::uint32_t kBlockEpb = 6;           // enhanced packet block
constexpr std::uint32_t kByteOrderMagic = 0x1a2b3c4d;

constexpr std::uint16_t kOptEnd = 0;
constexpr std::uint16_t kOptComment = 1;
constexpr std::uint16_t kShbUserAppl = 4;
constexpr std::uint16_t kIfName = 2;
constexpr std::uint16_t kIfTsresol = 9;
constexpr std::uint16_t kIfTsoffset = 14;

}  // namespace tcpsleuth::pcapng
