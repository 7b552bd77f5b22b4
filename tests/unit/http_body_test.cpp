#include "surge/ws/http_body.hpp"

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

TEST_CASE("Transfer-Encoding: chunked alone is accepted, other codings get 501, with Content-Length 400") {
    const BodyFraming chunked = frame("Transfer-Encoding: chunked\r\n");
    CHECK(chunked.status == 0);
    CHECK(chunked.chunked);
    CHECK(frame("transfer-encoding: Chunked\r\n").chunked);
    CHECK(frame("Transfer-Encoding: gzip\r\n").status == 501);
    CHECK(frame("Transfer-Encoding: gzip, chunked\r\n").status == 501);
    CHECK(frame("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n").status == 501);
    const BodyFraming both = frame("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n");
    CHECK(both.status == 400);
    CHECK(both.reason.find("Content-Length") != std::string_view::npos);
}

namespace {

// Decodes `coded` whole, byte by byte (growing prefixes) and split at every offset into two reads, as the server
// does (from the start each time), and checks that all agree; returns the decoded body ("" unless Complete).
std::string decode_every_way(const std::string& coded, ChunkedStatus expected, std::size_t limit = 1000) {
    const ChunkedBody whole = decode_chunked(coded, limit);
    CHECK(whole.status == expected);
    for (std::size_t cut = 0; cut < coded.size(); ++cut) {
        const ChunkedBody prefix = decode_chunked(std::string_view(coded).substr(0, cut), limit);
        INFO("prefix of " << cut);
        // A prefix is incomplete, or already wrong when the whole is.
        CHECK((prefix.status == ChunkedStatus::Incomplete ||
               (expected == ChunkedStatus::Error && prefix.status == ChunkedStatus::Error)));
    }
    if (whole.status != ChunkedStatus::Complete) return {};
    std::string copy = coded;
    const ChunkedBody in_place = decode_chunked(copy, limit, copy.data());
    CHECK(in_place.size == whole.size);
    CHECK(in_place.consumed == coded.size());
    return copy.substr(0, in_place.size);
}

}  // namespace

TEST_CASE("chunked bodies decode whole, and every prefix of them is incomplete") {
    CHECK(decode_every_way("5\r\nhello\r\n0\r\n\r\n", ChunkedStatus::Complete) == "hello");
    CHECK(decode_every_way("3\r\nhel\r\n2;name=value\r\nlo\r\n0\r\n\r\n", ChunkedStatus::Complete) == "hello");
    CHECK(decode_every_way("A\r\n0123456789\r\n0\r\nTrailer: x\r\nMore: y\r\n\r\n", ChunkedStatus::Complete) ==
          "0123456789");
    CHECK(decode_every_way("3\nabc\n0\n\n", ChunkedStatus::Complete) == "abc");  // bare LF, as the head allows
    CHECK(decode_every_way("0\r\n\r\n", ChunkedStatus::Complete).empty());
    CHECK(decode_every_way("1a \r\n" + std::string(26, 'z') + "\r\n0\r\n\r\n", ChunkedStatus::Complete) ==
          std::string(26, 'z'));
}

TEST_CASE("malformed chunked bodies are refused with 400, and ones past the limit with 413") {
    for (const std::string bad : {"x\r\nhello\r\n0\r\n\r\n", "5\r\nhello!\r\n0\r\n\r\n", "-5\r\nhello\r\n",
                                  "11111111111111111\r\n", "5x\r\nhello\r\n0\r\n\r\n"}) {
        CAPTURE(bad);
        const ChunkedBody r = decode_chunked(bad, 1000);
        CHECK(r.status == ChunkedStatus::Error);
        CHECK(r.http_status == 400);
    }
    const ChunkedBody big = decode_chunked("3e9\r\n", 1000);  // 1001 bytes announced
    CHECK(big.status == ChunkedStatus::Error);
    CHECK(big.http_status == 413);
    // Many chunks add up to the limit too.
    std::string many;
    for (int i = 0; i < 11; ++i) many += "64\r\n" + std::string(100, 'm') + "\r\n";
    CHECK(decode_chunked(many + "0\r\n\r\n", 1000).http_status == 413);
    // A size line that never ends is not waited for forever.
    CHECK(decode_chunked(std::string(2000, '0'), 1000).http_status == 400);
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
