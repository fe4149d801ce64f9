// Compiling [[rules]] into Hyperscan streaming databases, and the rule-name table.

#include "rules.h"

#include <hs/hs.h>

#include <algorithm>
#include <cstdlib>
#include <array>
#include <atomic>
#include <mutex>
#include <unordered_map>

namespace tcpsleuth {

const char* to_string(RuleDirection d) noexcept {
    switch (d) {
        case RuleDirection::kClient: return "client";
        case RuleDirection::kServer: return "server";
        case RuleDirection::kBoth: return "both";
    }
    return "?";
}

const char* to_string(RuleSeverity s) noexcept {
    switch (s) {
        case RuleSeverity::kInfo: return "info";
        case RuleSeverity::kWarning: return "warning";
        case RuleSeverity::kCritical: return "critical";
    }
    return "?";
}

std::vector<const char*> rule_flag_names(const RuleSpec& r) {
    std::vector<const char*> out;
    for (const auto& [on, name] : {std::pair{r.caseless, "caseless"}, std::pair{r.dotall, "dotall"},
                                   std::pair{r.multiline, "multiline"}, std::pair{r.single_match, "single-match"}}) {
        if (on) out.push_back(name);
    }
    return out;
}

bool CompiledRule::port_matches(std::uint16_t server_port) const noexcept {
    return ports.empty() || std::binary_search(ports.begin(), ports.end(), server_port);
}

RuleSet::~RuleSet() {
    for (hs_database* db : db_) hs_free_database(db);
}

// --- names -------------------------------------------------------------------------------

namespace {

struct NameStore {
    std::mutex mu;  // interning only; lookups read the slots
    std::unordered_map<std::string, std::uint16_t> index;
    std::array<std::atomic<const std::string*>, RuleNames::kCapacity + 1> slots{};
    std::uint32_t next = 1;
};

NameStore& store() {
    // Never destroyed: an output thread may look a name up while the process exits.
    static NameStore* s = new NameStore;
    return *s;
}

}  // namespace

std::uint16_t RuleNames::intern(std::string_view name) {
    NameStore& s = store();
    std::lock_guard lock(s.mu);
    const auto it = s.index.find(std::string(name));
    if (it != s.index.end()) return it->second;
    if (s.next > kCapacity) return 0;
    const auto i = static_cast<std::uint16_t>(s.next++);
    s.index.emplace(std::string(name), i);
    s.slots[i].store(new std::string(name), std::memory_order_release);
    return i;
}

std::string_view RuleNames::name(std::uint16_t index) const noexcept {
    const std::string* p = store().slots[index].load(std::memory_order_acquire);
    return p == nullptr ? std::string_view() : std::string_view(*p);
}

std::uint16_t RuleNames::find(std::string_view name) const {
    NameStore& s = store();
    std::lock_guard lock(s.mu);
    const auto it = s.index.find(std::string(name));
    return it == s.index.end() ? 0 : it->second;
}

RuleNames& rule_names() {
    static RuleNames names;
    return names;
}

// --- compiling ---------------------------------------------------------------------------

std::vector<RuleSpec> effective_rules(const PayloadRules& cfg) {
    std::vector<RuleSpec> out;
    if (cfg.builtin) {
        for (const RuleSpec& b : builtin_rules()) {
            const auto named = [&](const std::string& id) { return id == b.id; };
            if (std::any_of(cfg.disable_builtin.begin(), cfg.disable_builtin.end(), named)) continue;
            if (std::any_of(cfg.rules.begin(), cfg.rules.end(), [&](const RuleSpec& r) { return r.id == b.id; })) continue;
            out.push_back(b);
            if (cfg.identification_events) out.back().event = true;
        }
    }
    out.insert(out.end(), cfg.rules.begin(), cfg.rules.end());
    return out;
}

namespace {

unsigned hs_flags(const RuleSpec& r) {
    unsigned f = 0;
    if (r.caseless) f |= HS_FLAG_CASELESS;
    if (r.dotall) f |= HS_FLAG_DOTALL;
    if (r.multiline) f |= HS_FLAG_MULTILINE;
    if (r.single_match) f |= HS_FLAG_SINGLEMATCH;
    return f;
}

// A literal as a regex that matches exactly its bytes: letters and digits as themselves,
// every other byte as \xHH.
std::string literal_regex(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() * 4);
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            out += ch;
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

RuleError error_for(const RuleSpec& r, std::string message) {
    return {r.id, r.line, r.column, "Hyperscan rejects the pattern: " + std::move(message)};
}

bool applies_to(const RuleSpec& r, unsigned side) {
    return r.direction == RuleDirection::kBoth || (side == 0) == (r.direction == RuleDirection::kClient);
}

}  // namespace

std::shared_ptr<const RuleSet> compile_rules(const PayloadRules& cfg, std::vector<RuleError>& errors) {
    const std::vector<RuleSpec> specs = effective_rules(cfg);
    const std::size_t errors_before = errors.size();
    std::vector<std::string> patterns(specs.size());
    std::vector<bool> bad(specs.size(), false);
    // Each expression on its own first, so every bad one is named, not just the first.
    for (std::size_t i = 0; i < specs.size(); ++i) {
        patterns[i] = specs[i].literal ? literal_regex(specs[i].pattern) : specs[i].pattern;
        hs_expr_info_t* info = nullptr;
        hs_compile_error_t* err = nullptr;
        if (hs_expression_info(patterns[i].c_str(), hs_flags(specs[i]), &info, &err) != HS_SUCCESS) {
            errors.push_back(error_for(specs[i], err != nullptr ? err->message : "unknown error"));
            bad[i] = true;
            hs_free_compile_error(err);
        }
        std::free(info);
    }
    auto set = std::make_shared<RuleSet>();
    for (unsigned side = 0; side < 2; ++side) {
        // Some errors show only when the database is built (too large, empty match ...):
        // drop the named expression and build again, until it builds or nothing is left.
        for (;;) {
            std::vector<const char*> exprs;
            std::vector<unsigned> flags, ids;
            for (std::size_t i = 0; i < specs.size(); ++i) {
                if (bad[i] || !applies_to(specs[i], side)) continue;
                exprs.push_back(patterns[i].c_str());
                flags.push_back(hs_flags(specs[i]));
                ids.push_back(static_cast<unsigned>(i));
            }
            if (exprs.empty()) break;
            hs_database_t* db = nullptr;
            hs_compile_error_t* err = nullptr;
            const hs_error_t rc = hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                                                   static_cast<unsigned>(exprs.size()), HS_MODE_STREAM, nullptr, &db, &err);
            if (rc == HS_SUCCESS) {
                set->db_[side] = db;
                hs_stream_size(db, &set->stream_bytes_[side]);
                break;
            }
            const int which = err != nullptr ? err->expression : -1;
            const std::string message = err != nullptr ? err->message : "unknown error";
            hs_free_compile_error(err);
            if (which < 0 || static_cast<std::size_t>(which) >= ids.size()) {
                errors.push_back({"", 0, 0, "Hyperscan cannot build the rule database: " + message});
                return nullptr;
            }
            errors.push_back(error_for(specs[ids[static_cast<std::size_t>(which)]], message));
            bad[ids[static_cast<std::size_t>(which)]] = true;
        }
    }
    if (errors.size() != errors_before) return nullptr;
    RuleNames& names = rule_names();
    const std::size_t builtins = specs.size() - cfg.rules.size();
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const RuleSpec& r = specs[i];
        CompiledRule c;
        c.name = names.intern(r.id);
        c.tag = r.tag.empty() ? 0 : names.intern(r.tag);
        c.severity = r.severity;
        c.direction = r.direction;
        c.event = r.event;
        c.builtin = i < builtins;
        c.ports = r.ports;
        std::sort(c.ports.begin(), c.ports.end());
        set->rules_.push_back(std::move(c));
    }
    set->builtin_count_ = builtins;
    return set;
}

}  // namespace tcpsleuth
