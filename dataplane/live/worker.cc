#include "worker.h"

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstring>

#include "dataplane/packet/parse.h"
#include "inspectors/flow/flow_key.h"
#include "tsc_clock.h"

namespace tcpsleuth::live {

WorkerShared::WorkerShared(const Config& cfg, unsigned index, unsigned workers, std::size_t event_ring,
                           std::size_t ports, std::uint64_t seed)
    : events(event_ring), table(cfg.flows.capacity, seed, cfg.flows.cold_records), sink(events, counters),
      pipeline(cfg, table, sink, counters), tx_dropped(ports) {
    table.number_flows(index + 1, workers);
    mailbox.packets.reserve(cfg.history.snap_bytes);
}

bool register_mbuf_fields(RunShared& run, std::string& error) {
    static const rte_mbuf_dynfield kFrameNumber = {
        .name = "tcpsleuth_frame_number",
        .size = sizeof(std::uint64_t),
        .align = alignof(std::uint64_t),
        .flags = 0,
    };
    run.frame_number_offset = rte_mbuf_dynfield_register(&kFrameNumber);
    if (run.frame_number_offset < 0) {
        error = "cannot register an mbuf field for frame numbers: " + std::string(rte_strerror(rte_errno));
        return false;
    }
    // Drivers that stamp packets register this pair themselves when started with the
    // timestamp offload; looking it up here finds their field and flag.
    run.timestamp_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
    const int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
    run.timestamp_flag = (run.timestamp_offset >= 0 && bit >= 0) ? (1ull << bit) : 0;

    return true;
}

namespace {

constexpr unsigned kMaxBurst = 256;

// Sends `n` packets on (port, queue), retrying a full queue at most `retries` times; what
// does not fit is freed and counted. Returns packets sent.
std::uint16_t send_bounded(std::uint16_t port, std::uint16_t queue, rte_mbuf** m, std::uint16_t n, unsigned retries,
                           std::atomic<std::uint64_t>& dropped) noexcept {
    std::uint16_t sent = rte_eth_tx_burst(port, queue, m, n);
    for (unsigned tries = 0; sent < n && tries < retries; ++tries) {
        rte_pause();
        sent += rte_eth_tx_burst(port, queue, m + sent, static_cast<std::uint16_t>(n - sent));
    }
    if (sent < n) {
        rte_pktmbuf_free_bulk(m + sent, n - sent);
        dropped.fetch_add(n - sent, std::memory_order_relaxed);
    }
    return sent;
}

class WorkerLoop {
public:
    WorkerLoop(RunShared& run, unsigned index)
        : run_(run), cfg_(*run.cfg), me_(*run.workers[index]), index_(index),
          workers_(static_cast<unsigned>(run.workers.size())), seq_(run.ports->ports.size(), 0) {}

