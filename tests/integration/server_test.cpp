#include "surge/ws/server.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/running_server.hpp"
#include "tests/support/test_client.hpp"
#include "tests/support/upgrade_cases.hpp"

using namespace surge;
using namespace surge::test;

namespace {
constexpr std::string_view kSwitching = "HTTP/1.1 101 Switching Protocols\r\n";

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
}
}  // namespace

TEST_CASE("echo of every length class, text and binary") {
    for (net::Backend backend : test_backends()) {
        INFO("backend " << net::backend_name(backend));
        RunningServer running(backend);
        TestClient client(running.port());
        REQUIRE(client.handshake("/echo").rfind(kSwitching, 0) == 0);
        for (std::size_t size : {0, 1, 125, 126, 65535, 65536, 1 << 20}) {
            for (Opcode opcode : {Opcode::Text, Opcode::Binary}) {
                INFO("size " << size);
                const std::string message = pattern(size);
                REQUIRE(client.send_frame(opcode, message));
                const ReceivedFrame echo = client.read_data_frame();
                REQUIRE(echo.ok);
                CHECK(echo.opcode == opcode);
                CHECK(echo.fin);
                CHECK(echo.payload == message);
            }
        }
        CHECK(client.send_close(1000));
        CHECK(client.read_frame().close_code() == 1000);
        CHECK(client.at_end());
        CHECK(running.stop());
        CHECK(running.opens == 1);
        CHECK(running.closes == 1);
        CHECK(running.last_close_code == 1000);
    }
}

TEST_CASE("fragmented messages with pings between the fragments") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        TestClient client(running.port());
        REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
        CHECK(client.send_frame(Opcode::Text, "ab", false));
        CHECK(client.send_frame(Opcode::Ping, "p1"));
        CHECK(client.send_frame(Opcode::Continuation, "cd", false));
        CHECK(client.send_frame(Opcode::Ping, "p2"));
        CHECK(client.send_frame(Opcode::Continuation, "ef", true));
        std::string controls;
        const ReceivedFrame echo = client.read_data_frame(&controls);
        CHECK(controls == "10:p1;10:p2;");  // two pongs (opcode 10) with the pings' payloads, in order
        CHECK(echo.opcode == Opcode::Text);
        CHECK(echo.payload == "abcdef");
        CHECK(client.send_frame(Opcode::Binary, "12345", false));
        CHECK(client.send_frame(Opcode::Continuation, "6789", true));
        CHECK(client.read_data_frame().payload == "123456789");
    }
}

TEST_CASE("frames split across reads at every offset are reassembled") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        TestClient client(running.port());
        REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
        // One client frame, sent in two writes split at each offset, with a delay so that the server reads the
        // halves separately (if it reads them together the test still checks the echo, just not the split).
        const std::string message = "split me anywhere, please";
        static constexpr MaskKey kMask = {9, 8, 7, 6};
        std::string frame(kMaxFrameHeaderBytes + message.size(), '\0');
        const std::size_t header = encode_frame_header(frame.data(), Opcode::Text, message.size(), true, false, &kMask);
        apply_mask_copy(frame.data() + header, message.data(), message.size(), kMask);
        frame.resize(header + message.size());
        for (std::size_t cut = 1; cut < frame.size(); ++cut) {
            CHECK(client.send_raw(std::string_view(frame).substr(0, cut)));
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            CHECK(client.send_raw(std::string_view(frame).substr(cut)));
            CHECK(client.read_data_frame().payload == message);
        }
    }
}

TEST_CASE("ping gets a pong with the same payload") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        TestClient client(running.port());
        REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
        CHECK(client.send_frame(Opcode::Ping, "are you there"));
        const ReceivedFrame pong = client.read_frame();
        CHECK(pong.opcode == Opcode::Pong);
        CHECK(pong.payload == "are you there");
    }
}

TEST_CASE("closing handshake started by the server") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        TestClient client(running.port());
        REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
        CHECK(client.send_frame(Opcode::Text, "close-me"));
        const ReceivedFrame close = client.read_frame();
        CHECK(close.opcode == Opcode::Close);
        CHECK(close.close_code() == 4000);
        CHECK(close.payload.substr(2) == "asked to");
        CHECK(client.send_close(4000));
        CHECK(client.at_end());
        CHECK(RunningServer::wait_for(running.closes, 1));
        CHECK(running.last_close_code == 4000);
    }
}

