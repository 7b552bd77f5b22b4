// wake-cost: the CPU time a thread pays for falling asleep and being woken on this machine, and whether surge's
// reactors add to it. A server that is not saturated sleeps between messages and is woken for the next (the echo
// benchmark's half load: bench/echo.sh reports its sleeps per message), so this figure times that count is the part
// of its CPU per message that no server code can take away, only fewer wake-ups (Reactor::set_wait_batch()).
// Two threads, pinned to CPUs 0 and 1, pass a turn back and forth --rounds times; each waits for its turn asleep:
//   raw       epoll_wait() on an eventfd with no time limit, the peer write()s it (an epoll server's loop that
//             keeps its timers in the epoll set, as uWebSockets does; the in-run baseline),
//   raw-timed the same with a 100 ms limit (a loop that passes its next timer as the wait's limit, as a surge
//             shard does with its 100 ms tick: the kernel then arms a timer for every sleep),
//   epoll     surge's epoll Reactor::run_once(-1), the peer calling its wake(),
//   io_uring  the same on the io_uring backend (where the kernel allows it).
// The ways take turns, --repeat times; reported per way, medians: the CPU time of the thread on CPU 0 per turn
// (user + system, read with CLOCK_THREAD_CPUTIME_ID: the scheduler's work when it sleeps and when it is switched
// back in counts, as it does for a server), also as a ratio of raw's, and the wall time per round trip.
// Usage: wake-cost [--rounds N] [--repeat N]   (needs two CPUs)
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "surge/net/reactor.hpp"

namespace {

using surge::net::Backend;

[[noreturn]] void fail(const char* what, int error) {
    std::fprintf(stderr, "wake-cost: %s: %s\n", what, std::strerror(error));
    std::exit(1);
}

double clock_seconds(clockid_t clock) {
    timespec now{};
    ::clock_gettime(clock, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (const int error = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); error != 0) {
        fail("pinning a thread (two CPUs are needed)", error);
    }
}

// One side of the exchange: waits for its turn asleep, and hands the turn to the other side.
class Waiter {
public:
    virtual ~Waiter() = default;
    // Called first by the thread that is going to wait (a reactor belongs to the thread that runs it).
    virtual void adopt() {}
    virtual void wait_for_turn() = 0;  // returns once give_turn() was called (from the other thread)
    virtual void give_turn() = 0;      // safe from any thread
};

// The baseline: an eventfd in an epoll set, nothing of surge's.
class RawWaiter final : public Waiter {
public:
    explicit RawWaiter(int timeout_ms)
        : timeout_ms_(timeout_ms),
          event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
          epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
        if (event_fd_ < 0 || epoll_fd_ < 0) fail("eventfd/epoll_create1", errno);
        epoll_event event{};
        event.events = EPOLLIN;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &event) != 0) fail("epoll_ctl", errno);
    }
    ~RawWaiter() override {
        ::close(event_fd_);
        ::close(epoll_fd_);
    }
    void wait_for_turn() override {
        std::uint64_t count = 0;
        for (;;) {
            epoll_event event{};
            if (::epoll_wait(epoll_fd_, &event, 1, timeout_ms_) == 1 && ::read(event_fd_, &count, sizeof count) > 0) {
                return;
            }
        }
    }
    void give_turn() override {
        const std::uint64_t one = 1;
        if (::write(event_fd_, &one, sizeof one) != sizeof one) fail("eventfd write", errno);
    }

private:
    int timeout_ms_;
    int event_fd_;
    int epoll_fd_;
};

// A surge reactor with no connections: woken through Reactor::wake(), as a shard is by a publication from
// another thread.
class ReactorWaiter final : public Waiter, private surge::net::ReactorHandler {
public:
    // made() says false when the backend cannot be made here.
    explicit ReactorWaiter(Backend backend) : reactor_(surge::net::make_reactor(backend, *this).reactor) {}
    bool made() const noexcept { return reactor_ != nullptr; }
    // The reactor's first turn, on the waiting thread (io_uring enables its ring there, for that thread alone).
    void adopt() override { reactor_->run_once(0); }
    void wait_for_turn() override {
        while (!woken_) {
            if (const int result = reactor_->run_once(-1); result < 0) fail("run_once", -result);
        }
        woken_ = false;
    }
    void give_turn() override { reactor_->wake(); }

private:
    void on_accept(std::uint64_t, int fd) override { ::close(fd); }
    bool on_data(std::uint64_t, std::span<char>) override { return true; }
    void on_recv_end(std::uint64_t, int) override {}
    void on_sent(std::uint64_t, int) override {}
    void on_closed(std::uint64_t) override {}
    void on_wake() override { woken_ = true; }
    int fd_of(std::uint64_t) const noexcept override { return -1; }
    std::uint8_t* io_state(std::uint64_t) noexcept override { return nullptr; }

