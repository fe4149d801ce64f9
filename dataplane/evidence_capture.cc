#include "dataplane/evidence_capture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string_view>

#include "dataplane/packet/parse.h"
#include "dataplane/pcap/pcapng_writer.h"
#include "inspectors/flow/flow_key.h"
#include "inspectors/output/event_format.h"
#include "inspectors/output/report.h"

namespace tcpsleuth {

struct EvidenceCaptures::Frame {
    std::uint64_t number = 0;
    std::uint64_t ts_ns = 0;
    LinkType link = LinkType::kEthernet;
    std::uint32_t wire_len = 0;
    std::vector<std::uint8_t> data;
    bool handshake = false;
};

// What the second read keeps per flow that has findings: its latest packets and the
// handshake of its latest connection, from which a finding's capture begins.
struct EvidenceCaptures::Trail {
    std::deque<Frame> recent;         // the flow's last kContextPackets packets
    std::vector<Frame> handshake;     // from the latest SYN (no ACK): at most 3 packets
    std::vector<Finding*> findings;   // this flow's, in the order they were planned
};

struct EvidenceCaptures::Finding {
    enum class Phase { kBefore, kDuring, kAfter, kDone };
    Event finding;
    std::size_t seq = 0;  // 1 for the run's first planned finding, ...
    std::string path;   // the capture; empty: none asked for
    std::string plot;        // the plot's file; empty: none
    bool keep_plot = false;  // drawn for the HTML report (also without a file)
    bool drawn() const { return !plot.empty() || keep_plot; }
    std::string event;
    std::string description;  // the file's comment: event, severity, confidence, summary
    FlowKey key;
    bool has_flow = false;
    bool client_is_lo = true;
    std::vector<std::uint64_t> numbers;  // evidence packets, ascending
    Phase phase = Phase::kBefore;
    unsigned after_left = kContextPackets;
    std::uint32_t between_kept = 0;
    std::uint32_t left_out = 0;        // flow packets between the evidence not kept, so far
    std::vector<Frame> frames;         // ascending packet numbers
    std::vector<std::uint32_t> gaps;   // per frame: flow packets left out just before it

    void add(const Frame& f) {
        if (!frames.empty() && frames.back().number >= f.number) return;  // kept already
        frames.push_back(f);
        gaps.push_back(left_out);
        left_out = 0;
    }
    bool is_evidence(std::uint64_t n) const { return std::binary_search(numbers.begin(), numbers.end(), n); }
};

namespace {

std::string flag_names(std::uint8_t f) {
    static constexpr std::pair<std::uint8_t, const char*> kNames[] = {
        {kSyn, "SYN"}, {kFin, "FIN"}, {kRst, "RST"}, {kPsh, "PSH"}, {kAck, "ACK"}, {kUrg, "URG"}, {kEce, "ECE"}, {kCwr, "CWR"}};
    std::string out;
    for (const auto& [bit, name] : kNames) {
        if (f & bit) out += (out.empty() ? "" : " ") + std::string(name);
    }
    return out.empty() ? "no flags" : out;
}

}  // namespace

bool prepare_evidence_dir(const std::string& dir, std::string& error) {
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0 && mkdir(dir.c_str(), 0755) != 0) {
        error = dir + ": cannot create the evidence directory: " + std::strerror(errno);
        return false;
    }
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || access(dir.c_str(), W_OK) != 0) {
        error = dir + ": not a directory tcpsleuth can write to";
        return false;
    }
    return true;
}

std::string pipe_among(const std::vector<std::string>& inputs) {
    for (const std::string& in : inputs) {
        struct stat st {};
        if (in == "-") return "standard input";
        if (stat(in.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) return in;
    }
    return {};
}

std::string evidence_file_name(std::size_t seq, const Event& e) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04zu-%.*s-flow%llu.pcapng", seq, static_cast<int>(event_name(e).size()),
                  event_name(e).data(), static_cast<unsigned long long>(e.flow_id));
    return buf;
}

std::string evidence_description(const Event& e) {
    return "tcpsleuth " + std::string(event_name(e)) + " (" + std::string(to_string(e.severity)) + ", confidence " +
           std::string(to_string(e.confidence)) + "): " + event_summary(e);
}

bool EvidenceCaptures::KeyLess::operator()(const FlowKey& a, const FlowKey& b) const noexcept {
    return std::memcmp(&a, &b, sizeof a) < 0;  // any total order: the key has no padding
}

