// surge-push's access rules: the token's sources and comparison, and the browser origin rules.
#include "tools/push/access.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace surge::push;

TEST_CASE("push access: the token compares whole, and comes from a file's first line") {
    CHECK(same_secret("s3cret", "s3cret"));
    CHECK_FALSE(same_secret("s3cre", "s3cret"));
    CHECK_FALSE(same_secret("s3cretX", "s3cret"));
    CHECK_FALSE(same_secret("S3cret", "s3cret"));
    CHECK_FALSE(same_secret("", "s3cret"));

    char path[] = "/tmp/surge-token-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path) << "from-file\r\nsecond line ignored\n";
    std::string token, error;
    CHECK(read_token_file(path, token, error));
    CHECK(token == "from-file");
    std::ofstream(path) << "\n";
    CHECK_FALSE(read_token_file(path, token, error));
    CHECK(error.find("empty") != std::string::npos);
    std::remove(path);
    CHECK_FALSE(read_token_file(path, token, error));
    CHECK_FALSE(error.empty());
}

TEST_CASE("push access: origin lists") {
    std::vector<std::string> list;
    CHECK(parse_origin_list("https://app.example.com, http://localhost:3000", list));
    CHECK(list == std::vector<std::string>{"https://app.example.com", "http://localhost:3000"});
    CHECK(parse_origin_list("*", list));
    CHECK_FALSE(parse_origin_list("", list));
    CHECK_FALSE(parse_origin_list("app.example.com", list));          // no scheme
    CHECK_FALSE(parse_origin_list("https://app.example.com/path", list));  // an origin has no path
    CHECK_FALSE(parse_origin_list("https://", list));
}

TEST_CASE("push access: browsers publish from the server's own page or a listed origin, subscribe from any by default") {
    const std::vector<std::string> none;
    const std::vector<std::string> app = {"https://app.example.com"};
    // No Origin header: not a browser request; the token decides.
    CHECK(may_publish("", "push.example.com", none));
    CHECK(may_subscribe("", "push.example.com", app));
    // Without a list: any page subscribes, only the server's own page publishes.
    CHECK(may_subscribe("https://elsewhere.example", "push.example.com", none));
    CHECK_FALSE(may_publish("https://elsewhere.example", "push.example.com", none));
    CHECK(may_publish("http://push.example.com:9001", "push.example.com:9001", none));
    CHECK(may_publish("https://PUSH.example.com", "push.example.com", none));
    // With a list: both need an origin from it (or the server's own).
    CHECK(may_subscribe("https://app.example.com", "push.example.com", app));
    CHECK_FALSE(may_subscribe("https://elsewhere.example", "push.example.com", app));
    CHECK(may_publish("https://app.example.com", "push.example.com", app));
    CHECK_FALSE(may_publish("https://app.example.com.evil.example", "push.example.com", app));
    CHECK(may_publish("https://anything.example", "push.example.com", {"*"}));
}
