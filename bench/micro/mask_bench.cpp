// Unmasking: surge's word-at-a-time apply_mask against two baselines in the same binary: a byte-at-a-time loop
// (the naive definition, kept from being vectorized) and a memcpy of the same bytes (the memory-bandwidth
// ceiling). bench/run-micro.sh prints them as ratios.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "bench/micro/bench_support.hpp"
#include "surge/ws/mask.hpp"

namespace {

constexpr surge::MaskKey kKey = {0x37, 0xFA, 0x21, 0x3D};

// The RFC's definition, one byte at a time. Vectorization is switched off for this function so that the
// baseline stays what its name says.
#if defined(__clang__)
void mask_bytewise(char* data, std::size_t size, surge::MaskKey key) {
#pragma clang loop vectorize(disable) interleave(disable)
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 3]);
}
#else
__attribute__((optimize("no-tree-vectorize"))) void mask_bytewise(char* data, std::size_t size,
                                                                   surge::MaskKey key) {
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 3]);
}
#endif

void BM_UnmaskBytewise(benchmark::State& state) {
    std::vector<char> buffer(static_cast<std::size_t>(state.range(0)), 'x');
    auto op = [&] { mask_bytewise(buffer.data(), buffer.size(), kKey); };
    for (auto _ : state) {
        op();
        benchmark::ClobberMemory();
    }
    surge::bench::report_allocations(state, op);
    state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_Unmask(benchmark::State& state) {
    std::vector<char> buffer(static_cast<std::size_t>(state.range(0)) + 1, 'x');
    char* data = buffer.data() + 1;  // unaligned on purpose: frames start anywhere in a receive buffer
    auto op = [&] { surge::apply_mask(data, static_cast<std::size_t>(state.range(0)), kKey); };
    for (auto _ : state) {
        op();
        benchmark::ClobberMemory();
    }
    surge::bench::report_allocations(state, op);
    state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_Memcpy(benchmark::State& state) {
    std::vector<char> from(static_cast<std::size_t>(state.range(0)), 'x');
    std::vector<char> to(from.size());
    for (auto _ : state) {
        std::memcpy(to.data(), from.data(), from.size());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * state.range(0));
}

}  // namespace

BENCHMARK(BM_UnmaskBytewise)->Apply(surge::bench::payload_sizes);
BENCHMARK(BM_Unmask)->Apply(surge::bench::payload_sizes);
BENCHMARK(BM_Memcpy)->Apply(surge::bench::payload_sizes);
