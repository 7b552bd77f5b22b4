// Hostile clients against surge::Server, on both reactor backends: each test has one client do what an attacker
// would, then checks the server's own accounting stayed within its limit and that a well-behaved client beside
// it is still served. No timed assertions: the tests wait for counts.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/frames.hpp"
#include "tests/support/running_server.hpp"
#include "tests/support/test_client.hpp"
#include "surge/ws/frame_encoder.hpp"
#include "surge/ws/server.hpp"

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
        const std::uint64_t coalesced = total(running.server(), &ShardStats::pongs_coalesced);
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
        CHECK(total(running.server(), &ShardStats::subscriptions) == 50);  // the server's own count of what it holds
        CHECK(total(running.server(), &ShardStats::subscriptions_refused) == 1950);
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
        CHECK(total(running.server(), &ShardStats::refused_per_address) == 1);
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


TEST_CASE("slow handshakes past max_handshakes_per_shard: each newcomer ends the oldest one that has taken a second") {
    constexpr int kLimit = 8;
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.threads = 1;  // one shard: every connection counts against the same limit
        config.max_handshakes_per_shard = kLimit;
        RunningServer running(backend, config);
        std::vector<std::unique_ptr<TestClient>> slow;
        for (int i = 0; i < kLimit; ++i) {
            slow.push_back(std::make_unique<TestClient>(running.port()));
            REQUIRE(slow.back()->send_raw("GET / HTTP/1.1\r\nHost: localhost\r\n"));  // and never the rest
        }
        REQUIRE(wait_for_total(running.server(), &ShardStats::handshakes, kLimit));
        // Past a second, a newcomer at the limit ends the oldest slow one (408) and is served. The next finds the
        // count under the limit (the first newcomer's handshake is done): nothing more is ended for it.
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        for (int i = 0; i < 2; ++i) {
            check_still_served(running.port());
            CHECK(total(running.server(), &ShardStats::handshakes_evicted) == 1);
            CHECK(total(running.server(), &ShardStats::handshakes) == kLimit - 1);
        }
        CHECK(slow.front()->read_to_end().rfind("HTTP/1.1 408 ", 0) == 0);
        slow.clear();
        CHECK(wait_for_total(running.server(), &ShardStats::handshakes, 0));
    }
}

TEST_CASE("a busy keep-alive connection is not taken for a slow handshake: the slow one is ended instead") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.threads = 1;
        config.max_handshakes_per_shard = 2;
        RunningServer running(backend, config);
        // The keep-alive client comes first, so it is the oldest accepted; it asks again every 100 ms.
        TestClient busy(running.port());
        REQUIRE(busy.send_raw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
        REQUIRE(busy.read_response().ends_with("ok"));
        TestClient slow(running.port());
        REQUIRE(slow.send_raw("GET / HTTP/1.1\r\nHost: localhost\r\n"));  // and never the rest
        REQUIRE(wait_for_total(running.server(), &ShardStats::handshakes, 2));
        for (int i = 0; i < 15; ++i) {  // 1.5 s: both are past the second the limit gives
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            REQUIRE(busy.send_raw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
            REQUIRE(busy.read_response().ends_with("ok"));
        }
        // A newcomer at the limit: the slow one goes (408), judged by when its request began, not the busy one.
        check_still_served(running.port());
        CHECK(slow.read_to_end().rfind("HTTP/1.1 408 ", 0) == 0);
        CHECK(total(running.server(), &ShardStats::handshakes_evicted) == 1);
        REQUIRE(busy.send_raw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
        CHECK(busy.read_response().ends_with("ok"));
    }
}

TEST_CASE("a burst of fast clients past max_handshakes_per_shard is let in whole: only slow handshakes are ended") {
    constexpr int kLimit = 8;
    constexpr int kBurst = 40;
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.threads = 1;
        config.max_handshakes_per_shard = kLimit;
        RunningServer running(backend, config);
        // All connected and counted as handshakes before any finishes its request: five times the limit at once.
        std::vector<std::unique_ptr<TestClient>> burst;
        for (int i = 0; i < kBurst; ++i) burst.push_back(std::make_unique<TestClient>(running.port()));
        REQUIRE(wait_for_total(running.server(), &ShardStats::handshakes, kBurst));
        for (auto& client : burst) CHECK(client->handshake().rfind("HTTP/1.1 101", 0) == 0);
        CHECK(total(running.server(), &ShardStats::handshakes_evicted) == 0);
        CHECK(wait_for_total(running.server(), &ShardStats::handshakes, 0));
    }
}

TEST_CASE("stalled POST bodies hold what their clients sent, not a buffer each, and give it back") {
    constexpr int kStalled = 50;
    const std::string head = "POST /echo-body HTTP/1.1\r\nHost: localhost\r\nContent-Length: 60000\r\n\r\n";
    const std::string part(100, 'b');
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.max_body_bytes = 64 * 1024;
        RunningServer running(backend, config);
        std::vector<std::unique_ptr<TestClient>> stalled;
        for (int i = 0; i < kStalled; ++i) {
            stalled.push_back(std::make_unique<TestClient>(running.port()));
            REQUIRE(stalled.back()->send_raw(head + part));  // 60,000 bytes announced, 100 sent
        }
        // The shards hold exactly the bytes sent: before, each held a 72 KiB buffer (3.6 MB for these 50).
        const std::uint64_t sent = kStalled * (head.size() + part.size());
        REQUIRE(wait_for_total(running.server(), &ShardStats::input_bytes_held, sent));
        CHECK(total(running.server(), &ShardStats::handshakes) == kStalled);
        // A whole POST beside them is answered.
        TestClient poster(running.port());
        REQUIRE(poster.send_raw(
            "POST /echo-body HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"));
        const std::string answer = poster.read_to_end();
        CHECK(answer.rfind("HTTP/1.1 200 ", 0) == 0);
        CHECK(answer.ends_with("\r\n\r\nhello"));
        // A body past max_body_bytes, sent in pieces, is refused with 413 when it crosses the limit.
        TestClient too_much(running.port());
        REQUIRE(too_much.send_raw("POST /echo-body HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"));
        for (int i = 0; i < 80; ++i) {  // 80 KiB: past the 64 KiB body limit (the refused rest is read and dropped)
            if (!too_much.send_raw("400\r\n" + std::string(1024, 'x') + "\r\n")) break;
        }
        CHECK(too_much.read_to_end().rfind("HTTP/1.1 413 ", 0) == 0);
        check_still_served(running.port());
        stalled.clear();
        CHECK(wait_for_total(running.server(), &ShardStats::handshakes, 0));
        CHECK(wait_for_total(running.server(), &ShardStats::input_bytes_held, 0));
    }
}