    int main() noexcept {
        if (run_.ports->distribution == Distribution::kSoftware) {
            from_ring();
        } else {
            from_ports();
        }
        me_.flows_active.store(me_.table.size(), std::memory_order_relaxed);
        me_.state.store(WorkerState::kDrained, std::memory_order_release);
        while (run_.phase.load(std::memory_order_acquire) != Phase::kFinish) rte_delay_us_sleep(1000);
        // Every flow ends now. The main core drains the event ring meanwhile: wait for room
        // rather than lose the findings of the last flows (room for 256, or an empty ring
        // when it is smaller: waiting for more room than there is would never end).
        const std::size_t room = std::min<std::size_t>(256, me_.events.capacity());
        const auto make_room = [&] {
            while (me_.events.size() + room > me_.events.capacity()) rte_delay_us_sleep(100);
        };
        me_.pipeline.finish(run_.finish_ns.load(std::memory_order_acquire), make_room);
        me_.flows_active.store(me_.table.size(), std::memory_order_relaxed);
        me_.state.store(WorkerState::kDone, std::memory_order_release);
        return 0;
    }

private:
    // Direct from the ports: queue `index_` of each.
    void from_ports() noexcept {
        const auto& ports = run_.ports->ports;
        const bool numbered = workers_ == 1;  // one queue per port: arrival order is frame order
        const auto q = static_cast<std::uint16_t>(index_);
        std::uint64_t idle_polls = 0;
        unsigned drain_rounds = 0;
        for (;;) {
            const bool stopping = run_.phase.load(std::memory_order_relaxed) != Phase::kRun;
            bool any = false;
            for (std::size_t p = 0; p < ports.size(); ++p) {
                const std::uint16_t n = rte_eth_rx_burst(ports[p].id, q, mbufs_, burst());
                if (n == 0) continue;
                any = true;
                if (numbered) {
                    for (std::uint16_t i = 0; i < n; ++i) *frame_number(mbufs_[i]) = ++seq_[p];
                }
                const unsigned kept = inspect_and_impair(mbufs_, n, numbered, ports[p].peer >= 0);
                if (ports[p].peer >= 0) {
                    const Port& out = ports[static_cast<std::size_t>(ports[p].peer)];
                    send_bounded(out.id, q, mbufs_, static_cast<std::uint16_t>(kept), cfg_.workers.tx_retries,
                                 me_.tx_dropped[static_cast<std::size_t>(ports[p].peer)]);
                    send_replies();
                } else {
                    rte_pktmbuf_free_bulk(mbufs_, n);
                }
            }
            any |= release_held();
            serve_mailbox();
            // Stopped: take what the queues hold, but not forever while traffic keeps coming.
            if (stopping && (!any || ++drain_rounds > 64)) {
                flush_held();
                return;
            }
            if (any) {
                idle_polls = 0;
            } else {
                idle(idle_polls);
            }
        }
    }

    // From the I/O core's ring.
    void from_ring() noexcept {
        const bool inline_mode = cfg_.mode == RunMode::kInline;
        std::uint64_t idle_polls = 0;
        for (;;) {
            const bool io_done = run_.io->stopped.load(std::memory_order_acquire);
            unsigned n = rte_ring_sc_dequeue_burst(me_.in, reinterpret_cast<void**>(mbufs_), burst(), nullptr);
            const bool released = release_held();
            serve_mailbox();
            if (n == 0) {
                if (io_done) {
                    flush_held();
                    return;
                }
                if (released) continue;
                idle(idle_polls);
                continue;
            }
            idle_polls = 0;
            for (unsigned i = 0; i < n; ++i) {
                if (mbufs_[i]->hash.rss % workers_ != index_) me_.counters.add(Counter::kFlowWrongCore);
            }
            if (!inline_mode) {
                inspect(mbufs_, n, true);
                rte_pktmbuf_free_bulk(mbufs_, n);
                continue;
            }
            n = inspect_and_impair(mbufs_, n, true, true);
            hand_back(mbufs_, n);
            send_replies();
        }
    }

    // Software distribution, inline: packets to the I/O core, which sends each to the peer
    // of the port its mbuf names.
    void hand_back(rte_mbuf** m, unsigned n) noexcept {
        unsigned handed = rte_ring_sp_enqueue_burst(me_.back, reinterpret_cast<void**>(m), n, nullptr);
        for (unsigned tries = 0; handed < n && tries < cfg_.workers.tx_retries; ++tries) {
            rte_pause();
            handed += rte_ring_sp_enqueue_burst(me_.back, reinterpret_cast<void**>(m + handed), n - handed, nullptr);
        }
        for (unsigned i = handed; i < n; ++i) {
            me_.tx_dropped[static_cast<std::size_t>(peer_of(m[i]))].fetch_add(1, std::memory_order_relaxed);
            rte_pktmbuf_free(m[i]);
        }
    }

    int peer_of(const rte_mbuf* m) const noexcept {
        return run_.ports->ports[static_cast<std::size_t>(run_.port_index[m->port])].peer;
    }

    // Packets the rules did not take from the burst: sent out of port index `out` now (a
    // held packet come due, a device's own RST or ICMP). Software distribution hands them to
    // the I/O core, naming the port whose peer `out` is.
    void emit(rte_mbuf** m, unsigned n, std::size_t out) noexcept {
        if (n == 0) return;
        const auto& ports = run_.ports->ports;
        if (run_.ports->distribution == Distribution::kSoftware) {
            const std::uint16_t from = ports[static_cast<std::size_t>(ports[out].peer)].id;
            for (unsigned i = 0; i < n; ++i) m[i]->port = from;
            hand_back(m, n);
            return;
        }
        send_bounded(ports[out].id, static_cast<std::uint16_t>(index_), m, static_cast<std::uint16_t>(n), cfg_.workers.tx_retries,
                     me_.tx_dropped[out]);
    }

