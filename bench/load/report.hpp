// surge-load's report: the threads' counters summed, and the JSON file. Layer: bench.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "bench/load/run.hpp"

namespace surge::loadgen {

// Sums of every thread's counters at one moment.
struct Totals {
    std::uint64_t open_now = 0;
    bool ramped = true;
    std::uint64_t opened = 0, sent = 0, received = 0, bytes_sent = 0, bytes_received = 0, unstamped = 0;
    std::uint64_t sequenced = 0, lost = 0, repeated = 0, silent = 0;
    std::uint64_t caught_up = 0, caught_up_ns = 0;  // the latest of the threads' times
    std::uint64_t failures = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(ClientFailure::Count)> by_kind{};
    std::unique_ptr<LatencyHistogram> latency = std::make_unique<LatencyHistogram>();
};

Totals sum(const std::vector<std::unique_ptr<ThreadStats>>& stats);

// Per-second rates over the measured window.
struct Rates {
    double received = 0, sent = 0, bytes_received = 0, bytes_sent = 0;
};

void write_json(const Options& o, const Totals& end, double window, const Rates& rates,
                const std::vector<std::unique_ptr<ThreadStats>>& stats);

}  // namespace surge::loadgen
