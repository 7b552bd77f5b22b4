// The client side of the WebSocket opening handshake (RFC 6455 section 4.1): write the upgrade request, then
// check the server's response head. Layer: ws. Sans-I/O like the server side: caller-provided space, views into
// the caller's bytes, no allocation. surge's load tools use it, and surge::Client will.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "surge/ws/deflate_negotiation.hpp"
#include "surge/ws/http_request.hpp"

namespace surge {

inline constexpr std::size_t kWebSocketKeyLength = 24;  // base64 of 16 bytes
using WebSocketKey = std::array<char, kWebSocketKeyLength>;

// A Sec-WebSocket-Key from 16 random bytes (the RFC asks for a fresh random nonce per connection).
WebSocketKey make_websocket_key(const std::array<std::uint8_t, 16>& random) noexcept;

struct ClientUpgradeRequest {
    std::string_view host;            // the Host field: "example.com" or "127.0.0.1:9001"
    std::string_view target = "/";    // path and query
    std::string_view key;             // make_websocket_key()
    std::string_view subprotocols;    // offered, comma-separated, most preferred first; empty: none
    std::string_view extra_headers;   // whole "Name: value\r\n" lines, written as they are (Origin, Cookie, ...)
};

// Writes the GET request. Returns its length, or 0 when `out` is too small.
std::size_t write_client_upgrade_request(std::span<char> out, const ClientUpgradeRequest& request) noexcept;

struct ClientUpgradeCheck {
    bool accepted = false;
    std::string_view subprotocol;  // the server's choice (one of ours), or empty
    std::string_view why;          // when refused: a short reason for the report and the log
    bool deflate = false;          // permessage-deflate was agreed, with these parameters
    DeflateParams deflate_params{};
};

// Checks a parsed response to a request made with `key` and `offered_subprotocols`: status 101, `Upgrade:
// websocket`, `Connection: upgrade` (as a token, so proxies' lists pass), the accept key, a subprotocol only if it
// is one we offered, and no extension but a valid answer to the permessage-deflate offer made with
// `deflate_offer` (when not null): RFC 6455 4.1 says to fail on one not offered.
ClientUpgradeCheck check_upgrade_response(const HttpResponse& response, std::string_view key,
                                          std::string_view offered_subprotocols,
                                          const DeflateClientWishes* deflate_offer = nullptr) noexcept;

}  // namespace surge
