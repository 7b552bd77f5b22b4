#include "surge/ws/frame_header.hpp"

#include <doctest/doctest.h>

#include <string>

#include "surge/core/utf8.hpp"
#include "surge/ws/frame_encoder.hpp"

using namespace surge;

TEST_CASE("header round trip at every length form, masked and not") {
    const MaskKey key = {9, 8, 7, 6};
    for (std::uint64_t length : {0ULL, 125ULL, 126ULL, 65535ULL, 65536ULL, 1ULL << 40}) {
        for (bool masked : {false, true}) {
            char out[kMaxFrameHeaderBytes];
            const std::size_t n = encode_frame_header(out, Opcode::Binary, length, false, true, masked ? &key : nullptr);
            CHECK(n == frame_header_length(length, masked));
            for (std::size_t partial = 0; partial < n; ++partial) {
                FrameHeader h;
                CHECK(parse_frame_header(out, partial, h) == HeaderStatus::Incomplete);
            }
            FrameHeader h;
            REQUIRE(parse_frame_header(out, n, h) == HeaderStatus::Complete);
            CHECK(h.header_length == n);
            CHECK(h.payload_length == length);
            CHECK(h.masked == masked);
            CHECK_FALSE(h.fin);
            CHECK(h.rsv1);
            CHECK(h.opcode == 2);
            if (masked) CHECK(h.mask == key);
        }
    }
}

TEST_CASE("the shortest length form is used") {
    char out[kMaxFrameHeaderBytes];
    CHECK(encode_frame_header(out, Opcode::Text, 125) == 2);
    CHECK(encode_frame_header(out, Opcode::Text, 126) == 4);
    CHECK(encode_frame_header(out, Opcode::Text, 65535) == 4);
    CHECK(encode_frame_header(out, Opcode::Text, 65536) == 10);
    CHECK(static_cast<unsigned char>(out[0]) == 0x81);
}

TEST_CASE("a 64-bit length with the top bit set is refused") {
    const std::string bytes("\x82\x7F\x80\x00\x00\x00\x00\x00\x00\x00", 10);
    FrameHeader h;
    CHECK(parse_frame_header(bytes.data(), bytes.size(), h) == HeaderStatus::LengthTopBit);
}

TEST_CASE("close and control frames") {
    char out[kMaxControlFrameBytes];
    std::size_t n = encode_close_frame(out, 1002, "protocol error");
    CHECK(std::string(out, n) == std::string("\x88\x10\x03\xea", 4) + "protocol error");

    // A reason too long for 123 bytes is cut at a character boundary, never inside a character.
    std::string reason;
    for (int i = 0; i < 70; ++i) reason += "\xc3\xa9";  // 140 bytes of two-byte characters: 123 cuts one
    n = encode_close_frame(out, 1000, reason);
    FrameHeader h;
    REQUIRE(parse_frame_header(out, n, h) == HeaderStatus::Complete);
    CHECK(h.payload_length == 2 + 122);  // 61 whole characters
    CHECK(is_valid_utf8(std::string_view(out + h.header_length + 2, 122)));

    const MaskKey key = {1, 2, 3, 4};
    n = encode_control_frame(out, Opcode::Ping, "abc", &key);
    REQUIRE(parse_frame_header(out, n, h) == HeaderStatus::Complete);
    CHECK(h.masked);
    std::string payload(out + h.header_length, 3);
    apply_mask(payload.data(), payload.size(), key);
    CHECK(payload == "abc");
}
