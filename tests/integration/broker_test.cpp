// Servers on a broker (ws/broker.hpp), on both backends: two nodes share one in-memory broker
// (tests/support/memory_broker.hpp), so publications are numbered once for the cluster, reach the subscribers of
// both nodes, and a subscriber resumes on either. Faults made on purpose: deliveries lost to a node (it notices
// the gap at the next offset and reads it from history), a lost connection (resync), history that no longer
// reaches (not recovered), the broker's data lost (a new epoch).
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "surge/ws/server.hpp"
#include "tests/support/memory_broker.hpp"
#include "tests/support/resume_protocol.hpp"
#include "tests/support/running_server.hpp"

using namespace surge;
using namespace surge::test;

namespace {

struct Node {
    std::shared_ptr<MemoryBroker> broker;
    std::unique_ptr<RunningServer> running;
};

Node make_node(MemoryBus& bus, net::Backend backend) {
    Node node;
    node.broker = std::make_shared<MemoryBroker>(bus);
    ServerConfig config;
    config.broker = node.broker;
    node.running = std::make_unique<RunningServer>(backend, config, resume_behavior(), add_event_stream);
    open_client(node.running->port());  // served: running, and publish() works from here on
    return node;
}

// Two nodes on one bus, each already serving.
struct Cluster {
    explicit Cluster(net::Backend backend) : a(make_node(bus, backend)), b(make_node(bus, backend)) {}
    MemoryBus bus;
    Node a;
    Node b;
};

PublishResult publish(Node& node, const std::string& topic, const std::string& text) {
    return node.running->server().publish(topic, text, Opcode::Text);
}

// Reads envelopes until offset `last`, checking that they come one by one from `first` with the data published.
void expect_offsets(TestClient& client, std::uint64_t first, std::uint64_t last, const std::string& data_prefix) {
    for (std::uint64_t n = first; n <= last; ++n) {
        const ReceivedFrame frame = client.read_data_frame();
        REQUIRE(frame.ok);
        REQUIRE(offset_of(frame.payload) == n);
        CHECK(frame.payload.find("\"data\":\"" + data_prefix + std::to_string(n) + "\"") != std::string::npos);
    }
}

}  // namespace

TEST_CASE("on a broker, a publish on either node is numbered once and reaches the subscribers of both") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        Cluster cluster(backend);
        Node& a = cluster.a;
        Node& b = cluster.b;
        auto on_a = open_client(a.running->port());
        auto on_b = open_client(b.running->port());
        std::vector<std::string> early;
        const Subscribed sa = subscribe(*on_a, "sub news", early);
        const Subscribed sb = subscribe(*on_b, "sub news", early);
        CHECK(sa.offset == 0);
        CHECK(sa.epoch == "epoch1");  // the broker's, not the node's own
        CHECK(sb.epoch == sa.epoch);
        for (std::uint64_t n = 1; n <= 40; ++n) {
            const PublishResult r = publish(n % 2 ? a : b, "news", "m" + std::to_string(n));
            REQUIRE(r.ok());
            CHECK(r.offset == n);
        }
        expect_offsets(*on_a, 1, 40, "m");
        expect_offsets(*on_b, 1, 40, "m");
        // A connection that publishes is not sent its own message; the others, on both nodes, are.
        auto other_on_a = open_client(a.running->port());
        subscribe(*other_on_a, "sub news", early);
        REQUIRE(on_a->send_frame(Opcode::Text, "pub news m41"));
        const ReceivedFrame answer = on_a->read_data_frame();
        REQUIRE(answer.ok);
        CHECK(answer.payload == "published 41");
        expect_offsets(*other_on_a, 41, 41, "m");
        expect_offsets(*on_b, 41, 41, "m");
        CHECK(publish(b, "news", "m42").offset == 42);
        expect_offsets(*on_a, 42, 42, "m");  // its own m41 never came
        CHECK(a.running->server().broker_stats().has_value());
    }
}