EvidenceCaptures::EvidenceCaptures(EvidenceOutputs outputs, const DecapConfig& decap)
    : out_(std::move(outputs)), decap_(decap) {
    for (std::string* dir : {&out_.pcap_dir, &out_.plot_dir}) {
        while (dir->size() > 1 && dir->back() == '/') dir->pop_back();
    }
}

std::string EvidenceCaptures::plot_svg(std::size_t number) const {
    const auto it = kept_plots_.find(number);
    return it != kept_plots_.end() ? it->second : std::string();
}

EvidenceCaptures::~EvidenceCaptures() = default;

bool EvidenceCaptures::wants(const Event& e) noexcept {
    return e.severity >= Severity::kWarning && (e.flow_id != 0 || e.packets.count != 0);
}

EvidenceFiles EvidenceCaptures::plan(const Event& e) {
    auto f = std::make_unique<Finding>();
    f->finding = e;
    f->seq = findings_.size() + 1;
    const std::string name = evidence_file_name(findings_.size() + 1, e);
    if (!out_.pcap_dir.empty()) f->path = out_.pcap_dir + "/" + name;
    // Every finding planned here (wants(e)) is drawn when plots are asked for.
    f->keep_plot = out_.keep_plots && ++kept_per_kind_[std::string(event_name(e))] <= Report::kHtmlFindingsPerKind;
    if (!out_.plot_dir.empty()) f->plot = out_.plot_dir + "/" + name.substr(0, name.rfind('.')) + ".svg";
    f->event = std::string(event_name(e));
    f->description = evidence_description(e);
    f->key = e.key;
    f->has_flow = e.flow_id != 0;
    f->client_is_lo = e.client_is_lo;
    for (unsigned i = 0; i < e.packets.count; ++i) f->numbers.push_back(e.packets.nums[i]);
    std::sort(f->numbers.begin(), f->numbers.end());
    f->numbers.erase(std::unique(f->numbers.begin(), f->numbers.end()), f->numbers.end());
    for (const std::uint64_t n : f->numbers) by_number_[n].push_back(f.get());
    if (f->has_flow) {
        std::unique_ptr<Trail>& trail = trails_[f->key];
        if (!trail) trail = std::make_unique<Trail>();
        trail->findings.push_back(f.get());
    }
    const Finding& planned = *f;
    findings_.push_back(std::move(f));
    return {.pcap = planned.path,
            .plot = planned.plot,
            .plot_number = planned.keep_plot ? planned.seq : 0};
}

std::size_t EvidenceCaptures::write(CaptureReader& reader, std::vector<std::string>& errors) {
    if (findings_.empty()) return 0;
    origins_ = reader.origins();
    RawPacket burst[Pipeline::kBurst];
    for (;;) {
        const std::size_t n = reader.next_burst(burst, Pipeline::kBurst);
        if (n == 0) break;
        for (std::size_t i = 0; i < n; ++i) on_frame(burst[i], reader.link());
    }
    for (auto& f : findings_) {
        if (f->phase == Finding::Phase::kDone) continue;
        if (f->numbers.empty() && f->has_flow) {
            // No packet named (a verdict on the flow as a whole): its handshake and last packets.
            const Trail& t = *trails_.find(f->key)->second;
            std::vector<Frame> tail(t.handshake.begin(), t.handshake.end());
            tail.insert(tail.end(), t.recent.begin(), t.recent.end());
            std::stable_sort(tail.begin(), tail.end(), [](const Frame& a, const Frame& b) { return a.number < b.number; });
            for (const Frame& fr : tail) f->add(fr);
        }
        finish(*f);
    }
    errors.insert(errors.end(), errors_.begin(), errors_.end());
    errors_.clear();
    return written_;
}

