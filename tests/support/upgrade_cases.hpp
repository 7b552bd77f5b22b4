// Test support: the table of opening-handshake requests (valid and invalid) with the status and response
// headers each must get, and the policy (origin check, subprotocol choice) the table assumes. Used by the
// parser-level table test and, over real sockets, by the server's integration test.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surge/ws/upgrade.hpp"

namespace surge::test {

struct Case {
    const char* name;
    std::string request;
    int status;
    std::vector<std::string> present;  // substrings the response must contain
    std::vector<std::string> absent;   // and must not
};

// The RFC 6455 section 1.3 request, with `replace` lines swapped in by header name (an empty value drops it).
inline std::string rfc_request(std::vector<std::pair<std::string, std::string>> replace = {},
                        std::string request_line = "GET /chat HTTP/1.1", std::string extra = {}) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Host", "server.example.com"},
        {"Upgrade", "websocket"},
        {"Connection", "Upgrade"},
        {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
        {"Origin", "http://example.com"},
        {"Sec-WebSocket-Protocol", "chat, superchat"},
        {"Sec-WebSocket-Version", "13"},
    };
    for (const auto& [name, value] : replace) {
        bool found = false;
        for (auto& header : headers) {
            if (header.first == name) {
                header.second = value;
                found = true;
            }
        }
        if (!found) headers.emplace_back(name, value);
    }
    std::string out = request_line + "\r\n";
    for (const auto& [name, value] : headers) {
        if (value != "<drop>") out += name + ": " + value + "\r\n";
    }
    return out + extra + "\r\n";
}

inline const std::string kAccept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
inline const std::string kNoProtocol = "Sec-WebSocket-Protocol";
inline const std::string kNoExtensions = "Sec-WebSocket-Extensions";

