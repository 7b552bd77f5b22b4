// URLs for the client and the load tools: schemes, ports, IPv6 literals in brackets, and the errors said.
#include "surge/ws/url.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace surge;

TEST_CASE("parse_url: host and port, IPv4 and IPv6 literals, the target") {
    Url url;
    std::string error;
    REQUIRE(parse_url("ws://127.0.0.1:9001/live?x=1", url, error));
    CHECK(url.family() == AF_INET);
    CHECK(url.port() == 9001);
    CHECK(url.host == "127.0.0.1:9001");
    CHECK(url.target == "/live?x=1");
    REQUIRE(parse_url("wss://[::1]:8443", url, error));
    CHECK(url.family() == AF_INET6);
    CHECK(url.port() == 8443);
    CHECK(url.host == "[::1]:8443");
    CHECK(url.server_name == "::1");
    CHECK(url.target == "/");
    REQUIRE(parse_url("http://[::1]/publish/x", url, error));
    CHECK(url.port() == 80);
    url.set_port(9002);
    CHECK(url.port() == 9002);
    CHECK(url.text() == "http://[::1]/publish/x");
}

TEST_CASE("parse_url: what it refuses, and says") {
    Url url;
    std::string error;
    CHECK_FALSE(parse_url("ftp://x/", url, error));
    CHECK(error.find("ws://") != std::string::npos);
    CHECK_FALSE(parse_url("ws://[::1:9001/", url, error));
    CHECK(error.find("']'") != std::string::npos);
    CHECK_FALSE(parse_url("ws://[::1]x/", url, error));
    CHECK(error.find("bad port") != std::string::npos);
    CHECK_FALSE(parse_url("ws://127.0.0.1:0/", url, error));
    CHECK(error.find("bad port") != std::string::npos);
    CHECK_FALSE(parse_url("ws://:9001/", url, error));
    CHECK(error.find("no host") != std::string::npos);
}
