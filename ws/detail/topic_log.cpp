#include "surge/ws/detail/topic_log.hpp"

#include <algorithm>

#include "surge/core/random_hex.hpp"
#include "surge/ws/envelope.hpp"

namespace surge::detail {

namespace {

// What a history entry costs: its shared bytes (frames and topic) and its place in the deque.
std::size_t cost(const HistoryEntry& entry) noexcept { return entry.item.bytes->size() + sizeof(HistoryEntry); }

}  // namespace

// The epoch differs for every server, so offsets of another run are recognised as such.
TopicLogs::TopicLogs(HistoryLimits limits) : limits_(limits), epoch_(random_hex(16)) {}

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
    if (limits_.per_topic == 0) {  // no history: every publication is let go at once
        log.evicted_sequence = std::max(log.evicted_sequence, item.sequence);
        return;
    }
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

std::string TopicLogs::epoch_of(const TopicLog& log) const {
    if (brokered_) return log.broker_epoch;
    return log.generation == 0 ? epoch_ : epoch_ + "." + std::to_string(log.generation);
}

bool TopicLogs::forget_in(Stripe& stripe, std::int64_t now_ms) noexcept {
    for (auto it = stripe.logs.begin(); it != stripe.logs.end(); ++it) {
        TopicLog& log = *it->second;
        expire(log, now_ms);
        if (!log.history.empty() || (subscribed && subscribed(it->first))) continue;
        // What an event id of it could point at is gone: resuming from before this sequence is not recovered.
        std::uint64_t newest = forgotten_sequence_.load(std::memory_order_relaxed);
        while (newest < log.evicted_sequence &&
               !forgotten_sequence_.compare_exchange_weak(newest, log.evicted_sequence, std::memory_order_relaxed)) {
        }
        forgotten_.fetch_add(1, std::memory_order_relaxed);
        topics_.fetch_sub(1, std::memory_order_relaxed);
        stripe.logs.erase(it);
        return true;
    }
    return false;
}

bool TopicLogs::forget_one(Stripe& held, std::int64_t now_ms) noexcept {
    if (forget_in(held, now_ms)) return true;
    for (Stripe& other : stripes_) {  // another stripe only if free at once: no waiting with one held
        if (&other == &held || !other.lock.try_lock()) continue;
        const bool forgot = forget_in(other, now_ms);
        other.lock.unlock();
        if (forgot) return true;
    }
    return false;
}

Joined TopicLogs::join(std::string_view topic, const std::optional<StreamPosition>& since,
                       std::string_view since_event, std::int64_t now_ms) {
    if (!since_event.empty()) return join_event(topic, since_event, now_ms);
    Stripe& stripe = stripe_of(topic);
    const std::lock_guard<std::mutex> hold(stripe.lock);
    const auto found = stripe.logs.find(topic);
    Joined joined;
    if (found == stripe.logs.end()) {  // not published (or forgotten): no log made for a mere subscribe
        joined.live_from = 1;
        joined.epoch = forgotten_.load(std::memory_order_relaxed) == 0 && !brokered_ ? epoch_ : std::string();
        joined.recovered = since && since->offset == 0;  // nothing was there to miss
        return joined;
    }
    TopicLog& log = *found->second;
    expire(log, now_ms);
    joined.live_from = log.next_offset;
    joined.epoch = epoch_of(log);
    if (!since) return joined;
    const std::uint64_t last = log.next_offset - 1;
    const std::uint64_t oldest_kept = log.history.empty() ? log.next_offset : log.history.front().item.offset;
    // Recovered when the position is of this epoch, not ahead of the topic, and the history reaches back to the
    // publication right after it; from 0 (the start) whatever the epoch, if nothing was ever let go.
    const bool from_start = since->offset == 0 && oldest_kept == 1;
    joined.recovered = from_start || ((since->epoch.empty() || since->epoch == joined.epoch) &&
                                      since->offset <= last && since->offset + 1 >= oldest_kept);
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
    if (brokered_) {
        // Ids name a topic's own position (encode_topic_event()): the topic named resumes from it on any node; a
        // stream's other topics cannot tell where they stood, and are told so.
        std::uint64_t offset = 0;
        if (parse_topic_event_id(event_id, topic, epoch, offset)) {
            return join(topic, StreamPosition{offset, std::string(epoch)}, {}, now_ms);
        }
        Joined joined = join(topic, std::nullopt, {}, now_ms);
        joined.recovered = false;
        return joined;
    }
    const bool ours = parse_event_id(event_id, epoch, sequence) && epoch == epoch_;
    Stripe& stripe = stripe_of(topic);
    const std::lock_guard<std::mutex> hold(stripe.lock);
    const auto found = stripe.logs.find(topic);
    Joined joined;
    if (found == stripe.logs.end()) {  // never published, or forgotten after the event: then not recovered
        joined.recovered = ours && forgotten_sequence_.load(std::memory_order_relaxed) <= sequence;
        joined.epoch = forgotten_.load(std::memory_order_relaxed) == 0 ? epoch_ : std::string();
        return joined;
    }
    TopicLog& log = *found->second;
    expire(log, now_ms);
    joined.live_from = log.next_offset;
    joined.epoch = epoch_of(log);
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

void TopicLogs::keep_older(TopicLog& log, std::vector<HistoryEntry> older, std::int64_t now_ms) noexcept {
    std::size_t added = 0;
    std::size_t added_bytes = 0;
    // Newest first, so that what the limits cut is the oldest.
    for (auto it = older.rbegin(); it != older.rend(); ++it) {
        const bool fits = log.history.size() < limits_.per_topic && now_ms - it->at_ms <= limits_.max_age_ms &&
                          bytes_.load(std::memory_order_relaxed) + added_bytes + cost(*it) <= limits_.total_bytes;
        bool kept = false;
        if (fits) {
            try {
                log.history.push_front(*it);
                kept = true;
            } catch (const std::bad_alloc&) {
            }
        }
        if (!kept) {  // this one and every older one stay out: the history must have no hole
            for (auto rest = it; rest != older.rend(); ++rest) rest->item.bytes->release();
            break;
        }
        ++added;
        added_bytes += cost(*it);
    }
    bytes_.fetch_add(added_bytes, std::memory_order_relaxed);
    entries_.fetch_add(added, std::memory_order_relaxed);
}

void TopicLogs::drop_history(TopicLog& log) noexcept {
    while (!log.history.empty()) evict_front(log);
}

std::vector<std::pair<std::string, std::uint64_t>> TopicLogs::expected_offsets() {
    std::vector<std::pair<std::string, std::uint64_t>> all;
    for (Stripe& stripe : stripes_) {
        const std::lock_guard<std::mutex> hold(stripe.lock);
        for (const auto& [name, log] : stripe.logs) all.emplace_back(name, log->next_offset);
    }
    return all;
}

StreamPosition TopicLogs::position(std::string_view topic) {
    Stripe& stripe = stripe_of(topic);
    const std::lock_guard<std::mutex> hold(stripe.lock);
    const auto found = stripe.logs.find(topic);
    if (found == stripe.logs.end()) return {0, brokered_ ? std::string() : epoch_};
    return {found->second->next_offset - 1, epoch_of(*found->second)};
}

HistoryStats TopicLogs::stats() const noexcept {
    return {topics_.load(std::memory_order_relaxed), entries_.load(std::memory_order_relaxed),
            bytes_.load(std::memory_order_relaxed), evicted_.load(std::memory_order_relaxed),
            forgotten_.load(std::memory_order_relaxed)};
}

}  // namespace surge::detail
