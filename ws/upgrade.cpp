#include "surge/ws/upgrade.hpp"

#include <cstdio>
#include <cstring>

// SHA1_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but EVP (and the one-shot SHA1(), built
// on it in 3.0) allocates on every call, which the zero-allocation handshake cannot afford.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "surge/ws/span_writer.hpp"

namespace surge {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

constexpr bool is_base64_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

UpgradeDecision refuse(int status, std::string_view reason) noexcept { return {status, {}, {}, reason}; }

}  // namespace

bool is_valid_websocket_key(std::string_view key) noexcept {
    if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
    for (std::size_t i = 0; i < 22; ++i) {
        if (!is_base64_char(key[i])) return false;
    }
    return true;
}

void compute_accept_key(std::string_view key, char out[kAcceptKeyLength]) noexcept {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA_CTX sha;
    SHA1_Init(&sha);
    SHA1_Update(&sha, key.data(), key.size());
    SHA1_Update(&sha, kWebSocketGuid.data(), kWebSocketGuid.size());
    SHA1_Final(digest, &sha);
    unsigned char encoded[kAcceptKeyLength + 1];  // EVP_EncodeBlock adds a NUL
    EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
    std::memcpy(out, encoded, kAcceptKeyLength);
}

UpgradeDecision check_upgrade(const HttpRequest& request, const UpgradePolicy& policy) noexcept {
    if (request.version_major != 1) return refuse(505, "only HTTP/1.1 can be upgraded to WebSocket");
    if (request.version_minor < 1) return refuse(400, "the WebSocket handshake needs HTTP/1.1");
    if (request.method != "GET") return refuse(405, "the WebSocket handshake is a GET request");
    if (request.count("Host") != 1) return refuse(400, "exactly one Host header is required");
    if (!TokenList(request, "Upgrade").contains("websocket")) return refuse(400, "missing Upgrade: websocket");
    // Connection: Upgrade is not required: proxies rewrite Connection (nginx sends "close" unless told otherwise)
    // and drop the token while passing Upgrade on. Upgrade: websocket with a valid key and version is unambiguous,
    // and no browser script can send either header, so accepting it opens nothing to cross-site requests.
    if (TokenList(request, "Sec-WebSocket-Version").empty()) return refuse(400, "missing Sec-WebSocket-Version");
    if (!TokenList(request, "Sec-WebSocket-Version").contains("13")) {
        return refuse(426, "unsupported Sec-WebSocket-Version: this server speaks 13");
    }
    const HttpHeader* key = request.find("Sec-WebSocket-Key");
    if (!key || request.count("Sec-WebSocket-Key") != 1 || !is_valid_websocket_key(key->value)) {
        return refuse(400, "Sec-WebSocket-Key must be base64 of 16 bytes");
    }
    if (policy.check_origin && !policy.check_origin(request)) return refuse(403, "origin not allowed");

    UpgradeDecision decision{101, key->value, {}, {}};
    const TokenList offered(request, "Sec-WebSocket-Protocol");
    if (policy.choose_subprotocol && !offered.empty()) {
        const std::string_view chosen = policy.choose_subprotocol(offered);
        // Only a protocol the client offered may be answered (RFC 6455 4.2.2); anything else is dropped.
        // The answer is kept as a view into the request, which outlives whatever the callback returned.
        offered.for_each([&](std::string_view token) {
            if (token != chosen) return true;
            decision.subprotocol = token;
            return false;
        });
    }
    return decision;
}

std::size_t write_upgrade_response(std::span<char> out, const UpgradeDecision& decision,
                                   std::string_view extensions) noexcept {
    char accept[kAcceptKeyLength];
    compute_accept_key(decision.key, accept);
    SpanWriter w(out);
    w << "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
      << std::string_view(accept, kAcceptKeyLength) << "\r\n";
    if (!decision.subprotocol.empty()) w << "Sec-WebSocket-Protocol: " << decision.subprotocol << "\r\n";
    if (!extensions.empty()) w << "Sec-WebSocket-Extensions: " << extensions << "\r\n";
    w << "\r\n";
    return w.finish();
}

std::string_view status_text(int status) noexcept {
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

std::size_t write_refusal(std::span<char> out, int status, std::string_view reason) noexcept {
    char code[4] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10), ' '};
    SpanWriter w(out);
    w << "HTTP/1.1 " << std::string_view(code, 4) << status_text(status) << "\r\n";
    if (status == 405) w << "Allow: GET\r\n";
    // Told on every refusal that concerns the version, so a client can retry with one this server speaks.
    if (status == 426 || status == 400) w << "Sec-WebSocket-Version: 13\r\n";
    if (status == 426) w << "Upgrade: websocket\r\n";
    w << "Connection: close\r\nContent-Type: text/plain\r\nContent-Length: " << reason.size() + 1 << "\r\n\r\n"
      << reason << "\n";
    return w.finish();
}

}  // namespace surge
