// JSON string literals: for the envelopes pub/sub delivers (ws/), and what the tools write (load-tool reports,
// surge-push's answers). Layer: core.
#pragma once

#include <string>
#include <string_view>

namespace surge {

// Appends `text` as a JSON string literal, quotes included: '"' and '\' are escaped, control characters become
// \u00XX, and every other byte is copied as it is (so UTF-8 stays UTF-8).
inline void append_json_string(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (byte < 0x20) {
            out.append("\\u00");
            out.push_back(kHex[byte >> 4]);
            out.push_back(kHex[byte & 15]);
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

}  // namespace surge