    std::unique_ptr<surge::net::Reactor> reactor_;
    bool woken_ = false;
};

struct Result {
    double cpu_us_per_turn;  // the CPU-0 thread's
    double wall_us_per_round_trip;
};

// `mine` is waited on by the thread on CPU 0, `theirs` by the one on CPU 1.
Result exchange(Waiter& mine, Waiter& theirs, long rounds) {
    std::atomic<bool> peer_ready{false};
    std::thread peer([&] {
        pin_to(1);
        theirs.adopt();
        peer_ready.store(true);
        for (long i = 0; i < rounds; ++i) {
            theirs.wait_for_turn();
            mine.give_turn();
        }
    });
    pin_to(0);
    mine.adopt();
    while (!peer_ready.load()) std::this_thread::yield();
    const double cpu0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    const double wall0 = clock_seconds(CLOCK_MONOTONIC);
    for (long i = 0; i < rounds; ++i) {
        theirs.give_turn();
        mine.wait_for_turn();
    }
    const double cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    const double wall = clock_seconds(CLOCK_MONOTONIC) - wall0;
    peer.join();
    return {cpu * 1e6 / static_cast<double>(rounds), wall * 1e6 / static_cast<double>(rounds)};
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

long positive_number(const char* flag, const char* text) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value <= 0) {
        std::fprintf(stderr, "wake-cost: %s takes a positive number, not '%s'\n", flag, text);
        std::exit(2);
    }
    return value;
}

}  // namespace

int main(int argc, char** argv) {
    long rounds = 100'000;
    long repeat = 3;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if ((flag == "--rounds" || flag == "--repeat") && i + 1 < argc) {
            (flag == "--rounds" ? rounds : repeat) = positive_number(argv[i], argv[i + 1]);
            ++i;
        } else {
            std::fprintf(stderr, "wake-cost: unknown option %s\nusage: wake-cost [--rounds N] [--repeat N]\n",
                         argv[i]);
            return 2;
        }
    }
    // One pass of a way; false when it cannot run here (a backend the kernel does not allow).
    const auto run_way = [&](const std::string& way, Result& result) {
        if (way.starts_with("raw")) {
            const int timeout_ms = way == "raw" ? -1 : 100;
            RawWaiter mine(timeout_ms), theirs(timeout_ms);
            result = exchange(mine, theirs, rounds);
            return true;
        }
        ReactorWaiter mine(way == "epoll" ? Backend::Epoll : Backend::IoUring);
        ReactorWaiter theirs(way == "epoll" ? Backend::Epoll : Backend::IoUring);
        if (!mine.made() || !theirs.made()) return false;
        result = exchange(mine, theirs, rounds);
        return true;
    };
    const std::vector<std::string> ways = {"raw", "raw-timed", "epoll", "io_uring"};
    std::vector<std::vector<double>> cpu(ways.size()), wall(ways.size());
    std::vector<bool> available(ways.size(), true);
    // The ways take turns, --repeat times: the machine is shared, and a slow moment then hits one pass of each.
    for (long run = 0; run < repeat; ++run) {
        for (std::size_t w = 0; w < ways.size(); ++w) {
            Result result{};
            if (!available[w] || !run_way(ways[w], result)) {
                available[w] = false;
                continue;
            }
            cpu[w].push_back(result.cpu_us_per_turn);
            wall[w].push_back(result.wall_us_per_round_trip);
        }
    }
    const double raw_cpu = median(cpu[0]);
    for (std::size_t w = 0; w < ways.size(); ++w) {
        if (!available[w]) {
            std::printf("%-9s not available here\n", ways[w].c_str());
            continue;
        }
        const double cpu_median = median(cpu[w]);
        std::printf("%-9s %7.2f us of CPU per sleep and wake-up (%.2fx raw), %7.2f us per round trip, median of %ld "
                    "runs of %ld\n",
                    ways[w].c_str(), cpu_median, cpu_median / raw_cpu, median(wall[w]), repeat, rounds);
    }
    return 0;
}
