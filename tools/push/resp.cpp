#include "tools/push/resp.hpp"

#include <charconv>

namespace surge::push {

namespace {

// Reads "<digits>\r\n" at `at` into `value`. Complete, Incomplete (no CRLF yet), or Invalid.
RespParse read_length(std::string_view input, std::size_t& at, std::size_t& value, std::string& why) {
    const std::size_t end = input.find("\r\n", at);
    if (end == std::string_view::npos) {
        if (input.size() - at > 20) {  // no length has more digits than that
            why = "a length without its line end";
            return RespParse::Invalid;
        }
        return RespParse::Incomplete;
    }
    const char* first = input.data() + at;
    const char* last = input.data() + end;
    const auto parsed = std::from_chars(first, last, value);
    if (first == last || parsed.ec != std::errc{} || parsed.ptr != last) {
        why = "a length that is not a number";
        return RespParse::Invalid;
    }
    at = end + 2;
    return RespParse::Complete;
}

}  // namespace

RespParse parse_command(std::string_view input, const RespLimits& limits, std::vector<std::string_view>& arguments,
                        std::size_t& consumed, std::string& why) {
    if (input.empty()) return RespParse::Incomplete;
    if (input[0] != '*') {
        why = "expected an array of bulk strings (inline commands are not served)";
        return RespParse::Invalid;
    }
    std::size_t at = 1;
    std::size_t count = 0;
    if (const RespParse r = read_length(input, at, count, why); r != RespParse::Complete) return r;
    if (count == 0 || count > limits.max_arguments) {
        why = "a command of " + std::to_string(count) + " arguments (1 to " + std::to_string(limits.max_arguments) +
              ")";
        return RespParse::Invalid;
    }
    std::vector<std::string_view> found;
    found.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        if (at >= input.size()) return RespParse::Incomplete;
        if (input[at] != '$') {
            why = "an argument that is not a bulk string";
            return RespParse::Invalid;
        }
        ++at;
        std::size_t length = 0;
        if (const RespParse r = read_length(input, at, length, why); r != RespParse::Complete) return r;
        if (length > limits.max_bulk_bytes) {
            why = "an argument of " + std::to_string(length) + " bytes (at most " +
                  std::to_string(limits.max_bulk_bytes) + ")";
            return RespParse::Invalid;
        }
        if (input.size() - at < length + 2) return RespParse::Incomplete;
        if (input.substr(at + length, 2) != "\r\n") {
            why = "a bulk string longer than its length";
            return RespParse::Invalid;
        }
        found.push_back(input.substr(at, length));
        at += length + 2;
    }
    arguments = std::move(found);
    consumed = at;
    return RespParse::Complete;
}

void append_status(std::string& out, std::string_view status) { out.append("+").append(status).append("\r\n"); }

void append_error(std::string& out, std::string_view message) {
    out.push_back('-');
    for (char c : message) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
    out.append("\r\n");
}

void append_integer(std::string& out, std::int64_t value) {
    out.append(":").append(std::to_string(value)).append("\r\n");
}

void append_bulk(std::string& out, std::string_view bytes) {
    out.append("$").append(std::to_string(bytes.size())).append("\r\n").append(bytes).append("\r\n");
}

void append_array_header(std::string& out, std::size_t elements) {
    out.append("*").append(std::to_string(elements)).append("\r\n");
}

}  // namespace surge::push