    // Held packets come due: on to the peer of the port they came in on, inspected there if
    // they travel toward the sensor's side. True when any moved.
    bool release_held() noexcept {
        Impairer* impair = me_.impair.get();
        if (impair == nullptr || impair->holding() == 0) return false;
        const std::uint64_t now = clock_.now_ns();
        bool any = false;
        for (;;) {
            const unsigned n = impair->release(now, released_, kMaxBurst);
            send_released(n);
            any |= n != 0;
            if (n < kMaxBurst) return any;
        }
    }

    // Every held packet goes now: the rules are being replaced, or the run stops.
    void flush_held() noexcept {
        Impairer* impair = me_.impair.get();
        if (impair == nullptr) return;
        for (unsigned n; (n = impair->flush(released_, kMaxBurst)) != 0;) send_released(n);
    }

    void send_released(unsigned n) noexcept {
        const bool server_side = cfg_.inspect_server_side;
        rte_mbuf* seen[kMaxBurst];
        unsigned seen_n = 0, kept = 0;
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* b = reinterpret_cast<rte_mbuf*>(released_[i].token);
            if (released_[i].dropped) {
                rte_pktmbuf_free(b);
                continue;
            }
            if (released_[i].client_sent == server_side) seen[seen_n++] = b;  // sent from the far side
            mbufs_out_[kept++] = b;
        }
        if (seen_n != 0) inspect(seen, seen_n, run_.ports->distribution == Distribution::kSoftware || workers_ == 1);
        // Runs bound for the same port go out together, in order.
        for (unsigned start = 0; start < kept;) {
            unsigned end = start + 1;
            while (end < kept && mbufs_out_[end]->port == mbufs_out_[start]->port) ++end;
            emit(mbufs_out_ + start, end - start, static_cast<std::size_t>(peer_of(mbufs_out_[start])));
            start = end;
        }
    }