TEST_CASE("protocol errors close with the right code, after a close frame") {
    for (net::Backend backend : test_backends()) {
        ServerConfig config;
        WebSocketBehavior behavior;
        behavior.max_message_bytes = 1000;
        RunningServer running(backend, config, behavior);
        struct Probe {
            const char* name;
            std::string frame;
            std::uint16_t code;
        };
        const std::string unmasked = std::string("\x81\x02hi", 4);
        const std::string reserved_opcode = std::string("\x83\x80\x01\x02\x03\x04", 6);
        const std::string continuation_first = std::string("\x80\x80\x01\x02\x03\x04", 6);
        for (const Probe& probe : {Probe{"unmasked", unmasked, 1002}, Probe{"reserved opcode", reserved_opcode, 1002},
                                   Probe{"continuation first", continuation_first, 1002}}) {
            INFO(probe.name);
            TestClient client(running.port());
            REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
            CHECK(client.send_raw(probe.frame));
            const ReceivedFrame close = client.read_frame();
            CHECK(close.opcode == Opcode::Close);
            CHECK(close.close_code() == probe.code);
            CHECK(client.at_end());
        }
        {
            TestClient client(running.port());
            REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
            CHECK(client.send_frame(Opcode::Text, "\xed\xa0\x80"));
            CHECK(client.read_frame().close_code() == 1007);
        }
        {
            TestClient client(running.port());
            REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
            CHECK(client.send_frame(Opcode::Binary, std::string(1001, 'x')));
            CHECK(client.read_frame().close_code() == 1009);
        }
        {
            TestClient client(running.port());
            REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
            CHECK(client.send_frame(Opcode::Close, "\x03\xed"));  // 1005 may not be sent
            CHECK(client.read_frame().close_code() == 1002);
        }
        CHECK(running.stop());
        CHECK(running.opens == running.closes);
    }
}

TEST_CASE("every request of the upgrade table gets its answer over a real socket") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        for (const Case& c : upgrade_cases()) {
            INFO(c.name);
            TestClient client(running.port());
            REQUIRE(client.connected());
            CHECK(client.send_raw(c.request));
            const std::string response = c.status == 101 ? client.read_head() : client.read_to_end();
            const std::string status_line = "HTTP/1.1 " + std::to_string(c.status) + " ";
            CHECK(response.rfind(status_line, 0) == 0);
            for (const std::string& s : c.present) CHECK_MESSAGE(response.find(s) != std::string::npos, s);
            for (const std::string& s : c.absent) CHECK_MESSAGE(response.find(s) == std::string::npos, s);
        }
        CHECK(running.stop());
        CHECK(running.opens == running.closes);
    }
}

TEST_CASE("plain HTTP routes answer next to WebSocket routes") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        TestClient client(running.port());
        CHECK(client.send_raw("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        const std::string response = client.read_to_end();
        CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(response.find("\r\nConnection: close\r\n") != std::string::npos);
        CHECK(response.substr(response.size() - 2) == "ok");
    }
}

namespace {

// What the server says the client's address is: over HTTP (GET /whoami) and over a WebSocket ("whoami").
std::string whoami_http(std::uint16_t port, const std::string& headers, const char* source = nullptr) {
    TestClient client(port, 0, source);
    if (!client.send_raw("GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + "\r\n")) return {};
    const std::string response = client.read_to_end();
    const std::size_t body = response.find("\r\n\r\n");
    return body == std::string::npos ? std::string() : response.substr(body + 4);
}

std::string whoami_websocket(std::uint16_t port, const std::string& headers) {
    TestClient client(port);
    if (client.handshake("/", headers).rfind("HTTP/1.1 101", 0) != 0 || !client.send_frame(Opcode::Text, "whoami")) {
        return {};
    }
    const ReceivedFrame answer = client.read_data_frame();
    return answer.ok ? answer.payload : std::string();
}

}  // namespace

TEST_CASE("remote_address(): the peer, or the client that a trusted proxy names in X-Forwarded-For or Forwarded") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        {
            // No trusted proxies: the headers are anyone's words, and ignored.
            RunningServer running(backend);
            CHECK(whoami_http(running.port(), "").rfind("127.0.0.1:", 0) == 0);
            CHECK(whoami_http(running.port(), "X-Forwarded-For: 203.0.113.5\r\n").rfind("127.0.0.1:", 0) == 0);
            CHECK(whoami_websocket(running.port(), "X-Forwarded-For: 203.0.113.5\r\n").rfind("127.0.0.1:", 0) == 0);
        }
        ServerConfig config;
        config.trusted_proxies = {"127.0.0.1", "10.0.0.0/8"};
        RunningServer running(backend, config);
        CHECK(whoami_http(running.port(), "").rfind("127.0.0.1:", 0) == 0);  // the proxy itself, with no header
        CHECK(whoami_http(running.port(), "X-Forwarded-For: 6.6.6.6, 203.0.113.5, 10.2.3.4\r\n") == "203.0.113.5");
        CHECK(whoami_http(running.port(), "Forwarded: for=\"[2001:db8::7]:4711\"\r\n") == "[2001:db8::7]:4711");
        CHECK(whoami_websocket(running.port(), "X-Forwarded-For: 198.51.100.7\r\n") == "198.51.100.7");
        CHECK(whoami_websocket(running.port(), "").rfind("127.0.0.1:", 0) == 0);
        // From an address that is not a trusted proxy (127.0.0.2), the header is not believed.
        CHECK(whoami_http(running.port(), "X-Forwarded-For: 203.0.113.5\r\n", "127.0.0.2").rfind("127.0.0.2:", 0) == 0);
    }
}

