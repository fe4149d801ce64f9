// Draws a time-sequence model as one self-contained SVG: no scripts, no external fonts or
// images (the generic "sans-serif" family), colours from the Okabe-Ito palette, which stays
// distinguishable with the common colour-vision deficiencies. Every drawn packet carries its
// number (data-packet) so a reader, or a test, can go from the picture to the capture.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "inspectors/output/markup.h"
#include "inspectors/plot/time_sequence.h"

namespace tcpsleuth::plot {
namespace {

// Okabe & Ito, "Color Universal Design" (2008).
constexpr const char* kBlue = "#0072B2";       // data sent
constexpr const char* kVermillion = "#D55E00"; // resent
constexpr const char* kGreen = "#009E73";      // ACK line
constexpr const char* kOrange = "#E69F00";     // receive window
constexpr const char* kPurple = "#CC79A7";     // SACK blocks, ICMP errors
constexpr const char* kSky = "#56B4E9";        // FIN, SYN marks
constexpr const char* kYellow = "#F0E442";     // window 0
constexpr const char* kInk = "#222222";

constexpr double kWidth = 1000;
constexpr double kLeft = 86;
constexpr double kPlotWidth = 700;
constexpr double kLegendX = kLeft + kPlotWidth + 24;
constexpr double kPlotHeight = 380;
constexpr double kBreakWidth = 26;
constexpr double kSizePanelHeight = 120;

std::string fmt(const char* f, auto... args) {
    char buf[512];
    const int n = std::snprintf(buf, sizeof buf, f, args...);
    if (n < static_cast<int>(sizeof buf)) return buf;
    std::string out(static_cast<std::size_t>(n) + 1, '\0');  // a long polyline or title
    std::snprintf(out.data(), out.size(), f, args...);
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// Lines of at most `width` characters, broken at spaces; at most `max_lines`, the last cut
// with an ellipsis.
std::vector<std::string> wrap(const std::string& text, std::size_t width, std::size_t max_lines) {
    std::vector<std::string> lines;
    std::string line;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = text.find(' ', i);
        if (j == std::string::npos) j = text.size();
        const std::string word = text.substr(i, j - i);
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            lines.push_back(line);
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
        i = j + 1;
    }
    if (!line.empty()) lines.push_back(line);
    if (lines.size() > max_lines) {
        lines.resize(max_lines);
        lines.back() += " …";
    }
    return lines;
}

double nice_step(double raw) {
    if (raw <= 0) return 1;
    const double mag = std::pow(10, std::floor(std::log10(raw)));
    const double f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

// A tick's time in the unit its step needs; past 10 s, in seconds with the step's decimals
// (400.02 s, not 400020 ms).
std::string time_label(double t, double step) {
    double scale = 1;
    const char* unit = "s";
    if (t >= 10) {
        if (std::fabs(t) < step * 1e-6) t = 0;
        return fmt("%.*f s", std::clamp(static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), 0, 6), t);
    }
    if (step < 1e-3) {
        scale = 1e6, unit = "µs";
    } else if (step < 1) {
        scale = 1e3, unit = "ms";
    }
    const double s = step * scale;
    if (std::fabs(t) < step * 1e-6) t = 0;  // no "-0 ms"
    const int decimals = s >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(s) - 1e-9));
    return fmt("%.*f %s", decimals, t * scale, unit);
}

std::string bytes_label(double v, double step) {
    if (std::fabs(v) < step * 1e-6) v = 0;  // no "-0 B"
    if (step >= 1e6) return fmt("%.*f MB", step >= 1e7 ? 0 : 1, v / 1e6);
    if (step >= 1e3) return fmt("%.*f kB", step >= 1e4 ? 0 : 1, v / 1e3);
    return fmt("%.0f B", v);
}

