#pragma once
// Which known TCP stack a SYN's option layout comes from, and which options a middlebox
// replaced with NOPs on the way. iptables TCPOPTSTRIP, Cisco ASA and many others overwrite a
// removed option's bytes with NOP (kind 1) rather than shrink the header, so the layout keeps
// the option's footprint: Linux's "MSS SACK_PERM TS NOP WS" with window scale stripped reads
// "MSS SACK_PERM TS NOP NOP NOP NOP", which no stack sends. A layout that equals a real
// stack's layout (e.g. Linux with SACK turned off) is never called stripped: it is ambiguous.

#include <cstdint>

#include "dataplane/packet/tcp_options.h"
#include "inspectors/output/events.h"

namespace tcpsleuth {

struct NopFill {
    StackGuess stack = StackGuess::kUnknown;
    std::uint16_t stripped = 0;  // TcpOpt bits whose bytes are NOPs in the observed layout
    bool exact = false;          // the layout is exactly a known stack's
};

// `layout` is a TcpOptions::layout (LayoutToken nibbles, first option lowest).
NopFill find_nop_fill(std::uint64_t layout) noexcept;

}  // namespace tcpsleuth
