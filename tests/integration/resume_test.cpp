// Delivery guarantees through real sockets, on both backends: offsets per topic, the envelope, and subscribers
// that resume from a position get exactly what they missed, then the live stream, while a publisher on another
// thread keeps publishing; a position history no longer reaches, or of another epoch, is said not recovered.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "surge/ws/server.hpp"
#include "tests/support/resume_protocol.hpp"
#include "tests/support/running_server.hpp"
#include "tests/support/test_client.hpp"

using namespace surge;
using namespace surge::test;

TEST_CASE("publish numbers each topic's publications 1, 2, 3 and subscribers get envelopes that say so") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        RunningServer running(backend, {}, resume_behavior());
        auto client = open_client(running.port());
        std::vector<std::string> early;
        const Subscribed s = subscribe(*client, "sub news", early);
        CHECK(s.offset == 0);
        CHECK(s.epoch == running.server().epoch());
        CHECK(s.epoch.size() == 16);
        CHECK(early.empty());
        for (std::uint64_t n = 1; n <= 3; ++n) {
            const PublishResult r = running.server().publish("news", "n" + std::to_string(n), Opcode::Text,
                                                             std::chrono::seconds(5));
            CHECK(r == PublishStatus::Success);
            CHECK(r.offset == n);
        }
        CHECK(running.server().publish("sport", "x", Opcode::Text).offset == 1);  // offsets are per topic
        CHECK(running.server().publish("news", std::string("\x00\xff", 2), Opcode::Binary).offset == 4);
        for (int n = 1; n <= 3; ++n) {
            const ReceivedFrame f = client->read_data_frame();
            REQUIRE(f.ok);
            CHECK(f.opcode == Opcode::Text);
            CHECK(f.payload == "{\"topic\":\"news\",\"offset\":" + std::to_string(n) + ",\"data\":\"n" +
                                   std::to_string(n) + "\"}");
        }
        const ReceivedFrame binary = client->read_data_frame();
        CHECK(binary.payload == "{\"topic\":\"news\",\"offset\":4,\"data\":\"AP8=\",\"encoding\":\"base64\"}");
        const HistoryStats h = running.server().history_stats();
        CHECK(h.topics == 2);
        CHECK(h.entries == 5);
        CHECK(h.bytes > 0);
    }
}

TEST_CASE("a subscriber that resumes gets exactly what it missed, then live, while another thread publishes") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.broadcast_ring_slots = 4096;
        RunningServer running(backend, config, resume_behavior());
        constexpr std::uint64_t kTotal = 3000;
        std::atomic<std::uint64_t> published{0};
        auto first = open_client(running.port());
        std::vector<std::string> early;
        REQUIRE(subscribe(*first, "sub feed", early).offset == 0);
        std::thread publisher([&] {
            for (std::uint64_t n = 1; n <= kTotal; ++n) {
                const PublishResult r = running.server().publish("feed", "m" + std::to_string(n), Opcode::Text,
                                                                 std::chrono::seconds(10));
                if (!r.ok() || r.offset != n) return;
                published.store(n);
                if (n % 64 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
        // The first subscriber reads a while, then drops; several others resume from where it stopped, each at
        // a different moment of the stream, while the publisher goes on.
        std::uint64_t last = 0;
        for (int i = 0; i < 200; ++i) {
            const ReceivedFrame f = first->read_data_frame();
            REQUIRE(f.ok);
            CHECK(offset_of(f.payload) == last + 1);
            last = offset_of(f.payload);
        }
        first.reset();
        for (int round = 0; round < 4; ++round) {
            CAPTURE(round);
            auto again = open_client(running.port());
            std::vector<std::string> missed;
            const Subscribed s = subscribe(*again, "sub feed " + std::to_string(last) + " " +
                                                       running.server().epoch(), missed);
            CHECK(s.recovered);
            CHECK(s.offset >= last);
            // History first: everything after `last`, up to where the topic stood, in order.
            std::uint64_t expect = last + 1;
            for (const std::string& m : missed) CHECK(offset_of(m) == expect++);
            CHECK(expect == s.offset + 1);
            // Then live, with no gap and no repeat at the switch.
            const std::uint64_t until = std::min(kTotal, s.offset + 300);
            while (expect <= until) {
                const ReceivedFrame f = again->read_data_frame();
                REQUIRE(f.ok);
                REQUIRE(offset_of(f.payload) == expect);
                CHECK(f.payload.find("\"data\":\"m" + std::to_string(expect) + "\"") != std::string::npos);
                ++expect;
            }
            last = expect - 1;
        }
        publisher.join();
        CHECK(published.load() == kTotal);
    }
}

TEST_CASE("a position history no longer reaches, ahead of the topic, or of another epoch is not recovered") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.history_per_topic = 10;
        RunningServer running(backend, config, resume_behavior());
        open_client(running.port());  // the server is running once a client is served
        const std::string epoch = running.server().epoch();
        struct Case {
            std::string since;  // what follows "sub <topic> "
            bool recovered;
            std::size_t missed;
        };
        const Case cases[] = {
            {"5 " + epoch, false, 0},                // history holds 21..30: 6..20 are gone
            {"19 " + epoch, false, 0},               // 20 is gone
            {"20 " + epoch, true, 10},               // 21..30
            {"20", true, 10},                        // no epoch: taken as this run's
            {"27 0123456789abcdef", false, 0},       // another run's offsets
            {"31 " + epoch, false, 0},               // ahead of the topic: from another run
            {"30 " + epoch, true, 0},                // up to date
        };
        int index = 0;
        for (const Case& c : cases) {
            CAPTURE(c.since);
            const std::string topic = "t" + std::to_string(index++);
            for (int n = 1; n <= 30; ++n) {
                REQUIRE(running.server().publish(topic, "x", Opcode::Text, std::chrono::seconds(5)).ok());
            }
            auto client = open_client(running.port());
            std::vector<std::string> missed;
            const Subscribed s = subscribe(*client, "sub " + topic + " " + c.since, missed);
            CHECK(s.recovered == c.recovered);
            CHECK(s.offset == 30);
            CHECK(missed.size() == c.missed);
            if (!missed.empty()) CHECK(offset_of(missed.front()) == 21);
            // Recovered or not, the live stream follows from now.
            REQUIRE(running.server().publish(topic, "live", Opcode::Text, std::chrono::seconds(5)).ok());
            const ReceivedFrame live = client->read_data_frame();
            REQUIRE(live.ok);
            CHECK(offset_of(live.payload) == 31);
        }
        {
            // A topic never published: nothing was missed, from 0.
            auto client = open_client(running.port());
            std::vector<std::string> missed;
            const Subscribed s = subscribe(*client, "sub never 0 " + epoch, missed);
            CHECK(s.recovered);
            CHECK(s.offset == 0);
            CHECK(missed.empty());
        }
        CHECK(running.server().history_stats().entries <= 7 * 10);
        CHECK(running.server().history_stats().evicted >= 7 * 21);
    }
}


