// surge-push's Content-Type rule: which published bodies become text messages and which binary.
#include "tools/push/body_kind.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace surge::push;

TEST_CASE("push body kind: binary types are binary whatever the bytes, text types must be UTF-8") {
    const std::string not_utf8 = "\xff\xfe binary";
    CHECK(body_kind("application/octet-stream", "plain words") == BodyKind::Binary);
    CHECK(body_kind("Application/Octet-Stream", not_utf8) == BodyKind::Binary);
    CHECK(body_kind("image/png", not_utf8) == BodyKind::Binary);
    CHECK(body_kind("application/x-protobuf", "\x08\x01") == BodyKind::Binary);
    CHECK(body_kind("text/plain", "héllo") == BodyKind::Text);
    CHECK(body_kind("application/json", R"({"a":1})") == BodyKind::Text);
    CHECK(body_kind("application/vnd.api+json; charset=utf-8", "{}") == BodyKind::Text);
    CHECK(body_kind("application/atom+xml", "<feed/>") == BodyKind::Text);
    CHECK(body_kind("text/plain", not_utf8) == BodyKind::NotUtf8);
    CHECK(body_kind("application/json", not_utf8) == BodyKind::NotUtf8);
}

TEST_CASE("push body kind: a charset other than UTF-8 on text is refused, and parameters are read loosely") {
    CHECK(body_kind("text/plain; charset=UTF-8", "x") == BodyKind::Text);
    CHECK(body_kind("text/plain;charset=\"utf-8\"", "x") == BodyKind::Text);
    CHECK(body_kind("text/plain; format=flowed; charset=us-ascii", "x") == BodyKind::Text);
    CHECK(body_kind("text/plain; charset=iso-8859-1", "x") == BodyKind::UnsupportedCharset);
    CHECK(body_kind("text/csv ; charset=windows-1252", "x") == BodyKind::UnsupportedCharset);
    // A charset on a binary type means nothing to a WebSocket message.
    CHECK(body_kind("application/octet-stream; charset=iso-8859-1", "x") == BodyKind::Binary);
}

TEST_CASE("push body kind: no Content-Type, or one that says neither, goes by the bytes") {
    CHECK(body_kind("", "hello") == BodyKind::Text);
    CHECK(body_kind("", "\xc3\x28") == BodyKind::Binary);
    CHECK(body_kind("application/x-www-form-urlencoded", "hello") == BodyKind::Text);  // curl -d
    CHECK(body_kind("application/x-www-form-urlencoded", "\xc3\x28") == BodyKind::Binary);
    CHECK(body_kind("multipart/form-data; boundary=x", "\x80") == BodyKind::Binary);
}
