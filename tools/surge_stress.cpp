// surge-stress: the connection-count stress tool. Opens a target number of WebSocket connections at a set rate,
// verifies each one, holds them all, then closes them with an RST (SO_LINGER 0, so no TIME_WAIT is left behind),
// and reports how far it got, how fast, why connections failed, and (with --server-pid) what the server's
// memory grew by per connection.
//
// One process holds at most its descriptor limit of sockets, so the work is split over --procs forked workers,
// each with a reactor of its own and its share of the target, the rate and the in-flight cap. Source
// addresses are spread over 127.0.1.0/24 and up (IP_BIND_ADDRESS_NO_PORT: the port is picked per 4-tuple at
// connect time), so that 64k ephemeral ports per address are not the cap either. Workers share their counters
// with the parent through one shared mapping; the parent prints progress and the report.
#include <arpa/inet.h>
#include <csignal>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "surge/ws/client.hpp"
#include "tools/loadgen/options.hpp"
#include "tools/loadgen/process_stats.hpp"
#include "tools/loadgen/push_probe.hpp"
#include "tools/loadgen/stress_report.hpp"
#include "tools/loadgen/stamp.hpp"
#include "surge/ws/url.hpp"
#include "surge/ws/http_request.hpp"

namespace {

using namespace surge;
using namespace surge::loadgen;

const char* kUsage =  // a printf format: %s takes kRequestUsage
    "usage: surge-stress [options] URL...\n"
    "  URL                  ws://host:port/path; several URLs (or --ports) spread the connections over them\n"
    "  --connections N      connections to open, verify and hold (default 10k)\n"
    "  --rate N             connections opened per second, in all (default 20k)\n"
    "  --in-flight N        connections connecting or being verified at once, in all (default 2000)\n"
    "  --procs N            worker processes (default: one per 15k connections)\n"
    "  --sources N          source addresses, 127.0.1.1 onwards (default: one per 30k connections)\n"
    "  --ports A-B          also connect to ports A..B of the first URL's host (servers on several ports)\n"
    "  --verify V           echo (one message echoed) | broadcast (one message received) | none (default echo)\n"
    "  --publish URL        with --verify broadcast: POST a message to this http:// URL each second until all\n"
    "                       connections are verified\n"
    "  --push N             with --publish (and --verify broadcast or none: a subscriber that is open is\n"
    "                       subscribed, and the push checks it): once all are verified, publish N numbered,\n"
    "                       stamped messages (up to 10000) and report, over every connection, that each came once\n"
    "                       and in order, and how long from each publish to its first and last delivery\n"
    "                       (subscribe with format=raw, so the stamps arrive as sent)\n"
    "  --push-rate R        publications per second for --push (default 0: all at once, a burst)\n"
    "  --wait-batch N       each worker wakes when N messages are waiting, or after --wait-batch-us (default 1:\n"
    "                       at each): on loopback the server pays for every wake-up of a receiver, so a million\n"
    "                       receivers that each wake per message cost the server they measure\n"
    "  --wait-batch-us US   the longest a worker waits for its batch (default 1000; adds at most that latency)\n"
    "  --hold S             seconds to hold the connections once all are verified (default 10)\n"
    "  --timeout S          a connection not verified S seconds after it started fails (default 20)\n"
    "  --server-pid PID     a server process (its descendants too) whose memory to report (repeatable)\n"
    "%s"
    "  --json FILE          also write the report as JSON\n"
    "  --help               this text\n";

enum class Verify { Echo, Broadcast, None };

struct Options {
    std::vector<Url> urls;
    std::uint64_t connections = 10'000;
    double rate = 20'000;
    double in_flight = 2'000;
    unsigned procs = 0;
    unsigned sources = 0;
    Verify verify = Verify::Echo;
    std::string publish;
    std::uint32_t push = 0;
    double push_rate = 0;
    unsigned wait_batch = 1;
    unsigned wait_batch_us = 1000;
    double hold = 10;
    double timeout = 20;
    std::vector<pid_t> server_pids;
    RequestFlags request;
    std::unique_ptr<net::TlsContext> tls;  // made when a URL is wss://
    std::string json;
};

// One worker's counters, in memory shared with the parent. Each worker writes only its own.
struct alignas(64) WorkerShared {
    std::atomic<std::uint64_t> attempted{0};
    std::atomic<std::uint64_t> verified{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> dropped{0};  // verified, then lost while held
    std::atomic<bool> ramp_done{false};
    std::atomic<std::uint64_t> ramp_done_ns{0};  // when this worker had every connection verified or failed
    std::atomic<bool> release{false};  // set by the parent: close everything and exit
    std::array<std::atomic<std::uint64_t>, kFailureKinds + 1> by_reason{};
    std::array<std::atomic<std::uint32_t>, kHttpStatuses> http_status{};
    std::atomic<std::uint64_t> push_silent{0};  // written once, when the worker is released
    PushShared push;
};

void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

std::atomic<bool> g_interrupted{false};

sockaddr_in source_address(unsigned index) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    // 127.0.1.1, 127.0.1.2, ... 127.0.1.254, 127.0.2.1, ...: skips .0 and .255 of each /24.
    const unsigned third = 1 + index / 254;
    const unsigned fourth = 1 + index % 254;
    a.sin_addr.s_addr = htonl((127U << 24) | (third << 8) | fourth);  // --sources is at most 60000: third <= 237
    return a;
}

ClientOptions batched(ClientOptions options, unsigned wait_batch, unsigned wait_batch_us) {
    options.wait_batch = wait_batch;
    options.wait_batch_us = wait_batch_us;
    return options;
}

// One worker process: its share of the connections, on one reactor.
class StressWorker {
public:
    StressWorker(const Options& options, unsigned index, WorkerShared& shared)
        : options_(options), index_(index), shared_(shared),
          engine_(behavior(),
                  batched(client_options(options.request, options.tls.get()), options.wait_batch,
                          options.wait_batch_us),
                  0x57e55000ULL + index),
          count_(static_cast<std::uint32_t>(options.connections / options.procs +
                                            (index < options.connections % options.procs))),
          push_(shared.push, count_, options.push) {
        started_ms_.assign(count_, 0);
        verified_.assign(count_, 0);
        std::memset(message_, 'v', sizeof message_);
    }

