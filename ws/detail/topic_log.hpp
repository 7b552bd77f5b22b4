// Each topic's offsets and recent history: what publish() numbers and keeps, and what a subscriber that resumes
// is given. Layer: ws (private to the server). Any thread (publishers, shards resuming subscribers).
// Topics are spread over kStripes locks by hash; a publish holds its topic's stripe while it claims a ring slot,
// takes the next offset and appends to the history, so a topic's offsets follow the ring's order and a shard
// sees each topic's publications in offset order. Logs are kept for the life of the server (an offset, once
// given, is never given again in this epoch); their history is bounded.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "surge/ws/detail/broadcast_item.hpp"
#include "surge/ws/pubsub.hpp"

namespace surge::detail {

struct HistoryLimits {
    std::size_t per_topic = 0;
    std::int64_t max_age_ms = 0;
    std::size_t total_bytes = 0;
    std::size_t max_topics = 0;
};

struct HistoryEntry {
    BroadcastItem item;  // holds one reference to item.bytes
    std::int64_t at_ms;  // when it was published (steady clock)
};

struct TopicLog {
    std::uint64_t next_offset = 1;
    std::uint64_t evicted_sequence = 0;  // the ring sequence of the newest publication history let go
    std::uint64_t generation = 0;        // 0: the server's epoch; n: forgotten before, the epoch "<epoch>.<n>"
    std::deque<HistoryEntry> history;
    // With a broker (ws/broker.hpp) the broker numbers the topic: its epoch (empty until known), and whether this
    // copy is in step with the broker's stream (the node hears the topic, and its history was filled from the
    // broker's when it began to).
    std::string broker_epoch;
    bool synced = false;
    bool epoch_news = false;  // the epoch changed under its subscribers: the next publication's envelope says so
};

// A subscriber joining a topic: from which offset the live stream reaches it, and what history gave it (each
// item holding a reference for the caller to release).
struct Joined {
    std::uint64_t live_from = 1;  // publications before this offset are not for the live stream
    std::string epoch;            // the topic's; empty when it has no log since topics were forgotten (unknown yet)
    bool recovered = false;
    std::vector<BroadcastItem> missed;
};

class TopicLogs {
public:
    explicit TopicLogs(HistoryLimits limits);
    ~TopicLogs();
    TopicLogs(const TopicLogs&) = delete;
    TopicLogs& operator=(const TopicLogs&) = delete;

    // Runs fn(TopicLog*) with the topic's stripe locked, the log made when new; returns what fn returns. The
    // pointer is null when a new log would pass max_topics and no idle topic could be forgotten for it.
    // Throws std::bad_alloc when a new log cannot be made.
    template <class Fn>
    auto with(std::string_view topic, std::int64_t now_ms, Fn&& fn) {
        Stripe& stripe = stripe_of(topic);
        const std::lock_guard<std::mutex> hold(stripe.lock);
        auto found = stripe.logs.find(topic);
        if (found == stripe.logs.end()) {
            if (topics_.load(std::memory_order_relaxed) >= limits_.max_topics && !forget_one(stripe, now_ms)) {
                return fn(static_cast<TopicLog*>(nullptr));
            }
            auto log = std::make_unique<TopicLog>();
            // After a topic was forgotten its offsets may come back: every log made since is of a new epoch, and
            // an event id from before the forgetting cannot be resumed from.
            log->generation = forgotten_.load(std::memory_order_relaxed);
            log->evicted_sequence = forgotten_sequence_.load(std::memory_order_relaxed);
            found = stripe.logs.emplace(std::string(topic), std::move(log)).first;
            topics_.fetch_add(1, std::memory_order_relaxed);
        }
        return fn(found->second.get());
    }
    // Runs fn(TopicLog*) with the topic's stripe locked; the pointer is null when the topic has no log.
    template <class Fn>
    auto with_existing(std::string_view topic, Fn&& fn) {
        Stripe& stripe = stripe_of(topic);
        const std::lock_guard<std::mutex> hold(stripe.lock);
        const auto found = stripe.logs.find(topic);
        return fn(found == stripe.logs.end() ? static_cast<TopicLog*>(nullptr) : found->second.get());
    }
    // Whether anyone subscribes to `topic` anywhere in the server (the broadcaster's directory says); a topic
    // that is subscribed is never forgotten. Set before the first publish.
    std::function<bool(std::string_view)> subscribed;
    // Keeps `item` (one more reference) as `log`'s newest publication, then evicts what the limits say must go.
    // The stripe must be held (call inside with()).
    void append(TopicLog& log, const BroadcastItem& item, std::int64_t now_ms) noexcept;
    // Where a subscriber to `topic` joins, and, with `since` (an offset) or `since_event` (an event id:
    // ws/envelope.hpp), what history gives it. since_event wins when both are given.
    Joined join(std::string_view topic, const std::optional<StreamPosition>& since, std::string_view since_event,
                std::int64_t now_ms);
    // Where `topic` stands: its last offset (0: none) and its epoch.
    StreamPosition position(std::string_view topic);
    // With a broker: `older` (each holding one reference, taken over here) go before what `log` keeps, as far as
    // the limits allow. The stripe must be held.
    void keep_older(TopicLog& log, std::vector<HistoryEntry> older, std::int64_t now_ms) noexcept;
    // Lets go of everything `log` keeps (its epoch changed at the broker, or the broker lost publications):
    // resumes from before now are not recovered. The stripe must be held.
    void drop_history(TopicLog& log) noexcept;
    // Every topic with a log, and the offset it expects next (a snapshot).
    std::vector<std::pair<std::string, std::uint64_t>> expected_offsets();
    // Offsets and epochs are the broker's: a topic's epoch is what the broker said (empty: not known yet).
    void set_brokered() noexcept { brokered_ = true; }
    bool brokered() const noexcept { return brokered_; }
    const HistoryLimits& limits() const noexcept { return limits_; }

    const std::string& epoch() const noexcept { return epoch_; }
    bool keeps_history() const noexcept { return limits_.per_topic > 0; }
    std::string epoch_of(const TopicLog& log) const;
    HistoryStats stats() const noexcept;

private:
    static constexpr std::size_t kStripes = 16;
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    struct Stripe {
        std::mutex lock;
        std::unordered_map<std::string, std::unique_ptr<TopicLog>, StringHash, std::equal_to<>> logs;
    };
    Stripe& stripe_of(std::string_view topic) noexcept { return stripes_[StringHash{}(topic) % kStripes]; }
    void evict_front(TopicLog& log) noexcept;
    // Past max_topics: forgets a topic of `held` (locked by the caller), or of another stripe free at once, that
    // has an empty history and no subscriber. False when there is none.
    bool forget_one(Stripe& held, std::int64_t now_ms) noexcept;
    bool forget_in(Stripe& stripe, std::int64_t now_ms) noexcept;
    Joined join_event(std::string_view topic, std::string_view event_id, std::int64_t now_ms);
    void expire(TopicLog& log, std::int64_t now_ms) noexcept;

    HistoryLimits limits_;
    bool brokered_ = false;
    std::string epoch_;
    std::array<Stripe, kStripes> stripes_;
    std::atomic<std::uint64_t> topics_{0};
    std::atomic<std::uint64_t> entries_{0};
    std::atomic<std::uint64_t> bytes_{0};
    std::atomic<std::uint64_t> evicted_{0};
    std::atomic<std::uint64_t> forgotten_{0};
    std::atomic<std::uint64_t> forgotten_sequence_{0};  // the newest ring sequence a forgotten topic had
};

}  // namespace surge::detail