    // The packets the last apply() made, from the pool of the port the provoking packet
    // came in on, to go back out of that port to its sender or on through the peer. They
    // leave after the burst that provoked them (a RST must not overtake the segments before
    // it); those bound toward the sensor's side are inspected among the burst's far packets,
    // in order.
    void stage_replies(const Impairer& impair, const rte_mbuf* cause, rte_mbuf** seen, unsigned& seen_n) noexcept {
        const std::size_t in = static_cast<std::size_t>(run_.port_index[cause->port]);
        const Port& port = run_.ports->ports[in];
        for (unsigned i = 0; i < impair.replies(); ++i) {
            const Impairer::Reply& r = impair.reply(i);
            const std::size_t out = r.to_sender ? in : static_cast<std::size_t>(port.peer);
            rte_mbuf* m = reply_n_ < kMaxReplies ? rte_pktmbuf_alloc(port.pool) : nullptr;
            char* data = m != nullptr ? rte_pktmbuf_append(m, static_cast<std::uint16_t>(r.len)) : nullptr;
            if (data == nullptr) {
                if (m != nullptr) rte_pktmbuf_free(m);
                me_.tx_dropped[out].fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            std::memcpy(data, r.frame, r.len);
            m->port = cause->port;
            *frame_number(m) = 0;
            if (r.to_client != cfg_.inspect_server_side) seen[seen_n++] = m;
            reply_[reply_n_] = m;
            reply_out_[reply_n_++] = out;
        }
    }

    void send_replies() noexcept {
        for (unsigned i = 0; i < reply_n_; ++i) emit(&reply_[i], 1, reply_out_[i]);
        reply_n_ = 0;
    }

    unsigned burst() const noexcept { return std::min(cfg_.workers.burst, kMaxBurst); }

    // Forwarded packets meet the [[impair]] rules. Inspection stands on one side of them
    // ([inline] inspect): the packets sent from that side are inspected before the rules, the
    // others after (a burst comes from one port, so each flow's packets keep their order).
    // Dropped packets are freed here; the kept ones close up in `m`, their count returned.
    unsigned inspect_and_impair(rte_mbuf** m, unsigned n, bool numbered, bool forwarded) noexcept {
        Impairer* impair = forwarded ? me_.impair.get() : nullptr;
        if (impair == nullptr) {
            inspect(m, n, numbered);
            return n;
        }
        const bool server_side = cfg_.inspect_server_side;
        rte_mbuf* near[kMaxBurst];  // sent from the sensor's side: inspected as they arrive
        unsigned near_n = 0;
        for (unsigned i = 0; i < n; ++i) {
            impair->look(rte_pktmbuf_mtod(m[i], const std::uint8_t*), m[i]->data_len, looked_[i]);
            looked_[i].token = reinterpret_cast<std::uintptr_t>(m[i]);
            after_[i] = looked_[i].client_sent == server_side;
            if (!after_[i]) near[near_n++] = m[i];
        }
        // Mostly a burst comes whole from one side: then it is inspected as it is.
        if (near_n == n) {
            inspect(m, n, numbered);
        } else if (near_n != 0) {
            inspect(near, near_n, numbered);
        }
        unsigned kept = 0, far_n = 0;
        rte_mbuf* far[kMaxBurst + kMaxReplies];
        const std::uint64_t now = clock_.now_ns();
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* b = m[i];
            std::uint32_t len = b->data_len;
            // A frame over several segments is passed as it is (the rules need it whole).
            const ImpairVerdict verdict =
                b->nb_segs == 1 ? impair->apply(rte_pktmbuf_mtod(b, std::uint8_t*), len, looked_[i], now) : ImpairVerdict::kPass;
            if (len < b->data_len) rte_pktmbuf_trim(b, static_cast<std::uint16_t>(b->data_len - len));
            if (impair->replies() != 0) stage_replies(*impair, b, far, far_n);
            if (verdict == ImpairVerdict::kDrop) {
                rte_pktmbuf_free(b);
                continue;
            }
            if (verdict == ImpairVerdict::kHold) continue;  // inspected, if at all, when it leaves
            if (after_[i]) far[far_n++] = b;
            m[kept++] = b;
        }
        if (far_n != 0) inspect(far, far_n, numbered);
        return kept;
    }

    std::uint64_t* frame_number(rte_mbuf* m) const noexcept {
        return RTE_MBUF_DYNFIELD(m, run_.frame_number_offset, std::uint64_t*);
    }

    // When the frame arrived: the driver's timestamp where the port gives one, else the TSC.
    std::uint64_t arrival_ns(const rte_mbuf* b, std::uint64_t now) noexcept {
        const std::uint32_t scale = run_.timestamp_ns[b->port];
        if (scale != 0 && (b->ol_flags & run_.timestamp_flag) != 0) {
            packet_time_ = true;
            return *RTE_MBUF_DYNFIELD(b, run_.timestamp_offset, const std::uint64_t*) * scale;
        }
        return now;
    }

    // Two-point mode: each packet of a point port is reduced and queued for the main core's
    // comparison; the pipeline inspects the other ports' packets and the inspected point's.
    void inspect(rte_mbuf** m, unsigned n, bool numbered) noexcept {
        if (me_.points == nullptr) {
            inspect_all(m, n, numbered);
            return;
        }
        for (unsigned done = 0; done < n;) {
            const unsigned k = std::min<unsigned>(n - done, kMaxBurst);
            rte_mbuf* seen[kMaxBurst];
            unsigned seen_n = 0;
            const std::uint64_t now = clock_.now_ns();
            for (unsigned i = 0; i < k; ++i) {
                rte_mbuf* b = m[done + i];
                const std::uint8_t point = run_.point_of_port[b->port];
                if (point != 0 &&
                    reduce_point_frame(rte_pktmbuf_mtod(b, const std::uint8_t*), b->data_len, b->pkt_len, arrival_ns(b, now),
                                       cfg_.inspect.decap, static_cast<std::uint8_t>(point - 1), point_record_) &&
                    !me_.points->try_push(point_record_)) {
                    me_.points_lost.fetch_add(1, std::memory_order_relaxed);
                }
                if (point == 0 || point == run_.inspected_point) seen[seen_n++] = b;
            }
            if (seen_n != 0) inspect_all(seen, seen_n, numbered);
            done += k;
        }
    }

