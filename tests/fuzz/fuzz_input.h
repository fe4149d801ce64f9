#pragma once
// The fuzzer's bytes read as values, front to back. An exhausted input reads as zeros, so
// every input is valid and a short one still takes the whole harness's path. No libFuzzer
// header: the harnesses also build with GCC for the replay test (standalone_main.cc).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>

namespace tcpsleuth::fuzz {

// A property the harness checks does not hold: abort, which libFuzzer records as a crash
// with its input (and the replay test as a failure).
[[noreturn]] inline void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz check failed: %s\n%s\n", what, detail.c_str());
    std::abort();
}

class FuzzInput {
public:
    FuzzInput(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}

    std::size_t remaining() const noexcept { return size_ - pos_; }
    bool empty() const noexcept { return pos_ == size_; }

    // An integer made of the next sizeof(T) bytes (little-endian), zero-padded at the end.
    template <typename T>
    T integer() noexcept {
        static_assert(std::is_integral_v<T>);
        std::make_unsigned_t<T> v = 0;
        for (std::size_t i = 0; i < sizeof(T) && pos_ < size_; ++i) {
            v |= static_cast<std::make_unsigned_t<T>>(static_cast<std::make_unsigned_t<T>>(data_[pos_++]) << (8 * i));
        }
        return static_cast<T>(v);
    }
    // 0 .. max, from one byte (two when max needs them).
    unsigned below_or_equal(unsigned max) noexcept {
        const unsigned raw = max < 256 ? integer<std::uint8_t>() : integer<std::uint16_t>();
        return max == 0 ? 0 : raw % (max + 1);
    }
    bool boolean() noexcept { return (integer<std::uint8_t>() & 1) != 0; }

    // The next `n` bytes, or fewer at the end.
    std::string_view bytes(std::size_t n) noexcept {
        if (n > remaining()) n = remaining();
        const std::string_view out(reinterpret_cast<const char*>(data_ + pos_), n);
        pos_ += n;
        return out;
    }
    std::string_view rest() noexcept { return bytes(remaining()); }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

}  // namespace tcpsleuth::fuzz
