// surge::Client, with the server's callback shape, against surge::Server on both server backends and against a
// scripted peer:
// - echo through ws:// and wss:// (a certificate made by the test, verified by the client), with and without
//   permessage-deflate, whole messages intact across sizes that span TLS records and reads, and one on_close
//   (1000, the server's answer) for every open after close();
// - the server's close frame (code and reason), abort(), a refused connection, and ids reused lowest first;
// - a send the socket cannot take whole: Backpressure, then on_drain, and every echo back;
// - a certificate the client does not trust (ClientFailure::Tls) and an upgrade refused with 403;
// - a scripted server: a ping is answered with its payload and reported, a pong is reported, and a masked frame
//   from the server (RFC 6455 5.1) gets a close frame with 1002 and on_close(1002);
// - a server that never answers the upgrade: expire_unopened() fails it with Timeout, and a connect() from inside
//   that callback is safe and takes a fresh id; a close the server never answers is cut after close_timeout_ms;
// - the client's cork: answers to 64 messages of one read reach a scripted server in a few segments, in order, and
//   a pong, an answer and the close reply of one read arrive in the order they were written.
#include "surge/ws/client.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <linux/tcp.h>  // the kernel's tcp_info: glibc's lacks tcpi_segs_in
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "surge/core/clock.hpp"
#include "surge/net/tls.hpp"
#include "tests/support/blocking_io.hpp"
#include "tests/support/frames.hpp"
#include "tests/support/running_server.hpp"
#include "tests/support/test_certificate.hpp"
#include "surge/ws/upgrade.hpp"
#include "surge/ws/url.hpp"

using namespace surge;
using namespace surge::test;

namespace {

struct Closed {
    std::uint16_t code = 0;
    std::string reason;
    ClientFailure failure = ClientFailure::Other;
    int detail = 0;
};

// Records every callback, by connection id.
struct Recorder {
    std::map<std::uint32_t, int> opens;
    std::map<std::uint32_t, std::vector<std::string>> messages;
    std::map<std::uint32_t, std::vector<Closed>> closes;
    std::vector<std::pair<ClientFailure, int>> connect_failures;
    std::vector<std::string> pings;
    std::vector<std::string> pongs;
    int drains = 0;
    std::function<void(ClientWebSocket&)> then_open;
    std::function<void(ClientWebSocket&, std::string_view)> then_message;