    void inspect_all(rte_mbuf** m, unsigned n, bool numbered) noexcept {
        for (unsigned done = 0; done < n;) {
            const unsigned k = std::min<unsigned>(n - done, Pipeline::kBurst);
            const std::uint64_t now = clock_.now_ns();
            for (unsigned i = 0; i < k; ++i) {
                rte_mbuf* b = m[done + i];
                RawPacket& r = raw_[i];
                r.data = rte_pktmbuf_mtod(b, const std::uint8_t*);
                r.cap_len = b->data_len;  // first segment: headers are there
                r.wire_len = b->pkt_len;
                r.ts_ns = arrival_ns(b, now);
                r.number = numbered ? *frame_number(b) : 0;
                r.steer = (b->ol_flags & RTE_MBUF_F_RX_RSS_HASH) != 0 ? b->hash.rss : 0;
            }
            if (last_ts_ == 0) me_.first_ts_ns.store(raw_[0].ts_ns, std::memory_order_relaxed);
            me_.pipeline.process_burst(raw_, k, LinkType::kEthernet);
            last_ts_ = std::max(last_ts_, raw_[k - 1].ts_ns);
            done += k;
        }
        me_.last_ts_ns.store(last_ts_, std::memory_order_relaxed);
        me_.flows_active.store(me_.table.size(), std::memory_order_relaxed);
    }

    void idle(std::uint64_t& polls) noexcept {
        ++polls;
        if (polls % 4096 == 0) idle_tick();
        if (cfg_.workers.idle_sleep_us != 0 && polls >= 1024) rte_delay_us_sleep(cfg_.workers.idle_sleep_us);
    }

    // A control question, a slice at a time: 4096 slots cost about as much as a burst, so a
    // scan of a million flows spreads over a few hundred bursts instead of stalling one.
    void serve_mailbox() noexcept {
        Mailbox& m = me_.mailbox;
        if (m.state.load(std::memory_order_acquire) != Mailbox::kPosted) return;
        constexpr std::uint32_t kSlotsPerCall = 4096;
        bool done = true;
        switch (m.kind) {
            case Mailbox::Kind::kFlows:
                if (!m.started) m.scan.start(m.query);
                done = m.scan.step(me_.table, kSlotsPerCall, &me_.pipeline.tunnels());
                break;
            case Mailbox::Kind::kFlow: {
                if (!m.started) m.cursor = 0;
                const FlowState* f = find_flow_id(me_.table, m.flow_id, m.cursor, kSlotsPerCall);
                m.found = f != nullptr;
                if (m.found) m.flow = *f;
                done = m.found || m.cursor >= me_.table.slots();
                break;
            }
            case Mailbox::Kind::kConfig:
                me_.pipeline.reconfigure(m.config);
                if (m.impair_swap) {
                    // Rules kept by name and settings keep their state and held packets; what
                    // the old ones still hold goes now.
                    if (m.impair != nullptr && me_.impair != nullptr) m.impair->adopt(*me_.impair);
                    flush_held();
                    std::swap(me_.impair, m.impair);
                }
                break;
            case Mailbox::Kind::kPackets: {
                // First the flow, by id, for its key; then its packets in the history.
                if (!m.started) {
                    m.cursor = 0;
                    m.scanning = false;
                }
                if (!m.scanning && m.by_key) {
                    m.found = true;
                    m.flow = FlowState{};
                    m.flow.common.key = m.key;
                    m.packets.start(me_.table.hash(m.key), me_.pipeline.history());
                    m.scanning = true;
                    done = false;
                    break;
                }
                if (!m.scanning) {
                    const FlowState* f = find_flow_id(me_.table, m.flow_id, m.cursor, kSlotsPerCall);
                    m.found = f != nullptr;
                    if (m.found) {
                        m.flow = *f;
                        m.packets.start(me_.table.hash(f->common.key), me_.pipeline.history());
                        m.scanning = true;
                        done = false;
                    } else {
                        done = m.cursor >= me_.table.slots();
                    }
                    break;
                }
                done = m.packets.step(me_.pipeline.history(), kSlotsPerCall);
                break;
            }
        }
        m.started = !done;
        if (done) m.state.store(Mailbox::kAnswered, std::memory_order_release);
    }