TEST_CASE("on_access records every HTTP answer: responses, upgrades and the server's own refusals") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        std::mutex lock;
        std::vector<std::string> seen;  // "client method target status bytes"
        ServerConfig config;
        config.trusted_proxies = {"127.0.0.1"};
        config.on_access = [&](const AccessRecord& r) {
            const std::lock_guard<std::mutex> hold(lock);
            seen.push_back(r.client.text() + " " + std::string(r.method) + " " + std::string(r.target) + " " +
                           std::to_string(r.status) + " " + std::to_string(r.body_bytes));
        };
        RunningServer running(backend, config);
        CHECK(whoami_http(running.port(), "X-Forwarded-For: 203.0.113.5\r\n") == "203.0.113.5");
        CHECK(whoami_websocket(running.port(), "X-Forwarded-For: 198.51.100.7\r\n") == "198.51.100.7");
        {
            TestClient lost(running.port());
            REQUIRE(lost.send_raw("GET /nowhere?x=1 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n"));
            CHECK(lost.read_to_end().rfind("HTTP/1.1 400 ", 0) == 0);  // a WebSocket path ("*"), no upgrade
            TestClient garbled(running.port());
            REQUIRE(garbled.send_raw("NOT HTTP\r\n\r\n"));
            CHECK(garbled.read_to_end().rfind("HTTP/1.1 400 ", 0) == 0);
        }
        const std::lock_guard<std::mutex> hold(lock);
        REQUIRE(seen.size() == 4);
        CHECK(seen[0] == "203.0.113.5 GET /whoami 200 11");
        CHECK(seen[1] == "198.51.100.7 GET / 101 0");
        CHECK(seen[2].rfind("192.0.2.1 GET /nowhere?x=1 400 ", 0) == 0);
        CHECK(seen[3].rfind("127.0.0.1:", 0) == 0);            // unread head: the peer, no method or target
        CHECK(seen[3].ends_with("  400 18"));                     // "malformed request\n"
    }
}

TEST_CASE("listen() refuses a trusted proxy that is not an address or a range") {
    for (const char* bad : {"10.0.0.1/8", "proxy.example", "10.0.0.0/40"}) {
        CAPTURE(bad);
        ServerConfig config;
        config.address = "127.0.0.1";
        config.port = 0;
        config.trusted_proxies = {"127.0.0.1", bad};
        Server server(config);
        const auto port = server.listen();
        REQUIRE_FALSE(port.ok());
        CHECK(port.error() == std::errc::invalid_argument);
    }
}

