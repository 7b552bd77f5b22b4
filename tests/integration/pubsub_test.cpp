// Topics and the broadcast ring through real sockets, on both backends: Server::publish reaches every subscriber
// on every shard in order and no one else; a connection's publish skips the sender; subscriptions end at
// unsubscribe and at close, and reused descriptors reach the new subscribers; a slow subscriber loses messages (or its connection) without costing the others any;
// a full ring refuses publishers and names the shard that lags.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/running_server.hpp"
#include "tests/support/test_client.hpp"
#include "surge/ws/server.hpp"

using namespace surge;
using namespace surge::test;

namespace {

constexpr std::string_view kSwitching = "HTTP/1.1 101 Switching Protocols\r\n";

// Commands a test client sends: "sub:<topic>", "unsub:<topic>", "pub:<topic>:<message>". Each is answered with a
// direct "ok:<command>" (or "no:<command>"), so a client knows the server has acted on it.
WebSocketBehavior command_behavior() {
    WebSocketBehavior b;
    b.on_message = [](WebSocket& ws, std::string_view message, Opcode) {
        bool ok = false;
        if (message.starts_with("sub:")) {
            ok = ws.subscribe(message.substr(4)) == SubscribeStatus::Subscribed && ws.subscribed(message.substr(4));
        } else if (message.starts_with("unsub:")) {
            ok = ws.unsubscribe(message.substr(6)) && !ws.subscribed(message.substr(6));
        } else if (message.starts_with("pub:")) {
            const std::string_view rest = message.substr(4);
            const std::size_t colon = rest.find(':');
            ok = ws.publish(rest.substr(0, colon), rest.substr(colon + 1), Opcode::Text) == PublishStatus::Success;
        }
        ws.send(std::string(ok ? "ok:" : "no:") + std::string(message), Opcode::Text);
    };
    return b;
}

std::unique_ptr<TestClient> open_client(std::uint16_t port, int receive_buffer = 0) {
    auto client = std::make_unique<TestClient>(port, receive_buffer);
    REQUIRE(client->connected());
    REQUIRE(client->handshake().rfind(kSwitching, 0) == 0);
    return client;
}

// Sends a command and checks its answer.
void command(TestClient& client, const std::string& text, bool expect_ok = true) {
    REQUIRE(client.send_frame(Opcode::Text, text));
    const ReceivedFrame answer = client.read_data_frame();
    REQUIRE(answer.ok);
    CHECK(answer.payload == (expect_ok ? "ok:" : "no:") + text);
}

std::uint64_t total(const std::vector<ShardStats>& stats, std::uint64_t ShardStats::*field) {
    std::uint64_t sum = 0;
    for (const ShardStats& s : stats) sum += s.*field;
    return sum;
}

// Publishes with a generous wait: the tests count deliveries, and a full ring is tested on its own.
void publish(Server& server, std::string_view topic, std::string_view message, Opcode opcode = Opcode::Text) {
    REQUIRE(server.publish(topic, message, opcode, std::chrono::seconds(10)) == PublishStatus::Success);
}

}  // namespace

