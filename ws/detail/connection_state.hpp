// The bits a connection's slot keeps about its own state, shared by the shard's files. Layer: ws (private to
// the server). They live in single bytes of WebSocket (flags_, deflate_) because every byte of the slot is paid
// by every idle connection.
#pragma once

#include <cstdint>

namespace surge::detail {

// WebSocket::flags_
inline constexpr std::uint8_t kSendInFlight = 1;
inline constexpr std::uint8_t kCloseWhenFlushed = 2;
inline constexpr std::uint8_t kCloseNotified = 4;
inline constexpr std::uint8_t kPingSent = 8;
inline constexpr std::uint8_t kOpened = 16;
inline constexpr std::uint8_t kInputDone = 32;  // a close frame arrived or the write side is shut: input is discarded
inline constexpr std::uint8_t kLingering = 64;  // shutdown(SHUT_WR) sent, waiting for the peer's end of stream
inline constexpr std::uint8_t kStaged = 128;    // in staged_: broadcast frames queued, written at the end of the fan-out

// WebSocket::admission_: the counts a connection is in until it leaves them (admission.hpp, the shard's own).
inline constexpr std::uint8_t kAddressCounted = 1;    // in the server's per-address count
inline constexpr std::uint8_t kHandshakeCounted = 2;  // in the shard's handshakes in progress

// WebSocket::deflate_: what permessage-deflate agreed for the connection, and the state of its current message.
inline constexpr std::uint8_t kDeflateOn = 1;
inline constexpr std::uint8_t kServerNoContext = 2;    // each message is compressed alone: the shard's compressor serves
inline constexpr std::uint8_t kClientNoContext = 4;    // the client compresses each message alone: so does the shard's
                                                // decompressor
// A broadcast frame compressed by the publisher went out to a connection with its own compressor: the client's
// window now holds bytes that compressor never saw, so it must start over before its next message.
inline constexpr std::uint8_t kCompressorStale = 16;
inline constexpr unsigned kWindowShift = 5;  // bits 5-7: the server's window bits - 8 (9..15)

inline unsigned server_window_bits(std::uint8_t deflate) noexcept { return (deflate >> kWindowShift) + 8u; }

// WebSocket::output_flags_
// A pong waits in the send queue (the peer is not reading): pings that come meanwhile are answered by it, not
// by one more pong each (RFC 6455 5.5.3 allows answering only some), so a ping flood holds one pong, not one
// per ping. Cleared when the queue empties.
inline constexpr std::uint8_t kPongQueued = 1;
// The peer's end of stream came while an answer it is owed was still going out (HTTP lets a client shut its side
// once its request is sent): the answer goes on, and the connection ends as soon as it has gone, with no
// lingering for an end of stream that has come already. Not cleared when the queue empties.
inline constexpr std::uint8_t kPeerEnded = 2;

// How long the closing handshake and the lingering close may take before the connection is cut.
inline constexpr unsigned kCloseGraceSeconds = 2;

}  // namespace surge::detail
