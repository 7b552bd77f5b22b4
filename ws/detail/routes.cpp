#include "surge/ws/detail/routes.hpp"

namespace surge::detail {
namespace {

// How well a route's path matches: 3 exact, 2 a prefix ("/publish/*" matches "/publish/news"), 1 the catch-all
// "*", 0 not at all. The best match wins; among prefixes, the longest.
std::size_t match_rank(std::string_view route, std::string_view path) noexcept {
    if (route == path) return SIZE_MAX;
    if (route == "*") return 1;
    if (route.size() >= 2 && route.ends_with("/*") && path.starts_with(route.substr(0, route.size() - 1))) {
        return 1 + route.size();  // longer prefixes rank higher
    }
    return 0;
}

}  // namespace

int Routes::find_websocket(std::string_view path) const noexcept {
    int best = -1;
    std::size_t best_rank = 0;
    for (std::size_t i = 0; i < websockets.size(); ++i) {
        const std::size_t rank = match_rank(websockets[i].path, path);
        if (rank > best_rank) {
            best = static_cast<int>(i);
            best_rank = rank;
        }
    }
    return best;
}

const HttpRoute* Routes::find_http(std::string_view method, std::string_view path, bool& path_known) const noexcept {
    const HttpRoute* best = nullptr;
    std::size_t best_rank = 0;
    path_known = false;
    for (const HttpRoute& route : http) {
        const std::size_t rank = match_rank(route.path, path);
        // "Known" means some method serves this path specifically, so that a wrong method gets 405, not 404.
        path_known = path_known || rank > 1;
        if (route.method != method || rank <= best_rank) continue;
        best = &route;
        best_rank = rank;
    }
    return best;
}

}  // namespace surge::detail