// Time to x, with the model's breaks cut out and drawn kBreakWidth wide each.
class TimeAxis {
public:
    explicit TimeAxis(const Model& m) : breaks_(m.breaks), end_(std::max(m.t_end, 0.0)) {
        double live = end_;
        for (const Break& b : breaks_) live -= b.t1 - b.t0;
        const double px = kPlotWidth - 20 - kBreakWidth * static_cast<double>(breaks_.size());
        k_ = live > 0 ? px / live : 0;
    }
    double x(double t) const {
        t = std::clamp(t, 0.0, end_);
        if (k_ == 0) return kLeft + kPlotWidth / 2;
        double x = kLeft + 10, cur = 0;
        for (const Break& b : breaks_) {
            if (t < b.t0) return x + (t - cur) * k_;
            if (t <= b.t1) return x + (b.t0 - cur) * k_ + kBreakWidth * (t - b.t0) / std::max(b.t1 - b.t0, 1e-12);
            x += (b.t0 - cur) * k_ + kBreakWidth;
            cur = b.t1;
        }
        return x + (t - cur) * k_;
    }
    double live_seconds() const { return k_ > 0 ? (kPlotWidth - 20 - kBreakWidth * breaks_.size()) / k_ : 0; }
    // The stretches of real time drawn without a cut.
    std::vector<std::pair<double, double>> pieces() const {
        std::vector<std::pair<double, double>> out;
        double cur = 0;
        for (const Break& b : breaks_) out.emplace_back(cur, b.t0), cur = b.t1;
        out.emplace_back(cur, end_);
        return out;
    }

private:
    std::vector<Break> breaks_;
    double end_;
    double k_ = 0;
};

class ValueAxis {
public:
    ValueAxis(double lo, double hi, double top, double height) : lo_(lo), hi_(hi > lo ? hi : lo + 1), top_(top), h_(height) {}
    double y(double v) const { return top_ + h_ - (v - lo_) / (hi_ - lo_) * h_; }
    double lo() const { return lo_; }
    double hi() const { return hi_; }

private:
    double lo_, hi_, top_, h_;
};

struct Svg {
    std::string out;
    void add(const std::string& s) { out += s, out += '\n'; }
};

void draw_time_axis(Svg& svg, const Model& m, const TimeAxis& tx, double top, double height) {
    const double bottom = top + height;
    const double step = nice_step(tx.live_seconds() / 8);
    double last_x = -1e9;
    for (const auto& [a, b] : tx.pieces()) {
        for (double t = std::ceil(a / step - 1e-9) * step; t <= b + 1e-12; t += step) {
            const double x = tx.x(t);
            if (x - last_x < 48) continue;
            last_x = x;
            svg.add(fmt(R"~(<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>)~", x, top, x, bottom));
            svg.add(fmt(R"~(<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%s</text>)~", x, bottom + 15,
                        xml_escape(time_label(t, step)).c_str()));
        }
    }
    for (const Break& b : m.breaks) {
        const double x0 = tx.x(b.t0), x1 = tx.x(b.t1);
        svg.add(fmt(R"~(<g class="break" data-t0="%.6f" data-t1="%.6f">)~", b.t0, b.t1));
        svg.add(fmt(R"~(<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#f4f4f4"/>)~", x0, top, x1 - x0, height));
        for (const double x : {x0, x1}) {
            svg.add(fmt(R"~(<path d="M%.1f %.1f l4 -5 l-8 -5 l4 -5" fill="none" stroke="%s"/>)~", x, bottom + 7, kInk));
        }
        // Along the band, so a short cut's label does not cover its neighbours.
        svg.add(fmt(R"~(<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle" font-size="11" fill="#444">+%s cut</text>)~",
                    (x0 + x1) / 2 + 4, top + height / 2, xml_escape(time_label(b.t1 - b.t0, nice_step(b.t1 - b.t0))).c_str()));
        svg.add("</g>");
    }
    svg.add(fmt(R"~(<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12">time since the first packet drawn%s</text>)~",
                kLeft + kPlotWidth / 2, bottom + 34, m.breaks.empty() ? "" : " (silences cut out of the axis, labelled +)"));
}

