#include "surge/ws/http_request.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace surge;

namespace {
const std::string kRequest =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "X-Padded:   spaces and\ttabs \t \r\n"
    "Empty:\r\n"
    "\r\n";

bool points_into(std::string_view view, const std::string& buffer) {
    return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}
}  // namespace

TEST_CASE("a request head is parsed into views of the caller's bytes") {
    HttpRequestParser parser;
    HttpRequest request;
    const std::string bytes = kRequest + "trailing frame bytes";
    const ParseResult r = parser.parse(bytes, request);
    REQUIRE(r.status == ParseStatus::Complete);
    CHECK(r.head_bytes == kRequest.size());
    CHECK(request.method == "GET");
    CHECK(request.target == "/chat?room=1");
    CHECK(request.path() == "/chat");
    CHECK(request.query() == "room=1");
    CHECK(request.version_major == 1);
    CHECK(request.version_minor == 1);
    CHECK(request.header_count == 5);
    CHECK(request.find("host")->value == "server.example.com");
    CHECK(request.find("X-PADDED")->value == "spaces and\ttabs");
    CHECK(request.find("Empty")->value.empty());
    CHECK(request.find("Missing") == nullptr);
    CHECK(points_into(request.method, bytes));
    CHECK(points_into(request.target, bytes));
    for (std::size_t i = 0; i < request.header_count; ++i) {
        CHECK(points_into(request.headers[i].name, bytes));
        CHECK(points_into(request.headers[i].value, bytes));
    }
}

TEST_CASE("resumable: every prefix is Incomplete, and bytes arriving one at a time give the same result") {
    HttpRequestParser parser;
    HttpRequest request;
    for (std::size_t n = 0; n < kRequest.size(); ++n) {
        INFO("prefix " << n);
        CHECK(parser.parse(std::string_view(kRequest).substr(0, n), request).status == ParseStatus::Incomplete);
    }
    const ParseResult r = parser.parse(kRequest, request);
    CHECK(r.status == ParseStatus::Complete);
    CHECK(r.head_bytes == kRequest.size());
    CHECK(request.find("Connection")->value == "Upgrade");
}

TEST_CASE("the head's end is found across every split of CR LF CR LF") {
    for (std::size_t cut = 1; cut < kRequest.size(); ++cut) {
        HttpRequestParser parser;
        HttpRequest request;
        CHECK(parser.parse(std::string_view(kRequest).substr(0, cut), request).status == ParseStatus::Incomplete);
        const ParseResult r = parser.parse(kRequest, request);
        INFO("cut " << cut);
        CHECK(r.status == ParseStatus::Complete);
        CHECK(r.head_bytes == kRequest.size());
    }
}

TEST_CASE("bare LF line endings and leading empty lines are tolerated") {
    HttpRequestParser parser;
    HttpRequest request;
    const std::string bytes = "\r\n\nGET / HTTP/1.1\nHost: a\n\n";
    const ParseResult r = parser.parse(bytes, request);
    REQUIRE(r.status == ParseStatus::Complete);
    CHECK(r.head_bytes == bytes.size());
    CHECK(request.find("Host")->value == "a");
}

TEST_CASE("malformed heads are 400") {
    for (const char* bad : {
             "GET\r\n\r\n",
             "GET / HTTP/1.1 extra\r\n\r\n",
             "GET / HTTX/1.1\r\n\r\n",
             "GET / HTTP/11\r\n\r\n",
             "G(T / HTTP/1.1\r\n\r\n",
             " GET / HTTP/1.1\r\n\r\n",
             "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
             "GET / HTTP/1.1\r\nName : space before colon\r\n\r\n",
             "GET / HTTP/1.1\r\n: no name\r\n\r\n",
             "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
             "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
             "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
         }) {
        HttpRequestParser parser;
        HttpRequest request;
        const ParseResult r = parser.parse(bad, request);
        INFO(bad);
        CHECK(r.status == ParseStatus::Error);
        CHECK(r.http_status == 400);
    }
}

TEST_CASE("limits give 431") {
    SUBCASE("a head over the byte limit, complete or not") {
        HttpRequestParser parser(1024);
        HttpRequest request;
        std::string big = "GET / HTTP/1.1\r\nX: " + std::string(1100, 'a');
        CHECK(parser.parse(big, request).http_status == 431);
        HttpRequestParser again(1024);
        CHECK(again.parse(big + "\r\n\r\n", request).http_status == 431);
        HttpRequestParser fits(2048);
        CHECK(fits.parse(big + "\r\n\r\n", request).status == ParseStatus::Complete);
    }
    SUBCASE("more fields than kMaxHeaders") {
        std::string head = "GET / HTTP/1.1\r\n";
        for (std::size_t i = 0; i <= kMaxHeaders; ++i) head += "X" + std::to_string(i) + ": v\r\n";
        HttpRequestParser parser;
        HttpRequest request;
        CHECK(parser.parse(head + "\r\n", request).http_status == 431);
    }
}
