// One shard's topics: topic -> the shard's own subscribers, so that fan-out reads only the shard's memory.
// Layer: ws (private to the server). Everything here runs on the shard's thread.
// A topic lists its subscribers in a vector (fan-out walks it front to back); a connection lists its topics in
// a small heap array, each entry with the connection's position in that topic's vector, so unsubscribing and
// closing cost O(topics of the connection), not O(subscribers of the topic). A fan-out that spans loop turns
// keeps its place in a topic's vector (Topic::fan_out_cursor), and removals keep that place exact. A connection with no
// subscriptions holds nothing but a null pointer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "surge/ws/detail/broadcaster.hpp"
#include "surge/ws/websocket.hpp"

namespace surge::detail {

struct Topic {
    std::string name;
    std::vector<WebSocket*> subscribers;
    TopicCount* count;  // the process-wide count, in the directory
    // While the shard fans broadcasts out to this topic over several loop turns: the subscribers before this
    // position have had them. Removing a subscriber keeps that part exact (remove()); one who subscribes joins
    // at the end, among those still to be served.
    std::uint32_t fan_out_cursor = 0;
};

struct Subscription {
    Topic* topic;
    std::uint32_t position;  // of the connection in topic->subscribers
};

// A connection's subscriptions: the header, then `capacity` entries, in one allocation.
struct SubscriptionList {
    std::uint32_t size;
    std::uint32_t capacity;
    Subscription* entries() noexcept { return reinterpret_cast<Subscription*>(this + 1); }
};

class ShardTopics {
public:
    explicit ShardTopics(TopicDirectory& directory) : directory_(directory) {}
    ~ShardTopics();
    ShardTopics(const ShardTopics&) = delete;
    ShardTopics& operator=(const ShardTopics&) = delete;

    // False when already subscribed, or out of memory.
    bool subscribe(WebSocket& ws, std::string_view name);
    // False when not subscribed.
    bool unsubscribe(WebSocket& ws, std::string_view name) noexcept;
    void unsubscribe_all(WebSocket& ws) noexcept;
    bool subscribed(const WebSocket& ws, std::string_view name) const noexcept;
    // How many topics `ws` is subscribed to.
    static std::uint32_t count_of(const WebSocket& ws) noexcept {
        return ws.subscriptions_ ? ws.subscriptions_->size : 0;
    }

    const Topic* find(std::string_view name) const noexcept;
    Topic* find(std::string_view name) noexcept;
    // Any thread may read it (the shard's stats). Acquire/release: a reader that sees the count also sees the
    // process-wide topic counts the same changes made before it.
    std::uint64_t subscriptions() const noexcept { return subscriptions_.load(std::memory_order_acquire); }

private:
    void remove(WebSocket& ws, std::uint32_t entry) noexcept;
    // Puts topic->subscribers[from] at `to` and tells its subscription entry.
    static void move_subscriber(Topic& topic, std::uint32_t from, std::uint32_t to) noexcept;

    TopicDirectory& directory_;
    std::unordered_map<std::string, std::unique_ptr<Topic>, StringHash, std::equal_to<>> topics_;
    void count(std::int64_t delta) noexcept {
        subscriptions_.store(subscriptions_.load(std::memory_order_relaxed) + static_cast<std::uint64_t>(delta),
                             std::memory_order_release);
    }

    std::atomic<std::uint64_t> subscriptions_{0};  // written by the shard's thread only
};

}  // namespace surge::detail