void draw_value_axis(Svg& svg, const ValueAxis& vy, double top, double height, bool bytes, const std::string& title) {
    const double step = std::max(nice_step((vy.hi() - vy.lo()) / 6), 1.0);  // whole bytes, whole packets
    for (double v = std::ceil(vy.lo() / step) * step; v <= vy.hi(); v += step) {
        const double y = vy.y(v);
        svg.add(fmt(R"~(<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>)~", kLeft, y, kLeft + kPlotWidth, y));
        const std::string label = bytes ? bytes_label(v, step) : fmt("%.0f", v);
        svg.add(fmt(R"~(<text x="%.1f" y="%.1f" text-anchor="end" font-size="11">%s</text>)~", kLeft - 6, y + 4,
                    xml_escape(label).c_str()));
    }
    svg.add(fmt(R"~(<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle" font-size="12">%s</text>)~",
                kLeft - 62, top + height / 2, xml_escape(title).c_str()));
}

// Rings around the evidence packets, each labelled with its number; a label close to the
// previous one moves below its ring so the two stay readable.
class EvidenceRings {
public:
    explicit EvidenceRings(Svg& svg) : svg_(svg) {}
    void add(std::uint64_t number, double x, double y) {
        const bool crowded = std::fabs(x - last_x_) < 34 && std::fabs(y - last_y_) < 20 && !below_;
        below_ = crowded;
        last_x_ = x, last_y_ = y;
        svg_.add(fmt(R"~(<g class="evidence" data-packet="%llu"><circle cx="%.1f" cy="%.1f" r="7" fill="none" stroke="%s" stroke-width="2"/>)~",
                     static_cast<unsigned long long>(number), x, y, kInk));
        svg_.add(fmt(R"~(<text x="%.1f" y="%.1f" font-size="11" font-weight="bold" fill="%s">#%llu</text></g>)~", x + 8,
                     crowded ? y + 18 : y - 8, kInk, static_cast<unsigned long long>(number)));
    }

private:
    Svg& svg_;
    double last_x_ = -1e9, last_y_ = -1e9;
    bool below_ = false;
};

void step_line(Svg& svg, const Model& m, const TimeAxis& tx, const ValueAxis& vy, bool window, const char* colour,
               const char* cls) {
    if (m.acks.empty()) return;
    std::string pts;
    double prev = 0;
    for (std::size_t i = 0; i < m.acks.size(); ++i) {
        const double v = static_cast<double>(window ? m.acks[i].window_edge : m.acks[i].ack);
        const double x = tx.x(m.acks[i].t);
        if (i != 0) pts += fmt("%.1f,%.1f ", x, vy.y(prev));
        pts += fmt("%.1f,%.1f ", x, vy.y(v));
        prev = v;
    }
    pts += fmt("%.1f,%.1f", tx.x(m.t_end), vy.y(prev));
    svg.add(fmt(R"~(<polyline class="%s" points="%s" fill="none" stroke="%s" stroke-width="1.5"%s/>)~", cls, pts.c_str(),
                colour, window ? R"~( stroke-dasharray="5 3")~" : ""));
}

