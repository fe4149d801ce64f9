#include "byte_source.h"

#include <fcntl.h>
#include <lz4frame.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tcpsleuth {
namespace {

std::function<void()> g_input_idle;
int g_input_idle_ms = 100;

// The file descriptor, with the few bytes read to recognise the format handed out first
// (a pipe cannot seek back to them).
class Fd {
public:
    Fd(int fd, const std::uint8_t* head, std::size_t head_len) : fd_(fd), head_(head, head + head_len) {}
    ~Fd() {
        if (fd_ > STDIN_FILENO) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;

    long read(std::uint8_t* out, std::size_t n, std::string& error) {
        if (head_pos_ < head_.size()) {
            const std::size_t k = std::min(n, head_.size() - head_pos_);
            std::memcpy(out, head_.data() + head_pos_, k);
            head_pos_ += k;
            return static_cast<long>(k);
        }
        // Nothing to read yet: serve what waits on the reader before blocking again.
        if (g_input_idle) {
            pollfd p{fd_, POLLIN, 0};
            while (::poll(&p, 1, g_input_idle_ms) == 0) g_input_idle();
        }
        for (;;) {
            const ssize_t got = ::read(fd_, out, n);
            if (got >= 0) return static_cast<long>(got);
            if (errno == EINTR) continue;
            error = std::string("read failed: ") + std::strerror(errno);
            return -1;
        }
    }

private:
    int fd_;
    std::vector<std::uint8_t> head_;
    std::size_t head_pos_ = 0;
};

class PlainSource final : public ByteSource {
public:
    explicit PlainSource(std::unique_ptr<Fd> fd) : fd_(std::move(fd)) {}
    long read(std::uint8_t* out, std::size_t n) override {
        const long got = fd_->read(out, n, error_);
        if (got > 0) consumed_ += static_cast<std::uint64_t>(got);
        return got;
    }

private:
    std::unique_ptr<Fd> fd_;
};

// The compressed input, read in 256 KiB chunks.
class Compressed : public ByteSource {
protected:
    explicit Compressed(std::unique_ptr<Fd> fd) : fd_(std::move(fd)), in_(256 * 1024) {}

    // Refills the input when it is used up; false at the end of the file or on an error.
    bool refill() {
        if (in_pos_ < in_len_) return true;
        const long got = fd_->read(in_.data(), in_.size(), error_);
        if (got <= 0) {
            eof_ = got == 0;
            return false;
        }
        consumed_ += static_cast<std::uint64_t>(got);
        in_pos_ = 0;
        in_len_ = static_cast<std::size_t>(got);
        return true;
    }

    std::unique_ptr<Fd> fd_;
    std::vector<std::uint8_t> in_;
    std::size_t in_pos_ = 0, in_len_ = 0;
    bool eof_ = false;
};

// gzip (RFC 1952), members one after another as `cat a.gz b.gz` makes them.
class GzipSource final : public Compressed {
public:
    explicit GzipSource(std::unique_ptr<Fd> fd) : Compressed(std::move(fd)) {
        compression_ = "gzip";
        inflateInit2(&z_, 15 + 16);
    }
    ~GzipSource() override { inflateEnd(&z_); }

    long read(std::uint8_t* out, std::size_t n) override {
        z_.next_out = out;
        z_.avail_out = static_cast<uInt>(n);
        while (z_.avail_out == n) {
            if (!refill()) return eof_ ? finish_at_eof() : -1;
            z_.next_in = in_.data() + in_pos_;
            z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
            const int rc = inflate(&z_, Z_NO_FLUSH);
            in_pos_ = in_len_ - z_.avail_in;
            if (rc == Z_STREAM_END) {
                inflateReset(&z_);  // another member may follow
                member_done_ = true;
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                error_ = std::string("gzip data corrupt: ") + (z_.msg != nullptr ? z_.msg : "inflate failed");
                return -1;
            } else {
                member_done_ = false;
            }
        }
        return static_cast<long>(n - z_.avail_out);
    }

private:
    long finish_at_eof() {
        if (member_done_) return 0;
        error_ = "gzip data ends in the middle of a member (a cut or still-growing file)";
        return -1;
    }
    z_stream z_{};
    bool member_done_ = true;
};

class ZstdSource final : public Compressed {
public:
    explicit ZstdSource(std::unique_ptr<Fd> fd) : Compressed(std::move(fd)), z_(ZSTD_createDStream()) {
        compression_ = "zstd";
        ZSTD_initDStream(z_);
    }
    ~ZstdSource() override { ZSTD_freeDStream(z_); }

