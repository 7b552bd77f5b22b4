#include "surge/net/listener.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "surge/net/fd_limit.hpp"

using namespace surge::net;

TEST_CASE("two SO_REUSEPORT listeners share a port, and a client connects") {
    const int first = open_listener({.address = "127.0.0.1", .port = 0});
    REQUIRE(first >= 0);
    const int port = bound_port(first);
    REQUIRE(port > 0);
    const int second = open_listener({.address = "127.0.0.1", .port = static_cast<std::uint16_t>(port)});
    CHECK(second >= 0);

    const int client = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    ::close(client);
    ::close(first);
    if (second >= 0) ::close(second);
}

TEST_CASE("without SO_REUSEPORT a second listener on the port fails with -EADDRINUSE") {
    const int first = open_listener({.address = "127.0.0.1", .port = 0, .reuse_port = false});
    REQUIRE(first >= 0);
    const auto port = static_cast<std::uint16_t>(bound_port(first));
    CHECK(open_listener({.address = "127.0.0.1", .port = port, .reuse_port = false}) == -EADDRINUSE);
    ::close(first);
}

TEST_CASE("addresses that are not IP literals are -EINVAL, IPv6 loopback works") {
    CHECK(open_listener({.address = "localhost"}) == -EINVAL);
    const int v6 = open_listener({.address = "::1", .port = 0});
    if (v6 == -EAFNOSUPPORT || v6 == -EADDRNOTAVAIL) {
        MESSAGE("no IPv6 loopback on this machine");
    } else {
        CHECK(v6 >= 0);
        CHECK(bound_port(v6) > 0);
        ::close(v6);
    }
}

TEST_CASE("the descriptor limit can be read and raised up to the hard limit") {
    const FdLimit before = fd_limit();
    CHECK(before.soft > 0);
    CHECK(before.soft <= before.hard);
    CHECK(raise_fd_limit(before.hard) == before.hard);
    CHECK(raise_fd_limit(1) == before.hard);  // never lowers
}
