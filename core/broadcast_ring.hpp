// A lock-free broadcast ring: many producers, a fixed set of consumers that each see every item, in the
// Disruptor's style. Layer: core. The server puts one in front of its shards: any thread publishes, and every
// shard reads every item with its own cursor.
//  - Capacity is a power of two, fixed at construction; the ring never allocates after that.
//  - Producers claim sequence numbers with a CAS on one counter, then fill their slot and stamp it. A claim is
//    granted only when every consumer has passed the slot's previous lap, so a slot is reused only after every
//    consumer has read it.
//  - A full ring never blocks a producer: try_claim() fails at once (the caller reports Backpressure), and
//    claim_until() spins, then yields, until a deadline the caller chose. Each time a producer finds the ring
//    full, the consumer furthest behind is charged one stall, so a lagging consumer is visible, not silent.
//  - Consumer i calls poll(i, ...) from one thread at a time (its shard's); it reads items in sequence order
//    and stops at the first slot not yet stamped, so items claimed by one producer are seen in claim order.
// T is copied in and out of the slots, so it must be trivially copyable (a pointer and a few words).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>

namespace surge {

template <class T>
class BroadcastRing {
    static_assert(std::is_trivially_copyable_v<T>, "items are copied in and out of shared slots");

public:
    // capacity is rounded up to a power of two (at least 2); consumers is the number of cursors (at least 1).
    BroadcastRing(std::size_t capacity, unsigned consumers)
        : capacity_(round_up(capacity)),
          mask_(capacity_ - 1),
          consumer_count_(consumers ? consumers : 1),
          slots_(std::make_unique<Slot[]>(capacity_)),
          cursors_(std::make_unique<Cursor[]>(consumer_count_)) {}

    BroadcastRing(const BroadcastRing&) = delete;
    BroadcastRing& operator=(const BroadcastRing&) = delete;

    std::size_t capacity() const noexcept { return capacity_; }
    unsigned consumers() const noexcept { return consumer_count_; }

    // ---- producers (any thread) ----

