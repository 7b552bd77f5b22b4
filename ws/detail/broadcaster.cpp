#include "ws/detail/broadcaster.hpp"

#include <cstdlib>
#include <cstring>
#include <optional>

#include "ws/detail/shard.hpp"
#include "ws/frame_header.hpp"

namespace surge::detail {

TopicCount* TopicDirectory::acquire(std::string_view topic) {
    std::lock_guard lock(mutex_);
    auto found = counts_.find(topic);
    if (found == counts_.end()) found = counts_.emplace(std::string(topic), std::make_unique<TopicCount>()).first;
    ++found->second->shards;
    return found->second.get();
}

void TopicDirectory::release(std::string_view topic, TopicCount* count) noexcept {
    std::lock_guard lock(mutex_);
    if (--count->shards > 0) return;
    const auto found = counts_.find(topic);
    if (found != counts_.end()) counts_.erase(found);
}

std::uint64_t TopicDirectory::subscribers(std::string_view topic) const {
    std::lock_guard lock(mutex_);
    const auto found = counts_.find(topic);
    return found == counts_.end() ? 0 : found->second->subscribers.load(std::memory_order_relaxed);
}

Broadcaster::Broadcaster(unsigned shards, std::size_t ring_slots) : ring_(ring_slots, shards) {}

Broadcaster::~Broadcaster() {
    for (unsigned i = 0; i < ring_.consumers(); ++i) {
        ring_.poll(i, [](const BroadcastItem& item) { item.bytes->release(); });
    }
}

PublishStatus Broadcaster::publish(std::string_view topic, std::string_view message, Opcode opcode,
                                   std::chrono::milliseconds wait, std::uint32_t exclude_shard,
                                   std::uint64_t exclude_token) noexcept {
    if (topic.empty() || topic.size() > kMaxTopicBytes) return PublishStatus::Invalid;
    // Claim first: a full ring costs no allocation and no encoding.
    Shard* here = Shard::current();
    std::optional<std::uint64_t> sequence;
    if (wait.count() > 0 && !here) sequence = ring_.claim_until(std::chrono::steady_clock::now() + wait);
    else sequence = ring_.try_claim();
    if (!sequence) return PublishStatus::Backpressure;

    const std::size_t header_size = frame_header_length(message.size(), false);
    SharedBytes* bytes = SharedBytes::make(topic.size() + header_size + message.size(), ring_.consumers());
    if (!bytes) {
        // The slot is claimed and consumers will wait at it: fill it with an item every shard skips.
        bytes = SharedBytes::make(0, ring_.consumers());
        if (!bytes) std::abort();  // not even 16 bytes: nothing sensible is left to do
        ring_.publish(*sequence, {bytes, 0, kNoShard, 0});
        return PublishStatus::Backpressure;
    }
    char* at = bytes->data();
    std::memcpy(at, topic.data(), topic.size());
    at += topic.size();
    at += encode_frame_header(at, opcode, message.size());
    if (!message.empty()) std::memcpy(at, message.data(), message.size());
    ring_.publish(*sequence, {bytes, static_cast<std::uint32_t>(topic.size()), exclude_shard, exclude_token});

    for (Shard* shard : shards_) {
        if (shard != here) shard->notify_broadcast();  // the publishing shard drains after its callbacks return
    }
    return PublishStatus::Success;
}

}  // namespace surge::detail
