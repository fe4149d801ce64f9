#pragma once
// TCP sequence numbers live on a 2^32 circle (RFC 9293 section 3.4): "a < b" means "a is
// within 2^31 before b". A distinct type stops anyone from comparing them with plain '<',
// which breaks at the wrap and is the classic tracker bug.

#include <cstdint>

namespace tcpsleuth {

class Seq {
public:
    constexpr Seq() noexcept = default;
    constexpr explicit Seq(std::uint32_t v) noexcept : v_(v) {}

    constexpr std::uint32_t raw() const noexcept { return v_; }

    // Signed distance from `from` to this: positive when this is after `from`.
    constexpr std::int32_t operator-(Seq from) const noexcept {
        return static_cast<std::int32_t>(v_ - from.v_);
    }
    constexpr Seq operator+(std::uint32_t n) const noexcept { return Seq(v_ + n); }
    constexpr Seq operator-(std::uint32_t n) const noexcept { return Seq(v_ - n); }

    friend constexpr bool operator==(Seq a, Seq b) noexcept = default;
    friend constexpr bool before(Seq a, Seq b) noexcept { return (a - b) < 0; }
    friend constexpr bool after(Seq a, Seq b) noexcept { return (a - b) > 0; }
    friend constexpr bool before_eq(Seq a, Seq b) noexcept { return (a - b) <= 0; }
    friend constexpr bool after_eq(Seq a, Seq b) noexcept { return (a - b) >= 0; }
    friend constexpr Seq seq_max(Seq a, Seq b) noexcept { return after(a, b) ? a : b; }

private:
    std::uint32_t v_ = 0;
};

static_assert(sizeof(Seq) == 4);

}  // namespace tcpsleuth