TEST_CASE("publish reaches every subscriber on every shard, in order, and nobody else") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend, {}, command_behavior());
        std::vector<std::unique_ptr<TestClient>> news, sport;
        for (int i = 0; i < 24; ++i) {
            news.push_back(open_client(running.port()));
            command(*news.back(), "sub:news");
        }
        for (int i = 0; i < 8; ++i) {
            sport.push_back(open_client(running.port()));
            command(*sport.back(), "sub:sport");
        }
        command(*news[0], "sub:news", false);  // twice is refused
        command(*news[0], "sub:", false);      // so is an empty topic
        CHECK(running.server().subscribers("news") == 24);
        CHECK(running.server().subscribers("sport") == 8);
        CHECK(running.server().subscribers("weather") == 0);
        const std::vector<ShardStats> stats = running.server().stats();
        CHECK(stats.size() == 2);
        CHECK(total(stats, &ShardStats::subscriptions) == 32);
        CHECK(total(stats, &ShardStats::connections) == 32);
        // SO_REUSEPORT spreads 32 connections over both shards (the chance that it does not is 2^-31).
        CHECK(stats[0].connections > 0);
        CHECK(stats[1].connections > 0);

        for (int i = 0; i < 100; ++i) publish(running.server(), "news", "n" + std::to_string(i));
        publish(running.server(), "sport", "goal");
        for (auto& c : news) {
            bool in_order = true;
            for (int i = 0; i < 100; ++i) in_order = in_order && c->read_data_frame().payload == "n" + std::to_string(i);
            CHECK(in_order);
        }
        for (auto& c : sport) {
            const ReceivedFrame frame = c->read_data_frame();
            CHECK(frame.opcode == Opcode::Text);
            CHECK(frame.payload == "goal");  // the first thing it got: none of the news
        }
        CHECK(running.server().publish("", "x") == PublishStatus::Invalid);
        CHECK(running.server().publish(std::string(kMaxTopicBytes + 1, 't'), "x") == PublishStatus::Invalid);
    }
}

TEST_CASE("a connection's publish reaches the other subscribers, not itself") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend, {}, command_behavior());
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < 6; ++i) {
            clients.push_back(open_client(running.port()));
            command(*clients.back(), "sub:chat");
        }
        command(*clients[0], "pub:chat:hello");
        for (std::size_t i = 1; i < clients.size(); ++i) CHECK(clients[i]->read_data_frame().payload == "hello");
        publish(running.server(), "chat", "marker");
        CHECK(clients[0]->read_data_frame().payload == "marker");  // not "hello"
        for (std::size_t i = 1; i < clients.size(); ++i) CHECK(clients[i]->read_data_frame().payload == "marker");
    }
}

TEST_CASE("subscriptions end at unsubscribe and at close") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend, {}, command_behavior());
        auto stays = open_client(running.port());
        command(*stays, "sub:a");
        command(*stays, "sub:b");
        auto leaves = open_client(running.port());
        command(*leaves, "sub:a");
        command(*leaves, "sub:b");
        command(*leaves, "sub:c");
        CHECK(running.server().subscribers("a") == 2);
        command(*stays, "unsub:a");
        command(*stays, "unsub:a", false);  // not subscribed any more
        CHECK(running.server().subscribers("a") == 1);

        leaves.reset();  // closed without a close frame: on_close (1006), then the subscriptions go
        REQUIRE(RunningServer::wait_for(running.closes, 1));
        // on_close runs before the subscriptions are removed, one by one, on the shard's thread: wait until the
        // shard's count says all three have gone (bounded; for liveness only).
        for (int i = 0; i < 500 && total(running.server().stats(), &ShardStats::subscriptions) != 1; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(running.server().subscribers("a") == 0);
        CHECK(running.server().subscribers("b") == 1);
        CHECK(running.server().subscribers("c") == 0);
        CHECK(total(running.server().stats(), &ShardStats::subscriptions) == 1);

        publish(running.server(), "a", "nobody");
        publish(running.server(), "b", "still here");
        CHECK(stays->read_data_frame().payload == "still here");
    }
}

TEST_CASE("subscribers replaced between broadcasts, on reused descriptors, get what came after they subscribed") {
    // The io_uring backend registers a subscriber's descriptor for its batched writes: a number freed by a close
    // and taken by the next accept must reach the new socket, never the old one.
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend, {}, command_behavior());
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < 20; ++i) {
            clients.push_back(open_client(running.port()));
            command(*clients.back(), "sub:t");
        }
        publish(running.server(), "t", "first");
        for (auto& c : clients) CHECK(c->read_data_frame().payload == "first");
        for (int round = 0; round < 3; ++round) {
            for (int i = 0; i < 10; ++i) clients[static_cast<std::size_t>(i)].reset();
            REQUIRE(RunningServer::wait_for(running.closes, 10 * (round + 1)));
            for (int i = 0; i < 500 && total(running.server().stats(), &ShardStats::subscriptions) != 10; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            for (int i = 0; i < 10; ++i) {
                clients[static_cast<std::size_t>(i)] = open_client(running.port());
                command(*clients[static_cast<std::size_t>(i)], "sub:t");
            }
            CHECK(running.server().subscribers("t") == 20);
            const std::string message = "round " + std::to_string(round);
            publish(running.server(), "t", message);
            for (auto& c : clients) CHECK(c->read_data_frame().payload == message);
        }
    }
}