    ClientBehavior behavior() {
        return {
            .on_open = [this](ClientWebSocket& ws) {
                ++opens[ws.id()];
                if (then_open) then_open(ws);
            },
            .on_message = [this](ClientWebSocket& ws, std::string_view message, Opcode) {
                messages[ws.id()].emplace_back(message);
                if (then_message) then_message(ws, message);
            },
            .on_close = [this](ClientWebSocket& ws, std::uint16_t code, std::string_view reason) {
                CHECK_FALSE(ws.is_open());
                closes[ws.id()].push_back({code, std::string(reason), ws.failure(), ws.failure_detail()});
            },
            .on_connect_failed = [this](ClientWebSocket&, ClientFailure why,
                                        int detail) { connect_failures.emplace_back(why, detail); },
            .on_drain = [this](ClientWebSocket&) { ++drains; },
            .on_ping = [this](ClientWebSocket&, std::string_view payload) { pings.emplace_back(payload); },
            .on_pong = [this](ClientWebSocket&, std::string_view payload) { pongs.emplace_back(payload); },
        };
    }
};

// Polls until `done` holds (bounded, for liveness only: 20 s).
void poll_until(Client& client, const std::function<bool()>& done) {
    const long long deadline = monotonic_ms() + 20000;
    while (!done() && monotonic_ms() < deadline) client.poll(20);
}

Url url_of(const std::string& text) {
    Url url;
    std::string error;
    REQUIRE_MESSAGE(parse_url(text, url, error), error);
    return url;
}

std::vector<std::string> sample_messages() {
    std::vector<std::string> out;
    for (std::size_t size : {1, 30, 125, 126, 1000, 16383, 16384, 40000, 200000}) {
        std::string m;
        while (m.size() < size) m += "message of " + std::to_string(size) + " bytes; ";
        m.resize(size);
        out.push_back(m);
    }
    return out;
}

// The client's reactor backends to test: both, except under ThreadSanitizer. TSan cannot see the accepts and
// closes that io_uring does in the kernel, so when an io_uring client's socket closes and an io_uring server in
// this same process accepts a connection on the reused descriptor number, TSan reports the two threads' use of
// "one descriptor" as a race. The release and ASan runs cover the io_uring client.
#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#else
constexpr bool kThreadSanitizer = false;
#endif

std::vector<net::Backend> client_backends() {
    if (kThreadSanitizer) return {net::Backend::Epoll};
    return test_backends();
}

// Options for a client on `backend` (epoll under ThreadSanitizer, see above).
ClientOptions on_backend(net::Backend backend, ClientOptions options = {}) {
    options.backend = kThreadSanitizer ? net::Backend::Epoll : backend;
    return options;
}

void echo_through(net::Backend backend, std::uint16_t port, bool tls, bool deflate, const std::string& ca_file) {
    std::string error;
    std::unique_ptr<net::TlsContext> context;
    if (tls) {
        context = net::TlsContext::make_client(true, ca_file, error);
        REQUIRE(context);
    }
    const Url url = url_of((tls ? "wss://localhost:" : "ws://localhost:") + std::to_string(port) + "/echo");
    const std::vector<std::string> sent = sample_messages();
    Recorder recorder;
    // Each connection sends the next message when the last one's echo arrives.
    recorder.then_open = [&](ClientWebSocket& ws) {
        CHECK(ws.subprotocol() == "chat");
        CHECK((ws.deflate() != nullptr) == deflate);
        CHECK(ws.send(sent[0], Opcode::Text) != SendStatus::Dropped);
    };
    recorder.then_message = [&](ClientWebSocket& ws, std::string_view) {
        const std::size_t next = recorder.messages[ws.id()].size();
        if (next < sent.size()) CHECK(ws.send(sent[next], Opcode::Text) != SendStatus::Dropped);
    };
    ClientOptions options;
    options.tls = context.get();
    options.deflate = deflate;
    options.subprotocols = "chat";
    Client client(recorder.behavior(), on_backend(backend, options), 42);
    constexpr std::uint32_t kConnections = 4;
    for (std::uint32_t i = 0; i < kConnections; ++i) {
        ClientWebSocket* ws = client.connect(url);
        REQUIRE(ws);
        CHECK(ws->id() == i);  // dense, in connect order
    }
    auto all_echoed = [&] {
        std::size_t done = recorder.connect_failures.size();
        for (const auto& [id, got] : recorder.messages) done += got.size() == sent.size();
        return done >= kConnections;
    };
    poll_until(client, all_echoed);
    CHECK(recorder.connect_failures.empty());
    CHECK(recorder.opens.size() == kConnections);
    for (std::uint32_t id = 0; id < kConnections; ++id) CHECK(recorder.messages[id] == sent);

    for (std::uint32_t id = 0; id < kConnections; ++id) client.connection(id)->close();
    CHECK(client.open() == 0);
    poll_until(client, [&] { return client.live() == 0; });
    for (std::uint32_t id = 0; id < kConnections; ++id) {
        REQUIRE(recorder.closes[id].size() == 1);
        CHECK(recorder.closes[id][0].code == close_code::kNormal);
        CHECK(recorder.closes[id][0].failure == ClientFailure::None);
    }
}

// A port on 127.0.0.1 with nothing listening on it.
std::uint16_t closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

// A scripted server on one connection: blocking reads and writes, bounded by a receive timeout.
class ScriptedPeer {
public:
    ScriptedPeer() {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
        ::listen(listen_fd_, 4);
        socklen_t length = sizeof address;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
    }
    ~ScriptedPeer() {
        if (fd_ >= 0) ::close(fd_);
        ::close(listen_fd_);
    }
    std::uint16_t port() const { return port_; }