TEST_CASE("an event stream gets every publication as an event, and resumes every topic from its Last-Event-ID") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.address = "127.0.0.1";
        config.port = 0;
        config.backend = backend;
        config.threads = 2;
        config.pin_threads = false;
        Server server(config);
        add_event_stream(server);
        const std::uint16_t port = server.listen().value();
        std::thread serving([&] { (void)server.run(); });
        {
            TestClient first(port);
            REQUIRE(first.send_raw("GET /events?topics=a,b HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"));
            const std::string head = first.read_head();
            CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
            CHECK(head.find("Content-Type: text/event-stream\r\n") != std::string::npos);
            CHECK(first.read_until("\n\n") == "retry: 1000\n\n");
            // The head goes out once on_upgrade has subscribed: a client that has it is subscribed, so what is
            // published from now on reaches it (nothing is awaited here but the head).
            std::vector<std::string> named;
            for (int n = 1; n <= 3; ++n) {
                REQUIRE(server.publish("a", "a" + std::to_string(n), Opcode::Text, std::chrono::seconds(5)).ok());
                REQUIRE(server.publish("b", "b" + std::to_string(n), Opcode::Text, std::chrono::seconds(5)).ok());
                REQUIRE(server.publish("c", "not subscribed", Opcode::Text, std::chrono::seconds(5)).ok());
            }
            const std::vector<std::string> got = read_events(first, 6, named);
            CHECK(named == std::vector<std::string>{"a live", "b live"});
            const std::string epoch = server.epoch();
            CHECK(got[0] == epoch + ":0|{\"topic\":\"a\",\"offset\":1,\"data\":\"a1\"}");
            CHECK(got[1] == epoch + ":1|{\"topic\":\"b\",\"offset\":1,\"data\":\"b1\"}");
            CHECK(got[5] == epoch + ":7|{\"topic\":\"b\",\"offset\":3,\"data\":\"b3\"}");
            // The client drops after the event with id ...:3 (b2); more is published meanwhile.
        }
        for (int n = 4; n <= 5; ++n) {
            REQUIRE(server.publish("a", "a" + std::to_string(n), Opcode::Text, std::chrono::seconds(5)).ok());
            REQUIRE(server.publish("b", "b" + std::to_string(n), Opcode::Text, std::chrono::seconds(5)).ok());
        }
        TestClient again(port);
        REQUIRE(again.send_raw("GET /events?topics=a,b HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + server.epoch() +
                               ":4\r\n\r\n"));
        CHECK(again.read_head().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        std::vector<std::string> named;
        // After id 4 (c1 was 2, a2 3, b2 4): a3 (6), b3 (7), a4, b4, a5, b5, in the order of their ids.
        const std::vector<std::string> resumed = read_events(again, 6, named);
        CHECK(named == std::vector<std::string>{"a recovered", "b recovered"});
        std::vector<std::string> data;
        for (const std::string& e : resumed) data.push_back(e.substr(e.find("\"data\":")));
        CHECK(data == std::vector<std::string>{"\"data\":\"a3\"}", "\"data\":\"b3\"}", "\"data\":\"a4\"}",
                                               "\"data\":\"b4\"}", "\"data\":\"a5\"}", "\"data\":\"b5\"}"});
        // Then live.
        REQUIRE(server.publish("b", "b6", Opcode::Text, std::chrono::seconds(5)).ok());
        const std::vector<std::string> live = read_events(again, 1, named);
        CHECK(live[0].ends_with("{\"topic\":\"b\",\"offset\":6,\"data\":\"b6\"}"));
        // An id of another run is not recovered.
        TestClient stranger(port);
        REQUIRE(stranger.send_raw("GET /events?topics=a HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0000:1\r\n\r\n"));
        (void)stranger.read_head();
        std::vector<std::string> stranger_named;
        CHECK(stranger.read_until("\n\n") == "retry: 1000\n\n");
        CHECK(stranger.read_until("\n\n") == "event: subscribed\ndata: a live\n\n");
        stranger_named.push_back("a live");
        REQUIRE(server.publish("a", "a6", Opcode::Text, std::chrono::seconds(5)).ok());
        CHECK(read_events(stranger, 1, stranger_named)[0].ends_with("\"data\":\"a6\"}"));
        CHECK(stranger_named == std::vector<std::string>{"a live"});
        server.stop();
        serving.join();
    }
}