TEST_CASE("a fan-out over several loop turns: closes and joins on the way cost no one who stays a message") {
    // One shard, more subscribers than one turn serves (1024), and messages published faster than they go out:
    // the fan-out is under way while subscribers close (their places in the topic's vector are refilled) and
    // others join. Everyone who stays gets every message in order; a joiner gets an unbroken run to the end.
    for (net::Backend backend : test_backends()) {
        ServerConfig config;
        config.threads = 1;
        RunningServer running(backend, config, command_behavior());
        constexpr int kSubscribers = 2200, kLeavers = 600, kJoiners = 40, kMessages = 100;
        std::vector<std::unique_ptr<TestClient>> clients, joiners;
        for (int i = 0; i < kSubscribers; ++i) {
            clients.push_back(open_client(running.port()));
            command(*clients.back(), "sub:t");
        }
        for (int i = 0; i < kMessages; ++i) {
            publish(running.server(), "t", "m" + std::to_string(i));
            if (i == 30) {
                // Every third subscriber leaves, from all over the vector, while the first messages go out.
                for (int j = 0; j < kLeavers; ++j) clients[static_cast<std::size_t>(j * 3 + 1)].reset();
            }
            if (i >= 40 && i < 40 + kJoiners) {
                joiners.push_back(open_client(running.port()));
                command(*joiners.back(), "sub:t");
            }
        }
        publish(running.server(), "t", "end");
        int stayers_in_order = 0;
        for (auto& c : clients) {
            if (!c) continue;
            bool in_order = true;
            for (int i = 0; i < kMessages && in_order; ++i) in_order = c->read_data_frame().payload == "m" + std::to_string(i);
            in_order = in_order && c->read_data_frame().payload == "end";
            stayers_in_order += in_order ? 1 : 0;
        }
        CHECK(stayers_in_order == kSubscribers - kLeavers);
        int joiners_unbroken = 0;
        for (auto& c : joiners) {
            std::vector<int> got;
            for (ReceivedFrame f = c->read_data_frame(); f.ok && f.payload != "end"; f = c->read_data_frame()) {
                got.push_back(std::stoi(f.payload.substr(1)));
            }
            bool unbroken = got.empty() || got.back() == kMessages - 1;
            for (std::size_t k = 1; k < got.size(); ++k) unbroken = unbroken && got[k] == got[k - 1] + 1;
            joiners_unbroken += unbroken ? 1 : 0;
        }
        CHECK(joiners_unbroken == kJoiners);
        CHECK(running.server().subscribers("t") == static_cast<std::uint64_t>(kSubscribers - kLeavers + kJoiners));
    }
}

TEST_CASE("ring lag counts the messages a shard has taken from the ring and not yet fanned out to everyone") {
    for (net::Backend backend : test_backends()) {
        ServerConfig config;
        config.threads = 1;
        RunningServer running(backend, config, command_behavior());
        constexpr int kSubscribers = 2200;  // more than two turns' worth (1024 each)
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < kSubscribers; ++i) {
            clients.push_back(open_client(running.port()));
            command(*clients.back(), "sub:t");
        }
        // On the shard's thread: publish ten, and ask to be held at the next wake-up. The shard takes all ten
        // from the ring at once and serves at most two turns before the hold, so it is held mid-fan-out.
        std::atomic<int> held{0};
        std::atomic<bool> release{false};
        Server& server = running.server();
        REQUIRE(server.defer(0, [&] {
            for (int i = 0; i < 10; ++i) server.publish("t", "m" + std::to_string(i), Opcode::Text);
            server.defer(0, [&] {
                held = 1;
                while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            });
        }));
        REQUIRE(RunningServer::wait_for(held, 1));
        CHECK(server.stats()[0].ring_lag == 10);
        release = true;
        int in_order = 0;
        for (auto& c : clients) {
            bool ok = true;
            for (int i = 0; i < 10 && ok; ++i) ok = c->read_data_frame().payload == "m" + std::to_string(i);
            in_order += ok ? 1 : 0;
        }
        CHECK(in_order == kSubscribers);
        CHECK(server.stats()[0].ring_lag == 0);
    }
}

