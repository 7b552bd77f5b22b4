// Test support: a WebSocket route that subscribes (and resumes) and publishes on command, and the client side of
// it, and an event-stream route and its reader, for the delivery-guarantee tests (resume_test.cpp,
// broker_test.cpp).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "surge/ws/server.hpp"
#include "tests/support/test_client.hpp"

namespace surge::test {

// "sub <topic>" or "sub <topic> <since> [epoch]": subscribes with the envelope delivery and answers
// "subscribed <offset> <epoch> <recovered 0|1>" (or "refused"). "pub <topic> <text>": the connection publishes
// (it is not sent its own message) and answers "published <offset>".
inline WebSocketBehavior resume_behavior() {
    WebSocketBehavior b;
    b.max_backpressure_bytes = 64 * 1024 * 1024;  // a resume may queue much at once: none is dropped here
    b.on_message = [](WebSocket& ws, std::string_view message, Opcode) {
        std::vector<std::string> words;
        for (std::size_t at = 0; at <= message.size();) {
            const std::size_t space = std::min(message.find(' ', at), message.size());
            words.emplace_back(message.substr(at, space - at));
            at = space + 1;
        }
        if (words.size() >= 3 && words[0] == "pub") {
            const PublishResult r = ws.publish(words[1], message.substr(5 + words[1].size()), Opcode::Text);
            ws.send("published " + std::to_string(r.offset), Opcode::Text);
            return;
        }
        if (words.size() < 2 || words[0] != "sub") return;
        ws.set_delivery(Delivery::Envelope);
        SubscribeOptions options;
        if (words.size() >= 3) options.since = StreamPosition{std::stoull(words[2]), words.size() >= 4 ? words[3] : ""};
        const SubscribeResult r = ws.subscribe(words[1], options);
        if (r.status != SubscribeStatus::Subscribed) {
            ws.send("refused", Opcode::Text);
            return;
        }
        ws.send("subscribed " + std::to_string(r.offset) + " " + r.epoch + " " + (r.recovered ? "1" : "0"),
                Opcode::Text);
    };
    return b;
}

inline std::unique_ptr<TestClient> open_client(std::uint16_t port) {
    auto client = std::make_unique<TestClient>(port);
    REQUIRE(client->connected());
    REQUIRE(client->handshake().rfind("HTTP/1.1 101", 0) == 0);
    return client;
}

struct Subscribed {
    std::uint64_t offset = 0;
    std::string epoch;
    bool recovered = false;
};

// Subscribes and reads the answer; envelopes that arrive before it (history is queued before the answer) are
// kept in `early`.
inline Subscribed subscribe(TestClient& client, const std::string& command, std::vector<std::string>& early) {
    REQUIRE(client.send_frame(Opcode::Text, command));
    for (;;) {
        const ReceivedFrame frame = client.read_data_frame();
        REQUIRE(frame.ok);
        if (frame.payload.rfind("subscribed ", 0) != 0) {
            early.push_back(frame.payload);
            continue;
        }
        Subscribed s;
        const std::size_t a = frame.payload.find(' ', 11);
        s.offset = std::stoull(frame.payload.substr(11, a - 11));
        const std::size_t b = frame.payload.find(' ', a + 1);
        s.epoch = frame.payload.substr(a + 1, b - a - 1);
        s.recovered = frame.payload.substr(b + 1) == "1";
        return s;
    }
}

// The offset in an envelope {"topic":"t","offset":N,"data":"..."}.
inline std::uint64_t offset_of(const std::string& envelope) {
    const std::size_t at = envelope.find("\"offset\":");
    REQUIRE(at != std::string::npos);
    return std::stoull(envelope.substr(at + 9));
}


// An event-stream route: subscribes to the topics in ?topics=a,b from the Last-Event-ID the client sent.
inline void add_event_stream(Server& server) {
    WebSocketBehavior b;
    b.max_backpressure_bytes = 64 * 1024 * 1024;
    b.on_upgrade = [](WebSocket& ws, const Request& request) {
        std::string_view list = request.query().substr(std::string_view("topics=").size());
        while (!list.empty()) {
            const std::size_t comma = std::min(list.find(','), list.size());
            SubscribeOptions options;
            options.since_event = request.header("Last-Event-ID");
            const SubscribeResult r = ws.subscribe(list.substr(0, comma), options);
            ws.send("event: subscribed\ndata: " + std::string(list.substr(0, comma)) + " " +
                        (r.recovered ? "recovered" : "live") + "\n\n", Opcode::Text);
            list = list.substr(std::min(comma + 1, list.size()));
        }
    };
    server.event_stream("/events", b);
}

// Reads a text/event-stream until `count` events with an id have come; returns them as "id|data" lines, and the
// named events' data lines in `named`.
inline std::vector<std::string> read_events(TestClient& client, std::size_t count, std::vector<std::string>& named) {
    std::vector<std::string> events;
    std::string pending;
    while (events.size() < count) {
        std::string block = client.read_until("\n\n");
        REQUIRE_FALSE(block.empty());
        std::string id, data, name;
        std::size_t at = 0;
        while (at < block.size()) {
            const std::size_t end = block.find('\n', at);
            const std::string line = block.substr(at, end - at);
            at = end + 1;
            if (line.rfind("id: ", 0) == 0) id = line.substr(4);
            else if (line.rfind("data: ", 0) == 0) data = line.substr(6);
            else if (line.rfind("event: ", 0) == 0) name = line.substr(7);
        }
        if (!name.empty()) named.push_back(data);
        else if (!id.empty()) events.push_back(id + "|" + data);
    }
    return events;
}


}  // namespace surge::test
