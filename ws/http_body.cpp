#include "ws/http_body.hpp"

#include <charconv>

namespace surge {

BodyFraming frame_request_body(const HttpRequest& request, std::size_t max_body_bytes) noexcept {
    if (request.find("Transfer-Encoding")) {
        return {411, "send a Content-Length body; chunked requests are not accepted", 0};
    }
    // Every Content-Length field must be a number that fits, and all must agree (RFC 9112 6.3, 8.6): a request
    // whose framing two parties could read differently is refused rather than guessed at.
    std::size_t length = 0;
    bool seen = false;
    for (std::size_t i = 0; i < request.header_count; ++i) {
        const HttpHeader& header = request.headers[i];
        if (!iequals(header.name, "Content-Length")) continue;
        const char* end = header.value.data() + header.value.size();
        std::size_t value = 0;
        const std::from_chars_result parsed = std::from_chars(header.value.data(), end, value);
        if (header.value.empty() || parsed.ptr != end || parsed.ec != std::errc{}) {
            return {400, "bad Content-Length", 0};
        }
        if (seen && value != length) return {400, "conflicting Content-Length", 0};
        length = value;
        seen = true;
    }
    if (length > max_body_bytes) return {413, "body too large", 0};
    return {0, {}, length};
}

}  // namespace surge
