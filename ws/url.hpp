// ws:// and http:// URLs for the load tools: where to connect, and what to put in Host and the request line.
// Layer: tools. IPv4 only (loopback is where surge's benchmarks run); a name is resolved once, at start-up.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace surge {

struct Url {
    enum class Scheme : std::uint8_t { Ws, Http } scheme = Scheme::Ws;
    std::string host;     // as written, for the Host field (with ":port" when the URL gave one)
    std::string target;   // path and query, "/" when empty
    sockaddr_in address{};
};

// Parses and resolves `text`. On failure returns false and says why in `error`.
bool parse_url(std::string_view text, Url& out, std::string& error);

}  // namespace surge
