// surge-push's client-facing parsers: the JSON subscribe/unsubscribe commands and percent-encoded topic lists.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tools/json_string.hpp"
#include "tools/push/command.hpp"

using namespace surge::push;

TEST_CASE("push commands: subscribe and unsubscribe, with JSON's whitespace and escapes") {
    Command c;
    REQUIRE(parse_command(R"({"subscribe":"news"})", c));
    CHECK(c.action == Action::Subscribe);
    CHECK(c.topic == "news");
    REQUIRE(parse_command(" {\n\t\"unsubscribe\" :\r \"a\\\"b\\\\c\\/d\" } ", c));
    CHECK(c.action == Action::Unsubscribe);
    CHECK(c.topic == "a\"b\\c/d");
    REQUIRE(parse_command(R"({"subscribe":"caf\u00e9 \ud83d\ude00 \n"})", c));
    CHECK(c.topic == "caf\xc3\xa9 \xf0\x9f\x98\x80 \n");
    REQUIRE(parse_command(R"({"subscribe":""})", c));  // parsed; subscribe() itself refuses an empty topic
    CHECK(c.topic.empty());
}

TEST_CASE("push commands: anything else is refused") {
    Command c;
    for (const char* bad : {"", "{}", "null", "[\"subscribe\",\"x\"]", R"({"subscribe":1})", R"({"publish":"x"})",
                            R"({"subscribe":"x"} trailing)", R"({"subscribe":"x","unsubscribe":"y"})",
                            R"({"subscribe":"x")", R"({"subscribe":"unterminated})", "{\"subscribe\":\"tab\there\"}",
                            R"({"subscribe":"\x"})", R"({"subscribe":"\u12"})", R"({"subscribe":"\ud83d"})",
                            R"({"subscribe":"\ude00"})", R"({"subscribe":"\ud83d\u0041"})", R"({subscribe:"x"})"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_command(bad, c));
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

TEST_CASE("push answers: JSON strings are escaped") {
    std::string out;
    surge::tools::append_json_string(out, std::string("q\"b\\s\n\x01\xc3\xa9", 9));
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
