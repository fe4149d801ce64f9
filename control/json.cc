#include "json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "inspectors/output/json_writer.h"

namespace tcpsleuth::json {

Value Value::boolean(bool b) {
    Value v;
    v.type_ = Type::kBool;
    v.bool_ = b;
    return v;
}
Value Value::number(double d) {
    Value v;
    v.type_ = Type::kNumber;
    v.number_ = d;
    return v;
}
Value Value::integer(std::int64_t i) {
    Value v;
    v.type_ = Type::kNumber;
    v.integral_ = true;
    v.int_ = i;
    v.number_ = static_cast<double>(i);
    return v;
}
Value Value::string(std::string s) {
    Value v;
    v.type_ = Type::kString;
    v.string_ = std::move(s);
    return v;
}
Value Value::array(std::vector<Value> a) {
    Value v;
    v.type_ = Type::kArray;
    v.array_ = std::move(a);
    return v;
}
Value Value::object(std::vector<std::pair<std::string, Value>> o) {
    Value v;
    v.type_ = Type::kObject;
    v.object_ = std::move(o);
    return v;
}

const Value* Value::find(std::string_view key) const noexcept {
    for (const auto& [k, v] : object_) {
        if (k == key) return &v;
    }
    return nullptr;
}

const Value& Value::operator[](std::string_view key) const noexcept {
    static const Value kNull;
    const Value* v = find(key);
    return v != nullptr ? *v : kNull;
}

namespace {

void dump_to(const Value& v, JsonWriter& w) {
    switch (v.type()) {
        case Value::Type::kNull: w.null(); break;
        case Value::Type::kBool: w.value(v.as_bool()); break;
        case Value::Type::kNumber:
            if (v.is_integer()) {
                w.value(v.as_int());
            } else {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%.17g", v.as_double());
                w.raw(buf);
            }
            break;
        case Value::Type::kString: w.value(v.as_string()); break;
        case Value::Type::kArray:
            w.begin_array();
            for (const Value& e : v.items()) dump_to(e, w);
            w.end_array();
            break;
        case Value::Type::kObject:
            w.begin_object();
            for (const auto& [k, e] : v.members()) {
                w.key(k);
                dump_to(e, w);
            }
            w.end_object();
            break;
    }
}

class Parser {
public:
    Parser(std::string_view text, unsigned max_depth) : s_(text), max_depth_(max_depth) {}

    ParseResult run() {
        ParseResult r;
        Value v;
        skip_ws();
        if (!value(v, 0)) {
            r.error = "at byte " + std::to_string(pos_ + 1) + ": " + error_;
            return r;
        }
        skip_ws();
        if (pos_ != s_.size()) {
            r.error = "at byte " + std::to_string(pos_ + 1) + ": unexpected text after the value";
            return r;
        }
        r.value = std::move(v);
        return r;
    }

private:
    bool fail(std::string msg) {
        error_ = std::move(msg);
        return false;
    }
    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    }
    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return fail("unexpected character");
        pos_ += word.size();
        return true;
    }

    bool value(Value& out, unsigned depth) {
        if (pos_ >= s_.size()) return fail("unexpected end of input");
        switch (s_[pos_]) {
            case '{': return object(out, depth + 1);
            case '[': return array(out, depth + 1);
            case '"': {
                std::string str;
                if (!string(str)) return false;
                out = Value::string(std::move(str));
                return true;
            }
            case 't': out = Value::boolean(true); return literal("true");
            case 'f': out = Value::boolean(false); return literal("false");
            case 'n': out = Value(); return literal("null");
            default: return number(out);
        }
    }

    bool object(Value& out, unsigned depth) {
        if (depth > max_depth_) return fail("nested deeper than " + std::to_string(max_depth_) + " levels");
        ++pos_;
        std::vector<std::pair<std::string, Value>> members;
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == '}') {
            ++pos_;
            out = Value::object(std::move(members));
            return true;
        }
        for (;;) {
            skip_ws();
            if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a member name in quotes");
            std::string key;
            if (!string(key)) return false;
            skip_ws();
            if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected ':'");
            ++pos_;
            skip_ws();
            Value v;
            if (!value(v, depth)) return false;
            members.emplace_back(std::move(key), std::move(v));
            skip_ws();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == '}') {
                ++pos_;
                out = Value::object(std::move(members));
                return true;
            }
            return fail("expected ',' or '}'");
        }
    }

    bool array(Value& out, unsigned depth) {
        if (depth > max_depth_) return fail("nested deeper than " + std::to_string(max_depth_) + " levels");
        ++pos_;
        std::vector<Value> items;
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ']') {
            ++pos_;
            out = Value::array(std::move(items));
            return true;
        }
        for (;;) {
            skip_ws();
            Value v;
            if (!value(v, depth)) return false;
            items.push_back(std::move(v));
            skip_ws();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == ']') {
                ++pos_;
                out = Value::array(std::move(items));
                return true;
            }
            return fail("expected ',' or ']'");
        }
    }

    bool hex4(unsigned& cp) {
        if (pos_ + 4 > s_.size()) return fail("short \\u escape");
        cp = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = s_[pos_++];
            cp <<= 4;
            if (c >= '0' && c <= '9') cp |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') cp |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') cp |= static_cast<unsigned>(c - 'A' + 10);
            else return fail("bad \\u escape");
        }
        return true;
    }

    static void utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }

    bool string(std::string& out) {
        ++pos_;  // opening quote
        for (;;) {
            if (pos_ >= s_.size()) return fail("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) return fail("unterminated string");
            switch (s_[pos_++]) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned cp = 0;
                    if (!hex4(cp)) return false;
                    // A surrogate pair (RFC 8259 section 7) makes one code point.
                    if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(pos_, 2) == "\\u") {
                        pos_ += 2;
                        unsigned lo = 0;
                        if (!hex4(lo)) return false;
                        if (lo < 0xdc00 || lo > 0xdfff) return fail("bad surrogate pair");
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    }
                    utf8(out, cp);
                    break;
                }
                default: return fail("bad escape");
            }
        }
    }

    bool number(Value& out) {
        const std::size_t start = pos_;
        bool integral = true;
        if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
        const std::size_t digits = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
        if (pos_ == digits) return fail("unexpected character");
        if (s_[digits] == '0' && pos_ - digits > 1) return fail("leading zero in a number");
        if (pos_ < s_.size() && s_[pos_] == '.') {
            integral = false;
            ++pos_;
            const std::size_t frac = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            if (pos_ == frac) return fail("digits expected after '.'");
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            integral = false;
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            const std::size_t exp = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            if (pos_ == exp) return fail("digits expected in the exponent");
        }
        const std::string text(s_.substr(start, pos_ - start));
        if (integral) {
            errno = 0;
            const long long v = std::strtoll(text.c_str(), nullptr, 10);
            if (errno != ERANGE) {
                out = Value::integer(v);
                return true;
            }
        }
        out = Value::number(std::strtod(text.c_str(), nullptr));
        return true;
    }

    std::string_view s_;
    unsigned max_depth_;
    std::size_t pos_ = 0;
    std::string error_;
};

}  // namespace

std::string Value::dump() const {
    std::string out;
    JsonWriter w(out);
    dump_to(*this, w);
    return out;
}

ParseResult parse(std::string_view text, unsigned max_depth) { return Parser(text, max_depth).run(); }

}  // namespace tcpsleuth::json
