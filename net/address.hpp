// IP addresses as values: a connection's peer (IPv4 or IPv6, with or without its port), ranges of them in CIDR
// notation ("10.0.0.0/8", "::1/128"), and their text. Layer: net. Pure functions but peer_address(), which asks
// the kernel (getpeername). IPv4-mapped IPv6 peers (::ffff:a.b.c.d, on a dual-stack "::" listener) are read as
// the IPv4 address they are, so limits and ranges treat a client alike whichever listener it came through.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace surge::net {

struct IpAddress {
    std::uint8_t family = 0;       // AF_INET or AF_INET6; 0: none
    std::uint8_t bytes[16] = {};   // 4 (IPv4) or 16 (IPv6) in network order, the rest zero

    bool empty() const noexcept { return family == 0; }
    // "192.0.2.7" or "2001:db8::1"; "" when empty.
    std::string text() const;
    // An IPv4 or IPv6 literal (IPv6 with or without brackets); false for anything else.
    static bool parse(std::string_view text, IpAddress& out) noexcept;

    bool operator==(const IpAddress& other) const noexcept {
        return family == other.family && std::memcmp(bytes, other.bytes, sizeof bytes) == 0;
    }
};

struct IpAddressHash {
    std::size_t operator()(const IpAddress& a) const noexcept {
        std::uint64_t h = 1469598103934665603ULL ^ a.family;  // FNV-1a
        for (const std::uint8_t b : a.bytes) h = (h ^ b) * 1099511628211ULL;
        return static_cast<std::size_t>(h);
    }
};

// An address and port: where a connection comes from.
struct Endpoint {
    IpAddress ip;
    std::uint16_t port = 0;  // 0: not known (an address a proxy forwarded without one)

    // "192.0.2.7:5000", "[2001:db8::1]:5000", or the address alone when the port is not known.
    std::string text() const;
};

// A CIDR range: "10.0.0.0/8", "2001:db8::/32", or one address ("127.0.0.1" is 127.0.0.1/32).
struct AddressRange {
    IpAddress base;
    std::uint8_t prefix_bits = 0;

    bool contains(const IpAddress& address) const noexcept;
    // False for a malformed range, a prefix longer than the family allows, or bits set past the prefix.
    static bool parse(std::string_view text, AddressRange& out) noexcept;
};

// The peer of the connected socket `fd`; false when it has none (closed, or not IP).
bool peer_address(int fd, Endpoint& out) noexcept;

}  // namespace surge::net
