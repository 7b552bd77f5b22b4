#include "surge/ws/frame_decoder.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/frame_transcript.hpp"
#include "tests/support/frames.hpp"

using namespace surge;
using namespace surge::test;

namespace {

// Decodes `wire` whole, byte by byte and split at every offset into two, and checks that all agree.
DecodeOutcome decode_every_way(const std::string& wire, const DecoderConfig& config = {}, bool rsv1 = false) {
    const DecodeOutcome whole = decode_whole(wire, config, rsv1);
    CHECK(decode_bytewise(wire, config, rsv1).summary() == whole.summary());
    for (std::size_t cut = 1; cut < wire.size(); ++cut) {
        const DecodeOutcome split = decode_in_pieces(wire, {cut}, config, rsv1);
        INFO("split at " << cut);
        CHECK(split.summary() == whole.summary());
    }
    return whole;
}

void expect_error(const std::string& wire, std::uint16_t code, const DecoderConfig& config = {}) {
    const DecodeOutcome out = decode_every_way(wire, config);
    CHECK(out.status == DecodeStatus::Error);
    CHECK(out.close_code == code);
}

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

}  // namespace

TEST_CASE("RFC 6455 5.7 examples decode") {
    DecoderConfig client{Role::Client};
    // A single-frame unmasked text message, as a server sends it.
    CHECK(decode_every_way(std::string("\x81\x05Hello", 7), client).transcript == "text[5]:Hello|");
    // A single-frame masked text message, as a client sends it.
    CHECK(decode_every_way(std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11)).transcript ==
          "text[5]:Hello|");
    // A fragmented unmasked text message.
    CHECK(decode_every_way(std::string("\x01\x03Hel\x80\x02lo", 9), client).transcript == "text[5]:Hello|");
    // Unmasked ping, and a masked pong with the same body.
    CHECK(decode_every_way(std::string("\x89\x05Hello", 7), client).transcript == "ping[5]:Hello|");
    CHECK(decode_every_way(std::string("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11)).transcript ==
          "pong[5]:Hello|");
    // 256 bytes of binary in a 16-bit length, and 64 KiB in a 64-bit length.
    const std::string b256 = std::string("\x82\x7E\x01\x00", 4) + repeat('x', 256);
    CHECK(decode_whole(b256, client).transcript == "binary[256]:" + repeat('x', 256) + "|");
    const std::string b64k = std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10) + repeat('y', 65536);
    CHECK(decode_whole(b64k, client).transcript == "binary[65536]:" + repeat('y', 65536) + "|");
}

TEST_CASE("payload lengths at the 7/16/64-bit boundaries") {
    for (std::size_t n : {0, 1, 124, 125, 126, 127, 65535, 65536, 70000}) {
        const std::string body = repeat('a', n);
        INFO("length " << n);
        const DecodeOutcome out = decode_whole(frame(Opcode::Binary, body));
        CHECK(out.transcript == "binary[" + std::to_string(n) + "]:" + body + "|");
        CHECK(out.status == DecodeStatus::NeedMore);
        CHECK(out.left_over == 0);
    }
}

TEST_CASE("fragmented message with control frames between fragments, split every way") {
    const std::string wire = frame(Opcode::Text, "Hel", false) + frame(Opcode::Ping, "p1") +
                             frame(Opcode::Continuation, "lo, ", false) + frame(Opcode::Pong, "") +
                             frame(Opcode::Continuation, "world", true) + frame(Opcode::Binary, "\x01\x02");
    const DecodeOutcome out = decode_every_way(wire);
    CHECK(out.transcript == "ping[2]:p1|pong[0]:|text[12]:Hello, world|binary[2]:\x01\x02|");
    CHECK(out.status == DecodeStatus::NeedMore);
}

TEST_CASE("empty messages and empty fragments") {
    CHECK(decode_every_way(frame(Opcode::Text, "")).transcript == "text[0]:|");
    CHECK(decode_every_way(frame(Opcode::Binary, "", false) + frame(Opcode::Continuation, "", false) +
                           frame(Opcode::Continuation, "", true))
              .transcript == "binary[0]:|");
}

