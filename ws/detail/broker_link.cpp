#include "surge/ws/detail/broker_link.hpp"

#include <algorithm>
#include <charconv>
#include <thread>
#include <vector>

#include "surge/core/clock.hpp"
#include "surge/core/log.hpp"
#include "surge/core/random_hex.hpp"
#include "surge/ws/detail/broadcaster.hpp"

namespace surge::detail {

namespace {

// History is read from the broker this many publications at a time.
constexpr std::size_t kPage = 1000;
// After the broker's connection comes back, the heard topics' first reads go this many at a time in one
// histories() call (one round trip to Redis), so a node hearing thousands of topics does not wait one round trip
// each, nor hold every answer at once.
constexpr std::size_t kResyncBatch = 256;

}  // namespace

BrokerLink::BrokerLink(Broker& broker, Broadcaster& broadcaster)
    : broker_(broker), broadcaster_(broadcaster), node_(random_hex(16)) {}

void BrokerLink::stop() noexcept {
    stopping_.store(true, std::memory_order_release);
    broker_.stop();
}

PublishResult BrokerLink::publish(std::string_view topic, std::string_view message, Opcode opcode,
                                  const Publisher& publisher) noexcept {
    try {
        return broker_.publish(topic, message, opcode, origin_of(publisher));
    } catch (const std::bad_alloc&) {
        return {PublishStatus::Backpressure};
    }
}

std::string BrokerLink::origin_of(const Publisher& publisher) const {
    if (publisher.exclude_shard == kNoShard) return {};
    return node_ + ":" + std::to_string(publisher.exclude_shard) + ":" + std::to_string(publisher.exclude_token);
}

Publisher BrokerLink::publisher_of(std::string_view origin) const noexcept {
    Publisher publisher;
    if (origin.size() <= node_.size() + 1 || origin.substr(0, node_.size()) != node_ || origin[node_.size()] != ':') {
        return publisher;  // another node's connection, or none
    }
    const char* at = origin.data() + node_.size() + 1;
    const char* end = origin.data() + origin.size();
    std::uint16_t shard = 0;
    std::uint64_t token = 0;
    auto parsed = std::from_chars(at, end, shard);
    if (parsed.ec != std::errc{} || parsed.ptr == end || *parsed.ptr != ':') return publisher;
    if (std::from_chars(parsed.ptr + 1, end, token).ec != std::errc{}) return publisher;
    publisher.exclude_shard = shard;
    publisher.exclude_token = token;
    return publisher;
}

void BrokerLink::prepare_join(std::string_view topic) noexcept {
    const bool synced = broadcaster_.logs().with_existing(topic, [](TopicLog* log) { return log && log->synced; });
    if (synced) return;
    // Heard first, read second: whatever is published between the two comes both ways, and place() drops the
    // copy; the other order would lose it.
    try {
        if (!broker_.interest(topic, true)) return;  // restored by the broker when it can, then resync()
    } catch (const std::bad_alloc&) {
        return;
    }
    sync_history(topic);
}

void BrokerLink::sync_history(std::string_view topic) noexcept {
    try {
        const BrokerHistory history = broker_.history(topic, Broker::kNewest, broadcaster_.logs().limits().per_topic);
        if (history.ok) broadcaster_.load(topic, history);
    } catch (const std::bad_alloc&) {
        // the next subscriber asks again
    }
}

void BrokerLink::topic_gone(std::string_view topic) noexcept {
    broadcaster_.logs().with_existing(topic, [&](TopicLog* log) {
        if (broadcaster_.directory().has(topic)) return;  // a subscriber came back meanwhile: keep hearing it
        if (log) {
            // Unheard from now on, the copy would go stale: the next subscriber starts it again from the broker.
            broadcaster_.logs().drop_history(*log);
            log->next_offset = 1;
            log->broker_epoch.clear();
            log->synced = false;
            log->epoch_news = false;
        }
        try {
            broker_.interest(topic, false);
        } catch (const std::bad_alloc&) {
            // still heard, and dropped here as a duplicate or placed: harmless
        }
    });
}

void BrokerLink::place_waiting(const BrokerMessage& message, bool over_gap) noexcept {
    const Publisher publisher = publisher_of(message.origin);
    for (;;) {
        std::uint64_t expected = 0;
        const Broadcaster::Placed placed = broadcaster_.place(message, publisher, over_gap, expected);
        if (placed == Broadcaster::Placed::Gap) {
            // Publications before it did not come (the broker's connection was lost, say): read them first.
            SURGE_LOG_DEBUG("broker: topic '%.*s' expected offset %llu, got %llu: reading the gap from history",
                            static_cast<int>(message.topic.size()), message.topic.data(),
                            static_cast<unsigned long long>(expected), static_cast<unsigned long long>(message.offset));
            if (!fill(message.topic, expected - 1, message.offset - 1)) {
                SURGE_LOG_WARN("broker: cannot read topic '%.*s' from offset %llu to fill a gap",
                               static_cast<int>(message.topic.size()), message.topic.data(),
                               static_cast<unsigned long long>(expected));
            }
            over_gap = true;  // whatever the history no longer had is gone for good
            continue;
        }
        if (placed == Broadcaster::Placed::Dropped) {
            SURGE_LOG_WARN("broker: offset %llu of topic '%.*s' dropped: this node keeps max_topic_logs topics, "
                           "none idle", static_cast<unsigned long long>(message.offset),
                           static_cast<int>(message.topic.size()), message.topic.data());
        }
        if (placed != Broadcaster::Placed::Full || stopping_.load(std::memory_order_acquire)) break;
        // The ring is full: this thread (the broker's) waits, and the broker holds what comes meanwhile.
        broadcaster_.wake_all();
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

bool BrokerLink::fill(std::string_view topic, std::uint64_t after, std::uint64_t until,
                      BrokerHistory* first) noexcept {
    try {
        std::string epoch =
            broadcaster_.logs().with_existing(topic, [](TopicLog* log) { return log ? log->broker_epoch : ""; });
        for (;;) {
            if (stopping_.load(std::memory_order_acquire)) return true;
            const BrokerHistory history = first ? std::move(*first) : broker_.history(topic, after, kPage);
            first = nullptr;
            if (!history.ok) return false;
            if (!epoch.empty() && history.epoch != epoch && after > 0) {
                // The broker's stream began again: what is missed is the new run, from its start.
                epoch = history.epoch;
                after = 0;
                until = UINT64_MAX;
                continue;
            }
            for (const BrokerEntry& entry : history.entries) {
                if (entry.offset > until) return true;
                place_waiting({topic, entry.offset, history.epoch, entry.data, entry.opcode, {}}, true);
                after = entry.offset;
            }
            broadcaster_.wake_all();
            if (history.entries.size() < kPage) return true;
        }
    } catch (const std::bad_alloc&) {
        return false;
    }
}

void BrokerLink::deliver(const BrokerMessage& message) noexcept {
    if (stopping_.load(std::memory_order_acquire)) return;
    place_waiting(message, false);
    broadcaster_.wake_all();
}

void BrokerLink::resync() noexcept {
    const auto started_ns = monotonic_ns();
    std::vector<std::pair<std::string, std::uint64_t>> heard;
    try {
        heard = broadcaster_.logs().expected_offsets();
        // A topic nobody here listens to any more has nothing to catch up.
        std::erase_if(heard, [&](const auto& topic) { return !broadcaster_.directory().has(topic.first); });
        const std::span<const std::pair<std::string, std::uint64_t>> all(heard);
        for (std::size_t at = 0; at < all.size(); at += kResyncBatch) {
            if (stopping_.load(std::memory_order_acquire)) return;
            if (!catch_up(all.subspan(at, std::min(kResyncBatch, all.size() - at)))) {
                return;  // lost again: the broker calls resync() once more when it is back
            }
        }
    } catch (const std::bad_alloc&) {
        return;  // the next resync() or the next gap reads it
    }
    SURGE_LOG_INFO("broker: caught up %zu topics in %.1f ms after the connection came back", heard.size(),
                   static_cast<double>(monotonic_ns() - started_ns) / 1e6);
}

bool BrokerLink::catch_up(std::span<const std::pair<std::string, std::uint64_t>> topics) {
    std::vector<HistoryQuery> queries;
    std::vector<bool> synced;
    queries.reserve(topics.size());
    for (const auto& [topic, expected] : topics) {
        const bool copy_synced =
            broadcaster_.logs().with_existing(topic, [](TopicLog* log) { return log && log->synced; });
        synced.push_back(copy_synced);
        // A topic whose first subscriber came while the broker was away has no copy yet: its newest history.
        queries.push_back(copy_synced ? HistoryQuery{topic, expected - 1, kPage}
                                      : HistoryQuery{topic, Broker::kNewest, broadcaster_.logs().limits().per_topic});
    }
    std::vector<BrokerHistory> answers = broker_.histories(queries);
    for (std::size_t i = 0; i < topics.size() && i < answers.size(); ++i) {
        if (stopping_.load(std::memory_order_acquire)) return true;
        const auto& [topic, expected] = topics[i];
        if (!synced[i]) {
            if (answers[i].ok) broadcaster_.load(topic, answers[i]);  // else the next subscriber asks again
        } else if (!fill(topic, expected - 1, UINT64_MAX, &answers[i])) {
            return false;
        }
    }
    return true;
}

}  // namespace surge::detail
