#include "surge/ws/detail/topic_log.hpp"

#include <algorithm>
#include <random>

#include "surge/ws/envelope.hpp"

namespace surge::detail {

namespace {

// What a history entry costs: its shared bytes (frames and topic) and its place in the deque.
std::size_t cost(const HistoryEntry& entry) noexcept { return entry.item.bytes->size() + sizeof(HistoryEntry); }

// 16 hex digits, different for every server: offsets of another run are recognised as such.
std::string random_epoch() {
    std::random_device source;
    const std::uint64_t value = (std::uint64_t{source()} << 32) ^ source();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string epoch(16, '0');
    for (int i = 0; i < 16; ++i) epoch[static_cast<std::size_t>(i)] = kHex[(value >> (4 * i)) & 15];
    return epoch;
}

}  // namespace

TopicLogs::TopicLogs(HistoryLimits limits) : limits_(limits), epoch_(random_epoch()) {}

TopicLogs::~TopicLogs() {
    for (Stripe& stripe : stripes_) {
        for (auto& [name, log] : stripe.logs) {
            for (const HistoryEntry& entry : log->history) entry.item.bytes->release();
        }
    }
}

void TopicLogs::evict_front(TopicLog& log) noexcept {
    const HistoryEntry& oldest = log.history.front();
    log.evicted_sequence = std::max(log.evicted_sequence, oldest.item.sequence);
    bytes_.fetch_sub(cost(oldest), std::memory_order_relaxed);
    entries_.fetch_sub(1, std::memory_order_relaxed);
    evicted_.fetch_add(1, std::memory_order_relaxed);
    oldest.item.bytes->release();
    log.history.pop_front();
}

void TopicLogs::expire(TopicLog& log, std::int64_t now_ms) noexcept {
    while (!log.history.empty() && now_ms - log.history.front().at_ms > limits_.max_age_ms) evict_front(log);
}

void TopicLogs::append(TopicLog& log, const BroadcastItem& item, std::int64_t now_ms) noexcept {
    expire(log, now_ms);
    if (limits_.per_topic == 0) return;
    try {
        log.history.push_back({item, now_ms});
    } catch (const std::bad_alloc&) {
        return;  // published, but not kept: a resume from before it is told "not recovered"
    }
    item.bytes->retain();
    bytes_.fetch_add(cost(log.history.back()), std::memory_order_relaxed);
    entries_.fetch_add(1, std::memory_order_relaxed);
    while (log.history.size() > limits_.per_topic) evict_front(log);
    // Past the bytes limit over every topic, this topic makes room first (its own oldest, then the new one).
    while (!log.history.empty() && bytes_.load(std::memory_order_relaxed) > limits_.total_bytes) evict_front(log);
}

Joined TopicLogs::join(std::string_view topic, const std::optional<StreamPosition>& since,
                       std::string_view since_event, std::int64_t now_ms) {
    if (!since_event.empty()) return join_event(topic, since_event, now_ms);
    Stripe& stripe = stripe_of(topic);
    const std::lock_guard<std::mutex> hold(stripe.lock);
    const auto found = stripe.logs.find(topic);
    Joined joined;
    if (found == stripe.logs.end()) {  // never published: nothing to miss (and no log made for a mere subscribe)
        joined.live_from = 1;
        joined.recovered = since && since->offset == 0 && (since->epoch.empty() || since->epoch == epoch_);
        return joined;
    }
    TopicLog& log = *found->second;
    expire(log, now_ms);
    joined.live_from = log.next_offset;
    if (!since) return joined;
    const std::uint64_t last = log.next_offset - 1;
    const std::uint64_t oldest_kept = log.history.empty() ? log.next_offset : log.history.front().item.offset;
    // Recovered when the position is of this epoch, not ahead of the topic, and the history reaches back to the
    // publication right after it.
    joined.recovered = (since->epoch.empty() || since->epoch == epoch_) && since->offset <= last &&
                       since->offset + 1 >= oldest_kept;
    if (!joined.recovered) return joined;
    joined.missed.reserve(static_cast<std::size_t>(last - since->offset));
    for (const HistoryEntry& entry : log.history) {
        if (entry.item.offset <= since->offset) continue;
        entry.item.bytes->retain();
        joined.missed.push_back(entry.item);
    }
    return joined;
}

Joined TopicLogs::join_event(std::string_view topic, std::string_view event_id, std::int64_t now_ms) {
    std::string_view epoch;
    std::uint64_t sequence = 0;
    const bool ours = parse_event_id(event_id, epoch, sequence) && epoch == epoch_;
    Stripe& stripe = stripe_of(topic);
    const std::lock_guard<std::mutex> hold(stripe.lock);
    const auto found = stripe.logs.find(topic);
    Joined joined;
    if (found == stripe.logs.end()) {
        joined.recovered = ours;
        return joined;
    }
    TopicLog& log = *found->second;
    expire(log, now_ms);
    joined.live_from = log.next_offset;
    // Every publication after the event (in the ring's order, over all topics) that history still holds; none
    // of them may have been let go.
    joined.recovered = ours && log.evicted_sequence <= sequence;
    if (!joined.recovered) return joined;
    std::size_t count = 0;
    for (const HistoryEntry& entry : log.history) count += entry.item.sequence > sequence ? 1 : 0;
    joined.missed.reserve(count);
    for (const HistoryEntry& entry : log.history) {
        if (entry.item.sequence <= sequence) continue;
        entry.item.bytes->retain();
        joined.missed.push_back(entry.item);
    }
    return joined;
}

std::uint64_t TopicLogs::last_offset(std::string_view topic) {
    Stripe& stripe = stripe_of(topic);
    const std::lock_guard<std::mutex> hold(stripe.lock);
    const auto found = stripe.logs.find(topic);
    return found == stripe.logs.end() ? 0 : found->second->next_offset - 1;
}

HistoryStats TopicLogs::stats() const noexcept {
    return {topics_.load(std::memory_order_relaxed), entries_.load(std::memory_order_relaxed),
            bytes_.load(std::memory_order_relaxed), evicted_.load(std::memory_order_relaxed)};
}

}  // namespace surge::detail
