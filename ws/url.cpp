#include "surge/ws/url.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <charconv>
#include <cstring>

namespace surge {

bool parse_url(std::string_view text, Url& out, std::string& error) {
    static constexpr struct {
        std::string_view prefix;
        Url::Scheme scheme;
        std::uint16_t port;
    } kSchemes[] = {{"ws://", Url::Scheme::Ws, 80},
                    {"wss://", Url::Scheme::Wss, 443},
                    {"http://", Url::Scheme::Http, 80},
                    {"https://", Url::Scheme::Https, 443}};
    std::uint16_t default_port = 0;
    for (const auto& s : kSchemes) {
        if (!text.starts_with(s.prefix)) continue;
        out.scheme = s.scheme;
        default_port = s.port;
        text.remove_prefix(s.prefix.size());
        break;
    }
    if (default_port == 0) {
        error = "only ws://, wss://, http:// and https:// URLs are supported";
        return false;
    }
    const std::size_t slash = text.find('/');
    const std::string_view authority = text.substr(0, slash);
    out.target = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
    out.host = std::string(authority);

    // host, host:port, [IPv6], [IPv6]:port
    std::string_view name = authority;
    std::string_view after_name;
    if (authority.starts_with('[')) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            error = "no ']' after the IPv6 address in " + std::string(authority);
            return false;
        }
        name = authority.substr(1, close - 1);
        after_name = authority.substr(close + 1);
        if (!after_name.empty() && after_name.front() != ':') {
            error = "bad port in " + std::string(authority);
            return false;
        }
    } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        name = authority.substr(0, colon);
        after_name = authority.substr(colon);
    }
    std::uint16_t port = default_port;
    if (!after_name.empty()) {
        const std::string_view digits = after_name.substr(1);
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        if (ec != std::errc{} || end != digits.data() + digits.size() || port == 0) {
            error = "bad port in " + std::string(authority);
            return false;
        }
    }
    if (name.empty()) {
        error = "no host in the URL";
        return false;
    }
    out.server_name = std::string(name);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string host(name);
    if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0 || !found) {
        error = "cannot resolve " + host + ": " + ::gai_strerror(rc);
        return false;
    }
    out.address = {};
    std::memcpy(&out.address, found->ai_addr, found->ai_addrlen);
    out.address_length = found->ai_addrlen;
    ::freeaddrinfo(found);
    out.set_port(port);
    return true;
}

std::uint16_t Url::port() const noexcept {
    if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

void Url::set_port(std::uint16_t port) noexcept {
    if (address.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
    else reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
}

std::string Url::text() const {
    static constexpr const char* kNames[] = {"ws://", "wss://", "http://", "https://"};
    return kNames[static_cast<int>(scheme)] + host + target;
}

}  // namespace surge
