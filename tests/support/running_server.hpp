// Test support: a surge::Server on 127.0.0.1 and a free port, run on its own thread for the length of a test,
// with counters that check the lifetime contract (every open gets exactly one close). The route echoes every
// message, except "close-me", which makes the server close with 4000.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <iterator>
#include <string_view>
#include <thread>
#include <vector>

#include "surge/net/reactor.hpp"
#include "surge/ws/server.hpp"
#include "tests/support/reactor_harness.hpp"  // test_backends()
#include "tests/support/upgrade_cases.hpp"

namespace surge::test {

class RunningServer {
public:
    std::atomic<int> opens{0};
    std::atomic<int> closes{0};
    std::atomic<int> last_close_code{0};
    std::atomic<int> messages{0};

    // `routes`: more routes of the test's own, added before the server listens.
    explicit RunningServer(net::Backend backend, ServerConfig config = {}, WebSocketBehavior behavior = {},
                           const std::function<void(Server&)>& routes = {})
        : server_(with_defaults(backend, std::move(config))) {
        if (routes) routes(server_);
        behavior.on_open = [this](WebSocket&) { opens.fetch_add(1); };
        behavior.on_close = [this](WebSocket&, std::uint16_t code, std::string_view) {
            last_close_code.store(code);
            closes.fetch_add(1);
        };
        if (!behavior.on_message) {
            behavior.on_message = [this](WebSocket& ws, std::string_view message, Opcode opcode) {
                messages.fetch_add(1);
                if (message == "close-me") ws.close(4000, "asked to");
                else if (message == "whoami") ws.send(ws.remote_address().text(), Opcode::Text);
                else ws.send(message, opcode);
            };
        }
        behavior.check_origin = [](const HttpRequest& request) { return table_origin_ok(request); };
        behavior.subprotocols.assign(std::begin(kTableSubprotocols), std::end(kTableSubprotocols));
        server_.websocket("*", std::move(behavior));
        server_.get("/health", [](const Request&, Response& response) { response.send("ok"); });
        server_.post("/echo-body", [](const Request& request, Response& response) { response.send(request.body); });
        server_.get("/whoami", [](const Request& request, Response& response) {
            response.send(request.remote_address().text());
        });
        port_ = server_.listen().value();
        thread_ = std::thread([this] { ran_ok_ = server_.run().ok(); });
    }
    ~RunningServer() { stop(); }

    std::uint16_t port() const { return port_; }
    Server& server() { return server_; }

    // Stops the server and waits for run() to return. Returns whether it returned without error.
    bool stop() {
        if (thread_.joinable()) {
            server_.stop();
            thread_.join();
        }
        return ran_ok_;
    }

    // Waits (bounded, for liveness only) until `counter` reaches `value`.
    static bool wait_for(const std::atomic<int>& counter, int value) {
        for (int i = 0; i < 1000 && counter.load() < value; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return counter.load() >= value;
    }

private:
    static ServerConfig with_defaults(net::Backend backend, ServerConfig config) {
        if (config.address == ServerConfig{}.address) config.address = "127.0.0.1";  // loopback unless told
        config.port = 0;
        config.backend = backend;
        if (config.threads == 0) config.threads = 2;
        config.pin_threads = false;
        return config;
    }

    Server server_;
    std::uint16_t port_ = 0;
    std::thread thread_;
    bool ran_ok_ = false;
};

// The sum of one counter over the server's shards.
inline std::uint64_t total(Server& server, std::uint64_t ShardStats::*field) {
    std::uint64_t sum = 0;
    for (const ShardStats& shard : server.stats()) sum += shard.*field;
    return sum;
}

// Waits (bounded, for liveness only) until the server's `field` summed over its shards equals `value`.
inline bool wait_for_total(Server& server, std::uint64_t ShardStats::*field, std::uint64_t value) {
    for (int i = 0; i < 1000 && total(server, field) != value; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return total(server, field) == value;
}

}  // namespace surge::test
