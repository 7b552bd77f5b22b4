#include "surge/net/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace surge::net {

namespace {

std::size_t width(std::uint8_t family) noexcept { return family == AF_INET ? 4 : 16; }

// ::ffff:a.b.c.d is the IPv4 peer of a dual-stack socket.
void unmap(IpAddress& address) noexcept {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (address.family != AF_INET6 || std::memcmp(address.bytes, kMapped, sizeof kMapped) != 0) return;
    std::uint8_t v4[4];
    std::memcpy(v4, address.bytes + 12, 4);
    address = {};
    address.family = AF_INET;
    std::memcpy(address.bytes, v4, 4);
}

}  // namespace

std::string IpAddress::text() const {
    char out[INET6_ADDRSTRLEN] = {};
    if (family != AF_INET && family != AF_INET6) return {};
    return ::inet_ntop(family, bytes, out, sizeof out) ? std::string(out) : std::string();
}

bool IpAddress::parse(std::string_view text, IpAddress& out) noexcept {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    char literal[INET6_ADDRSTRLEN];
    if (text.empty() || text.size() >= sizeof literal) return false;
    std::memcpy(literal, text.data(), text.size());
    literal[text.size()] = '\0';
    IpAddress parsed;
    if (::inet_pton(AF_INET, literal, parsed.bytes) == 1) {
        parsed.family = AF_INET;
    } else if (::inet_pton(AF_INET6, literal, parsed.bytes) == 1) {
        parsed.family = AF_INET6;
        unmap(parsed);
    } else {
        return false;
    }
    out = parsed;
    return true;
}

std::string Endpoint::text() const {
    if (port == 0) return ip.text();
    const std::string address = ip.text();
    return (ip.family == AF_INET6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

bool AddressRange::contains(const IpAddress& address) const noexcept {
    if (address.family != base.family) return false;
    const std::size_t whole = prefix_bits / 8;
    if (std::memcmp(address.bytes, base.bytes, whole) != 0) return false;
    const unsigned rest = prefix_bits % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (address.bytes[whole] & mask) == (base.bytes[whole] & mask);
}

bool AddressRange::parse(std::string_view text, AddressRange& out) noexcept {
    const std::size_t slash = text.find('/');
    AddressRange range;
    if (!IpAddress::parse(text.substr(0, slash), range.base)) return false;
    const unsigned most = static_cast<unsigned>(width(range.base.family) * 8);
    unsigned bits = most;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3) return false;
        bits = 0;
        for (const char c : digits) {
            if (c < '0' || c > '9') return false;
            bits = bits * 10 + static_cast<unsigned>(c - '0');
        }
        if (bits > most) return false;
    }
    range.prefix_bits = static_cast<std::uint8_t>(bits);
    // No address bit past the prefix: "10.0.0.1/8" is more likely a mistake than a way to write 10.0.0.0/8.
    for (unsigned bit = bits; bit < most; ++bit) {
        if (range.base.bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
    }
    out = range;
    return true;
}

bool peer_address(int fd, Endpoint& out) noexcept {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
    Endpoint peer;
    if (address.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
        peer.ip.family = AF_INET;
        std::memcpy(peer.ip.bytes, &v4->sin_addr, 4);
        peer.port = ntohs(v4->sin_port);
    } else if (address.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
        peer.ip.family = AF_INET6;
        std::memcpy(peer.ip.bytes, &v6->sin6_addr, 16);
        peer.port = ntohs(v6->sin6_port);
        unmap(peer.ip);
    } else {
        return false;
    }
    out = peer;
    return true;
}

}  // namespace surge::net
