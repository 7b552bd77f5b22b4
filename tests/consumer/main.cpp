// A program of surge's user: a server on a port the kernel picks, and a client of the same library that sends
// one message and expects it back. It prints the version it was built against and exits 0 when the echo came.
// Its own directories are named as surge's are (core/, net/, ws/): the <surge/...> prefix keeps them apart.
#include <surge/version.hpp>
#include <surge/ws/client.hpp>
#include <surge/ws/server.hpp>
#include <surge/ws/url.hpp>

#include "core/log.hpp"  // the project's own core/log.hpp, beside surge's

#include <cstdio>
#include <string>
#include <thread>

int main() {
    surge::Server server({.address = "127.0.0.1", .port = 0, .threads = 1});
    server.websocket("/echo", {
        .on_message = [](surge::WebSocket& ws, std::string_view message, surge::Opcode op) { ws.send(message, op); },
    });
    auto port = server.listen();
    if (!port.ok()) {
        std::fprintf(stderr, "listen: %s\n", port.error().message().c_str());
        return 1;
    }
    std::thread serving([&] { (void)server.run(); });

    std::string error;
    surge::Url url;
    if (!surge::parse_url("ws://127.0.0.1:" + std::to_string(port.value()) + "/echo", url, error)) {
        std::fprintf(stderr, "url: %s\n", error.c_str());
        return 1;
    }
    std::string echoed;
    bool done = false;
    surge::Client client({
        .on_open = [](surge::ClientWebSocket& ws) { ws.send(app::kGreeting, surge::Opcode::Text); },
        .on_message = [&](surge::ClientWebSocket& ws, std::string_view message, surge::Opcode) {
            echoed = message;
            ws.close();
        },
        .on_close = [&](surge::ClientWebSocket&, std::uint16_t, std::string_view) { done = true; },
        .on_connect_failed = [&](surge::ClientWebSocket&, surge::ClientFailure, int) { done = true; },
    }, {});
    client.connect(url);
    for (int turns = 0; !done && turns < 100; ++turns) client.poll(50);

    server.stop();
    serving.join();
    std::printf("surge %.*s: echoed '%s'\n", static_cast<int>(surge::kVersion.size()), surge::kVersion.data(),
                echoed.c_str());
    return echoed == app::kGreeting ? 0 : 1;
}