TEST_CASE("many publishing threads: every subscriber gets every message, in order per thread") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend, {}, command_behavior());
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < 8; ++i) {
            clients.push_back(open_client(running.port()));
            command(*clients.back(), "sub:t");
        }
        constexpr int kThreads = 4;
        constexpr int kEach = 300;
        std::vector<std::thread> publishers;
        for (int t = 0; t < kThreads; ++t) {
            publishers.emplace_back([&, t] {
                for (int i = 0; i < kEach; ++i) {
                    const std::string message = std::to_string(t) + ":" + std::to_string(i);
                    running.server().publish("t", message, Opcode::Text, std::chrono::seconds(10));
                }
            });
        }
        // Read while they publish: a subscriber that did not read would be dropped past its bound.
        for (auto& c : clients) {
            std::vector<int> next(kThreads, 0);
            bool in_order = true;
            for (int n = 0; n < kThreads * kEach; ++n) {
                const ReceivedFrame frame = c->read_data_frame();
                REQUIRE(frame.ok);
                const int t = frame.payload[0] - '0';
                in_order = in_order && t >= 0 && t < kThreads && frame.payload.substr(2) == std::to_string(next[t]);
                if (t >= 0 && t < kThreads) ++next[t];
            }
            CHECK(in_order);
        }
        for (auto& p : publishers) p.join();
        CHECK(total(running.server().stats(), &ShardStats::dropped) == 0);
    }
}

namespace {

// 200 messages of 64 KiB to three subscribers, one of which reads nothing through a small window. The publisher
// keeps pace with the two that read (at most two messages ahead of them, well inside their bound), so they are
// "within their bound" throughout and must get everything; the slow one falls behind by design.
void slow_subscriber_case(net::Backend backend, SlowPolicy policy) {
    WebSocketBehavior behavior = command_behavior();
    behavior.max_backpressure_bytes = 256 * 1024;
    behavior.slow_policy = policy;
    RunningServer running(backend, {}, behavior);
    auto slow = open_client(running.port(), 64 * 1024);
    command(*slow, "sub:feed");
    std::vector<std::unique_ptr<TestClient>> fast;
    for (int i = 0; i < 2; ++i) {
        fast.push_back(open_client(running.port()));
        command(*fast.back(), "sub:feed");
    }
    constexpr int kMessages = 200;
    std::atomic<int> read_by_fast[2] = {0, 0};
    std::atomic<bool> intact[2] = {true, true};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
        readers.emplace_back([&, r] {
            for (int i = 0; i < kMessages; ++i) {
                const ReceivedFrame frame = fast[r]->read_data_frame();
                if (!frame.ok || frame.payload != std::string(65536, static_cast<char>(i))) intact[r] = false;
                if (!frame.ok) return;
                ++read_by_fast[r];
            }
        });
    }
    // What the slow one gets is read until a frame that is not a message: the close frame, or the pong that ends
    // the drop policy's case (below).
    int previous = -1;
    bool in_order = true;
    int received = 0;
    ReceivedFrame frame;
    const auto read_slow = [&] {
        for (;;) {
            frame = slow->read_frame();
            if (!frame.ok || frame.opcode != Opcode::Binary) break;
            const int index = static_cast<unsigned char>(frame.payload[0]);
            in_order = in_order && index > previous && frame.payload == std::string(65536, frame.payload[0]);
            previous = index;
            ++received;
        }
    };
    // Under the close policy the server gives the slow one 2 s, from its decision, to take its backlog and the
    // close frame (a slow consumer that never reads must not hold them longer); it starts reading once the
    // server has decided, not once the others are done, which under a sanitizer can be later than that.
    std::thread slow_reader;
    const auto closed_slow = [&] { return total(running.server().stats(), &ShardStats::slow_closed) == 1; };
    for (int i = 0; i < kMessages; ++i) {
        for (int spin = 0; spin < 10000 && std::min(read_by_fast[0].load(), read_by_fast[1].load()) < i - 2; ++spin) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        publish(running.server(), "feed", std::string(65536, static_cast<char>(i)), Opcode::Binary);
        if (policy == SlowPolicy::Close && !slow_reader.joinable() && closed_slow()) {
            slow_reader = std::thread(read_slow);
        }
    }
    for (auto& r : readers) r.join();
    CHECK(intact[0]);  // the fast subscribers lost nothing to the slow one
    CHECK(intact[1]);
    const std::vector<ShardStats> stats = running.server().stats();
    CHECK(total(stats, &ShardStats::dropped) >= 1);

