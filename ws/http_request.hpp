// HTTP/1.1 heads parsed in place (RFC 9112): the request a server receives and the response a client receives.
// Layer: ws.
// The method, target and header names and values are string_views into the caller's bytes: nothing is copied
// and nothing is allocated. The parser is resumable: the caller appends each read to the bytes received so
// far and calls parse() again; the search for the end of the head resumes where it stopped, so a request fed
// one byte at a time costs O(n) in all. A head larger than the limit, or with more than kMaxHeaders fields,
// is refused with 431. Lines may end in CRLF or a bare LF; leading empty lines are skipped (RFC 9112 2.2).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace surge {

inline constexpr std::size_t kDefaultMaxHeaderBytes = 8 * 1024;
inline constexpr std::size_t kMaxHeaders = 64;

struct HttpHeader {
    std::string_view name;
    std::string_view value;  // without surrounding spaces and tabs
};

// ASCII case-insensitive comparison, for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

// The header fields of a request or a response, in the order received.
struct HttpHeaders {
    std::size_t header_count = 0;
    std::array<HttpHeader, kMaxHeaders> headers;

    // The first field named `name` (case-insensitive), or nullptr.
    const HttpHeader* find(std::string_view name) const noexcept;
    // How many fields are named `name`.
    std::size_t count(std::string_view name) const noexcept;
};

struct HttpRequest : HttpHeaders {
    std::string_view method;
    std::string_view target;
    std::uint8_t version_major = 0;
    std::uint8_t version_minor = 0;

    // The path part of the target (before '?') and the query (after it, without '?').
    std::string_view path() const noexcept;
    std::string_view query() const noexcept;
};

enum class ParseStatus : std::uint8_t { Complete, Incomplete, Error };

struct ParseResult {
    ParseStatus status = ParseStatus::Incomplete;
    std::size_t head_bytes = 0;  // with Complete: the length of the head, including the empty line
    int http_status = 0;         // with Error: 400 (malformed) or 431 (too large)
};

class HttpRequestParser {
public:
    explicit HttpRequestParser(std::size_t max_head_bytes = kDefaultMaxHeaderBytes,
                               std::uint32_t resume_from = 0) noexcept
        : max_head_bytes_(static_cast<std::uint32_t>(max_head_bytes)), scanned_(resume_from) {}

    // `received` is every byte of this request received so far, from its first byte. On Complete, `out`
    // holds views into `received`, valid while those bytes are; bytes after head_bytes (a body, or a client's
    // first frames) are not looked at.
    ParseResult parse(std::string_view received, HttpRequest& out) noexcept;
    // Ready for a new request.
    void reset() noexcept { scanned_ = 0; }
    // How far the search has gone: a connection that does not keep the parser stores this and passes it back
    // as `resume_from`, so that a slow request is not searched again from its start on every read.
    std::uint32_t scanned() const noexcept { return scanned_; }

private:
    std::uint32_t max_head_bytes_;
    std::uint32_t scanned_ = 0;  // bytes already searched for the end of the head
};

// A response head: what a client reads back from its upgrade request.
struct HttpResponse : HttpHeaders {
    int status = 0;  // three digits
    std::string_view reason;
    std::uint8_t version_major = 0;
    std::uint8_t version_minor = 0;
};

// Parses response heads the way HttpRequestParser parses requests: resumable, in place, bounded. Errors are
// 400 for a malformed head and 431 for one too large (the status a server would give; a client reports it).
class HttpResponseParser {
public:
    explicit HttpResponseParser(std::size_t max_head_bytes = kDefaultMaxHeaderBytes) noexcept
        : max_head_bytes_(static_cast<std::uint32_t>(max_head_bytes)) {}

    ParseResult parse(std::string_view received, HttpResponse& out) noexcept;
    void reset() noexcept { scanned_ = 0; }

private:
    std::uint32_t max_head_bytes_;
    std::uint32_t scanned_ = 0;
};

}  // namespace surge