void EvidenceCaptures::on_frame(const RawPacket& raw, LinkType link) {
    PacketView v;
    v.ts_ns = raw.ts_ns;
    v.number = raw.number;
    v.wire_len = raw.wire_len;
    const ParseStatus st = parse_packet(raw.data, raw.cap_len, link, v, decap_);
    Trail* trail = nullptr;
    const FlowKey* key = nullptr;
    FlowKey k;
    if (st == ParseStatus::kOk || st == ParseStatus::kBadTcpOption) {
        Dir d;
        k = make_flow_key(v, d, decap_.tunnel_in_key);
        if (auto it = trails_.find(k); it != trails_.end()) {
            trail = it->second.get();
            key = &it->first;
        }
    }
    const auto evidence = by_number_.find(raw.number);
    if (trail == nullptr && evidence == by_number_.end()) return;

    Frame frame;
    frame.number = raw.number;
    frame.ts_ns = raw.ts_ns;
    frame.link = link;
    frame.wire_len = raw.wire_len;
    frame.data.assign(raw.data, raw.data + raw.cap_len);

    // Findings this packet moves on: those it is evidence for, and those of its flow.
    std::vector<Finding*> touched;
    if (evidence != by_number_.end()) touched = evidence->second;
    if (trail != nullptr) {
        for (Finding* f : trail->findings) {
            if (f->phase != Finding::Phase::kDone && std::find(touched.begin(), touched.end(), f) == touched.end()) {
                touched.push_back(f);
            }
        }
    }
    for (Finding* f : touched) {
        if (f->phase == Finding::Phase::kDone) continue;
        const bool is_evidence = f->is_evidence(raw.number);
        if (f->phase == Finding::Phase::kBefore) {
            if (!is_evidence) continue;
            // The first evidence packet: the capture begins with the handshake and the
            // packets just before it.
            if (f->has_flow) {
                const Trail& t = *trails_.find(f->key)->second;
                std::vector<Frame> before(t.handshake.begin(), t.handshake.end());
                before.insert(before.end(), t.recent.begin(), t.recent.end());
                // By number; a packet both in the handshake and among the recent ones keeps
                // its handshake mark (Finding::add keeps the first of equal numbers).
                std::stable_sort(before.begin(), before.end(),
                                 [](const Frame& a, const Frame& b) { return a.number < b.number; });
                for (const Frame& b : before) {
                    if (b.number < raw.number) f->add(b);
                }
            }
            f->phase = Finding::Phase::kDuring;
        }
        if (f->phase == Finding::Phase::kDuring) {
            if (is_evidence || f->between_kept < kMaxBetween) {
                f->add(frame);
                if (!is_evidence) ++f->between_kept;
            } else {
                ++f->left_out;
            }
            if (raw.number >= f->numbers.back()) f->phase = Finding::Phase::kAfter;
            continue;
        }
        if (f->phase == Finding::Phase::kAfter && key != nullptr && f->has_flow && f->key == *key) {
            f->add(frame);
            if (--f->after_left == 0) finish(*f);
        }
    }

    if (trail != nullptr) {
        const bool pure_syn = (v.tcp.flags & (kSyn | kAck)) == kSyn;
        frame.handshake = true;
        if (pure_syn) {
            trail->handshake.assign(1, frame);
        } else if (!trail->handshake.empty() && trail->handshake.size() < 3) {
            trail->handshake.push_back(frame);
        }
        frame.handshake = false;
        trail->recent.push_back(std::move(frame));
        if (trail->recent.size() > kContextPackets) trail->recent.pop_front();
    }
}

void EvidenceCaptures::draw(Finding& f, std::vector<plot::Packet>& packets) {
    plot::Input in;
    in.event = f.finding;
    in.packets = std::move(packets);
    plot::Model m = plot::plot_model(in);
    m.id = "finding" + std::to_string(f.seq);
    std::string svg = plot::render_svg(m);
    if (!f.plot.empty()) {
        std::FILE* file = std::fopen(f.plot.c_str(), "w");
        const bool ok = file != nullptr && std::fwrite(svg.data(), 1, svg.size(), file) == svg.size();
        if (file != nullptr && std::fclose(file) != 0) {
            errors_.push_back(f.plot + ": writing the plot failed: " + std::strerror(errno));
        } else if (!ok) {
            errors_.push_back(f.plot + ": cannot write the plot: " + std::strerror(errno));
        } else {
            ++plots_written_;
        }
    }
    if (f.keep_plot) kept_plots_[f.seq] = std::move(svg);
}

