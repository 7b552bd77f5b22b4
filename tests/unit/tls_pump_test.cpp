#include "surge/net/tls_pump.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/support/test_certificate.hpp"

using namespace surge;
using net::TlsPumpStatus;

namespace {

// One side of an in-memory TLS connection: ciphertext it sends collects in `wire`, plaintext it receives in
// `received`. `stop_after` ends the link after that many plaintext calls (as a connection closed inside one).
struct MemoryLink final : net::TlsLink {
    std::string wire;
    std::string received;
    int established = 0;
    int plaintext_calls = 0;
    int stop_after = -1;
    bool send_ciphertext(std::span<const char> bytes) noexcept override {
        wire.append(bytes.data(), bytes.size());
        return true;
    }
    bool on_plaintext(std::span<char> bytes) override {
        received.append(bytes.data(), bytes.size());
        return ++plaintext_calls != stop_after;
    }
    bool on_established() override {
        ++established;
        return true;
    }
    std::string take() { return std::exchange(wire, {}); }
};

struct Pair {
    test::TestCertificate certificate;
    std::unique_ptr<net::TlsContext> server_context, client_context;
    net::TlsSession server, client;
    MemoryLink server_link, client_link;

    Pair() {
        std::string error;
        server_context = net::TlsContext::make_server(certificate.cert_file(), certificate.key_file(), error);
        client_context = net::TlsContext::make_client(false, {}, error);
        REQUIRE(server_context);
        REQUIRE(client_context);
        REQUIRE(server.init(*server_context));
        REQUIRE(client.init(*client_context, "localhost"));
    }

    // Runs the handshake to its end through two pumps, the server's limited to `budget` handshakes a turn.
    void handshake(net::TlsPump& server_pump, net::TlsPump& client_pump) {
        REQUIRE(client_pump.resume(client, client_link) == TlsPumpStatus::Open);  // the hello
        for (int round = 0; round < 10 && !(server.handshake_done() && client.handshake_done()); ++round) {
            server_pump.begin_turn();
            const std::string hello = client_link.take();
            if (!hello.empty()) REQUIRE(server_pump.receive(server, hello, server_link) == TlsPumpStatus::Open);
            const std::string answer = server_link.take();
            if (!answer.empty()) REQUIRE(client_pump.receive(client, answer, client_link) == TlsPumpStatus::Open);
        }
        REQUIRE(server.handshake_done());
        REQUIRE(client.handshake_done());
    }
};

std::string encrypt(net::TlsPump& pump, net::TlsSession& session, MemoryLink& link, std::vector<std::string> pieces) {
    std::vector<iovec> iov;
    for (std::string& p : pieces) iov.push_back({p.data(), p.size()});
    REQUIRE(pump.send(session, iov.data(), static_cast<int>(iov.size()), link));
    return link.take();
}

}  // namespace

TEST_CASE("two pumps complete a handshake and carry plaintext both ways, whole or fed a byte at a time") {
    Pair pair;
    net::TlsPump server_pump, client_pump;
    pair.handshake(server_pump, client_pump);
    CHECK(pair.client_link.established == 1);
    CHECK(pair.server_link.established == 1);

    const std::string wire = encrypt(client_pump, pair.client, pair.client_link, {"GET / HTTP/1.1\r\n", "\r\n"});
    CHECK(server_pump.receive(pair.server, wire, pair.server_link) == TlsPumpStatus::Open);
    CHECK(pair.server_link.received == "GET / HTTP/1.1\r\n\r\n");

    const std::string big(100 * 1024, 'x');  // several records
    const std::string reply = encrypt(server_pump, pair.server, pair.server_link, {"head", big});
    std::size_t not_open = 0;
    for (char byte : reply) {
        not_open += client_pump.receive(pair.client, {&byte, 1}, pair.client_link) != TlsPumpStatus::Open;
    }
    CHECK(not_open == 0);
    CHECK(pair.client_link.received == "head" + big);
}

TEST_CASE("handshakes past the turn's budget are deferred to the next turn, then go on") {
    Pair pair;
    net::TlsPump server_pump(1), client_pump;
    REQUIRE(client_pump.resume(pair.client, pair.client_link) == TlsPumpStatus::Open);
    const std::string hello = pair.client_link.take();
    server_pump.begin_turn();
    net::TlsSession other;  // another connection's handshake takes this turn's one step
    REQUIRE(other.init(*pair.server_context));
    MemoryLink other_link;
    CHECK(server_pump.resume(other, other_link) == TlsPumpStatus::Open);
    CHECK(server_pump.receive(pair.server, hello, pair.server_link) == TlsPumpStatus::Deferred);
    CHECK(pair.server_link.wire.empty());
    server_pump.begin_turn();
    CHECK(server_pump.resume(pair.server, pair.server_link) == TlsPumpStatus::Open);
    CHECK_FALSE(pair.server_link.wire.empty());  // the server's flight went out
}

TEST_CASE("a link that ends inside a call stops the pump, and close_notify reaches the peer once") {
    Pair pair;
    net::TlsPump server_pump, client_pump;
    pair.handshake(server_pump, client_pump);
    std::string wire = encrypt(client_pump, pair.client, pair.client_link, {"one"});
    wire += encrypt(client_pump, pair.client, pair.client_link, {"two"});
    pair.server_link.stop_after = 1;
    CHECK(server_pump.receive(pair.server, wire, pair.server_link) == TlsPumpStatus::Ended);
    CHECK(pair.server_link.received == "one");

    CHECK(net::TlsPump::close_notify(pair.server, pair.server_link));
    CHECK_FALSE(net::TlsPump::close_notify(pair.server, pair.server_link));  // once
    CHECK(client_pump.receive(pair.client, pair.server_link.take(), pair.client_link) == TlsPumpStatus::PeerClosed);
}

TEST_CASE("garbage instead of a handshake fails") {
    Pair pair;
    net::TlsPump server_pump;
    const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(server_pump.receive(pair.server, junk, pair.server_link) == TlsPumpStatus::Failed);
    CHECK_FALSE(net::TlsPump::close_notify(pair.server, pair.server_link));  // no handshake: nothing to close
}
