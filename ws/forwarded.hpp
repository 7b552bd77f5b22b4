// The client behind proxies: the address a request came from, read from `Forwarded` (RFC 7239) or, without it,
// `X-Forwarded-For`, but only as far as trusted proxies vouch for it. Layer: ws. Sans-I/O, unit tested.
//
// The connection's peer is where the walk starts. While the current address is a trusted proxy, the hop that
// proxy added (the list's last not yet taken) becomes the current address; the first untrusted one is the
// client. Anyone can send these headers, so an address no trusted proxy added is never taken: with no trusted
// proxies, or a peer that is not one, the peer is the client whatever the headers say. A hop that cannot be read
// ("unknown", an obfuscated "_name", garbage) ends the walk at the last address that could.
#pragma once

#include <span>

#include "surge/net/address.hpp"
#include "surge/ws/http_request.hpp"

namespace surge {

net::Endpoint forwarded_client(const net::Endpoint& peer, const HttpHeaders& request,
                               std::span<const net::AddressRange> trusted_proxies);

// One hop as written in either header: "192.0.2.7", "192.0.2.7:80", "2001:db8::1", "[2001:db8::1]:80", quoted
// or not. False for anything else.
bool parse_forwarded_hop(std::string_view text, net::Endpoint& out) noexcept;

}  // namespace surge
