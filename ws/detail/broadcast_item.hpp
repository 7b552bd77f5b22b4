// One published message as the broadcast ring carries it, and as a topic's history keeps it. Layer: ws (private
// to the server).
#pragma once

#include <cstdint>
#include <string_view>

#include "surge/core/shared_bytes.hpp"
#include "surge/ws/opcode.hpp"

namespace surge::detail {

inline constexpr std::uint16_t kNoShard = UINT16_MAX;

// 48 bytes (with its stamp, a ring slot is 56). Its bytes are laid out as the topic, the frame, the
// permessage-deflate frame if any, the Delivery::Envelope frame if any, then the event-stream event if any; the
// accessors below are the only code that knows this layout (Broadcaster::publish() writes it).
struct BroadcastItem {
    SharedBytes* bytes;  // one reference per shard (and one for the topic's history)
    std::uint16_t topic_size;
    std::uint16_t exclude_shard;  // the sender's shard when a connection published (kNoShard otherwise)
    std::uint32_t deflated_size : 28;  // the permessage-deflate frame, or 0
    std::uint32_t deflate_bits : 4;    // the window it was compressed with: for connections that agreed to it
    std::uint64_t exclude_token;  // and the sender's token there: it does not get its own message
    std::uint64_t offset = 0;         // the publication's offset in its topic (ws/pubsub.hpp)
    std::uint32_t envelope_size : 31 = 0;  // the Delivery::Envelope frame (a JSON text message), or 0
    std::uint32_t new_epoch : 1 = 0;       // the first publication of a new epoch of its topic (ws/envelope.hpp)
    std::uint32_t event_size = 0;     // the event-stream event ("id: ...\ndata: <envelope>\n\n"), or 0
    std::uint64_t sequence = 0;       // its place among every topic's publications (the ring's): event ids

    std::string_view topic() const noexcept { return {bytes->data(), topic_size}; }
    // The frame as it goes to a connection without compression.
    std::string_view frame() const noexcept {
        return {bytes->data() + topic_size, bytes->size() - topic_size - deflated_size - envelope_size - event_size};
    }
    // The compressed frame (RSV1) for connections whose window is at least 2^deflate_bits, or empty.
    std::string_view deflated_frame() const noexcept {
        return {bytes->data() + bytes->size() - event_size - envelope_size - deflated_size, deflated_size};
    }
    // The published message and its opcode, read back from the frame (a server's frame: unmasked).
    std::string_view message() const noexcept {
        const std::string_view f = frame();
        const auto length = static_cast<unsigned char>(f[1]) & 0x7f;
        const std::size_t header = length < 126 ? 2 : length == 126 ? 4 : 10;
        return f.substr(header);
    }
    Opcode opcode() const noexcept { return static_cast<Opcode>(static_cast<unsigned char>(frame()[0]) & 0x0f); }
    // The envelope frame for Delivery::Envelope connections, or empty when none asked for it at the publish.
    std::string_view envelope_frame() const noexcept {
        return {bytes->data() + bytes->size() - event_size - envelope_size, envelope_size};
    }
    // The event for event-stream connections, or empty when none was connected at the publish.
    std::string_view event() const noexcept { return {bytes->data() + bytes->size() - event_size, event_size}; }
};
static_assert(sizeof(BroadcastItem) == 48);

}  // namespace surge::detail
