#include "fault_episodes.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace tcpsleuth::gen {
namespace {

constexpr const char* kFaultNames[kFaultKinds] = {
    "syn-unanswered", "mtu-blackhole", "options-stripped", "ecn-bleached", "sack-invalid", "idle-timeout", "zero-window",
    "mtu-blackhole-first", "mtu-blackhole-first-v6", "idle-short", "rst-race", "one-way-loss", "receiver-limited",
};

constexpr std::uint64_t kMs = 1'000'000;
// Raw windows: 65160 and 64240 unscaled in SYNs; 509 and 502 in units of 2^7 afterwards.
constexpr std::uint16_t kServerSynWindow = 65160, kClientSynWindow = 64240;
constexpr std::uint16_t kServerWindow = 509, kClientWindow = 502;

}  // namespace

const char* fault_name(Fault f) { return kFaultNames[static_cast<unsigned>(f)]; }

bool parse_fault(const std::string& name, Fault& out) {
    for (unsigned i = 0; i < kFaultKinds; ++i) {
        if (name == kFaultNames[i]) {
            out = static_cast<Fault>(i);
            return true;
        }
    }
    return false;
}

// One scripted connection: keeps both sides' next sequence numbers and timestamp clocks
// (1 kHz, RFC 7323) the way the stacks would, so a script says only what its fault needs.
class EpisodeConn {
public:
    EpisodeConn(FaultEpisodes& out, std::uint32_t episode, std::uint64_t start_ns, bool ipv6 = false)
        : out_(out), start_ns_(start_ns), ipv6_(ipv6) {
        if (ipv6) {
            // 2001:2:f::N (clients) and 2001:2:e::N (servers), N = episode + 1.
            for (std::uint8_t* a : {client_, server_}) a[0] = 0x20, a[1] = 0x01, a[3] = 0x02;
            client_[5] = 0x0f, server_[5] = 0x0e;
            put16(client_ + 14, episode + 1);
            put16(server_ + 14, episode + 1);
        } else {
            client_[0] = 198, client_[1] = 19, client_[2] = static_cast<std::uint8_t>(128 + episode / 125);
            client_[3] = static_cast<std::uint8_t>(1 + episode % 125);
            server_[0] = 198, server_[1] = 19, server_[2] = static_cast<std::uint8_t>(64 + episode / 250);
            server_[3] = static_cast<std::uint8_t>(1 + episode % 250);
        }
        client_port_ = static_cast<std::uint16_t>(40000 + episode % 1000);
        const std::uint64_t h = mix(0xfa17'0000'0000ull + episode);
        client_isn_ = static_cast<std::uint32_t>(h);
        server_isn_ = static_cast<std::uint32_t>(h >> 32);
        cnxt_ = client_isn_ + 1;
        snxt_ = server_isn_ + 1;
        client_clock_ = static_cast<std::uint32_t>(h >> 12) & 0xfffffff;
        server_clock_ = static_cast<std::uint32_t>(h >> 40) & 0xfffffff;
    }

    std::uint32_t client_isn() const { return client_isn_; }
    std::uint32_t cnxt() const { return cnxt_; }
    std::uint32_t snxt() const { return snxt_; }

    // A segment with NOP NOP timestamps (plus `extra` option bytes after them).
    void segment(bool from_client, std::uint64_t ms, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                 std::uint32_t payload, std::uint16_t window, std::uint8_t ecn = kNotEct,
                 const std::uint8_t* extra = nullptr, std::uint32_t extra_len = 0) {
        std::uint8_t options[40];
        timestamp_options(options, tsval(from_client, ms), tsecr(from_client));
        if (extra_len != 0) std::memcpy(options + 12, extra, extra_len);
        emit(from_client, ms, seq, ack, flags, payload, window, ecn, options, 12 + extra_len);
    }
    // Payload of a full-sized segment: the MSS less the timestamp option.
    std::uint32_t full_payload() const { return mss() - 12; }

