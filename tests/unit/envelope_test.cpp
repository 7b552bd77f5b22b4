// The Delivery::Envelope message: what a publication becomes for subscribers that asked for envelopes.
#include "surge/ws/envelope.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace surge;

TEST_CASE("envelope: text as a JSON string, binary (or text that is not UTF-8) as base64, the topic escaped") {
    CHECK(encode_envelope("news", 17, "hello", Opcode::Text) == R"({"topic":"news","offset":17,"data":"hello"})");
    CHECK(encode_envelope("a\"b", 1, "line\n\"q\"", Opcode::Text) ==
          R"({"topic":"a\"b","offset":1,"data":"line\u000a\"q\""})");
    CHECK(encode_envelope("cam", 3, std::string("\x00\x01\x02\x03", 4), Opcode::Binary) ==
          R"({"topic":"cam","offset":3,"data":"AAECAw==","encoding":"base64"})");
    CHECK(encode_envelope("t", 2, "\xff", Opcode::Text) == R"({"topic":"t","offset":2,"data":"/w==","encoding":"base64"})");
    CHECK(encode_envelope("t", 18446744073709551615ULL, "", Opcode::Binary) ==
          R"({"topic":"t","offset":18446744073709551615,"data":"","encoding":"base64"})");
    for (std::size_t n = 0; n < 8; ++n) {  // every padding of base64
        const std::string e = encode_envelope("t", 1, std::string(n, 'x'), Opcode::Binary);
        CHECK(e.ends_with("\",\"encoding\":\"base64\"}"));
        const std::size_t start = e.find("\"data\":\"") + 8;
        CHECK(e.find('"', start) - start == (n + 2) / 3 * 4);
    }
}
