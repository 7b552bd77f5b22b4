// The server's routes, shared read-only by every shard once run() starts. Layer: ws (private).
#pragma once

#include <string>
#include <vector>

#include "surge/ws/server.hpp"

namespace surge::detail {

struct WebSocketRoute {
    std::string path;
    WebSocketBehavior behavior;
    DecoderConfig decoder;
    UserDataType data;  // size 0: the route keeps no data in its slots
    bool event_stream = false;  // Server::event_stream(): Server-Sent Events, not WebSocket
};

struct HttpRoute {
    std::string method;
    std::string path;
    HttpHandler handler;
};

struct Routes {
    std::vector<WebSocketRoute> websockets;
    std::vector<HttpRoute> http;

    // Index of the WebSocket route for `path` ("*" last), or -1.
    int find_websocket(std::string_view path) const noexcept;
    // The HTTP route for method and path ("*" last), or nullptr; `path_known` tells whether any method has it.
    const HttpRoute* find_http(std::string_view method, std::string_view path, bool& path_known) const noexcept;
};

}  // namespace surge::detail
