#include "tools/push/access.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "surge/ws/http_request.hpp"

namespace surge::push {

bool read_token_file(const std::string& path, std::string& token, std::string& error) {
    std::ifstream in(path);
    if (!in) {
        error = std::strerror(errno);
        return false;
    }
    std::getline(in, token);
    if (!token.empty() && token.back() == '\r') token.pop_back();
    if (token.empty()) {
        error = "its first line is empty";
        return false;
    }
    return true;
}

bool same_secret(std::string_view given, std::string_view secret) {
    // No early exit, so the time taken does not tell how much of a guess was right (only whether its length was).
    unsigned char diff = given.size() == secret.size() ? 0 : 1;
    for (std::size_t i = 0; i < given.size(); ++i) {
        diff |= static_cast<unsigned char>(given[i] ^ secret[i % secret.size()]);
    }
    return diff == 0;
}

bool parse_origin_list(std::string_view text, std::vector<std::string>& out) {
    out.clear();
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        std::string_view entry = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
        while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
        if (entry.empty()) continue;
        const std::size_t scheme = entry.find("://");
        if (entry != "*" && (scheme == std::string_view::npos || scheme == 0 || scheme + 3 == entry.size() ||
                             entry.find('/', scheme + 3) != std::string_view::npos)) {
            return false;
        }
        out.emplace_back(entry);
    }
    return !out.empty();
}

namespace {

bool listed(std::string_view origin, const std::vector<std::string>& allowed) {
    for (const std::string& entry : allowed) {
        if (entry == "*" || iequals(entry, origin)) return true;
    }
    return false;
}

// Origin is scheme://host[:port]; the page came from this server when that host[:port] is the request's Host.
bool same_origin(std::string_view origin, std::string_view host) {
    const std::size_t scheme = origin.find("://");
    return scheme != std::string_view::npos && !host.empty() && iequals(origin.substr(scheme + 3), host);
}

}  // namespace

bool may_subscribe(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed) {
    if (origin.empty() || allowed.empty()) return true;
    return listed(origin, allowed) || same_origin(origin, host);
}

bool may_publish(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed) {
    if (origin.empty()) return true;
    return listed(origin, allowed) || same_origin(origin, host);
}

}  // namespace surge::push
