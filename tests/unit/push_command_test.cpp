// surge-push's client-facing parsers: the JSON subscribe/unsubscribe commands and percent-encoded topic lists.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "surge/core/json_string.hpp"
#include "tools/push/command.hpp"

using namespace surge::push;

TEST_CASE("push commands: subscribe and unsubscribe, with JSON's whitespace and escapes") {
    Command c;
    std::string error;
    REQUIRE(parse_command(R"({"subscribe":"news"})", c, error));
    CHECK(c.action == Action::Subscribe);
    CHECK(c.topic == "news");
    REQUIRE(parse_command(" {\n\t\"unsubscribe\" :\r \"a\\\"b\\\\c\\/d\" } ", c, error));
    CHECK(c.action == Action::Unsubscribe);
    CHECK(c.topic == "a\"b\\c/d");
    REQUIRE(parse_command(R"({"subscribe":"caf\u00e9 \ud83d\ude00 \n"})", c, error));
    CHECK(c.topic == "caf\xc3\xa9 \xf0\x9f\x98\x80 \n");
    REQUIRE(parse_command(R"({"subscribe":""})", c, error));  // parsed; subscribe() itself refuses an empty topic
    CHECK(c.topic.empty());
}

TEST_CASE("push commands: a position and an id, in any order") {
    Command c;
    std::string error;
    REQUIRE(parse_command(R"({"since":17,"subscribe":"news","epoch":"ab12","id":"r-1"})", c, error));
    CHECK(c.topic == "news");
    CHECK(c.since == 17u);
    CHECK(c.epoch == "ab12");
    CHECK(c.id_json == "\"r-1\"");
    REQUIRE(parse_command(R"({"subscribe":"x","since":0,"id":42})", c, error));
    CHECK(c.since == 0u);
    CHECK(c.id_json == "42");
    CHECK(c.epoch.empty());
    REQUIRE(parse_command(R"({"subscribe":"x","since":18446744073709551615})", c, error));
    CHECK(c.since == 18446744073709551615ULL);
    REQUIRE(parse_command(R"({"unsubscribe":"x","id":"q\"uote"})", c, error));
    CHECK_FALSE(c.since);
    CHECK(c.id_json == R"("q\"uote")");
}

TEST_CASE("push commands: anything else is refused, and the error says what") {
    Command c;
    std::string error;
    const std::pair<const char*, const char*> said[] = {
        {R"({"subscribe":"x","since":-1})", "\"since\" is an offset"},
        {R"({"subscribe":"x","since":1.5})", "\"since\" is an offset"},
        {R"({"subscribe":"x","since":18446744073709551616})", "\"since\" is an offset"},
        {R"({"subscribe":"x","since":01})", "\"since\" is an offset"},
        {R"({"subscribe":"x","since":"1"})", "\"since\" is an offset"},
        {R"({"subscribe":"x","since":1,"since":2})", "\"since\" is an offset"},
        {R"({"subscribe":"x","epoch":3})", "\"epoch\" is a string"},
        {R"({"subscribe":"x","id":true})", "\"id\" is a string or an integer"},
        {R"({"subscribe":"x","colour":"red"})", "unknown member \"colour\""},
        {R"({"unsubscribe":"x","since":3})", "go with \"subscribe\""},
        {R"({"id":1})", "expected {\"subscribe\""},
    };
    for (const auto& [bad, expected] : said) {
        CAPTURE(bad);
        CHECK_FALSE(parse_command(bad, c, error));
        CHECK(error.find(expected) != std::string::npos);
    }
    for (const char* bad : {"", "{}", "null", "[\"subscribe\",\"x\"]", R"({"subscribe":1})", R"({"publish":"x"})",
                            R"({"subscribe":"x"} trailing)", R"({"subscribe":"x","unsubscribe":"y"})",
                            R"({"subscribe":"x")", R"({"subscribe":"unterminated})", "{\"subscribe\":\"tab\there\"}",
                            R"({"subscribe":"\x"})", R"({"subscribe":"\u12"})", R"({"subscribe":"\ud83d"})",
                            R"({"subscribe":"\ude00"})", R"({"subscribe":"\ud83d\u0041"})", R"({subscribe:"x"})"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_command(bad, c, error));
    }
}