    void client_syn(std::uint64_t ms, std::uint8_t ecn_flags = 0) {
        std::uint8_t o[20];
        linux_syn_options(o, mss(), tsval(true, ms), 0, 7);
        emit(true, ms, client_isn_, 0, kSyn | ecn_flags, 0, kClientSynWindow, kNotEct, o, 20);
    }
    void server_synack(std::uint64_t ms, std::uint8_t ecn_flags = 0) {
        std::uint8_t o[20];
        linux_syn_options(o, mss(), tsval(false, ms), tsecr(false), 7);
        emit(false, ms, server_isn_, client_isn_ + 1, kSyn | kAck | ecn_flags, 0, kServerSynWindow, kNotEct, o, 20);
    }
    // The SYN-ACK as Linux with timestamps writes it (MSS, SACK_PERM, TS, NOP, WS) with the
    // window scale option overwritten by a middlebox: MSS, SACK_PERM, TS, NOP NOP NOP NOP.
    void server_synack_wscale_nopped(std::uint64_t ms) {
        std::uint8_t o[20];
        linux_syn_options(o, 1460, tsval(false, ms), tsecr(false), 7);
        std::memset(o + 16, 1, 4);
        emit(false, ms, server_isn_, client_isn_ + 1, kSyn | kAck, 0, kServerSynWindow, kNotEct, o, 20);
    }
    void handshake(std::uint64_t ms, std::uint8_t syn_ecn = 0, std::uint8_t synack_ecn = 0) {
        client_syn(ms, syn_ecn);
        server_synack(ms + 10, synack_ecn);
        client_ack(ms + 20);
    }
    void client_data(std::uint64_t ms, std::uint32_t len, std::uint8_t ecn = kNotEct, std::uint16_t window = kClientWindow) {
        segment(true, ms, cnxt_, snxt_, kAck | kPsh, len, window, ecn);
        cnxt_ += len;
    }
    void server_data(std::uint64_t ms, std::uint32_t len, std::uint8_t ecn = kNotEct) {
        segment(false, ms, snxt_, cnxt_, kAck | kPsh, len, kServerWindow, ecn);
        snxt_ += len;
    }
    void client_ack(std::uint64_t ms, std::uint16_t window = kClientWindow) {
        segment(true, ms, cnxt_, snxt_, kAck, 0, window);
    }
    void server_ack(std::uint64_t ms, std::uint16_t window = kServerWindow) {
        segment(false, ms, snxt_, cnxt_, kAck, 0, window);
    }
    // An exchange answered within a millisecond, `silence_ms` of nothing, then the client's
    // request sent and resent with Linux's back-off (200, 400 ms), never answered.
    void unanswered_after_silence(std::uint64_t silence_ms) {
        handshake(0);
        client_data(30, 100);
        server_data(31, 200);
        client_ack(32);
        const std::uint32_t seq = cnxt_;
        const std::uint64_t t = 32 + silence_ms;
        client_data(t, 100);
        for (const std::uint64_t ms : {t + 200, t + 600}) segment(true, ms, seq, snxt_, kAck | kPsh, 100, 502);
    }

    // A RST claiming to come from the server, made elsewhere: its own TTL and IP ID.
    void forged_server_rst(std::uint64_t ms, std::uint32_t seq, std::uint32_t ack, std::uint8_t ttl) {
        TcpFrame f = frame(false, seq, ack, kRst | kAck, 0, 0, kNotEct, nullptr, 0);
        f.ttl = ttl;
        f.ip_id = 0x5a5a;
        out_.add(start_ns_ + ms * kMs, f);
    }
    void close(std::uint64_t ms, std::uint16_t server_window = kServerWindow, std::uint16_t client_window = kClientWindow) {
        segment(true, ms, cnxt_, snxt_, kFin | kAck, 0, client_window);
        ++cnxt_;
        segment(false, ms + 10, snxt_, cnxt_, kFin | kAck, 0, server_window);
        ++snxt_;
        segment(true, ms + 20, cnxt_, snxt_, kAck, 0, client_window);
    }

private:
    std::uint32_t tsval(bool from_client, std::uint64_t ms) {
        const std::uint32_t v = (from_client ? client_clock_ : server_clock_) + static_cast<std::uint32_t>(ms);
        (from_client ? last_client_tsval_ : last_server_tsval_) = v;
        return v;
    }
    std::uint32_t tsecr(bool from_client) const { return from_client ? last_server_tsval_ : last_client_tsval_; }

    std::uint16_t mss() const { return ipv6_ ? 1440 : 1460; }

    void emit(bool from_client, std::uint64_t ms, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
              std::uint32_t payload, std::uint16_t window, std::uint8_t ecn, const std::uint8_t* options,
              std::uint32_t options_len) {
        out_.add(start_ns_ + ms * kMs, frame(from_client, seq, ack, flags, payload, window, ecn, options, options_len));
    }
    TcpFrame frame(bool from_client, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, std::uint32_t payload,
                   std::uint16_t window, std::uint8_t ecn, const std::uint8_t* options, std::uint32_t options_len) {
        TcpFrame f;
        f.ipv6 = ipv6_;
        f.from_client = from_client;
        std::memcpy(f.src, from_client ? client_ : server_, 16);
        std::memcpy(f.dst, from_client ? server_ : client_, 16);
        f.sport = from_client ? client_port_ : 443;
        f.dport = from_client ? 443 : client_port_;
        f.seq = seq, f.ack = ack, f.flags = flags, f.window = window;
        f.options = options, f.options_len = options_len;
        f.payload = payload;
        f.ttl = from_client ? 64 : 57;
        f.ip_ecn = ecn;
        f.ip_id = from_client ? client_ip_id_++ : server_ip_id_++;
        return f;
    }

