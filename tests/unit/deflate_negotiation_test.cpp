// permessage-deflate negotiation, both sides: what the server answers to each kind of offer (parameters with and
// without values, several offers, offers it must decline, other extensions beside it), across the server's own
// wishes; what a client accepts as an answer and what must fail its connection.
#include "surge/ws/deflate_negotiation.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "surge/ws/http_request.hpp"

using namespace surge;

namespace {

HttpHeaders headers_with(std::vector<std::string_view> values) {
    HttpHeaders h;
    for (std::string_view v : values) h.headers[h.header_count++] = {"Sec-WebSocket-Extensions", v};
    return h;
}

struct Answer {
    bool accepted = false;
    std::string header;
    DeflateParams params;
};

Answer negotiate(std::vector<std::string_view> offers, const DeflateServerWishes& wishes = {}) {
    const HttpHeaders h = headers_with(std::move(offers));
    char out[kDeflateHeaderReserve];
    const DeflateAgreement agreed = negotiate_deflate(h, wishes, out);
    return {agreed.accepted, std::string(out, agreed.response_size), agreed.params};
}

DeflateParams params(bool server_no, bool client_no, int server_bits, int client_bits) {
    return {server_no, client_no, static_cast<std::uint8_t>(server_bits), static_cast<std::uint8_t>(client_bits)};
}

constexpr DeflateServerWishes kKeepBoth{true, true, 15, 15};

}  // namespace