inline std::vector<Case> upgrade_cases() {
    std::string many_headers;
    for (int i = 0; i < 70; ++i) many_headers += "X-Filler-" + std::to_string(i) + ": v\r\n";
    return {
        // Accepted.
        {"RFC 6455 example", rfc_request(), 101,
         {"HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n", kAccept},
         {kNoExtensions}},
        {"lower-case header names",
         "GET /chat HTTP/1.1\r\nhost: h\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
         "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
         101, {kAccept}, {}},
        {"upper-case header names and tokens",
         "GET /chat HTTP/1.1\r\nHOST: h\r\nUPGRADE: WEBSOCKET\r\nCONNECTION: UPGRADE\r\n"
         "SEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n",
         101, {kAccept}, {}},
        {"Connection as a list", rfc_request({{"Connection", "keep-alive, Upgrade"}}), 101, {kAccept}, {}},
        {"Connection token in stray quotes", rfc_request({{"Connection", "\"upgrade\""}}), 101, {kAccept}, {}},
        {"Connection list wrapped in quotes", rfc_request({{"Connection", "\"keep-alive, Upgrade\""}}), 101,
         {kAccept}, {}},
        {"Connection with odd spacing", rfc_request({{"Connection", "keep-alive ,\tUpgrade ,"}}), 101, {kAccept},
         {}},
        {"Connection repeated, merged", rfc_request({{"Connection", "keep-alive"}}, "GET /chat HTTP/1.1",
                                                    "Connection: Upgrade\r\n"),
         101, {kAccept}, {}},
        {"Upgrade mixed case", rfc_request({{"Upgrade", "WebSocket"}}), 101, {kAccept}, {}},
        {"Upgrade as a list", rfc_request({{"Upgrade", "h2c, websocket"}}), 101, {kAccept}, {}},
        {"values padded with spaces and tabs",
         rfc_request({{"Sec-WebSocket-Key", " \tdGhlIHNhbXBsZSBub25jZQ==\t "}, {"Sec-WebSocket-Version", "  13 "}}),
         101, {kAccept}, {}},
        {"unknown extension offered is ignored", rfc_request({{"Sec-WebSocket-Extensions", "x-webkit-deflate-frame"}}),
         101, {kAccept}, {kNoExtensions}},
        {"permessage-deflate offered, not negotiated yet",
         rfc_request({{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"}}), 101, {kAccept},
         {kNoExtensions}},
        {"malformed extension header is ignored", rfc_request({{"Sec-WebSocket-Extensions", ";;=,\"x"}}), 101,
         {kAccept}, {kNoExtensions}},
        {"bare LF line endings",
         "GET /chat HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n",
         101, {kAccept}, {}},
        {"leading empty line", "\r\n" + rfc_request(), 101, {kAccept}, {}},
        {"target with a query", rfc_request({}, "GET /ws?topics=a,b HTTP/1.1"), 101, {kAccept}, {}},
        {"absolute-form target", rfc_request({}, "GET http://server.example.com/chat HTTP/1.1"), 101, {kAccept},
         {}},
        {"HTTP/1.2 is still HTTP/1.x", rfc_request({}, "GET /chat HTTP/1.2"), 101, {kAccept}, {}},
        {"UTF-8 in an unrelated header", rfc_request({{"User-Agent", "na\xc3\xafve/1.0"}}), 101, {kAccept}, {}},
        {"no Origin at all (non-browser client)", rfc_request({{"Origin", "<drop>"}}), 101, {kAccept}, {}},
        {"version listed with others", rfc_request({{"Sec-WebSocket-Version", "13, 8"}}), 101, {kAccept}, {}},
        {"subprotocol chosen from the offer", rfc_request({{"Sec-WebSocket-Protocol", "superchat, chat"}}), 101,
         {kAccept, "Sec-WebSocket-Protocol: chat\r\n"}, {}},
        {"subprotocol offered in repeated headers",
         rfc_request({{"Sec-WebSocket-Protocol", "v1.json"}}, "GET /chat HTTP/1.1",
                     "Sec-WebSocket-Protocol: chat\r\n"),
         101, {"Sec-WebSocket-Protocol: chat\r\n"}, {}},
        {"no acceptable subprotocol: accepted without one", rfc_request({{"Sec-WebSocket-Protocol", "mqtt"}}), 101,
         {kAccept}, {kNoProtocol}},
        {"chooser answering what was not offered is ignored", rfc_request({{"Sec-WebSocket-Protocol", "evil"}}),
         101, {kAccept}, {kNoProtocol}},
        // A proxy that rewrites Connection (nginx without `proxy_set_header Connection`, sending "close") still gets
        // through: Upgrade: websocket with a valid key and version says what the client wants.
        {"Connection rewritten to close by a proxy", rfc_request({{"Connection", "close"}}), 101, {kAccept}, {}},
        {"Connection rewritten to keep-alive", rfc_request({{"Connection", "keep-alive"}}), 101, {kAccept}, {}},
        {"Connection dropped by a proxy", rfc_request({{"Connection", "<drop>"}}), 101, {kAccept}, {}},
        {"Connection token only contains the word", rfc_request({{"Connection", "upgraded"}}), 101, {kAccept}, {}},

        // Refused.
        {"POST", rfc_request({}, "POST /chat HTTP/1.1"), 405, {"405 Method Not Allowed", "Allow: GET\r\n"}, {}},
        {"HEAD", rfc_request({}, "HEAD /chat HTTP/1.1"), 405, {"Allow: GET\r\n"}, {}},
        {"lower-case get (methods are case-sensitive)", rfc_request({}, "get /chat HTTP/1.1"), 405, {}, {}},
        {"HTTP/1.0", rfc_request({}, "GET /chat HTTP/1.0"), 400, {"400 Bad Request"}, {}},
        {"HTTP/2.0 in a text request line", rfc_request({}, "GET /chat HTTP/2.0"), 505, {}, {}},
        {"missing Host", rfc_request({{"Host", "<drop>"}}), 400, {}, {}},
        {"two Host headers", rfc_request({}, "GET /chat HTTP/1.1", "Host: other.example\r\n"), 400, {}, {}},
        {"missing Upgrade", rfc_request({{"Upgrade", "<drop>"}}), 400, {}, {}},
        {"Upgrade to something else", rfc_request({{"Upgrade", "h2c"}}), 400, {}, {}},
        {"missing Sec-WebSocket-Version", rfc_request({{"Sec-WebSocket-Version", "<drop>"}}), 400,
         {"Sec-WebSocket-Version: 13\r\n"}, {}},
        {"version 8", rfc_request({{"Sec-WebSocket-Version", "8"}}), 426,
         {"426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n"}, {}},
        {"version 14", rfc_request({{"Sec-WebSocket-Version", "14"}}), 426, {"Sec-WebSocket-Version: 13\r\n"}, {}},
        {"missing key", rfc_request({{"Sec-WebSocket-Key", "<drop>"}}), 400, {}, {}},
        {"empty key", rfc_request({{"Sec-WebSocket-Key", ""}}), 400, {}, {}},
        {"key of 15 bytes", rfc_request({{"Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA"}}), 400, {}, {}},
        {"key of 17 bytes", rfc_request({{"Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA="}}), 400, {}, {}},
        {"key without padding", rfc_request({{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ"}}), 400, {}, {}},
        {"key with a character outside base64", rfc_request({{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZ!=="}}),
         400, {}, {}},
        {"two keys", rfc_request({}, "GET /chat HTTP/1.1", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"),
         400, {}, {}},
        {"origin refused by the application", rfc_request({{"Origin", "http://evil.example"}}), 403,
         {"403 Forbidden"}, {}},
        {"header line without a colon", rfc_request({}, "GET /chat HTTP/1.1", "Not a header\r\n"), 400, {}, {}},
        {"space before the colon", rfc_request({}, "GET /chat HTTP/1.1", "X-Bad : v\r\n"), 400, {}, {}},
        {"obsolete line folding", rfc_request({}, "GET /chat HTTP/1.1", "X-Fold: a\r\n b\r\n"), 400, {}, {}},
        {"control character in a value", rfc_request({{"X-Ctl", std::string("a\x07z")}}), 400, {}, {}},
        {"NUL in a value", rfc_request({{"X-Nul", std::string("a\0z", 3)}}), 400, {}, {}},
        {"garbage request line", "GARBAGE\r\n\r\n", 400, {}, {}},
        {"request line without a version", rfc_request({}, "GET /chat"), 400, {}, {}},
        {"head over 8 KiB", rfc_request({{"X-Big", std::string(9000, 'b')}}), 431,
         {"431 Request Header Fields Too Large"}, {}},
        {"more than 64 fields", rfc_request({}, "GET /chat HTTP/1.1", many_headers), 431, {}, {}},
    };
}

// The origin check and subprotocol choice the table expects, as plain functions so that a server route can
// use them too.
inline bool table_origin_ok(const HttpRequest& request) {
    const HttpHeader* origin = request.find("Origin");
    return !origin || origin->value != "http://evil.example";
}
// The subprotocols the table's server speaks, most preferred first.
inline constexpr std::string_view kTableSubprotocols[] = {"chat", "evil-choice"};

inline std::string_view table_choose_subprotocol(const TokenList& offered) {
    for (std::string_view wanted : kTableSubprotocols) {
        if (offered.contains(wanted)) return wanted;
    }
    return offered.contains("evil") ? std::string_view("not-offered") : std::string_view{};
}

inline UpgradePolicy table_policy() {
    static auto origin_ok = [](const HttpRequest& request) { return table_origin_ok(request); };
    static auto choose = [](const TokenList& offered) { return table_choose_subprotocol(offered); };
    UpgradePolicy policy;
    policy.check_origin = origin_ok;
    policy.choose_subprotocol = choose;
    return policy;
}

}  // namespace surge::test
