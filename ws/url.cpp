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

    std::string_view name = authority;
    std::uint16_t port = default_port;
    if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        name = authority.substr(0, colon);
        const std::string_view digits = authority.substr(colon + 1);
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
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string host(name);
    if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0 || !found) {
        error = "cannot resolve " + host + ": " + ::gai_strerror(rc);
        return false;
    }
    std::memcpy(&out.address, found->ai_addr, sizeof out.address);
    ::freeaddrinfo(found);
    out.address.sin_port = htons(port);
    return true;
}

std::string Url::text() const {
    static constexpr const char* kNames[] = {"ws://", "wss://", "http://", "https://"};
    return kNames[static_cast<int>(scheme)] + host + target;
}

}  // namespace surge