void mark_symbol(Svg& svg, const Mark& k, double x, double y) {
    switch (k.kind) {
        case MarkKind::kRst:
            svg.add(fmt(R"~(<path class="rst" data-packet="%llu" d="M%.1f %.1f l10 10 M%.1f %.1f l10 -10" stroke="%s" stroke-width="2.5"/>)~",
                        static_cast<unsigned long long>(k.number), x - 5, y - 5, x - 5, y + 5, kInk));
            svg.add(fmt(R"~(<text x="%.1f" y="%.1f" font-size="10" fill="%s">RST</text>)~", x + 7, y + 14, kInk));
            break;
        case MarkKind::kFin:
            svg.add(fmt(R"~(<path class="fin" data-packet="%llu" d="M%.1f %.1f l5 5 l-5 5 l-5 -5 z" fill="%s" stroke="%s"/>)~",
                        static_cast<unsigned long long>(k.number), x, y - 5, kSky, kInk));
            break;
        case MarkKind::kSyn:
            svg.add(fmt(R"~(<path class="syn" data-packet="%llu" d="M%.1f %.1f l5 9 l-10 0 z" fill="%s" stroke="%s"/>)~",
                        static_cast<unsigned long long>(k.number), x, y - 6, k.from_drawn_side ? kBlue : kSky, kInk));
            break;
        case MarkKind::kPacket:
            svg.add(fmt(R"~(<circle class="packet" data-packet="%llu" cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>)~",
                        static_cast<unsigned long long>(k.number), x, y, k.from_drawn_side ? kBlue : kGreen));
            break;
        case MarkKind::kIcmp: break;  // drawn across the plot (draw_marks)
    }
}

void draw_marks(Svg& svg, const Model& m, const TimeAxis& tx, const ValueAxis& vy, double top, double height) {
    for (const Mark& k : m.marks) {
        const double x = tx.x(k.t);
        if (k.kind == MarkKind::kIcmp) {
            svg.add(fmt(R"~(<line class="icmp" data-packet="%llu" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="2 3"/>)~",
                        static_cast<unsigned long long>(k.number), x, top, x, top + height, kPurple));
            const std::string what = k.icmp_mtu != 0 ? fmt("ICMP: MTU %u", k.icmp_mtu) : std::string("ICMP error");
            svg.add(fmt(R"~(<text x="%.1f" y="%.1f" font-size="10" fill="%s">%s</text>)~", x + 3, top + height - 6, kPurple,
                        what.c_str()));
            continue;
        }
        mark_symbol(svg, k, x, vy.y(static_cast<double>(k.y)));
    }
}

void draw_finding_spans(Svg& svg, const Model& m, const TimeAxis& tx, double top, double height) {
    for (const Span& s : m.zero_windows) {
        const double x0 = tx.x(s.t0), x1 = std::max(tx.x(s.t1), x0 + 2);
        svg.add(fmt(R"~(<rect class="zero-window" data-t0="%.6f" data-t1="%.6f" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.45"/>)~",
                    s.t0, s.t1, x0, top, x1 - x0, height, kYellow));
    }
    for (const Span& s : m.finding_spans) {
        const double x0 = tx.x(s.t0), x1 = std::max(tx.x(s.t1), x0 + 1);
        const double y = top - 8;
        svg.add(fmt(R"~(<g class="finding-span" data-t0="%.6f" data-t1="%.6f">)~", s.t0, s.t1));
        svg.add(fmt(R"~(<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.06"/>)~", x0, top, x1 - x0,
                    height, kInk));
        svg.add(fmt(R"~(<path d="M%.1f %.1f v-6 H%.1f v6" fill="none" stroke="%s" stroke-width="1.5"/>)~", x0, y + 6, x1, kInk));
        const double mid = std::clamp((x0 + x1) / 2, kLeft + 60, kLeft + kPlotWidth - 60);
        svg.add(fmt(R"~(<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11" font-weight="bold">%s</text></g>)~", mid,
                    y - 4, xml_escape(s.label).c_str()));
    }
}