    FaultEpisodes& out_;
    std::uint64_t start_ns_;
    bool ipv6_;
    std::uint8_t client_[16] = {}, server_[16] = {};
    std::uint16_t client_port_;
    std::uint32_t client_isn_, server_isn_, cnxt_, snxt_;
    std::uint32_t client_clock_, server_clock_, last_client_tsval_ = 0, last_server_tsval_ = 0;
    std::uint16_t client_ip_id_ = 1, server_ip_id_ = 1;
};

FaultEpisodes::FaultEpisodes(const std::vector<FaultRequest>& requests) {
    std::uint32_t counts[kFaultKinds] = {};
    std::uint64_t total = 0;
    for (const FaultRequest& r : requests) {
        counts[static_cast<unsigned>(r.kind)] += r.count;
        total += r.count;
    }
    if (total > kMaxEpisodes) throw std::invalid_argument("at most " + std::to_string(kMaxEpisodes) + " fault episodes");
    const std::uint32_t most = *std::max_element(counts, counts + kFaultKinds);
    // Kinds interleaved, so a short capture holds some of each.
    for (std::uint32_t i = 0; i < most; ++i) {
        for (unsigned k = 0; k < kFaultKinds; ++k) {
            if (i < counts[k]) {
                script(static_cast<Fault>(k), episodes_, episodes_ * kSpacingNs);
                ++episodes_;
            }
        }
    }
    std::stable_sort(frames_.begin(), frames_.end(),
                     [](const ScheduledFrame& a, const ScheduledFrame& b) { return a.ts_ns < b.ts_ns; });
}

void FaultEpisodes::add(std::uint64_t ts_ns, const TcpFrame& f) {
    const auto offset = static_cast<std::uint32_t>(arena_.size());
    arena_.resize(arena_.size() + kMaxFrame);
    const std::uint32_t len = write_tcp_frame(f, arena_.data() + offset);
    arena_.resize(offset + len);
    frames_.push_back({ts_ns, offset, static_cast<std::uint16_t>(len)});
}

