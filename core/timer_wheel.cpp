#include "surge/core/timer_wheel.hpp"

#include <bit>

namespace surge {

TimerWheel::TimerWheel(std::size_t slot_count, std::uint64_t start_tick)
    : slots_(new TimerNode[std::bit_ceil(slot_count < 2 ? std::size_t{2} : slot_count)]),
      mask_(std::bit_ceil(slot_count < 2 ? std::size_t{2} : slot_count) - 1),
      now_(start_tick) {
    for (std::uint64_t i = 0; i <= mask_; ++i) slots_[i].next = slots_[i].prev = &slots_[i];
}

void TimerWheel::link_before(TimerNode& sentinel, TimerNode& node) noexcept {
    node.prev = sentinel.prev;
    node.next = &sentinel;
    sentinel.prev->next = &node;
    sentinel.prev = &node;
}

void TimerWheel::unlink(TimerNode& node) noexcept {
    node.prev->next = node.next;
    node.next->prev = node.prev;
    node.prev = node.next = nullptr;
}

void TimerWheel::cancel(TimerNode& node) noexcept {
    if (!node.armed()) return;
    unlink(node);
    --armed_;
}

void TimerWheel::add(TimerNode& node, std::uint64_t delay) noexcept {
    cancel(node);
    node.expiry = now_ + (delay == 0 ? 1 : delay);
    link_before(slot_for(node.expiry), node);
    ++armed_;
}

}  // namespace surge