    // Accepts the connection and answers its upgrade request with a valid 101.
    bool accept_upgrade() {
        fd_ = ::accept(listen_fd_, nullptr, nullptr);
        if (fd_ < 0) return false;
        const timeval timeout{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        std::string request;
        while (request.find("\r\n\r\n") == std::string::npos) {
            char buffer[1024];
            const ssize_t n = surge::test::recv_retrying(fd_, buffer, sizeof buffer);
            if (n <= 0) return false;
            request.append(buffer, static_cast<std::size_t>(n));
        }
        const std::string name = "Sec-WebSocket-Key: ";
        const std::size_t at = request.find(name);
        if (at == std::string::npos) return false;
        const std::size_t start = at + name.size();
        const std::string key = request.substr(start, request.find("\r\n", start) - start);
        char accept[kAcceptKeyLength];
        compute_accept_key(key, accept);
        return send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: " + std::string(accept, kAcceptKeyLength) + "\r\n\r\n");
    }

    bool send(std::string_view bytes) { return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()); }

    // Segments the kernel has received on the connection so far (pure acknowledgements included).
    std::uint32_t segments_in() const {
        tcp_info info{};
        socklen_t length = sizeof info;
        return ::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 ? info.tcpi_segs_in : 0;
    }

    // Reads one small frame from the client: it must be masked. Returns {opcode, unmasked payload}.
    std::pair<int, std::string> read_frame() {
        unsigned char head[2];
        if (!read_exact(head, 2) || !(head[1] & 0x80) || (head[1] & 0x7F) > 125) return {-1, {}};
        unsigned char mask[4];
        std::string payload(head[1] & 0x7F, '\0');
        if (!read_exact(mask, 4) || !read_exact(payload.data(), payload.size())) return {-1, {}};
        for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
        return {head[0] & 0x0F, payload};
    }

private:
    bool read_exact(void* into, std::size_t size) {
        auto* p = static_cast<char*>(into);
        while (size > 0) {
            const ssize_t n = surge::test::recv_retrying(fd_, p, size);
            if (n <= 0) return false;
            p += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }

    int listen_fd_ = -1;
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace

TEST_CASE("surge::Client echoes through ws:// and wss:// with and without permessage-deflate") {
    const TestCertificate certificate;
    for (net::Backend backend : test_backends()) {
        for (bool tls : {false, true}) {
            for (bool deflate : {false, true}) {
                CAPTURE(tls);
                CAPTURE(deflate);
                ServerConfig config;
                if (tls) {
                    config.tls_cert_file = certificate.cert_file();
                    config.tls_key_file = certificate.key_file();
                }
                WebSocketBehavior behavior;
                behavior.deflate.enabled = true;
                RunningServer running(backend, config, behavior);
                echo_through(backend, running.port(), tls, deflate, certificate.cert_file());
                CHECK(RunningServer::wait_for(running.closes, 4));
                CHECK(running.last_close_code.load() == close_code::kNormal);
            }
        }
    }
}

TEST_CASE("IPv6: a '::' listener serves [::1] and 127.0.0.1 alike, the client connects to [::1] (TLS checks the IP)") {
    const TestCertificate certificate;
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        ServerConfig config;
        config.address = "::";
        config.tls_cert_file = certificate.cert_file();
        config.tls_key_file = certificate.key_file();
        RunningServer running(backend, config);
        std::string error;
        const auto tls = net::TlsContext::make_client(true, certificate.cert_file(), error);
        REQUIRE(tls);
        Recorder recorder;
        recorder.then_open = [](ClientWebSocket& ws) { CHECK(ws.send("whoami", Opcode::Text) == SendStatus::Success); };
        Client client(recorder.behavior(), on_backend(backend, {.tls = tls.get()}), 7);
        const Url v6 = url_of("wss://[::1]:" + std::to_string(running.port()) + "/");
        CHECK(v6.family() == AF_INET6);
        CHECK(v6.host == "[::1]:" + std::to_string(running.port()));  // the Host header, as written
        const Url v4 = url_of("wss://127.0.0.1:" + std::to_string(running.port()) + "/");
        REQUIRE(client.connect(v6));
        REQUIRE(client.connect(v4));
        poll_until(client, [&] { return recorder.messages[0].size() + recorder.messages[1].size() == 2 ||
                                        !recorder.connect_failures.empty(); });
        CHECK(recorder.connect_failures.empty());
        // The server saw each client from its own family (an IPv4 client of a dual-stack socket as IPv4).
        REQUIRE(recorder.messages[0].size() == 1);
        REQUIRE(recorder.messages[1].size() == 1);
        CHECK(recorder.messages[0][0].rfind("[::1]:", 0) == 0);
        CHECK(recorder.messages[1][0].rfind("127.0.0.1:", 0) == 0);
    }
}

TEST_CASE("surge::Client reports the server's close, an abort and a refused connection, and reuses ids") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        RunningServer running(backend);
        const Url url = url_of("ws://127.0.0.1:" + std::to_string(running.port()) + "/");
        Recorder recorder;
        recorder.then_open = [](ClientWebSocket& ws) {
            if (ws.id() == 0) ws.send("close-me", Opcode::Text);  // the test server closes with 4000
        };
        Client client(recorder.behavior(), on_backend(backend), 1);
        ClientWebSocket* first = client.connect(url);
        ClientWebSocket* second = client.connect(url);
        REQUIRE(first);
        REQUIRE(second);
        poll_until(client, [&] { return !recorder.closes[0].empty() && second->is_open(); });
        REQUIRE(recorder.closes[0].size() == 1);
        CHECK(recorder.closes[0][0].code == 4000);
        CHECK(recorder.closes[0][0].reason == "asked to");
        CHECK(recorder.closes[0][0].failure == ClientFailure::ClosedByServer);
        CHECK(recorder.closes[0][0].detail == 4000);

