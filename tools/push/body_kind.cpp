#include "tools/push/body_kind.hpp"

#include <array>
#include <cctype>
#include <string_view>

#include "surge/core/utf8.hpp"

namespace surge::push {

namespace {

using namespace std::string_view_literals;

bool same_letters(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

bool starts_with_letters(std::string_view text, std::string_view prefix) noexcept {
    return text.size() >= prefix.size() && same_letters(text.substr(0, prefix.size()), prefix);
}

bool ends_with_letters(std::string_view text, std::string_view suffix) noexcept {
    return text.size() >= suffix.size() && same_letters(text.substr(text.size() - suffix.size()), suffix);
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

enum class Declared : std::uint8_t { Text, Binary, Either };

Declared declared(std::string_view type) noexcept {
    constexpr std::array kBinaryTypes = {"application/octet-stream"sv, "application/zip"sv, "application/gzip"sv,
                                         "application/pdf"sv,          "application/protobuf"sv,
                                         "application/x-protobuf"sv,   "application/msgpack"sv,
                                         "application/x-msgpack"sv,    "application/cbor"sv};
    constexpr std::array kBinaryFamilies = {"image/"sv, "audio/"sv, "video/"sv, "font/"sv};
    constexpr std::array kTextTypes = {"application/json"sv, "application/xml"sv, "application/javascript"sv,
                                       "application/ecmascript"sv, "application/x-ndjson"sv};
    for (std::string_view t : kBinaryTypes) {
        if (same_letters(type, t)) return Declared::Binary;
    }
    for (std::string_view f : kBinaryFamilies) {
        if (starts_with_letters(type, f)) return Declared::Binary;
    }
    if (starts_with_letters(type, "text/") || ends_with_letters(type, "+json") || ends_with_letters(type, "+xml")) {
        return Declared::Text;
    }
    for (std::string_view t : kTextTypes) {
        if (same_letters(type, t)) return Declared::Text;
    }
    return Declared::Either;
}

}  // namespace

BodyKind body_kind(std::string_view content_type, std::string_view body) noexcept {
    const std::size_t semicolon = content_type.find(';');
    const Declared kind = declared(trim(content_type.substr(0, semicolon)));
    if (kind == Declared::Binary) return BodyKind::Binary;
    const bool utf8 = is_valid_utf8(body);
    if (kind == Declared::Either) return utf8 ? BodyKind::Text : BodyKind::Binary;
    // Declared text: the charset parameter, if any, must be one a text frame can carry.
    for (std::string_view params = semicolon == std::string_view::npos ? std::string_view{}
                                                                        : content_type.substr(semicolon + 1);
         !params.empty();) {
        const std::size_t next = params.find(';');
        const std::string_view param = trim(params.substr(0, next));
        params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
        if (!starts_with_letters(param, "charset=")) continue;
        std::string_view charset = trim(param.substr(8));
        if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
            charset = charset.substr(1, charset.size() - 2);
        }
        if (!same_letters(charset, "utf-8") && !same_letters(charset, "utf8") && !same_letters(charset, "us-ascii")) {
            return BodyKind::UnsupportedCharset;
        }
    }
    return utf8 ? BodyKind::Text : BodyKind::NotUtf8;
}

}  // namespace surge::push
