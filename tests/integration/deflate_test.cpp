// permessage-deflate through real sockets, on both backends: the upgrade answers the offer; compressed messages,
// whole or fragmented, arrive inflated and go back compressed (short ones as they are); a zip bomb gets 1009,
// corrupt data and invalid UTF-8 inside compressed text get 1007, RSV1 without the extension gets 1002; a
// broadcast is compressed once, by the publisher, with the smallest window any subscriber agreed to; and a
// connection with its own compressor stays decodable when broadcast frames come between its own messages.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/running_server.hpp"
#include "tests/support/test_client.hpp"
#include "surge/ws/deflate.hpp"
#include "surge/ws/server.hpp"

using namespace surge;
using namespace surge::test;

namespace {

constexpr std::string_view kOffer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

std::string compress(std::string_view message, int bits = 15) {
    Deflater deflater;
    REQUIRE(deflater.init(6, bits, 8));
    ByteBuffer out;
    REQUIRE(deflater.compress(message, out, false));
    return std::string(out.view());
}

// A client's view of the server's compressed stream: one decompressor for the connection, keeping its window
// unless the server agreed not to need it.
struct ClientInflater {
    Inflater inflater;
    bool keep_context;
    explicit ClientInflater(bool keep) : keep_context(keep) { REQUIRE(inflater.init()); }
    std::string operator()(const ReceivedFrame& frame) {
        if (!frame.rsv1) return frame.payload;
        ByteBuffer out;
        REQUIRE(inflater.inflate({frame.payload.data(), frame.payload.size()}, out, 64 << 20, keep_context) ==
                InflateStatus::Ok);
        return std::string(out.view());
    }
};

std::string long_text(int seed) {
    std::string text;
    for (int i = 0; text.size() < 3000; ++i) text += "tick " + std::to_string(seed * 1000 + i % 50) + " price 42.5; ";
    return text;
}

WebSocketBehavior deflate_behavior(bool dedicated = false) {
    WebSocketBehavior b;
    b.deflate.enabled = true;
    b.deflate.dedicated_compressor = b.deflate.dedicated_decompressor = dedicated;
    b.max_message_bytes = 1 << 20;
    // "sub:<topic>" subscribes and answers "ok"; anything else is echoed.
    b.on_message = [](WebSocket& ws, std::string_view message, Opcode opcode) {
        if (message.starts_with("sub:")) ws.send(ws.subscribe(message.substr(4)) == SubscribeStatus::Subscribed ? "ok" : "no", Opcode::Text);
        else ws.send(message, opcode);
    };
    return b;
}

std::unique_ptr<TestClient> open_client(std::uint16_t port, std::string_view extensions, std::string* head = nullptr) {
    auto client = std::make_unique<TestClient>(port);
    REQUIRE(client->connected());
    const std::string response = client->handshake("/", extensions);
    REQUIRE(response.rfind("HTTP/1.1 101", 0) == 0);
    if (head) *head = response;
    return client;
}

void subscribe(TestClient& client, std::string_view topic) {
    REQUIRE(client.send_frame(Opcode::Text, "sub:" + std::string(topic)));
    const ReceivedFrame answer = client.read_data_frame();
    REQUIRE(answer.ok);
    REQUIRE(answer.payload == "ok");
}

}  // namespace

TEST_CASE("compressed messages come in inflated whole or fragmented and go back compressed") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend, {}, deflate_behavior());
        std::string head;
        auto client = open_client(running.port(), kOffer, &head);
        CHECK(head.find("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                        "client_no_context_takeover\r\n") != std::string::npos);
        ClientInflater inflate(false);

        const std::string text = long_text(1);
        REQUIRE(client->send_frame(Opcode::Text, compress(text), true, true));
        ReceivedFrame echo = client->read_data_frame();
        REQUIRE(echo.ok);
        CHECK(echo.rsv1);
        CHECK(echo.opcode == Opcode::Text);
        CHECK(echo.payload.size() < text.size() / 4);
        CHECK(inflate(echo) == text);

        // Fragmented: RSV1 on the first frame only, the compressed bytes cut in three.
        const std::string binary = long_text(2) + std::string(2000, '\x01');
        const std::string compressed = compress(binary);
        const std::size_t third = compressed.size() / 3;
        REQUIRE(client->send_frame(Opcode::Binary, compressed.substr(0, third), false, true));
        REQUIRE(client->send_frame(Opcode::Continuation, compressed.substr(third, third), false));
        REQUIRE(client->send_frame(Opcode::Continuation, compressed.substr(2 * third), true));
        echo = client->read_data_frame();
        REQUIRE(echo.ok);
        CHECK(echo.opcode == Opcode::Binary);
        CHECK(inflate(echo) == binary);

        // Uncompressed from the client is fine too; short messages go back as they are.
        REQUIRE(client->send_frame(Opcode::Text, text));
        echo = client->read_data_frame();
        CHECK(echo.rsv1);
        CHECK(inflate(echo) == text);
        REQUIRE(client->send_frame(Opcode::Text, "short", true, false));
        echo = client->read_data_frame();
        CHECK_FALSE(echo.rsv1);
        CHECK(echo.payload == "short");
        // An empty compressed message.
        REQUIRE(client->send_frame(Opcode::Text, compress(""), true, true));
        echo = client->read_data_frame();
        CHECK(echo.ok);
        CHECK(echo.payload.empty());

        // Without an offer the connection is plain, and RSV1 is a protocol error.
        auto plain = open_client(running.port(), {}, &head);
        CHECK(head.find("Sec-WebSocket-Extensions") == std::string::npos);
        REQUIRE(plain->send_frame(Opcode::Text, text));
        echo = plain->read_data_frame();
        CHECK_FALSE(echo.rsv1);
        CHECK(echo.payload == text);
        REQUIRE(plain->send_frame(Opcode::Text, compress(text), true, true));
        const ReceivedFrame close = plain->read_frame();
        CHECK(close.opcode == Opcode::Close);
        CHECK(close.close_code() == 1002);
    }
}