    int run() {
        const std::uint64_t start = now_ns();
        const double rate = options_.rate / options_.procs;
        const auto cap = static_cast<std::uint64_t>(std::max(1.0, options_.in_flight / options_.procs));
        std::uint64_t next_sweep = start;
        while (!shared_.release.load(std::memory_order_relaxed)) {
            const std::uint64_t now = now_ns();
            const auto due = static_cast<std::uint64_t>(std::min<double>(count_, 1 + rate * double(now - start) / 1e9));
            while (next_ < due && pending_ < cap) open_next();
            // Only while some connection is neither verified nor failed: each sweep reads every connection's
            // state, cold at a million held (1.4% of the machine's samples during a publication to 500,000).
            if (pending_ > 0 && now >= next_sweep) {
                sweep(now);
                next_sweep = now + 250'000'000;
            }
            if (next_ == count_ && pending_ == 0 && !shared_.ramp_done.load(std::memory_order_relaxed)) {
                shared_.ramp_done_ns.store(now_ns());
                shared_.ramp_done.store(true);
            }
            engine_.poll(next_ < count_ ? 1 : 100);
        }
        if (options_.push) shared_.push_silent.store(push_.silent(verified_));
        // Abortive close: an RST each, so that neither side is left with TIME_WAIT or FIN_WAIT sockets.
        for (std::uint32_t id = 0; id < count_; ++id) {
            if (ClientWebSocket* ws = engine_.connection(id)) ws->abort();
        }
        return 0;
    }

private:
    ClientBehavior behavior() {
        return {
            .on_open = [this](ClientWebSocket& ws) { on_open(ws); },
            .on_close = [this](ClientWebSocket& ws, std::uint16_t, std::string_view) { on_close(ws); },
            .on_connect_failed = [this](ClientWebSocket&, ClientFailure why,
                                        int detail) { count_failure(static_cast<std::size_t>(why), detail); },
            .on_message_head = [this](ClientWebSocket& ws, Opcode, std::uint64_t size, std::string_view head) {
                on_message(ws, size, head);
            },
        };
    }

