#include "surge/ws/http_request.hpp"

#include <cstring>

namespace surge {
namespace {

// RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" /
// "~" / DIGIT / ALPHA
constexpr bool is_tchar(unsigned char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Finds the end of the head: the LF of an empty line. Returns its index + 1, or 0 if not there yet.
std::size_t find_head_end(std::string_view s, std::size_t from) noexcept {
    for (std::size_t i = from; i < s.size(); ++i) {
        const void* hit = std::memchr(s.data() + i, '\n', s.size() - i);
        if (!hit) return 0;
        i = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
        if (i >= 1 && s[i - 1] == '\n') return i + 1;
        if (i >= 2 && s[i - 1] == '\r' && s[i - 2] == '\n') return i + 1;
    }
    return 0;
}

// Takes one line (without its CRLF or LF) from `head` starting at `pos`; advances `pos` past the line end.
std::string_view take_line(std::string_view head, std::size_t& pos) noexcept {
    const std::size_t lf = head.find('\n', pos);
    std::size_t end = lf;
    if (end > pos && head[end - 1] == '\r') --end;
    std::string_view line = head.substr(pos, end - pos);
    pos = lf + 1;
    return line;
}

constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

bool parse_request_line(std::string_view line, HttpRequest& out) noexcept {
    std::size_t i = 0;
    while (i < line.size() && is_tchar(static_cast<unsigned char>(line[i]))) ++i;
    if (i == 0 || i >= line.size() || line[i] != ' ') return false;
    out.method = line.substr(0, i);
    while (i < line.size() && line[i] == ' ') ++i;  // tolerate runs of spaces
    const std::size_t target_start = i;
    while (i < line.size() && static_cast<unsigned char>(line[i]) > 0x20 && line[i] != 0x7F) ++i;
    if (i == target_start || i >= line.size() || line[i] != ' ') return false;
    out.target = line.substr(target_start, i - target_start);
    while (i < line.size() && line[i] == ' ') ++i;
    const std::string_view version = line.substr(i);
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.') return false;
    if (version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') return false;
    out.version_major = static_cast<std::uint8_t>(version[5] - '0');
    out.version_minor = static_cast<std::uint8_t>(version[7] - '0');
    return true;
}

// Returns 0, or the HTTP status to refuse the field with.
int parse_header_line(std::string_view line, HttpHeaders& out) noexcept {
    std::size_t colon = 0;
    while (colon < line.size() && is_tchar(static_cast<unsigned char>(line[colon]))) ++colon;
    // No name, or anything but ':' right after it (white space before the colon is refused: RFC 9112 5.1).
    if (colon == 0 || colon >= line.size() || line[colon] != ':') return 400;
    std::size_t begin = colon + 1;
    std::size_t end = line.size();
    while (begin < end && is_ows(line[begin])) ++begin;
    while (end > begin && is_ows(line[end - 1])) --end;
    for (std::size_t i = begin; i < end; ++i) {
        const auto c = static_cast<unsigned char>(line[i]);
        if ((c < 0x20 && c != '\t') || c == 0x7F) return 400;  // CTLs, bare CR and NUL are not field content
    }
    if (out.header_count == kMaxHeaders) return 431;
    out.headers[out.header_count++] = {line.substr(0, colon), line.substr(begin, end - begin)};
    return 0;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

const HttpHeader* HttpHeaders::find(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < header_count; ++i) {
        if (iequals(headers[i].name, name)) return &headers[i];
    }
    return nullptr;
}

std::size_t HttpHeaders::count(std::string_view name) const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < header_count; ++i) n += iequals(headers[i].name, name) ? 1 : 0;
    return n;
}

std::string_view HttpRequest::path() const noexcept { return target.substr(0, target.find('?')); }

std::string_view HttpRequest::query() const noexcept {
    const std::size_t q = target.find('?');
    return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

namespace {

// The search and the field loop, shared by requests and responses: `parse_first_line` reads the request or
// status line.
template <class Head, class FirstLine>
ParseResult parse_head(std::string_view received, std::uint32_t max_head_bytes, std::uint32_t& scanned, Head& out,
                       FirstLine&& parse_first_line) noexcept {
    // Skip empty lines before the first line (RFC 9112 2.2); they count toward the limit.
    std::size_t start = 0;
    while (start < received.size() && (received[start] == '\r' || received[start] == '\n')) ++start;

    // Resume two bytes back: the LF that ends the head is recognised by looking at the two bytes before it.
    std::size_t from = scanned > 2 ? scanned - 2 : 0;
    if (from < start) from = start;
    const std::size_t end = find_head_end(received, from);
    if (end == 0) {
        scanned = static_cast<std::uint32_t>(received.size() < max_head_bytes ? received.size() : max_head_bytes);
        if (received.size() > max_head_bytes) return {ParseStatus::Error, 0, 431};
        return {ParseStatus::Incomplete, 0, 0};
    }
    if (end > max_head_bytes) return {ParseStatus::Error, 0, 431};

    const std::string_view head = received.substr(0, end);
    std::size_t pos = start;
    out.header_count = 0;
    if (!parse_first_line(take_line(head, pos), out)) return {ParseStatus::Error, 0, 400};
    for (;;) {
        const std::string_view line = take_line(head, pos);
        if (line.empty()) break;
        if (is_ows(line[0])) return {ParseStatus::Error, 0, 400};  // obsolete line folding (RFC 9112 5.2)
        if (const int status = parse_header_line(line, out)) return {ParseStatus::Error, 0, status};
    }
    return {ParseStatus::Complete, end, 0};
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 4); a missing SP after the code is
// tolerated, as servers that send no reason often drop it.
bool parse_status_line(std::string_view line, HttpResponse& out) noexcept {
    if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[6] != '.' || line[8] != ' ') return false;
    if (line[5] < '0' || line[5] > '9' || line[7] < '0' || line[7] > '9') return false;
    int status = 0;
    for (std::size_t i = 9; i < 12; ++i) {
        if (line[i] < '0' || line[i] > '9') return false;
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || (line.size() > 12 && line[12] != ' ')) return false;
    out.version_major = static_cast<std::uint8_t>(line[5] - '0');
    out.version_minor = static_cast<std::uint8_t>(line[7] - '0');
    out.status = status;
    out.reason = line.size() > 13 ? line.substr(13) : std::string_view{};
    return true;
}

}  // namespace

ParseResult HttpRequestParser::parse(std::string_view received, HttpRequest& out) noexcept {
    return parse_head(received, max_head_bytes_, scanned_, out, parse_request_line);
}

ParseResult HttpResponseParser::parse(std::string_view received, HttpResponse& out) noexcept {
    return parse_head(received, max_head_bytes_, scanned_, out, parse_status_line);
}

}  // namespace surge
