#pragma once
// path.one_way_loss: one direction stops arriving while the other still works.
//
// Two shapes at one sensor, both with the sender's retransmission timer as the witness (the
// same segment resent with RTO back-off, RFC 6298 section 5.5):
//   - acknowledged, yet resent: the receiver's ACK covering the segment passed the sensor,
//     and the sender keeps retransmitting it. The ACKs are lost between the sensor and the
//     sender (downstream of the sensor, in the ACKs' direction).
//   - unanswered while the peer lives: the segment is resent again and again, never
//     acknowledged, while the receiver keeps sending new data of its own (so it is up and
//     its direction works). The sender's packets are lost between the sensor and the
//     receiver. A segment larger than anything the sender got through is left to
//     mtu.blackhole.
// Copies closer together than half a round trip (a duplicating SPAN port) are not counted,
// and a sender that sends anything else meanwhile (other data, a FIN, a SYN again) is not
// stuck: the timer resends only the head, again and again.

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class OneWayLossInspector {
public:
    struct Sender {
        Seq head;                         // start of the segment being resent
        Seq head_end;
        std::uint32_t first_ms = 0;       // first and latest counted retransmission
        std::uint32_t last_ms = 0;
        std::uint32_t first_pkt = 0;
        std::uint32_t last_pkt = 0;
        std::uint32_t ack_pkt = 0;        // the receiver's ACK that covered it, as seen
        std::uint16_t retransmissions = 0;
        std::uint16_t len = 0;            // payload bytes of the segment
        std::uint8_t tracking = 0;
        std::uint8_t acked = 0;           // 1: acknowledged at the sensor before it was resent
        std::uint8_t peer_alive = 0;      // the receiver sent new data since, not acknowledging it
        std::uint8_t pad = 0;             // explicit: a cold record is compared byte for byte
    };
    // Kept on every packet (hot): by Dir, the latest packet that advanced that side's ACK.
    struct Acks {
        std::uint32_t pkt[2] = {};
    };
    // A segment being resent, and whether the flow was reported (cold: fresh while nothing
    // is resent; a sender stops being tracked by going back to Sender{}).
    struct State {
        Sender dir[2];                    // by Dir of the data sender
        std::uint8_t reported = 0;
        std::uint8_t pad[3] = {};         // explicit: a cold record is compared byte for byte
    };

    explicit OneWayLossInspector(const PathConfig& cfg) noexcept : cfg_(cfg) {}
    void reconfigure(const PathConfig& cfg) noexcept { cfg_ = cfg; }

    // `delivered_payload`: by Dir, the largest segment each side got acknowledged (from
    // mtu.blackhole's state): a lost segment larger than that is a size problem, not this.
    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                   const std::uint16_t (&delivered_payload)[2], Acks& acks, State& st, EventSink& out) const noexcept;

private:
    void on_retransmission(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                           std::uint16_t delivered, const Acks& acks, State& st, EventSink& out) const noexcept;

    PathConfig cfg_;
};

}  // namespace tcpsleuth
