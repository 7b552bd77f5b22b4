// A shard's broadcast fan-out: which published message goes to which of the shard's subscribers, and when.
// Layer: ws (private to the server), beside topics.hpp. Sans-I/O: it takes items from the ring, walks the
// topic's subscriber list, and calls the shard's `stage` for every (subscriber, message) pair; writing is the
// shard's. Shard thread only.
// Scheduling: a turn serves at most kFanOutPerTurn subscribers, so a topic with many stays fair to the shard's
// other work (reads, publishes, timers run between one part and the next); a topic keeps its place in
// Topic::fan_out_cursor. Consecutive messages to the same topic form a window (up to kMaxWindow) that every
// subscriber gets together, so messages that pile up during a long fan-out leave in one write per subscriber.
// References: each taken item holds the shard's reference to its frame, dropped once every subscriber has it;
// a staged copy takes one more, counted per message in one atomic add rather than one per subscriber.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>

#include "surge/core/broadcast_ring.hpp"
#include "surge/ws/detail/broadcaster.hpp"
#include "surge/ws/detail/topics.hpp"

namespace surge::detail {

class FanOut {
public:
    // Items taken from the ring ahead of the fan-out; the ring holds the rest (and publishers' backpressure).
    static constexpr std::size_t kMaxTaken = 256;
    // Messages to one topic fanned out together: as many as one write gathers (net::kMaxSendIovecs).
    static constexpr std::size_t kMaxWindow = 64;
    // Subscribers one turn serves (about 5 ms of sends on loopback).
    static constexpr std::size_t kFanOutPerTurn = 1024;

    FanOut() = default;
    FanOut(const FanOut&) = delete;
    FanOut& operator=(const FanOut&) = delete;
    ~FanOut() { drop_all(); }

    // Takes what consumer `index` can read from the ring, up to kMaxTaken held in all.
    void take(BroadcastRing<BroadcastItem>& ring, unsigned index) {
        if (taken_.size() >= kMaxTaken) return;
        ring.poll(index, [this](const BroadcastItem& item) { taken_.push_back(item); }, kMaxTaken - taken_.size());
    }
    // One turn of the fan-out. `stage(WebSocket&, const BroadcastItem&) -> bool` queues one message for one
    // subscriber and says whether it kept a reference to the frame (which this counts and takes for it). It
    // must call no user code, close nothing and write nothing, so the subscriber list cannot change under it.
    template <class Stage>
    void turn(ShardTopics& topics, Stage&& stage) noexcept;
    // Items taken and not yet fanned out to every subscriber.
    std::size_t taken() const noexcept { return taken_.size(); }
    bool busy() const noexcept { return !taken_.empty(); }
    // Drops every item taken (the shard stops), with its references.
    void drop_all() noexcept {
        for (const BroadcastItem& item : taken_) item.bytes->release();
        taken_.clear();
        window_ = 0;
    }

private:
    std::deque<BroadcastItem> taken_;  // in the ring's order
    std::size_t window_ = 0;           // items at the front being fanned out together (0: none chosen yet)
};

template <class Stage>
void FanOut::turn(ShardTopics& topics, Stage&& stage) noexcept {
    std::size_t budget = kFanOutPerTurn;
    while (!taken_.empty() && budget > 0) {
        if (window_ == 0) {
            // The window: the items at the front to the same topic; fixed until every subscriber has them.
            const std::string_view name = taken_.front().topic();
            const std::size_t most = std::min(taken_.size(), kMaxWindow);
            window_ = 1;
            while (window_ < most && taken_[window_].topic() == name) ++window_;
        }
        if (Topic* topic = topics.find(taken_.front().topic())) {
            std::uint32_t staged[kMaxWindow] = {};
            std::uint32_t& cursor = topic->fan_out_cursor;
            const std::size_t end = std::min<std::size_t>(topic->subscribers.size(), cursor + budget);
            budget -= end - cursor;
            for (; cursor < end; ++cursor) {
                WebSocket& ws = *topic->subscribers[cursor];
                for (std::size_t w = 0; w < window_; ++w) staged[w] += stage(ws, taken_[w]) ? 1 : 0;
            }
            for (std::size_t w = 0; w < window_; ++w) {
                if (staged[w] > 0) taken_[w].bytes->retain(staged[w]);
            }
            if (cursor < topic->subscribers.size()) return;  // the rest next turn
            cursor = 0;
        }
        for (; window_ > 0; --window_) {
            taken_.front().bytes->release();  // the shard's own reference, from the ring
            taken_.pop_front();
        }
    }
}

}  // namespace surge::detail