        // abort(): on_close(1006) before it returns, and this side ended it.
        REQUIRE(second->is_open());
        second->abort();
        REQUIRE(recorder.closes[1].size() == 1);
        CHECK(recorder.closes[1][0].code == close_code::kAbnormal);
        CHECK(recorder.closes[1][0].failure == ClientFailure::None);
        second->abort();  // a second end is a no-op
        second->close();
        CHECK(recorder.closes[1].size() == 1);
        CHECK(second->send("late") == SendStatus::Dropped);

        // Ended ids come back lowest first once poll() has returned.
        client.poll(0);
        const Url nowhere = url_of("ws://127.0.0.1:" + std::to_string(closed_port()) + "/");
        ClientWebSocket* refused = client.connect(nowhere);
        REQUIRE(refused);
        CHECK(refused->id() == 0);
        poll_until(client, [&] { return !recorder.connect_failures.empty(); });
        REQUIRE(recorder.connect_failures.size() == 1);
        CHECK(recorder.connect_failures[0].first == ClientFailure::Refused);
        CHECK(recorder.closes[0].size() == 1);  // a connection that never opened gets no on_close
        CHECK(client.live() == 0);
        CHECK(RunningServer::wait_for(running.closes, 2));
    }
}

TEST_CASE("surge::Client queues what the socket refuses, reports on_drain, and loses nothing") {
    for (net::Backend client_backend : client_backends()) {
        CAPTURE(client_backend);
        WebSocketBehavior patient;  // the echoes queue on the server while the client is still sending
        patient.max_backpressure_bytes = 64 << 20;
        RunningServer running(net::Backend::Epoll, {}, patient);
        const Url url = url_of("ws://127.0.0.1:" + std::to_string(running.port()) + "/");
        Recorder recorder;
        constexpr int kMessages = 96;  // 24 MiB: more than the server reads while on_open writes, on a busy machine too
        const std::string big(256 * 1024, 'b');
        int backpressured = 0;
        recorder.then_open = [&](ClientWebSocket& ws) {
            for (int i = 0; i < kMessages; ++i) {
                const SendStatus status = ws.send(big);
                CHECK(status != SendStatus::Dropped);
                backpressured += status == SendStatus::Backpressure;
            }
            CHECK(ws.buffered_amount() > 0);
        };
        ClientOptions options;
        options.max_pending_bytes = 64 << 20;
        Client client(recorder.behavior(), on_backend(client_backend, options), 2);
        REQUIRE(client.connect(url));
        poll_until(client, [&] { return recorder.messages[0].size() == kMessages; });
        CHECK(backpressured > 0);
        CHECK(recorder.drains == 1);
        CHECK(recorder.messages[0].size() == kMessages);
        CHECK(client.connection(0)->buffered_amount() == 0);
    }
}