TEST_CASE("a client that shuts its side after the request still gets the whole of a large response") {
    // HTTP lets a client half-close once its request is sent (HTTP/1.0 tools do). The answer may still be on its
    // way out when the end of the request stream arrives: it must not be cut there.
    const std::string big(4 << 20, 'z');
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        RunningServer running(backend, {}, {}, [&](Server& server) {
            server.get("/big", [&](const Request&, Response& response) { response.send(big); });
        });
        TestClient client(running.port(), 4096);  // a small window: most of the answer waits in the server
        REQUIRE(client.send_raw("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        REQUIRE(::shutdown(client.fd(), SHUT_WR) == 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the end of stream arrives first
        const std::string response = client.read_to_end();
        CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(response.size() > big.size());
        CHECK(response.ends_with("\r\n\r\n" + big));
    }
}

TEST_CASE("a large answer read slowly is not cut while it keeps moving, and a reader that stops is cut") {
    // The grace a plain HTTP answer that closes its connection has to go out runs from its last progress, not from
    // the start: a slow client still gets all of a large response, and one that stops reading is ended (as nginx's
    // send_timeout does). The answer is larger than the kernel's buffers take, so most of it waits in the queue.
    std::size_t kernel_takes = 4 << 20;  // the largest send buffer a socket grows to (net.ipv4.tcp_wmem's third)
    if (std::FILE* wmem = std::fopen("/proc/sys/net/ipv4/tcp_wmem", "r")) {
        unsigned long low = 0, initial = 0, high = 0;
        if (std::fscanf(wmem, "%lu %lu %lu", &low, &initial, &high) == 3) kernel_takes = high;
        std::fclose(wmem);
    }
    const std::string big(std::max<std::size_t>(8 << 20, 2 * kernel_takes), 'z');
    const std::string request = "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        RunningServer running(backend, {}, {}, [&](Server& server) {
            server.get("/big", [&](const Request&, Response& response) { response.send(big); });
        });
        TestClient stopped(running.port(), 64 * 1024);
        TestClient slow(running.port(), 64 * 1024);
        REQUIRE(stopped.send_raw(request));
        REQUIRE(slow.send_raw(request));
        std::string response;
        std::vector<char> buffer(big.size() / 40);
        for (;;) {  // a 40th of it every 100 ms: four seconds for the answer, twice the grace
            const ssize_t n = ::recv(slow.fd(), buffer.data(), buffer.size(), MSG_WAITALL);
            if (n <= 0) break;
            response.append(buffer.data(), static_cast<std::size_t>(n));
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        CHECK(response.size() > big.size());
        CHECK(response.ends_with("\r\n\r\n" + big));
        // Meanwhile `stopped` read nothing for those four seconds: it was cut, with what was in flight and no more.
        CHECK(stopped.read_to_end().size() < big.size());
    }
}