    // The stamp an echo check sends and expects back: unique per connection.
    std::uint64_t stamp_for(const ClientWebSocket& ws) const { return (std::uint64_t{index_} << 32) | ws.id(); }

    void on_open(ClientWebSocket& ws) {
        switch (options_.verify) {
        case Verify::None:
            return mark_verified(ws);
        case Verify::Broadcast:
            return;  // waits for a published message
        case Verify::Echo:
            write_stamp(message_, stamp_for(ws));
            ws.send({message_, sizeof message_});
        }
    }

    void on_message(ClientWebSocket& ws, std::uint64_t size, std::string_view head) {
        if (options_.push && push_.see(ws.id(), head, now_ns())) return;
        if (verified_[ws.id()]) return;
        if (options_.verify == Verify::Echo) {
            std::uint64_t stamp = 0;
            if (size != sizeof message_ || !read_stamp(head, stamp) || stamp != stamp_for(ws)) {
                count_failure(kVerifyMismatch, 0);
                return ws.abort();
            }
        }
        mark_verified(ws);
    }

    // Ends this side did not ask for: a verified connection dropped, or one still being checked failed.
    void on_close(ClientWebSocket& ws) {
        const bool verified = verified_[ws.id()];
        verified_[ws.id()] = 0;
        if (ws.failure() == ClientFailure::None) return;  // ours: a mismatch, a timeout, or the end of the run
        if (verified) {
            bump(shared_.dropped);
        } else {
            count_failure(static_cast<std::size_t>(ws.failure()), ws.failure_detail());
        }
    }

    void open_next() {
        const std::uint64_t global = std::uint64_t{next_++} * options_.procs + index_;
        const Url& url = options_.urls[global % options_.urls.size()];
        const sockaddr_in source = source_address(static_cast<unsigned>(global % options_.sources));
        bump(shared_.attempted);
        ++pending_;
        const auto started_ms = static_cast<std::uint32_t>(now_ns() / 1'000'000);
        if (ClientWebSocket* ws = engine_.connect(url, &source)) {
            started_ms_[ws->id()] = started_ms;
            verified_[ws->id()] = 0;
        }
    }

    void mark_verified(ClientWebSocket& ws) {
        verified_[ws.id()] = 1;
        --pending_;
        bump(shared_.verified);
    }

    void count_failure(std::size_t reason, int detail) {
        --pending_;
        bump(shared_.failed);
        bump(shared_.by_reason[reason]);
        if (reason == static_cast<std::size_t>(ClientFailure::HandshakeStatus) && detail > 0 && detail < 600) {
            shared_.http_status[detail].fetch_add(1, std::memory_order_relaxed);
        }
    }

    // Fails connections neither verified nor failed within the timeout: not yet open (the engine's), or open
    // and waiting for their echo or broadcast (ours).
    void sweep(std::uint64_t now) {
        const auto timeout_ms = static_cast<std::uint32_t>(options_.timeout * 1000);
        const auto now_ms = static_cast<std::uint32_t>(now / 1'000'000);
        engine_.expire_unopened(now - std::min<std::uint64_t>(now, static_cast<std::uint64_t>(options_.timeout * 1e9)));
        for (std::uint32_t id = 0; id < count_; ++id) {
            ClientWebSocket* ws = engine_.connection(id);
            if (!ws) break;  // ids are dense: none past this one was ever used
            if (!verified_[id] && ws->is_open() && now_ms - started_ms_[id] > timeout_ms) {
                count_failure(static_cast<std::size_t>(ClientFailure::Timeout), 0);
                ws->abort();
            }
        }
    }

