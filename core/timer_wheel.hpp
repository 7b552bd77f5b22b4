// A hashed timing wheel with intrusive timers: O(1) add and cancel, and O(1) per expired timer on tick.
// Layer: core. Each shard owns one wheel for its handshake and idle timeouts; a connection embeds TimerNodes,
// so the wheel allocates nothing per timer. Not thread-safe: only the owning thread touches it.
// Time is counted in ticks; the caller decides what a tick is (a shard uses 100 ms) and calls advance_to().
// A delay shorter than the wheel's horizon (slot count) is exact; a longer one is looked at once per lap until
// it is due. Expired nodes are unlinked before their callback runs, so the callback may re-add, cancel other
// timers, or destroy the node's owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace surge {

struct TimerNode {
    TimerNode* prev = nullptr;
    TimerNode* next = nullptr;
    std::uint64_t expiry = 0;  // the tick at which it fires

    bool armed() const noexcept { return next != nullptr; }
};

class TimerWheel {
public:
    // slot_count is rounded up to a power of two.
    explicit TimerWheel(std::size_t slot_count = 4096, std::uint64_t start_tick = 0);
    TimerWheel(const TimerWheel&) = delete;
    TimerWheel& operator=(const TimerWheel&) = delete;

    // Arms `node` to fire `delay` ticks from now (at least 1). An armed node is moved, not duplicated.
    void add(TimerNode& node, std::uint64_t delay) noexcept;
    // Disarms `node`; harmless if it is not armed. The node must belong to this wheel.
    void cancel(TimerNode& node) noexcept;

    // Advances to `tick`, calling on_expire(TimerNode&) for every timer due by then. Returns how many fired.
    template <class OnExpire>
    std::size_t advance_to(std::uint64_t tick, OnExpire&& on_expire);

    std::uint64_t now() const noexcept { return now_; }
    std::size_t armed_count() const noexcept { return armed_; }
    std::size_t slot_count() const noexcept { return mask_ + 1; }

private:
    static void link_before(TimerNode& sentinel, TimerNode& node) noexcept;
    static void unlink(TimerNode& node) noexcept;
    TimerNode& slot_for(std::uint64_t tick) noexcept { return slots_[tick & mask_]; }

    std::unique_ptr<TimerNode[]> slots_;  // circular lists, each headed by a sentinel
    std::uint64_t mask_;
    std::uint64_t now_;
    std::size_t armed_ = 0;
};

template <class OnExpire>
std::size_t TimerWheel::advance_to(std::uint64_t tick, OnExpire&& on_expire) {
    std::size_t fired = 0;
    // Past one full lap, every slot will be visited once anyway: skip the laps in between.
    if (tick > now_ + mask_ + 1) now_ = tick - (mask_ + 1);
    while (now_ < tick) {
        ++now_;
        TimerNode& slot = slot_for(now_);
        if (slot.next == &slot) continue;
        // Move the slot's list aside, then take nodes one at a time: the callback may cancel or re-add any
        // node, including ones still waiting in `pending`.
        TimerNode pending;
        pending.next = slot.next;
        pending.prev = slot.prev;
        pending.next->prev = &pending;
        pending.prev->next = &pending;
        slot.next = slot.prev = &slot;
        while (pending.next != &pending) {
            TimerNode& node = *pending.next;
            unlink(node);
            if (node.expiry <= now_) {
                --armed_;
                ++fired;
                on_expire(node);
            } else {
                link_before(slot, node);  // due in a later lap
            }
        }
    }
    return fired;
}

}  // namespace surge
