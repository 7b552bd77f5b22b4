// Comma-separated token lists in HTTP header fields (Connection, Upgrade, Sec-WebSocket-Protocol, ...) of a
// request or a response, read across every field of that name, as if the repeated fields had been merged
// (RFC 9110 5.3). Layer: ws.
// Tolerant as real clients and proxies need: tokens are trimmed of spaces and tabs and of stray double quotes
// (`"upgrade"`), and empty elements are skipped. Views into the head; no allocation.
#pragma once

#include <string_view>

#include "surge/ws/http_request.hpp"

namespace surge {

class TokenList {
public:
    TokenList(const HttpHeaders& fields, std::string_view header_name) noexcept
        : fields_(&fields), name_(header_name) {}

    // Calls fn(token) for each token in order; stops early when fn returns false.
    template <class Fn>
    void for_each(Fn&& fn) const;
    // Whether any token equals `token`, ignoring ASCII case.
    bool contains(std::string_view token) const noexcept;
    bool empty() const noexcept;

private:
    const HttpHeaders* fields_;
    std::string_view name_;
};

// The next token of `list` from `pos` (advanced past it and its comma); empty when the list is used up.
std::string_view next_token(std::string_view list, std::size_t& pos) noexcept;

template <class Fn>
void TokenList::for_each(Fn&& fn) const {
    for (std::size_t h = 0; h < fields_->header_count; ++h) {
        if (!iequals(fields_->headers[h].name, name_)) continue;
        const std::string_view value = fields_->headers[h].value;
        std::size_t pos = 0;
        while (pos < value.size()) {
            const std::string_view token = next_token(value, pos);
            if (!token.empty() && !fn(token)) return;
        }
    }
}

}  // namespace surge