    const Options& options_;
    unsigned index_;
    WorkerShared& shared_;
    Client engine_;
    std::uint32_t count_;
    std::uint32_t next_ = 0;
    std::uint64_t pending_ = 0;  // started, neither verified nor failed
    std::vector<std::uint32_t> started_ms_;  // by connection id
    std::vector<std::uint8_t> verified_;     // by connection id
    PushCheck push_;
    char message_[32];
};

bool parse_options(int argc, char** argv, Options& o) {
    std::uint32_t port_low = 0, port_high = 0;
    auto take_value = [&](std::string_view flag, std::string_view value) {
        double number = 0;
        bool ok = true;
        if (flag == "--connections") {
            ok = parse_count(value, number) && number >= 1 && number <= 20e6;
            o.connections = static_cast<std::uint64_t>(number);
        } else if (flag == "--rate") {
            ok = parse_count(value, o.rate) && o.rate > 0;
        } else if (flag == "--in-flight") {
            ok = parse_count(value, o.in_flight) && o.in_flight >= 1;
        } else if (flag == "--procs") {
            ok = parse_count(value, number) && number >= 1 && number <= 1024;
            o.procs = static_cast<unsigned>(number);
        } else if (flag == "--sources") {
            ok = parse_count(value, number) && number >= 1 && number <= 60000;
            o.sources = static_cast<unsigned>(number);
        } else if (flag == "--ports") {
            ok = std::sscanf(std::string(value).c_str(), "%u-%u", &port_low, &port_high) == 2 && port_low > 0 &&
                 port_low <= port_high && port_high <= 65535;
        } else if (flag == "--verify") {
            if (value == "echo") o.verify = Verify::Echo;
            else if (value == "broadcast") o.verify = Verify::Broadcast;
            else if (value == "none") o.verify = Verify::None;
            else ok = false;
        } else if (flag == "--publish") {
            o.publish = value;
        } else if (flag == "--push") {
            ok = parse_count(value, number) && number >= 1 && number <= double(kMaxPushes);
            o.push = static_cast<std::uint32_t>(number);
        } else if (flag == "--push-rate") {
            ok = parse_count(value, o.push_rate);
        } else if (flag == "--wait-batch") {
            ok = parse_count(value, number) && number >= 1 && number <= 4096;
            o.wait_batch = static_cast<unsigned>(number);
        } else if (flag == "--wait-batch-us") {
            ok = parse_count(value, number) && number >= 1 && number <= 100000;
            o.wait_batch_us = static_cast<unsigned>(number);
        } else if (flag == "--hold") {
            ok = parse_seconds(value, o.hold);
        } else if (flag == "--timeout") {
            ok = parse_seconds(value, o.timeout) && o.timeout >= 0.1;
        } else if (flag == "--server-pid") {
            ok = parse_count(value, number) && number >= 1;
            o.server_pids.push_back(static_cast<pid_t>(number));
        } else {
            ok = false;
        }
        return ok;
    };
    auto no_switches = [](std::string_view) { return false; };
    if (!parse_arguments("surge-stress", kUsage, argc, argv, {o.urls, o.request, o.json}, no_switches, take_value)) {
        return false;
    }
    for (const Url& url : o.urls) {
        if (!url.websocket()) {
            std::fprintf(stderr, "surge-stress: %s: not a ws:// or wss:// URL\n", url.text().c_str());
            return false;
        }
    }
    if (!make_client_tls("surge-stress", o.urls, o.request, o.tls)) return false;
    if (port_low) {
        const Url first = o.urls.front();
        for (std::uint32_t port = port_low; port <= port_high; ++port) {
            if (port == first.port()) continue;
            Url more = first;
            more.set_port(static_cast<std::uint16_t>(port));
            more.host = first.host.substr(0, first.host.rfind(':')) + ":" + std::to_string(port);
            o.urls.push_back(std::move(more));
        }
    }
    if (!o.publish.empty()) {
        Url url;
        std::string error;
        if (!parse_url(o.publish, url, error) || url.scheme != Url::Scheme::Http) {
            std::fprintf(stderr, "surge-stress: --publish needs an http:// URL\n");
            return false;
        }
    }
    if (o.push && (o.verify == Verify::Echo || o.publish.empty())) {
        std::fprintf(stderr, "surge-stress: --push needs --publish URL, and --verify broadcast or none\n");
        return false;
    }
    if (o.procs == 0) o.procs = static_cast<unsigned>(std::max<std::uint64_t>(1, (o.connections + 14'999) / 15'000));
    if (o.sources == 0) o.sources = static_cast<unsigned>(std::max<std::uint64_t>(1, (o.connections + 29'999) / 30'000));
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    const std::uint64_t per_proc = (o.connections + o.procs - 1) / o.procs;
    if (per_proc + 64 > files.rlim_cur) {
        std::fprintf(stderr, "surge-stress: %llu connections per process exceed the descriptor limit (%llu): "
                     "raise --procs\n", static_cast<unsigned long long>(per_proc),
                     static_cast<unsigned long long>(files.rlim_cur));
        return false;
    }
    return true;
}

// The publisher for --verify broadcast: one POST, best effort (the servers under test decide what it means).
void publish_once(const std::string& url_text) {
    Url url;
    std::string error;
    if (!parse_url(url_text, url, error)) return;
    const int fd = ::socket(url.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval limit{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    const std::string body = "surge-stress verify";
    const std::string request = "POST " + url.target + " HTTP/1.1\r\nHost: " + url.host +
                                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (::connect(fd, url.socket_address(), url.address_length) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) > 0) {
        char answer[512];
        [[maybe_unused]] const ssize_t n = ::recv(fd, answer, sizeof answer, 0);
    }
    ::close(fd);
}

struct Progress {
    std::uint64_t attempted = 0, verified = 0, failed = 0, dropped = 0;
    std::uint64_t last_done_ns = 0;
    bool all_done = true;
};

Progress gather(const WorkerShared* shared, unsigned procs) {
    Progress p;
    for (unsigned i = 0; i < procs; ++i) {
        p.attempted += shared[i].attempted.load(std::memory_order_relaxed);
        p.verified += shared[i].verified.load(std::memory_order_relaxed);
        p.failed += shared[i].failed.load(std::memory_order_relaxed);
        p.dropped += shared[i].dropped.load(std::memory_order_relaxed);
        p.all_done = p.all_done && shared[i].ramp_done.load();
        p.last_done_ns = std::max(p.last_done_ns, shared[i].ramp_done_ns.load());
    }
    return p;
}

const char* verify_name(Verify verify) {
    return verify == Verify::Echo ? "echo" : verify == Verify::Broadcast ? "broadcast" : "none";
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse_options(argc, argv, options)) return 2;
    std::signal(SIGPIPE, SIG_IGN);

    const std::size_t shared_bytes = sizeof(WorkerShared) * options.procs;
    void* mapping = ::mmap(nullptr, shared_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        std::perror("surge-stress: mmap");
        return 1;
    }
    auto* shared = static_cast<WorkerShared*>(mapping);
    for (unsigned i = 0; i < options.procs; ++i) new (&shared[i]) WorkerShared();

    const ServerMemory server_before = server_memory(options.server_pids);
    const KernelMemory kernel_before = read_kernel_memory();
    std::printf("surge-stress: %llu connections to %zu URL(s), %.0f/s, %.0f in flight, %u processes, %u source "
                "addresses, verify %s\n",
                static_cast<unsigned long long>(options.connections), options.urls.size(), options.rate,
                options.in_flight, options.procs, options.sources, verify_name(options.verify));
    std::fflush(stdout);

    std::vector<pid_t> workers;
    for (unsigned i = 0; i < options.procs; ++i) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            std::perror("surge-stress: fork");
            for (unsigned j = 0; j < workers.size(); ++j) shared[j].release.store(true);
            break;
        }
        if (pid == 0) {
            ::signal(SIGINT, SIG_IGN);  // the parent decides when to stop, and releases the workers
            const int status = StressWorker(options, i, shared[i]).run();
            std::fflush(nullptr);
            ::_exit(status);
        }
        workers.push_back(pid);
    }
    std::signal(SIGINT, [](int) { g_interrupted.store(true); });

    const std::uint64_t start = now_ns();
    Progress last;
    double ramp_seconds = 0;
    ServerMemory server_held;
    KernelMemory kernel_held{};
    std::uint64_t verified_at_ramp = 0;
    std::uint64_t hold_until = 0;
    std::uint64_t next_line = start + 1'000'000'000ULL;
    PushReport push_report;
    bool pushed = false;
    for (;;) {
        ::usleep(50'000);  // checks for the end of the ramp often, prints once a second
        const Progress p = gather(shared, options.procs);
        const std::uint64_t now = now_ns();
        if (!hold_until && p.all_done) {
            ramp_seconds = static_cast<double>(p.last_done_ns - start) / 1e9;
            verified_at_ramp = p.verified;
            server_held = server_memory(options.server_pids);
            kernel_held = read_kernel_memory();
            if (options.push) {
                std::vector<const PushShared*> probes;
                for (unsigned i = 0; i < options.procs; ++i) probes.push_back(&shared[i].push);
                run_push({options.publish, options.push, options.push_rate, options.server_pids}, probes,
                         p.verified - p.dropped, g_interrupted, push_report);
                pushed = true;
                next_line = now_ns() + 1'000'000'000ULL;  // the progress lines go on from now, not from before
            }
            hold_until = now_ns() + static_cast<std::uint64_t>(options.hold * 1e9);
            std::printf("all %llu connections tried in %.2f s: %llu verified, %llu failed; holding for %.0f s\n",
                        static_cast<unsigned long long>(options.connections), ramp_seconds,
                        static_cast<unsigned long long>(p.verified), static_cast<unsigned long long>(p.failed),
                        options.hold);
            std::fflush(stdout);
        }
        if (now >= next_line) {
            next_line += 1'000'000'000ULL;
            std::printf("[%6.1fs] up %llu  failed %llu  rate %s/s  in flight %llu%s\n",
                        static_cast<double>(now - start) / 1e9, static_cast<unsigned long long>(p.verified - p.dropped),
                        static_cast<unsigned long long>(p.failed), format_si(double(p.verified - last.verified)).c_str(),
                        static_cast<unsigned long long>(p.attempted - p.verified - p.failed),
                        hold_until ? "  (holding)" : "");
            std::fflush(stdout);
            last = p;
            if (!hold_until && options.verify == Verify::Broadcast && !options.publish.empty() &&
                p.attempted == options.connections) {
                publish_once(options.publish);
            }
        }
        if (g_interrupted.load()) break;
        if (hold_until && now >= hold_until) break;
    }
    for (unsigned i = 0; i < workers.size(); ++i) shared[i].release.store(true);
    for (pid_t pid : workers) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    const Progress end = gather(shared, options.procs);
    if (!hold_until) {  // interrupted before the ramp finished: report what was reached
        ramp_seconds = static_cast<double>(now_ns() - start) / 1e9;
        verified_at_ramp = end.verified;
        server_held = server_memory(options.server_pids);
        kernel_held = read_kernel_memory();
    }

    if (pushed) {
        for (unsigned i = 0; i < options.procs; ++i) push_report.silent += shared[i].push_silent.load();
    }
    StressReport report;
    report.target = options.connections;
    report.verified = verified_at_ramp;
    report.failed = end.failed;
    report.dropped = end.dropped;
    report.verify = verify_name(options.verify);
    report.ramp_seconds = ramp_seconds;
    report.hold_seconds = options.hold;
    report.procs = options.procs;
    report.sources = options.sources;
    report.measured_server = !options.server_pids.empty();
    report.server_before = server_before;
    report.server_held = server_held;
    report.kernel_before = kernel_before;
    report.kernel_held = kernel_held;
    for (unsigned i = 0; i < options.procs; ++i) {
        for (std::size_t r = 0; r < report.reasons.size(); ++r) report.reasons[r] += shared[i].by_reason[r].load();
        for (std::size_t s = 0; s < report.statuses.size(); ++s) report.statuses[s] += shared[i].http_status[s].load();
    }
    report.push = pushed ? &push_report : nullptr;
    print_stress_report(report);
    if (!options.json.empty() && !write_stress_json(report, options.json)) return 1;
    const bool push_whole = !pushed || (push_report.lost == 0 && push_report.repeated == 0 &&
                                        push_report.silent == 0 && push_report.complete == push_report.subscribers);
    return verified_at_ramp == options.connections && end.dropped == 0 && push_whole ? 0 : 1;
}
