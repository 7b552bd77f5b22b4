// What a send on a connection did: shared by the server's WebSocket and the client's ClientWebSocket. Layer: ws.
#pragma once

#include <cstdint>

namespace surge {

enum class SendStatus : std::uint8_t {
    Success,       // handed to the kernel whole
    Backpressure,  // queued: the socket is full; on_drain tells when the queue has emptied
    Dropped,       // not sent: the connection is not open, or its queue is past its bound
};

}  // namespace surge
