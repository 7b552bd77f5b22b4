// The server side of the WebSocket opening handshake (RFC 6455 section 4.2): validate a parsed request, then
// write the 101 response or a precise refusal into caller-provided space. Layer: ws.
// Refusals: 505 for an HTTP major version other than 1; 400 for HTTP/1.0, a missing or repeated Host, a
// missing `Upgrade: websocket`, a missing Sec-WebSocket-Version, or a key that is not base64 of 16 bytes (a
// Connection header without `upgrade` is accepted: proxies rewrite it); 405 (with `Allow: GET`) for another method; 426 (with `Sec-WebSocket-Version: 13`) for
// another version; 403 when the application's origin check refuses. Tolerant where clients and proxies differ
// (see token_list.hpp); offered extensions the server does not support are ignored, never a refusal.
// The policy callbacks run synchronously inside check_upgrade(). Nothing here allocates.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "surge/core/function_ref.hpp"
#include "surge/ws/http_request.hpp"
#include "surge/ws/token_list.hpp"

namespace surge {

struct UpgradePolicy {
    // Returns false to refuse with 403. Called only for an otherwise valid request. Empty: every origin is fine.
    FunctionRef<bool(const HttpRequest&)> check_origin;
    // Picks one of the subprotocols the client offered, or returns empty for none. Called only when the client
    // offered at least one; an answer that is not among the offers is ignored.
    FunctionRef<std::string_view(const TokenList& offered)> choose_subprotocol;
};

struct UpgradeDecision {
    int status = 0;                // 101 to accept, otherwise the refusal's status
    std::string_view key;          // Sec-WebSocket-Key, with 101
    std::string_view subprotocol;  // the chosen subprotocol, or empty
    std::string_view reason;       // why it was refused: the response body and the log line
};

UpgradeDecision check_upgrade(const HttpRequest& request, const UpgradePolicy& policy = {}) noexcept;

inline constexpr std::size_t kAcceptKeyLength = 28;
// base64(SHA-1(key + the RFC's GUID)) into `out`.
void compute_accept_key(std::string_view key, char out[kAcceptKeyLength]) noexcept;

// Whether `key` is base64 of exactly 16 bytes (22 base64 characters and "==").
bool is_valid_websocket_key(std::string_view key) noexcept;

// The 101 response for an accepted decision, with `extensions` as the Sec-WebSocket-Extensions value when not
// empty. Returns the length written, or 0 when `out` is too small (kUpgradeResponseReserve always suffices for
// extensions up to 256 bytes and a subprotocol up to 256 bytes).
inline constexpr std::size_t kUpgradeResponseReserve = 768;
std::size_t write_upgrade_response(std::span<char> out, const UpgradeDecision& decision,
                                   std::string_view extensions = {}) noexcept;

// A complete refusal: status line, the headers its status calls for, `Connection: close`, and `reason` as a
// text/plain body. Returns the length written, or 0 when `out` is too small.
std::size_t write_refusal(std::span<char> out, int status, std::string_view reason) noexcept;

// "Bad Request" for 400, and so on; "Error" for a status it does not know.
std::string_view status_text(int status) noexcept;

}  // namespace surge
