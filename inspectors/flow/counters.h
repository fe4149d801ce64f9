#pragma once
// Named counters: one enum, one table of names and help text in the same order (VPP's
// error counters without the code generator). Names are dotted and stable: tests assert
// them, the report and the control socket print them.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/packet/parse.h"

namespace tcpsleuth {

enum class Counter : std::uint16_t {
    kRxPackets,
    kRxBytes,
    // One per ParseStatus, same order (checked below).
    kParseOk,
    kParseIcmpQuote,
    kParseTruncated,
    kParseNotIp,
    kParseBadL2,
    kParseBadIpHeader,
    kParseBadIpLength,
    kParseBadIpv6Ext,
    kParseFragment,
    kParseNotTcp,
    kParseBadTcpHeader,
    kParseBadTcpOption,
    kParseBadIcmp,
    kParseBadTunnel,
    kParseTooDeep,
    kParseFirstFragment,
    kParseTruncatedCopy,
    // One per TunnelType after kNone, same order (checked below): frames through each, and
    // frames whose header of that kind was malformed.
    kDecapVxlan,
    kDecapGeneve,
    kDecapGre,
    kDecapErspan,
    kDecapMpls,
    kDecapIpInIp,
    kDecapPppoe,
    kDecapVxlanMalformed,
    kDecapGeneveMalformed,
    kDecapGreMalformed,
    kDecapErspanMalformed,
    kDecapMplsMalformed,
    kDecapIpInIpMalformed,
    kDecapPppoeMalformed,
    kDecapMirrorLost,
    kDecapTunnelsUnrecorded,
    kFlowCreated,
    kFlowExpired,
    kFlowEvicted,
    kFlowMidstream,
    kFlowWrongCore,
    kFlowMirrorDuplicates,
    kFlowColdExhausted,
    kTcpHandshakeCompleted,
    kTcpHandshakeFailed,
    kTcpHandshakeRefused,
    kTcpSynRetransmissions,
    kTcpDuplicateSyns,
    kTcpAppRetries,
    kTcpRetransmissions,
    kTcpOutOfOrder,
    kTcpDupAcks,
    kTcpKeepalives,
    kTcpZeroWindowProbes,
    kTcpRst,
    kTcpFin,
    kIcmpFragNeeded,
    kIcmpMatched,
    kIcmpUnmatched,
    kPayloadStreams,
    kPayloadScannedBytes,
    kPayloadMatches,
    kPayloadScanLimit,
    kPayloadGaps,
    kPayloadTruncated,
    kPayloadRetransmittedBytes,
    kPayloadMidstream,
    kPayloadPoolExhausted,
    kPayloadReloadEnded,
    kPayloadScanErrors,
    kEventsEmitted,
    kEventsDropped,
    kCount,
};

inline constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::kCount);

struct CounterInfo {
    Counter id;
    std::string_view name;
    std::string_view help;
};

