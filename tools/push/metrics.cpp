#include "tools/push/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "surge/core/clock.hpp"

namespace surge::push {
namespace {

struct Family {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t ShardStats::*field;
};

constexpr Family kShardFamilies[] = {
    {"surge_connections", "gauge", "Open WebSocket connections.", &ShardStats::connections},
    {"surge_connections_opened_total", "counter", "WebSocket upgrades completed.", &ShardStats::connections_opened},
    {"surge_http_requests_total", "counter", "Requests answered by a plain HTTP route (publish, metrics, page).",
     &ShardStats::http_requests},
    {"surge_subscriptions", "gauge", "Subscriptions (connection, topic).", &ShardStats::subscriptions},
    {"surge_messages_in_total", "counter", "Messages received from clients.", &ShardStats::messages_in},
    {"surge_bytes_in_total", "counter", "Payload bytes received from clients.", &ShardStats::bytes_in},
    {"surge_messages_out_total", "counter", "Messages sent or delivered to clients.", &ShardStats::messages_out},
    {"surge_bytes_out_total", "counter", "Frame bytes sent or delivered to clients.", &ShardStats::bytes_out},
    {"surge_dropped_total", "counter", "Messages dropped for a connection past its backpressure bound.",
     &ShardStats::dropped},
    {"surge_slow_closed_total", "counter", "Connections closed with 1008 for backpressure.", &ShardStats::slow_closed},
    {"surge_pongs_coalesced_total", "counter",
     "Pings answered by a pong already queued for a client that is not reading (RFC 6455 5.5.3).",
     &ShardStats::pongs_coalesced},
    {"surge_subscriptions_refused_total", "counter", "Subscriptions refused past --max-subscriptions.",
     &ShardStats::subscriptions_refused},
    {"surge_refused_per_address_total", "counter",
     "Connections refused with 429 past --max-per-address (one source address).",
     &ShardStats::refused_per_address},
    {"surge_refused_at_capacity_total", "counter", "Connections refused with 503 past --max-connections.",
     &ShardStats::refused_at_capacity},
    {"surge_handshakes", "gauge", "Connections accepted whose request or upgrade is not done yet.",
     &ShardStats::handshakes},
    {"surge_handshakes_evicted_total", "counter",
     "Handshakes older than a second ended with 408 to make room past --max-handshakes.",
     &ShardStats::handshakes_evicted},
    {"surge_input_bytes_held", "gauge", "Bytes of partial requests and frames waiting for the rest.",
     &ShardStats::input_bytes_held},
    {"surge_ring_lag", "gauge", "Published messages the shard has not fanned out yet.", &ShardStats::ring_lag},
    {"surge_ring_stalls_total", "counter", "Times a publisher found the broadcast ring full because of the shard.",
     &ShardStats::ring_stalls},
};

// surge_publish_requests_total's outcomes.
struct Outcome {
    const char* name;
    PushCount count;
};
constexpr Outcome kOutcomes[] = {
    {"accepted", PushCount::Accepted},   {"backpressure", PushCount::Backpressure},
    {"unauthorized", PushCount::Unauthorized}, {"forbidden", PushCount::Forbidden},
    {"invalid", PushCount::Invalid}, {"broker_unavailable", PushCount::BrokerUnavailable},
    {"broker_unconfirmed", PushCount::BrokerUnconfirmed},
};

// The process's own counters, one series each.
struct Counter {
    const char* name;
    const char* help;
    PushCount count;
};
constexpr Counter kProcessCounters[] = {
    {"surge_topics_refused_total",
     "Subscriptions refused because the topic is not 1 to --max-topic-bytes of UTF-8 without control characters.",
     PushCount::TopicsRefused},
    {"surge_replies_undeliverable_total",
     "Subscribers closed with 1008 because a reply to their command could not be queued (not reading).",
     PushCount::RepliesUndeliverable},
};

void header(std::string& out, const char* name, const char* type, const char* help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, const char* name, const std::string& labels, std::uint64_t value) {
    out.append(name).append("{").append(labels).append("} ").append(std::to_string(value)).append("\n");
}

void sample(std::string& out, const char* name, const std::string& labels, double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6f", value);
    out.append(name).append("{").append(labels).append("} ").append(text).append("\n");
}

std::string worker_label(const WorkerFigures& w) { return "worker=\"" + std::to_string(w.worker) + "\""; }

// The broker's families (--redis, or the workers' hub), when any worker has one.
void render_broker(std::string& out, std::span<const WorkerFigures> workers) {
    if (std::none_of(workers.begin(), workers.end(), [](const WorkerFigures& w) { return w.has_broker; })) return;
    struct BrokerFamily {
        const char* name;
        const char* type;
        const char* help;
        std::uint64_t BrokerStats::*value;
    };
    static constexpr BrokerFamily kBroker[] = {
        {"surge_broker_reconnects_total", "counter",
         "Times the worker's subscribing connection to the broker was made again after a loss.",
         &BrokerStats::reconnects},
        {"surge_broker_publish_failures_total", "counter",
         "Publishes the broker could not take or confirm (answered 503 or 504).", &BrokerStats::publish_failures},
        {"surge_broker_delivered_total", "counter",
         "Publications the broker delivered to this worker (of topics it has subscribers to).",
         &BrokerStats::delivered},
        {"surge_broker_topics", "gauge", "Topics this worker hears from the broker (it has subscribers to them).",
         &BrokerStats::interests},
    };
    header(out, "surge_broker_connected", "gauge", "1 while the worker's subscribing connection to the broker is up.");
    for (const WorkerFigures& w : workers) {
        sample(out, "surge_broker_connected", worker_label(w), std::uint64_t{w.broker.connected});
    }
    for (const BrokerFamily& family : kBroker) {
        header(out, family.name, family.type, family.help);
        for (const WorkerFigures& w : workers) sample(out, family.name, worker_label(w), w.broker.*family.value);
    }
}
std::string shard_labels(const WorkerFigures& w, std::size_t shard) {
    return worker_label(w) + ",shard=\"" + std::to_string(shard) + "\"";
}

std::uint64_t count_open_fds() {
    DIR* fds = ::opendir("/proc/self/fd");
    if (!fds) return 0;
    std::uint64_t n = 0;
    while (const dirent* entry = ::readdir(fds)) {
        if (entry->d_name[0] != '.') ++n;
    }
    ::closedir(fds);
    return n > 0 ? n - 1 : 0;  // less the directory's own descriptor
}

ProcessFigures read_process(std::uint64_t start_unix_seconds) {
    ProcessFigures p;
    p.start_unix_seconds = start_unix_seconds;
    if (std::FILE* stat = std::fopen("/proc/self/stat", "r")) {
        char text[1024];
        const std::size_t n = std::fread(text, 1, sizeof text - 1, stat);
        std::fclose(stat);
        text[n] = '\0';
        // After "(comm)": state is field 3; utime and stime are fields 14 and 15, rss (pages) field 24.
        if (const char* after = std::strrchr(text, ')')) {
            unsigned long long utime = 0, stime = 0;
            long long rss = 0;
            if (std::sscanf(after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                                       "%*d %*u %*u %lld",
                            &utime, &stime, &rss) == 3) {
                const long ticks = ::sysconf(_SC_CLK_TCK);
                p.cpu_microseconds = (utime + stime) * 1'000'000ULL / static_cast<unsigned long long>(ticks);
                p.resident_bytes = static_cast<std::uint64_t>(rss) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
            }
        }
    }
    // Listing /proc/self/fd costs a directory entry per descriptor: with 18,000 subscribers a worker spent 12% of
    // its CPU on it (perf, bench/million_push.sh) when the share writer counted every second. At most every 10 s.
    static std::atomic<long long> counted_at{-1'000'000};
    static std::atomic<std::uint64_t> counted{0};
    const long long now = monotonic_ms();
    if (now - counted_at.load(std::memory_order_relaxed) >= 10'000) {
        counted.store(count_open_fds(), std::memory_order_relaxed);
        counted_at.store(now, std::memory_order_relaxed);
    }
    p.open_fds = counted.load(std::memory_order_relaxed);
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = limit.rlim_cur;
    return p;
}

}  // namespace

WorkerFigures snapshot(unsigned worker, const Server& server, const PushCounters& counters,
                       std::uint64_t start_unix_seconds) {
    WorkerFigures figures;
    figures.worker = worker;
    figures.shards = server.stats();
    for (std::size_t i = 0; i < kPushCounts; ++i) figures.pushes[i] = counters.values[i].load(std::memory_order_relaxed);
    figures.process = read_process(start_unix_seconds);
    figures.history = server.history_stats();
    if (const std::optional<BrokerStats> broker = server.broker_stats()) {
        figures.has_broker = true;
        figures.broker = *broker;
    }
    return figures;
}

std::string render_metrics(std::span<const WorkerFigures> workers) {
    std::string out;
    out.reserve(8192);
    for (const Family& family : kShardFamilies) {
        header(out, family.name, family.type, family.help);
        for (const WorkerFigures& w : workers) {
            for (std::size_t i = 0; i < w.shards.size(); ++i) sample(out, family.name, shard_labels(w, i), w.shards[i].*family.field);
        }
    }
    header(out, "surge_requests_refused_total", "counter",
           "Requests the server refused itself, by status: malformed or too large (400, 413, 431, 501), no route "
           "(404, 405), an upgrade refused (400, 403, 426), a handshake evicted (408); status=\"other\" for the rest.");
    for (const WorkerFigures& w : workers) {
        for (std::size_t i = 0; i < w.shards.size(); ++i) {
            for (std::size_t s = 0; s < kRefusalStatusSlots; ++s) {
                const std::string status = s < std::size(kCountedRefusalStatuses)
                                               ? std::to_string(kCountedRefusalStatuses[s]) : std::string("other");
                sample(out, "surge_requests_refused_total", shard_labels(w, i) + ",status=\"" + status + "\"",
                       w.shards[i].requests_refused_by_status[s]);
            }
        }
    }
    header(out, "surge_closes_total", "counter",
           "WebSocket connections ended, by close code (1006: no closing handshake; code=\"other\" for the rest).");
    for (const WorkerFigures& w : workers) {
        for (std::size_t i = 0; i < w.shards.size(); ++i) {
            for (std::size_t c = 0; c < kCloseCodeSlots; ++c) {
                const std::string code = c < std::size(kCountedCloseCodes) ? std::to_string(kCountedCloseCodes[c])
                                                                            : std::string("other");
                sample(out, "surge_closes_total", shard_labels(w, i) + ",code=\"" + code + "\"", w.shards[i].closes[c]);
            }
        }
    }
    header(out, "surge_publish_requests_total", "counter", "POST /publish requests, by outcome.");
    for (const WorkerFigures& w : workers) {
        for (const Outcome& outcome : kOutcomes) {
            sample(out, "surge_publish_requests_total", worker_label(w) + ",outcome=\"" + outcome.name + "\"",
                   w.pushes[static_cast<std::size_t>(outcome.count)]);
        }
    }
    for (const Counter& counter : kProcessCounters) {
        header(out, counter.name, "counter", counter.help);
        for (const WorkerFigures& w : workers) {
            sample(out, counter.name, worker_label(w), w.pushes[static_cast<std::size_t>(counter.count)]);
        }
    }
    header(out, "surge_history_bytes", "gauge",
           "Bytes the topics' history holds for subscribers that resume (frames and topic names; --history-bytes).");
    for (const WorkerFigures& w : workers) sample(out, "surge_history_bytes", worker_label(w), w.history.bytes);
    header(out, "surge_history_entries", "gauge", "Publications the topics' history holds.");
    for (const WorkerFigures& w : workers) sample(out, "surge_history_entries", worker_label(w), w.history.entries);
    header(out, "surge_history_topics", "gauge", "Topics whose offsets the worker keeps (every topic published to).");
    for (const WorkerFigures& w : workers) sample(out, "surge_history_topics", worker_label(w), w.history.topics);
    header(out, "surge_history_evicted_total", "counter",
           "Publications history let go: past --history-size per topic, --history-seconds, or --history-bytes.");
    for (const WorkerFigures& w : workers) sample(out, "surge_history_evicted_total", worker_label(w), w.history.evicted);
    render_broker(out, workers);
    header(out, "process_resident_memory_bytes", "gauge", "Resident memory of the worker process, in bytes.");
    for (const WorkerFigures& w : workers) sample(out, "process_resident_memory_bytes", worker_label(w), w.process.resident_bytes);
    header(out, "process_cpu_seconds_total", "counter", "User and system CPU time of the worker process, in seconds.");
    for (const WorkerFigures& w : workers) {
        sample(out, "process_cpu_seconds_total", worker_label(w), static_cast<double>(w.process.cpu_microseconds) / 1e6);
    }
    header(out, "process_open_fds", "gauge", "Open file descriptors of the worker process.");
    for (const WorkerFigures& w : workers) sample(out, "process_open_fds", worker_label(w), w.process.open_fds);
    header(out, "process_max_fds", "gauge", "The worker process's descriptor limit (connections are descriptors).");
    for (const WorkerFigures& w : workers) sample(out, "process_max_fds", worker_label(w), w.process.max_fds);
    header(out, "process_start_time_seconds", "gauge", "When the worker process started, in Unix seconds.");
    for (const WorkerFigures& w : workers) {
        sample(out, "process_start_time_seconds", worker_label(w), w.process.start_unix_seconds);
    }
    return out;
}

}  // namespace surge::push