    // Nothing arrived for a while: flows still age on the wall clock, and the counters the
    // main core shows stay fresh.
    void idle_tick() noexcept {
        // Packet-time ports (a replay) have no "now" between packets: their flows age by
        // the packets that follow.
        if (!packet_time_) {
            me_.pipeline.sweep(clock_.now_ns(), me_.pipeline.config().flows.sweep_budget);
        }
        me_.flows_active.store(me_.table.size(), std::memory_order_relaxed);
    }

    RunShared& run_;
    const DaemonConfig& cfg_;
    WorkerShared& me_;
    const unsigned index_;
    const unsigned workers_;
    TscClock clock_;
    std::uint64_t last_ts_ = 0;
    bool packet_time_ = false;
    std::vector<std::uint64_t> seq_;
    rte_mbuf* mbufs_[kMaxBurst];
    bool after_[kMaxBurst] = {};  // inspect_and_impair: this packet is inspected after the rules
    // Inline: the rules' parse of each packet of a burst (rules may come with a reload).
    std::unique_ptr<ImpairPacket[]> looked_ =
        cfg_.mode == RunMode::kInline ? std::make_unique<ImpairPacket[]>(kMaxBurst) : nullptr;
    Impairer::Released released_[kMaxBurst];
    static constexpr unsigned kMaxReplies = 2 * kMaxBurst;  // two per packet at most (inject_rst)
    rte_mbuf* reply_[kMaxReplies];  // the device's own packets of this burst, sent after it
    std::size_t reply_out_[kMaxReplies];
    unsigned reply_n_ = 0;
    rte_mbuf* mbufs_out_[kMaxBurst];
    RawPacket raw_[Pipeline::kBurst];
    PointRecord point_record_;  // two-point mode: the packet being reduced
};

// The software distributor. One instance, on its own lcore.
class IoLoop {
public:
    explicit IoLoop(RunShared& run)
        : run_(run), cfg_(*run.cfg), ports_(run.ports->ports), workers_(static_cast<unsigned>(run.workers.size())),
          seq_(ports_.size(), 0), staged_(workers_), staged_n_(workers_, 0) {
        for (auto& s : staged_) s.resize(kMaxBurst);
        replay_reserve_ = cfg_.dpdk.mbuf_cache * 3 / 2 * (workers_ + 2) + 2 * kMaxBurst;
    }

    int main() noexcept {
        const bool inline_mode = cfg_.mode == RunMode::kInline;
        const unsigned burst = std::min(cfg_.workers.burst, kMaxBurst);
        std::uint64_t idle_polls = 0;
        while (run_.phase.load(std::memory_order_relaxed) == Phase::kRun) {
            unsigned moved = 0;
            for (std::size_t p = 0; p < ports_.size(); ++p) {
                // A file is read no faster than workers free buffers: the pcap driver drops a
                // packet it has read when it finds no free mbuf. Free buffers parked in other
                // lcores' caches count as available but cannot be had from here.
                if (ports_[p].replay && rte_mempool_avail_count(ports_[p].pool) < replay_reserve_) continue;
                const std::uint16_t n = rte_eth_rx_burst(ports_[p].id, 0, mbufs_, static_cast<std::uint16_t>(burst));
                if (n != 0) distribute(p, n);
                moved += n;
            }
            if (inline_mode) moved += send_back();
            if (moved != 0) {
                idle_polls = 0;
            } else if (++idle_polls >= 1024 && cfg_.workers.idle_sleep_us != 0) {
                rte_delay_us_sleep(cfg_.workers.idle_sleep_us);
            }
        }
        run_.io->stopped.store(true, std::memory_order_release);
        // Inline: keep sending what workers hand back until they have drained.
        while (inline_mode) {
            const bool all_drained = std::all_of(run_.workers.begin(), run_.workers.end(), [](const auto& w) {
                return w->state.load(std::memory_order_acquire) != WorkerState::kRunning;
            });
            send_back();
            if (all_drained && std::all_of(run_.workers.begin(), run_.workers.end(),
                                           [](const auto& w) { return rte_ring_empty(w->back) != 0; })) {
                break;
            }
        }
        return 0;
    }

private:
    void distribute(std::size_t port, std::uint16_t n) noexcept {
        run_.io->rx_packets.fetch_add(n, std::memory_order_relaxed);
        for (std::uint16_t i = 0; i < n; ++i) {
            rte_mbuf* m = mbufs_[i];
            *RTE_MBUF_DYNFIELD(m, run_.frame_number_offset, std::uint64_t*) = ++seq_[port];
            const std::uint32_t steer = steer_frame(m);
            m->hash.rss = steer;
            m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
            const unsigned w = steer % workers_;
            staged_[w][staged_n_[w]++] = m;
        }
        for (unsigned w = 0; w < workers_; ++w) {
            const unsigned k = staged_n_[w];
            if (k == 0) continue;
            unsigned put = rte_ring_sp_enqueue_burst(run_.workers[w]->in, reinterpret_cast<void**>(staged_[w].data()), k, nullptr);
            while (put < k && ports_[port].replay) {
                rte_pause();
                put += rte_ring_sp_enqueue_burst(run_.workers[w]->in, reinterpret_cast<void**>(staged_[w].data() + put), k - put, nullptr);
            }
            if (put < k) {
                // A worker that cannot keep up loses packets here, counted; inline, they are
                // lost to the wire too (the alternative, waiting, would stall every flow).
                rte_pktmbuf_free_bulk(staged_[w].data() + put, k - put);
                run_.io->ring_full[w].fetch_add(k - put, std::memory_order_relaxed);
            }
            staged_n_[w] = 0;
        }
    }

