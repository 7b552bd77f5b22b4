// The reactor seam's contracts (net/reactor.hpp), on both backends. Closing, with more connections than
// io_uring's submission queue holds: close() ends whatever is in flight on a connection (an armed receive, a send
// waiting for room), on_closed() follows for every one and nothing else does, the peer reads the end of the
// stream, and no descriptor is left open. A connection add_connection() accepted is one it receives on. And a
// send that finds the socket full after the peer has shut its side waits for room without spinning.
#include "surge/net/reactor.hpp"

#include <doctest/doctest.h>

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/reactor_harness.hpp"

using namespace surge::net;
using surge::test::LoopbackPairs;
using surge::test::SlotHandler;
using surge::test::test_backends;

namespace {

int open_descriptors() {
    int count = 0;
    DIR* dir = ::opendir("/proc/self/fd");
    REQUIRE(dir != nullptr);
    while (const dirent* entry = ::readdir(dir)) count += entry->d_name[0] != '.';
    ::closedir(dir);
    return count;
}

// Runs the loop until `done` or about five seconds have passed; whether `done` came.
template <typename Done>
bool run_until(Reactor& reactor, Done done) {
    for (int turn = 0; turn < 500 && !done(); ++turn) reactor.run_once(10);
    return done();
}

// Whether `fd` reads the end of the stream within a second (data before it is read and dropped).
bool reads_end(int fd) {
    char buffer[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 1000) != 1) return false;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n == 0) return true;
        if (n < 0) return false;  // a reset is not the orderly end a close with nothing unread sends
    }
}

}  // namespace

TEST_CASE("close() of many connections with a receive armed: each reports on_closed once, its peer reads the end "
          "of the stream, and no descriptor is left") {
    constexpr int kConnections = 700;  // more than io_uring's submission queue takes at once (512)
    for (const Backend backend : test_backends()) {
        CAPTURE(backend_name(backend));
        const int before = open_descriptors();
        {
            SlotHandler counter(kConnections);
            ReactorResult made = make_reactor(backend, counter);
            REQUIRE(made.reactor);
            Reactor& reactor = *made.reactor;
            reactor.run_once(0);  // started: connections are added from the loop's thread, as a shard does
            LoopbackPairs pairs(kConnections);
            REQUIRE(pairs.error == 0);
            for (int i = 0; i < kConnections; ++i) {
                counter.hold(static_cast<std::uint64_t>(i), pairs.ours[i]);
                REQUIRE(reactor.add_connection(pairs.ours[i], static_cast<std::uint64_t>(i)) == 0);
                REQUIRE(::send(pairs.peers[i], "x", 1, MSG_NOSIGNAL) == 1);
            }
            REQUIRE(run_until(reactor, [&] {
                for (int i = 0; i < kConnections; ++i) {
                    if (counter.received(static_cast<std::uint64_t>(i)) != 1) return false;
                }
                return true;
            }));
            for (int i = 0; i < kConnections; ++i) {
                reactor.close(static_cast<std::uint64_t>(i), pairs.ours[i]);
                counter.forget(static_cast<std::uint64_t>(i));
            }
            CHECK(run_until(reactor, [&] { return counter.closed == kConnections; }));
            for (int turn = 0; turn < 5; ++turn) reactor.run_once(10);  // nothing more may come
            CHECK(counter.closed == kConnections);
            CHECK(counter.ended == 0);  // closed by us: no end of stream reported
            int ended = 0;
            for (const int peer : pairs.peers) ended += reads_end(peer);
            CHECK(ended == kConnections);
        }
        CHECK(open_descriptors() == before);
    }
}

TEST_CASE("close() of a connection whose send waits for room: on_closed comes, on_sent does not") {
    for (const Backend backend : test_backends()) {
        CAPTURE(backend_name(backend));
        const int before = open_descriptors();
        {
            SlotHandler counter(1);
            ReactorResult made = make_reactor(backend, counter);
            REQUIRE(made.reactor);
            Reactor& reactor = *made.reactor;
            reactor.run_once(0);
            LoopbackPairs pairs(1, true);
            REQUIRE(pairs.error == 0);
            counter.hold(0, pairs.ours[0]);
            REQUIRE(reactor.add_connection(pairs.ours[0], 0) == 0);
            // Fill the socket (the peer reads nothing), then queue a send that can only wait.
            std::string block(1 << 16, 'b');
            iovec piece{block.data(), block.size()};
            while (reactor.try_write(pairs.ours[0], &piece, 1) > 0) {
            }
            reactor.send(0, pairs.ours[0], &piece, 1);
            for (int turn = 0; turn < 20; ++turn) reactor.run_once(10);
            REQUIRE(counter.sent == 0);  // still waiting: the peer reads nothing and the buffers cannot grow
            reactor.close(0, pairs.ours[0]);
            counter.forget(0);
            CHECK(run_until(reactor, [&] { return counter.closed == 1; }));
            for (int turn = 0; turn < 5; ++turn) reactor.run_once(10);
            CHECK(counter.sent == 0);
            CHECK(counter.closed == 1);
        }
        CHECK(open_descriptors() == before);
    }
}