TEST_CASE("push topics: percent-encoded lists in the query string") {
    CHECK(topics_from_query("topics=a,b") == std::vector<std::string>{"a", "b"});
    CHECK(topics_from_query("x=1&topics=a%2Cb,c+d&topics=%C3%A9&y") == std::vector<std::string>{"a,b", "c d", "\xc3\xa9"});
    CHECK(topics_from_query("topics=,a,,") == std::vector<std::string>{"a"});  // empty names are skipped
    CHECK(topics_from_query("topics=%zz,ok") == std::vector<std::string>{"ok"});  // so are malformed ones
    CHECK(topics_from_query("topic=a&xtopics=b").empty());
    CHECK(topics_from_query("").empty());

    std::string out;
    CHECK(percent_decode("a%2fb+c", out, false));
    CHECK(out == "a/b+c");  // in a path, '+' is a plus
    CHECK_FALSE(percent_decode("50%", out, false));
    CHECK_FALSE(percent_decode("%4", out, false));
    CHECK_FALSE(percent_decode("%g0", out, false));
}

TEST_CASE("push positions: since=topic:offset lists and the epoch in the query string") {
    QueryPositions q;
    std::string error;
    REQUIRE(positions_from_query("topics=a&since=news:17,sport%3A1:4&epoch=e1&since=x+y:0", q, error));
    REQUIRE(q.since.size() == 3);
    CHECK(q.since[0] == std::pair<std::string, std::uint64_t>{"news", 17});
    CHECK(q.since[1] == std::pair<std::string, std::uint64_t>{"sport:1", 4});  // the last colon separates
    CHECK(q.since[2] == std::pair<std::string, std::uint64_t>{"x y", 0});
    CHECK(q.epoch == "e1");
    REQUIRE(positions_from_query("topics=a", q, error));
    CHECK(q.since.empty());
    for (const char* bad : {"since=news", "since=news:", "since=news:x", "since=:3", "since=news:-1", "since=%zz:1"}) {
        CAPTURE(bad);
        CHECK_FALSE(positions_from_query(bad, q, error));
        CHECK(error.rfind("since: expected topic:offset", 0) == 0);
    }
    CHECK(query_parameter("a=1&format=raw&b", "format") == "raw");
    CHECK(query_parameter("xformat=raw", "format").empty());
}

TEST_CASE("push answers: JSON strings are escaped") {
    std::string out;
    surge::append_json_string(out, std::string("q\"b\\s\n\x01\xc3\xa9", 9));
    CHECK(out == "\"q\\\"b\\\\s\\u000a\\u0001\xc3\xa9\"");
}

TEST_CASE("push topics: names are 1 to the limit's bytes of UTF-8 without control characters") {
    CHECK(surge::push::valid_topic("news", 256));
    CHECK(surge::push::valid_topic("pr\xc3\xa9sident/\xe2\x82\xac", 256));  // UTF-8 is fine
    CHECK(surge::push::valid_topic(std::string(256, 't'), 256));
    CHECK_FALSE(surge::push::valid_topic(std::string(257, 't'), 256));
    CHECK_FALSE(surge::push::valid_topic("", 256));
    CHECK_FALSE(surge::push::valid_topic("\xff\xfe", 256));                   // not UTF-8
    CHECK_FALSE(surge::push::valid_topic(std::string("a\0b", 3), 256));        // NUL
    CHECK_FALSE(surge::push::valid_topic("line\nbreak", 256));
    CHECK_FALSE(surge::push::valid_topic("del\x7f", 256));
}
