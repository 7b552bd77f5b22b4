#include "surge/ws/upgrade.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/handshake.hpp"
#include "tests/support/upgrade_cases.hpp"

using namespace surge;
using namespace surge::test;

TEST_CASE("the upgrade table: whole, byte by byte, and split at every offset") {
    const auto table = upgrade_cases();
    CHECK(table.size() >= 40);
    const UpgradePolicy policy = table_policy();
    for (const Case& c : table) {
        INFO(c.name);
        const HandshakeOutcome whole = run_handshake(c.request, {}, policy);
        CHECK(whole.status == c.status);
        for (const std::string& s : c.present) CHECK_MESSAGE(whole.response.find(s) != std::string::npos, s);
        for (const std::string& s : c.absent) CHECK_MESSAGE(whole.response.find(s) == std::string::npos, s);
        CHECK(whole.response.substr(0, 9) == "HTTP/1.1 ");
        CHECK(whole.response.find("\r\n\r\n") != std::string::npos);

        std::vector<std::size_t> every_byte;
        for (std::size_t i = 1; i < c.request.size(); ++i) every_byte.push_back(i);
        const HandshakeOutcome bytewise = run_handshake(c.request, every_byte, policy);
        CHECK(bytewise.status == whole.status);
        CHECK(bytewise.response == whole.response);
        for (std::size_t cut = 1; cut < c.request.size(); ++cut) {
            const HandshakeOutcome split = run_handshake(c.request, {cut}, policy);
            if (split.status != whole.status || split.response != whole.response) {
                FAIL_CHECK("differs when split at " << cut);
                break;
            }
        }
    }
}

TEST_CASE("RFC 6455 accept key example") {
    char accept[kAcceptKeyLength];
    compute_accept_key("dGhlIHNhbXBsZSBub25jZQ==", accept);
    CHECK(std::string_view(accept, kAcceptKeyLength) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("an incomplete request gets no answer yet, and bytes after the head are left alone") {
    const std::string request = rfc_request();
    HttpRequestParser parser;
    HttpRequest parsed;
    CHECK(parser.parse(request.substr(0, request.size() - 1), parsed).status == ParseStatus::Incomplete);
    const std::string with_frame = request + "\x81\x80\x01\x02\x03\x04";
    const ParseResult r = parser.parse(with_frame, parsed);
    CHECK(r.status == ParseStatus::Complete);
    CHECK(r.head_bytes == request.size());
}

TEST_CASE("responses that do not fit are not written") {
    char small[20];
    HttpRequestParser parser;
    HttpRequest request;
    const std::string text = rfc_request();
    REQUIRE(parser.parse(text, request).status == ParseStatus::Complete);
    const UpgradeDecision decision = check_upgrade(request);
    CHECK(write_upgrade_response(small, decision) == 0);
    CHECK(write_refusal(small, 400, "too long for twenty bytes") == 0);
}
