// Hostile clients against surge::Server, on both reactor backends: each test has one client do what an attacker
// would, then checks the server's own accounting stayed within its limit and that a well-behaved client beside
// it is still served. No timed assertions: the tests wait for counts.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/frames.hpp"
#include "tests/support/running_server.hpp"
#include "tests/support/test_client.hpp"
#include "ws/frame_encoder.hpp"
#include "ws/server.hpp"

using namespace surge;
using namespace surge::test;

namespace {

// A well-behaved client on the same server (from `source`, a loopback address, when given): upgrades, sends one
// message and gets its echo.
void check_still_served_from(std::uint16_t port, const char* source) {
    TestClient good(port, 0, source);
    REQUIRE(good.handshake().rfind("HTTP/1.1 101", 0) == 0);
    CHECK(good.send_frame(Opcode::Text, "still here?"));
    const ReceivedFrame echo = good.read_data_frame();
    REQUIRE(echo.ok);
    CHECK(echo.payload == "still here?");
}

void check_still_served(std::uint16_t port) { check_still_served_from(port, nullptr); }

}  // namespace

TEST_CASE("a ping flood from a client that never reads holds one queued pong, not one per ping") {
    constexpr int kPings = 50'000;  // 6.5 MB of pings: the old queue grew by a 127-byte pong for each
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        std::atomic<int> pings{0};
        std::atomic<std::size_t> most_queued{0};
        WebSocketBehavior behavior;
        behavior.on_ping = [&](WebSocket& ws, std::string_view) {
            pings.fetch_add(1);
            std::size_t seen = most_queued.load();
            while (ws.buffered_amount() > seen && !most_queued.compare_exchange_weak(seen, ws.buffered_amount())) {
            }
        };
        RunningServer running(backend, {}, behavior);
        TestClient flooder(running.port(), 4096);  // reads nothing after the upgrade: the pongs back up at once
        REQUIRE(flooder.handshake().rfind("HTTP/1.1 101", 0) == 0);
        std::string burst;
        const std::string ping = frame(Opcode::Ping, std::string(125, 'p'));
        for (int i = 0; i < 1000; ++i) burst += ping;
        for (int sent = 0; sent < kPings; sent += 1000) REQUIRE(flooder.send_raw(burst));
        REQUIRE(RunningServer::wait_for(pings, kPings));
        // One pong waits at most, behind what the socket refused: the connection's queue stays tiny.
        CHECK(most_queued.load() <= 2 * kMaxControlFrameBytes);
        std::uint64_t coalesced = 0;
        for (const ShardStats& shard : running.server().stats()) coalesced += shard.pongs_coalesced;
        CHECK(coalesced > 0);
        CHECK(coalesced < static_cast<std::uint64_t>(kPings));
        check_still_served(running.port());
    }
}

TEST_CASE("a subscription flood stops at the route's max_subscriptions, counted, and others still subscribe") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        WebSocketBehavior behavior;
        behavior.max_subscriptions = 50;
        behavior.on_message = [](WebSocket& ws, std::string_view topic, Opcode) {
            const SubscribeStatus status = ws.subscribe(topic);
            const char* answer = status == SubscribeStatus::Subscribed ? "ok"
                                 : status == SubscribeStatus::TooMany  ? "too many"
                                                                       : "no";
            ws.send(answer, Opcode::Text);
        };
        RunningServer running(backend, {}, behavior);
        TestClient flooder(running.port());
        REQUIRE(flooder.handshake().rfind("HTTP/1.1 101", 0) == 0);
        int subscribed = 0, refused = 0;
        for (int i = 0; i < 2000; ++i) {
            REQUIRE(flooder.send_frame(Opcode::Text, "topic-" + std::to_string(i) + std::string(900, 'x')));
            const ReceivedFrame answer = flooder.read_data_frame();
            REQUIRE(answer.ok);
            subscribed += answer.payload == "ok";
            refused += answer.payload == "too many";
        }
        CHECK(subscribed == 50);
        CHECK(refused == 1950);
        std::uint64_t held = 0, counted = 0;
        for (const ShardStats& shard : running.server().stats()) {
            held += shard.subscriptions;
            counted += shard.subscriptions_refused;
        }
        CHECK(held == 50);  // the server's own count of what it holds
        CHECK(counted == 1950);
        TestClient good(running.port());
        REQUIRE(good.handshake().rfind("HTTP/1.1 101", 0) == 0);
        CHECK(good.send_frame(Opcode::Text, "topic-0"));
        const ReceivedFrame answer = good.read_data_frame();
        REQUIRE(answer.ok);
        CHECK(answer.payload == "ok");
    }
}

TEST_CASE("a second server on a port another one serves fails to listen instead of joining it") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        RunningServer first(backend);
        ServerConfig config;
        config.port = first.port();
        config.address = "127.0.0.1";
        config.backend = backend;
        config.threads = 1;
        Server second(config);
        const Result<std::uint16_t> listening = second.listen();
        REQUIRE_FALSE(listening);
        CHECK(listening.error() == std::errc::address_in_use);
        {
            config.exclusive_port = false;  // processes meant to share the port (--workers) may
            Server sharing(config);
            CHECK(sharing.listen());
        }  // gone before the next client, which it would otherwise take half the time and never serve
        check_still_served(first.port());
    }
}

TEST_CASE("one address cannot take every slot: past max_connections_per_address it gets 429, others still connect") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.max_connections_per_address = 20;
        RunningServer running(backend, config);
        std::vector<std::unique_ptr<TestClient>> held;
        for (int i = 0; i < 20; ++i) {
            held.push_back(std::make_unique<TestClient>(running.port()));
            REQUIRE(held.back()->handshake().rfind("HTTP/1.1 101", 0) == 0);
        }
        TestClient one_more(running.port());
        CHECK(one_more.read_to_end().rfind("HTTP/1.1 429 ", 0) == 0);
        std::uint64_t refused = 0;
        for (const ShardStats& shard : running.server().stats()) refused += shard.refused_per_address;
        CHECK(refused == 1);
        // Another address is not affected.
        TestClient elsewhere(running.port(), 0, "127.0.0.2");
        REQUIRE(elsewhere.handshake().rfind("HTTP/1.1 101", 0) == 0);
        // Connections that end, by a reset among them, give their places back.
        for (int i = 0; i < 5; ++i) {
            if (i == 0) {
                const linger rst{1, 0};
                ::setsockopt(held.back()->fd(), SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
            }
            held.pop_back();
        }
        REQUIRE(RunningServer::wait_for(running.closes, 5));
        for (int i = 0; i < 5; ++i) {
            held.push_back(std::make_unique<TestClient>(running.port()));
            REQUIRE(held.back()->handshake().rfind("HTTP/1.1 101", 0) == 0);
        }
        check_still_served_from(running.port(), "127.0.0.3");
    }
}