TEST_CASE("HTTP/1.1 connections stay open for further requests, pipelined or one by one, until the client ends them") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.handshake_timeout_seconds = 1;
        RunningServer running(backend, config);
        const std::string post = "POST /echo-body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
        TestClient client(running.port());
        // One after another on the same connection: each answered, none closing it.
        for (int i = 0; i < 3; ++i) {
            CAPTURE(i);
            REQUIRE(client.send_raw(post + "hello"));
            const std::string response = client.read_response();
            CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
            CHECK(response.find("Connection:") == std::string::npos);  // HTTP/1.1's default: open
            CHECK(response.ends_with("\r\n\r\nhello"));
        }
        // Pipelined in one write, a chunked body among them, the last split mid-head: answered in order.
        const std::string chunked = "POST /echo-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "3\r\ntwo\r\n0\r\n\r\n";
        REQUIRE(client.send_raw(post + "one!!" + chunked + "GET /health HTTP/1.1\r\nHo"));
        CHECK(client.read_response().ends_with("one!!"));
        CHECK(client.read_response().ends_with("\r\n\r\ntwo"));
        REQUIRE(client.send_raw("st: x\r\n\r\n"));
        CHECK(client.read_response().ends_with("\r\n\r\nok"));
        // Connection: close gets its answer, then the end of the connection; nothing after it is read.
        REQUIRE(client.send_raw("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + post + "hello"));
        const std::string last = client.read_to_end();
        CHECK(last.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(last.find("\r\nConnection: close\r\n") != std::string::npos);
        CHECK(last.ends_with("\r\n\r\nok"));
        // HTTP/1.0 closes unless it asks for keep-alive, which is then said.
        TestClient old(running.port());
        REQUIRE(old.send_raw("GET /health HTTP/1.0\r\n\r\n"));
        CHECK(old.read_to_end().ends_with("\r\n\r\nok"));
        TestClient old_kept(running.port());
        REQUIRE(old_kept.send_raw("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        CHECK(old_kept.read_response().find("\r\nConnection: keep-alive\r\n") != std::string::npos);
        REQUIRE(old_kept.send_raw("GET /health HTTP/1.0\r\n\r\n"));
        CHECK(old_kept.read_to_end().ends_with("\r\n\r\nok"));
        // A kept connection that sends nothing more is closed at the handshake timeout, and uncounted.
        TestClient idle(running.port());
        REQUIRE(idle.send_raw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
        CHECK(idle.read_response().ends_with("ok"));
        CHECK(idle.read_to_end().empty());
        CHECK(wait_for_total(running.server(), &ShardStats::handshakes, 0));
    }
}

TEST_CASE("a request whose body framing is ambiguous is refused with 400, not answered") {
    for (net::Backend backend : test_backends()) {
        for (const char* framing : {"Content-Length: 18446744073709551616\r\n",
                                    "Content-Length: 2\r\nContent-Length: 3\r\n"}) {
            CAPTURE(framing);
            RunningServer running(backend);
            TestClient client(running.port());
            CHECK(client.send_raw(std::string("GET /health HTTP/1.1\r\nHost: x\r\n") + framing + "\r\nabc"));
            const std::string response = client.read_to_end();
            CHECK(response.rfind("HTTP/1.1 400 ", 0) == 0);
            CHECK(response.find("Content-Length") != std::string::npos);
        }
    }
}

TEST_CASE("a chunked request body is decoded before the handler runs, whether it comes whole or in pieces") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.max_body_bytes = 64;
        RunningServer running(backend, config);
        const std::string head =
            "POST /echo-body HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
        const std::string body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
        for (std::size_t pieces : {1, 4, 16}) {
            CAPTURE(pieces);
            TestClient client(running.port());
            const std::string all = head + body;
            const std::size_t step = (all.size() + pieces - 1) / pieces;
            for (std::size_t at = 0; at < all.size(); at += step) {
                CHECK(client.send_raw(std::string_view(all).substr(at, step)));
                if (pieces > 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // separate reads
            }
            const std::string response = client.read_to_end();
            CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
            CHECK(response.substr(response.size() - 11) == "hello world");
        }
        TestClient too_big(running.port());
        CHECK(too_big.send_raw(head + "41\r\n" + std::string(65, 'b') + "\r\n0\r\n\r\n"));
        CHECK(too_big.read_to_end().rfind("HTTP/1.1 413 ", 0) == 0);
        TestClient other_coding(running.port());
        CHECK(other_coding.send_raw("POST /echo-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"));
        CHECK(other_coding.read_to_end().rfind("HTTP/1.1 501 ", 0) == 0);
    }
}

TEST_CASE("1000 concurrent connections exchange messages") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < 1000; ++i) {
            clients.push_back(std::make_unique<TestClient>(running.port()));
            REQUIRE(clients.back()->handshake().rfind(kSwitching, 0) == 0);
        }
        for (int round = 0; round < 3; ++round) {
            for (std::size_t i = 0; i < clients.size(); ++i) {
                REQUIRE(clients[i]->send_frame(Opcode::Text, "client " + std::to_string(i) + " round " + std::to_string(round)));
            }
            int matched = 0;
            for (std::size_t i = 0; i < clients.size(); ++i) {
                matched += clients[i]->read_data_frame().payload == "client " + std::to_string(i) + " round " + std::to_string(round);
            }
            CHECK(matched == 1000);
        }
        CHECK(running.opens == 1000);
        clients.clear();  // all close at once, without a close frame
        CHECK(RunningServer::wait_for(running.closes, 1000));
        CHECK(running.last_close_code == 1006);
    }
}

TEST_CASE("a client that sends its request slowly is closed at the handshake timeout") {
    for (net::Backend backend : test_backends()) {
        ServerConfig config;
        config.handshake_timeout_seconds = 1;
        RunningServer running(backend, config);
        TestClient client(running.port());
        const std::string request = rfc_request();
        bool closed_early = false;
        for (std::size_t i = 0; i < request.size() && i < 60; ++i) {
            if (!client.send_raw(request.substr(i, 1))) {
                closed_early = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            char byte;
            const ssize_t n = ::recv(client.fd(), &byte, 1, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN)) {
                closed_early = true;
                break;
            }
        }
        CHECK(closed_early);  // 60 bytes at 10 a second is 6 s: far past the 1 s limit
        CHECK(running.opens == 0);
    }
}

