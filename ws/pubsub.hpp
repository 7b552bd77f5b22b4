// Pub/sub's vocabulary: what a publish and a subscribe answer, a position in a topic's stream, and how
// publications reach a connection. Layer: ws.
//
// Delivery guarantees. Every publication to a topic gets the topic's next offset: 1 for the first, then one more
// for each, with no gap. The topic's epoch names the run of offsets: it changes when its history may have been
// lost (a restart, or a topic forgotten past ServerConfig::max_topic_logs: offsets begin at 1 again), so a
// client that resumes says which epoch its offset belongs to. Each topic keeps its recent publications (ServerConfig::history_*); a subscriber may subscribe from a
// position and gets every publication after it from that history, then the live stream, with no gap and no
// duplicate at the switch. When the history no longer reaches back that far, or the epoch is another, it is told
// so (recovered is false) and gets the live stream from now.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace surge {

enum class PublishStatus : std::uint8_t {
    Success,       // in the broadcast ring: every shard will fan it out to its subscribers of the topic
    Backpressure,  // the ring is full (a shard is a lap behind, see ShardStats::ring_stalls): not published
    NotRunning,    // the server is not running: not published
    Invalid,       // the topic is empty or longer than kMaxTopicBytes: not published
    TooManyTopics,  // the server keeps ServerConfig::max_topic_logs topics already, none idle: not published
    Unavailable,    // the server's broker (ws/broker.hpp) cannot be reached: not published
    Unconfirmed,    // the broker took it but its answer was lost: it may or may not have been published
};

// What a publish did, and the offset the publication got in its topic (0 unless Success). Converts to its status,
// so `server.publish(...) == PublishStatus::Success` reads as before.
struct PublishResult {
    PublishStatus status = PublishStatus::NotRunning;
    std::uint64_t offset = 0;

    bool ok() const noexcept { return status == PublishStatus::Success; }
    operator PublishStatus() const noexcept { return status; }  // NOLINT: implicit by design
    friend bool operator==(const PublishResult& result, PublishStatus expected) noexcept {
        return result.status == expected;
    }
};

inline constexpr std::size_t kMaxTopicBytes = 1024;

enum class SubscribeStatus : std::uint8_t {
    Subscribed,         // done: the connection gets every message published to the topic from now on
    AlreadySubscribed,  // nothing changed
    InvalidTopic,       // empty, or longer than kMaxTopicBytes
    TooMany,            // the connection holds its route's max_subscriptions already (counted in ShardStats)
    NotOpen,            // the connection is closing
    NoMemory,
};

// A place in a topic's stream: the last offset a subscriber has, in an epoch. An empty epoch is not checked
// (the offset is taken as this run's); a client that may outlive a server restart should send the one it got.
struct StreamPosition {
    std::uint64_t offset = 0;
    std::string epoch{};
};

// How publications reach a connection (WebSocket::set_delivery(), for all its topics):
//   Raw       the published bytes as they are, in a frame of the publisher's opcode;
//   Envelope  a JSON text message {"topic":"news","offset":17,"data":"..."}: data is the published bytes as a
//             JSON string when they are UTF-8 text, or their base64 with "encoding":"base64" beside it when
//             binary. Encoded once per publication, like the raw frame (always while history is kept, so that
//             resumes share it too; otherwise while any connection asks for it).
enum class Delivery : std::uint8_t { Raw, Envelope };

struct SubscribeOptions {
    std::optional<StreamPosition> since{};  // from here (history first), or from now when absent
    // On an event stream: the Last-Event-ID its client sent back when it reconnected (an event id names a place
    // among every topic's publications, so one resumes each topic of the stream). Wins over `since`.
    std::string_view since_event{};
};

// What a subscribe did; with Subscribed or AlreadySubscribed also where the topic stands: the offset of its
// last publication (0 for none yet), the epoch, and whether everything after `since` was sent from history.
struct SubscribeResult {
    SubscribeStatus status = SubscribeStatus::NotOpen;
    std::uint64_t offset = 0;
    std::string epoch{};
    bool recovered = false;
};

// The history every topic keeps, over the process.
struct HistoryStats {
    std::uint64_t topics = 0;   // topics with a log (every topic ever published to in this epoch)
    std::uint64_t entries = 0;  // publications held
    std::uint64_t bytes = 0;    // their bytes (frames and topic names)
    std::uint64_t evicted = 0;  // publications dropped from history: too many, too old, or past the bytes limit
    std::uint64_t forgotten = 0;  // idle topics forgotten to make room past max_topic_logs (a new epoch if back)
};

}  // namespace surge
