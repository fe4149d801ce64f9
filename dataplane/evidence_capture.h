#pragma once
// Evidence captures (analyze --evidence-dir): for every finding at warning or above, a pcapng
// file a firewall team can open, holding the packets that prove it. Each finding's event
// names its file (`evidence_pcap`) when it is written; the files are cut from a second read
// of the input once the analysis is done, so the packets are exactly the input's:
//
//   - every packet the evidence numbers (also ICMP errors, which belong to no flow);
//   - the connection's handshake: the latest SYN of the flow before the evidence and the
//     two packets of the flow after it;
//   - the flow's 10 packets before the first evidence packet and 10 after the last;
//   - the flow's packets between the first and the last evidence packet, up to 1 000 (the
//     rest are left out and a comment says how many).
//
// Evidence packets carry a pcapng comment saying which finding they prove and what the packet
// is (direction, flags, relative sequence, size, and which earlier packet of the file it
// resends); the file's own comment holds the finding's summary.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dataplane/packet/decap.h"
#include "dataplane/pcap/pcap_reader.h"
#include "inspectors/output/events.h"
#include "inspectors/plot/time_sequence.h"

namespace tcpsleuth {

// Creates `dir` when missing; false with `error` when it is not a directory tcpsleuth can
// write to (analyze and compare --evidence-dir, run's output.evidence_dir).
bool prepare_evidence_dir(const std::string& dir, std::string& error);
// The first of `inputs` that is a pipe (standard input, a FIFO), as the user named it ("-":
// "standard input"); empty when none is. Evidence captures read the input a second time.
std::string pipe_among(const std::vector<std::string>& inputs);

// "0007-mtu.blackhole-flow42.pcapng": the `seq`th capture of a run.
std::string evidence_file_name(std::size_t seq, const Event& e);
// The capture's own comment: the finding's name, severity, confidence and summary.
std::string evidence_description(const Event& e);

// The files an event names: its evidence capture and its plot (empty: none).
struct EvidenceFiles {
    std::string pcap;
    std::string plot;
    std::size_t plot_number = 0;  // a plot kept for the HTML report (plot_svg); 0: none
};

// Whoever names an event's evidence capture: analyze's (cut from the input afterwards) or
// run's (cut from the packet history as the finding arrives, live_evidence.h).
class EvidencePlanner {
public:
    virtual ~EvidencePlanner() = default;
    // The paths the event will name.
    virtual EvidenceFiles plan(const Event& e) = 0;
};

// What analyze cuts from its second read: evidence captures (--evidence-dir), plots (--plots),
// and plots kept in memory for the HTML report.
struct EvidenceOutputs {
    std::string pcap_dir;   // empty: no captures
    std::string plot_dir;   // empty: no plot files
    bool keep_plots = false;
};

class EvidenceCaptures final : public EvidencePlanner {
public:
    static constexpr unsigned kContextPackets = 10;
    static constexpr unsigned kMaxBetween = 1000;

    // Files go to the outputs' directories (created if missing by the caller); frames are
    // matched to flows with `decap` as the analysis parsed them.
    EvidenceCaptures(EvidenceOutputs outputs, const DecapConfig& decap);
    ~EvidenceCaptures();

    // Whether `e` gets a capture: a warning or worse that names a flow or packets.
    static bool wants(const Event& e) noexcept;

    // Plans the capture and plot of `e` and returns their paths, as the event will name them.
    // Plots are kept for the HTML report up to Report::kHtmlFindingsPerKind of a kind.
    EvidenceFiles plan(const Event& e) override;
    std::size_t planned() const noexcept { return findings_.size(); }

    // Reads the input again from `reader` (opened afresh on the same inputs) and writes every
    // planned file. Returns the files written; problems (a file that cannot be created, an
    // evidence packet the input no longer holds) are appended to `errors`.
    std::size_t write(CaptureReader& reader, std::vector<std::string>& errors);
    std::size_t plots_written() const noexcept { return plots_written_; }
    // A kept plot by the number plan() returned; empty when there is none.
    std::string plot_svg(std::size_t number) const;

private:
    struct Frame;
    struct Finding;
    struct Trail;

    struct KeyLess {
        bool operator()(const FlowKey& a, const FlowKey& b) const noexcept;
    };

    void on_frame(const RawPacket& raw, LinkType link);
    void finish(Finding& f);
    void draw(Finding& f, std::vector<plot::Packet>& packets);

    EvidenceOutputs out_;
    DecapConfig decap_;
    std::vector<std::unique_ptr<Finding>> findings_;
    std::unordered_map<std::uint64_t, std::vector<Finding*>> by_number_;  // evidence packet -> findings
    std::map<FlowKey, std::unique_ptr<Trail>, KeyLess> trails_;           // flows with findings
    std::vector<std::string> errors_;
    const PacketOrigins* origins_ = nullptr;  // merged inputs: each packet's file and frame
    std::size_t written_ = 0;
    std::size_t plots_written_ = 0;
    std::map<std::size_t, std::string> kept_plots_;   // finding number -> SVG
    std::map<std::string, std::size_t> kept_per_kind_;
};

}  // namespace tcpsleuth