TEST_CASE("the default server agrees to no context takeover on both sides, whatever was offered") {
    const Answer a = negotiate({"permessage-deflate"});
    CHECK(a.accepted);
    CHECK(a.header == "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    CHECK(a.params == params(true, true, 15, 15));
    // What browsers and Python's websockets send.
    const Answer browser = negotiate({"permessage-deflate; client_max_window_bits"});
    CHECK(browser.header == "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
}

TEST_CASE("a server that keeps context answers each parameter the offer carries") {
    struct Case {
        std::string_view offer;
        std::string_view answer;
        DeflateParams agreed;
    };
    const Case cases[] = {
        {"permessage-deflate", "permessage-deflate", params(false, false, 15, 15)},
        {"permessage-deflate; client_max_window_bits", "permessage-deflate", params(false, false, 15, 15)},
        {"permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10",
         params(false, false, 15, 10)},
        {"permessage-deflate; server_max_window_bits=12", "permessage-deflate; server_max_window_bits=12",
         params(false, false, 12, 15)},
        {"permessage-deflate; server_max_window_bits=\"9\"", "permessage-deflate; server_max_window_bits=9",
         params(false, false, 9, 15)},
        {"permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover",
         params(true, false, 15, 15)},
        {"permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover",
         params(false, true, 15, 15)},
        {"PerMessage-Deflate ;Server_No_Context_Takeover ; CLIENT_MAX_WINDOW_BITS=15 ",
         "permessage-deflate; server_no_context_takeover", params(true, false, 15, 15)},
        {"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; "
         "client_max_window_bits=11",
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; "
         "client_max_window_bits=11",
         params(true, true, 10, 11)},
    };
    for (const Case& c : cases) {
        CAPTURE(c.offer);
        const Answer a = negotiate({c.offer}, kKeepBoth);
        CHECK(a.accepted);
        CHECK(a.header == c.answer);
        CHECK(a.params == c.agreed);
    }
}

TEST_CASE("the server's own window limits are applied and told") {
    const DeflateServerWishes small{true, true, 10, 9};
    // No server_max_window_bits offered: the server may still announce the smaller window it uses.
    Answer a = negotiate({"permessage-deflate; client_max_window_bits"}, small);
    CHECK(a.header == "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9");
    CHECK(a.params == params(false, false, 10, 9));
    // The client asked for less than the server's limit: the client's figure wins.
    a = negotiate({"permessage-deflate; server_max_window_bits=9"}, small);
    CHECK(a.params.server_max_window_bits == 9);
    // Without client_max_window_bits in the offer, the client's window cannot be narrowed.
    a = negotiate({"permessage-deflate"}, small);
    CHECK(a.header == "permessage-deflate; server_max_window_bits=10");
    CHECK(a.params.client_max_window_bits == 15);
    // A wish below what zlib can do is raised to 9.
    a = negotiate({"permessage-deflate"}, {true, true, 8, 15});
    CHECK(a.params.server_max_window_bits == 9);
}

TEST_CASE("offers the server cannot accept are declined, and the next acceptable one is taken") {
    const std::string_view unacceptable[] = {
        "permessage-deflate; server_max_window_bits=8",       // zlib cannot compress with 256 bytes
        "permessage-deflate; server_max_window_bits",         // needs a value
        "permessage-deflate; server_max_window_bits=16",      // out of range
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",     // no leading zeros
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; server_no_context_takeover=1",   // takes no value
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",  // repeated
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; mystery_parameter",               // unknown
    };
    for (std::string_view offer : unacceptable) {
        CAPTURE(offer);
        CHECK_FALSE(negotiate({offer}, kKeepBoth).accepted);
        CHECK_FALSE(negotiate({offer}).accepted);
        // Followed by a plain offer, in the same field or another: that one is taken.
        const std::string both = std::string(offer) + ", permessage-deflate; client_max_window_bits";
        const Answer a = negotiate({both}, kKeepBoth);
        CHECK(a.accepted);
        CHECK(a.header == "permessage-deflate");
        CHECK(negotiate({offer, "permessage-deflate"}, kKeepBoth).accepted);
    }
}

TEST_CASE("other extensions are ignored, never a reason to refuse") {
    CHECK_FALSE(negotiate({}).accepted);
    CHECK_FALSE(negotiate({"x-webkit-deflate-frame"}).accepted);
    CHECK_FALSE(negotiate({"permessage-bzip2; level=9, x-custom"}).accepted);
    const Answer a = negotiate({"x-custom; a=\"1,2\"; b, permessage-deflate; server_max_window_bits=11", "foo"},
                               kKeepBoth);
    CHECK(a.accepted);
    CHECK(a.params.server_max_window_bits == 11);
    // A quoted comma inside another extension's parameter does not split it.
    CHECK_FALSE(negotiate({"x-custom; list=\"permessage-deflate, y\""}).accepted);
}

TEST_CASE("the answer parses back as the client would read it, for every combination") {
    for (bool server_keep : {false, true}) {
        for (bool client_keep : {false, true}) {
            for (int server_bits = 9; server_bits <= 15; ++server_bits) {
                for (int client_bits = 8; client_bits <= 15; ++client_bits) {
                    DeflateClientWishes offer{};
                    offer.server_max_window_bits = static_cast<std::uint8_t>(server_bits);
                    offer.client_max_window_bits = static_cast<std::uint8_t>(client_bits);
                    char offer_text[kDeflateHeaderReserve];
                    const std::size_t offer_size = write_deflate_offer(offer_text, offer);
                    REQUIRE(offer_size > 0);
                    const Answer a = negotiate({std::string_view(offer_text, offer_size)},
                                               {server_keep, client_keep, 15, 15});
                    CAPTURE(a.header);
                    REQUIRE(a.accepted);
                    CHECK(a.params.server_max_window_bits == server_bits);
                    CHECK(a.params.client_max_window_bits == client_bits);
                    DeflateParams read;
                    const HttpHeaders answer = headers_with({a.header});
                    REQUIRE(read_deflate_answer(answer, offer, read) == DeflateAnswer::Accepted);
                    CHECK(read == a.params);
                }
            }
        }
    }
}

TEST_CASE("a client fails answers that break the rules") {
    const DeflateClientWishes offer{true, false, 15, 15};  // client_no_context_takeover, nothing asked of the server
    DeflateParams read;
    CHECK(read_deflate_answer(headers_with({}), offer, read) == DeflateAnswer::None);
    CHECK(read_deflate_answer(headers_with({"permessage-deflate"}), offer, read) == DeflateAnswer::Accepted);
    CHECK(read.client_no_context_takeover);  // what the client offered holds
    const std::string_view invalid[] = {
        "permessage-deflate, permessage-deflate",  // two answers to one offer
        "x-other",                                 // an extension not offered
        "permessage-deflate, x-other",
        "permessage-deflate; unknown",
        "permessage-deflate; client_max_window_bits",  // needs a value in an answer
        "permessage-deflate; server_max_window_bits=20",
    };
    for (std::string_view answer : invalid) {
        CAPTURE(answer);
        CHECK(read_deflate_answer(headers_with({answer}), offer, read) == DeflateAnswer::Invalid);
    }
    // The client asked the server to drop its context, and for a 10-bit window: answers that ignore it fail.
    const DeflateClientWishes strict{false, true, 15, 10};
    CHECK(read_deflate_answer(headers_with({"permessage-deflate; server_max_window_bits=10"}), strict, read) ==
          DeflateAnswer::Invalid);
    CHECK(read_deflate_answer(headers_with({"permessage-deflate; server_no_context_takeover"}), strict, read) ==
          DeflateAnswer::Invalid);
    CHECK(read_deflate_answer(headers_with({"permessage-deflate; server_no_context_takeover; "
                                            "server_max_window_bits=11"}),
                              strict, read) == DeflateAnswer::Invalid);
    CHECK(read_deflate_answer(headers_with({"permessage-deflate; server_no_context_takeover; "
                                            "server_max_window_bits=9"}),
                              strict, read) == DeflateAnswer::Accepted);
    CHECK(read.server_max_window_bits == 9);
}