void draw_main(Svg& svg, const Model& m, const TimeAxis& tx, double top) {
    const ValueAxis vy(static_cast<double>(m.y_min), static_cast<double>(m.y_max), top, kPlotHeight);
    svg.add(fmt(R"~(<clipPath id="%s-area"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>)~", m.id.c_str(), kLeft, top,
                kPlotWidth, kPlotHeight));
    draw_value_axis(svg, vy, top, kPlotHeight, m.has_flow,
                    !m.has_flow ? "packet, in order"
                    : m.isn_seen ? "sequence number (bytes after the ISN)"
                                 : "sequence number (bytes after the first seen)");
    draw_time_axis(svg, m, tx, top, kPlotHeight);
    draw_finding_spans(svg, m, tx, top, kPlotHeight);
    svg.add(fmt(R"~(<g clip-path="url(#%s-area)">)~", m.id.c_str()));
    step_line(svg, m, tx, vy, true, kOrange, "window");
    step_line(svg, m, tx, vy, false, kGreen, "ack");
    for (const Segment& s : m.segments) {
        const double x = tx.x(s.t), y0 = vy.y(static_cast<double>(s.lo)), y1 = vy.y(static_cast<double>(s.hi));
        const char* colour = s.retransmission ? kVermillion : kBlue;
        svg.add(fmt(R"~(<path class="%s" data-packet="%llu" d="M%.1f %.1f V%.1f M%.1f %.1f h6 M%.1f %.1f h6" stroke="%s" stroke-width="2"/>)~",
                    s.retransmission ? "retransmission" : "segment", static_cast<unsigned long long>(s.number), x, y0, y1,
                    x - 3, y0, x - 3, y1, colour));
    }
    bool outside_named = false;
    for (const SackMark& s : m.sacks) {
        const double x = tx.x(s.t) + 3;
        if (s.outside) {
            if (!outside_named) {
                svg.add(fmt(R"~(<text x="%.1f" y="%.1f" font-size="10" fill="%s">SACK blocks outside the data</text>)~",
                            x + 8, top + 11, kPurple));
                outside_named = true;
            }
            svg.add(fmt(R"~(<path class="sack-outside" data-packet="%llu" d="M%.1f %.1f l5 8 l-10 0 z" fill="%s"/>)~",
                        static_cast<unsigned long long>(s.number), x, top + 2, kPurple));
            continue;
        }
        svg.add(fmt(R"~(<line class="sack" data-packet="%llu" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="4" stroke-opacity="0.8"/>)~",
                    static_cast<unsigned long long>(s.number), x, vy.y(static_cast<double>(s.lo)), x,
                    vy.y(static_cast<double>(s.hi)), kPurple));
    }
    draw_marks(svg, m, tx, vy, top, kPlotHeight);
    svg.add("</g>");
    // Evidence rings last, over everything, unclipped.
    EvidenceRings rings(svg);
    for (const Segment& s : m.segments) {
        if (s.evidence) rings.add(s.number, tx.x(s.t), vy.y(static_cast<double>(s.hi)));
    }
    for (const AckStep& a : m.acks) {
        if (a.evidence) rings.add(a.number, tx.x(a.t), vy.y(static_cast<double>(a.ack)));
    }
    for (const Mark& k : m.marks) {
        if (!k.evidence) continue;
        const bool drawn = std::any_of(m.segments.begin(), m.segments.end(), [&](const Segment& s) { return s.number == k.number; }) ||
                           std::any_of(m.acks.begin(), m.acks.end(), [&](const AckStep& a) { return a.number == k.number; });
        if (!drawn) rings.add(k.number, tx.x(k.t), k.kind == MarkKind::kIcmp ? top + kPlotHeight - 20 : vy.y(static_cast<double>(k.y)));
    }
    svg.add(fmt(R"~(<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s"/>)~", kLeft, top, kPlotWidth,
                kPlotHeight, kInk));
}

// mtu.*: each data packet's IP length, and the finding's size bracket as a band.
void draw_size_panel(Svg& svg, const Model& m, const TimeAxis& tx, double top) {
    double hi = 0;
    for (const Segment& s : m.segments) hi = std::max(hi, static_cast<double>(s.ip_len));
    for (const Band& b : m.size_bands) hi = std::max(hi, static_cast<double>(b.hi));
    const ValueAxis vy(0, std::max(hi * 1.1, 100.0), top, kSizePanelHeight);
    draw_value_axis(svg, vy, top, kSizePanelHeight, false, "IP bytes");
    for (const Band& b : m.size_bands) {
        const double y0 = vy.y(b.hi), y1 = vy.y(b.lo);
        svg.add(fmt(R"~(<g class="size-band" data-lo="%u" data-hi="%u">)~", b.lo, b.hi));
        if (b.lo == b.hi) {
            svg.add(fmt(R"~(<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="6 3"/>)~",
                        kLeft, y0, kLeft + kPlotWidth, y0, kPurple));
        } else {
            svg.add(fmt(R"~(<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.3"/>)~", kLeft, y0,
                        kPlotWidth, std::max(y1 - y0, 2.0), kPurple));
        }
        svg.add(fmt(R"~(<text x="%.1f" y="%.1f" font-size="11" font-weight="bold">%s</text></g>)~", kLeft + 6, y0 - 4,
                    xml_escape(b.label).c_str()));
    }
    for (const Segment& s : m.segments) {
        if (s.ip_len == 0 || (s.flags & 0x02) != 0) continue;  // SYNs have no data size to judge
        svg.add(fmt(R"~(<circle class="size" data-packet="%llu" cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>)~",
                    static_cast<unsigned long long>(s.number), tx.x(s.t), vy.y(s.ip_len),
                    s.retransmission ? kVermillion : kBlue));
    }
    svg.add(fmt(R"~(<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s"/>)~", kLeft, top, kPlotWidth,
                kSizePanelHeight, kInk));
}