TEST_CASE("2000 connections reset in the middle of a frame, the server keeps serving") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        for (int batch = 0; batch < 4; ++batch) {
            std::vector<std::unique_ptr<TestClient>> clients;
            for (int i = 0; i < 500; ++i) {
                clients.push_back(std::make_unique<TestClient>(running.port()));
                REQUIRE(clients.back()->handshake().rfind(kSwitching, 0) == 0);
                // A 100-byte binary frame, masked, of which only the header and 10 bytes are sent.
                CHECK(clients.back()->send_raw(std::string("\x82\xE4\x01\x02\x03\x04", 6) + std::string(10, 'z')));
            }
            for (auto& client : clients) {
                linger hard{1, 0};  // close with RST, not FIN
                ::setsockopt(client->fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
            }
        }
        CHECK(RunningServer::wait_for(running.closes, 2000));
        CHECK(running.opens == 2000);
        TestClient after(running.port());
        REQUIRE(after.handshake().rfind(kSwitching, 0) == 0);
        CHECK(after.send_frame(Opcode::Text, "still here"));
        CHECK(after.read_data_frame().payload == "still here");
    }
}

TEST_CASE("stop() closes open connections with 1001 and returns") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        std::vector<std::unique_ptr<TestClient>> clients;
        for (int i = 0; i < 20; ++i) {
            clients.push_back(std::make_unique<TestClient>(running.port()));
            REQUIRE(clients.back()->handshake().rfind(kSwitching, 0) == 0);
        }
        std::thread stopper([&] { CHECK(running.stop()); });
        for (auto& client : clients) {
            const ReceivedFrame close = client->read_frame();
            CHECK(close.opcode == Opcode::Close);
            CHECK(close.close_code() == 1001);
            CHECK(client->send_close(1001));
        }
        stopper.join();
        CHECK(running.opens == 20);
        CHECK(running.closes == 20);
    }
}

namespace {
// A route that, on "flood", sends 200 binary messages of 64 KiB at once (message i filled with byte i) and
// counts what send() answered; on_drain is counted too.
struct FloodCounts {
    std::atomic<int> success{0}, backpressure{0}, dropped{0}, drains{0};
    std::atomic<int> floods{0};  // floods finished: the counts above are final
};

WebSocketBehavior flood_behavior(FloodCounts& counts, SlowPolicy policy) {
    WebSocketBehavior behavior;
    behavior.max_backpressure_bytes = 256 * 1024;
    behavior.slow_policy = policy;
    behavior.on_message = [&counts](WebSocket& ws, std::string_view, Opcode) {
        for (int i = 0; i < 200; ++i) {
            switch (ws.send(std::string(65536, static_cast<char>(i)), Opcode::Binary)) {
            case SendStatus::Success: counts.success.fetch_add(1); break;
            case SendStatus::Backpressure: counts.backpressure.fetch_add(1); break;
            case SendStatus::Dropped: counts.dropped.fetch_add(1); break;
            }
        }
        counts.floods.fetch_add(1);
    };
    behavior.on_drain = [&counts](WebSocket&) { counts.drains.fetch_add(1); };
    return behavior;
}
}  // namespace

TEST_CASE("a slow reader: sends queue up to the bound, then are dropped, the queue drains in order") {
    for (net::Backend backend : test_backends()) {
        FloodCounts counts;
        RunningServer running(backend, {}, flood_behavior(counts, SlowPolicy::Drop));
        TestClient client(running.port(), 64 * 1024);  // a small receive window: the server's socket fills
        REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
        CHECK(client.send_frame(Opcode::Text, "flood"));
        REQUIRE(RunningServer::wait_for(counts.floods, 1));  // read nothing until the server has sent all it will
        CHECK(counts.success + counts.backpressure + counts.dropped == 200);
        CHECK(counts.dropped >= 1);
        CHECK(counts.backpressure >= 1);
        const int delivered = counts.success + counts.backpressure;
        int previous = -1;
        int received = 0;
        bool intact = true;
        for (int i = 0; i < delivered; ++i) {
            const ReceivedFrame frame = client.read_data_frame();
            REQUIRE(frame.ok);
            const int index = static_cast<unsigned char>(frame.payload[0]);
            intact = intact && frame.payload == std::string(65536, static_cast<char>(index)) && index > previous;
            previous = index;
            ++received;
        }
        CHECK(intact);  // whole messages, none reordered; the dropped ones are simply missing
        CHECK(received == delivered);
        CHECK(RunningServer::wait_for(counts.drains, 1));  // the queue emptied once the reader caught up
    }
}