TEST_CASE("surge::Client fails a certificate it does not trust and reports a refused upgrade") {
    for (net::Backend client_backend : client_backends()) {
        CAPTURE(client_backend);
        const TestCertificate server_certificate;
        const TestCertificate other_certificate;
        ServerConfig config;
        config.tls_cert_file = server_certificate.cert_file();
        config.tls_key_file = server_certificate.key_file();
        RunningServer running(net::Backend::Epoll, config);

        std::string error;
        auto context = net::TlsContext::make_client(true, other_certificate.cert_file(), error);
        REQUIRE(context);
        const Url url = url_of("wss://localhost:" + std::to_string(running.port()) + "/");
        Recorder recorder;
        ClientOptions options;
        options.tls = context.get();
        Client client(recorder.behavior(), on_backend(client_backend, options), 7);
        REQUIRE(client.connect(url));
        poll_until(client, [&] { return !recorder.connect_failures.empty(); });
        REQUIRE(recorder.connect_failures.size() == 1);
        CHECK(recorder.connect_failures[0].first == ClientFailure::Tls);
        CHECK(recorder.opens.empty());

        // wss:// without a TLS context fails at once.
        Client plain(recorder.behavior(), on_backend(client_backend), 8);
        CHECK_FALSE(plain.connect(url));
        REQUIRE(recorder.connect_failures.size() == 2);
        CHECK(recorder.connect_failures[1].first == ClientFailure::Tls);

        // A refused upgrade (the test server's origin check refuses "http://evil.example") reports the status.
        RunningServer open_server(net::Backend::Epoll);
        ClientOptions refused_options;
        refused_options.extra_headers = "Origin: http://evil.example\r\n";
        Client refused(recorder.behavior(), on_backend(client_backend, refused_options), 9);
        REQUIRE(refused.connect(url_of("ws://127.0.0.1:" + std::to_string(open_server.port()) + "/")));
        poll_until(refused, [&] { return recorder.connect_failures.size() == 3; });
        REQUIRE(recorder.connect_failures.size() == 3);
        CHECK(recorder.connect_failures[2].first == ClientFailure::HandshakeStatus);
        CHECK(recorder.connect_failures[2].second == 403);
        CHECK(recorder.closes.empty());
    }
}

TEST_CASE("surge::Client answers pings, reports pongs, and closes with 1002 when the server masks a frame") {
    for (net::Backend client_backend : client_backends()) {
        CAPTURE(client_backend);
        ScriptedPeer peer;
        std::pair<int, std::string> pong_seen;
        std::pair<int, std::string> close_seen;
        bool upgraded = false;
        std::thread server([&] {
            upgraded = peer.accept_upgrade();
            if (!upgraded) return;
            peer.send(frame(Opcode::Ping, "are you there", true, false));
            pong_seen = peer.read_frame();
            peer.send(frame(Opcode::Pong, "unasked", true, false));
            peer.send(frame(Opcode::Text, "a server must not mask", true, true));
            close_seen = peer.read_frame();
        });
        Recorder recorder;
        Client client(recorder.behavior(), on_backend(client_backend), 3);
        REQUIRE(client.connect(url_of("ws://127.0.0.1:" + std::to_string(peer.port()) + "/")));
        poll_until(client, [&] { return !recorder.closes[0].empty() || !recorder.connect_failures.empty(); });
        server.join();
        REQUIRE(upgraded);
        CHECK(recorder.pings == std::vector<std::string>{"are you there"});
        CHECK(pong_seen == std::pair<int, std::string>{0xA, "are you there"});
        CHECK(recorder.pongs == std::vector<std::string>{"unasked"});
        CHECK(recorder.messages.empty());
        REQUIRE(close_seen.first == 0x8);
        REQUIRE(close_seen.second.size() >= 2);
        CHECK(((static_cast<unsigned char>(close_seen.second[0]) << 8) | static_cast<unsigned char>(close_seen.second[1])) ==
              close_code::kProtocolError);
        REQUIRE(recorder.closes[0].size() == 1);
        CHECK(recorder.closes[0][0].code == close_code::kProtocolError);
        CHECK(recorder.closes[0][0].failure == ClientFailure::Protocol);
    }
}

