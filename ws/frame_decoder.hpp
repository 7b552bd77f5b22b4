// The sans-I/O WebSocket frame decoder (RFC 6455 section 5), for either role. Layer: ws.
// Bytes in, events out: feed() walks the caller's buffer, unmasks payloads in place, and reports data messages
// as pieces (a message whose frames are all in the buffer arrives as one piece, with no copy) and control frames
// whole. It holds ~32 bytes of state and never allocates or buffers: bytes it did not consume (an incomplete
// header or control frame, at most 139 bytes) stay with the caller, who presents them again with more appended.
// Text is UTF-8 checked as it arrives and fails at the first invalid byte. Sink callbacks run synchronously
// inside feed(); returning false from one stops feed() at once (Stopped), e.g. when the sink closed the
// connection. One decoder per connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "surge/core/utf8.hpp"
#include "surge/ws/frame_header.hpp"
#include "surge/ws/opcode.hpp"

namespace surge {

enum class Role : std::uint8_t { Server, Client };

struct DecoderConfig {
    Role role = Role::Server;                            // Server: frames must be masked; Client: must not be
    std::uint64_t max_message_bytes = 16 * 1024 * 1024;  // sum of a message's frames; past it: 1009
};

// Receives the decoder's events. A callback that returns false stops the decoder (DecodeStatus::Stopped).
class FrameSink {
public:
    // A data message starts: Text or Binary; `compressed` is RSV1 on its first frame (permessage-deflate).
    virtual bool on_message_begin(Opcode opcode, bool compressed) = 0;
    // The next piece of the current message's payload, unmasked; `last` marks the message's final piece (an
    // empty message arrives as one empty last piece). For uncompressed text, the bytes so far are valid UTF-8.
    virtual bool on_message_data(std::span<char> piece, bool last) = 0;
    // A whole control frame: Ping, Pong or Close, payload unmasked, at most 125 bytes. A Close payload has been
    // checked (empty, or a valid code and a UTF-8 reason); parse it with parse_close_payload().
    virtual bool on_control(Opcode opcode, std::span<char> payload) = 0;

protected:
    ~FrameSink() = default;
};

enum class DecodeStatus : std::uint8_t {
    NeedMore,  // all usable bytes consumed: keep [consumed, size) and feed them again with more appended
    Stopped,   // a sink callback returned false
    Closed,    // a close frame was received and reported; consumed ends right after it; feed no more
    Error,     // a protocol violation: send a close frame with close_code, then close the connection
};

struct DecodeResult {
    std::size_t consumed = 0;
    DecodeStatus status = DecodeStatus::NeedMore;
    std::uint16_t close_code = 0;  // with Error: 1002 (protocol), 1007 (invalid UTF-8) or 1009 (too big)
};

class FrameDecoder {
public:
    // The decoder keeps no pointer to its configuration: every connection carries a decoder, and the
    // configuration is its route's, passed on each call (the same one every time, for one stream).
    DecodeResult feed(const DecoderConfig& config, std::span<char> bytes, FrameSink& sink) noexcept;

    // RSV1 becomes legal on a message's first frame once permessage-deflate is negotiated.
    void set_rsv1_allowed(bool allowed) noexcept { rsv1_allowed_ = allowed; }
    // A data message has started and not finished.
    bool in_message() const noexcept { return message_opcode_ != 0; }
    // The current data message's opcode (Text or Binary) and whether it came compressed (RSV1): valid from its
    // on_message_begin() through its last on_message_data(), so a sink needs no copy of its own.
    Opcode message_opcode() const noexcept { return static_cast<Opcode>(message_opcode_); }
    bool message_compressed() const noexcept { return message_compressed_; }

private:
    DecodeResult fail(std::size_t consumed, std::uint16_t code) noexcept;
    // Checks a frame header against the protocol and this decoder's state; returns a close code or 0.
    std::uint16_t check_header(const FrameHeader& header, const DecoderConfig& config) const noexcept;

    std::uint64_t frame_remaining_ = 0;  // payload bytes of the current data frame still to come
    std::uint64_t message_bytes_ = 0;    // payload bytes announced so far for the current message
    MaskKey mask_{};
    std::uint8_t mask_phase_ = 0;
    std::uint8_t message_opcode_ = 0;  // Text or Binary while a message is open, else 0
    Utf8Validator utf8_;
    // One byte of flags: the decoder lives in every connection's slot, and this keeps it at 24 bytes.
    bool in_frame_ : 1 = false;
    bool frame_fin_ : 1 = false;
    bool frame_masked_ : 1 = false;
    bool message_compressed_ : 1 = false;
    bool rsv1_allowed_ : 1 = false;
    bool finished_ : 1 = false;  // after Closed or Error
};

struct ClosePayload {
    std::uint16_t code = close_code::kNoStatus;  // 1005 when the frame carried no code
    std::string_view reason;
};
// Splits a close frame's payload that on_control() received (already checked) into code and reason.
ClosePayload parse_close_payload(std::span<const char> payload) noexcept;

}  // namespace surge
