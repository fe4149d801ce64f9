#include "inspectors/evidence/syn_fingerprint.h"

#include <array>
#include <initializer_list>

namespace tcpsleuth {
namespace {

using T = LayoutToken;

struct Fingerprint {
    StackGuess stack;
    std::initializer_list<T> tokens;
};

// SYN and SYN-ACK layouts of common stacks, with the variants their sysctls produce. Linux
// orders MSS, SACK_PERM, TS, NOP, WS and pads with NOP NOP when an option is off
// (net/ipv4/tcp_output.c tcp_options_write); Windows MSS NOP WS NOP NOP SACK_PERM; macOS adds
// timestamps and ends with EOL fill; FreeBSD MSS NOP WS SACK_PERM TS. Only layouts seen in
// real captures belong here: a wrong entry turns an ordinary SYN into a "stripped" one.
const Fingerprint kFingerprints[] = {
    {StackGuess::kLinux, {T::kMss, T::kSackPerm, T::kTimestamp, T::kNop, T::kWscale}},
    {StackGuess::kLinux, {T::kMss, T::kNop, T::kNop, T::kSackPerm, T::kNop, T::kWscale}},
    {StackGuess::kLinux, {T::kMss, T::kNop, T::kNop, T::kTimestamp, T::kNop, T::kWscale}},
    {StackGuess::kLinux, {T::kMss, T::kSackPerm, T::kTimestamp}},
    {StackGuess::kLinux, {T::kMss, T::kNop, T::kNop, T::kSackPerm}},
    {StackGuess::kLinux, {T::kMss, T::kNop, T::kNop, T::kTimestamp}},
    {StackGuess::kLinux, {T::kMss, T::kNop, T::kWscale}},
    {StackGuess::kWindows, {T::kMss, T::kNop, T::kWscale, T::kNop, T::kNop, T::kSackPerm}},
    {StackGuess::kApple, {T::kMss, T::kNop, T::kWscale, T::kNop, T::kNop, T::kTimestamp, T::kSackPerm, T::kEol,
                          T::kEol}},
    {StackGuess::kFreeBsd, {T::kMss, T::kNop, T::kWscale, T::kSackPerm, T::kTimestamp}},
};

constexpr unsigned kMaxBytes = 40;

// Bytes each option occupies on the wire; 0 for options whose size varies (not in SYNs we
// can reason about).
unsigned token_size(T t) {
    switch (t) {
        case T::kEol:
        case T::kNop: return 1;
        case T::kMss: return 4;        // RFC 9293 section 3.2
        case T::kWscale: return 3;     // RFC 7323 section 2.2
        case T::kSackPerm: return 2;   // RFC 2018 section 2
        case T::kTimestamp: return 10; // RFC 7323 section 3.2
        default: return 0;
    }
}

TcpOpt token_opt(T t) {
    switch (t) {
        case T::kMss: return kOptMss;
        case T::kWscale: return kOptWscale;
        case T::kSackPerm: return kOptSackPerm;
        case T::kTimestamp: return kOptTimestamp;
        default: return TcpOpt{};
    }
}

struct Bytes {
    std::array<T, kMaxBytes> b{};
    unsigned n = 0;
    bool ok = true;
    void push(T t) {
        const unsigned size = token_size(t);
        if (size == 0 || n + size > kMaxBytes) {
            ok = false;
            return;
        }
        for (unsigned i = 0; i < size; ++i) b[n++] = t;
    }
};

Bytes expand(std::uint64_t layout) {
    Bytes out;
    for (unsigned i = 0; i < 16 && out.ok; ++i) {
        const auto t = static_cast<T>((layout >> (4 * i)) & 0xf);
        if (t == T::kEnd) break;
        out.push(t);
    }
    return out;
}

Bytes expand(std::initializer_list<T> tokens) {
    Bytes out;
    for (const T t : tokens) out.push(t);
    return out;
}

unsigned longest_nop_run(const Bytes& bytes) {
    unsigned best = 0, run = 0;
    for (unsigned i = 0; i < bytes.n; ++i) {
        run = bytes.b[i] == T::kNop ? run + 1 : 0;
        if (run > best) best = run;
    }
    return best;
}

}  // namespace

NopFill find_nop_fill(std::uint64_t layout) noexcept {
    const Bytes seen = expand(layout);
    if (!seen.ok || seen.n == 0) return {};
    for (const Fingerprint& fp : kFingerprints) {
        const Bytes known = expand(fp.tokens);
        if (known.n == seen.n && known.b == seen.b) return {.stack = fp.stack, .stripped = 0, .exact = true};
    }
    for (const Fingerprint& fp : kFingerprints) {
        const Bytes known = expand(fp.tokens);
        if (known.n != seen.n) continue;
        std::uint16_t stripped = 0;
        bool fits = true;
        for (unsigned i = 0; i < seen.n && fits; ++i) {
            if (seen.b[i] == known.b[i]) continue;
            // Every byte of the known option must be a NOP now: a whole option overwritten.
            fits = seen.b[i] == T::kNop && token_opt(known.b[i]) != TcpOpt{};
            if (fits) stripped = static_cast<std::uint16_t>(stripped | token_opt(known.b[i]));
        }
        // An option is either kept whole or overwritten whole; one with some bytes kept is a
        // different layout, not a stripped one.
        for (unsigned i = 0; i < seen.n && fits; ++i) {
            if (seen.b[i] == known.b[i] && (stripped & token_opt(known.b[i])) != 0) fits = false;
        }
        // No stack pads with more than two NOPs in a row, so a run of three or more is fill.
        // Two NOPs where SACK_PERM would be are also what stacks send for alignment (Windows:
        // MSS NOP WS NOP NOP SACK_PERM): not evidence on their own.
        if (fits && stripped != 0 && longest_nop_run(seen) >= 3) {
            return {.stack = fp.stack, .stripped = stripped, .exact = false};
        }
    }
    return {};
}

}  // namespace tcpsleuth
