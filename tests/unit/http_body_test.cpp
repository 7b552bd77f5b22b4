#include "ws/http_body.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using namespace surge;

namespace {

// Frames the body of a POST whose head carries `headers` ("Name: value\r\n" lines).
BodyFraming frame(const std::string& headers, std::size_t limit = 1000) {
    static std::string bytes;  // the request's views point here until the next call
    bytes = "POST /publish/news HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n";
    HttpRequestParser parser;
    HttpRequest request;
    REQUIRE(parser.parse(bytes, request).status == ParseStatus::Complete);
    return frame_request_body(request, limit);
}

}  // namespace

TEST_CASE("a request without a framing header has no body") {
    const BodyFraming f = frame("");
    CHECK(f.status == 0);
    CHECK(f.length == 0);
}

TEST_CASE("Content-Length gives the body's length, up to the limit") {
    CHECK(frame("Content-Length: 0\r\n").length == 0);
    CHECK(frame("Content-Length: 17\r\n").length == 17);
    CHECK(frame("content-length: 1000\r\n").length == 1000);
    const BodyFraming over = frame("Content-Length: 1001\r\n");
    CHECK(over.status == 413);
    CHECK(over.reason == "body too large");
}

TEST_CASE("a Content-Length that is not a number is refused with 400") {
    for (const char* value : {"", "abc", "12a", "-1", "+5", "1 2", "0x10"}) {
        CAPTURE(value);
        const BodyFraming f = frame(std::string("Content-Length: ") + value + "\r\n");
        CHECK(f.status == 400);
        CHECK(f.reason == "bad Content-Length");
    }
}

TEST_CASE("a Transfer-Encoding body is refused with 411") {
    const BodyFraming f = frame("Transfer-Encoding: chunked\r\n");
    CHECK(f.status == 411);
    CHECK(f.reason.find("Content-Length") != std::string_view::npos);
    CHECK(frame("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n").status == 411);
}

TEST_CASE("a Content-Length past 64 bits is refused, not wrapped or read as 0") {
    for (const char* value : {"18446744073709551616", "99999999999999999999999", "18446744073709551615"}) {
        CAPTURE(value);
        const BodyFraming f = frame(std::string("Content-Length: ") + value + "\r\n", SIZE_MAX);
        if (std::string(value) == "18446744073709551615") {
            CHECK(f.status == 0);  // the largest that fits is a number; the limit decides
            CHECK(f.length == SIZE_MAX);
        } else {
            CHECK(f.status == 400);
            CHECK(f.reason == "bad Content-Length");
        }
    }
}

TEST_CASE("several Content-Length fields must agree") {
    const BodyFraming differ = frame("Content-Length: 5\r\nContent-Length: 6\r\n");
    CHECK(differ.status == 400);
    CHECK(differ.reason == "conflicting Content-Length");
    const BodyFraming same = frame("Content-Length: 5\r\ncontent-length: 5\r\n");
    CHECK(same.status == 0);
    CHECK(same.length == 5);
    CHECK(frame("Content-Length: 5\r\nContent-Length: x\r\n").status == 400);
}
