#pragma once
// A capture's bytes from wherever they are: a file, a pipe or FIFO (`tcpdump -w - |`), and
// gzip, zstd or LZ4-frame compressed, recognised by their first bytes as Wireshark does,
// never by the file's name. Reads are sequential and bounded: nothing is held but a buffer.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace tcpsleuth {

class ByteSource {
public:
    virtual ~ByteSource() = default;

    // Opens `path` ("-": standard input). On failure returns nullptr and sets `error` to one
    // line naming the reason.
    static std::unique_ptr<ByteSource> open(const std::string& path, std::string& error);

    // Up to `n` bytes into `out`; 0 at the end; -1 on an error (then error() says which).
    virtual long read(std::uint8_t* out, std::size_t n) = 0;

    // Compressed bytes consumed so far and the file's size (0 for a pipe): the progress bar.
    std::uint64_t consumed() const noexcept { return consumed_; }
    std::uint64_t size() const noexcept { return size_; }
    const std::string& error() const noexcept { return error_; }
    // "gzip", "zstd", "lz4" or "" for uncompressed bytes.
    const char* compression() const noexcept { return compression_; }

protected:
    std::uint64_t consumed_ = 0;
    std::uint64_t size_ = 0;
    std::string error_;
    const char* compression_ = "";
};

// While a pipe or FIFO has nothing to read, `idle` runs every `interval_ms` (analyze serves
// its control socket, metrics endpoint and Redis output meanwhile, so a quiet `tcpdump -w -`
// does not stall them); an empty function just waits. A file is never waited on.
void set_input_idle(std::function<void()> idle, int interval_ms = 100);

}  // namespace tcpsleuth