    // Claims the next sequence number, or nothing when the ring is full. The claimed slot must then be filled
    // with publish(); consumers wait at it until it is.
    std::optional<std::uint64_t> try_claim() noexcept {
        std::uint64_t next = claimed_.load(std::memory_order_relaxed);
        for (;;) {
            if (next - gate_.load(std::memory_order_acquire) >= capacity_) {
                // The cached gate says full; look at the cursors themselves before giving up.
                const std::uint64_t slowest = refresh_gate();
                if (next - slowest >= capacity_) {
                    full_.fetch_add(1, std::memory_order_relaxed);
                    charge_stall(slowest);
                    return std::nullopt;
                }
            }
            if (claimed_.compare_exchange_weak(next, next + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
                return next;
            }
        }
    }

    // try_claim(), retried until `deadline`: spinning briefly, then yielding the CPU between tries.
    std::optional<std::uint64_t> claim_until(std::chrono::steady_clock::time_point deadline) noexcept {
        for (unsigned attempt = 0;; ++attempt) {
            if (std::optional<std::uint64_t> sequence = try_claim()) return sequence;
            if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
            if (attempt >= 64) std::this_thread::yield();
        }
    }

    // Fills the slot of a claimed sequence and makes it visible to the consumers.
    void publish(std::uint64_t sequence, const T& item) noexcept {
        Slot& slot = slots_[sequence & mask_];
        slot.item = item;
        slot.stamp.store(sequence + 1, std::memory_order_release);  // 0 means "never written"
    }

    bool try_push(const T& item) noexcept {
        const std::optional<std::uint64_t> sequence = try_claim();
        if (sequence) publish(*sequence, item);
        return sequence.has_value();
    }

    // ---- consumers (consumer i from one thread at a time) ----

    // Calls on_item(const T&) for up to `max` items that consumer `i` has not seen, in sequence order, then
    // lets producers reuse their slots. Returns how many it handled.
    template <class OnItem>
    std::size_t poll(unsigned i, OnItem&& on_item, std::size_t max = SIZE_MAX) {
        Cursor& cursor = cursors_[i];
        const std::uint64_t start = cursor.next.load(std::memory_order_relaxed);
        std::uint64_t next = start;
        while (next - start < max) {
            const Slot& slot = slots_[next & mask_];
            if (slot.stamp.load(std::memory_order_acquire) != next + 1) break;
            const T item = slot.item;  // copied before the slot can be handed back
            ++next;
            on_item(item);
        }
        if (next != start) cursor.next.store(next, std::memory_order_release);
        return static_cast<std::size_t>(next - start);
    }

    // True when consumer `i` has an item ready to poll.
    bool ready(unsigned i) const noexcept {
        const std::uint64_t next = cursors_[i].next.load(std::memory_order_relaxed);
        return slots_[next & mask_].stamp.load(std::memory_order_acquire) == next + 1;
    }

    // ---- observation (any thread) ----

    // Items claimed so far (published or about to be).
    std::uint64_t claimed() const noexcept { return claimed_.load(std::memory_order_relaxed); }
    // How many claimed items consumer `i` has not read yet.
    std::uint64_t lag(unsigned i) const noexcept {
        const std::uint64_t read = cursors_[i].next.load(std::memory_order_relaxed);
        const std::uint64_t claimed = claimed_.load(std::memory_order_relaxed);
        return claimed > read ? claimed - read : 0;
    }
    // How many times a producer found the ring full because of consumer `i` (it was the furthest behind).
    std::uint64_t stalls(unsigned i) const noexcept { return cursors_[i].stalls.load(std::memory_order_relaxed); }
    // How many claims failed on a full ring (each try of claim_until counts).
    std::uint64_t full_count() const noexcept { return full_.load(std::memory_order_relaxed); }

private:
    struct Slot {  // not padded to a cache line: idle servers keep the ring small, and producers rarely collide
        std::atomic<std::uint64_t> stamp{0};
        T item{};
    };
    struct alignas(64) Cursor {  // one cache line each: a consumer's stores never slow another's
        std::atomic<std::uint64_t> next{0};
        std::atomic<std::uint64_t> stalls{0};
    };

    static std::size_t round_up(std::size_t n) noexcept {
        std::size_t capacity = 2;
        while (capacity < n) capacity <<= 1;
        return capacity;
    }

    // The lowest cursor: no slot at or past it plus capacity may be claimed. Cached in gate_ so that a producer
    // reads every cursor only when the cached value says the ring is full. A racing producer may store an older
    // minimum; that is only conservative (it makes the next producer look again).
    std::uint64_t refresh_gate() noexcept {
        std::uint64_t slowest = UINT64_MAX;
        for (unsigned i = 0; i < consumer_count_; ++i) {
            const std::uint64_t next = cursors_[i].next.load(std::memory_order_acquire);
            if (next < slowest) slowest = next;
        }
        gate_.store(slowest, std::memory_order_release);
        return slowest;
    }

    void charge_stall(std::uint64_t slowest) noexcept {
        for (unsigned i = 0; i < consumer_count_; ++i) {
            if (cursors_[i].next.load(std::memory_order_relaxed) == slowest) {
                cursors_[i].stalls.fetch_add(1, std::memory_order_relaxed);
                return;
            }
        }
    }

    const std::size_t capacity_;
    const std::size_t mask_;
    const unsigned consumer_count_;
    std::unique_ptr<Slot[]> slots_;
    std::unique_ptr<Cursor[]> cursors_;
    alignas(64) std::atomic<std::uint64_t> claimed_{0};
    alignas(64) std::atomic<std::uint64_t> gate_{0};
    alignas(64) std::atomic<std::uint64_t> full_{0};
};

}  // namespace surge
