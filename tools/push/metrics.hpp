// surge-push's GET /metrics: every worker's per-shard counters, its own counters and its process figures, in the
// Prometheus text exposition format (version 0.0.4). Layer: tools.
// A scrape renders WorkerFigures, snapshots taken by snapshot(): one for a single process; with --workers one
// per worker, shared between them (tools/push/metrics_share.hpp), so any worker answers for all.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "surge/ws/server.hpp"

namespace surge::push {

// What surge-push counts beside the server's shards (any shard thread adds; snapshots read).
enum class PushCount : std::uint8_t {
    Accepted,              // POST /publish answered 200
    Backpressure,          // answered 503: the ring was full
    Unauthorized,          // answered 401
    Forbidden,             // answered 403: a browser page from an origin not allowed
    Invalid,               // answered 400 or 415: the topic is not a valid name, or the body not what it says
    RepliesUndeliverable,  // a reply to a subscriber past its bound: closed, 1008
    TopicsRefused,         // subscriptions refused: the topic is not a valid name
    BrokerUnavailable,     // answered 503: the broker (--redis) could not be reached
    BrokerUnconfirmed,     // answered 504: the broker's answer was lost (published or not, unknown)
};
inline constexpr std::size_t kPushCounts = 9;

struct PushCounters {
    std::array<std::atomic<std::uint64_t>, kPushCounts> values{};
    void add(PushCount which, std::uint64_t n = 1) noexcept {
        values[static_cast<std::size_t>(which)].fetch_add(n, std::memory_order_relaxed);
    }
};

// The process's own figures (/proc/self), as Prometheus's process collector names them.
struct ProcessFigures {
    std::uint64_t resident_bytes = 0;
    std::uint64_t cpu_microseconds = 0;  // user + system
    std::uint64_t open_fds = 0;
    std::uint64_t max_fds = 0;
    std::uint64_t start_unix_seconds = 0;
};

// One worker's figures at one moment: trivially copyable but for `shards`.
struct WorkerFigures {
    unsigned worker = 0;
    std::vector<ShardStats> shards;
    std::array<std::uint64_t, kPushCounts> pushes{};
    ProcessFigures process;
    HistoryStats history;  // the topics' history this worker keeps (ws/pubsub.hpp)
    bool has_broker = false;
    BrokerStats broker;    // with a broker (--redis)
};

// The figures of this process now. `start_unix_seconds`: when it started (time() at start-up).
WorkerFigures snapshot(unsigned worker, const Server& server, const PushCounters& counters,
                       std::uint64_t start_unix_seconds);

// Every sample carries worker="N" (the process's index under --workers; 0 without); per-shard ones shard="N".
std::string render_metrics(std::span<const WorkerFigures> workers);

}  // namespace surge::push