TEST_CASE("close frames: every class of code") {
    SUBCASE("valid codes are reported and end decoding") {
        for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                                   3999, 4000, 4999}) {
            INFO("code " << code);
            const DecodeOutcome out = decode_every_way(close_frame(code, "bye") + frame(Opcode::Text, "after"));
            CHECK(out.status == DecodeStatus::Closed);
            CHECK(out.transcript.rfind("close[5]:", 0) == 0);
            CHECK(out.transcript.find("after") == std::string::npos);
        }
    }
    SUBCASE("an empty close frame is valid") {
        const DecodeOutcome out = decode_every_way(frame(Opcode::Close, ""));
        CHECK(out.status == DecodeStatus::Closed);
        CHECK(out.transcript == "close[0]:|");
    }
    SUBCASE("codes that may not be sent are protocol errors") {
        for (std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
            INFO("code " << code);
            expect_error(close_frame(code), close_code::kProtocolError);
        }
    }
    SUBCASE("a one-byte close payload is a protocol error") {
        expect_error(frame(Opcode::Close, "\x03"), close_code::kProtocolError);
    }
    SUBCASE("a reason that is not UTF-8 is 1007") {
        expect_error(close_frame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"),
                     close_code::kInvalidPayload);
    }
    SUBCASE("parse_close_payload splits code and reason") {
        const char payload[] = "\x03\xe8ok";
        const ClosePayload close = parse_close_payload({payload, 4});
        CHECK(close.code == 1000);
        CHECK(close.reason == "ok");
        CHECK(parse_close_payload({}).code == close_code::kNoStatus);
    }
}

TEST_CASE("protocol errors close with 1002") {
    SUBCASE("unmasked client frame") { expect_error(frame(Opcode::Text, "hi", true, false), 1002); }
    SUBCASE("masked server frame, in the client role") {
        expect_error(frame(Opcode::Text, "hi", true, true), 1002, DecoderConfig{Role::Client});
    }
    SUBCASE("reserved opcodes") {
        for (std::uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
            INFO("opcode " << int(op));
            expect_error(raw_frame(static_cast<std::uint8_t>(0x80 | op), "x"), 1002);
        }
    }
    SUBCASE("RSV bits without a negotiated extension") {
        expect_error(raw_frame(0x80 | 0x40 | 0x1, "x"), 1002);
        expect_error(raw_frame(0x80 | 0x20 | 0x1, "x"), 1002);
        expect_error(raw_frame(0x80 | 0x10 | 0x2, "x"), 1002);
    }
    SUBCASE("RSV1 with permessage-deflate: first data frame only") {
        const std::string ok = frame(Opcode::Binary, "z", true, true, true);
        CHECK(decode_every_way(ok, {}, true).transcript == "binary+z[1]:z|");
        const std::string on_continuation =
            frame(Opcode::Binary, "a", false, true, true) + frame(Opcode::Continuation, "b", true, true, true);
        CHECK(decode_every_way(on_continuation, {}, true).close_code == 1002);
        CHECK(decode_every_way(frame(Opcode::Ping, "", true, true, true), {}, true).close_code == 1002);
        CHECK(decode_every_way(raw_frame(0x80 | 0x20 | 0x2, "x"), {}, true).close_code == 1002);  // RSV2 still
    }
    SUBCASE("control frame over 125 bytes") {
        expect_error(frame(Opcode::Ping, repeat('p', 126)), 1002);
        expect_error(frame(Opcode::Close, std::string("\x03\xe8", 2) + repeat('r', 124)), 1002);
        CHECK(decode_every_way(frame(Opcode::Ping, repeat('p', 125))).status == DecodeStatus::NeedMore);
    }
    SUBCASE("fragmented control frame") {
        expect_error(frame(Opcode::Ping, "a", false), 1002);
        expect_error(frame(Opcode::Close, "", false), 1002);
    }
    SUBCASE("continuation without a start") {
        expect_error(frame(Opcode::Continuation, "x", true), 1002);
        expect_error(frame(Opcode::Text, "done") + frame(Opcode::Continuation, "x", true), 1002);
    }
    SUBCASE("new message inside a fragmented one") {
        expect_error(frame(Opcode::Text, "a", false) + frame(Opcode::Text, "b", true), 1002);
        expect_error(frame(Opcode::Binary, "a", false) + frame(Opcode::Binary, "b", false), 1002);
    }
    SUBCASE("64-bit length with the top bit set") {
        const std::string wire("\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x01\x37\xfa\x21\x3d", 14);
        expect_error(wire, 1002);
    }
}

TEST_CASE("the error is reported at the frame that caused it, after what came before") {
    const std::string wire = frame(Opcode::Text, "ok") + frame(Opcode::Ping, "p") + raw_frame(0x83, "bad");
    const DecodeOutcome out = decode_every_way(wire);
    CHECK(out.transcript == "text[2]:ok|ping[1]:p|");
    CHECK(out.close_code == 1002);
}

