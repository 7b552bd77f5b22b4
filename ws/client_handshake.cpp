#include "surge/ws/client_handshake.hpp"

#include <cstring>

#include "surge/ws/span_writer.hpp"
#include "surge/ws/token_list.hpp"
#include "surge/ws/upgrade.hpp"

namespace surge {
namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool offered(std::string_view offers, std::string_view choice) noexcept {
    std::size_t pos = 0;
    while (pos < offers.size()) {
        if (next_token(offers, pos) == choice) return true;  // subprotocol names are case-sensitive
    }
    return false;
}

}  // namespace

WebSocketKey make_websocket_key(const std::array<std::uint8_t, 16>& random) noexcept {
    WebSocketKey key{};
    std::size_t out = 0;
    for (std::size_t i = 0; i < 15; i += 3) {  // five whole groups of three bytes
        const std::uint32_t v = (std::uint32_t{random[i]} << 16) | (std::uint32_t{random[i + 1]} << 8) | random[i + 2];
        key[out++] = kBase64[(v >> 18) & 63];
        key[out++] = kBase64[(v >> 12) & 63];
        key[out++] = kBase64[(v >> 6) & 63];
        key[out++] = kBase64[v & 63];
    }
    const std::uint32_t last = random[15];  // one byte left: two characters and "=="
    key[out++] = kBase64[last >> 2];
    key[out++] = kBase64[(last & 3) << 4];
    key[out++] = '=';
    key[out] = '=';
    return key;
}

std::size_t write_client_upgrade_request(std::span<char> out, const ClientUpgradeRequest& request) noexcept {
    SpanWriter w(out);
    w << "GET " << (request.target.empty() ? std::string_view{"/"} : request.target) << " HTTP/1.1\r\nHost: "
      << request.host << "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " << request.key
      << "\r\nSec-WebSocket-Version: 13\r\n";
    if (!request.subprotocols.empty()) w << "Sec-WebSocket-Protocol: " << request.subprotocols << "\r\n";
    w << request.extra_headers << "\r\n";
    return w.finish();
}

ClientUpgradeCheck check_upgrade_response(const HttpResponse& response, std::string_view key,
                                          std::string_view offered_subprotocols,
                                          const DeflateClientWishes* deflate_offer) noexcept {
    auto refuse = [](std::string_view why) { return ClientUpgradeCheck{false, {}, why}; };
    if (response.status != 101) return refuse("status is not 101");
    if (!TokenList(response, "Upgrade").contains("websocket")) return refuse("no Upgrade: websocket");
    if (!TokenList(response, "Connection").contains("upgrade")) return refuse("no Connection: upgrade");
    const HttpHeader* accept = response.find("Sec-WebSocket-Accept");
    char expected[kAcceptKeyLength];
    compute_accept_key(key, expected);
    if (!accept || accept->value != std::string_view(expected, kAcceptKeyLength) ||
        response.count("Sec-WebSocket-Accept") != 1) {
        return refuse("wrong Sec-WebSocket-Accept");
    }
    const HttpHeader* protocol = response.find("Sec-WebSocket-Protocol");
    std::string_view subprotocol;
    if (protocol) {
        if (response.count("Sec-WebSocket-Protocol") != 1 || !offered(offered_subprotocols, protocol->value)) {
            return refuse("subprotocol not offered");
        }
        subprotocol = protocol->value;
    }
    ClientUpgradeCheck agreed{true, subprotocol, {}};
    if (deflate_offer) {
        switch (read_deflate_answer(response, *deflate_offer, agreed.deflate_params)) {
        case DeflateAnswer::None: break;
        case DeflateAnswer::Accepted: agreed.deflate = true; break;
        case DeflateAnswer::Invalid: return refuse("invalid permessage-deflate answer");
        }
    } else if (!TokenList(response, "Sec-WebSocket-Extensions").empty()) {
        return refuse("extension not offered");
    }
    return agreed;
}

}  // namespace surge