void draw_legend(Svg& svg, const Model& m, double top) {
    double y = top + 4;
    const auto entry = [&](const std::string& symbol, const std::string& text) {
        svg.add(fmt(R"~(<g transform="translate(%.1f %.1f)">%s<text x="26" y="4" font-size="11">%s</text></g>)~", kLegendX, y,
                    symbol.c_str(), xml_escape(text).c_str()));
        y += 20;
    };
    const auto any_seg = [&](bool retx) {
        return std::any_of(m.segments.begin(), m.segments.end(), [&](const Segment& s) { return s.retransmission == retx; });
    };
    if (m.has_flow) {
        if (any_seg(false)) entry(fmt(R"~(<path d="M8 -7 V7" stroke="%s" stroke-width="2"/>)~", kBlue), "sent (" + m.drawn_side + ")");
        if (any_seg(true)) entry(fmt(R"~(<path d="M8 -7 V7" stroke="%s" stroke-width="2"/>)~", kVermillion), "resent");
        if (!m.acks.empty()) {
            entry(fmt(R"~(<path d="M0 0 H18" stroke="%s" stroke-width="1.5"/>)~", kGreen), "acknowledged (other side)");
            entry(fmt(R"~(<path d="M0 0 H18" stroke="%s" stroke-width="1.5" stroke-dasharray="5 3"/>)~", kOrange),
                  m.window_scaled ? "receive window" : "receive window (unscaled)");
        }
    }
    if (!m.sacks.empty()) entry(fmt(R"~(<path d="M8 -7 V7" stroke="%s" stroke-width="4"/>)~", kPurple), "SACK block");
    if (!m.zero_windows.empty()) entry(fmt(R"~(<rect x="0" y="-7" width="18" height="14" fill="%s" fill-opacity="0.45"/>)~", kYellow), "window 0");
    const auto has_mark = [&](MarkKind k) {
        return std::any_of(m.marks.begin(), m.marks.end(), [&](const Mark& x) { return x.kind == k; });
    };
    if (has_mark(MarkKind::kSyn)) entry(fmt(R"~(<path d="M8 -6 l5 9 l-10 0 z" fill="%s" stroke="%s"/>)~", kSky, kInk), "SYN");
    if (has_mark(MarkKind::kFin)) entry(fmt(R"~(<path d="M8 -5 l5 5 l-5 5 l-5 -5 z" fill="%s" stroke="%s"/>)~", kSky, kInk), "FIN");
    if (has_mark(MarkKind::kRst)) entry(fmt(R"~(<path d="M3 -5 l10 10 M3 5 l10 -10" stroke="%s" stroke-width="2.5"/>)~", kInk), "RST");
    if (has_mark(MarkKind::kIcmp)) entry(fmt(R"~(<path d="M8 -8 V8" stroke="%s" stroke-width="1.5" stroke-dasharray="2 3"/>)~", kPurple), "ICMP error");
    if (!m.evidence.empty()) entry(fmt(R"~(<circle cx="8" cy="0" r="7" fill="none" stroke="%s" stroke-width="2"/>)~", kInk), "evidence packet (#number)");
    y += 8;
    struct Note {
        std::string text;
        std::string attrs = {};  // on its first line: what a reader (or a test) can select it by
    };
    std::vector<Note> notes;
    if (m.has_flow && !m.isn_seen) notes.push_back({"The handshake is not in the capture: sequence numbers count from the first one seen."});
    if (m.has_flow && !m.acks.empty() && m.window_scale_unknown) notes.push_back({"Window scale unknown (no handshake): windows drawn as sent."});
    if (m.has_flow && !m.acks.empty() &&
        std::all_of(m.acks.begin(), m.acks.end(), [&](const AckStep& a) { return a.window_edge > m.y_max; })) {
        std::int64_t ahead = 0;
        for (const AckStep& a : m.acks) ahead = std::max(ahead, a.window_edge - a.ack);
        notes.push_back({"The receive window reaches above the plot (up to " + std::to_string(ahead) + " bytes ahead of the ACK)."});
    }
    if (m.left_out != 0) notes.push_back({std::to_string(m.left_out) + " packets of the flow left out of the capture (see its comments)."});
    for (const std::uint64_t n : m.evidence_missing) {
        notes.push_back({"Evidence packet #" + std::to_string(n) + " is not in the capture.",
                         fmt(R"~( class="evidence-missing" data-packet="%llu")~", static_cast<unsigned long long>(n))});
    }
    for (const Note& note : notes) {
        std::string attrs = note.attrs;
        for (const std::string& l : wrap(note.text, 36, 4)) {
            svg.add(fmt(R"~(<text%s x="%.1f" y="%.1f" font-size="10" fill="#555">%s</text>)~", attrs.c_str(), kLegendX, y,
                        xml_escape(l).c_str()));
            attrs.clear();
            y += 13;
        }
        y += 4;
    }
}

}  // namespace

