// surge::Client against surge::Server, on both server backends: ws:// and wss:// (a certificate made by the test,
// verified by the client), with and without permessage-deflate, whole messages echoed intact across sizes that
// span TLS records and reads; a certificate the client does not trust fails with ClientFailure::Tls; an upgrade
// refused with a status is reported with it.
#include "ws/client.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "net/tls.hpp"
#include "tests/support/running_server.hpp"
#include "tests/support/test_certificate.hpp"
#include "ws/url.hpp"

using namespace surge;
using namespace surge::test;

namespace {

// Opens `count` connections, sends each message on each, and records what comes back.
struct EchoRecorder final : ClientHandler {
    std::vector<std::string> messages;
    std::map<std::uint32_t, std::vector<std::string>> received;
    std::map<std::uint32_t, std::size_t> next;
    int opened = 0;
    int failed = 0;
    ClientFailure last_failure = ClientFailure::Other;
    int last_detail = 0;
    Client* client = nullptr;

    void on_open(std::uint32_t id) override {
        ++opened;
        client->send(id, Opcode::Text, messages[0]);
        next[id] = 1;
    }
    void on_message(std::uint32_t id, Opcode, std::uint64_t size, std::string_view bytes) override {
        CHECK(bytes.size() == size);  // whole_messages: always all of it
        received[id].emplace_back(bytes);
        if (next[id] < messages.size()) client->send(id, Opcode::Text, messages[next[id]++]);
    }
    void on_failed(std::uint32_t, ClientFailure why, int detail) override {
        ++failed;
        last_failure = why;
        last_detail = detail;
    }
};

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

// Runs the client until every connection has all its echoes or failed (bounded: 20 s).
void run_until_done(Client& client, EchoRecorder& recorder, int connections) {
    const long long deadline = monotonic_ms() + 20000;
    auto done = [&] {
        int finished = recorder.failed;
        for (const auto& [id, got] : recorder.received) finished += got.size() == recorder.messages.size();
        return finished >= connections;
    };
    while (!done() && monotonic_ms() < deadline) client.poll(50);
}

void echo_through(std::uint16_t port, bool tls, bool deflate, const std::string& ca_file) {
    std::string error;
    std::unique_ptr<net::TlsContext> context;
    if (tls) {
        context = net::TlsContext::make_client(true, ca_file, error);
        REQUIRE(context);
    }
    Url url;
    REQUIRE(parse_url((tls ? "wss://localhost:" : "ws://localhost:") + std::to_string(port) + "/echo", url, error));
    EchoRecorder recorder;
    recorder.messages = sample_messages();
    ClientOptions options;
    options.whole_messages = true;
    options.tls = context.get();
    options.deflate = deflate;
    Client client(recorder, options, 42);
    recorder.client = &client;
    constexpr int kConnections = 4;
    for (std::uint32_t id = 0; id < kConnections; ++id) REQUIRE(client.connect(id, url));
    run_until_done(client, recorder, kConnections);
    CHECK(recorder.failed == 0);
    CHECK(recorder.opened == kConnections);
    for (std::uint32_t id = 0; id < kConnections; ++id) CHECK(recorder.received[id] == recorder.messages);
    for (std::uint32_t id = 0; id < kConnections; ++id) client.close(id, false);
}

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
                echo_through(running.port(), tls, deflate, certificate.cert_file());
            }
        }
    }
}

TEST_CASE("surge::Client fails a certificate it does not trust and reports a refused upgrade") {
    const TestCertificate server_certificate;
    const TestCertificate other_certificate;
    ServerConfig config;
    config.tls_cert_file = server_certificate.cert_file();
    config.tls_key_file = server_certificate.key_file();
    RunningServer running(net::Backend::Epoll, config);

    std::string error;
    auto context = net::TlsContext::make_client(true, other_certificate.cert_file(), error);
    REQUIRE(context);
    Url url;
    REQUIRE(parse_url("wss://localhost:" + std::to_string(running.port()) + "/", url, error));
    EchoRecorder recorder;
    recorder.messages = {"never sent"};
    ClientOptions options;
    options.tls = context.get();
    Client client(recorder, options, 7);
    recorder.client = &client;
    REQUIRE(client.connect(0, url));
    run_until_done(client, recorder, 1);
    CHECK(recorder.failed == 1);
    CHECK(recorder.last_failure == ClientFailure::Tls);
    CHECK(recorder.opened == 0);

    // wss:// without a TLS context fails at once.
    ClientOptions plain_options;
    Client plain(recorder, plain_options, 8);
    CHECK_FALSE(plain.connect(1, url));
    CHECK(recorder.last_failure == ClientFailure::Tls);

    // A refused upgrade (the test server's origin check refuses "http://evil.example") reports the status.
    RunningServer open_server(net::Backend::Epoll);
    Url ws_url;
    REQUIRE(parse_url("ws://127.0.0.1:" + std::to_string(open_server.port()) + "/", ws_url, error));
    ClientOptions refused_options;
    refused_options.extra_headers = "Origin: http://evil.example\r\n";
    Client refused(recorder, refused_options, 9);
    recorder.client = &refused;
    REQUIRE(refused.connect(2, ws_url));
    run_until_done(refused, recorder, 3);
    CHECK(recorder.last_failure == ClientFailure::HandshakeStatus);
    CHECK(recorder.last_detail == 403);
}
