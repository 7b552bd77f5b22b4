#include "ws/http_body.hpp"

#include <charconv>

namespace surge {

BodyFraming frame_request_body(const HttpRequest& request, std::size_t max_body_bytes) noexcept {
    if (request.find("Transfer-Encoding")) {
        return {411, "send a Content-Length body; chunked requests are not accepted", 0};
    }
    std::size_t length = 0;
    if (const HttpHeader* header = request.find("Content-Length")) {
        const char* end = header->value.data() + header->value.size();
        if (header->value.empty() || std::from_chars(header->value.data(), end, length).ptr != end) {
            return {400, "bad Content-Length", 0};
        }
    }
    if (length > max_body_bytes) return {413, "body too large", 0};
    return {0, {}, length};
}

}  // namespace surge