TEST_CASE("surge::Client sends the answers to one read together and in order, a close reply among them last") {
    for (net::Backend client_backend : client_backends()) {
        CAPTURE(client_backend);
        ScriptedPeer peer;
        constexpr int kMessages = 64;
        std::vector<std::pair<int, std::string>> echoes;
        std::vector<std::pair<int, std::string>> last_read;
        std::uint32_t segments = 0;
        bool upgraded = false;
        std::thread server([&] {
            upgraded = peer.accept_upgrade();
            if (!upgraded) return;
            std::string burst;  // one write, so one segment and one read at the client
            for (int i = 0; i < kMessages; ++i) burst += frame(Opcode::Text, "m" + std::to_string(i), true, false);
            const std::uint32_t before = peer.segments_in();
            peer.send(burst);
            for (int i = 0; i < kMessages; ++i) echoes.push_back(peer.read_frame());
            segments = peer.segments_in() - before;
            // A ping, a message the client answers and the server's close, in one read: the pong, the answer and
            // the close reply are all corked, and the close ends the connection while they are.
            peer.send(frame(Opcode::Ping, "p", true, false) + frame(Opcode::Text, "bye", true, false) +
                      close_frame(close_code::kNormal, "done", false));
            for (int i = 0; i < 3; ++i) last_read.push_back(peer.read_frame());
        });
        Recorder recorder;
        recorder.then_message = [](ClientWebSocket& ws, std::string_view message) {
            CHECK(ws.send(message == "bye" ? "last" : message, Opcode::Text) == SendStatus::Success);
        };
        Client client(recorder.behavior(), on_backend(client_backend), 5);
        REQUIRE(client.connect(url_of("ws://127.0.0.1:" + std::to_string(peer.port()) + "/")));
        poll_until(client, [&] { return !recorder.closes[0].empty() || !recorder.connect_failures.empty(); });
        server.join();
        REQUIRE(upgraded);
        REQUIRE(echoes.size() == kMessages);
        for (int i = 0; i < kMessages; ++i) {
            CHECK(echoes[i] == std::pair<int, std::string>{0x1, "m" + std::to_string(i)});
        }
        // One write for the 64 answers (a write each took 64 segments); the rest is room for acknowledgements.
        CHECK(segments <= 4);
        REQUIRE(last_read.size() == 3);
        CHECK(last_read[0] == std::pair<int, std::string>{0xA, "p"});
        CHECK(last_read[1] == std::pair<int, std::string>{0x1, "last"});
        CHECK(last_read[2].first == 0x8);
        REQUIRE(recorder.closes[0].size() == 1);
        CHECK(recorder.closes[0][0].code == close_code::kNormal);
    }
}

