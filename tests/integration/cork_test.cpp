// The cork (ws/detail/shard.hpp): what a handler sends while one read is handled leaves in one send() at the end
// of the read, in the order it was written, whatever else writes for the connection meanwhile.
#include "surge/ws/server.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <linux/tcp.h>  // the kernel's tcp_info: glibc's lacks tcpi_segs_in
#include <sys/socket.h>

#include <string>

#include "tests/support/frames.hpp"
#include "tests/support/running_server.hpp"
#include "tests/support/test_client.hpp"

using namespace surge;
using namespace surge::test;

namespace {

constexpr std::string_view kSwitching = "HTTP/1.1 101 Switching Protocols\r\n";

// Segments the kernel has received on the client's socket so far (pure acknowledgements included).
std::uint32_t segments_in(const TestClient& client) {
    tcp_info info{};
    socklen_t length = sizeof info;
    REQUIRE(::getsockopt(client.fd(), IPPROTO_TCP, TCP_INFO, &info, &length) == 0);
    return info.tcpi_segs_in;
}

}  // namespace

TEST_CASE("the answers to many messages in one read leave together, in order") {
    constexpr int kMessages = 64;
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        RunningServer running(backend);
        TestClient client(running.port());
        REQUIRE(client.handshake("/echo").rfind(kSwitching, 0) == 0);
        std::string burst;  // one write, so one segment and one read at the server
        for (int i = 0; i < kMessages; ++i) burst += frame(Opcode::Text, "m" + std::to_string(i));
        const std::uint32_t before = segments_in(client);
        REQUIRE(client.send_raw(burst));
        for (int i = 0; i < kMessages; ++i) {
            const ReceivedFrame echo = client.read_data_frame();
            REQUIRE(echo.ok);
            CHECK(echo.payload == "m" + std::to_string(i));
        }
        // One send() for the 64 answers; a write each would have taken 64 segments. The rest is room for an
        // acknowledgement of the burst that did not ride on the answer.
        CHECK(segments_in(client) - before <= 4);
    }
}

TEST_CASE("the upgrade's answer and what on_open sends leave together") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        const auto greeting_route = [](Server& server) {
            WebSocketBehavior greeter;
            greeter.on_open = [](WebSocket& ws) {
                ws.send("hello", Opcode::Text);
                ws.send("again", Opcode::Text);
            };
            server.websocket("/greet", std::move(greeter));
        };
        RunningServer running(backend, {}, {}, greeting_route);
        TestClient client(running.port());
        REQUIRE(client.connected());
        const std::uint32_t before = segments_in(client);
        REQUIRE(client.handshake("/greet").rfind(kSwitching, 0) == 0);
        CHECK(client.read_data_frame().payload == "hello");
        CHECK(client.read_data_frame().payload == "again");
        // The 101 and both messages in one send(); one more segment would be a bare acknowledgement.
        CHECK(segments_in(client) - before <= 2);
    }
}

TEST_CASE("corked answers keep their order with a large frame, a pong, history and a close among them") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        WebSocketBehavior behavior;
        const std::string large(2000, 'L');  // past what the cork takes: it leaves on its own, after what came before
        behavior.on_message = [&large](WebSocket& ws, std::string_view message, Opcode) {
            if (message == "mix") {
                ws.send("a", Opcode::Text);
                ws.send(large, Opcode::Text);
                ws.send("b", Opcode::Text);
            } else if (message == "history") {
                ws.send("before history", Opcode::Text);
                // Replayed history is queued for the connection directly: it must come after the corked answer.
                CHECK(ws.subscribe("news", SubscribeOptions{StreamPosition{0, {}}, {}}).status ==
                      SubscribeStatus::Subscribed);
                ws.send("after history", Opcode::Text);
            } else if (message == "bye") {
                ws.send("last words", Opcode::Text);
                ws.close(1000, "done");
            } else {
                ws.send(message, Opcode::Text);
            }
        };
        RunningServer running(backend, {}, behavior);
        TestClient client(running.port());
        REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);  // the server runs: it can publish
        const PublishResult published = running.server().publish("news", "old", Opcode::Text, std::chrono::seconds(5));
        REQUIRE(published == PublishStatus::Success);

        REQUIRE(client.send_raw(frame(Opcode::Text, "x") + frame(Opcode::Text, "mix") + frame(Opcode::Ping, "p") +
                                frame(Opcode::Text, "y")));
        std::string controls;
        CHECK(client.read_data_frame(&controls).payload == "x");
        CHECK(client.read_data_frame().payload == "a");
        CHECK(client.read_data_frame().payload == large);
        CHECK(client.read_data_frame().payload == "b");
        CHECK(controls.empty());
        CHECK(client.read_data_frame(&controls).payload == "y");  // the pong came between b and y
        CHECK(controls == "10:p;");

        REQUIRE(client.send_raw(frame(Opcode::Text, "history")));
        CHECK(client.read_data_frame().payload == "before history");
        const ReceivedFrame replayed = client.read_data_frame();
        CHECK(replayed.payload.find("old") != std::string::npos);
        CHECK(client.read_data_frame().payload == "after history");

        REQUIRE(client.send_raw(frame(Opcode::Text, "z") + frame(Opcode::Text, "bye") +
                                frame(Opcode::Text, "ignored")));
        CHECK(client.read_data_frame().payload == "z");
        CHECK(client.read_data_frame().payload == "last words");
        const ReceivedFrame close = client.read_frame();
        CHECK(close.opcode == Opcode::Close);
        CHECK(close.close_code() == 1000);
        CHECK(client.send_close(1000));
        CHECK(client.at_end());
        CHECK(RunningServer::wait_for(running.closes, 1));
        CHECK(running.stop());
    }
}
