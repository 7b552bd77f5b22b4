// The message layer, for both roles: what a connection's frames mean once decoded. Layer: ws. Sans-I/O.
// It gathers a message's fragments, inflates a compressed one (with the connection's own window or a shared
// one, as the role chooses), checks text for UTF-8 after inflation, maps every failure to its close code and
// reason, answers pings and echoes a close the peer started. The server's shards and surge::Client each keep one
// MessageReader (its inflate scratch is shared by their connections); each call names the connection's decoder,
// its partial message and a MessageEvents, the connection's role-specific side (like net::TlsLink), made by the
// role for the length of the call. Events run synchronously inside feed(); one that returns false stops it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "surge/core/byte_buffer.hpp"
#include "surge/ws/deflate.hpp"
#include "surge/ws/frame_decoder.hpp"
#include "surge/ws/opcode.hpp"

namespace surge {

// The part of a message gathered so far, kept in the connection (16 bytes) while it spans frames or reads. A
// connection between messages holds no buffer: feed() frees it after each gathered message.
struct PartialMessage {
    char* data = nullptr;
    std::uint32_t size = 0;
    std::uint32_t capacity = 0;
    // Frees the buffer (the connection is gone); harmless when there is none.
    void release() noexcept;
};

// One connection's side of a feed() call.
class MessageEvents {
public:
    // A whole data message: gathered, inflated and UTF-8 checked. False when the connection ended (or closes).
    virtual bool on_message(std::string_view message, Opcode opcode) = 0;
    // Roles that do not want uncompressed messages gathered (load generators reading only a message's first
    // bytes) answer true here and get them through on_message_piece() instead, piece by piece.
    virtual bool streams_uncompressed() const noexcept { return false; }
    virtual bool on_message_piece(std::string_view /*piece*/, bool /*last*/, Opcode /*opcode*/) { return true; }
    virtual bool on_ping(std::string_view payload) = 0;
    virtual bool on_pong(std::string_view payload) = 0;
    // A close frame arrived. `answered`: this side had sent its close first (this is the reply); otherwise the
    // reader has just echoed the peer's code (RFC 6455 5.5.1). Nothing is read after it.
    virtual void on_close(std::uint16_t code, std::string_view reason, bool answered) = 0;
    // Sends a control frame (masked or not, as the role must): pongs and the close echo.
    virtual void send_control(Opcode opcode, std::string_view payload) = 0;
    // Whether this side has sent its close frame: then pings go unanswered and a close is the reply.
    virtual bool close_sent() const noexcept = 0;
    // The inflater for a compressed message (the connection's own, or one the role shares), and whether its
    // window is kept from message to message. nullptr when none can be had (out of memory).
    virtual Inflater* inflater(bool& keep_context) noexcept = 0;

protected:
    ~MessageEvents() = default;
};

enum class ReadStatus : std::uint8_t {
    NeedMore,  // everything usable was taken: keep bytes from `consumed` on and feed them again with more
    Ended,     // an event returned false: the connection ended or is closing
    Closed,    // a close frame was handled (on_close ran): feed no more
    Failed,    // the peer broke the protocol: close with close_code and reason, then end the connection
};

struct ReadResult {
    std::size_t consumed = 0;
    ReadStatus status = ReadStatus::NeedMore;
    std::uint16_t close_code = 0;  // with Failed: 1002, 1007, 1009 or 1011
    std::string_view reason;       // with Failed
};

class MessageReader {
public:
    // Decodes `bytes` (unmasking in place) and acts on every frame in them. The decoder's configuration gives the
    // role and the message size limit, which also bounds what inflation may produce.
    ReadResult feed(const DecoderConfig& config, FrameDecoder& decoder, PartialMessage& partial,
                    std::span<char> bytes, MessageEvents& events);

private:
    class Call;
    // A compressed message inflated into inflate_out_, or a failure's close code (and reason).
    std::uint16_t inflate(std::string_view payload, Opcode opcode, std::uint64_t limit, MessageEvents& events,
                          std::string_view& reason) noexcept;

    ByteBuffer inflate_out_;
};

}  // namespace surge
