// The server's publish path: the broadcast ring in front of the shards, and the process-wide subscriber counts
// per topic. Layer: ws (private to the server).
// publish() numbers the publication in its topic (topic_log.hpp), encodes its frames once into a SharedBytes
// (broadcast_item.hpp), holding one reference per shard and one for the topic's history, claims a ring slot
// and wakes the shards; each shard fans it out to its local subscribers and drops its reference. Any thread may
// publish, shard threads included.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "surge/core/broadcast_ring.hpp"
#include "surge/core/shared_bytes.hpp"
#include "surge/ws/detail/broadcast_item.hpp"
#include "surge/ws/broker.hpp"
#include "surge/ws/detail/topic_log.hpp"
#include "surge/ws/opcode.hpp"
#include "surge/ws/server.hpp"

namespace surge::detail {


// A reader of the ring (a shard): told when a publication is waiting for it. notify_broadcast() runs on the
// publishing thread, any thread, and must only signal.
class BroadcastConsumer {
public:
    virtual void notify_broadcast() noexcept = 0;

protected:
    ~BroadcastConsumer() = default;
};

// Who publishes: from a shard's thread, that shard (it must not wait for room in the ring it drains itself, and
// drains without a wake-up once its callbacks return), and the connection that must not get its own message.
struct Publisher {
    const BroadcastConsumer* shard = nullptr;  // the consumer whose thread publishes, or nullptr on any other
    std::uint16_t exclude_shard = kNoShard;
    std::uint64_t exclude_token = 0;
};

// Subscribers of one topic across the process. Shards count their own subscribers here (a relaxed atomic each
// time), and take the directory's lock only when a topic appears in or leaves a shard.
struct TopicCount {
    std::atomic<std::uint64_t> subscribers{0};
    unsigned shards = 0;  // shards that have the topic; guarded by the directory's lock
};

// Hashes std::string and std::string_view alike, so maps keyed by std::string are searched without a copy.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class TopicDirectory {
public:
    // The count for `topic`, made if new; the caller (a shard) keeps it until release().
    TopicCount* acquire(std::string_view topic);
    void release(std::string_view topic, TopicCount* count) noexcept;
    std::uint64_t subscribers(std::string_view topic) const;
    // Whether any shard has `topic` now.
    bool has(std::string_view topic) const;
    // Called (outside the lock, on the releasing shard's thread) when the last shard let go of a topic.
    std::function<void(std::string_view)> on_gone;

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::unique_ptr<TopicCount>, StringHash, std::equal_to<>> counts_;
};

class BrokerLink;

class Broadcaster {
public:
    Broadcaster(unsigned shards, const ServerConfig& config);
    ~Broadcaster();  // drops the references of items no shard read (run() has returned by then)

    // The consumers to wake, one per ring cursor, once they exist (before any publish can reach them).
    void attach(std::vector<BroadcastConsumer*> consumers) noexcept { consumers_ = std::move(consumers); }

    // `wait`: how long to wait for room when the ring is full; ignored when a shard publishes.
    PublishResult publish(std::string_view topic, std::string_view message, Opcode opcode,
                          std::chrono::milliseconds wait, const Publisher& publisher) noexcept;

    // A connection asked for Delivery::Envelope (+1), or one that had stopped (-1). While any has (or always,
    // while history is kept), publish() encodes the envelope frame too.
    void count_envelope(int delta) noexcept { envelopes_.fetch_add(delta, std::memory_order_relaxed); }
    // An event-stream connection opened (+1) or ended (-1): while any is open, publish() encodes the event too.
    void count_event_stream(int delta) noexcept { event_streams_.fetch_add(delta, std::memory_order_relaxed); }
    TopicLogs& logs() noexcept { return logs_; }
    const TopicLogs& logs() const noexcept { return logs_; }

    // A connection agreed to permessage-deflate with a server window of 2^bits (delta +1), or closed (-1).
    // While any has, publish() compresses with the smallest window among them.
    void count_deflate(unsigned bits, int delta) noexcept;

    // With a broker (broker_link.hpp): a publication the broker numbered, fanned out and kept here like one of
    // this server's own. Duplicate: this node has it already; Gap: publications before it are missing (the
    // offset expected is in `expected`), unless over_gap says to let them go; Full: the ring has no room now.
    enum class Placed : std::uint8_t { Published, Duplicate, Gap, Full, Dropped };
    Placed place(const BrokerMessage& message, const Publisher& publisher, bool over_gap,
                 std::uint64_t& expected) noexcept;
    // With a broker: fills the topic's history from the broker's, before the publications this node has heard
    // (once, when the node begins to hear the topic). False when it could not (asked again next time).
    bool load(std::string_view topic, const BrokerHistory& history) noexcept;
    // Tells every shard that publications wait (after place(), which does not).
    void wake_all() noexcept;
    // The server's broker, or null without one.
    BrokerLink* broker_link() noexcept { return broker_link_.get(); }

    BroadcastRing<BroadcastItem>& ring() noexcept { return ring_; }
    const BroadcastRing<BroadcastItem>& ring() const noexcept { return ring_; }
    TopicDirectory& directory() noexcept { return directory_; }
    const TopicDirectory& directory() const noexcept { return directory_; }

private:
    // One attempt: the offset, the frames and a ring slot, under the topic's stripe; Backpressure when full.
    PublishResult publish_once(std::string_view topic, std::string_view message, Opcode opcode,
                               const Publisher& publisher, std::int64_t now_ms) noexcept;
    // Numbers a publication `offset` in `log` (held), encodes it, keeps it and puts it in the ring.
    // `new_epoch`: said in the envelope (the topic's epoch changed under its subscribers), or empty.
    PublishStatus emit(TopicLog& log, std::string_view topic, std::uint64_t offset, std::string_view message,
                       Opcode opcode, const Publisher& publisher, std::int64_t now,
                       std::string_view new_epoch = {}) noexcept;
    // The publication's bytes (broadcast_item.hpp) with `references` (one per shard, for the ring); bytes is null
    // without memory. `envelope`: the envelope's JSON, framed here (empty: no envelope frame); `event`: the whole
    // event.
    BroadcastItem encode(std::string_view topic, std::string_view message, Opcode opcode, std::string_view envelope,
                         std::string_view event, const Publisher& publisher, std::uint32_t references) noexcept;
    // The smallest server window of any permessage-deflate connection now, or 0 for none.
    unsigned deflate_bits() const noexcept;

    BroadcastRing<BroadcastItem> ring_;
    int deflate_level_;
    std::size_t deflate_min_bytes_;
    std::atomic<std::uint32_t> deflate_connections_[8]{};  // by window bits - 8
    TopicDirectory directory_;
    std::vector<BroadcastConsumer*> consumers_;
    std::atomic<int> envelopes_{0};
    std::atomic<int> event_streams_{0};
    TopicLogs logs_;
    std::unique_ptr<BrokerLink> broker_link_;  // last member: it reaches into the others
};

}  // namespace surge::detail
