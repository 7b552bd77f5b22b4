#include "surge/ws/detail/topics.hpp"

#include <cstdlib>

namespace surge::detail {
namespace {

Subscription* find_entry(SubscriptionList* list, const Topic* topic) noexcept {
    if (!list) return nullptr;
    Subscription* entries = list->entries();
    for (std::uint32_t i = 0; i < list->size; ++i) {
        if (entries[i].topic == topic) return &entries[i];
    }
    return nullptr;
}

// Room for one more entry in a connection's list: doubled from 2, so most connections allocate once.
bool reserve_one(SubscriptionList*& list) noexcept {
    if (list && list->size < list->capacity) return true;
    const std::uint32_t capacity = list ? list->capacity * 2 : 2;
    auto* grown = static_cast<SubscriptionList*>(
        std::realloc(list, sizeof(SubscriptionList) + capacity * sizeof(Subscription)));
    if (!grown) return false;
    if (!list) grown->size = 0;
    grown->capacity = capacity;
    list = grown;
    return true;
}

}  // namespace

ShardTopics::~ShardTopics() {
    // The shard has ended every connection by now, which emptied every topic; release what is left regardless.
    for (auto& [name, topic] : topics_) directory_.release(name, topic->count);
}

const Topic* ShardTopics::find(std::string_view name) const noexcept {
    const auto found = topics_.find(name);
    return found == topics_.end() ? nullptr : found->second.get();
}

Topic* ShardTopics::find(std::string_view name) noexcept {
    const auto found = topics_.find(name);
    return found == topics_.end() ? nullptr : found->second.get();
}

bool ShardTopics::subscribed(const WebSocket& ws, std::string_view name) const noexcept {
    const Topic* topic = find(name);
    return topic && find_entry(ws.subscriptions_, topic);
}

bool ShardTopics::subscribe(WebSocket& ws, std::string_view name) {
    auto found = topics_.find(name);
    Topic* topic = found == topics_.end() ? nullptr : found->second.get();
    if (topic && find_entry(ws.subscriptions_, topic)) return false;
    if (!reserve_one(ws.subscriptions_)) return false;
    if (!topic) {
        auto made = std::make_unique<Topic>();
        made->name.assign(name);
        made->count = directory_.acquire(name);
        topic = made.get();
        topics_.emplace(made->name, std::move(made));
    }
    ws.subscriptions_->entries()[ws.subscriptions_->size++] = {topic,
                                                               static_cast<std::uint32_t>(topic->subscribers.size())};
    topic->subscribers.push_back(&ws);
    topic->count->subscribers.fetch_add(1, std::memory_order_relaxed);
    count(1);
    return true;
}

bool ShardTopics::unsubscribe(WebSocket& ws, std::string_view name) noexcept {
    const Topic* topic = find(name);
    Subscription* entry = topic ? find_entry(ws.subscriptions_, topic) : nullptr;
    if (!entry) return false;
    remove(ws, static_cast<std::uint32_t>(entry - ws.subscriptions_->entries()));
    return true;
}

void ShardTopics::unsubscribe_all(WebSocket& ws) noexcept {
    while (ws.subscriptions_ && ws.subscriptions_->size > 0) remove(ws, ws.subscriptions_->size - 1);
    std::free(ws.subscriptions_);
    ws.subscriptions_ = nullptr;
}

void ShardTopics::remove(WebSocket& ws, std::uint32_t index) noexcept {
    SubscriptionList* list = ws.subscriptions_;
    const Subscription gone = list->entries()[index];
    list->entries()[index] = list->entries()[--list->size];
    if (list->size == 0) {
        std::free(list);
        ws.subscriptions_ = nullptr;
    }

    // Out of the topic's vector. A fan-out in progress has served the part before the cursor: a hole there is
    // filled from the end of that part, which moves the hole to the cursor and the cursor back by one. The last
    // subscriber, not yet served, then takes the hole's place (the vector's order is no promise to anyone).
    Topic* topic = gone.topic;
    std::uint32_t hole = gone.position;
    if (hole < topic->fan_out_cursor) {
        --topic->fan_out_cursor;
        move_subscriber(*topic, topic->fan_out_cursor, hole);
        hole = topic->fan_out_cursor;
    }
    move_subscriber(*topic, static_cast<std::uint32_t>(topic->subscribers.size() - 1), hole);
    topic->subscribers.pop_back();
    topic->count->subscribers.fetch_sub(1, std::memory_order_relaxed);
    count(-1);

    if (topic->subscribers.empty()) {
        const auto found = topics_.find(topic->name);
        directory_.release(topic->name, topic->count);
        topics_.erase(found);  // frees the topic (and its name) last
    }
}

void ShardTopics::move_subscriber(Topic& topic, std::uint32_t from, std::uint32_t to) noexcept {
    if (from == to) return;
    WebSocket* moved = topic.subscribers[from];
    topic.subscribers[to] = moved;
    find_entry(moved->subscriptions_, &topic)->position = to;
}

}  // namespace surge::detail
