// The client side of the opening handshake: the key, the request, the response parser (whole, byte by byte and
// split at every offset) and the checks a client must make of the server's answer.
#include "surge/ws/client_handshake.hpp"

#include <doctest/doctest.h>

#include <string>

#include "surge/ws/http_request.hpp"
#include "surge/ws/upgrade.hpp"

using namespace surge;

namespace {

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 section 1.3's sample nonce

std::string response_for(std::string_view key, std::string_view extra = {}) {
    char accept[kAcceptKeyLength];
    compute_accept_key(key, accept);
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " + std::string(accept, kAcceptKeyLength) + "\r\n" + std::string(extra) + "\r\n";
}

ClientUpgradeCheck check(const std::string& bytes, std::string_view offered = {}) {
    HttpResponseParser parser;
    HttpResponse response;
    const ParseResult parsed = parser.parse(bytes, response);
    REQUIRE(parsed.status == ParseStatus::Complete);
    return check_upgrade_response(response, kKey, offered);
}

}  // namespace

TEST_CASE("a key is base64 of its 16 random bytes") {
    std::array<std::uint8_t, 16> nonce{};
    const std::string_view sample = "the sample nonce";
    std::copy(sample.begin(), sample.end(), nonce.begin());
    const WebSocketKey key = make_websocket_key(nonce);
    CHECK(std::string_view(key.data(), key.size()) == kKey);
    CHECK(is_valid_websocket_key(std::string_view(key.data(), key.size())));

    nonce.fill(0xFF);
    const WebSocketKey ones = make_websocket_key(nonce);
    CHECK(std::string_view(ones.data(), ones.size()) == "/////////////////////w==");
}

TEST_CASE("the upgrade request is one a server accepts") {
    char out[512];
    const std::size_t n = write_client_upgrade_request(
        out, {"127.0.0.1:9001", "/feed?x=1", kKey, "chat.v2, chat.v1", "Origin: http://example.com\r\n"});
    REQUIRE(n > 0);
    HttpRequestParser parser;
    HttpRequest request;
    REQUIRE(parser.parse({out, n}, request).status == ParseStatus::Complete);
    CHECK(request.target == "/feed?x=1");
    CHECK(request.find("Host")->value == "127.0.0.1:9001");
    CHECK(request.find("Sec-WebSocket-Protocol")->value == "chat.v2, chat.v1");
    CHECK(request.find("Origin")->value == "http://example.com");
    const UpgradeDecision decision = check_upgrade(request);
    CHECK(decision.status == 101);
    CHECK(decision.key == kKey);

    char small[64];
    CHECK(write_client_upgrade_request(small, {"h", "/", kKey, {}, {}}) == 0);
}

TEST_CASE("a response head parses whole, byte by byte and split at every offset") {
    const std::string head = response_for(kKey, "X-Note:  padded \r\n");
    const std::string bytes = head + "\x81\x02hi";  // a first frame right behind the head stays unread

    HttpResponseParser whole_parser;
    HttpResponse whole;
    const ParseResult r = whole_parser.parse(bytes, whole);
    REQUIRE(r.status == ParseStatus::Complete);
    CHECK(r.head_bytes == head.size());
    CHECK(whole.status == 101);
    CHECK(whole.reason == "Switching Protocols");
    CHECK(whole.find("x-note")->value == "padded");

    HttpResponseParser trickle;
    HttpResponse out;
    for (std::size_t n = 1; n < head.size(); ++n) {
        REQUIRE(trickle.parse(std::string_view(bytes).substr(0, n), out).status == ParseStatus::Incomplete);
    }
    REQUIRE(trickle.parse(bytes, out).status == ParseStatus::Complete);
    CHECK(out.header_count == whole.header_count);

    for (std::size_t split = 0; split <= head.size(); ++split) {
        HttpResponseParser parser;
        HttpResponse response;
        const ParseResult first = parser.parse(std::string_view(bytes).substr(0, split), response);
        if (split < head.size()) {
            REQUIRE(first.status == ParseStatus::Incomplete);
            REQUIRE(parser.parse(bytes, response).status == ParseStatus::Complete);
        }
        CHECK(response.status == 101);
        CHECK(check_upgrade_response(response, kKey, {}).accepted);
    }
}

TEST_CASE("malformed and oversized status lines are refused") {
    for (const char* bad : {"HTTP/1.1 10 Short\r\n\r\n", "HTTP/1.1 abc Nope\r\n\r\n", "HTTP/11 101 X\r\n\r\n",
                            "ICY 200 OK\r\n\r\n", "HTTP/1.1 101Switching\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n",
                            "HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n", "HTTP/1.1 101 OK\r\n folded\r\n\r\n"}) {
        CAPTURE(bad);
        HttpResponseParser parser;
        HttpResponse response;
        const ParseResult r = parser.parse(bad, response);
        CHECK(r.status == ParseStatus::Error);
        CHECK(r.http_status == 400);
    }
    HttpResponseParser parser(64);
    HttpResponse response;
    CHECK(parser.parse(std::string(100, 'x'), response).http_status == 431);

    HttpResponseParser no_reason;
    REQUIRE(no_reason.parse("HTTP/1.1 101\r\n\r\n", response).status == ParseStatus::Complete);
    CHECK(response.status == 101);
    CHECK(response.reason.empty());
}

TEST_CASE("the client accepts only a correct 101") {
    CHECK(check(response_for(kKey)).accepted);
    // Proxies rewrite Connection into a list, and send header names in any case.
    CHECK(check("HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\nSEC-WEBSOCKET-ACCEPT: "
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
              .accepted);

    CHECK(check("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").why == "status is not 101");
    CHECK(check(response_for("x3JJHMbDL1EzLkh9GBhXDw==")).why == "wrong Sec-WebSocket-Accept");
    CHECK(check(response_for(kKey, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")).why ==
          "wrong Sec-WebSocket-Accept");
    CHECK(check("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n\r\n").why == "no Upgrade: websocket");
    CHECK(check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r\n").why == "no Connection: upgrade");
    CHECK(check(response_for(kKey, "Sec-WebSocket-Extensions: permessage-deflate\r\n")).why ==
          "extension not offered");
}

TEST_CASE("a subprotocol must be one the client offered") {
    const std::string chosen = response_for(kKey, "Sec-WebSocket-Protocol: chat.v1\r\n");
    const ClientUpgradeCheck ok = check(chosen, "chat.v2, chat.v1");
    CHECK(ok.accepted);
    CHECK(ok.subprotocol == "chat.v1");
    CHECK(check(chosen, "chat.v2").why == "subprotocol not offered");
    CHECK(check(chosen).why == "subprotocol not offered");
    CHECK(check(response_for(kKey), "chat.v1").subprotocol.empty());  // the server may choose none
}