    long read(std::uint8_t* out, std::size_t n) override {
        ZSTD_outBuffer o{out, n, 0};
        while (o.pos == 0) {
            if (!refill()) {
                if (!eof_) return -1;
                if (last_ != 0) {
                    error_ = "zstd data ends in the middle of a frame (a cut or still-growing file)";
                    return -1;
                }
                return 0;
            }
            ZSTD_inBuffer i{in_.data(), in_len_, in_pos_};
            last_ = ZSTD_decompressStream(z_, &o, &i);
            in_pos_ = i.pos;
            if (ZSTD_isError(last_)) {
                error_ = std::string("zstd data corrupt: ") + ZSTD_getErrorName(last_);
                return -1;
            }
        }
        return static_cast<long>(o.pos);
    }

private:
    ZSTD_DStream* z_;
    std::size_t last_ = 0;  // 0: a frame is complete
};

class Lz4Source final : public Compressed {
public:
    explicit Lz4Source(std::unique_ptr<Fd> fd) : Compressed(std::move(fd)) {
        compression_ = "lz4";
        LZ4F_createDecompressionContext(&z_, LZ4F_VERSION);
    }
    ~Lz4Source() override { LZ4F_freeDecompressionContext(z_); }

    long read(std::uint8_t* out, std::size_t n) override {
        std::size_t produced = 0;
        while (produced == 0) {
            if (!refill()) {
                if (!eof_) return -1;
                if (hint_ != 0) {
                    error_ = "lz4 data ends in the middle of a frame (a cut or still-growing file)";
                    return -1;
                }
                return 0;
            }
            std::size_t out_len = n, in_len = in_len_ - in_pos_;
            hint_ = LZ4F_decompress(z_, out, &out_len, in_.data() + in_pos_, &in_len, nullptr);
            in_pos_ += in_len;
            if (LZ4F_isError(hint_)) {
                error_ = std::string("lz4 data corrupt: ") + LZ4F_getErrorName(hint_);
                return -1;
            }
            produced = out_len;
        }
        return static_cast<long>(produced);
    }

private:
    LZ4F_dctx* z_ = nullptr;
    std::size_t hint_ = 0;  // 0: a frame is complete
};

}  // namespace

void set_input_idle(std::function<void()> idle, int interval_ms) {
    g_input_idle = std::move(idle);
    g_input_idle_ms = interval_ms;
}

std::unique_ptr<ByteSource> ByteSource::open(const std::string& path, std::string& error) {
    const bool is_stdin = path == "-";
    const int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    const std::string name = is_stdin ? "standard input" : path;
    if (fd < 0) {
        error = name + ": cannot open: " + std::strerror(errno);
        return nullptr;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        error = name + (S_ISDIR(st.st_mode) ? ": a directory" : ": cannot stat");
        if (!is_stdin) ::close(fd);
        return nullptr;
    }
    // Four bytes tell every format apart; a pipe may hand them over in pieces.
    std::uint8_t head[4];
    std::size_t got = 0;
    while (got < sizeof head) {
        const ssize_t k = ::read(fd, head + got, sizeof head - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += static_cast<std::size_t>(k);
    }
    auto in = std::make_unique<Fd>(fd, head, got);
    std::unique_ptr<ByteSource> src;
    if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        src = std::make_unique<GzipSource>(std::move(in));
    } else if (got == 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) {
        src = std::make_unique<ZstdSource>(std::move(in));
    } else if (got == 4 && head[0] == 0x04 && head[1] == 0x22 && head[2] == 0x4d && head[3] == 0x18) {
        src = std::make_unique<Lz4Source>(std::move(in));
    } else {
        src = std::make_unique<PlainSource>(std::move(in));
    }
    src->size_ = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
    return src;
}

}  // namespace tcpsleuth