inline constexpr CounterInfo kCounterInfo[] = {
    {Counter::kRxPackets, "rx.packets", "frames received"},
    {Counter::kRxBytes, "rx.bytes", "bytes received, as on the wire"},
    {Counter::kParseOk, "parse.ok", "TCP segments decoded"},
    {Counter::kParseIcmpQuote, "parse.icmp_quote", "ICMP errors quoting a TCP segment"},
    {Counter::kParseTruncated, "parse.truncated", "capture ends inside a needed header"},
    {Counter::kParseNotIp, "parse.not_ip", "frames that are not IPv4/IPv6 (ARP, LLDP, ...)"},
    {Counter::kParseBadL2, "parse.bad_l2", "malformed link-layer header or too many VLAN tags"},
    {Counter::kParseBadIpHeader, "parse.bad_ip_header", "IP version/IHL/total length inconsistent"},
    {Counter::kParseBadIpLength, "parse.bad_ip_length", "inner IP total length beyond the tunnel packet that carries it"},
    {Counter::kParseBadIpv6Ext, "parse.bad_ipv6_ext", "IPv6 extension header chain malformed"},
    {Counter::kParseFragment, "parse.fragment", "non-first IP fragments (no TCP header)"},
    {Counter::kParseNotTcp, "parse.not_tcp", "UDP, ICMP without a TCP quote, other protocols"},
    {Counter::kParseBadTcpHeader, "parse.bad_tcp_header", "TCP data offset < 5 or past the IP payload"},
    {Counter::kParseBadTcpOption, "parse.bad_tcp_option", "option length 0/1 or past the header (segment still tracked)"},
    {Counter::kParseBadIcmp, "parse.bad_icmp", "ICMP error too short to quote IP + 8 bytes of TCP"},
    {Counter::kParseBadTunnel, "parse.bad_tunnel", "tunnel or mirror header malformed (decap.*.malformed says which kind)"},
    {Counter::kParseTooDeep, "parse.too_deep", "encapsulations nested deeper than decap.max_depth (not followed)"},
    {Counter::kParseFirstFragment, "parse.first_fragment", "first fragments of fragmented TCP segments (tracked by header)"},
    {Counter::kParseTruncatedCopy, "parse.truncated_copy", "frames shorter than their IP total length (snap length, truncating mirror): headers tracked, sizes from the IP header"},
    {Counter::kDecapVxlan, "decap.vxlan.packets", "frames that came through VXLAN (RFC 7348)"},
    {Counter::kDecapGeneve, "decap.geneve.packets", "frames that came through Geneve (RFC 8926)"},
    {Counter::kDecapGre, "decap.gre.packets", "frames that came through GRE (RFC 2784/2890)"},
    {Counter::kDecapErspan, "decap.erspan.packets", "frames that came through ERSPAN type I/II/III"},
    {Counter::kDecapMpls, "decap.mpls.packets", "frames that came through an MPLS label stack"},
    {Counter::kDecapIpInIp, "decap.ip_in_ip.packets", "frames that came through IP-in-IP, 6in4, 4in6 or 6in6"},
    {Counter::kDecapPppoe, "decap.pppoe.packets", "frames that came through a PPPoE session"},
    {Counter::kDecapVxlanMalformed, "decap.vxlan.malformed", "VXLAN headers malformed (I flag clear, cut short)"},
    {Counter::kDecapGeneveMalformed, "decap.geneve.malformed", "Geneve headers malformed (version, options past the packet)"},
    {Counter::kDecapGreMalformed, "decap.gre.malformed", "GRE headers cut short"},
    {Counter::kDecapErspanMalformed, "decap.erspan.malformed", "ERSPAN headers malformed (version, cut short)"},
    {Counter::kDecapMplsMalformed, "decap.mpls.malformed", "MPLS stacks without a bottom label within 8 entries"},
    {Counter::kDecapIpInIpMalformed, "decap.ip_in_ip.malformed", "IP-in-IP headers malformed"},
    {Counter::kDecapPppoeMalformed, "decap.pppoe.malformed", "PPPoE session headers malformed"},
    {Counter::kDecapMirrorLost, "decap.mirror_lost", "packets a mirror session's GRE/ERSPAN sequence numbers skipped: lost by the mirror before the sensor (sensor.mirror_loss)"},
    {Counter::kDecapTunnelsUnrecorded, "decap.tunnels_unrecorded", "tunnelled flows whose tunnel's outer addresses were not recorded: 3584 distinct tunnels per worker already were (their events name the tunnel's type and identity only)"},
    {Counter::kFlowCreated, "flow.created", "flows inserted"},
    {Counter::kFlowExpired, "flow.expired", "flows removed after their state's idle timeout"},
    {Counter::kFlowEvicted, "flow.evicted", "flows evicted because the table was full"},
    {Counter::kFlowMidstream, "flow.midstream", "flows first seen after their handshake"},
    {Counter::kFlowWrongCore, "flow.wrong_core", "packets on the wrong worker: steered by another hash than their flow's first packet (broken RSS symmetry), or handed to a worker their hash does not map to"},
    {Counter::kFlowMirrorDuplicates, "flow.mirror_duplicates", "second copies of a packet within decap.duplicate_window_us (both ends mirrored, SPAN of both ports): counted, not inspected"},
    {Counter::kFlowColdExhausted, "flow.cold_records_exhausted", "packets whose inspector episode found every cold record taken: that packet's evidence was dropped (raise flows.cold_records)"},
    {Counter::kTcpHandshakeCompleted, "tcp.handshake_completed", "SYN, SYN-ACK and the ACK of the SYN-ACK seen"},
    {Counter::kTcpHandshakeFailed, "tcp.handshake_failed", "flows that ended with their SYN unanswered"},
    {Counter::kTcpHandshakeRefused, "tcp.handshake_refused", "SYNs answered by a RST"},
    {Counter::kTcpSynRetransmissions, "tcp.syn_retransmissions", "SYNs repeated with the same ISN"},
    {Counter::kTcpDuplicateSyns, "tcp.duplicate_syns", "same-ISN SYN copies within 100 ms (duplicated frames, not retransmissions)"},
    {Counter::kTcpAppRetries, "tcp.app_retries", "new SYNs with a new ISN on an unanswered 4-tuple"},
    {Counter::kTcpRetransmissions, "tcp.retransmissions", "segments carrying sequence space already seen"},
    {Counter::kTcpOutOfOrder, "tcp.out_of_order", "segments filling a sequence hole shortly after it opened"},
    {Counter::kTcpDupAcks, "tcp.dup_acks", "duplicate ACKs while data was outstanding"},
    {Counter::kTcpKeepalives, "tcp.keepalives", "keepalive probes (seq = SND.NXT-1, peer window open)"},
    {Counter::kTcpZeroWindowProbes, "tcp.zero_window_probes", "probes sent while the peer advertised zero window"},
    {Counter::kTcpRst, "tcp.rst", "RST segments"},
    {Counter::kTcpFin, "tcp.fin", "FIN segments (first per direction)"},
    {Counter::kIcmpFragNeeded, "icmp.frag_needed", "ICMP frag-needed / ICMPv6 packet-too-big quoting TCP"},
    {Counter::kIcmpMatched, "icmp.matched", "ICMP errors tied to a tracked flow"},
    {Counter::kIcmpUnmatched, "icmp.unmatched", "ICMP errors quoting a flow not in the table"},
    {Counter::kPayloadStreams, "payload.streams", "flow directions whose payload was scanned (a stream taken from the pool)"},
    {Counter::kPayloadScannedBytes, "payload.scanned_bytes", "payload bytes matched against the rules"},
    {Counter::kPayloadMatches, "payload.matches", "rule matches, including those that only tag a flow or are rate-limited"},
    {Counter::kPayloadScanLimit, "payload.scan_limit", "directions scanned up to payload.scan_bytes"},
    {Counter::kPayloadGaps, "payload.gaps", "directions whose scan a sequence gap ended (loss before the sensor or reordering)"},
    {Counter::kPayloadTruncated, "payload.truncated", "directions whose scan ended at payload the capture did not hold (snap length, IP fragment)"},
    {Counter::kPayloadRetransmittedBytes, "payload.retransmitted_bytes", "payload bytes not scanned again: already scanned when first sent"},
    {Counter::kPayloadMidstream, "payload.midstream", "directions not scanned: their SYN was not seen, so stream offsets are unknown"},
    {Counter::kPayloadPoolExhausted, "payload.pool_exhausted", "directions not scanned: every stream of payload.streams was in use"},
    {Counter::kPayloadReloadEnded, "payload.reload_ended", "directions whose scan stopped because a reload replaced the rules"},
    {Counter::kPayloadScanErrors, "payload.scan_errors", "Hyperscan errors while scanning (the direction stops)"},
    {Counter::kEventsEmitted, "events.emitted", "events queued for output"},
    {Counter::kEventsDropped, "events.dropped", "events lost to a full event ring"},
};

