#include "surge/ws/message_reader.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/frames.hpp"
#include "tests/support/message_transcript.hpp"

using namespace surge;
using namespace surge::test;

namespace {

// Reads `wire` whole, byte by byte and split at every offset into two, checks that all agree, and returns the
// whole run's outcome. `setup` prepares each run's events the same way.
template <class Setup>
MessageOutcome read_every_way(const std::string& wire, Setup setup, const DecoderConfig& config = {},
                              bool rsv1 = false) {
    RecordingEvents whole_events;
    setup(whole_events);
    const MessageOutcome whole = read_whole(wire, config, rsv1, whole_events);
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < wire.size(); ++i) every.push_back(i);
    RecordingEvents bytewise_events;
    setup(bytewise_events);
    CHECK(read_in_pieces(wire, every, config, rsv1, bytewise_events).summary() == whole.summary());
    for (std::size_t cut = 1; cut < wire.size(); ++cut) {
        RecordingEvents events;
        setup(events);
        INFO("split at " << cut);
        CHECK(read_in_pieces(wire, {cut}, config, rsv1, events).summary() == whole.summary());
    }
    return whole;
}

MessageOutcome read_every_way(const std::string& wire, const DecoderConfig& config = {}, bool rsv1 = false) {
    return read_every_way(wire, [](RecordingEvents&) {}, config, rsv1);
}

// `message` compressed as a permessage-deflate payload (own context: a fresh compressor each call).
std::string deflated(std::string_view message) {
    Deflater deflater;
    REQUIRE(deflater.init(6, 15, 8));
    ByteBuffer out;
    REQUIRE(deflater.compress(message, out, false));
    return std::string(out.view());
}

}  // namespace

TEST_CASE("fragments are gathered into one message, with control frames between them") {
    const std::string wire = frame(Opcode::Text, "Hel", false) + frame(Opcode::Ping, "p1") +
                             frame(Opcode::Continuation, "lo, ", false) + frame(Opcode::Pong, "p2") +
                             frame(Opcode::Continuation, "world") + frame(Opcode::Binary, std::string("\0\1", 2));
    const MessageOutcome out = read_every_way(wire);
    CHECK(out.log == "ping:p1;pong:p2;text:Hello, world;binary:" + std::string("\0\1", 2) + ";");
    CHECK(out.sent == "pong:p1;");
    CHECK(out.status == ReadStatus::NeedMore);
    CHECK_FALSE(out.buffer_left);  // nothing held between messages
}

TEST_CASE("compressed messages are inflated with the role's inflater, whole or in fragments") {
    const std::string text = "a message that compresses: " + std::string(200, 'z');
    const std::string payload = deflated(text);
    const std::string one = frame(Opcode::Text, payload, true, true, true);
    const std::string split = frame(Opcode::Text, payload.substr(0, 5), false, true, true) +
                              frame(Opcode::Continuation, payload.substr(5));
    for (bool keep : {true, false}) {
        CAPTURE(keep);
        auto setup = [keep](RecordingEvents& e) { e.keep_context = keep; };
        CHECK(read_every_way(one + split, setup, {}, true).log == "text:" + text + ";text:" + text + ";");
    }
}

TEST_CASE("inflation failures close with their codes: corrupt 1007, too big 1009, bad UTF-8 after it 1007") {
    const std::string corrupt = frame(Opcode::Binary, "\xff\xff\xff\xff", true, true, true);
    MessageOutcome out = read_every_way(corrupt, {}, true);
    CHECK(out.status == ReadStatus::Failed);
    CHECK(out.close_code == 1007);
    CHECK(out.reason == "invalid compressed data");

    DecoderConfig small;
    small.max_message_bytes = 100;  // the compressed frame fits, what it inflates to does not
    out = read_every_way(frame(Opcode::Binary, deflated(std::string(1000, 'x')), true, true, true), small, true);
    CHECK(out.status == ReadStatus::Failed);
    CHECK(out.close_code == 1009);
    CHECK(out.reason == "message too big");

    out = read_every_way(frame(Opcode::Text, deflated("bad \xc3\x28 text"), true, true, true), {}, true);
    CHECK(out.status == ReadStatus::Failed);
    CHECK(out.close_code == 1007);
    CHECK(out.reason == "invalid UTF-8");
    CHECK(out.log.empty());
}

TEST_CASE("decoder errors come back with their close code and reason") {
    MessageOutcome out = read_every_way(frame(Opcode::Text, "\xff"));
    CHECK(out.status == ReadStatus::Failed);
    CHECK(out.close_code == 1007);
    CHECK(out.reason == "invalid UTF-8");
    out = read_every_way(frame(Opcode::Text, "x", true, false));  // unmasked, to a server
    CHECK(out.close_code == 1002);
    CHECK(out.reason == "protocol error");
    DecoderConfig small;
    small.max_message_bytes = 4;
    out = read_every_way(frame(Opcode::Binary, "12345"), small);
    CHECK(out.close_code == 1009);
    CHECK(out.reason == "message too big");
}

TEST_CASE("a close the peer starts is echoed with its code, and one that answers ours is not") {
    MessageOutcome out = read_every_way(close_frame(1001, "bye") + frame(Opcode::Text, "after"));
    CHECK(out.status == ReadStatus::Closed);
    CHECK(out.log == "close:1001:bye:first;");  // nothing after the close is read
    CHECK(out.sent == "close:03e9;");           // the code, without the reason

    out = read_every_way(frame(Opcode::Close, ""));
    CHECK(out.log == "close:1005::first;");
    CHECK(out.sent == "close:;");  // no code came, none goes back

    out = read_every_way(frame(Opcode::Ping, "late") + close_frame(1000), [](RecordingEvents& e) { e.closing = true; });
    CHECK(out.log == "ping:late;close:1000::answer;");
    CHECK(out.sent.empty());  // after our close: no pong, no echo
}

TEST_CASE("an event that ends the connection stops the reader at once") {
    const std::string wire = frame(Opcode::Text, "one") + frame(Opcode::Text, "two");
    const MessageOutcome out = read_every_way(wire, [](RecordingEvents& e) { e.stop_after_messages = 1; });
    CHECK(out.status == ReadStatus::Ended);
    CHECK(out.log == "text:one;");
}

TEST_CASE("a streaming role gets uncompressed messages piece by piece and nothing is gathered") {
    const std::string wire = frame(Opcode::Binary, "abc", false) + frame(Opcode::Continuation, "def") +
                             frame(Opcode::Text, deflated("squeezed text"), true, true, true);
    const MessageOutcome out = read_every_way(wire, [](RecordingEvents& e) { e.streaming = true; }, {}, true);
    CHECK(out.log == "binary:abcdef;text:squeezed text;");  // a compressed one is still gathered and inflated
    CHECK_FALSE(out.buffer_left);
}
