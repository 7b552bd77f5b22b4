#include "tools/loadgen/push_probe.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "surge/ws/url.hpp"
#include "tools/loadgen/options.hpp"
#include "tools/loadgen/process_stats.hpp"
#include "tools/loadgen/stamp.hpp"

namespace surge::loadgen {

namespace {

void store_relaxed(std::atomic<std::uint64_t>& value, std::uint64_t to) { value.store(to, std::memory_order_relaxed); }
void bump(std::atomic<std::uint64_t>& value, std::uint64_t by = 1) {
    value.store(value.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);  // one writer
}

std::uint64_t percentile_of(std::vector<std::uint64_t> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const auto at = static_cast<std::size_t>(std::llround(p / 100.0 * double(values.size() - 1)));
    return values[std::min(at, values.size() - 1)];
}

}  // namespace

bool PushCheck::see(std::uint32_t id, std::string_view head, std::uint64_t now_ns) noexcept {
    std::uint64_t stamp = 0;
    std::uint32_t publisher = 0;
    std::uint32_t number = 0;
    if (!read_stamp(head, stamp) || !read_sequence(head, publisher, number) || publisher != kPushPublisher ||
        number == 0 || number > pushes_ || id >= next_.size()) {
        return false;
    }
    std::uint32_t& next = next_[id];
    if (number < next) {
        bump(shared_.repeated);
        return true;
    }
    if (number > next) bump(shared_.lost, number - next);
    next = number + 1;
    bump(shared_.received);
    if (next == pushes_ + 1) bump(shared_.complete);
    if (number == 1) bump(shared_.have_first);
    shared_.latency.record(now_ns > stamp ? now_ns - stamp : 0);
    std::atomic<std::uint64_t>& first = shared_.first_ns[number - 1];
    std::atomic<std::uint64_t>& last = shared_.last_ns[number - 1];
    const std::uint64_t seen_first = first.load(std::memory_order_relaxed);
    if (seen_first == 0 || now_ns < seen_first) store_relaxed(first, now_ns);
    if (now_ns > last.load(std::memory_order_relaxed)) store_relaxed(last, now_ns);
    return true;
}

std::uint64_t PushCheck::silent(const std::vector<std::uint8_t>& verified) const noexcept {
    std::uint64_t none = 0;
    for (std::size_t id = 0; id < next_.size() && id < verified.size(); ++id) none += verified[id] && next_[id] == 1;
    return none;
}

PushPublisher::~PushPublisher() {
    if (fd_ >= 0) ::close(fd_);
}

bool PushPublisher::connect() {
    Url url;
    std::string error;
    if (!parse_url(url_, url, error)) return false;
    fd_ = ::socket(url.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval limit{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    if (::connect(fd_, url.socket_address(), url.address_length) != 0) {
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    return true;
}

std::uint64_t PushPublisher::publish(std::uint32_t n) {
    Url url;
    std::string error;
    if (!parse_url(url_, url, error)) return 0;
    for (int attempt = 0; attempt < 2; ++attempt) {  // the keep-alive connection may have been closed meanwhile
        if (fd_ < 0 && !connect()) return 0;
        char body[kMarkedBytes];
        const std::uint64_t stamp = now_ns();
        write_stamp(body, stamp);
        write_sequence(body, kPushPublisher, n);
        std::string request = "POST " + url.target + " HTTP/1.1\r\nHost: " + url.host +
                              "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(sizeof body) +
                              "\r\n\r\n";
        request.append(body, sizeof body);
        std::string answer;
        if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
            // The answer's head and its Content-Length body: small, so a few reads at most.
            char buffer[4096];
            for (;;) {
                const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
                if (got <= 0) break;
                answer.append(buffer, static_cast<std::size_t>(got));
                const std::size_t head_end = answer.find("\r\n\r\n");
                if (head_end == std::string::npos) continue;
                const std::size_t length_at = answer.find("Content-Length: ");
                const std::size_t length =
                    length_at == std::string::npos ? 0 : std::strtoull(answer.c_str() + length_at + 16, nullptr, 10);
                if (answer.size() >= head_end + 4 + length) break;
            }
        }
        if (answer.starts_with("HTTP/1.1 200")) {
            if (answer.find("Connection: close") != std::string::npos) {
                ::close(fd_);
                fd_ = -1;
            }
            return stamp;
        }
        ::close(fd_);
        fd_ = -1;
        if (!answer.empty()) return 0;  // answered, but not 200: not published
    }
    return 0;
}

namespace {

// CPU seconds the processes `roots` and their descendants have used.
double server_cpu(const std::vector<pid_t>& roots) {
    double total = 0;
    for (pid_t root : roots) {
        for (pid_t pid : process_tree(root)) total += cpu_seconds(pid);
    }
    return total;
}

// Waits until `have` (summed over the workers) reaches `target`, or nothing more has arrived for 10 s; prints a
// line a second.
void wait_for_push(const std::vector<const PushShared*>& workers, std::uint64_t target,
                   std::atomic<std::uint64_t> PushShared::*have, const char* what,
                   const std::atomic<bool>& interrupted) {
    std::uint64_t seen = 0, progress_at = now_ns(), next_line = now_ns() + 1'000'000'000ULL;
    while (seen < target && !interrupted.load()) {
        ::usleep(5'000);
        std::uint64_t now_seen = 0;
        for (const PushShared* w : workers) now_seen += (w->*have).load(std::memory_order_relaxed);
        const std::uint64_t now = now_ns();
        if (now_seen != seen) progress_at = now;
        seen = now_seen;
        if (now >= next_line) {
            next_line += 1'000'000'000ULL;
            std::printf("[push] %llu of %llu subscribers have %s\n", static_cast<unsigned long long>(seen),
                        static_cast<unsigned long long>(target), what);
            std::fflush(stdout);
        }
        if (now - progress_at > 10'000'000'000ULL) return;  // nothing more is coming
    }
}

}  // namespace

void run_push(const PushPlan& plan, const std::vector<const PushShared*>& workers, std::uint64_t subscribers,
              const std::atomic<bool>& interrupted, PushReport& report) {
    report.subscribers = subscribers;
    const double cpu_before = server_cpu(plan.server_pids);
    PushPublisher publisher(plan.url);
    std::vector<std::uint64_t> stamps(plan.count, 0);
    stamps[0] = publisher.publish(1);
    if (!stamps[0]) std::fprintf(stderr, "surge-stress: publication 1 was not answered 200\n");
    wait_for_push(workers, subscribers, &PushShared::have_first, "publication 1", interrupted);
    const std::uint64_t rest = now_ns();
    for (std::uint32_t n = 1; n < plan.count; ++n) {
        if (plan.rate > 0) {
            const auto due = rest + static_cast<std::uint64_t>(double(n - 1) / plan.rate * 1e9);
            const std::uint64_t now = now_ns();
            if (due > now) ::usleep(static_cast<useconds_t>((due - now) / 1000));
        }
        stamps[n] = publisher.publish(n + 1);
        if (!stamps[n]) std::fprintf(stderr, "surge-stress: publication %u was not answered 200\n", n + 1);
    }
    if (plan.count > 1) {
        std::printf("push: publications 2..%u sent in %.2f s\n", plan.count, double(now_ns() - rest) / 1e9);
        std::fflush(stdout);
        wait_for_push(workers, subscribers, &PushShared::complete, "every publication", interrupted);
    }
    report.server_cpu_seconds = server_cpu(plan.server_pids) - cpu_before;
    gather_push(workers, stamps, report);
}


void gather_push(const std::vector<const PushShared*>& workers, const std::vector<std::uint64_t>& stamps,
                 PushReport& report) {
    report.publications = static_cast<std::uint32_t>(stamps.size());
    std::uint64_t last_arrival = 0;
    std::uint64_t first_of_one = 0;
    for (const PushShared* w : workers) {
        first_of_one += w->have_first.load();
        report.received += w->received.load();
        report.lost += w->lost.load();
        report.repeated += w->repeated.load();
        report.complete += w->complete.load();
        report.latency.add(w->latency);
    }
    for (std::size_t n = 0; n < stamps.size(); ++n) {
        std::uint64_t first = 0, last = 0;
        for (const PushShared* w : workers) {
            const std::uint64_t f = w->first_ns[n].load();
            if (f && (!first || f < first)) first = f;
            last = std::max(last, w->last_ns[n].load());
        }
        if (!stamps[n] || !first) continue;
        report.first_delivery_ns.push_back(first - std::min(first, stamps[n]));
        report.last_delivery_ns.push_back(last - std::min(last, stamps[n]));
        if (n == 0) {
            report.one_first_ns = report.first_delivery_ns.back();
            report.one_last_ns = report.last_delivery_ns.back();
        }
        last_arrival = std::max(last_arrival, last);
    }
    const bool alone = stamps.size() <= 1;
    const std::uint64_t first_stamp = stamps.empty() ? 0 : stamps[alone ? 0 : 1];
    report.seconds = last_arrival > first_stamp ? double(last_arrival - first_stamp) / 1e9 : 0;
    report.rate_deliveries = alone ? report.received : report.received - std::min(report.received, first_of_one);
}

void print_push(const PushReport& r) {
    const std::uint64_t expected = std::uint64_t{r.publications} * r.subscribers;
    std::printf("  push: %u publications to %llu subscribers: %llu of %llu deliveries, %llu lost, %llu repeated, "
                "%llu subscribers silent, %llu with every one\n",
                r.publications, static_cast<unsigned long long>(r.subscribers),
                static_cast<unsigned long long>(r.received), static_cast<unsigned long long>(expected),
                static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.repeated),
                static_cast<unsigned long long>(r.silent), static_cast<unsigned long long>(r.complete));
    std::printf("  push: publish to delivery over every delivery p50 %s, p99 %s, max %s\n",
                format_ns(r.latency.percentile(50)).c_str(), format_ns(r.latency.percentile(99)).c_str(),
                format_ns(r.latency.max()).c_str());
    std::printf("  push: publication 1, alone: first delivery %s, last delivery %s after its publish\n",
                format_ns(r.one_first_ns).c_str(), format_ns(r.one_last_ns).c_str());
    if (r.first_delivery_ns.size() > 1) {
        std::printf("  push: per publication, first delivery p50 %s max %s; last delivery p50 %s p99 %s max %s\n",
                    format_ns(percentile_of(r.first_delivery_ns, 50)).c_str(),
                    format_ns(percentile_of(r.first_delivery_ns, 100)).c_str(),
                    format_ns(percentile_of(r.last_delivery_ns, 50)).c_str(),
                    format_ns(percentile_of(r.last_delivery_ns, 99)).c_str(),
                    format_ns(percentile_of(r.last_delivery_ns, 100)).c_str());
    }
    if (r.seconds > 0) {
        std::printf("  push: %s: %s deliveries in %.2f s, %s deliveries/s\n",
                    r.publications > 1 ? "publications 2..N" : "publication 1",
                    format_si(double(r.rate_deliveries)).c_str(), r.seconds,
                    format_si(double(r.rate_deliveries) / r.seconds).c_str());
    }
    std::printf("  push: server CPU %.2f s over the whole push, %s deliveries per server-CPU-second\n",
                r.server_cpu_seconds,
                r.server_cpu_seconds > 0 ? format_si(double(r.received) / r.server_cpu_seconds).c_str() : "-");
}

void write_push_json(JsonWriter& j, const PushReport& r) {
    j.begin_object("push");
    j.integer("publications", r.publications);
    j.integer("subscribers", r.subscribers);
    j.integer("expected", std::uint64_t{r.publications} * r.subscribers);
    j.integer("received", r.received);
    j.integer("lost", r.lost);
    j.integer("repeated", r.repeated);
    j.integer("silent", r.silent);
    j.integer("complete", r.complete);
    j.integer("latency_p50_ns", r.latency.percentile(50));
    j.integer("latency_p99_ns", r.latency.percentile(99));
    j.integer("latency_max_ns", r.latency.max());
    j.integer("one_first_delivery_ns", r.one_first_ns);
    j.integer("one_last_delivery_ns", r.one_last_ns);
    j.integer("first_delivery_p50_ns", percentile_of(r.first_delivery_ns, 50));
    j.integer("first_delivery_max_ns", percentile_of(r.first_delivery_ns, 100));
    j.integer("last_delivery_p50_ns", percentile_of(r.last_delivery_ns, 50));
    j.integer("last_delivery_p99_ns", percentile_of(r.last_delivery_ns, 99));
    j.integer("last_delivery_max_ns", percentile_of(r.last_delivery_ns, 100));
    j.number("seconds", r.seconds);
    j.integer("rate_deliveries", r.rate_deliveries);
    j.number("deliveries_per_second", r.seconds > 0 ? double(r.rate_deliveries) / r.seconds : 0);
    j.number("server_cpu_seconds", r.server_cpu_seconds);
    j.number("deliveries_per_server_cpu_second", r.server_cpu_seconds > 0 ? double(r.received) / r.server_cpu_seconds : 0);
    j.end_object();
}

}  // namespace surge::loadgen
