// The client behind proxies: Forwarded and X-Forwarded-For, trusted only as far as the configured proxies go.
#include "surge/ws/forwarded.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace surge;

namespace {

net::Endpoint endpoint(const char* text) {
    net::Endpoint e;
    REQUIRE(parse_forwarded_hop(text, e));
    return e;
}

std::vector<net::AddressRange> ranges(std::initializer_list<const char*> texts) {
    std::vector<net::AddressRange> out;
    for (const char* t : texts) {
        net::AddressRange r;
        REQUIRE(net::AddressRange::parse(t, r));
        out.push_back(r);
    }
    return out;
}

// The client forwarded_client() finds for a request with `headers` from `peer`.
std::string client(const char* peer, const std::string& headers, const std::vector<net::AddressRange>& trusted) {
    const std::string head = "GET / HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n";
    HttpRequest request;
    REQUIRE(HttpRequestParser().parse(head, request).status == ParseStatus::Complete);
    return forwarded_client(endpoint(peer), request, trusted).text();
}

}  // namespace

TEST_CASE("addresses: IPv4 and IPv6 literals, mapped IPv4 read as IPv4, ranges by prefix") {
    net::IpAddress a;
    CHECK(net::IpAddress::parse("192.0.2.7", a));
    CHECK(a.text() == "192.0.2.7");
    CHECK(net::IpAddress::parse("[2001:db8::1]", a));
    CHECK(a.text() == "2001:db8::1");
    CHECK(net::IpAddress::parse("::ffff:10.1.2.3", a));
    CHECK(a.text() == "10.1.2.3");
    CHECK_FALSE(net::IpAddress::parse("10.1.2", a));
    CHECK_FALSE(net::IpAddress::parse("example.com", a));
    CHECK_FALSE(net::IpAddress::parse("", a));

    const auto r = ranges({"10.0.0.0/8", "2001:db8::/32", "127.0.0.1"});
    net::IpAddress inside, outside;
    REQUIRE(net::IpAddress::parse("10.200.3.4", inside));
    REQUIRE(net::IpAddress::parse("11.0.0.1", outside));
    CHECK(r[0].contains(inside));
    CHECK_FALSE(r[0].contains(outside));
    REQUIRE(net::IpAddress::parse("2001:db8:ffff::9", inside));
    REQUIRE(net::IpAddress::parse("2001:db9::1", outside));
    CHECK(r[1].contains(inside));
    CHECK_FALSE(r[1].contains(outside));
    CHECK_FALSE(r[0].contains(inside));  // another family
    REQUIRE(net::IpAddress::parse("127.0.0.1", inside));
    CHECK(r[2].contains(inside));
    CHECK(r[2].prefix_bits == 32);

    net::AddressRange bad;
    CHECK_FALSE(net::AddressRange::parse("10.0.0.1/8", bad));   // bits past the prefix
    CHECK_FALSE(net::AddressRange::parse("10.0.0.0/33", bad));
    CHECK_FALSE(net::AddressRange::parse("10.0.0.0/", bad));
    CHECK_FALSE(net::AddressRange::parse("10.0.0.0/x", bad));
    CHECK(net::AddressRange::parse("0.0.0.0/0", bad));
    CHECK(net::AddressRange::parse("::/0", bad));
}

TEST_CASE("forwarded hops: with and without ports and brackets, quoted or not, and what is not one") {
    CHECK(endpoint("192.0.2.7").text() == "192.0.2.7");
    CHECK(endpoint("192.0.2.7:8080").text() == "192.0.2.7:8080");
    CHECK(endpoint("2001:db8::1").text() == "2001:db8::1");
    CHECK(endpoint("\"[2001:db8::1]:4711\"").text() == "[2001:db8::1]:4711");
    CHECK(endpoint(" 10.0.0.1 ").text() == "10.0.0.1");
    net::Endpoint e;
    for (const char* bad : {"unknown", "_hidden", "", "[2001:db8::1", "[::1]x", "10.0.0.1:0", "10.0.0.1:99999",
                            "host.example"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_forwarded_hop(bad, e));
    }
}

TEST_CASE("forwarded client: headers count only from trusted proxies, walked from the nearest hop") {
    const auto proxies = ranges({"127.0.0.0/8", "10.0.0.0/8"});
    // No trusted proxies, or a peer that is not one: the peer, whatever it claims.
    CHECK(client("198.51.100.9:5000", "X-Forwarded-For: 1.2.3.4\r\n", {}) == "198.51.100.9:5000");
    CHECK(client("198.51.100.9:5000", "X-Forwarded-For: 1.2.3.4\r\n", proxies) == "198.51.100.9:5000");
    // From a trusted proxy: the hop it added.
    CHECK(client("127.0.0.1:5000", "X-Forwarded-For: 203.0.113.5\r\n", proxies) == "203.0.113.5");
    // A chain: trusted hops are passed, the first untrusted one from the right is the client; what a client
    // wrote in front of it (a spoofed address) is never reached.
    CHECK(client("127.0.0.1:5000", "X-Forwarded-For: 6.6.6.6, 203.0.113.5, 10.1.1.1\r\n", proxies) ==
          "203.0.113.5");
    // The list may come in several fields.
    CHECK(client("127.0.0.1:5000", "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.5, 10.1.1.1\r\n",
                 proxies) == "203.0.113.5");
    // Every hop trusted: the farthest one.
    CHECK(client("127.0.0.1:5000", "X-Forwarded-For: 10.0.0.7, 10.1.1.1\r\n", proxies) == "10.0.0.7");
    // A hop that cannot be read stops the walk at the last one that could.
    CHECK(client("127.0.0.1:5000", "X-Forwarded-For: 203.0.113.5, garbage\r\n", proxies) == "127.0.0.1:5000");
    CHECK(client("127.0.0.1:5000", "X-Forwarded-For: 203.0.113.5, garbage, 10.1.1.1\r\n", proxies) ==
          "10.1.1.1");
    // No header: the proxy itself.
    CHECK(client("127.0.0.1:5000", "", proxies) == "127.0.0.1:5000");
    // Forwarded (RFC 7239) wins over X-Forwarded-For, with its quoting and parameters.
    CHECK(client("127.0.0.1:5000",
                 "X-Forwarded-For: 6.6.6.6\r\nForwarded: for=192.0.2.60;proto=http;by=203.0.113.43, "
                 "for=\"[2001:db8:cafe::17]:4711\"\r\n",
                 proxies) == "[2001:db8:cafe::17]:4711");
    CHECK(client("127.0.0.1:5000", "Forwarded: For=\"_gazonk\"\r\n", proxies) == "127.0.0.1:5000");
}
