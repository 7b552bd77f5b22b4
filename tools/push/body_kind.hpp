// What a published HTTP body becomes: a text or a binary WebSocket message, decided by its Content-Type.
// Layer: tools. A pure function, unit tested.
//   - application/octet-stream, image/*, audio/*, video/*, font/*, application/zip, gzip, pdf, protobuf,
//     msgpack, cbor: binary, whatever the bytes;
//   - text/*, application/json, application/*+json, application/xml, application/*+xml, javascript: text,
//     which must then be UTF-8 (a text frame may carry nothing else): NotUtf8 otherwise, and UnsupportedCharset
//     for a charset parameter other than utf-8 (or us-ascii, a subset);
//   - none, or any other type (curl -d sends application/x-www-form-urlencoded): text when the bytes are
//     UTF-8, else binary, as before Content-Type was read.
#pragma once

#include <cstdint>
#include <string_view>

namespace surge::push {

enum class BodyKind : std::uint8_t { Text, Binary, NotUtf8, UnsupportedCharset };

BodyKind body_kind(std::string_view content_type, std::string_view body) noexcept;

}  // namespace surge::push
