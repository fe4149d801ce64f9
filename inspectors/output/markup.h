#pragma once
// Text made safe inside HTML and SVG (the report page, the plots): the five characters XML
// gives meaning to, as entities.

#include <string>
#include <string_view>

namespace tcpsleuth {

inline std::string xml_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

}  // namespace tcpsleuth
