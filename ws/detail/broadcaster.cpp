#include "surge/ws/detail/broadcaster.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "surge/core/clock.hpp"
#include "surge/ws/deflate.hpp"
#include "surge/ws/detail/broker_link.hpp"
#include "surge/ws/envelope.hpp"
#include "surge/ws/frame_header.hpp"

namespace surge::detail {

TopicCount* TopicDirectory::acquire(std::string_view topic) {
    std::lock_guard lock(mutex_);
    auto found = counts_.find(topic);
    if (found == counts_.end()) found = counts_.emplace(std::string(topic), std::make_unique<TopicCount>()).first;
    ++found->second->shards;
    return found->second.get();
}

void TopicDirectory::release(std::string_view topic, TopicCount* count) noexcept {
    {
        std::lock_guard lock(mutex_);
        if (--count->shards > 0) return;
        const auto found = counts_.find(topic);
        if (found != counts_.end()) counts_.erase(found);
    }
    // Outside the lock: the hook takes a topic's stripe, and the stripes call in here (TopicLogs::subscribed).
    if (on_gone) on_gone(topic);
}

bool TopicDirectory::has(std::string_view topic) const {
    std::lock_guard lock(mutex_);
    return counts_.find(topic) != counts_.end();
}

std::uint64_t TopicDirectory::subscribers(std::string_view topic) const {
    std::lock_guard lock(mutex_);
    const auto found = counts_.find(topic);
    return found == counts_.end() ? 0 : found->second->subscribers.load(std::memory_order_relaxed);
}

Broadcaster::Broadcaster(unsigned shards, const ServerConfig& config)
    : ring_(config.broadcast_ring_slots, shards),
      deflate_level_(config.deflate_level),
      deflate_min_bytes_(config.deflate_min_bytes),
      logs_({config.history_per_topic, std::int64_t{config.history_seconds} * 1000, config.history_max_bytes,
             config.max_topic_logs}) {
    logs_.subscribed = [this](std::string_view topic) { return directory_.subscribers(topic) > 0; };
    if (config.broker) {
        logs_.set_brokered();
        broker_link_ = std::make_unique<BrokerLink>(*config.broker, *this);
        directory_.on_gone = [this](std::string_view topic) { broker_link_->topic_gone(topic); };
    }
}

void Broadcaster::count_deflate(unsigned bits, int delta) noexcept {
    deflate_connections_[bits - 8].fetch_add(static_cast<std::uint32_t>(delta), std::memory_order_relaxed);
}

unsigned Broadcaster::deflate_bits() const noexcept {
    for (unsigned bits = kMinDeflateWindowBits; bits <= kMaxDeflateWindowBits; ++bits) {
        if (deflate_connections_[bits - 8].load(std::memory_order_relaxed) > 0) return bits;
    }
    return 0;
}

namespace {

// The publisher's compressor for each window, and its output: a thread compresses with its own, so publishers
// never wait for each other.
struct PublisherDeflate {
    Deflater by_bits[kMaxDeflateWindowBits - kMinDeflateWindowBits + 1];
    ByteBuffer out;
};

// Compresses `message` for broadcast with a window of 2^bits into the thread's buffer; empty when it could not.
std::string_view compress_for_broadcast(std::string_view message, unsigned bits, int level) noexcept {
    thread_local PublisherDeflate state;
    Deflater& deflater = state.by_bits[bits - kMinDeflateWindowBits];
    if (!deflater.ready() && !deflater.init(level, static_cast<int>(bits), 8)) return {};
    state.out.clear();
    state.out.trim(1024 * 1024);  // one huge message does not pin its buffer on this thread
    if (!deflater.compress(message, state.out, false)) return {};
    return state.out.view();
}

// The largest frame an item can point to: deflated_size has 28 bits.
constexpr std::size_t kMaxDeflatedFrame = (std::size_t{1} << 28) - 1;


}  // namespace

Broadcaster::~Broadcaster() {
    broker_link_.reset();
    for (unsigned i = 0; i < ring_.consumers(); ++i) {
        ring_.poll(i, [](const BroadcastItem& item) { item.bytes->release(); });
    }
}

PublishResult Broadcaster::publish(std::string_view topic, std::string_view message, Opcode opcode,
                                   std::chrono::milliseconds wait, const Publisher& publisher) noexcept {
    if (topic.empty() || topic.size() > kMaxTopicBytes) return {PublishStatus::Invalid};
    if (broker_link_) return broker_link_->publish(topic, message, opcode, publisher);
    const std::int64_t now = monotonic_ms();
    // A full ring is waited for (up to `wait`, never on a shard) outside the topic's stripe: holding it while
    // waiting would hold up every shard that subscribes to a topic of that stripe meanwhile, and with it the
    // draining the wait is for.
    const bool may_wait = wait.count() > 0 && !publisher.shard;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    PublishResult result;
    for (unsigned attempt = 0;; ++attempt) {
        result = publish_once(topic, message, opcode, publisher, now);
        if (result.status != PublishStatus::Backpressure || !may_wait) break;
        if (std::chrono::steady_clock::now() >= deadline) break;
        if (attempt >= 64) std::this_thread::yield();
    }
    if (!result.ok()) return result;
    for (BroadcastConsumer* consumer : consumers_) {
        if (consumer != publisher.shard) consumer->notify_broadcast();  // a publishing shard drains after its callbacks
    }
    return result;
}

PublishResult Broadcaster::publish_once(std::string_view topic, std::string_view message, Opcode opcode,
                                        const Publisher& publisher, std::int64_t now) noexcept {
    try {
        // The topic's stripe is held from the offset to the ring slot: a topic's offsets follow the ring's order.
        return logs_.with(topic, now, [&](TopicLog* found) -> PublishResult {
            if (!found) return {PublishStatus::TooManyTopics};
            const std::uint64_t offset = found->next_offset;
            const PublishStatus status = emit(*found, topic, offset, message, opcode, publisher, now);
            if (status != PublishStatus::Success) return {status};
            ++found->next_offset;
            return {PublishStatus::Success, offset};
        });
    } catch (const std::bad_alloc&) {
        return {PublishStatus::Backpressure};  // no memory for the topic's log: nothing published
    }
}

PublishStatus Broadcaster::emit(TopicLog& log, std::string_view topic, std::uint64_t offset,
                                std::string_view message, Opcode opcode, const Publisher& publisher,
                                std::int64_t now, std::string_view new_epoch) noexcept {
    try {
        // Before the claim: what can fail (allocation) must fail while no slot waits for it. The envelope and the
        // event are made with the publication whenever a topic's history is kept, so that whoever resumes from it
        // later (in any delivery) shares them; without history, only while anyone asks.
        const bool keep = logs_.keeps_history();
        const bool envelopes = keep || envelopes_.load(std::memory_order_relaxed) > 0;
        const bool events = keep || event_streams_.load(std::memory_order_relaxed) > 0;
        std::string payload;  // the envelope's JSON, for the envelope frame and the event
        if (envelopes || events) payload = encode_envelope(topic, offset, message, opcode, new_epoch);
        // Claim next: a full ring costs no allocation and no compression.
        const std::optional<std::uint64_t> sequence = ring_.try_claim();
        if (!sequence) return PublishStatus::Backpressure;
        std::string event;  // its id is the ring's sequence, known from here on
        if (events) {
            try {
                event = logs_.brokered() ? encode_topic_event(topic, log.broker_epoch, offset, payload)
                                         : encode_event(logs_.epoch(), *sequence, payload);
            } catch (const std::bad_alloc&) {
                event.clear();  // each event-stream subscriber gets one made for it
            }
        }
        BroadcastItem item = encode(topic, message, opcode, envelopes ? payload : std::string_view{}, event,
                                    publisher, ring_.consumers());
        if (!item.bytes) {
            // The slot is claimed and consumers will wait at it: fill it with an item every shard skips.
            SharedBytes* nothing = SharedBytes::make(0, ring_.consumers());
            if (!nothing) std::abort();  // not even 16 bytes: nothing sensible is left to do
            ring_.publish(*sequence, {nothing, 0, kNoShard, 0, 0, 0});
            return PublishStatus::Backpressure;
        }
        item.offset = offset;
        item.sequence = *sequence;
        item.new_epoch = new_epoch.empty() ? 0 : 1;
        logs_.append(log, item, now);
        ring_.publish(*sequence, item);
        return PublishStatus::Success;
    } catch (const std::bad_alloc&) {
        return PublishStatus::Backpressure;  // no memory for the envelope: nothing published
    }
}

Broadcaster::Placed Broadcaster::place(const BrokerMessage& message, const Publisher& publisher, bool over_gap,
                                       std::uint64_t& expected) noexcept {
    const std::int64_t now = monotonic_ms();
    try {
        return logs_.with(message.topic, now, [&](TopicLog* found) -> Placed {
            if (!found) return Placed::Dropped;  // past max_topic_logs, none idle
            TopicLog& log = *found;
            if (log.broker_epoch != message.epoch) {
                // The broker's stream began again (it lost its data, or the topic expired there): what this node
                // keeps is of another run of offsets, and its subscribers are told with the next publication.
                if (!log.broker_epoch.empty()) {
                    logs_.drop_history(log);
                    log.next_offset = 1;
                    log.epoch_news = true;
                }
                log.broker_epoch = std::string(message.epoch);
            }
            if (message.offset < log.next_offset) return Placed::Duplicate;
            if (message.offset > log.next_offset && log.synced) {
                expected = log.next_offset;
                if (!over_gap) return Placed::Gap;
                logs_.drop_history(log);  // what was missed is gone for good: no resume may cross it
            }
            const PublishStatus status = emit(log, message.topic, message.offset, message.data, message.opcode,
                                              publisher, now, log.epoch_news ? message.epoch : std::string_view{});
            if (status != PublishStatus::Success) return Placed::Full;
            log.epoch_news = false;
            log.next_offset = message.offset + 1;
            return Placed::Published;
        });
    } catch (const std::bad_alloc&) {
        return Placed::Full;
    }
}

void Broadcaster::wake_all() noexcept {
    for (BroadcastConsumer* consumer : consumers_) consumer->notify_broadcast();
}

bool Broadcaster::load(std::string_view topic, const BrokerHistory& history) noexcept {
    const std::int64_t now = monotonic_ms();
    const std::int64_t now_unix = unix_ms();
    try {
        return logs_.with(topic, now, [&](TopicLog* found) -> bool {
            if (!found) return false;
            TopicLog& log = *found;
            if (log.synced) return true;
            if (!log.broker_epoch.empty() && log.broker_epoch != history.epoch) {
                return false;  // publications of a newer run came meanwhile: asked again at the next subscriber
            }
            log.broker_epoch = history.epoch;
            const bool fresh = log.history.empty() && log.next_offset == 1;
            // What the node heard since it asked for the topic begins here; history fills what came before.
            const std::uint64_t first_heard = fresh ? history.last_offset + 1
                                                    : log.history.empty() ? log.next_offset
                                                                          : log.history.front().item.offset;
            std::vector<HistoryEntry> older;
            if (logs_.keeps_history()) {
                older.reserve(history.entries.size());
                for (const BrokerEntry& entry : history.entries) {
                    if (entry.offset >= first_heard) break;
                    const std::string envelope = encode_envelope(topic, entry.offset, entry.data, entry.opcode);
                    BroadcastItem item = encode(topic, entry.data, entry.opcode, envelope,
                                                encode_topic_event(topic, history.epoch, entry.offset, envelope), {},
                                                0);
                    if (!item.bytes) break;
                    item.offset = entry.offset;
                    item.bytes->retain();  // the history's reference
                    const std::int64_t age = std::max<std::int64_t>(0, now_unix - entry.published_unix_ms);
                    older.push_back({item, now - age});
                }
                // Only a run that reaches the first publication heard leaves no hole between them.
                if (!older.empty() && older.back().item.offset + 1 != first_heard) {
                    for (const HistoryEntry& entry : older) entry.item.bytes->release();
                    older.clear();
                }
            }
            if (fresh) log.next_offset = first_heard;
            logs_.keep_older(log, std::move(older), now);
            log.synced = true;
            return true;
        });
    } catch (const std::bad_alloc&) {
        return false;
    }
}

BroadcastItem Broadcaster::encode(std::string_view topic, std::string_view message, Opcode opcode,
                                  std::string_view envelope, std::string_view event, const Publisher& publisher,
                                  std::uint32_t references) noexcept {
    // envelope_size has 31 bits: an envelope of 2 GiB or more is not made (such a publication goes raw only).
    if (envelope.size() >= (std::size_t{1} << 31) - 16) envelope = {};
    const std::size_t envelope_frame = envelope.empty() ? 0 : frame_header_length(envelope.size(), false) +
                                                                   envelope.size();
    // Once for every permessage-deflate subscriber, whatever their number: the smallest window agreed so far
    // suits them all (a connection that agreed to a smaller one since gets the plain frame).
    const unsigned bits = message.size() >= deflate_min_bytes_ ? deflate_bits() : 0;
    std::string_view deflated = bits ? compress_for_broadcast(message, bits, deflate_level_) : std::string_view{};
    const std::size_t deflated_frame = deflated.empty() ? 0 : frame_header_length(deflated.size(), false) +
                                                                  deflated.size();
    if (deflated_frame > kMaxDeflatedFrame) deflated = {};

    const std::size_t header_size = frame_header_length(message.size(), false);
    // `references`: one per shard; the topic's history takes its own (TopicLogs::append()).
    SharedBytes* bytes = SharedBytes::make(topic.size() + header_size + message.size() +
                                               (deflated.empty() ? 0 : deflated_frame) + envelope_frame +
                                               event.size(),
                                           references);
    if (!bytes) return {nullptr, 0, kNoShard, 0, 0, 0};
    char* at = bytes->data();
    std::memcpy(at, topic.data(), topic.size());
    at += topic.size();
    at += encode_frame_header(at, opcode, message.size());
    if (!message.empty()) std::memcpy(at, message.data(), message.size());
    at += message.size();
    if (!deflated.empty()) {
        at += encode_frame_header(at, opcode, deflated.size(), true, true);
        std::memcpy(at, deflated.data(), deflated.size());
        at += deflated.size();
    }
    if (!envelope.empty()) {
        at += encode_frame_header(at, Opcode::Text, envelope.size());
        std::memcpy(at, envelope.data(), envelope.size());
        at += envelope.size();
    }
    if (!event.empty()) std::memcpy(at, event.data(), event.size());
    BroadcastItem item{bytes, static_cast<std::uint16_t>(topic.size()), publisher.exclude_shard, 0, 0,
                       publisher.exclude_token};
    if (!deflated.empty()) {
        item.deflated_size = static_cast<std::uint32_t>(deflated_frame);
        item.deflate_bits = bits;
    }
    item.envelope_size = static_cast<std::uint32_t>(envelope_frame);
    item.event_size = static_cast<std::uint32_t>(event.size());
    return item;
}

}  // namespace surge::detail