TEST_CASE("past max_topic_logs a new topic forgets an idle one (a new epoch if it returns), or is refused") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        {
            // Every topic keeps its history: none is idle, so a fourth is refused and nothing is forgotten.
            ServerConfig config;
            config.max_topic_logs = 3;
            RunningServer running(backend, config, resume_behavior());
            open_client(running.port());  // running
            for (const char* topic : {"t1", "t2", "t3"}) CHECK(running.server().publish(topic, "x").offset == 1);
            CHECK(running.server().publish("t4", "x") == PublishStatus::TooManyTopics);
            CHECK(running.server().publish("t1", "x").offset == 2);  // a known topic goes on
            CHECK(running.server().history_stats().topics == 3);
            CHECK(running.server().history_stats().forgotten == 0);
        }
        ServerConfig config;
        config.max_topic_logs = 3;
        config.history_per_topic = 0;  // no history: a topic nobody subscribes to is idle at once
        RunningServer running(backend, config, resume_behavior());
        auto subscriber = open_client(running.port());
        std::vector<std::string> early;
        REQUIRE(subscribe(*subscriber, "sub kept", early).offset == 0);
        CHECK(running.server().publish("kept", "k").offset == 1);
        CHECK(running.server().publish("a", "x").offset == 1);
        CHECK(running.server().publish("b", "x").offset == 1);
        // Full: each new topic forgets an idle one, never the subscribed one, which keeps its offsets.
        for (const char* topic : {"c", "d", "e"}) CHECK(running.server().publish(topic, "x").offset == 1);
        CHECK(running.server().history_stats().topics == 3);
        CHECK(running.server().history_stats().forgotten == 3);
        CHECK(running.server().publish("kept", "k").offset == 2);
        // A forgotten topic that comes back starts over in a new epoch: a position from before is not recovered.
        CHECK(running.server().publish("a", "again").offset == 1);
        auto late = open_client(running.port());
        const Subscribed s = subscribe(*late, "sub a 1 " + running.server().epoch(), early);
        CHECK_FALSE(s.recovered);
        CHECK(s.epoch.rfind(running.server().epoch() + ".", 0) == 0);
        CHECK(s.offset == 1);
    }
}

TEST_CASE("a plain subscription gets a publication made after its client saw the upgrade, even before it joined") {
    // The 101 goes out before on_upgrade subscribes: a client that publishes as soon as it sees the upgrade may
    // be numbered before the join. Only a resume skips what comes before the join; this is not one.
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        WebSocketBehavior slow_join;
        slow_join.on_upgrade = [](WebSocket& ws, const Request&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the publish below lands meanwhile
            CHECK(ws.subscribe("race", SubscribeOptions{}).status == SubscribeStatus::Subscribed);  // as surge-push
        };
        ServerConfig config;
        config.threads = 2;
        RunningServer running(backend, config, slow_join);
        TestClient client(running.port());
        REQUIRE(client.connected());
        REQUIRE(client.handshake().rfind("HTTP/1.1 101", 0) == 0);
        const PublishResult r = running.server().publish("race", "made on seeing the 101", Opcode::Text);
        REQUIRE(r.ok());
        CHECK(r.offset == 1);
        const ReceivedFrame frame = client.read_data_frame();
        REQUIRE(frame.ok);
        CHECK(frame.payload == "made on seeing the 101");
    }
}
