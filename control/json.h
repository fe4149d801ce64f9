#pragma once
// A small JSON reader for control requests and, in tcpsleuthctl, replies (RFC 8259). Values
// form a tree; parsing is bounded in depth so a hostile request cannot exhaust the stack.
// Writing JSON is inspectors/output/json_writer.h's job.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpsleuth::json {

class Value {
public:
    enum class Type : std::uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

    Value() = default;
    static Value boolean(bool b);
    static Value number(double d);
    static Value integer(std::int64_t i);
    static Value string(std::string s);
    static Value array(std::vector<Value> a);
    static Value object(std::vector<std::pair<std::string, Value>> o);

    Type type() const noexcept { return type_; }
    bool is_null() const noexcept { return type_ == Type::kNull; }
    bool is_bool() const noexcept { return type_ == Type::kBool; }
    bool is_number() const noexcept { return type_ == Type::kNumber; }
    // A number written without fraction or exponent that fits in 64 bits.
    bool is_integer() const noexcept { return type_ == Type::kNumber && integral_; }
    bool is_string() const noexcept { return type_ == Type::kString; }
    bool is_array() const noexcept { return type_ == Type::kArray; }
    bool is_object() const noexcept { return type_ == Type::kObject; }

    bool as_bool() const noexcept { return bool_; }
    double as_double() const noexcept { return number_; }
    std::int64_t as_int() const noexcept { return integral_ ? int_ : static_cast<std::int64_t>(number_); }
    const std::string& as_string() const noexcept { return string_; }
    const std::vector<Value>& items() const noexcept { return array_; }
    // Object members in the order written.
    const std::vector<std::pair<std::string, Value>>& members() const noexcept { return object_; }
    // The member named `key`, or null when absent (or this is not an object).
    const Value* find(std::string_view key) const noexcept;
    // find() that never returns null: a null value stands for "absent".
    const Value& operator[](std::string_view key) const noexcept;

    // Re-serialised compactly (tcpsleuthctl --json).
    std::string dump() const;

private:
    Type type_ = Type::kNull;
    bool bool_ = false;
    bool integral_ = false;
    double number_ = 0;
    std::int64_t int_ = 0;
    std::string string_;
    std::vector<Value> array_;
    std::vector<std::pair<std::string, Value>> object_;
};

struct ParseResult {
    std::optional<Value> value;
    std::string error;   // "at byte 17: expected ':'"
};

// The whole text must be one value (surrounding whitespace allowed).
ParseResult parse(std::string_view text, unsigned max_depth = 32);

}  // namespace tcpsleuth::json