    // What the slow one did get is an in-order selection of whole messages. Under the drop policy a ping marks
    // the end: its pong is queued behind everything the server kept for this connection (control frames are
    // never dropped), so the read stops there instead of waiting for a message that may have been dropped.
    if (policy == SlowPolicy::Drop) REQUIRE(slow->send_frame(Opcode::Ping, "end"));
    if (slow_reader.joinable()) slow_reader.join();
    else read_slow();
    CHECK(in_order);
    CHECK(received >= 1);
    CHECK(received < kMessages);
    if (policy == SlowPolicy::Close) {
        CHECK(frame.opcode == Opcode::Close);
        CHECK(frame.close_code() == 1008);
        CHECK(total(running.server().stats(), &ShardStats::slow_closed) == 1);
        CHECK(RunningServer::wait_for(running.closes, 1));
        CHECK(running.last_close_code == 1008);
    } else {
        CHECK(frame.opcode == Opcode::Pong);
        CHECK(frame.payload == "end");
        CHECK(total(running.server().stats(), &ShardStats::slow_closed) == 0);
        command(*slow, "sub:other");  // still open and served
    }
}

}  // namespace

TEST_CASE("a slow subscriber under the drop policy loses messages, not the others' and not its connection") {
    for (net::Backend backend : test_backends()) slow_subscriber_case(backend, SlowPolicy::Drop);
}

TEST_CASE("a slow subscriber under the close policy is closed with 1008, the others get everything") {
    for (net::Backend backend : test_backends()) slow_subscriber_case(backend, SlowPolicy::Close);
}

TEST_CASE("a full ring refuses publishers and charges the shard that lags, it drains once the shard runs") {
    for (net::Backend backend : test_backends()) {
        ServerConfig config;
        config.broadcast_ring_slots = 4;
        RunningServer running(backend, config, command_behavior());
        auto client = open_client(running.port());
        command(*client, "sub:t");

        // Hold shard 0 in a deferred function: it cannot read the ring meanwhile.
        std::atomic<int> held{0};
        std::atomic<bool> release{false};
        REQUIRE(running.server().defer(0, [&] {
            held = 1;
            while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }));
        REQUIRE(RunningServer::wait_for(held, 1));
        int published = 0;
        while (running.server().publish("t", std::to_string(published), Opcode::Text) == PublishStatus::Success) {
            ++published;
            REQUIRE(published <= 4);
        }
        CHECK(published == 4);
        CHECK(running.server().publish("t", "late", Opcode::Text, std::chrono::milliseconds(20)) ==
              PublishStatus::Backpressure);
        const std::vector<ShardStats> stats = running.server().stats();
        CHECK(stats[0].ring_stalls >= 1);
        CHECK(stats[0].ring_lag == 4);
        release = true;
        for (int i = 0; i < 4; ++i) CHECK(client->read_data_frame().payload == std::to_string(i));
        publish(running.server(), "t", "after");
        CHECK(client->read_data_frame().payload == "after");
    }
}
