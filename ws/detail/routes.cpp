#include "ws/detail/routes.hpp"

namespace surge::detail {

int Routes::find_websocket(std::string_view path) const noexcept {
    int wildcard = -1;
    for (std::size_t i = 0; i < websockets.size(); ++i) {
        if (websockets[i].path == path) return static_cast<int>(i);
        if (websockets[i].path == "*") wildcard = static_cast<int>(i);
    }
    return wildcard;
}

const HttpRoute* Routes::find_http(std::string_view method, std::string_view path, bool& path_known) const noexcept {
    const HttpRoute* wildcard = nullptr;
    path_known = false;
    for (const HttpRoute& route : http) {
        const bool path_match = route.path == path;
        path_known = path_known || path_match;
        if (route.method != method) continue;
        if (path_match) return &route;
        if (route.path == "*") wildcard = &route;
    }
    return wildcard;
}

}  // namespace surge::detail