TEST_CASE("a slow reader with the close policy is closed with 1008 after what was queued") {
    for (net::Backend backend : test_backends()) {
        FloodCounts counts;
        RunningServer running(backend, {}, flood_behavior(counts, SlowPolicy::Close));
        TestClient client(running.port(), 64 * 1024);
        REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
        CHECK(client.send_frame(Opcode::Text, "flood"));
        REQUIRE(RunningServer::wait_for(counts.floods, 1));  // read nothing until the bound has been passed
        CHECK(counts.dropped >= 1);
        ReceivedFrame frame;
        int data_frames = 0;
        do {
            frame = client.read_frame();
            data_frames += frame.ok && frame.opcode == Opcode::Binary;
        } while (frame.ok && frame.opcode != Opcode::Close);
        CHECK(frame.close_code() == 1008);
        CHECK(data_frames == counts.success + counts.backpressure);
        CHECK(RunningServer::wait_for(running.closes, 1));
        CHECK(running.last_close_code == 1008);
    }
}

TEST_CASE("an idle connection gets a ping at the idle timeout, and a close (1001) if it stays silent") {
    for (net::Backend backend : test_backends()) {
        WebSocketBehavior behavior;
        behavior.idle_timeout_seconds = 1;
        RunningServer running(backend, {}, behavior);
        TestClient client(running.port());
        REQUIRE(client.handshake().rfind(kSwitching, 0) == 0);
        const ReceivedFrame first = client.read_frame();
        CHECK(first.opcode == Opcode::Ping);
        CHECK(client.send_frame(Opcode::Pong, first.payload));  // a sign of life: the timeout starts over
        const ReceivedFrame second = client.read_frame();
        CHECK(second.opcode == Opcode::Ping);
        const ReceivedFrame close = client.read_frame();  // silent this time
        CHECK(close.opcode == Opcode::Close);
        CHECK(close.close_code() == 1001);
        CHECK(RunningServer::wait_for(running.closes, 1));
        CHECK(running.last_close_code == 1001);
    }
}