    // The worker that owns a frame's flow: TCP by its flow key, an ICMP error by the flow it
    // quotes; anything else to worker 0, which counts it.
    std::uint32_t steer_frame(const rte_mbuf* m) noexcept {
        // The inner flow of a tunnelled frame, keyed as the workers key it.
        const DecapConfig& decap = cfg_.inspect.decap;
        view_.wire_len = m->pkt_len;
        const ParseStatus st =
            parse_packet(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, LinkType::kEthernet, view_, decap);
        Dir dir;
        if (st == ParseStatus::kOk || st == ParseStatus::kBadTcpOption) {
            return steer_hash(make_flow_key(view_, dir, decap.tunnel_in_key));
        }
        if (st == ParseStatus::kIcmpQuote) return steer_hash(make_quoted_flow_key(view_, dir, decap.tunnel_in_key));
        return workers_;  // % workers_ == 0
    }

    unsigned send_back() noexcept {
        unsigned total = 0;
        for (unsigned w = 0; w < workers_; ++w) {
            const unsigned n = rte_ring_sc_dequeue_burst(run_.workers[w]->back, reinterpret_cast<void**>(out_), kMaxBurst, nullptr);
            // Runs of packets bound for the same port go out together, in order.
            for (unsigned start = 0; start < n;) {
                const int peer = ports_[static_cast<std::size_t>(run_.port_index[out_[start]->port])].peer;
                unsigned end = start + 1;
                while (end < n && out_[end]->port == out_[start]->port) ++end;
                send_bounded(ports_[static_cast<std::size_t>(peer)].id, 0, out_ + start, static_cast<std::uint16_t>(end - start),
                             cfg_.workers.tx_retries, run_.io->tx_dropped[static_cast<std::size_t>(peer)]);
                start = end;
            }
            total += n;
        }
        return total;
    }

    RunShared& run_;
    const DaemonConfig& cfg_;
    const std::vector<Port>& ports_;
    const unsigned workers_;
    std::vector<std::uint64_t> seq_;
    unsigned replay_reserve_ = 0;
    std::vector<std::vector<rte_mbuf*>> staged_;
    std::vector<unsigned> staged_n_;
    PacketView view_;
    rte_mbuf* mbufs_[kMaxBurst];
    rte_mbuf* out_[kMaxBurst];
};

}  // namespace

int worker_main(void* arg) {
    auto* a = static_cast<LcoreArg*>(arg);
    auto loop = std::make_unique<WorkerLoop>(*a->run, a->worker);
    return loop->main();
}

int io_main(void* arg) {
    auto* a = static_cast<LcoreArg*>(arg);
    auto loop = std::make_unique<IoLoop>(*a->run);
    return loop->main();
}

}  // namespace tcpsleuth::live
