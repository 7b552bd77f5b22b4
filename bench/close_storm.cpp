// close-storm: what closing many connections costs a shard's reactor, per backend, measured in one run. Each
// round opens N loopback connections, hands their accepted ends to a reactor (which arms a receive on each, as a
// server's shard does), then closes all of them from the reactor's side and runs the loop until every on_closed()
// has come: the CPU time of that (this process's utime + stime, so the kernel's share counts) divided by N is the
// cost of one close. A server closes connections itself on idle timeouts, slow consumers, a drain or a shutdown,
// and a close must not cost more the more connections the shard holds: the per-close figure should stay flat as N
// grows. epoll (remove from the interest list, close) is the in-run baseline io_uring's figure is a ratio of.
// --subscribed: each connection is also announced for broadcasts first (Reactor::expect_batch_writes(), what a
// subscription does), so that io_uring's batch writer holds it in its file table and a close must take it out.
// Usage: close-storm [--connections N[,N...]] [--rounds R] [--subscribed]   (N up to ~9,000: both ends are this
//        process's)
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "surge/net/reactor.hpp"
#include "tests/support/reactor_harness.hpp"

namespace {

using surge::net::Backend;
using surge::test::LoopbackPairs;
using surge::test::SlotHandler;

// This process's user and system CPU time. getrusage(), not loadgen's /proc reader, whose clock ticks (10 ms) are
// as long as a whole round at 1,000 connections.
double cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "close-storm: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

// One round: the seconds of CPU closing `count` held connections took on `backend`, or a negative number when the
// backend cannot be made here.
double close_round(Backend backend, std::size_t count, bool subscribed) {
    SlotHandler holder(count);
    auto made = surge::net::make_reactor(backend, holder);
    if (!made.reactor) return -1;
    surge::net::Reactor& reactor = *made.reactor;
    reactor.run_once(0);  // a reactor is started by its first turn (io_uring: the ring is enabled)
    const LoopbackPairs pairs(count);
    if (pairs.error != 0) {
        errno = pairs.error;
        fail("connecting over loopback");
    }
    for (std::size_t i = 0; i < count; ++i) {
        holder.hold(i, pairs.ours[i]);
        if (reactor.add_connection(pairs.ours[i], i) != 0) fail("add_connection");
        if (subscribed) reactor.expect_batch_writes(pairs.ours[i]);
    }
    // Every receive armed (and proven live: one byte each arrives through it) before the clock starts.
    for (const int peer : pairs.peers) {
        if (::send(peer, "x", 1, MSG_NOSIGNAL) != 1) fail("send");
    }
    while (holder.received_total() < count) reactor.run_once(100);

    const double start = cpu_seconds();
    for (std::size_t i = 0; i < count; ++i) {
        reactor.close(i, pairs.ours[i]);
        holder.forget(i);
    }
    while (static_cast<std::size_t>(holder.closed) < count) reactor.run_once(100);
    return cpu_seconds() - start;
}

std::vector<std::size_t> parse_counts(const char* text) {
    std::vector<std::size_t> counts;
    std::string all(text);
    std::size_t at = 0;
    while (at <= all.size()) {
        const std::size_t comma = std::min(all.find(',', at), all.size());
        const long value = std::strtol(all.substr(at, comma - at).c_str(), nullptr, 10);
        if (value < 1 || value > 9500) {
            std::fprintf(stderr, "close-storm: --connections takes counts from 1 to 9500, comma-separated\n");
            std::exit(2);
        }
        counts.push_back(static_cast<std::size_t>(value));
        at = comma + 1;
    }
    return counts;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::size_t> counts{1000, 3000, 9000};
    int rounds = 3;
    bool subscribed = false;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--connections" && i + 1 < argc) {
            counts = parse_counts(argv[++i]);
        } else if (flag == "--subscribed") {
            subscribed = true;
        } else if (flag == "--rounds" && i + 1 < argc) {
            rounds = std::atoi(argv[++i]);
            if (rounds < 1) {
                std::fprintf(stderr, "close-storm: --rounds takes a count of at least 1\n");
                return 2;
            }
        } else {
            std::fprintf(stderr, "usage: close-storm [--connections N[,N...]] [--rounds R] [--subscribed]\n");
            return 2;
        }
    }
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);

    std::printf("%-12s %-9s %14s %14s %8s\n", "connections", "backend", "us per close", "(min of rounds)", "ratio");
    for (const std::size_t count : counts) {
        double best[2] = {1e30, 1e30};
        const Backend backends[2] = {Backend::Epoll, Backend::IoUring};
        for (int round = 0; round < rounds; ++round) {
            for (int b = 0; b < 2; ++b) {  // interleaved, so that a noisy moment hits both
                const double spent = close_round(backends[b], count, subscribed);
                if (spent >= 0) best[b] = std::min(best[b], spent);
            }
        }
        for (int b = 0; b < 2; ++b) {
            if (best[b] >= 1e30) {
                std::printf("%-12zu %-9s %14s\n", count, std::string(surge::net::backend_name(backends[b])).c_str(),
                            "unavailable");
                continue;
            }
            const double per_close_us = best[b] / static_cast<double>(count) * 1e6;
            std::printf("%-12zu %-9s %14.2f %14s %7.2fx\n", count,
                        std::string(surge::net::backend_name(backends[b])).c_str(), per_close_us, "",
                        best[b] / best[0]);
        }
    }
    return 0;
}