TEST_CASE("a zip bomb gets 1009 while corrupt data and invalid UTF-8 inside compressed text get 1007") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend, {}, deflate_behavior());
        // 16 MiB of zeros in about 16 KiB, against a 1 MiB limit.
        auto bomber = open_client(running.port(), kOffer);
        const std::string bomb = compress(std::string(16 << 20, '\0'));
        CHECK(bomb.size() < (1 << 20));
        REQUIRE(bomber->send_frame(Opcode::Binary, bomb, true, true));
        ReceivedFrame close = bomber->read_frame();
        CHECK(close.opcode == Opcode::Close);
        CHECK(close.close_code() == 1009);

        auto corrupt = open_client(running.port(), kOffer);
        REQUIRE(corrupt->send_frame(Opcode::Binary, "\xff\xff\xff\xff", true, true));
        close = corrupt->read_frame();
        CHECK(close.close_code() == 1007);

        auto invalid = open_client(running.port(), kOffer);
        REQUIRE(invalid->send_frame(Opcode::Text, compress("valid start \xc3\x28 then not"), true, true));
        close = invalid->read_frame();
        CHECK(close.close_code() == 1007);
        CHECK(RunningServer::wait_for(running.closes, 3));
    }
}

TEST_CASE("a broadcast is compressed once, with the smallest window its subscribers agreed to") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend, {}, deflate_behavior());
        auto wide = open_client(running.port(), kOffer);  // window 15
        std::string head;
        auto narrow = open_client(running.port(),
                                  "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n", &head);
        CHECK(head.find("server_max_window_bits=10") != std::string::npos);
        auto plain = open_client(running.port(), {});
        for (TestClient* c : {wide.get(), narrow.get(), plain.get()}) subscribe(*c, "prices");

        const std::string message = long_text(3);
        for (int i = 0; i < 5; ++i) {
            REQUIRE(running.server().publish("prices", message, Opcode::Text, std::chrono::seconds(10)) ==
                    PublishStatus::Success);
        }
        for (int i = 0; i < 5; ++i) {
            const ReceivedFrame a = wide->read_data_frame();
            const ReceivedFrame b = narrow->read_data_frame();
            const ReceivedFrame c = plain->read_data_frame();
            REQUIRE(a.ok);
            REQUIRE(b.ok);
            REQUIRE(c.ok);
            CHECK(a.rsv1);
            CHECK(b.rsv1);
            // The same bytes: compressed once, and with a window the narrow client can take.
            CHECK(a.payload == b.payload);
            CHECK(a.payload == compress(message, 10));
            CHECK_FALSE(c.rsv1);
            CHECK(c.payload == message);
            ClientInflater inflate(false);
            CHECK(inflate(b) == message);
        }
        // Short messages are not compressed for anyone.
        REQUIRE(running.server().publish("prices", "tiny", Opcode::Text, std::chrono::seconds(10)) ==
                PublishStatus::Success);
        CHECK_FALSE(wide->read_data_frame().rsv1);
    }
}

TEST_CASE("a connection's own compressor stays in step with broadcast frames between its messages") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend, {}, deflate_behavior(true));
        std::string head;
        auto client = open_client(running.port(), kOffer, &head);
        // The dedicated server keeps its context, so the client keeps its window too.
        CHECK(head.find("Sec-WebSocket-Extensions: permessage-deflate\r\n") != std::string::npos);
        subscribe(*client, "news");
        ClientInflater inflate(true);

        const std::string own = long_text(4);
        const std::string broadcast = long_text(5);
        for (int round = 0; round < 4; ++round) {
            // The server's compressor refers back to its own earlier messages; the client's window also holds the
            // broadcast frames, which that compressor never saw. It must start over after each.
            REQUIRE(client->send_frame(Opcode::Text, own));
            ReceivedFrame echo = client->read_data_frame();
            REQUIRE(echo.ok);
            CHECK(echo.rsv1);
            CHECK(inflate(echo) == own);
            if (round > 0) CHECK(echo.payload.size() < 200);  // still compressed against its own history
            REQUIRE(running.server().publish("news", broadcast, Opcode::Text, std::chrono::seconds(10)) ==
                    PublishStatus::Success);
            const ReceivedFrame pushed = client->read_data_frame();
            REQUIRE(pushed.ok);
            CHECK(pushed.rsv1);
            CHECK(inflate(pushed) == broadcast);
        }
    }
}