TEST_CASE("header floods: a head past max_header_bytes, sent whole or a line at a time, gets 431 and frees what it held") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        RunningServer running(backend);
        {
            TestClient whole(running.port());
            REQUIRE(whole.send_raw("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(20000, 'h') + "\r\n"));
            CHECK(whole.read_to_end().rfind("HTTP/1.1 431 ", 0) == 0);
        }
        {
            // Thousands of small header lines, each in its own send: the head grows by reads until its limit.
            TestClient dribbler(running.port());
            REQUIRE(dribbler.send_raw("GET / HTTP/1.1\r\nHost: localhost\r\n"));
            for (int i = 0; i < 2000; ++i) {
                if (!dribbler.send_raw("X-" + std::to_string(i) + ": v\r\n")) break;
            }
            CHECK(dribbler.read_to_end().rfind("HTTP/1.1 431 ", 0) == 0);
        }
        // What the partial heads held is given back, and a well-behaved client is served.
        CHECK(wait_for_total(running.server(), &ShardStats::input_bytes_held, 0));
        CHECK(wait_for_total(running.server(), &ShardStats::handshakes, 0));
        check_still_served(running.port());
    }
}

TEST_CASE("a keep-alive client that pipelines requests and never reads its answers is cut off, not queued for") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        RunningServer running(backend);
        TestClient flooder(running.port(), /*receive_buffer=*/4096);
        std::string batch;
        for (int i = 0; i < 1000; ++i) batch += "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
        int sent = 0;
        // 37 MB at most: past what the kernel buffers (4 MB of answers here), until the server stops reading.
        for (int i = 0; i < 1000 && flooder.send_raw(batch); ++i) sent += 1000;
        const std::string answers = flooder.read_to_end();
        int answered = 0;
        for (std::size_t at = answers.find("HTTP/1.1 200 OK"); at != std::string::npos;
             at = answers.find("HTTP/1.1 200 OK", at + 1)) {
            ++answered;
        }
        CAPTURE(sent);
        CAPTURE(answered);
        // Answered until about kMaxPipelinedOutputBytes (64 KiB) waited unread, the last saying it is the last.
        CHECK(answered > 0);
        CHECK(answered < sent);
        CHECK(answers.rfind("Connection: close") > answers.rfind("HTTP/1.1 200 OK"));
        CAPTURE(answers.substr(answers.size() > 80 ? answers.size() - 80 : 0));
        CHECK(answers.ends_with("\r\n\r\nok"));
        CHECK(wait_for_total(running.server(), &ShardStats::handshakes, 0));
        CHECK(wait_for_total(running.server(), &ShardStats::input_bytes_held, 0));
        check_still_served(running.port());
    }
}

TEST_CASE("max_connections holds across the shards: past it a new connection gets 503, and a closed one makes room") {
    constexpr int kMost = 10;
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.threads = 2;
        config.max_connections = kMost;
        RunningServer running(backend, config);
        std::vector<std::unique_ptr<TestClient>> held;
        for (int i = 0; i < kMost; ++i) {
            held.push_back(std::make_unique<TestClient>(running.port()));
            REQUIRE(held.back()->handshake().rfind("HTTP/1.1 101", 0) == 0);
        }
        TestClient one_more(running.port());
        CHECK(one_more.read_to_end().rfind("HTTP/1.1 503 ", 0) == 0);
        CHECK(total(running.server(), &ShardStats::refused_at_capacity) == 1);
        held.pop_back();
        REQUIRE(RunningServer::wait_for(running.closes, 1));
        // The slot is given back once the descriptor is closed, a moment after on_close: retry until it is.
        bool served = false;
        for (int i = 0; i < 100 && !served; ++i) {
            TestClient again(running.port());
            served = again.handshake().rfind("HTTP/1.1 101", 0) == 0;
            if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(served);
    }
}

TEST_CASE("a client that floods pings and never reads times out like a silent one: its pings are no sign of life") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        WebSocketBehavior behavior;
        behavior.idle_timeout_seconds = 1;
        RunningServer running(backend, {}, behavior);
        TestClient flooder(running.port(), 4096);
        REQUIRE(flooder.handshake().rfind("HTTP/1.1 101", 0) == 0);
        std::string burst;
        const std::string ping = frame(Opcode::Ping, std::string(125, 'p'));
        for (int i = 0; i < 500; ++i) burst += ping;
        // Keeps sending (it would re-arm the idle timer before) until the server gives up on it: a ping, then
        // a close at the next timeout. Bounded: 60 s of pings at most.
        for (int i = 0; i < 6000 && running.closes.load() == 0; ++i) {
            if (!flooder.send_raw(burst)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        REQUIRE(running.closes.load() == 1);
        CHECK(running.last_close_code.load() == close_code::kGoingAway);
        check_still_served(running.port());
    }
}
