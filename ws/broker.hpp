// The seam between a server and a message broker that several servers (nodes) share. Layer: ws.
//
// Without a broker (ServerConfig::broker empty) a server numbers and keeps its own publications, as
// ws/pubsub.hpp says, and none of this is used or paid for. With one, the broker is the authority over every
// topic: Server::publish() hands the publication to the broker, which gives it the topic's next offset, keeps it
// in the topic's history and sends it to every node that has subscribers to the topic, this one included; each
// node then fans it out to its own subscribers exactly as it fans out its own publications (a frame encoded once
// per node). Offsets and epochs are the broker's, so a subscriber that resumes on another node resumes exactly.
// Each node keeps a copy of the recent history of the topics it has subscribers to, so a resume is served from
// memory; the broker's history fills that copy when a topic gains its first subscriber on a node, and fills any
// gap the node notices in the offsets it is given (after the broker's connection was lost, say).
//
// What a broker must provide (the Redis one is ws/redis_broker.hpp; a NATS JetStream one, say, would map topics
// to subjects of one stream and offsets to per-subject sequences):
//   - publish: append to the topic's history and assign the next offset atomically, then send to the nodes that
//     asked for the topic, in offset order per topic;
//   - interest: start sending a topic's publications to this node, and say when that is in force (so that a
//     history read made after it leaves no gap), or stop;
//   - history: a topic's epoch, last offset, and its kept publications after an offset;
//   - after a lost connection: restore every interest, then tell the sink (resync()) so the node fills its gaps.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "surge/ws/opcode.hpp"
#include "surge/ws/pubsub.hpp"

namespace surge {

// A publication as a broker hands it to a node: numbered by the broker. The views live for the call.
struct BrokerMessage {
    std::string_view topic;
    std::uint64_t offset = 0;
    std::string_view epoch;
    std::string_view data;
    Opcode opcode = Opcode::Binary;
    std::string_view origin;  // what the publishing node passed to Broker::publish() (opaque to the broker)
};

// One kept publication, from Broker::history().
struct BrokerEntry {
    std::uint64_t offset = 0;
    std::string data;
    Opcode opcode = Opcode::Binary;
    std::int64_t published_unix_ms = 0;  // wall clock, when the broker kept it
};

// A topic's stream at the broker: its epoch, the offset of its last publication (0: none yet), and the kept
// publications asked for, in offset order. ok is false when the broker could not be asked (then nothing else is
// meaningful).
struct BrokerHistory {
    bool ok = false;
    std::string epoch;
    std::uint64_t last_offset = 0;
    std::vector<BrokerEntry> entries;
};

// One read of Broker::history(), for Broker::histories().
struct HistoryQuery {
    std::string_view topic;
    std::uint64_t after = 0;
    std::size_t limit = 0;
};

// The server's side of the seam: where a broker delivers. Both calls run on the broker's own thread.
class BrokerSink {
public:
    // A publication of a topic this node has interest in. Publications of a topic come in offset order, but a
    // lost connection may leave a gap: the sink notices it and reads what it missed from history().
    virtual void deliver(const BrokerMessage& message) noexcept = 0;
    // The broker's connection came back after it was lost, and every interest is in force again: publications
    // may have been missed meanwhile, so the sink reads each topic's history after what it has.
    virtual void resync() noexcept = 0;

protected:
    ~BrokerSink() = default;
};

// Counters a broker keeps, for /metrics.
struct BrokerStats {
    bool connected = false;            // the delivering connection is up now
    std::uint64_t reconnects = 0;      // times the delivering connection was made again after a loss
    std::uint64_t publish_failures = 0;  // publish() calls answered Unavailable
    std::uint64_t delivered = 0;       // publications handed to the sink
    std::uint64_t interests = 0;       // topics this node asks for now
};

class Broker {
public:
    virtual ~Broker() = default;

    // Begins delivering to `sink` (Server::run() calls this once, before the shards start, and stop() after they
    // have ended). False when it cannot start at all (logged); an unreachable broker is not that: it is retried.
    virtual bool start(BrokerSink& sink) = 0;
    virtual void stop() noexcept = 0;
    // Publishes to every node: the broker keeps the publication in the topic's history (bounded as the broker
    // is configured) and numbers it, atomically. Blocks for one round trip; any thread.
    // PublishStatus::Unavailable when the broker cannot be reached (nothing was published); Unconfirmed when the
    // command reached it but the answer did not come back (it may have been published: a retry may repeat it).
    virtual PublishResult publish(std::string_view topic, std::string_view data, Opcode opcode,
                                  std::string_view origin) = 0;
    // This node has subscribers to `topic` (on) or none any more (off). `on` returns once publications made from
    // then on will reach the sink (true), or false when the broker cannot say so now (it keeps the interest and
    // restores it when it can, then calls resync()). `off` does not wait. Any thread.
    virtual bool interest(std::string_view topic, bool on) = 0;
    // The topic's epoch and last offset, and up to `limit` kept publications after offset `after`, or the newest
    // `limit` of them when `after` is kNewest. Blocks for one round trip; any thread.
    static constexpr std::uint64_t kNewest = UINT64_MAX;
    virtual BrokerHistory history(std::string_view topic, std::uint64_t after, std::size_t limit) = 0;
    // history() of many topics, an answer per query in the same order: what a node reads when its connection
    // comes back (resync() of every topic it hears). A broker across a network should answer them in one round
    // trip (the Redis one pipelines them); this default asks one at a time. Any thread.
    virtual std::vector<BrokerHistory> histories(std::span<const HistoryQuery> queries) {
        std::vector<BrokerHistory> answers;
        answers.reserve(queries.size());
        for (const HistoryQuery& query : queries) answers.push_back(history(query.topic, query.after, query.limit));
        return answers;
    }
    virtual BrokerStats stats() const noexcept = 0;
};

}  // namespace surge
