#pragma once
// A mirror session's own losses. GRE senders may number their packets (RFC 2890 section
// 2.2) and switches do for ERSPAN II/III; a gap in those numbers is packets the mirror lost
// on its way to the sensor, which tcpsleuth must not blame on the mirrored network. A few
// sessions per sensor: a small fixed table, no allocation. Only a pipeline that sees every
// packet of a session can judge its numbers (analyze, or live with one worker).

#include <array>
#include <cstdint>

#include "dataplane/packet/packet_view.h"
#include "inspectors/flow/flow_key.h"

namespace tcpsleuth {

class MirrorSequences {
public:
    struct Session {
        std::uint64_t key = 0;  // 0: free
        std::uint64_t received = 0;
        std::uint64_t lost = 0;
        std::uint32_t id = 0;
        std::uint32_t last = 0;
        TunnelType type = TunnelType::kNone;
        std::uint8_t outer_ip_version = 0;
        std::array<std::uint8_t, 16> outer_src{};
        std::array<std::uint8_t, 16> outer_dst{};
    };

    // A sequence number more than this far behind, or this far ahead, is the sender starting
    // over (a reboot, a reconfigured session), not reordering or loss.
    static constexpr std::uint32_t kRestart = 1u << 16;

    // The packet's session and how many numbers it skipped (0: none, or not numbered).
    std::uint32_t on_packet(const PacketView& v, const Session*& session) noexcept {
        session = nullptr;
        if (!v.tunnel_seq_valid) return 0;
        const bool same_layer = v.tunnel == v.tunnel_seq_type && v.outer_ip_version != 0;
        std::uint64_t k = mix64(std::uint64_t{v.tunnel_seq_id} << 8 | static_cast<std::uint8_t>(v.tunnel_seq_type));
        if (same_layer) {
            for (std::size_t i = 0; i < 16; i += 8) {
                std::uint64_t a, b;
                __builtin_memcpy(&a, v.outer_src.data() + i, 8);
                __builtin_memcpy(&b, v.outer_dst.data() + i, 8);
                k = mix64(k ^ a) ^ mix64(b + i);
            }
        }
        k |= 1;
        Session* s = nullptr;
        for (Session& c : sessions_) {
            if (c.key == k) {
                s = &c;
                break;
            }
            if (c.key == 0 && s == nullptr) s = &c;
        }
        if (s == nullptr) return 0;  // more sessions than the table holds: not followed
        session = s;
        if (s->key != k) {
            *s = Session{.key = k, .received = 1, .id = v.tunnel_seq_id, .last = v.tunnel_seq, .type = v.tunnel_seq_type};
            if (same_layer) {
                s->outer_ip_version = v.outer_ip_version;
                s->outer_src = v.outer_src;
                s->outer_dst = v.outer_dst;
            }
            return 0;
        }
        ++s->received;
        const std::uint32_t ahead = v.tunnel_seq - s->last;  // mod 2^32 (RFC 2890: it wraps)
        if (ahead == 0) return 0;                             // a copy of the same packet
        if (ahead > kRestart && ahead < 0u - kRestart) {      // far off either way: starting over
            s->last = v.tunnel_seq;
            return 0;
        }
        if (ahead >= 0u - kRestart) {  // a little behind: reordered, and counted lost when skipped
            if (s->lost != 0) --s->lost;
            return 0;
        }
        s->last = v.tunnel_seq;
        if (ahead == 1) return 0;
        s->lost += ahead - 1;
        return ahead - 1;
    }

private:
    std::array<Session, 32> sessions_{};
};

}  // namespace tcpsleuth
