#pragma once
// A small streaming JSON writer for the output side (events, report, control replies).
// Never used on the packet path: it appends to a std::string.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace tcpsleuth {

class JsonWriter {
public:
    explicit JsonWriter(std::string& out) noexcept : out_(out) {}

    JsonWriter& begin_object() { sep(); out_ += '{'; first_ = true; return *this; }
    JsonWriter& end_object() { out_ += '}'; first_ = false; return *this; }
    JsonWriter& begin_array() { sep(); out_ += '['; first_ = true; return *this; }
    JsonWriter& end_array() { out_ += ']'; first_ = false; return *this; }

    JsonWriter& key(std::string_view k) {
        sep();
        string_literal(k);
        out_ += ':';
        first_ = true;  // the value follows without a comma
        return *this;
    }
    JsonWriter& value(std::string_view s) { sep(); string_literal(s); return *this; }
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b) { sep(); out_ += b ? "true" : "false"; return *this; }
    JsonWriter& value(std::uint64_t v) { sep(); out_ += std::to_string(v); return *this; }
    JsonWriter& value(std::int64_t v) { sep(); out_ += std::to_string(v); return *this; }
    JsonWriter& value(std::uint32_t v) { return value(static_cast<std::uint64_t>(v)); }
    JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
    JsonWriter& value(double v, int decimals = 3) {
        sep();
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
        out_ += buf;
        return *this;
    }
    JsonWriter& null() { sep(); out_ += "null"; return *this; }
    // Inserts already-serialised JSON.
    JsonWriter& raw(std::string_view json) { sep(); out_ += json; return *this; }

    template <typename T>
    JsonWriter& field(std::string_view k, const T& v) { key(k); return value(v); }
    JsonWriter& field(std::string_view k, double v, int decimals) { key(k); return value(v, decimals); }

private:
    void sep() {
        if (!first_) out_ += ',';
        first_ = false;
    }
    void string_literal(std::string_view s) {
        out_ += '"';
        for (const char c : s) {
            switch (c) {
                case '"': out_ += "\\\""; break;
                case '\\': out_ += "\\\\"; break;
                case '\n': out_ += "\\n"; break;
                case '\r': out_ += "\\r"; break;
                case '\t': out_ += "\\t"; break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        char buf[8];
                        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                        out_ += buf;
                    } else {
                        out_ += c;
                    }
            }
        }
        out_ += '"';
    }

    std::string& out_;
    bool first_ = true;
};

}  // namespace tcpsleuth
