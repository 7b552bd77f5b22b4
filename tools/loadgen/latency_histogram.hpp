// A latency histogram in the style of HdrHistogram: log-linear buckets, constant memory (36 KiB), at most 1%
// error (a bucket is at most 1/128 of its values wide, and a percentile is reported as its bucket's midpoint).
// Layer: tools (the load tools' own; surge-load is its user). Values are nanoseconds from 0 to 2^42 (73
// minutes); larger ones land in the last bucket, and max() stays exact. One thread records; any thread may read
// or merge it at the same time (the counters are relaxed atomics), which is how a load tool prints percentiles
// "so far" while its threads keep recording.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace surge {

class LatencyHistogram {
public:
    static constexpr unsigned kSubBucketBits = 7;  // 128 sub-buckets per power of two: width <= value / 128
    static constexpr unsigned kMaxValueBits = 42;
    static constexpr std::size_t kBucketCount = (kMaxValueBits - kSubBucketBits + 1) << kSubBucketBits;

    // The recording thread only.
    void record(std::uint64_t value_ns) noexcept {
        bump(counts_[bucket_of(value_ns)], 1);
        bump(total_, 1);
        if (value_ns > max_.load(std::memory_order_relaxed)) max_.store(value_ns, std::memory_order_relaxed);
    }
    // Adds `other`'s counts to this one (this one's recorder must not record meanwhile).
    void add(const LatencyHistogram& other) noexcept;
    // Forgets everything (the recording thread only, or while nobody records).
    void reset() noexcept;

    std::uint64_t count() const noexcept { return total_.load(std::memory_order_relaxed); }
    std::uint64_t max() const noexcept { return max_.load(std::memory_order_relaxed); }
    // The value below which `percentile` percent of the recorded values fall (0 < percentile <= 100); 0 when
    // nothing was recorded. 100 gives max().
    std::uint64_t percentile(double percentile) const noexcept;

    static std::size_t bucket_of(std::uint64_t value) noexcept;
    // The smallest value that lands in `bucket`, and the bucket's width.
    static std::uint64_t bucket_low(std::size_t bucket) noexcept;
    static std::uint64_t bucket_width(std::size_t bucket) noexcept;

private:
    // Single writer: a load and a store, not a locked read-modify-write.
    static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by) noexcept {
        counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
    }

    std::array<std::atomic<std::uint64_t>, kBucketCount> counts_{};
    std::atomic<std::uint64_t> total_{0};
    std::atomic<std::uint64_t> max_{0};
};

}  // namespace surge
