// The server's side of a broker (ws/broker.hpp): what Server::publish() does with one, what a node does with the
// publications the broker hands it, and how a topic's history copy is kept in step. Layer: ws (private to the
// server).
// Interest follows subscribers: the first subscriber of a topic on this node asks the broker for the topic (and
// waits until that is in force, then fills the history copy from the broker's), and when the last one leaves the
// node stops asking. The topic's stripe orders the two, so a subscriber that comes back at once is never left
// without the broker's publications.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surge/ws/broker.hpp"
#include "surge/ws/detail/broadcaster.hpp"
#include "surge/ws/opcode.hpp"
#include "surge/ws/pubsub.hpp"

namespace surge::detail {


class BrokerLink final : public BrokerSink {
public:
    BrokerLink(Broker& broker, Broadcaster& broadcaster);

    bool start() { return broker_.start(*this); }
    // After the shards have ended: deliveries stop waiting for room in the ring, and the broker stops.
    void stop() noexcept;

    PublishResult publish(std::string_view topic, std::string_view message, Opcode opcode,
                          const Publisher& publisher) noexcept;
    // Before a subscriber joins `topic` (any shard): the node hears the topic, and its history copy is filled.
    void prepare_join(std::string_view topic) noexcept;
    // The last subscriber of `topic` on this node has gone.
    void topic_gone(std::string_view topic) noexcept;

    void deliver(const BrokerMessage& message) noexcept override;
    void resync() noexcept override;

private:
    // Reads the topic's newest history from the broker into its copy (Broadcaster::load()).
    void sync_history(std::string_view topic) noexcept;
    // Publications of `topic` after `after` up to `until`, read from the broker's history and placed in order;
    // `first`, when given, is the answer to the first read (history(topic, after, kPage)), already made.
    // False when the broker could not be asked.
    bool fill(std::string_view topic, std::uint64_t after, std::uint64_t until,
              BrokerHistory* first = nullptr) noexcept;
    // resync() of some heard topics (topic, offset expected next): their first reads in one histories() call.
    // False when the broker was lost again.
    bool catch_up(std::span<const std::pair<std::string, std::uint64_t>> topics);
    // Places one publication, waiting while the ring is full; over_gap as Broadcaster::place().
    void place_waiting(const BrokerMessage& message, bool over_gap) noexcept;
    // What Broker::publish() carries for a publishing connection, so that it is not sent its own message: this
    // node's id, the shard and the connection's token ("" when no connection published).
    std::string origin_of(const Publisher& publisher) const;
    Publisher publisher_of(std::string_view origin) const noexcept;

    Broker& broker_;
    Broadcaster& broadcaster_;
    std::string node_;  // random per server: whose origin is whose
    std::atomic<bool> stopping_{false};
};

}  // namespace surge::detail
