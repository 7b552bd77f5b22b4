// surge-stress --push N: once every connection is verified and held, the parent publishes N numbered, stamped
// messages to the --publish URL: the first alone (it waits until every connection has it: "one publication"),
// then the others at --push-rate per second, or all at once (a burst); every connection checks that it gets each
// of them once and in order; each delivery's latency from its publish is recorded, and for each
// publication its first and last delivery over all connections. Layer: tools. What "one publication reaches a
// million subscribers" is measured with (bench/million_push.sh).
// Workers record into PushShared (in the mapping the parent reads; one writer each); the parent publishes
// (PushPublisher) and reports (PushReport).
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/loadgen/latency_histogram.hpp"

namespace surge::loadgen {

inline constexpr std::size_t kMaxPushes = 10'000;
inline constexpr std::uint32_t kPushPublisher = 0x70757368;  // "push": the sequence mark's publisher id

// One worker's view of the push, written by that worker only.
struct PushShared {
    LatencyHistogram latency;  // every delivery: from the publisher's stamp to its arrival
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> lost{0};      // numbers a connection skipped (a later one came)
    std::atomic<std::uint64_t> repeated{0};  // numbers a connection got again, or out of order
    std::atomic<std::uint64_t> complete{0};  // connections that have every publication
    std::atomic<std::uint64_t> have_first{0};  // connections that have publication 1
    std::array<std::atomic<std::uint64_t>, kMaxPushes> first_ns{};  // by publication: its earliest arrival here
    std::array<std::atomic<std::uint64_t>, kMaxPushes> last_ns{};   // and its latest
};

// A worker's per-connection check: what each connection expects next.
class PushCheck {
public:
    PushCheck(PushShared& shared, std::uint32_t connections, std::uint32_t pushes)
        : shared_(shared), next_(connections, 1), pushes_(pushes) {}

    // A message's head on connection `id`; false when it is not a push publication (a verify message, say).
    bool see(std::uint32_t id, std::string_view head, std::uint64_t now_ns) noexcept;
    // Verified connections (verified[id] != 0) that got none of the publications.
    std::uint64_t silent(const std::vector<std::uint8_t>& verified) const noexcept;

private:
    PushShared& shared_;
    std::vector<std::uint32_t> next_;  // by connection id: the number expected next (1 first)
    std::uint32_t pushes_;
};

// The parent's side: POSTs publication n (1..count) with its stamp and number, on one keep-alive connection.
class PushPublisher {
public:
    explicit PushPublisher(std::string url) : url_(std::move(url)) {}
    ~PushPublisher();
    // Publishes number `n`, stamped now; returns the stamp, or 0 when the POST was not answered 200.
    std::uint64_t publish(std::uint32_t n);

private:
    bool connect();
    std::string url_;
    int fd_ = -1;
};

struct PushReport {
    std::uint32_t publications = 0;
    std::uint64_t subscribers = 0;  // verified connections
    std::uint64_t received = 0, lost = 0, repeated = 0, complete = 0, silent = 0;
    LatencyHistogram latency;
    // From each publication's stamp: its first and last delivery over every connection, in nanoseconds.
    std::vector<std::uint64_t> first_delivery_ns, last_delivery_ns;  // of the publications that arrived, in order
    std::uint64_t one_first_ns = 0, one_last_ns = 0;  // publication 1, sent alone
    // Publications 2..N (or publication 1 alone when there is no other): their deliveries, and the time from the
    // first of them being published to the last delivery of the last.
    std::uint64_t rate_deliveries = 0;
    double seconds = 0;
    double server_cpu_seconds = 0;
};

// What the parent publishes: to `url`, `count` publications, the rest at `rate` per second (0: at once); the
// server's processes (and their descendants) whose CPU time the push is charged.
struct PushPlan {
    std::string url;
    std::uint32_t count = 0;
    double rate = 0;
    std::vector<pid_t> server_pids;
};
// Publication 1 alone, until every subscriber has it (or nothing more arrives for 10 s); then the others, until
// every subscriber has every one; then gathers the report (its `silent` is the caller's: the workers know it
// once released). Prints a progress line a second; stops waiting when `interrupted`.
void run_push(const PushPlan& plan, const std::vector<const PushShared*>& workers, std::uint64_t subscribers,
              const std::atomic<bool>& interrupted, PushReport& report);
// Sums the workers' records; `stamps` are the publications' send times (0: not published).
void gather_push(const std::vector<const PushShared*>& workers, const std::vector<std::uint64_t>& stamps,
                 PushReport& report);
// Prints the report's lines, and its JSON members into an open object.
void print_push(const PushReport& report);
class JsonWriter;
void write_push_json(JsonWriter& json, const PushReport& report);

}  // namespace surge::loadgen
