// surge::WebSocket: one upgraded connection, as the application sees it. Layer: ws.
// The object is the connection's slot in its shard's slab, so a reference stays valid from on_open until
// on_close returns; after that the slot is recycled and the reference must not be used. Every open gets
// exactly one close. All calls must come from the connection's shard thread, that is from inside a callback
// or a function passed to Server::defer() for that shard (a handle finds its shard through the thread it is
// used on, so a call from any other thread is a bug, not a race). send() and close() are safe inside any callback,
// including on_message and on_close (where send is a no-op that returns Dropped).
// Memory: an idle connection holds no buffers, only its slot: this object (sizeof(WebSocket) is 128 bytes on
// x86-64) and, right behind it, the application's data for the route (data<T>()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <type_traits>

#include "surge/core/send_queue.hpp"
#include "surge/core/timer_wheel.hpp"
#include "surge/net/address.hpp"
#include "surge/ws/frame_decoder.hpp"
#include "surge/ws/message_reader.hpp"
#include "surge/ws/opcode.hpp"
#include "surge/ws/pubsub.hpp"
#include "surge/ws/send_status.hpp"

namespace surge {

namespace detail {
class ConnectionSlab;
class Shard;
class ShardTopics;
struct SubscriptionList;
}  // namespace detail


class WebSocket {
public:
    WebSocket(const WebSocket&) = delete;
    WebSocket& operator=(const WebSocket&) = delete;

    // Sends one message in one frame. The bytes are copied only if the socket cannot take them at once.
    SendStatus send(std::string_view message, Opcode opcode = Opcode::Binary) noexcept;
    // Starts the closing handshake: a close frame with `code` (and `reason`, cut to 123 bytes) is sent, and
    // the connection closes when the peer answers or after a grace period. on_close follows, once.
    void close(std::uint16_t code = close_code::kNormal, std::string_view reason = {}) noexcept;
    // Topics (pub/sub). A connection receives every message published to a topic it subscribes to, from
    // Server::publish() on any thread or another connection's publish(). Subscriptions end at close.
    // subscribe() says what happened (SubscribeStatus: already subscribed, an empty or too long topic, past the
    // route's max_subscriptions, not open); unsubscribe() returns false when it was not subscribed.
    SubscribeStatus subscribe(std::string_view topic) noexcept;
    // The same, from a position (ws/pubsub.hpp): the publications after options.since that the topic's history
    // still holds are queued to this connection at once, in order, and the live stream follows them with no gap
    // and no duplicate, however publishers on other threads interleave. Also says where the topic stands.
    SubscribeResult subscribe(std::string_view topic, const SubscribeOptions& options);
    bool unsubscribe(std::string_view topic) noexcept;
    bool subscribed(std::string_view topic) const noexcept;
    // How publications reach this connection, for every topic (Raw unless set; ws/pubsub.hpp). Set it before
    // subscribing: what was already queued stays as it was.
    void set_delivery(Delivery delivery) noexcept;
    Delivery delivery() const noexcept { return delivery_ & kEnvelopeDelivery ? Delivery::Envelope : Delivery::Raw; }
    // Publishes to every subscriber of `topic` on every shard except this connection (see Server::publish()).
    PublishResult publish(std::string_view topic, std::string_view message, Opcode opcode = Opcode::Binary) noexcept;
    // Bytes queued for sending that the socket has not taken yet.
    std::size_t buffered_amount() const noexcept { return out_.bytes(); }
    // The index of the shard (thread) that owns this connection.
    unsigned shard_index() const noexcept;
    // The application's own data for this connection, stored inline in its slot right behind this object: no
    // allocation, no pointer to follow. T must be the type the connection's route was registered with
    // (Server::websocket<T>()); it is value-initialised just before on_open and destroyed just after on_close.
    template <class T>
    T& data() noexcept;
    // The subprotocol agreed at the upgrade (one of the route's WebSocketBehavior::subprotocols), or empty.
    std::string_view subprotocol() const noexcept;
    // Where the connection comes from: the client's address and port, or the client that trusted proxies named
    // at the upgrade (see Request::remote_address()). An empty address once the socket is gone.
    net::Endpoint remote_address() const noexcept;

private:
    friend class detail::ConnectionSlab;
    friend class detail::Shard;
    friend class detail::ShardTopics;
    WebSocket() = default;

    enum class State : std::uint8_t { Free, Http, Open, Closing, Closed };

    TimerNode timer_;  // first member: the shard maps an expired node back to its connection
    SendQueue out_;  // bytes the socket refused, oldest first
    char* held_ = nullptr;  // heap: a partial request or frame, waiting for the rest (shard_intake.cpp)
    PartialMessage message_;  // heap: a message that spans frames or reads, up to max_message_bytes
    detail::SubscriptionList* subscriptions_ = nullptr;  // heap, while subscribed to anything
    FrameDecoder decoder_;
    std::uint32_t held_bytes_ = 0;
    std::uint32_t generation_ = 0;
    std::uint32_t index_ = 0;
    int fd_ = -1;
    std::uint32_t request_scanned_ = 0;  // in the HTTP state: how far the request parser has searched
    std::uint16_t route_ = 0;
    std::uint16_t close_code_ = 0;  // the code this side sent, once it has
    State state_ = State::Free;
    std::uint8_t flags_ = 0;
    std::uint8_t io_state_ = 0;  // the reactor's (net::ReactorHandler::io_state)
    std::uint8_t subprotocol_ = 0;  // 1 + index into the route's subprotocols, 0 for none
    std::uint8_t deflate_ = 0;  // permessage-deflate: what was agreed, and the current message's state (shard.cpp)
    std::uint8_t output_flags_ = 0;  // what the send queue holds that matters; the peer's end (connection_state.hpp)
    std::uint8_t admission_ = 0;     // which of the shard's admission counts hold it (connection_state.hpp)
    // Pub/sub: the delivery asked for, and whether a subscription is still skipping what history already gave.
    static constexpr std::uint8_t kEnvelopeDelivery = 1;
    static constexpr std::uint8_t kJoining = 2;
    static constexpr std::uint8_t kEventStream = 4;  // an event-stream connection (Server::event_stream())
    std::uint8_t delivery_ = 0;
};

// Where a route's data of type T starts in a slot: right behind the WebSocket, aligned for T.
template <class T>
constexpr std::size_t websocket_data_offset() noexcept {
    return (sizeof(WebSocket) + alignof(T) - 1) / alignof(T) * alignof(T);
}

template <class T>
T& WebSocket::data() noexcept {
    return *std::launder(reinterpret_cast<T*>(reinterpret_cast<unsigned char*>(this) + websocket_data_offset<T>()));
}

}  // namespace surge