TEST_CASE("UTF-8 in text messages") {
    SUBCASE("valid multi-byte text split across fragments at every byte") {
        const std::string text = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80";  // κόσμε 😀
        for (std::size_t cut = 0; cut <= text.size(); ++cut) {
            const std::string wire = frame(Opcode::Text, text.substr(0, cut), false) +
                                     frame(Opcode::Continuation, text.substr(cut), true);
            INFO("fragment boundary " << cut);
            CHECK(decode_every_way(wire).transcript == "text[" + std::to_string(text.size()) + "]:" + text + "|");
        }
    }
    SUBCASE("invalid text is 1007") {
        expect_error(frame(Opcode::Text, "\xff"), 1007);
        expect_error(frame(Opcode::Text, "\xed\xa0\x80"), 1007);          // a surrogate
        expect_error(frame(Opcode::Text, "\xc0\xaf"), 1007);              // overlong
        expect_error(frame(Opcode::Text, "\xf4\x90\x80\x80"), 1007);      // above U+10FFFF
        expect_error(frame(Opcode::Text, "ends in the middle \xe2\x82"), 1007);
        expect_error(frame(Opcode::Text, "\xe2\x82", false) + frame(Opcode::Continuation, "", true), 1007);
    }
    SUBCASE("binary messages are not checked") {
        CHECK(decode_every_way(frame(Opcode::Binary, "\xff\xfe")).status == DecodeStatus::NeedMore);
    }
    SUBCASE("fails fast: at the first invalid byte, before the rest of the frame arrives") {
        // A 1000-byte text frame whose third byte is invalid: with only its first 20 bytes received, the
        // decoder has already failed.
        std::string body = "ab\xff" + repeat('c', 997);
        const std::string wire = frame(Opcode::Text, body);
        const DecodeOutcome partial = decode_whole(wire.substr(0, 20));
        CHECK(partial.status == DecodeStatus::Error);
        CHECK(partial.close_code == 1007);
    }
}

TEST_CASE("message size limit gives 1009, before the payload arrives") {
    DecoderConfig config;
    config.max_message_bytes = 1000;
    CHECK(decode_every_way(frame(Opcode::Binary, repeat('a', 1000)), config).status == DecodeStatus::NeedMore);
    SUBCASE("one frame over the limit") {
        const std::string wire = frame(Opcode::Binary, repeat('a', 1001));
        expect_error(wire, 1009, config);
        CHECK(decode_whole(wire.substr(0, 8), config).close_code == 1009);  // header alone is enough
    }
    SUBCASE("fragments that add up past the limit") {
        expect_error(frame(Opcode::Text, repeat('a', 600), false) + frame(Opcode::Continuation, repeat('b', 401)),
                     1009, config);
    }
    SUBCASE("the limit is per message") {
        const std::string two = frame(Opcode::Binary, repeat('a', 700)) + frame(Opcode::Binary, repeat('b', 700));
        CHECK(decode_every_way(two, config).status == DecodeStatus::NeedMore);
    }
}

TEST_CASE("a sink that returns false stops the decoder where it is") {
    struct StopOnPing final : FrameSink {
        int messages = 0;
        bool on_message_begin(Opcode, bool) override { return true; }
        bool on_message_data(std::span<char>, bool last) override {
            messages += last ? 1 : 0;
            return true;
        }
        bool on_control(Opcode, std::span<char>) override { return false; }
    } sink;
    std::string wire = frame(Opcode::Text, "a") + frame(Opcode::Ping, "") + frame(Opcode::Text, "b");
    const std::size_t first_two = frame(Opcode::Text, "a").size() + frame(Opcode::Ping, "").size();
    DecoderConfig config;
    FrameDecoder decoder;
    const DecodeResult r = decoder.feed(config, {wire.data(), wire.size()}, sink);
    CHECK(r.status == DecodeStatus::Stopped);
    CHECK(r.consumed == first_two);
    CHECK(sink.messages == 1);
}

TEST_CASE("a whole message in one buffer arrives as one piece, unmasked in place") {
    struct Pieces final : FrameSink {
        std::vector<std::span<char>> pieces;
        bool on_message_begin(Opcode, bool) override { return true; }
        bool on_message_data(std::span<char> piece, bool) override {
            pieces.push_back(piece);
            return true;
        }
        bool on_control(Opcode, std::span<char>) override { return true; }
    } sink;
    std::string wire = frame(Opcode::Binary, repeat('m', 5000));
    DecoderConfig config;
    FrameDecoder decoder;
    CHECK(decoder.feed(config, {wire.data(), wire.size()}, sink).consumed == wire.size());
    REQUIRE(sink.pieces.size() == 1);
    CHECK(sink.pieces[0].data() == wire.data() + 8);  // points into the caller's buffer: no copy
    CHECK(std::string(sink.pieces[0].data(), 5000) == repeat('m', 5000));
}
