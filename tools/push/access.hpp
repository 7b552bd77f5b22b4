// Who may use surge-push: the publish token (from a flag, a file or the environment, compared in constant time)
// and the origins a browser may subscribe or publish from. Layer: tools. Pure functions, unit tested.
// Requests without an Origin header (curl, backends, most non-browser clients) are not browser requests, so the
// origin rules leave them to the token.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace surge::push {

// The token in `path`: its first line, without the line end. False with `error` set when the file cannot be read
// or that line is empty.
bool read_token_file(const std::string& path, std::string& token, std::string& error);

// Whether `given` equals `secret`, in time that depends only on their lengths. `secret` is never empty.
bool same_secret(std::string_view given, std::string_view secret);

// Comma-separated origins ("https://app.example.com"), or "*" for any. False for an empty list or an entry that
// is not scheme://host[:port].
bool parse_origin_list(std::string_view text, std::vector<std::string>& out);

// The browser origin rules. `origin` is the request's Origin header ("" when it has none), `host` its Host
// header. With no list given, any page may subscribe (the feeds are public) but only surge-push's own page may
// publish (same origin), so a page elsewhere cannot publish through a visitor's browser (CSRF). With a list, both
// need an origin from it.
bool may_subscribe(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed);
bool may_publish(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed);

}  // namespace surge::push