constexpr bool counter_table_matches_enum() noexcept {
    if (std::size(kCounterInfo) != kCounterCount) return false;
    for (std::size_t i = 0; i < std::size(kCounterInfo); ++i) {
        if (static_cast<std::size_t>(kCounterInfo[i].id) != i) return false;
    }
    return true;
}
static_assert(counter_table_matches_enum(), "kCounterInfo must list every Counter in enum order");

// No default: -Wswitch flags a new status without a counter.
constexpr Counter counter_for(ParseStatus s) noexcept {
    switch (s) {
        case ParseStatus::kOk: return Counter::kParseOk;
        case ParseStatus::kIcmpQuote: return Counter::kParseIcmpQuote;
        case ParseStatus::kTruncated: return Counter::kParseTruncated;
        case ParseStatus::kNotIp: return Counter::kParseNotIp;
        case ParseStatus::kBadL2: return Counter::kParseBadL2;
        case ParseStatus::kBadIpHeader: return Counter::kParseBadIpHeader;
        case ParseStatus::kBadIpLength: return Counter::kParseBadIpLength;
        case ParseStatus::kBadIpv6Ext: return Counter::kParseBadIpv6Ext;
        case ParseStatus::kFragment: return Counter::kParseFragment;
        case ParseStatus::kNotTcp: return Counter::kParseNotTcp;
        case ParseStatus::kBadTcpHeader: return Counter::kParseBadTcpHeader;
        case ParseStatus::kBadTcpOption: return Counter::kParseBadTcpOption;
        case ParseStatus::kBadIcmp: return Counter::kParseBadIcmp;
        case ParseStatus::kBadTunnel: return Counter::kParseBadTunnel;
        case ParseStatus::kTooDeep: return Counter::kParseTooDeep;
    }
    return Counter::kCount;
}

// decap.<kind>.packets and decap.<kind>.malformed for a tunnel kind other than kNone.
constexpr Counter decap_counter(TunnelType t, bool malformed) noexcept {
    const auto base = static_cast<std::size_t>(malformed ? Counter::kDecapVxlanMalformed : Counter::kDecapVxlan);
    return static_cast<Counter>(base + static_cast<std::size_t>(t) - 1);
}
static_assert(decap_counter(TunnelType::kPppoe, false) == Counter::kDecapPppoe);
static_assert(decap_counter(TunnelType::kPppoe, true) == Counter::kDecapPppoeMalformed);
static_assert(static_cast<std::size_t>(TunnelType::kPppoe) + 1 == kTunnelTypeCount);

// One per worker; only the owning core writes, others may read with relaxed loads.
class alignas(64) CoreCounters {
public:
    void add(Counter c, std::uint64_t n = 1) noexcept {
        auto& v = values_[static_cast<std::size_t>(c)];
        v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // single writer
    }
    std::uint64_t get(Counter c) const noexcept {
        return values_[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
    }

private:
    std::array<std::atomic<std::uint64_t>, kCounterCount> values_{};
};

}  // namespace tcpsleuth
