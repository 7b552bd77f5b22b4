// Shared by the microbenchmarks: the payload sizes every byte-crunching benchmark runs at, and a count of
// heap allocations per call.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

#include "bench/micro/alloc_counter.hpp"

namespace surge::bench {

// 0, 125 (largest 7-bit length), 126 (smallest 16-bit), 1 KiB, 64 KiB, 1 MiB.
inline void payload_sizes(benchmark::internal::Benchmark* b) {
    for (std::int64_t size : {0, 125, 126, 1024, 64 * 1024, 1024 * 1024}) b->Arg(size);
}

// Calls `op` `calls` times outside the timed loop and reports the heap allocations per call as the counter
// "allocs" (exact, unlike counting across the benchmark loop, whose own bookkeeping allocates).
template <class Op>
void report_allocations(benchmark::State& state, Op&& op, int calls = 100) {
    const std::uint64_t before = allocation_count();
    for (int i = 0; i < calls; ++i) op();
    const std::uint64_t after = allocation_count();
    state.counters["allocs"] = static_cast<double>(after - before) / calls;
}

}  // namespace surge::bench
