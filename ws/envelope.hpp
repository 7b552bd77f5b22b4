// The Delivery::Envelope message (ws/pubsub.hpp): a publication as a JSON text message that says what it is.
// Layer: ws. Sans-I/O.
//   {"topic":"news","offset":17,"data":"the published text"}
//   {"topic":"cam","offset":3,"data":"AAECAw==","encoding":"base64"}      (published binary, or text not UTF-8)
//   {"topic":"news","offset":1,"epoch":"6b0f2...","data":"..."}          (the first of a new epoch, see below)
// The topic is a JSON string of the topic's bytes (surge-push only takes UTF-8 topics). `epoch` is given only when
// the topic's epoch changed under subscribers that stay connected (with a broker that lost its data: offsets start
// again at 1), so that a client which drops what it already has by offset knows to start over.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "surge/ws/opcode.hpp"

namespace surge {

std::string encode_envelope(std::string_view topic, std::uint64_t offset, std::string_view message, Opcode opcode,
                            std::string_view new_epoch = {});

// The same envelope as a Server-Sent Events event (event-stream routes): its id is the server's epoch and the
// publication's place among every topic's publications, which a reconnecting EventSource sends back as
// Last-Event-ID, so one id resumes every topic of the stream.
//   id: 3f2a9c0d11e4b7a6:1042
//   data: {"topic":"news","offset":17,"data":"..."}
//   (blank line)
std::string encode_event(std::string_view epoch, std::uint64_t sequence, std::string_view envelope);
// Reads an event id back; false when it is not "<epoch>:<sequence>".
bool parse_event_id(std::string_view id, std::string_view& epoch, std::uint64_t& sequence) noexcept;

// With a broker (ws/broker.hpp) a process's own sequence means nothing to the other nodes, so an event's id names
// its topic's position instead, which every node knows: "<the topic's epoch>:<offset>~<tag>", the tag being 8 hex
// digits of a hash of the topic's name, so that an id is never taken for another topic's. An EventSource that
// reconnects to any node resumes that topic exactly; the other topics of a stream of several are told they were
// not recovered.
//   id: 6b0f2a9c3e1d4:17~9f3a01c2
std::string encode_topic_event(std::string_view topic, std::string_view topic_epoch, std::uint64_t offset,
                               std::string_view envelope);
// True when `id` is such an id of `topic`, read into `epoch` and `offset`.
bool parse_topic_event_id(std::string_view id, std::string_view topic, std::string_view& epoch,
                          std::uint64_t& offset) noexcept;

}  // namespace surge