TEST_CASE("on a broker, a subscriber resumes on the other node with exactly what it missed") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        Cluster cluster(backend);
        Node& a = cluster.a;
        Node& b = cluster.b;
        auto client = open_client(a.running->port());
        std::vector<std::string> early;
        const Subscribed first = subscribe(*client, "sub feed", early);
        for (std::uint64_t n = 1; n <= 30; ++n) REQUIRE(publish(b, "feed", "f" + std::to_string(n)).ok());
        expect_offsets(*client, 1, 30, "f");
        client.reset();
        std::thread publisher([&] {
            for (std::uint64_t n = 31; n <= 300; ++n) {
                if (!publish(a, "feed", "f" + std::to_string(n)).ok()) return;
                if (n % 16 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
        // Node b has no subscriber to the topic: the first one makes it hear the topic and copy its history.
        auto again = open_client(b.running->port());
        std::vector<std::string> missed;
        const Subscribed resumed = subscribe(*again, "sub feed 30 " + first.epoch, missed);
        CHECK(resumed.recovered);
        CHECK(resumed.epoch == first.epoch);
        std::uint64_t expect = 31;
        for (const std::string& m : missed) REQUIRE(offset_of(m) == expect++);
        CHECK(expect == resumed.offset + 1);
        publisher.join();
        expect_offsets(*again, expect, 300, "f");
    }
}

TEST_CASE("on a broker, a node that missed deliveries fills the gap from history, or says it cannot") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        Cluster cluster(backend);
        MemoryBus& bus = cluster.bus;
        Node& a = cluster.a;
        Node& b = cluster.b;
        auto client = open_client(a.running->port());
        std::vector<std::string> early;
        const Subscribed s = subscribe(*client, "sub gaps", early);
        // Three deliveries never reach node a: the fourth shows the gap, which history fills, in order.
        a.broker->lose_next(3);
        for (std::uint64_t n = 1; n <= 10; ++n) REQUIRE(publish(b, "gaps", "g" + std::to_string(n)).ok());
        expect_offsets(*client, 1, 10, "g");
        // Lost with no later delivery to show it: the connection "comes back", and resync() reads what is missing.
        a.broker->lose_next(2);
        REQUIRE(publish(b, "gaps", "g11").ok());
        REQUIRE(publish(b, "gaps", "g12").ok());
        a.broker->reconnect();
        expect_offsets(*client, 11, 12, "g");
        // The broker keeps 5: a gap of 8 cannot be filled. The node goes on from what comes, and a resume from
        // before the hole is not recovered.
        bus.set_keep(5);
        a.broker->lose_next(8);
        for (std::uint64_t n = 13; n <= 21; ++n) REQUIRE(publish(b, "gaps", "g" + std::to_string(n)).ok());
        std::uint64_t first_after = 0;
        for (;;) {
            const ReceivedFrame frame = client->read_data_frame();
            REQUIRE(frame.ok);
            first_after = offset_of(frame.payload);
            if (first_after == 21) break;
            CHECK(first_after >= 17);  // what history still had: 17..20
        }
        auto late = open_client(a.running->port());
        std::vector<std::string> missed;
        const Subscribed from_hole = subscribe(*late, "sub gaps 12 " + s.epoch, missed);
        CHECK_FALSE(from_hole.recovered);
        CHECK(from_hole.offset == 21);
    }
}

TEST_CASE("on a broker that lost its data, offsets start again in a new epoch and old positions are not recovered") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        Cluster cluster(backend);
        MemoryBus& bus = cluster.bus;
        Node& a = cluster.a;
        Node& b = cluster.b;
        auto client = open_client(a.running->port());
        std::vector<std::string> early;
        const Subscribed before = subscribe(*client, "sub reset", early);
        for (std::uint64_t n = 1; n <= 5; ++n) REQUIRE(publish(b, "reset", "r" + std::to_string(n)).ok());
        expect_offsets(*client, 1, 5, "r");
        bus.lose_everything();
        CHECK(publish(b, "reset", "r1").offset == 1);
        // The new epoch's first, to the subscriber that stayed: its envelope says the epoch changed.
        const ReceivedFrame first = client->read_data_frame();
        REQUIRE(first.ok);
        CHECK(offset_of(first.payload) == 1);
        CHECK(first.payload.find("\"epoch\":\"epoch") != std::string::npos);
        CHECK(first.payload.find("\"epoch\":\"" + before.epoch + "\"") == std::string::npos);
        CHECK(publish(b, "reset", "r2").offset == 2);
        const ReceivedFrame second = client->read_data_frame();
        REQUIRE(second.ok);
        CHECK(second.payload.find("\"epoch\"") == std::string::npos);  // said once
        auto resumer = open_client(a.running->port());
        std::vector<std::string> missed;
        const Subscribed after = subscribe(*resumer, "sub reset 5 " + before.epoch, missed);
        CHECK_FALSE(after.recovered);
        CHECK(after.epoch != before.epoch);
        CHECK(after.offset == 2);
        CHECK(missed.empty());
    }
}

TEST_CASE("on a broker, an event stream resumes its topic on the other node from Last-Event-ID") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        Cluster cluster(backend);
        std::string last_id;
        {
            TestClient first(cluster.a.running->port());
            REQUIRE(first.send_raw("GET /events?topics=feed HTTP/1.1\r\nHost: x\r\n\r\n"));
            REQUIRE(first.read_head().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
            CHECK(first.read_until("\n\n") == "retry: 1000\n\n");
            std::vector<std::string> named;
            for (int n = 1; n <= 5; ++n) REQUIRE(publish(cluster.b, "feed", "e" + std::to_string(n)).ok());
            const std::vector<std::string> got = read_events(first, 5, named);
            CHECK(named == std::vector<std::string>{"feed live"});
            // The id names the topic's position, which every node knows: "<epoch>:<offset>~<tag>".
            last_id = got.back().substr(0, got.back().find('|'));
            CHECK(last_id.find(":5~") != std::string::npos);
        }
        for (int n = 6; n <= 8; ++n) REQUIRE(publish(cluster.b, "feed", "e" + std::to_string(n)).ok());
        // On the other node, which has never had the topic: exactly 6..8, then live.
        TestClient again(cluster.b.running->port());
        REQUIRE(again.send_raw("GET /events?topics=feed,other HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + last_id +
                               "\r\n\r\n"));
        REQUIRE(again.read_head().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(again.read_until("\n\n") == "retry: 1000\n\n");
        std::vector<std::string> named;
        std::vector<std::string> resumed = read_events(again, 3, named);
        // The id was feed's: the stream's other topic cannot know where it stood, and says so.
        CHECK(named == std::vector<std::string>{"feed recovered", "other live"});
        REQUIRE(publish(cluster.a, "feed", "e9").ok());
        resumed.push_back(read_events(again, 1, named).front());
        for (std::size_t i = 0; i < resumed.size(); ++i) {
            CAPTURE(resumed[i]);
            CHECK(resumed[i].find(":" + std::to_string(6 + i) + "~") != std::string::npos);
            CHECK(resumed[i].ends_with("\"data\":\"e" + std::to_string(6 + i) + "\"}"));
        }
    }
}
