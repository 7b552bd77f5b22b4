#include "tools/push/metrics.hpp"

#include <cstdio>

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
    {"surge_requests_refused_total", "counter",
     "Requests the server refused itself: malformed or too large (400, 413, 431, 501), no route (404, 405), an "
     "upgrade refused (403, 426), a handshake evicted (408).",
     &ShardStats::requests_refused},
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

using PublishCounter = std::atomic<std::uint64_t> PublishCounters::*;

// surge_publish_requests_total's outcomes.
struct Outcome {
    const char* name;
    PublishCounter counter;
};
constexpr Outcome kOutcomes[] = {
    {"accepted", &PublishCounters::accepted},         {"backpressure", &PublishCounters::backpressure},
    {"unauthorized", &PublishCounters::unauthorized}, {"forbidden", &PublishCounters::forbidden},
    {"invalid", &PublishCounters::invalid},
};

// The process's own counters, one series each.
struct Counter {
    const char* name;
    const char* help;
    PublishCounter field;
};
constexpr Counter kProcessCounters[] = {
    {"surge_publish_forwarded_total", "Messages published here on behalf of a sibling worker process (--workers).",
     &PublishCounters::forwarded},
    {"surge_publish_forward_missed_total", "Publishes a sibling worker missed because its queue was full (--workers).",
     &PublishCounters::forward_missed},
    {"surge_topics_refused_total",
     "Subscriptions refused because the topic is not 1 to --max-topic-bytes of UTF-8 without control characters.",
     &PublishCounters::topics_refused},
    {"surge_replies_undeliverable_total",
     "Subscribers closed with 1008 because a reply to their command could not be queued (not reading).",
     &PublishCounters::replies_undeliverable},
};

void header(std::string& out, const char* name, const char* type, const char* help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, const char* name, const std::string& labels, std::uint64_t value) {
    out.append(name).append("{").append(labels).append("} ").append(std::to_string(value)).append("\n");
}

}  // namespace

std::string render_metrics(const std::vector<ShardStats>& shards, const PublishCounters& publishes, unsigned worker) {
    std::string out;
    out.reserve(4096);
    const std::string worker_label = "worker=\"" + std::to_string(worker) + "\"";
    for (const Family& family : kShardFamilies) {
        header(out, family.name, family.type, family.help);
        for (std::size_t i = 0; i < shards.size(); ++i) {
            sample(out, family.name, worker_label + ",shard=\"" + std::to_string(i) + "\"", shards[i].*family.field);
        }
    }
    header(out, "surge_publish_requests_total", "counter", "POST /publish requests, by outcome.");
    for (const Outcome& outcome : kOutcomes) {
        sample(out, "surge_publish_requests_total", worker_label + ",outcome=\"" + outcome.name + "\"",
               (publishes.*outcome.counter).load(std::memory_order_relaxed));
    }
    for (const Counter& counter : kProcessCounters) {
        header(out, counter.name, "counter", counter.help);
        sample(out, counter.name, worker_label, (publishes.*counter.field).load(std::memory_order_relaxed));
    }
    return out;
}

}  // namespace surge::push