TEST_CASE("add_connection() before the loop's first turn: every connection it accepts is received on") {
    // io_uring queues the receives until the ring starts; past its submission queue it must refuse (-EBUSY), not
    // accept a connection it will never read.
    constexpr int kConnections = 700;
    for (const Backend backend : test_backends()) {
        CAPTURE(backend_name(backend));
        SlotHandler counter(kConnections);
        ReactorResult made = make_reactor(backend, counter);
        REQUIRE(made.reactor);
        Reactor& reactor = *made.reactor;
        LoopbackPairs pairs(kConnections);
        REQUIRE(pairs.error == 0);
        std::vector<bool> accepted(kConnections);
        int refused = 0;
        for (int i = 0; i < kConnections; ++i) {
            counter.hold(static_cast<std::uint64_t>(i), pairs.ours[i]);
            const int added = reactor.add_connection(pairs.ours[i], static_cast<std::uint64_t>(i));
            CHECK((added == 0 || added == -EBUSY));
            accepted[i] = added == 0;
            refused += added != 0;
            REQUIRE(::send(pairs.peers[i], "x", 1, MSG_NOSIGNAL) == 1);
        }
        CHECK(run_until(reactor, [&] {
            for (int i = 0; i < kConnections; ++i) {
                if (accepted[i] && counter.received(static_cast<std::uint64_t>(i)) != 1) return false;
            }
            return true;
        }));
        if (backend == Backend::Epoll) CHECK(refused == 0);
        for (int i = 0; i < kConnections; ++i) {
            if (accepted[i]) {
                reactor.close(static_cast<std::uint64_t>(i), pairs.ours[i]);
            } else {
                ::close(pairs.ours[i]);
            }
        }
        run_until(reactor, [&] { return counter.closed == kConnections - refused; });
    }
}

TEST_CASE("a send that finds the socket full after the peer has shut its side waits for room without spinning, "
          "then goes out whole") {
    // io_uring reports the peer's hang-up to every poll, so such a send used to complete at once with nothing
    // written, every time, and a caller that sends the rest again (as the seam asks) spun until the peer read.
    class Resender final : public SlotHandler {
    public:
        Resender() : SlotHandler(1) {}
        Reactor* reactor = nullptr;
        std::string pending;  // what is still to be sent, from the front
        int empty_completions = 0;
        void send_rest() {
            iovec piece{pending.data(), pending.size()};
            reactor->send(0, fd_of(0), &piece, 1);
        }
        void on_sent(std::uint64_t, int result) override {
            REQUIRE(result >= 0);
            if (result == 0) ++empty_completions;
            pending.erase(0, static_cast<std::size_t>(result));
            if (!pending.empty()) send_rest();
        }
    };
    for (const Backend backend : test_backends()) {
        CAPTURE(backend_name(backend));
        Resender handler;
        ReactorResult made = make_reactor(backend, handler);
        REQUIRE(made.reactor);
        Reactor& reactor = *made.reactor;
        handler.reactor = &reactor;
        reactor.run_once(0);
        LoopbackPairs pairs(1, true);
        REQUIRE(pairs.error == 0);
        handler.hold(0, pairs.ours[0]);
        REQUIRE(reactor.add_connection(pairs.ours[0], 0) == 0);
        REQUIRE(::shutdown(pairs.peers[0], SHUT_WR) == 0);  // the peer is done sending, and reads nothing yet
        REQUIRE(run_until(reactor, [&] { return handler.ended == 1; }));
        std::string block(1 << 16, 'b');
        iovec piece{block.data(), block.size()};
        std::size_t sent = 0;
        for (long n; (n = reactor.try_write(pairs.ours[0], &piece, 1)) > 0;) sent += static_cast<std::size_t>(n);
        handler.pending.assign(1 << 16, 'c');
        handler.send_rest();
        // Half a second of the loop while nothing can move: a spinning send would complete thousands of times.
        int turns = 0;
        for (const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
             std::chrono::steady_clock::now() < until; ++turns) {
            reactor.run_once(100);
        }
        CHECK(handler.empty_completions < 5);
        CHECK(turns < 500);  // io_uring tries the send again every 10 ms (two completions each); a spin: thousands
        // The peer reads: everything arrives, the waiting send's bytes last.
        std::string received;
        REQUIRE(run_until(reactor, [&] {
            char buffer[65536];
            for (ssize_t n; (n = ::recv(pairs.peers[0], buffer, sizeof buffer, MSG_DONTWAIT)) > 0;) {
                received.append(buffer, static_cast<std::size_t>(n));
            }
            return handler.pending.empty() && received.size() == sent + (1 << 16);
        }));
        CHECK(received.ends_with(std::string(1 << 16, 'c')));
        reactor.close(0, pairs.ours[0]);
        handler.forget(0);
        CHECK(run_until(reactor, [&] { return handler.closed == 1; }));
    }
}
