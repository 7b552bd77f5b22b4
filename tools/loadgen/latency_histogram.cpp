#include "tools/loadgen/latency_histogram.hpp"

#include <bit>
#include <cmath>

namespace surge {
namespace {
constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << LatencyHistogram::kSubBucketBits;
}  // namespace

// Values below 128 get a bucket each. Above, the values from 2^k to 2^(k+1) share 128 buckets of width
// 2^(k-7), numbered on from where the previous power of two stopped.
std::size_t LatencyHistogram::bucket_of(std::uint64_t value) noexcept {
    if (value < kSubBuckets) return static_cast<std::size_t>(value);
    const unsigned k = static_cast<unsigned>(std::bit_width(value)) - 1;
    if (k >= kMaxValueBits) return kBucketCount - 1;
    const unsigned shift = k - kSubBucketBits;
    return static_cast<std::size_t>(((k - kSubBucketBits + 1) << kSubBucketBits) + ((value >> shift) - kSubBuckets));
}

std::uint64_t LatencyHistogram::bucket_low(std::size_t bucket) noexcept {
    if (bucket < kSubBuckets) return bucket;
    const std::uint64_t group = bucket >> kSubBucketBits;  // 1 for [128, 256), 2 for [256, 512), ...
    const std::uint64_t offset = bucket & (kSubBuckets - 1);
    return (kSubBuckets + offset) << (group - 1);
}

std::uint64_t LatencyHistogram::bucket_width(std::size_t bucket) noexcept {
    return bucket < kSubBuckets ? 1 : std::uint64_t{1} << ((bucket >> kSubBucketBits) - 1);
}

void LatencyHistogram::add(const LatencyHistogram& other) noexcept {
    for (std::size_t i = 0; i < kBucketCount; ++i) {
        if (const std::uint64_t n = other.counts_[i].load(std::memory_order_relaxed)) bump(counts_[i], n);
    }
    bump(total_, other.count());
    if (other.max() > max()) max_.store(other.max(), std::memory_order_relaxed);
}

void LatencyHistogram::reset() noexcept {
    for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
    total_.store(0, std::memory_order_relaxed);
    max_.store(0, std::memory_order_relaxed);
}

std::uint64_t LatencyHistogram::percentile(double percentile) const noexcept {
    // The counters may move while another thread records: walk what is there, and never report past max.
    std::uint64_t total = 0;
    for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
    if (total == 0) return 0;
    if (percentile >= 100.0) return max();
    const auto rank = static_cast<std::uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(total)));
    const std::uint64_t wanted = rank == 0 ? 1 : rank;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBucketCount; ++i) {
        seen += counts_[i].load(std::memory_order_relaxed);
        if (seen >= wanted) {
            const std::uint64_t mid = bucket_low(i) + bucket_width(i) / 2;
            const std::uint64_t top = max();
            return mid < top || top == 0 ? mid : top;
        }
    }
    return max();
}

}  // namespace surge
