// permessage-deflate negotiation (RFC 7692 section 7.1): the server picks an offer from the client's
// Sec-WebSocket-Extensions and writes its answer; the client writes its offer and checks the answer. Layer: ws.
// Sans-I/O: headers in, parameters and header values out, into caller-provided space; nothing allocates.
// The server declines an offer it cannot accept (an unknown or repeated parameter, a value out of range, a
// demand for a 256-byte server window, which zlib cannot produce) and tries the next; when none is acceptable
// the connection goes on uncompressed. Other extensions are ignored, never a reason to refuse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "surge/ws/http_request.hpp"

namespace surge {

// What both ends agreed to for one connection.
struct DeflateParams {
    bool server_no_context_takeover = false;  // the server's compressor starts over at each message
    bool client_no_context_takeover = false;  // the client's compressor starts over at each message
    std::uint8_t server_max_window_bits = 15;  // the window the server compresses with, at most
    std::uint8_t client_max_window_bits = 15;  // the window the client compresses with, at most

    bool operator==(const DeflateParams&) const = default;
};

// What a server wants. The defaults cost nothing per connection: both sides compress each message alone.
struct DeflateServerWishes {
    bool server_context_takeover = false;  // false: server_no_context_takeover is always agreed
    bool client_context_takeover = false;  // false: client_no_context_takeover is always asked for
    std::uint8_t server_max_window_bits = 15;  // 9..15: the largest window the server compresses with
    std::uint8_t client_max_window_bits = 15;  // 8..15: asked of clients whose offer allows it
};

inline constexpr std::size_t kDeflateHeaderReserve = 160;  // room for any answer or offer written here

struct DeflateAgreement {
    bool accepted = false;
    DeflateParams params;
    std::size_t response_size = 0;  // of the Sec-WebSocket-Extensions value written to the caller's space
};

// Looks through every Sec-WebSocket-Extensions field of `request` for the first acceptable permessage-deflate
// offer and writes the answer into `response` (kDeflateHeaderReserve bytes). Not accepted: no offer, or none
// acceptable.
DeflateAgreement negotiate_deflate(const HttpHeaders& request, const DeflateServerWishes& wishes,
                                   std::span<char> response) noexcept;

// What a client offers.
struct DeflateClientWishes {
    bool client_no_context_takeover = false;
    bool server_no_context_takeover = false;
    std::uint8_t client_max_window_bits = 15;  // 8..15; 15 offers the parameter without a value
    std::uint8_t server_max_window_bits = 15;  // 8..15; 15 does not ask
};

// Writes the client's offer (a Sec-WebSocket-Extensions value) into `out` (kDeflateHeaderReserve bytes).
std::size_t write_deflate_offer(std::span<char> out, const DeflateClientWishes& wishes) noexcept;

enum class DeflateAnswer : std::uint8_t {
    None,      // the server did not accept the offer: the connection is uncompressed
    Accepted,  // `params` holds what was agreed
    Invalid,   // the answer breaks RFC 7692 7.1 (an unknown extension or parameter, a value the offer did not
               // allow): the client must fail the connection
};

// Reads the server's Sec-WebSocket-Extensions answer to an offer made with `wishes`.
DeflateAnswer read_deflate_answer(const HttpHeaders& response, const DeflateClientWishes& wishes,
                                  DeflateParams& params) noexcept;

}  // namespace surge
