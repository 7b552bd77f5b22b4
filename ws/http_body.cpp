#include "surge/ws/http_body.hpp"

#include <charconv>
#include <cstring>

namespace surge {

BodyFraming frame_request_body(const HttpRequest& request, std::size_t max_body_bytes) noexcept {
    if (const HttpHeader* coding = request.find("Transfer-Encoding")) {
        if (request.count("Transfer-Encoding") != 1 || !iequals(coding->value, "chunked")) {
            return {501, "only the chunked transfer coding is implemented", 0, false};
        }
        if (request.find("Content-Length")) return {400, "Transfer-Encoding with Content-Length", 0, false};
        return {0, {}, 0, true};
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
            return {400, "bad Content-Length", 0, false};
        }
        if (seen && value != length) return {400, "conflicting Content-Length", 0, false};
        length = value;
        seen = true;
    }
    if (length > max_body_bytes) return {413, "body too large", 0, false};
    return {0, {}, length, false};
}

namespace {

// A chunk-size line (with its extensions) longer than this is refused rather than waited for.
constexpr std::size_t kMaxChunkLine = 1024;
// Trailer fields are read and dropped, up to this much.
constexpr std::size_t kMaxTrailerBytes = 8 * 1024;

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The line starting at `at`: its end (before CR LF or LF) and where the next starts; false when no LF has come.
bool next_line(std::string_view coded, std::size_t at, std::size_t& end, std::size_t& next) noexcept {
    const std::size_t lf = coded.find('\n', at);
    if (lf == std::string_view::npos) return false;
    end = lf > at && coded[lf - 1] == '\r' ? lf - 1 : lf;
    next = lf + 1;
    return true;
}

ChunkedBody refuse(int status, std::string_view reason) noexcept {
    return {ChunkedStatus::Error, 0, 0, status, reason};
}

}  // namespace

ChunkedBody decode_chunked(std::string_view coded, std::size_t max_body_bytes, char* out) noexcept {
    std::size_t at = 0;
    std::size_t size = 0;
    for (;;) {
        // chunk-size [ chunk-ext ] CRLF
        std::size_t end = 0, next = 0;
        if (!next_line(coded, at, end, next)) {
            if (coded.size() - at > kMaxChunkLine) return refuse(400, "chunk-size line too long");
            return {};
        }
        if (end - at > kMaxChunkLine) return refuse(400, "chunk-size line too long");
        std::uint64_t chunk = 0;
        std::size_t digits = 0;
        for (std::size_t i = at; i < end && hex_digit(coded[i]) >= 0; ++i, ++digits) {
            if (chunk >> 60) return refuse(400, "chunk size too large");
            chunk = chunk * 16 + static_cast<std::uint64_t>(hex_digit(coded[i]));
        }
        const char after = at + digits < end ? coded[at + digits] : ';';
        if (digits == 0 || (after != ';' && after != ' ' && after != '\t')) return refuse(400, "bad chunk size");
        at = next;
        if (chunk == 0) break;
        if (chunk > max_body_bytes - size) return refuse(413, "body too large");
        // chunk-data CRLF
        if (coded.size() - at < chunk) return {};
        if (out) std::memmove(out + size, coded.data() + at, static_cast<std::size_t>(chunk));
        size += static_cast<std::size_t>(chunk);
        at += static_cast<std::size_t>(chunk);
        if (!next_line(coded, at, end, next)) {
            if (coded.size() - at >= 2) return refuse(400, "chunk data longer than its size");
            return {};
        }
        if (end != at) return refuse(400, "chunk data longer than its size");
        at = next;
    }
    // trailer-section CRLF: field lines until an empty one.
    const std::size_t trailers = at;
    for (;;) {
        std::size_t end = 0, next = 0;
        if (!next_line(coded, at, end, next)) {
            if (coded.size() - trailers > kMaxTrailerBytes) return refuse(400, "trailer section too large");
            return {};
        }
        const bool empty = end == at;
        at = next;
        if (empty) break;
        if (at - trailers > kMaxTrailerBytes) return refuse(400, "trailer section too large");
    }
    return {ChunkedStatus::Complete, at, size, 0, {}};
}

}  // namespace surge