// Each script is the shape the inspector's catalog test documents, as a real stack would
// continue it. Times in milliseconds from the episode's start.
void FaultEpisodes::script(Fault kind, std::uint32_t episode, std::uint64_t start_ns) {
    EpisodeConn c(*this, episode, start_ns, kind == Fault::kMtuBlackholeFirstV6);
    switch (kind) {
        case Fault::kSynUnanswered:
            // A full state table drops the SYN; Linux retries with the same ISN at +1, +3, +7 s.
            for (const std::uint64_t ms : {0, 1000, 3000, 7000}) c.client_syn(ms);
            break;
        case Fault::kMtuBlackhole: {
            // Small segments get through; a full-sized one (IP length 1500) is retransmitted
            // with RTO backoff and never acknowledged, until tcp_mtu_probing resends the same
            // bytes in 1024-byte pieces, which are.
            c.handshake(0);
            c.client_data(30, 300);
            c.server_ack(40);
            const std::uint32_t lost = c.cnxt();
            c.client_data(50, 1448);
            for (const std::uint64_t ms : {250, 650, 1450}) c.segment(true, ms, lost, c.snxt(), kAck, 1448, 502);
            c.segment(true, 3050, lost, c.snxt(), kAck, 1024, 502);
            c.segment(false, 3060, c.snxt(), lost + 1024, kAck, 0, 509);
            c.segment(true, 3070, lost + 1024, c.snxt(), kAck | kPsh, 424, 502);
            c.server_ack(3080);
            c.close(3100);
            break;
        }
        case Fault::kOptionsStripped:
            // The server believes scaling is on and advertises 65160 >> 7 = 509, below one MSS,
            // which the client, seeing no window scale in the SYN-ACK, takes as 509 bytes.
            c.client_syn(0);
            c.server_synack_wscale_nopped(10);
            c.client_ack(20, 64240);
            for (std::uint64_t i = 0; i < 4; ++i) {
                c.client_data(30 + i * 10, 509, kNotEct, 64240);
                c.server_ack(35 + i * 10, 509);
            }
            c.close(80, 509, 64240);
            break;
        case Fault::kEcnBleached:
            // ECN agreed (RFC 3168 6.1.1); the client's data keeps ECT(0), the server's arrives
            // Not-ECT: something between the server and the sensor clears the field.
            c.handshake(0, kEce | kCwr, kEce);
            c.client_data(30, 100, kEct0);
            for (std::uint64_t i = 0; i < 8; ++i) c.server_data(40 + i, 1448, kNotEct);
            c.client_ack(50);
            c.close(60);
            break;
        case Fault::kSackInvalid: {
            // An upload whose first segment is lost. The firewall between server and sensor
            // shifted the client's sequence space and rewrites the ACK field back, not the
            // SACK edges the server reports.
            c.handshake(0);
            const std::uint32_t first = c.cnxt();
            for (std::uint64_t i = 0; i < 5; ++i) c.client_data(30 + i, 1000);
            const std::uint32_t shift = 0x40000000;
            for (std::uint32_t i = 0; i < 2; ++i) {
                std::uint8_t sack[12] = {1, 1, 5, 10};
                put32(sack + 4, first + 1000 + shift);
                put32(sack + 8, first + 2000 + 1000 * i + shift);
                c.segment(false, 40 + i, c.snxt(), first, kAck, 0, 509, kNotEct, sack, 12);
            }
            c.segment(true, 240, first, c.snxt(), kAck, 1000, 502);
            c.server_ack(250);
            c.close(260);
            break;
        }
        case Fault::kIdleTimeout:
            // 400 s of silence, longer than the AWS NLB's 350 s: the flow is gone from the
            // device, and the client's next data is retransmitted unanswered.
            c.unanswered_after_silence(400'000);
            break;
        case Fault::kZeroWindow: {
            // The server's application stops reading for 2 s; Linux probes with
            // seq = SND.UNA - 1 and no data (RFC 9293 3.8.6.1).
            c.handshake(0);
            c.client_data(30, 1000);
            c.server_ack(100, 0);
            for (const std::uint64_t ms : {300, 700, 1500}) {
                c.segment(true, ms, c.cnxt() - 1, c.snxt(), kAck, 0, 502);
                if (ms == 300) c.server_ack(301, 0);
            }
            c.server_ack(2100, 64);
            c.client_data(2110, 1000);
            c.server_ack(2120);
            c.close(2130);
            break;
        }
        case Fault::kMtuBlackholeFirst:
        case Fault::kMtuBlackholeFirstV6: {
            // The upload's first segment is full-sized (IP length 1500) and the path carries
            // less, with ICMP filtered: resent with RTO back-off, never acknowledged; nothing
            // smaller was ever sent, so only the handshake proves the path.
            c.handshake(0);
            const std::uint32_t full = c.full_payload();
            const std::uint32_t lost = c.cnxt();
            c.client_data(30, full);
            for (const std::uint64_t ms : {250, 650, 1450, 3050, 6250}) c.segment(true, ms, lost, c.snxt(), kAck | kPsh, full, 502);
            break;
        }
        case Fault::kIdleShort:
            // A device that forgets flows after a few seconds: an exchange answered within a
            // millisecond, 6 s of silence, then the client's request is resent unanswered.
            c.unanswered_after_silence(6000);
            break;
        case Fault::kRstRace: {
            // An in-path filter answers the SYN with a RST (acknowledging ISN+1, from its own
            // stack: TTL 64, against the server's 57) before the real SYN-ACK arrives; the
            // client, having taken the RST, answers the SYN-ACK with a RST of its own.
            c.client_syn(0);
            c.forged_server_rst(1, 0, c.client_isn() + 1, 64);
            c.server_synack(10);
            c.segment(true, 11, c.client_isn() + 1, 0, kRst, 0, 0);
            break;
        }
        case Fault::kOneWayLoss: {
            // The server's packets stop reaching the client somewhere past the sensor: the
            // server acknowledges the upload's segment, the client resends it with back-off.
            c.handshake(0);
            c.client_data(30, 1000);
            c.server_ack(35);
            const std::uint32_t seq = c.cnxt();
            c.client_data(40, 1000);
            c.server_ack(45);
            for (const std::uint64_t ms : {250, 650, 1450}) {
                c.segment(true, ms, seq, c.snxt(), kAck | kPsh, 1000, 502);
                c.server_ack(ms + 5);  // a duplicate ACK, lost on its way like the first
            }
            break;
        }
        case Fault::kReceiverLimited: {
            // The server's application reads slowly: each burst fills its 16 KiB window
            // (128 << 7), the window closes, and reopens 100 ms later; 15 times over 1.5 s.
            c.handshake(0);
            std::uint64_t ms = 30;
            for (int round = 0; round < 15; ++round, ms += 100) {
                for (int i = 0; i < 11; ++i) c.client_data(ms, 1448);
                c.server_ack(ms + 1, 0);
                c.server_ack(ms + 99, 128);
            }
            c.close(ms);
            break;
        }
    }
}

}  // namespace tcpsleuth::gen
