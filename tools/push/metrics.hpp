// surge-push's GET /metrics: the server's per-shard counters and the push server's own, in the Prometheus text
// exposition format (version 0.0.4). Layer: tools.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "surge/ws/server.hpp"

namespace surge::push {

// What the HTTP side of surge-push counts (any shard thread adds; /metrics reads).
struct PublishCounters {
    std::atomic<std::uint64_t> accepted{0};      // POST /publish answered 200
    std::atomic<std::uint64_t> backpressure{0};  // answered 503: the ring was full
    std::atomic<std::uint64_t> unauthorized{0};  // answered 401
    std::atomic<std::uint64_t> forbidden{0};     // answered 403: a browser page from an origin not allowed
    std::atomic<std::uint64_t> forwarded{0};     // received from sibling workers (--workers) and published here
    std::atomic<std::uint64_t> forward_missed{0};  // sent to a sibling whose queue was full: it missed the message
    std::atomic<std::uint64_t> replies_undeliverable{0};  // a reply to a subscriber past its bound: closed, 1008
    std::atomic<std::uint64_t> invalid{0};         // POST /publish answered 400: the topic is not a valid name
    std::atomic<std::uint64_t> topics_refused{0};  // subscriptions refused: the topic is not a valid name
};

// `worker` labels every sample (the process's index under --workers; 0 without).
std::string render_metrics(const std::vector<ShardStats>& shards, const PublishCounters& publishes, unsigned worker);

}  // namespace surge::push
