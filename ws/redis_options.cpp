// RedisOptions from a redis:// URL (ws/redis_broker.hpp): what --redis and SURGE_REDIS_URL take.
#include <charconv>
#include <string>
#include <string_view>

#include "surge/ws/redis_broker.hpp"

namespace surge {

bool RedisOptions::parse_url(std::string_view url, RedisOptions& options, std::string& why) {
    if (url.starts_with("rediss://")) {
        why = "rediss:// (TLS) is not supported: Debian 12's hiredis 0.14 has no TLS; reach Redis over a private "
              "network or a TLS tunnel and give redis://";
        return false;
    }
    if (!url.starts_with("redis://")) {
        why = "a Redis address is redis://[[user]:password@]host[:port][/database], not '" + std::string(url) + "'";
        return false;
    }
    std::string_view rest = url.substr(8);
    if (const std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
        const std::string_view credentials = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const std::size_t colon = credentials.find(':');
        if (colon == std::string_view::npos) {
            options.password = std::string(credentials);
        } else {
            options.username = std::string(credentials.substr(0, colon));
            options.password = std::string(credentials.substr(colon + 1));
        }
    }
    std::string_view database;
    if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
        database = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
    }
    std::string_view port;
    if (rest.starts_with('[')) {  // [::1]:6379
        const std::size_t close = rest.find(']');
        if (close == std::string_view::npos) {
            why = "unclosed '[' in the Redis address '" + std::string(url) + "'";
            return false;
        }
        options.host = std::string(rest.substr(1, close - 1));
        rest = rest.substr(close + 1);
        if (rest.starts_with(':')) port = rest.substr(1);
        else if (!rest.empty()) {
            why = "unexpected '" + std::string(rest) + "' after the host in '" + std::string(url) + "'";
            return false;
        }
    } else {
        const std::size_t colon = rest.rfind(':');
        options.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) port = rest.substr(colon + 1);
    }
    if (options.host.empty()) {
        why = "no host in the Redis address '" + std::string(url) + "'";
        return false;
    }
    if (!port.empty()) {
        unsigned value = 0;
        const auto parsed = std::from_chars(port.data(), port.data() + port.size(), value);
        if (parsed.ec != std::errc{} || parsed.ptr != port.data() + port.size() || value == 0 || value > 65535) {
            why = "the port in the Redis address '" + std::string(url) + "' is not 1..65535";
            return false;
        }
        options.port = static_cast<std::uint16_t>(value);
    }
    if (!database.empty()) {
        const auto parsed = std::from_chars(database.data(), database.data() + database.size(), options.database);
        if (parsed.ec != std::errc{} || parsed.ptr != database.data() + database.size()) {
            why = "the database in the Redis address '" + std::string(url) + "' is not a number";
            return false;
        }
    }
    return true;
}

}  // namespace surge
