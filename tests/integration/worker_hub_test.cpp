// surge-push's workers' hub (tools/push/worker_hub.hpp) with the Redis broker it serves, in process, on both
// backends: two servers on one hub are nodes of one cluster (one offset per publication, deliveries to both, a
// resume on the other), the hub refuses what is not its protocol or not authenticated, and cuts a subscriber
// connection that stops reading instead of holding its output without bound.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "surge/ws/redis_broker.hpp"
#include "surge/ws/server.hpp"
#include "tests/support/blocking_io.hpp"
#include "tests/support/resume_protocol.hpp"
#include "tests/support/running_server.hpp"
#include "tools/push/worker_hub.hpp"

using namespace surge;
using namespace surge::test;

namespace {

std::unique_ptr<RunningServer> node_on(const RedisOptions& options, net::Backend backend) {
    ServerConfig config;
    config.broker = std::make_shared<RedisBroker>(options);
    auto running = std::make_unique<RunningServer>(backend, config, resume_behavior());
    open_client(running->port());  // served: running
    return running;
}

// A plain TCP connection to the hub, for what a broker would never send.
class RawConnection {
public:
    explicit RawConnection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        timeval timeout{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        int small = 4096;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    }
    ~RawConnection() { ::close(fd_); }
    void send(std::string_view bytes) {
        REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
    }
    std::string read_some() {
        char buffer[4096];
        const ssize_t got = surge::test::recv_retrying(fd_, buffer, sizeof buffer);
        return got > 0 ? std::string(buffer, static_cast<std::size_t>(got)) : std::string();
    }
    // Reads until the hub closes the connection; false if it is still open after `limit` bytes or 5 s of silence.
    bool read_until_closed(std::size_t limit) {
        std::size_t total = 0;
        char buffer[65536];
        while (total <= limit) {
            const ssize_t got = surge::test::recv_retrying(fd_, buffer, sizeof buffer);
            if (got == 0 || (got < 0 && errno == ECONNRESET)) return true;
            if (got < 0) return false;  // the timeout: still open, and silent
            total += static_cast<std::size_t>(got);
        }
        return false;
    }

private:
    int fd_;
};

std::uint16_t port_of(const std::string& url) {
    return static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

}  // namespace

TEST_CASE("workers' hub: two servers on it number each publication once, both deliver it, a resume lands anywhere") {
    for (net::Backend backend : test_backends()) {
        CAPTURE(backend);
        std::string why;
        const auto hub = push::WorkerHub::open({}, why);
        REQUIRE(hub);
        hub->start();
        RedisOptions options;
        REQUIRE(RedisOptions::parse_url(hub->url(), options, why));
        const auto a = node_on(options, backend);
        const auto b = node_on(options, backend);
        auto on_a = open_client(a->port());
        std::vector<std::string> early;
        const Subscribed first = subscribe(*on_a, "sub feed", early);
        CHECK_FALSE(first.epoch.empty());
        for (std::uint64_t n = 1; n <= 100; ++n) {
            const PublishResult r = b->server().publish("feed", "f" + std::to_string(n), Opcode::Text);
            REQUIRE(r.ok());
            CHECK(r.offset == n);
        }
        for (std::uint64_t n = 1; n <= 100; ++n) {
            const ReceivedFrame frame = on_a->read_data_frame();
            REQUIRE(frame.ok);
            REQUIRE(offset_of(frame.payload) == n);
        }
        auto on_b = open_client(b->port());
        std::vector<std::string> missed;
        const Subscribed resumed = subscribe(*on_b, "sub feed 50 " + first.epoch, missed);
        CHECK(resumed.recovered);
        CHECK(resumed.epoch == first.epoch);
        REQUIRE(missed.size() == 50);
        CHECK(offset_of(missed.front()) == 51);
        CHECK(offset_of(missed.back()) == 100);

        // The password is the hub's: another one publishes nothing.
        RedisOptions wrong = options;
        wrong.password = "not-it";
        RedisBroker outsider(wrong);
        CHECK(outsider.publish("feed", "x", Opcode::Text, {}) == PublishStatus::Unavailable);
        CHECK(b->server().publish("feed", "f101", Opcode::Text).offset == 101);  // nothing was taken meanwhile
    }
}

TEST_CASE("workers' hub: commands outside its protocol are refused, and a subscriber that stops reading is cut") {
    std::string why;
    push::HubLimits limits;
    limits.max_output_bytes = 256 * 1024;
    const auto hub = push::WorkerHub::open(limits, why);
    REQUIRE(hub);
    hub->start();
    RedisOptions options;
    REQUIRE(RedisOptions::parse_url(hub->url(), options, why));
    const std::uint16_t port = port_of(hub->url());
    {
        RawConnection raw(port);
        raw.send("*1\r\n$4\r\nPING\r\n");
        CHECK(raw.read_some().rfind("-NOAUTH", 0) == 0);
        raw.send("*2\r\n$4\r\nAUTH\r\n$" + std::to_string(options.password.size()) + "\r\n" + options.password + "\r\n");
        CHECK(raw.read_some() == "+OK\r\n");
        raw.send("*1\r\n$8\r\nFLUSHALL\r\n");
        CHECK(raw.read_some().rfind("-ERR unknown command", 0) == 0);
        raw.send("GET x\r\n");  // inline: not served, and the connection ends
        CHECK(raw.read_some().rfind("-ERR", 0) == 0);
        CHECK(raw.read_until_closed(0));
    }
    RawConnection stalled(port);
    stalled.send("*2\r\n$4\r\nAUTH\r\n$" + std::to_string(options.password.size()) + "\r\n" + options.password + "\r\n" +
                 "*2\r\n$9\r\nSUBSCRIBE\r\n$7\r\nsurge:c:t\r\n");
    RedisBroker publisher(options);
    const std::string body(8 * 1024, 'x');
    for (int i = 0; i < 200; ++i) REQUIRE(publisher.publish("t", body, Opcode::Text, {}).ok());  // 1.6 MB for it
    CHECK(stalled.read_until_closed(4 * 1024 * 1024));  // cut past 256 KiB waiting, not held without bound
    CHECK(publisher.publish("t", "after", Opcode::Text, {}).offset == 201);  // the hub serves on
}

TEST_CASE("workers' hub: past max_topics the topic idle longest without history makes room, one with history never") {
    std::string why;
    push::HubLimits limits;
    limits.max_topics = 3;
    const auto hub = push::WorkerHub::open(limits, why);
    REQUIRE(hub);
    hub->start();
    RedisOptions options;
    REQUIRE(RedisOptions::parse_url(hub->url(), options, why));
    RedisOptions keeping = options, none = options;
    keeping.history_size = 10;
    none.history_size = 0;
    RedisBroker keeper(keeping), plain(none);
    // A topic forgotten and named again gets a new epoch: that is how a test sees which one made room.
    auto epoch_of = [&](std::string_view topic) {
        const BrokerHistory h = plain.history(topic, Broker::kNewest, 1);
        REQUIRE(h.ok);
        return h.epoch;
    };

    REQUIRE(keeper.publish("kept", "k1", Opcode::Text, {}).offset == 1);
    const std::string b = epoch_of("b");
    const std::string c = epoch_of("c");
    CHECK(epoch_of("b") == b);  // b used again: c is now the one idle longest
    const std::string d = epoch_of("d");
    CHECK(epoch_of("b") == b);  // d took c's place, not b's
    CHECK(epoch_of("c") != c);  // c was forgotten, and now takes d's place (d idle longest)
    CHECK(epoch_of("b") == b);
    CHECK(epoch_of("d") != d);

    // With history, nothing is forgotten: once every topic held has some, a new one is refused.
    REQUIRE(keeper.publish("kept", "k2", Opcode::Text, {}).offset == 2);
    REQUIRE(keeper.publish("x", "x1", Opcode::Text, {}).ok());  // makes room: one of the idle
    REQUIRE(keeper.publish("y", "y1", Opcode::Text, {}).ok());  // and the last idle one
    CHECK_FALSE(plain.history("z", Broker::kNewest, 1).ok);
    CHECK(keeper.publish("z", "z1", Opcode::Text, {}) != PublishStatus::Success);
    const BrokerHistory kept = plain.history("kept", Broker::kNewest, 10);
    REQUIRE(kept.ok);
    CHECK(kept.last_offset == 2);
    CHECK(kept.entries.size() == 2);
    CHECK(keeper.publish("x", "x2", Opcode::Text, {}).offset == 2);  // the held ones serve on
}

TEST_CASE("redis URLs: user, password, host (IPv6 too), port and database, and what is refused") {
    RedisOptions o;
    std::string why;
    REQUIRE(RedisOptions::parse_url("redis://app:s3cr:et@cache.internal:6380/2", o, why));
    CHECK(o.username == "app");
    CHECK(o.password == "s3cr:et");
    CHECK(o.host == "cache.internal");
    CHECK(o.port == 6380);
    CHECK(o.database == 2);
    RedisOptions v6;
    REQUIRE(RedisOptions::parse_url("redis://:pw@[::1]:7000", v6, why));
    CHECK(v6.username.empty());
    CHECK(v6.password == "pw");
    CHECK(v6.host == "::1");
    CHECK(v6.port == 7000);
    RedisOptions plain;
    REQUIRE(RedisOptions::parse_url("redis://10.0.0.5", plain, why));
    CHECK(plain.port == 6379);
    CHECK(plain.database == 0);
    for (const char* bad : {"rediss://h:6379", "http://h", "redis://", "redis://h:0", "redis://h:65536", "redis://h/x",
                            "redis://[::1", "redis://[::1]x"}) {
        CAPTURE(bad);
        RedisOptions refused;
        why.clear();
        CHECK_FALSE(RedisOptions::parse_url(bad, refused, why));
        CHECK_FALSE(why.empty());
    }
}