TEST_CASE("surge::Client times out a server that never answers the upgrade, and a callback may connect again") {
    for (net::Backend client_backend : client_backends()) {
        CAPTURE(client_backend);
        ScriptedPeer silent;  // listens, so TCP connects, but never accepts or answers
        const Url url = url_of("ws://127.0.0.1:" + std::to_string(silent.port()) + "/");
        Recorder recorder;
        Client* self = nullptr;
        // Reconnecting from inside on_connect_failed, while expire_unopened() walks the connections: the new one takes
        // a new id (the failed one's is not free until the walk is over) and is not expired by the same walk.
        ClientBehavior behavior = recorder.behavior();
        behavior.on_connect_failed = [&](ClientWebSocket& ws, ClientFailure why, int detail) {
            recorder.connect_failures.emplace_back(why, detail);
            if (recorder.connect_failures.size() == 1) {
                ClientWebSocket* again = self->connect(url);
                REQUIRE(again);
                CHECK(again->id() == ws.id() + 1);
            }
        };
        Client client(behavior, on_backend(client_backend), 4);
        self = &client;
        REQUIRE(client.connect(url));
        for (int i = 0; i < 5; ++i) client.poll(10);
        CHECK(recorder.connect_failures.empty());
        CHECK(client.live() == 1);
        client.expire_unopened(monotonic_ns() + 1);
        REQUIRE(recorder.connect_failures.size() == 1);
        CHECK(recorder.connect_failures[0].first == ClientFailure::Timeout);
        CHECK(client.live() == 1);  // the one made in the callback
        client.expire_unopened(monotonic_ns() + 1);
        CHECK(recorder.connect_failures.size() == 2);
        CHECK(client.live() == 0);
        CHECK(client.connect(url)->id() == 0);  // both ids are free again, the lowest first
    }
}

TEST_CASE("surge::Client cuts a close the server never answers after close_timeout_ms") {
    for (net::Backend client_backend : client_backends()) {
        CAPTURE(client_backend);
        ScriptedPeer peer;
        std::pair<int, std::string> close_seen;
        std::thread server([&] {
            if (peer.accept_upgrade()) close_seen = peer.read_frame();  // and never answers it
        });
        Recorder recorder;
        recorder.then_open = [](ClientWebSocket& ws) { ws.close(4321, "bye"); };
        ClientOptions options;
        options.close_timeout_ms = 100;
        Client client(recorder.behavior(), on_backend(client_backend, options), 6);
        REQUIRE(client.connect(url_of("ws://127.0.0.1:" + std::to_string(peer.port()) + "/")));
        poll_until(client, [&] { return !recorder.closes[0].empty(); });
        server.join();
        CHECK(close_seen.first == 0x8);
        CHECK(close_seen.second == std::string("\x10\xe1") + "bye");  // 4321
        REQUIRE(recorder.closes[0].size() == 1);
        CHECK(recorder.closes[0][0].code == close_code::kAbnormal);
        CHECK(recorder.closes[0][0].failure == ClientFailure::Timeout);
        CHECK(client.live() == 0);
    }
}

TEST_CASE("surge::Client waiting for a batch of completions (wait_batch) still gets every message, few or many") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        RunningServer running(backend);
        Recorder recorder;
        recorder.then_open = [](ClientWebSocket& ws) {
            for (int i = 0; i < 5; ++i) CHECK(ws.send("few " + std::to_string(i), Opcode::Text) == SendStatus::Success);
        };
        // Fewer echoes than the batch: they come when the delay has passed. Then more than a batch at once.
        Client client(recorder.behavior(), on_backend(backend, {.wait_batch = 32, .wait_batch_us = 2000}), 11);
        REQUIRE(client.connect(url_of("ws://127.0.0.1:" + std::to_string(running.port()) + "/")));
        poll_until(client, [&] { return recorder.messages[0].size() == 5 || !recorder.connect_failures.empty(); });
        REQUIRE(recorder.messages[0].size() == 5);
        ClientWebSocket* ws = client.connection(0);
        REQUIRE(ws);
        for (int i = 0; i < 500; ++i) REQUIRE(ws->send("many " + std::to_string(i), Opcode::Text) != SendStatus::Dropped);
        poll_until(client, [&] { return recorder.messages[0].size() == 505; });
        REQUIRE(recorder.messages[0].size() == 505);
        for (int i = 0; i < 5; ++i) CHECK(recorder.messages[0][static_cast<std::size_t>(i)] == "few " + std::to_string(i));
        for (int i = 0; i < 500; ++i) {
            CHECK(recorder.messages[0][static_cast<std::size_t>(5 + i)] == "many " + std::to_string(i));
        }
    }
}
