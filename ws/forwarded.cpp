#include "surge/ws/forwarded.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <vector>

#include "surge/ws/token_list.hpp"

namespace surge {

namespace {

// Hops kept for the walk: the last ones written, which are the ones the nearest proxies added.
constexpr std::size_t kMostHops = 32;

bool trusted(const net::IpAddress& address, std::span<const net::AddressRange> ranges) noexcept {
    return std::any_of(ranges.begin(), ranges.end(), [&](const net::AddressRange& r) { return r.contains(address); });
}

bool parse_port(std::string_view digits, std::uint16_t& port) noexcept {
    if (digits.empty() || digits.size() > 5) return false;
    unsigned value = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

// The for= parameter of one Forwarded element ("for=192.0.2.60;proto=http;by=203.0.113.43"), or "".
std::string_view for_parameter(std::string_view element) noexcept {
    std::size_t pos = 0;
    while (pos <= element.size()) {
        std::size_t end = element.find(';', pos);
        if (end == std::string_view::npos) end = element.size();
        std::string_view pair = element.substr(pos, end - pos);
        while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
        if (pair.size() > 4 && iequals(pair.substr(0, 4), "for=")) return pair.substr(4);
        pos = end + 1;
    }
    return {};
}

}  // namespace

bool parse_forwarded_hop(std::string_view text, net::Endpoint& out) noexcept {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    // Quoted in Forwarded (where the list reader may already have taken the closing quote off).
    if (!text.empty() && text.front() == '"') text.remove_prefix(1);
    if (!text.empty() && text.back() == '"') text.remove_suffix(1);
    net::Endpoint hop;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos || !net::IpAddress::parse(text.substr(1, close - 1), hop.ip)) return false;
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || !parse_port(rest.substr(1), hop.port))) return false;
    } else if (net::IpAddress::parse(text, hop.ip)) {
        // An address alone (a bare IPv6 one has colons of its own).
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos || !net::IpAddress::parse(text.substr(0, colon), hop.ip) ||
            hop.ip.family != AF_INET || !parse_port(text.substr(colon + 1), hop.port)) {
            return false;
        }
    }
    out = hop;
    return true;
}

net::Endpoint forwarded_client(const net::Endpoint& peer, const HttpHeaders& request,
                               std::span<const net::AddressRange> trusted_proxies) {
    if (trusted_proxies.empty() || !trusted(peer.ip, trusted_proxies)) return peer;
    // The hops in the order written (client first), the last kMostHops of them.
    std::vector<std::string_view> hops;
    const bool standard = request.find("Forwarded") != nullptr;
    TokenList(request, standard ? "Forwarded" : "X-Forwarded-For").for_each([&](std::string_view element) {
        if (hops.size() == kMostHops) hops.erase(hops.begin());
        hops.push_back(standard ? for_parameter(element) : element);
        return true;
    });
    net::Endpoint current = peer;
    for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
        net::Endpoint next;
        if (!parse_forwarded_hop(*hop, next)) break;
        current = next;
        if (!trusted(current.ip, trusted_proxies)) break;
    }
    return current;
}

}  // namespace surge