std::string render_svg(const Model& m) {
    Svg svg;
    const std::vector<std::string> title = wrap(m.title, 118, 3);
    const double top = 30 + 18.0 * static_cast<double>(title.size()) + 40;
    const bool sizes = !m.size_bands.empty();
    const double height = top + kPlotHeight + 48 + (sizes ? kSizePanelHeight + 28 : 0) + 12;
    svg.add(fmt(R"~(<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" role="img">)~",
                kWidth, height, kWidth, height));
    svg.add("<title>" + xml_escape(m.title) + "</title>");
    svg.add(fmt(R"~(<rect width="%.0f" height="%.0f" fill="#ffffff"/>)~", kWidth, height));
    double y = 26;
    for (const std::string& l : title) {
        svg.add(fmt(R"~(<text x="16" y="%.1f" font-size="14" font-weight="bold" fill="%s">%s</text>)~", y, kInk, xml_escape(l).c_str()));
        y += 18;
    }
    svg.add(fmt(R"~(<text x="16" y="%.1f" font-size="12" fill="#555">%s</text>)~", y + 2, xml_escape(m.subtitle).c_str()));
    const TimeAxis tx(m);
    draw_main(svg, m, tx, top);
    if (sizes) draw_size_panel(svg, m, tx, top + kPlotHeight + 48);
    draw_legend(svg, m, top);
    svg.add("</svg>");
    return svg.out;
}

}  // namespace tcpsleuth::plot
