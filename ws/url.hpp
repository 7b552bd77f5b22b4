// ws://, wss://, http:// and https:// URLs for surge::Client and the load tools: where to connect, whether over
// TLS, and what to put in Host, SNI and the request line. Layer: ws. IPv4 only for now; parse_url() resolves the
// name with getaddrinfo(), which blocks: resolve before connecting, not inside a callback.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace surge {

struct Url {
    enum class Scheme : std::uint8_t { Ws, Wss, Http, Https } scheme = Scheme::Ws;
    std::string host;         // as written, for the Host field (with ":port" when the URL gave one)
    std::string server_name;  // the host alone: SNI and the name the certificate must carry
    std::string target;       // path and query, "/" when empty
    sockaddr_storage address{};  // resolved (IPv4 or IPv6, as getaddrinfo() ranks them), with the port
    socklen_t address_length = 0;

    const sockaddr* socket_address() const noexcept { return reinterpret_cast<const sockaddr*>(&address); }
    int family() const noexcept { return address.ss_family; }
    std::uint16_t port() const noexcept;
    void set_port(std::uint16_t port) noexcept;

    bool tls() const noexcept { return scheme == Scheme::Wss || scheme == Scheme::Https; }
    bool websocket() const noexcept { return scheme == Scheme::Ws || scheme == Scheme::Wss; }
    // "ws://host:port/target", for reports.
    std::string text() const;
};

// Parses and resolves `text`. On failure returns false and says why in `error`.
bool parse_url(std::string_view text, Url& out, std::string& error);

}  // namespace surge