void EvidenceCaptures::finish(Finding& f) {
    std::vector<std::string>& errors = errors_;
    f.phase = Finding::Phase::kDone;
    const bool capture = !f.path.empty();
    if (capture) {
        for (const std::uint64_t n : f.numbers) {
            if (!f.is_evidence(n)) continue;
            const bool held = std::any_of(f.frames.begin(), f.frames.end(), [&](const Frame& fr) { return fr.number == n; });
            if (!held) errors.push_back(f.path + ": packet " + std::to_string(n) + " is not in the input any more");
        }
    }
    std::vector<plot::Packet> plotted;
    PcapngWriter out;
    std::string error;
    if (capture && !out.open(f.path, f.description, error)) {
        errors.push_back(error);
        f.frames.clear();
        return;
    }
    // The packets' own story, for the comments: each side's ISN from a SYN in the file, and
    // the packet that first carried each data segment.
    struct Seen {
        std::uint64_t number;
        bool from_lo;
        std::uint32_t seq;
        std::uint32_t len;
    };
    std::vector<Seen> segments;
    std::uint32_t isn[2] = {};
    bool have_isn[2] = {};
    unsigned evidence_index = 0;
    const auto evidence_total = static_cast<unsigned>(f.numbers.size());
    for (std::size_t i = 0; i < f.frames.size(); ++i) {
        const Frame& fr = f.frames[i];
        PacketView v;
        v.ts_ns = fr.ts_ns;
        v.number = fr.number;
        v.wire_len = fr.wire_len;
        const ParseStatus st = parse_packet(fr.data.data(), static_cast<std::uint32_t>(fr.data.size()), fr.link, v, decap_);
        const bool tcp = st == ParseStatus::kOk || st == ParseStatus::kBadTcpOption;
        if (f.drawn() && (tcp || st == ParseStatus::kIcmpQuote)) {
            plotted.push_back(plot::packet_from_view(v, tcp, f.client_is_lo, decap_.tunnel_in_key));
            plotted.back().left_out_before = f.gaps[i];
        }
        if (!capture) continue;
        std::string what;
        if (tcp) {
            Dir d;
            make_flow_key(v, d, decap_.tunnel_in_key);
            const bool from_lo = d == Dir::kLoToHi;
            const bool from_client = from_lo == f.client_is_lo;
            const unsigned side = from_lo ? 0 : 1;
            if (v.tcp.flags & kSyn) {
                isn[side] = v.tcp.seq;
                have_isn[side] = true;
            }
            what = std::string(from_client ? "client -> server" : "server -> client") + ", " + flag_names(v.tcp.flags);
            if (v.payload_len != 0) {
                const std::uint32_t rel = have_isn[side] ? v.tcp.seq - isn[side] : v.tcp.seq;
                what += ", " + std::to_string(v.payload_len) + " bytes at " + (have_isn[side] ? "relative " : "") +
                        "seq " + std::to_string(rel);
                for (const Seen& s : segments) {
                    if (s.from_lo == from_lo && s.seq == v.tcp.seq && s.len == v.payload_len) {
                        what += ", resends packet " + std::to_string(s.number);
                        break;
                    }
                }
                segments.push_back({fr.number, from_lo, v.tcp.seq, v.payload_len});
            }
            if (v.tcp.flags & kAck) {
                const unsigned peer = 1 - side;
                const std::uint32_t rel = have_isn[peer] ? v.tcp.ack - isn[peer] : v.tcp.ack;
                what += ", ack " + std::string(have_isn[peer] ? "relative " : "") + std::to_string(rel);
            }
            what += ", window " + std::to_string(v.tcp.window);
        } else if (st == ParseStatus::kIcmpQuote) {
            what = "ICMP error type " + std::to_string(v.icmp.type) + " code " + std::to_string(v.icmp.code) +
                   " quoting this flow";
            if (v.icmp.frag_needed) what += ", next-hop MTU " + std::to_string(v.icmp.mtu);
        } else {
            what = "not a TCP segment tcpsleuth tracks";
        }
        std::string comment;
        if (f.is_evidence(fr.number)) {
            std::string where = "input packet " + std::to_string(fr.number);
            if (origins_ != nullptr) {
                if (const PacketOrigins::Origin o = origins_->find(fr.number); o.file != nullptr) {
                    where += ", frame " + std::to_string(o.frame) + " of " + *o.file;
                }
            }
            comment = "tcpsleuth: evidence " + std::to_string(++evidence_index) + " of " + std::to_string(evidence_total) +
                      " for " + f.event + " (" + where + "): " + what;
            if (evidence_index == 1) comment += ". " + f.description;
        } else if (fr.handshake) {
            comment = "tcpsleuth: handshake of this connection: " + what;
        }
        if (f.gaps[i] != 0) {
            comment += (comment.empty() ? "" : "; ") + std::string("tcpsleuth: ") + std::to_string(f.gaps[i]) +
                       " packets of this flow left out before this one";
        }
        out.packet(fr.link, fr.ts_ns, fr.data.data(), static_cast<std::uint32_t>(fr.data.size()), fr.wire_len, comment);
    }
    f.frames.clear();
    f.frames.shrink_to_fit();
    if (f.drawn()) draw(f, plotted);
    if (!capture) return;
    if (!out.close(error)) {
        errors.push_back(error);
        return;
    }
    ++written_;
}

}  // namespace tcpsleuth
