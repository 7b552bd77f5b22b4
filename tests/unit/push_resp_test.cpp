// The workers' hub's command parser (tools/push/resp.hpp): commands whole, byte by byte and split at every offset,
// several in one read, and each kind of bad input refused with a reason.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tools/push/resp.hpp"

using namespace surge::push;

namespace {

std::string encode(const std::vector<std::string>& arguments) {
    std::string out;
    append_array_header(out, arguments.size());
    for (const std::string& argument : arguments) append_bulk(out, argument);
    return out;
}

}  // namespace

TEST_CASE("resp: a command parses whole, and every shorter prefix asks for more") {
    const std::vector<std::string> arguments = {"EVALSHA", "abc", "2", std::string("d\r\na\0ta", 7), ""};
    const std::string wire = encode(arguments);
    std::vector<std::string_view> parsed;
    std::size_t consumed = 0;
    std::string why;
    REQUIRE(parse_command(wire, {}, parsed, consumed, why) == RespParse::Complete);
    CHECK(consumed == wire.size());
    REQUIRE(parsed.size() == arguments.size());
    for (std::size_t i = 0; i < arguments.size(); ++i) CHECK(parsed[i] == arguments[i]);
    for (std::size_t cut = 0; cut < wire.size(); ++cut) {
        CAPTURE(cut);
        CHECK(parse_command(std::string_view(wire).substr(0, cut), {}, parsed, consumed, why) == RespParse::Incomplete);
    }
}

TEST_CASE("resp: commands fed byte by byte and back to back come out one at a time, in order") {
    const std::string wire = encode({"AUTH", "pw"}) + encode({"SUBSCRIBE", "c:a", "c:b"}) + encode({"PING"});
    for (std::size_t split = 0; split <= wire.size(); ++split) {
        CAPTURE(split);
        std::string buffer;
        std::vector<std::string> names;
        auto drain = [&] {
            std::vector<std::string_view> parsed;
            std::size_t consumed = 0;
            std::string why;
            while (parse_command(buffer, {}, parsed, consumed, why) == RespParse::Complete) {
                names.emplace_back(parsed[0]);
                buffer.erase(0, consumed);
            }
        };
        buffer.append(wire.substr(0, split));
        drain();
        for (char c : wire.substr(split)) {  // the rest, a byte at a time
            buffer.push_back(c);
            drain();
        }
        CHECK(buffer.empty());
        CHECK(names == std::vector<std::string>{"AUTH", "SUBSCRIBE", "PING"});
    }
}

TEST_CASE("resp: what is not a command of the subset, or past a limit, is refused with a reason") {
    RespLimits limits;
    limits.max_arguments = 4;
    limits.max_bulk_bytes = 8;
    const std::string_view bad[] = {
        "PING\r\n",                          // inline commands are not served
        "*0\r\n",                            // no arguments
        "*5\r\n",                            // more than max_arguments
        "*x\r\n",                            // not a number
        "*1\r\n:4\r\n",                      // not a bulk string
        "*1\r\n$9\r\n",                      // longer than max_bulk_bytes
        "*1\r\n$3\r\nPINGX\r\n",             // longer than its length says
        "*1\r\n$-1\r\n",                     // a null bulk
        "*123456789012345678901234567890",   // a length without end
    };
    for (std::string_view input : bad) {
        CAPTURE(input);
        std::vector<std::string_view> parsed;
        std::size_t consumed = 0;
        std::string why;
        CHECK(parse_command(input, limits, parsed, consumed, why) == RespParse::Invalid);
        CHECK_FALSE(why.empty());
    }
}

TEST_CASE("resp: replies are written as Redis writes them") {
    std::string out;
    append_status(out, "OK");
    append_error(out, "ERR two\r\nlines");
    append_integer(out, -17);
    append_array_header(out, 2);
    append_bulk(out, "");
    append_bulk(out, "ab");
    CHECK(out == "+OK\r\n-ERR two  lines\r\n:-17\r\n*2\r\n$0\r\n\r\n$2\r\nab\r\n");
}