TEST_CASE("defer() runs a function on the named shard's thread") {
    for (net::Backend backend : test_backends()) {
        RunningServer running(backend);
        std::atomic<int> ran{0};
        std::atomic<bool> other_thread{true};
        const auto caller = std::this_thread::get_id();
        bool accepted = false;
        for (int i = 0; i < 500 && !accepted; ++i) {  // run() may not have started the shards yet
            accepted = running.server().defer(1, [&] {
                other_thread = std::this_thread::get_id() != caller;
                ran.fetch_add(1);
            });
            if (!accepted) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        REQUIRE(accepted);
        CHECK(RunningServer::wait_for(ran, 1));
        CHECK(other_thread);
        CHECK_FALSE(running.server().defer(running.server().thread_count(), [] {}));  // no such shard
        CHECK(running.stop());
        CHECK_FALSE(running.server().defer(0, [] {}));  // not running
    }
}

namespace {
// Per-connection data with a constructor and destructor that count, and a member that owns memory, so that a
// missed construction, a double destruction or two connections sharing a slot's data all show.
struct Session {
    static inline std::atomic<int> made{0};
    static inline std::atomic<int> unmade{0};
    int messages = 0;
    std::string protocol;  // ws.subprotocol() as seen in on_open
    Session() noexcept { made.fetch_add(1); }
    ~Session() { unmade.fetch_add(1); }
};
}  // namespace

TEST_CASE("per-connection data lives in the slot, one per connection, subprotocol() is the route's first offered") {
    for (net::Backend backend : test_backends()) {
        Session::made = 0;
        Session::unmade = 0;
        ServerConfig config;
        config.address = "127.0.0.1";
        config.port = 0;
        config.backend = backend;
        config.threads = 2;
        config.pin_threads = false;
        Server server(config);
        std::atomic<int> fresh_at_open{0};
        std::atomic<int> closes{0};
        WebSocketBehavior behavior;
        behavior.subprotocols = {"v2.chat", "v1.chat"};
        behavior.on_open = [&](WebSocket& ws) {
            Session& session = ws.data<Session>();
            if (session.messages == 0 && session.protocol.empty()) fresh_at_open.fetch_add(1);
            session.protocol = std::string(ws.subprotocol());
        };
        behavior.on_message = [](WebSocket& ws, std::string_view, Opcode) {
            Session& session = ws.data<Session>();
            ws.send(std::to_string(++session.messages) + " " + session.protocol, Opcode::Text);
        };
        behavior.on_close = [&](WebSocket& ws, std::uint16_t, std::string_view) {
            if (ws.data<Session>().messages == 3) closes.fetch_add(1);
        };
        server.websocket<Session>("/chat", std::move(behavior));
        const std::uint16_t port = server.listen().value();
        std::thread runner([&] { CHECK(server.run().ok()); });

        TestClient a(port), b(port), c(port);
        const std::string head_a = a.handshake("/chat", "Sec-WebSocket-Protocol: v1.chat, v2.chat\r\n");
        const std::string head_b = b.handshake("/chat", "Sec-WebSocket-Protocol: v1.chat, other\r\n");
        const std::string head_c = c.handshake("/chat", "Sec-WebSocket-Protocol: other\r\n");
        CHECK(head_a.find("Sec-WebSocket-Protocol: v2.chat\r\n") != std::string::npos);  // the server's preference
        CHECK(head_b.find("Sec-WebSocket-Protocol: v1.chat\r\n") != std::string::npos);
        CHECK(head_c.rfind(kSwitching, 0) == 0);
        CHECK(head_c.find("Sec-WebSocket-Protocol") == std::string::npos);  // nothing in common: none agreed
        for (int round = 1; round <= 3; ++round) {  // interleaved, so that shared data would show
            for (TestClient* client : {&a, &b, &c}) REQUIRE(client->send_frame(Opcode::Text, "hi"));
            CHECK(a.read_data_frame().payload == std::to_string(round) + " v2.chat");
            CHECK(b.read_data_frame().payload == std::to_string(round) + " v1.chat");
            CHECK(c.read_data_frame().payload == std::to_string(round) + " ");
        }
        for (TestClient* client : {&a, &b, &c}) {
            REQUIRE(client->send_close(1000));
            CHECK(client->read_frame().opcode == Opcode::Close);
        }
        CHECK(RunningServer::wait_for(closes, 3));
        server.stop();
        runner.join();
        CHECK(fresh_at_open == 3);
        CHECK(Session::made == 3);
        CHECK(Session::unmade == 3);
    }
}

TEST_CASE("a server that waits for batches (wait_batch) answers every message: a lone one, one by one, and many") {
    // The batch is larger than any client here sends at once, so every answer below depends on the wait ending
    // by itself: after wait_batch_us under load, or at once for the first message after the server was idle.
    for (net::Backend backend : test_backends()) {
        INFO("backend " << net::backend_name(backend));
        ServerConfig config;
        config.wait_batch = 4096;
        config.wait_batch_us = 500;
        RunningServer running(backend, config);
        auto lone = std::make_unique<TestClient>(running.port());
        TestClient& client = *lone;
        REQUIRE(client.handshake("/echo").rfind(kSwitching, 0) == 0);
        REQUIRE(client.send_frame(Opcode::Text, "alone"));
        CHECK(client.read_data_frame().payload == "alone");
        for (int i = 0; i < 200; ++i) {  // request and answer, one at a time: no batch ever fills
            REQUIRE(client.send_frame(Opcode::Text, "one " + std::to_string(i)));
            REQUIRE(client.read_data_frame().payload == "one " + std::to_string(i));
        }
        std::vector<std::unique_ptr<TestClient>> many;
        for (int i = 0; i < 50; ++i) {
            many.push_back(std::make_unique<TestClient>(running.port()));
            REQUIRE(many.back()->handshake().rfind(kSwitching, 0) == 0);
        }
        for (int round = 0; round < 3; ++round) {
            for (std::size_t i = 0; i < many.size(); ++i) {
                REQUIRE(many[i]->send_frame(Opcode::Binary, "many " + std::to_string(i) + "/" + std::to_string(round)));
            }
            int matched = 0;
            for (std::size_t i = 0; i < many.size(); ++i) {
                matched += many[i]->read_data_frame().payload == "many " + std::to_string(i) + "/" + std::to_string(round);
            }
            CHECK(matched == 50);
        }
        CHECK(client.send_close(1000));
        CHECK(client.read_frame().close_code() == 1000);
        CHECK(client.at_end());
        lone.reset();  // the server waits for the client's end of the connection before it lets go of it
        many.clear();
        CHECK(RunningServer::wait_for(running.closes, 51));
        CHECK(running.stop());
    }
}
