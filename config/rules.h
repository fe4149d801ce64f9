#pragma once
// Payload rules: what `[[rules]]` and `[payload]` say (RuleSpec, PayloadRules), and the
// Hyperscan databases they compile into (RuleSet). Compiling happens on the control side at
// start and on reload; the workers only read a RuleSet.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct hs_database;  // Hyperscan's, opaque here

namespace tcpsleuth {

// Which side's byte stream a rule is matched against.
enum class RuleDirection : std::uint8_t { kClient, kServer, kBoth };
// Same numbering as Severity (inspectors/output/events.h).
enum class RuleSeverity : std::uint8_t { kInfo, kWarning, kCritical };

const char* to_string(RuleDirection d) noexcept;
const char* to_string(RuleSeverity s) noexcept;

struct RuleSpec {
    std::string id;           // names the rule in events; unique
    std::string pattern;      // a Hyperscan regex, or bytes to find when `literal`
    bool literal = false;
    bool caseless = false;
    bool dotall = false;
    bool multiline = false;
    bool single_match = false;  // report once per flow direction
    RuleDirection direction = RuleDirection::kBoth;
    std::vector<std::uint16_t> ports;  // the flow's server port must be one of them; empty: any
    RuleSeverity severity = RuleSeverity::kInfo;
    std::string tag;          // labels the flow's application ("" none)
    bool event = true;        // a match emits payload.match; false: it only tags
    std::string advice;       // built-in rules: what to do about it
    // Where the rule sits in the file (0: built in or not from a file).
    std::uint32_t line = 0;
    std::uint32_t column = 0;

    bool operator==(const RuleSpec& o) const {
        return id == o.id && pattern == o.pattern && literal == o.literal && caseless == o.caseless &&
               dotall == o.dotall && multiline == o.multiline && single_match == o.single_match &&
               direction == o.direction && ports == o.ports && severity == o.severity && tag == o.tag &&
               event == o.event;
    }
};

// The flags a rule has, as the config spells them ("caseless", "single-match", ...).
std::vector<const char*> rule_flag_names(const RuleSpec& r);

// The rule part of the configuration (DaemonConfig::rules).
struct PayloadRules {
    // The built-in set (builtin_rules()); a user rule with a built-in's id replaces it.
    bool builtin = true;
    std::vector<std::string> disable_builtin;  // built-in ids left out
    // Built-in identification rules emit payload.match (info) too, not only tag the flow:
    // to see what was identified where, or why a flow was not.
    bool identification_events = false;
    std::vector<RuleSpec> rules;               // [[rules]], in file order

    bool operator==(const PayloadRules&) const = default;
};

// The rules tcpsleuth ships: protocol identification and application failure signals.
const std::vector<RuleSpec>& builtin_rules();

// What one rule became. Hyperscan reports a match with the rule's index in RuleSet::rules.
struct CompiledRule {
    std::uint16_t name = 0;  // rule_names() index of the id
    std::uint16_t tag = 0;   // rule_names() index of the tag, 0 none
    RuleSeverity severity = RuleSeverity::kInfo;
    RuleDirection direction = RuleDirection::kBoth;
    bool event = true;
    bool builtin = false;
    std::vector<std::uint16_t> ports;  // sorted

    bool port_matches(std::uint16_t server_port) const noexcept;
};

struct RuleError {
    std::string rule_id;
    std::uint32_t line = 0;  // the rule's [[rules]] entry (0: a built-in)
    std::uint32_t column = 0;
    std::string message;
};

// Compiled rules: one streaming database per side (client stream, server stream), each
// holding the rules that apply to it. Immutable once built; shared by the workers.
class RuleSet {
public:
    RuleSet() = default;
    RuleSet(const RuleSet&) = delete;
    RuleSet& operator=(const RuleSet&) = delete;
    ~RuleSet();

    // 0: the client's stream, 1: the server's. Null when no rule applies to that side.
    const hs_database* database(unsigned side) const noexcept { return db_[side]; }
    // Bytes of Hyperscan stream state per open stream on that side.
    std::size_t stream_bytes(unsigned side) const noexcept { return stream_bytes_[side]; }
    const std::vector<CompiledRule>& rules() const noexcept { return rules_; }
    std::size_t builtin_count() const noexcept { return builtin_count_; }

private:
    friend std::shared_ptr<const RuleSet> compile_rules(const PayloadRules&, std::vector<RuleError>&);
    hs_database* db_[2] = {nullptr, nullptr};
    std::size_t stream_bytes_[2] = {0, 0};
    std::vector<CompiledRule> rules_;
    std::size_t builtin_count_ = 0;
};

// Built-ins (unless disabled or replaced) followed by the user's rules, compiled. Every
// pattern Hyperscan rejects is reported, each with its rule; any error yields null.
std::shared_ptr<const RuleSet> compile_rules(const PayloadRules& cfg, std::vector<RuleError>& errors);

// The rules that compile_rules() would compile, in Hyperscan id order: built-ins first.
std::vector<RuleSpec> effective_rules(const PayloadRules& cfg);

// Rule ids and tags as small numbers, so events and flow entries carry two bytes instead of
// a string. Append-only: a name keeps its number across reloads, so an event queued before
// a reload still names the right rule. Interning is for the control side; lookups are
// lock-free from any thread.
class RuleNames {
public:
    static constexpr std::size_t kCapacity = 65535;  // index 0 is "no name"

    // The name's number, assigning the next one if new; 0 when the table is full.
    std::uint16_t intern(std::string_view name);
    // "" for 0 or an unassigned number.
    std::string_view name(std::uint16_t index) const noexcept;
    // 0 when the name has no number yet.
    std::uint16_t find(std::string_view name) const;
};
RuleNames& rule_names();

}  // namespace tcpsleuth
