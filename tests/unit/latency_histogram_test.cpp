// The latency histogram: bucket arithmetic at every power of two, percentiles within 1% of the exact ones for
// several distributions, merging, and reading while another thread records (TSan checks the last).
#include "tools/loadgen/latency_histogram.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <thread>
#include <vector>

using surge::LatencyHistogram;

namespace {

std::uint64_t exact_percentile(std::vector<std::uint64_t> values, double p) {
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    return values[std::max<std::size_t>(rank, 1) - 1];
}

void check_within_one_percent(const std::vector<std::uint64_t>& values) {
    auto h = std::make_unique<LatencyHistogram>();
    for (std::uint64_t v : values) h->record(v);
    CHECK(h->count() == values.size());
    CHECK(h->max() == *std::max_element(values.begin(), values.end()));
    for (double p : {1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        const double exact = static_cast<double>(exact_percentile(values, p));
        const double got = static_cast<double>(h->percentile(p));
        CAPTURE(p);
        CHECK(std::abs(got - exact) <= exact * 0.01);
    }
}

}  // namespace

TEST_CASE("every value lands in a bucket that holds it, and buckets are at most 1/128 of their values wide") {
    for (unsigned k = 0; k < LatencyHistogram::kMaxValueBits; ++k) {
        for (std::uint64_t v : {std::uint64_t{1} << k, (std::uint64_t{1} << k) + 1, (std::uint64_t{2} << k) - 1}) {
            const std::size_t b = LatencyHistogram::bucket_of(v);
            CAPTURE(v);
            REQUIRE(b < LatencyHistogram::kBucketCount);
            CHECK(LatencyHistogram::bucket_low(b) <= v);
            CHECK(v < LatencyHistogram::bucket_low(b) + LatencyHistogram::bucket_width(b));
            CHECK(LatencyHistogram::bucket_width(b) * 128 <= std::max<std::uint64_t>(v, 128));
        }
    }
    // Buckets tile the range: each starts where the previous one ended.
    for (std::size_t b = 1; b < LatencyHistogram::kBucketCount; ++b) {
        REQUIRE(LatencyHistogram::bucket_low(b) ==
                LatencyHistogram::bucket_low(b - 1) + LatencyHistogram::bucket_width(b - 1));
    }
    CHECK(LatencyHistogram::bucket_of(~std::uint64_t{0}) == LatencyHistogram::kBucketCount - 1);
}

TEST_CASE("percentiles are within 1% of the exact ones") {
    std::mt19937_64 rng(42);
    std::vector<std::uint64_t> values;
    SUBCASE("uniform, 1 us to 10 ms") {
        std::uniform_int_distribution<std::uint64_t> d(1'000, 10'000'000);
        for (int i = 0; i < 100'000; ++i) values.push_back(d(rng));
    }
    SUBCASE("long-tailed (log-normal around 50 us)") {
        std::lognormal_distribution<double> d(std::log(50'000.0), 1.5);
        for (int i = 0; i < 100'000; ++i) values.push_back(static_cast<std::uint64_t>(d(rng)) + 1);
    }
    SUBCASE("small exact values and one huge outlier") {
        for (int i = 0; i < 1000; ++i) values.push_back(static_cast<std::uint64_t>(i % 100));
        values.push_back(std::uint64_t{1} << 40);
    }
    check_within_one_percent(values);
}

TEST_CASE("an empty histogram reports zeros, add() merges, reset() forgets") {
    auto a = std::make_unique<LatencyHistogram>();
    auto b = std::make_unique<LatencyHistogram>();
    CHECK(a->percentile(50) == 0);
    CHECK(a->max() == 0);
    for (std::uint64_t v = 1; v <= 100; ++v) a->record(v * 1000);
    for (std::uint64_t v = 101; v <= 200; ++v) b->record(v * 1000);
    a->add(*b);
    CHECK(a->count() == 200);
    CHECK(a->max() == 200'000);
    CHECK(std::abs(static_cast<double>(a->percentile(50)) - 100'000.0) <= 1000.0);
    a->reset();
    CHECK(a->count() == 0);
    CHECK(a->percentile(99) == 0);
}

TEST_CASE("a reader may merge while the owner records") {
    auto owner = std::make_unique<LatencyHistogram>();
    std::atomic<bool> done{false};
    std::thread recorder([&] {
        for (std::uint64_t i = 0; i < 200'000; ++i) owner->record(1000 + i % 5000);
        done = true;
    });
    std::uint64_t last = 0;
    while (!done) {
        auto snapshot = std::make_unique<LatencyHistogram>();
        snapshot->add(*owner);
        CHECK(snapshot->count() >= last);  // counts only grow
        last = snapshot->count();
    }
    recorder.join();
    CHECK(owner->count() == 200'000);
}
